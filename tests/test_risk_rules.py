"""Rules on a fake clock: thresholds, hysteresis, durations, rates, staleness, combine, propagation, alerts."""

from __future__ import annotations

import numpy as np
import pytest

from twin.assets import AssetTable
from twin.errors import InputError
from twin.risk import NAMES, RiskService, SensorTable, parse_rules
from twin.risk.colours import LEVEL_RGB, level_colors
from twin.risk.levels import NODATA, NONE, RED
from twin.risk.rules import read_rules
from twin.risk.sensors import read_sensors
from twin.risk.static import Feature
from twin.risk.store import Store

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


def district() -> AssetTable:
    assets = AssetTable.build(["b1", "p1", "p2", "b2", "p3"], kind=["Building", "pipe", "pipe", "Building", "pipe"])
    assets.bounds = np.array(
        [
            [0, 10, 0, 10, 0, 10],
            [12, 40, 4, 6, 0, 0],
            [40, 80, 4, 6, 0, 0],
            [200, 210, 0, 10, 0, 10],
            [300, 340, 4, 6, 0, 0],
        ],
        float,
    )
    return assets


SENSORS = [
    {"id": "g1", "asset": "b1", "quantity": "gas", "unit": "%LEL", "period_s": 10},
    {"id": "pr1", "asset": "p1", "quantity": "pressure", "unit": "kPa", "period_s": 10},
    {"id": "g2", "asset": "b2", "quantity": "gas", "unit": "%LEL", "period_s": 10},
]
RULES = {
    "threshold": [
        {
            "name": "gas",
            "quantity": "gas",
            "blue": 5,
            "yellow": 10,
            "orange": 20,
            "red": 25,
            "hysteresis": 2,
            "for_s": 10,
        },
        {
            "name": "low-pressure",
            "quantity": "pressure",
            "direction": "below",
            "yellow": 250,
            "orange": 200,
            "red": 150,
        },
    ],
    "rate": [
        {
            "name": "pressure-falling",
            "quantity": "pressure",
            "direction": "falling",
            "yellow": 10,
            "red": 60,
            "window_s": 30,
        }
    ],
    "alerts": {"keep_firing_s": 60, "flap_window_s": 600, "flap_max": 3},
    "ingest": {"stale_factor": 3},
}


def service(rules: dict | None = None, neighbours=None, sources=None) -> tuple[RiskService, Clock]:
    clock = Clock()
    assets = district()
    svc = RiskService(
        assets,
        SensorTable.from_rows(SENSORS, assets),
        parse_rules(rules or RULES),
        Store(None),
        clock=clock,
        neighbours=neighbours,
        risk_sources=sources,
    ).open()
    return svc, clock


def send(svc: RiskService, clock: Clock, sensor: str, value: float, dt: float = 0.0) -> dict:
    clock.t += dt
    return svc.ingest([{"sensor": sensor, "ts": clock.t * 1000, "value": value}])


def level(svc: RiskService, asset: str) -> str:
    return NAMES[svc.levels()[svc.assets.index_of(asset)]]


def test_threshold_needs_its_duration_and_keeps_it_with_hysteresis():
    svc, clock = service()
    send(svc, clock, "g1", 26)
    assert level(svc, "b1") == "none"  # red must hold 10 s first
    send(svc, clock, "g1", 26, dt=11)
    assert level(svc, "b1") == "red"
    send(svc, clock, "g1", 24, dt=1)  # inside the 2 %LEL hysteresis band
    clock.t += 20
    svc.tick()
    assert level(svc, "b1") == "red"
    send(svc, clock, "g1", 22, dt=1)  # below 25 - 2: orange after the clear duration
    assert level(svc, "b1") == "red"
    send(svc, clock, "g1", 22, dt=11)
    assert level(svc, "b1") == "orange"
    risk = svc.asset("b1")["risk"]
    assert risk["rule"] == "gas" and "g1" in risk["reason"] and risk["readings"][0]["value"] == 22


