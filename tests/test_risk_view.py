"""The risk view without a browser: colour arrays, filter, markers, areas, playback, chart, snapshot, render."""

import asyncio
import io
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import SCENES
from PIL import Image

from twin.faces.app import chart, snapshot
from twin.faces.app.pool import ViewPool
from twin.faces.app.risk_paint import FILTERED_RGB, RiskPaint, ViewRisk, alert_rows
from twin.loading import load
from twin.risk.colours import LEVEL_RGB
from twin.risk.levels import NONE, ORANGE, RED
from twin.risk.service import RiskService
from twin.risk.store import Store


@pytest.fixture(scope="module")
def twin():
    return load(SCENES / "demo.toml")


@pytest.fixture
def service(twin, tmp_path):
    svc = RiskService.from_twin(twin, store_path=tmp_path / "risk.duckdb").open()
    yield svc
    svc.close()


def red_reading(svc, sensor="GAS-B006", value=30.0, ago=0.0):
    return svc.ingest([{"sensor": sensor, "ts": int((time.time() - ago) * 1000), "value": value}])


def cells_of(twin, layer_name, asset_id):
    layer = twin.layer(layer_name)
    return np.flatnonzero(layer.asset_index == twin.assets.index_of(asset_id))


def test_a_red_level_is_an_array_write_on_the_shared_mesh_not_new_geometry(twin, service):
    paint = RiskPaint(twin, service.grids.features, service.sources.features)
    paint.paint(service.levels(), service.grids.levels(service.levels()))
    layer = twin.layer("district/Building")
    cells = cells_of(twin, "district/Building", "bldg-006")
    before = np.asarray(layer.dataset.cell_data["risk_rgb"])
    array_before, points_before = layer.dataset.cell_data.GetArray("risk_rgb"), layer.dataset.GetPoints()
    mtime = array_before.GetMTime()
    red_reading(service)
    paint.paint(service.levels(), service.grids.levels(service.levels()))
    after = np.asarray(layer.dataset.cell_data["risk_rgb"])
    assert (after[cells] == LEVEL_RGB[RED]).all()
    assert layer.dataset.cell_data.GetArray("risk_rgb") is array_before  # same array, written in place
    assert layer.dataset.GetPoints() is points_before  # geometry untouched
    assert array_before.GetMTime() > mtime  # marked modified for the mappers
    assert before.dtype == np.uint8 and after.shape == (layer.dataset.n_cells, 3)
    assert paint.red_count == 1 and paint.marker.n_points == 1
    quiet = np.flatnonzero(service.levels() == NONE)
    own = layer.asset_index[np.isin(layer.asset_index, quiet)]
    assert len(own) and (after[np.isin(layer.asset_index, quiet)] == paint.base[layer.name]).all()


def test_the_level_filter_dims_what_is_below_it(twin, service):
    red_reading(service)
    red_reading(service, "GAS-B013", 22.0)  # orange
    paint = RiskPaint(twin)
    paint.paint(service.levels())
    name = paint.use(ORANGE)
    colours = np.asarray(twin.layer("district/Building").dataset.cell_data[name])
    red = cells_of(twin, "district/Building", "bldg-006")
    orange = cells_of(twin, "district/Building", "bldg-013")
    assert (colours[red] == LEVEL_RGB[RED]).all() and (colours[orange] == LEVEL_RGB[ORANGE]).all()
    others = np.setdiff1d(np.arange(len(colours)), np.r_[red, orange])
    levels = service.levels()[twin.layer("district/Building").asset_index[others]]
    assert (colours[others[levels < ORANGE]] == FILTERED_RGB).all()


def test_a_view_switches_between_own_colours_and_risk_colours(twin, service):
    paint = RiskPaint(twin, service.grids.features, service.sources.features)
    pool = ViewPool(twin, lambda window: str(id(window)))
    hook = ViewRisk(paint)
    pool.hooks.append(hook)
    view = pool.get(pool.add())
    mapper = view.scene.actors["district/Building"].GetMapper()
    assert not mapper.GetScalarVisibility()
    view.apply({"risk": {"on": True, "min": 0}})
    assert mapper.GetScalarVisibility() and mapper.GetArrayName() == "risk_rgb"
    assert mapper.GetColorMode() == 2  # VTK_COLOR_MODE_DIRECT_SCALARS: no lookup table
    marker, area = hook.extras[id(view)]
    assert area.GetVisibility()
    view.apply({"risk": {"on": False, "min": 0}})
    assert not mapper.GetScalarVisibility() and not area.GetVisibility()
    view.plotter.close()


def test_grid_cells_and_risk_sources_are_coloured_areas(twin, service):
    red_reading(service)
    paint = RiskPaint(twin, service.grids.features, service.sources.features)
    levels = service.levels()
    paint.paint(levels, service.grids.levels(levels))
    assert paint.areas is not None and paint.areas.n_cells > 0
    grid = {g["id"]: g["level"] for g in service.grid_levels()}
    assert grid["GRID-NW"] == "red"
    colours = np.asarray(paint.areas.cell_data["risk_area_rgb"])
    assert (colours == LEVEL_RGB[RED]).all(axis=1).any()


def test_playback_shows_the_levels_and_alerts_as_they_were_without_touching_the_live_service(twin, tmp_path):
    """The service records levels and alert events as they happen; a playback reads them back."""

    class Clock:
        t = time.time() - 600

        def __call__(self) -> float:
            return self.t

    clock = Clock()
    service = RiskService.from_twin(twin, store_path=tmp_path / "playback.duckdb", clock=clock).open()
    started = clock.t
    row = twin.assets.index_of("bldg-006")

    def reading(value: float) -> None:
        service.ingest([{"sensor": "GAS-B006", "ts": int(clock.t * 1000), "value": value}])

    clock.t += 60
    reading(30.0)  # red at +60 s ...
    red_at = clock.t
    clock.t += 120
    reading(1.0)  # ... clear at +180 s
    service.ack(service.alerts(include_resolved=True)[0]["id"], "duty officer")
    clock.t += 60
    live_before, alerts_before = service.levels().copy(), service.alerts(include_resolved=True)
    from twin.risk.playback import Playback

    playback = Playback(service.history, started, clock.t)
    assert playback.seek(started + 30)[row] < RED
    assert playback.seek(red_at + 10)[row] == RED
    then = playback.snapshot()
    assert [a["asset"] for a in then["alerts"]] == ["bldg-006"] and then["alerts"][0]["level"] == "red"
    assert then["alerts"][0]["acked"] is None  # acknowledged only later
    assert then["summary"]["levels"]["red"] == 1
    assert playback.seek(red_at + 150)[row] < RED  # forward past the clear ...
    assert playback.seek(red_at + 1)[row] == RED  # ... and back again
    assert playback.seek(started - 3600)[row] == playback.seek(started)[row]  # clamped to the window
    assert (service.levels() == live_before).all() and service.alerts(include_resolved=True) == alerts_before
    service.close()


def test_the_sparkline_draws_threshold_bands_and_the_readings():
    readings = [{"ts": 1000.0 + i, "value": v} for i, v in enumerate([2, 8, 16, 30])]
    svg = chart.sparkline(readings, {"blue": 5, "yellow": 10, "orange": 20, "red": 25}, "above", "%LEL")
    assert svg.startswith("<svg") and svg.count("<rect") == 5 and "<polyline" in svg
    assert "rgb(230,0,0)" in svg and "%LEL" in svg
    assert "no readings yet" in chart.sparkline([], {"red": 1}, "below")


def test_the_snapshot_adds_legend_time_and_alerts(twin, service):
    red_reading(service)
    view = Image.new("RGB", (640, 400), (31, 37, 48))
    buffer = io.BytesIO()
    view.save(buffer, format="PNG")
    rows = alert_rows(twin, service, service.alerts())
    assert rows[0]["asset"] == "bldg-006" and rows[0]["level"] == "red" and "GAS-B006 30" in rows[0]["values"]
    png = snapshot.compose(buffer.getvalue(), "Demo", service.summary()["levels"], rows)
    out = Image.open(io.BytesIO(png))
    assert out.size == (640 + snapshot.PANEL_W, 400)
    panel = np.asarray(out.convert("RGB"))[:, 640:]
    assert (np.abs(panel - LEVEL_RGB[RED]).max(axis=2) < 10).sum() > 200  # the red legend swatch and alert bar