def test_below_rule_and_rate_of_change():
    svc, clock = service()
    send(svc, clock, "pr1", 320)
    assert level(svc, "p1") == "none"
    send(svc, clock, "pr1", 300, dt=30)  # -40 kPa/min: falling faster than 10
    assert level(svc, "p1") == "yellow"
    assert "pressure-falling" in svc.asset("p1")["risk"]["reason"]
    send(svc, clock, "pr1", 140, dt=30)  # below 150: red by value (and by rate)
    assert level(svc, "p1") == "red"


def test_silent_sensor_is_nodata_never_stale_green():
    svc, clock = service()
    assert level(svc, "b1") == "nodata"  # never reported
    send(svc, clock, "g1", 1)
    assert level(svc, "b1") == "none"
    clock.t += 31
    svc.tick()
    assert level(svc, "b1") == "nodata"
    assert "silent since" in svc.asset("b1")["risk"]["reason"]
    assert svc.summary()["sensors"]["stale"] == 1


def test_silent_while_firing_is_never_auto_resolved():
    svc, clock = service()
    send(svc, clock, "g1", 30)
    send(svc, clock, "g1", 30, dt=11)
    assert [a["state"] for a in svc.alerts()] == ["firing"]
    for _ in range(60):  # ten minutes of silence
        clock.t += 10
        svc.tick()
    assert [a["state"] for a in svc.alerts()] == ["firing"]
    assert level(svc, "b1") == "red"  # the level is held, never none
    assert "silent since" in svc.alerts()[0]["message"]