def test_twin_render_risk_colours_the_picture_from_the_store(tmp_path, twin):
    store = tmp_path / "risk.duckdb"
    svc = RiskService.from_twin(twin, store_path=store).open()
    red_reading(svc)
    history = svc.history.level_range()
    svc.close()
    out = tmp_path / "risk.png"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "twin.faces.cli",
            "render",
            str(SCENES / "demo.toml"),
            "--risk",
            "--store",
            str(store),
            "-o",
            str(out),
            "--size",
            "800x500",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    pixels = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert pixels.shape[1] == 800 + snapshot.PANEL_W
    reds = (pixels[:, :800, 0] > 100) & (pixels[:, :800, 1] < 40) & (pixels[:, :800, 2] < 40)
    assert reds.mean() > 0.001
    assert Store(store).open().level_range() == history  # a report is no screen: the playback history is untouched


class FakeState(dict):
    """Enough of trame's state for LiveRisk: item access, change hooks, flush, a context."""

    def __init__(self):
        super().__init__()
        self.changes = {}

    def change(self, key):
        return lambda fn: self.changes.setdefault(key, fn)

    def flush(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FakeServer:
    def __init__(self):
        self.state = FakeState()
        self.controller = type("C", (), {"on_server_ready": type("R", (), {"add": lambda self, fn: None})()})()


def live_app(twin, service):
    from twin.faces.app.live_risk import LiveRisk
    from twin.faces.app.risk_actions import RiskActions

    ids = iter(range(1, 100))
    pool = ViewPool(twin, lambda window: str(next(ids)), capacity=3, size=(320, 200))
    shown = []
    live = LiveRisk(FakeServer(), service, pool, lambda view_id, fast=False: shown.append(view_id))
    return live, RiskActions(live, shown.append, lambda view_id: {}), pool, shown


def test_a_flush_redraws_only_the_views_showing_risk_and_publishes_the_state(twin, service):
    live, actions, pool, shown = live_app(twin, service)
    on, off = pool.add(), pool.add()
    pool.get(on).apply({"risk": {"on": True, "min": 0}})
    pool.get(off).apply({})
    red_reading(service)
    live.flush()
    assert shown == [on]
    state = live.server.state["risk"]
    assert state["summary"]["levels"]["red"] == 1 and state["alerts"][0]["asset"] == "bldg-006"
    assert state["degraded"] is False and state["last_reading"] > time.time() - 60
    live.server.state["risk"] = {"alerts": []}  # a browser writing the server-owned key ...
    live._guard(risk={"alerts": []})
    assert live.server.state["risk"]["alerts"]  # ... is overruled
    service.watchdog.degraded = "rule evaluation has been running for 12 s"
    assert live.risk_state()["degraded"] and "12 s" in live.risk_state()["degraded_reason"]


def test_served_views_redraw_one_per_turn_fast_first_then_full(twin, service):
    """On the event loop: each view showing risk gets a fast picture, then (no view waiting for a
    fast one) its full picture; a change soon after is drawn in full at once."""
    from twin.faces.app.live_risk import LiveRisk

    ids, drawn = iter(range(1, 100)), []
    pool = ViewPool(twin, lambda window: str(next(ids)), capacity=3, size=(320, 200))
    live = LiveRisk(FakeServer(), service, pool, lambda view_id, fast=False: drawn.append((view_id, fast)))
    a, b = pool.add(), pool.add()
    for view_id in (a, b):
        pool.get(view_id).apply({"risk": {"on": True, "min": 0}})

    async def change_and_settle(value: float) -> None:
        live.loop = asyncio.get_running_loop()
        red_reading(service, value=value)
        live.flush()
        while live._dirty or live._coarse or live._pump_due:
            await asyncio.sleep(0.01)

    asyncio.run(change_and_settle(30.0))
    assert sorted(drawn[:2]) == [(a, True), (b, True)] and sorted(drawn[2:]) == [(a, False), (b, False)]
    drawn.clear()
    asyncio.run(change_and_settle(1.0))  # within a second: a burst, no coarse picture
    assert sorted(drawn) == [(a, False), (b, False)]


def test_a_stuck_evaluation_never_holds_the_screens(twin, service):
    """The event loop reads snapshots: with the service's lock held (an evaluation that hangs), the
    risk state still comes at once, with the last known levels, and says the service is degraded."""
    live, _, _, _ = live_app(twin, service)
    red_reading(service)
    live.flush()
    held, release = threading.Event(), threading.Event()
    evaluate = service.state.evaluate

    def hanging(*args, **kwargs):
        held.set()
        release.wait(30)
        return evaluate(*args, **kwargs)

    service.state.evaluate = hanging  # the next evaluation hangs, holding the service's lock
    thread = threading.Thread(target=service.tick)
    thread.start()
    held.wait(5)
    try:
        service.watchdog.started = time.monotonic() - 60  # the hung evaluation, a minute on
        assert service.check_stall()
        started = time.monotonic()
        state = live.risk_state()
        live.flush()
        assert time.monotonic() - started < 1.0
        assert state["degraded"] and "running for" in state["degraded_reason"]
        assert state["summary"]["levels"]["red"] == 1 and state["alerts"][0]["asset"] == "bldg-006"
    finally:
        release.set()
        thread.join()
        service.state.evaluate = evaluate
    assert not service.check_stall()


def test_acknowledge_and_tour_through_the_triggers(twin, service):
    live, actions, pool, shown = live_app(twin, service)
    view_id = pool.add()
    red_reading(service)
    red_reading(service, "GAS-B013", 22.0)  # 60 m away: the same gas incident
    red_reading(service, "GAS-B021", 22.0)  # 200 m away: an incident of its own
    live.flush()
    first, second = actions.twin_tour(view_id, 0), actions.twin_tour(view_id, 1)
    # the tour goes by incident, the most severe first: one stop for the two alerts near each other
    assert [first["target"]["asset"], second["target"]["asset"]] == ["bldg-006", "bldg-021"]
    assert first["target"]["incident"] and first["target"]["alerts"] == 2 and first["of"] == 2
    assert first["camera"]["focal_point"] != second["camera"]["focal_point"]
    alert = live.server.state["risk"]["alerts"][0]
    assert asyncio.run(actions.twin_ack(alert["id"], "duty officer"))["alert"]["state"] == "acknowledged"
    assert live.server.state["risk"]["alerts"][0]["acked_by"] == "duty officer"
    assert "error" in asyncio.run(actions.twin_ack(99999))
    info = asyncio.run(actions.twin_risk_asset(twin.assets.index_of("bldg-006")))["risk"]
    assert info["level"] == "red" and info["sensors"][0]["svg"].startswith("<svg") and info["alerts"]
    png = actions.twin_snapshot(view_id)
    assert png["filename"].endswith(".png") and len(png["png"]) > 1000


def test_an_alert_row_gives_the_reading_that_fired_it_apart_from_the_current_one(twin, tmp_path):
    svc = RiskService.from_twin(twin, store_path=tmp_path / "s.duckdb").open()
    try:
        red_reading(svc, value=31.0, ago=20.0)  # fires the alert
        red_reading(svc, value=27.6, ago=5.0)  # eases, still red: the trigger stays
        (row,) = [r for r in alert_rows(twin, svc, svc.alerts()) if r["asset"] == "bldg-006"]
        assert row["trigger"].startswith("GAS-B006 31") and "%LEL" in row["trigger"]
        assert "GAS-B006 27" in row["values"] or "GAS-B006 28" in row["values"]
        assert abs(row["trigger_ts"] - (time.time() - 20.0)) < 5.0
    finally:
        svc.close()