def test_oscillating_signal_raises_at_most_one_alert():
    svc, clock = service()
    for i in range(600 // 5):  # ten minutes, 5 s period, around the yellow threshold
        send(svc, clock, "g1", 10.5 if (i // 3) % 2 else 7.0, dt=5)
    everything = svc.alerts(include_resolved=True)
    assert len({a["id"] for a in everything}) <= 1


def test_acknowledgement_never_hides_an_escalation():
    svc, clock = service()
    send(svc, clock, "g1", 12)
    send(svc, clock, "g1", 12, dt=11)
    (alert,) = svc.alerts()
    assert alert["level"] == "yellow"
    assert svc.ack(alert["id"], by="duty officer")["state"] == "acknowledged"
    send(svc, clock, "g1", 30, dt=1)
    send(svc, clock, "g1", 30, dt=11)
    (alert,) = svc.alerts()
    assert (alert["state"], alert["level"], alert["acked_level"]) == ("firing", "red", "yellow")


def test_alert_lifecycle_pending_firing_acknowledged_resolved():
    svc, clock = service()
    send(svc, clock, "g1", 12)
    assert svc.alerts()[0]["state"] == "pending"
    send(svc, clock, "g1", 12, dt=11)
    alert_id = svc.alerts()[0]["id"]
    svc.ack(alert_id)
    send(svc, clock, "g1", 1, dt=1)
    send(svc, clock, "g1", 1, dt=11)  # level back to none
    assert svc.alerts()[0]["state"] == "acknowledged"
    send(svc, clock, "g1", 1, dt=61)  # clear for keep_firing_s
    assert svc.alerts() == []
    history = svc.history.alert_history(alert_id)
    assert [h["event"] for h in history] == ["pending", "firing", "acknowledged", "resolved"]
    assert svc.ack(999) is None


def test_pending_alert_that_never_fires_is_cancelled():
    svc, clock = service()
    send(svc, clock, "g1", 12)
    send(svc, clock, "g1", 1, dt=5)
    assert svc.alerts() == []


def test_propagation_near_buildings_and_isolation_section():
    sections = {"p1": ["p1", "p2"], "p2": ["p1", "p2"], "p3": ["p3"]}
    svc, clock = service(neighbours=lambda a: sections[a])
    send(svc, clock, "pr1", 140)
    assert level(svc, "p1") == "red"
    assert level(svc, "p2") == "orange"  # same isolation section, one lower
    assert level(svc, "b1") == "orange"  # 2 m from p1: a propagated risk beats "no data"
    assert "within 30 m of pipe p1" in svc.asset("b1")["risk"]["reason"]
    assert level(svc, "p3") == "none" and level(svc, "b2") == "nodata"
    assert "isolation section of pipe p1" in svc.asset("p2")["risk"]["reason"]


def test_multivariable_rule_and_static_sources():
    rules = dict(
        RULES,
        combine=[
            {
                "name": "gas-leak",
                "asset_kind": "Building",
                "near_m": 40,
                "mode": "all",
                "level": "red",
                "term": [
                    {"quantity": "gas", "above": 10},
                    {"quantity": "pressure", "rate_below": -5},
                    {"risk_source": "excavation", "within_m": 30},
                ],
            }
        ],
    )
    sources = [
        Feature(
            id="EXC",
            name="dig",
            kind="point",
            coords=np.array([[5.0, -10.0]]),
            properties={},
            level=2,
            category="excavation",
            radius_m=20,
        )
    ]
    svc, clock = service(rules, sources=sources)
    assert level(svc, "b1") == "blue"  # inside the excavation's radius
    send(svc, clock, "pr1", 320)
    send(svc, clock, "g1", 12, dt=1)
    assert level(svc, "b1") == "blue"  # gas alone has not held yellow for 10 s yet
    send(svc, clock, "pr1", 300, dt=30)  # pressure falling near b1 + gas + excavation
    assert level(svc, "b1") == "red"
    assert svc.asset("b1")["risk"]["rule"] == "gas-leak"
    assert any(a["rule"] == "gas-leak" for a in svc.alerts())


def test_change_hook_reports_changed_assets():
    svc, clock = service()
    seen: list[np.ndarray] = []
    svc.on_levels_changed(seen.append)
    send(svc, clock, "pr1", 140)
    assert svc.assets.index_of("p1") in seen[-1]


def test_level_colors_table():
    levels = np.array([NONE, NODATA, RED], dtype=np.int8)
    rgb = level_colors(levels, np.array([10, 20, 30]))
    assert rgb.tolist() == [[10, 20, 30], [150, 150, 150], [230, 0, 0]]
    per_asset = level_colors(levels, np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=np.uint8))
    assert per_asset[0].tolist() == [1, 2, 3] and per_asset[2].tolist() == LEVEL_RGB[RED].tolist()


def test_stall_marks_the_service_degraded():
    svc, clock = service()
    statuses: list[dict] = []
    svc.on_status_changed(statuses.append)
    import time

    svc.watchdog.started = time.monotonic() - 60
    assert svc.check_stall() and svc.health()["status"] == "degraded"
    assert svc.summary()["degraded"] and statuses[-1]["degraded"]
    svc.watchdog.started = None
    assert not svc.check_stall() and not statuses[-1]["degraded"]


@pytest.mark.parametrize(
    "bad, where",
    [
        ({"threshold": [{"name": "x", "quantity": "gas", "yellow": 20, "red": 10}]}, "threshold[0]"),
        ({"threshold": [{"name": "x", "quantity": "gas", "colour": 1}]}, "threshold[0].colour"),
        ({"threshold": [{"name": "x", "quantity": "gas"}]}, "threshold[0]"),
        ({"combine": [{"name": "c", "term": [{"quantity": "gas"}]}]}, "combine[0].term[0]"),
        ({"alerts": {"min_level": "purple"}}, "alerts.min_level"),
        ({"ingest": {"keep_days": 3, "max_age_s": 7 * 86400}}, "ingest.keep_days"),  # stragglers could come
    ],
)
def test_bad_rules_name_the_entry(bad, where):
    with pytest.raises(InputError) as err:
        parse_rules(bad)
    assert where in str(err.value)


def test_bad_sensors_file_names_file_and_line(tmp_path):
    path = tmp_path / "sensors.csv"
    path.write_text("id,asset,quantity,unit,period_s\ns1,b1,gas,%LEL,10\ns2,b1,gas,%LEL,soon\n")
    with pytest.raises(InputError) as err:
        read_sensors(path)
    assert "sensors.csv" in str(err.value) and "line 3" in str(err.value) and "period_s" in str(err.value)


def test_demo_files_load(tmp_path):
    import twin

    t = twin.load("scenes/demo.toml")
    svc = RiskService.from_twin(t, store_path=tmp_path / "demo.duckdb").open()
    assert len(svc.sensors) >= 15 and read_rules(t.live["rules"]).rules
    assert level(svc, "bldg-021") == "orange"  # inside the LPG store polygon
    grids = {g["id"]: g["level"] for g in svc.grid_levels()}
    assert set(grids) == {"GRID-SW", "GRID-SE", "GRID-NW", "GRID-NE"} and grids["GRID-SE"] == "orange"
    sensors = {s["id"]: s for s in svc.sensor_list()}
    assert sensors["WP-01"]["direction"] == "below" and sensors["WP-01"]["thresholds"]["red"] == 150
    assert sensors["GAS-B006"]["thresholds"] == {"blue": 5, "yellow": 10, "orange": 20, "red": 25}


def test_weighted_score_rule_grades_by_score():
    rules = dict(
        RULES,
        combine=[
            {
                "name": "score",
                "asset_kind": "Building",
                "near_m": 0,
                "mode": "score",
                "levels": {"yellow": 0.5, "red": 1.0},
                "term": [
                    {"quantity": "gas", "above": 3, "weight": 0.5},
                    {"quantity": "gas", "above": 4, "weight": 0.5},
                ],
            }
        ],
    )
    svc, clock = service(rules)
    send(svc, clock, "g1", 3.5)
    assert level(svc, "b1") == "yellow" and svc.asset("b1")["risk"]["rule"] == "score"
    send(svc, clock, "g1", 4.5, dt=1)
    assert level(svc, "b1") == "red"
    send(svc, clock, "g1", 1.0, dt=1)
    assert level(svc, "b1") == "none"


def test_grid_level_is_the_highest_inside():
    from twin.risk.static import Grids

    square = Feature(
        id="G",
        name="",
        kind="polygon",
        properties={},
        coords=np.array([[-1, -1], [100, -1], [100, 20], [-1, 20], [-1, -1]], float),
    )
    grids = Grids([square], district().centres)
    levels = np.array([2, 5, 0, 4, 5], dtype=np.int8)  # p3 (x 320) and b2 (x 205) lie outside
    assert grids.levels(levels).tolist() == [5]
    assert grids.asset_grid.tolist() == [0, 0, 0, -1, -1]


def test_restart_takes_back_levels_and_open_alerts(tmp_path):
    clock = Clock()
    assets = district()

    def start() -> RiskService:
        return RiskService(
            assets,
            SensorTable.from_rows(SENSORS, assets),
            parse_rules(RULES),
            Store(tmp_path / "s.duckdb"),
            clock=clock,
        ).open()

    svc = start()
    send(svc, clock, "g1", 30)
    send(svc, clock, "g1", 30, dt=11)
    alert = svc.alerts()[0]
    svc.ack(alert["id"])
    svc.close()
    clock.t += 2
    again = start()
    assert level(again, "b1") == "red"  # no second wait for the minimum duration
    (back,) = again.alerts()
    assert (back["id"], back["state"]) == (alert["id"], "acknowledged")


def test_sensors_file_formats_agree(tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text('[[sensor]]\nid = "g1"\nasset = "b1"\nquantity = "GAS"\nunit = "%LEL"\nperiod_s = 10\n')
    js = tmp_path / "s.json"
    js.write_text('{"sensors": [{"id": "g1", "asset": "b1", "quantity": "gas", "unit": "%LEL", "period_s": 10}]}')
    csv = tmp_path / "s.csv"
    csv.write_text("id,asset,quantity,unit,period_s\ng1,b1,gas,%LEL,10\n")
    rows = [read_sensors(p, district()).row(0) for p in (toml, js, csv)]
    assert (
        rows[0]
        == rows[1]
        == rows[2]
        == {"id": "g1", "asset": "b1", "quantity": "gas", "unit": "%LEL", "period_s": 10.0}
    )
    unknown = read_sensors(csv, AssetTable.build(["x"], kind="Building"))
    assert unknown.asset_index.tolist() == [-1] and "not in the scene" in unknown.warnings[0]


def test_manifest_store_may_not_exist_yet(tmp_path):
    from twin.manifest import read_manifest

    scene = tmp_path / "s.toml"
    (tmp_path / "sensors.csv").write_text("id,asset,quantity,unit,period_s\n")
    scene.write_text(
        'name = "s"\n[[sources]]\npath = "sensors.csv"\n[live]\nsensors = "sensors.csv"\nstore = "not-yet.duckdb"\n'
    )
    assert read_manifest(scene).live["store"] == tmp_path / "not-yet.duckdb"


def test_rate_spans_half_a_window_or_more_at_one_hertz():
    svc, clock = service()
    s = svc.sensors.index["pr1"]
    rates = []
    for i in range(120):
        send(svc, clock, "pr1", 400 - 0.5 * i + (0.3 if i % 2 else -0.3), dt=1)  # -30 kPa/min with jitter
        rates.append(svc.state.engine.rate[s])
    late = np.array(rates[20:])
    assert np.all(np.abs(late + 30) < 3), late  # jitter of +-0.3 kPa never reads as +-36 kPa/min


def test_demo_isolation_sections_come_from_the_pipe_networks(tmp_path):
    import twin
    from twin.risk.service import isolation_neighbours

    t = twin.load("scenes/demo.toml")
    neighbours = isolation_neighbours(t)
    assert neighbours is not None and "W-P023" in neighbours("W-P023")
    assert neighbours("bldg-001") == []
    svc = RiskService.from_twin(t, store_path=tmp_path / "s.duckdb").open()
    assert not [w for w in t.warnings if "not in the scene" in w]  # every demo sensor has its asset
    assert svc.state.propagator.neighbours is not None


def test_old_readings_are_rolled_up_hourly_and_the_recent_ones_kept(tmp_path):
    store = Store(tmp_path / "s.duckdb").open()
    keys = store.sensor_keys(["A", "B"])
    t0 = 1_700_000_000 - 1_700_000_000 % 3600  # on the hour
    ts = t0 + np.arange(0, 3 * 3600, 60)  # three hours, a reading a minute
    for key, offset in zip(keys, (0.0, 100.0), strict=True):
        store.insert_readings(np.full(len(ts), key), (ts * 1000).astype(np.int64), np.arange(len(ts)) + offset)
    assert store.roll_up(t0 + 2 * 3600 + 1800) == 2 * 120  # cut at the hour: two hours of both
    assert store.count() == 2 * 60
    hours = store.hourly(["A"])
    assert [h["hour"] for h in hours] == [t0, t0 + 3600]
    assert [(h["n"], h["min"], h["max"], h["mean"]) for h in hours] == [(60, 0, 59, 29.5), (60, 60, 119, 89.5)]
    store.insert_readings(np.array([keys[0]]), np.array([(t0 + 3600 + 30) * 1000]), np.array([1000.0]))
    store.roll_up(t0 + 2 * 3600)  # a straggler merges into its hour
    late = store.hourly(["A"])[1]
    assert (late["n"], late["max"]) == (61, 1000.0) and late["mean"] == pytest.approx((89.5 * 60 + 1000) / 61)
    assert store.roll_up(t0) == 0
    store.close()


def test_a_service_keeps_raw_readings_for_its_rules_keep_days():
    svc, clock = service({**RULES, "ingest": {"keep_days": 8}})
    assert parse_rules(RULES).keep_days == 90
    send(svc, clock, SENSORS[0]["id"], 1.0)
    clock.t += 9 * 86400  # nine days later the reading is history
    assert svc.retain() == 1 and svc.history.store.count() == 0
    assert svc.history.store.hourly([SENSORS[0]["id"]])[0]["n"] == 1


def test_alerts_at_a_time_take_the_last_event_even_when_two_share_it(tmp_path):
    from twin.risk.alerts import Alert, Event

    store = Store(tmp_path / "s.duckdb").open()
    alert = Alert(
        id=1,
        asset="b1",
        rule="gas",
        state="acknowledged",
        level=RED,
        peak=RED,
        opened=100.0,
        updated=200.0,
        acked=200.0,
        acked_by="duty officer",
    )
    store.save_alerts(
        [alert],
        [
            Event(1, 100.0, "opened", "pending", RED),
            Event(1, 100.0, "fired", "firing", RED),
            Event(1, 200.0, "acknowledged", "acknowledged", RED),
        ],
    )
    then = store.alerts_at(150.0)
    assert [(a["state"], a["level"], a["acked"]) for a in then] == [("firing", "red", None)]
    assert store.alerts_at(250.0)[0]["acked_by"] == "duty officer" and store.alerts_at(50.0) == []
    store.close()
