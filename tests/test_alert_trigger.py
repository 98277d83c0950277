"""An alert keeps the reading that triggered it (value, unit, time), apart from what its sensor reads
now: in the book, in the store (an older store without the columns still opens) and in /api/alerts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import duckdb
import pytest
from api_support import with_server

import twin
from twin.risk.alerts import AlertBook, Trigger
from twin.risk.levels import ORANGE, RED, YELLOW
from twin.risk.rules import AlertPolicy, read_rules
from twin.risk.sensors import read_sensors
from twin.risk.service import RiskService
from twin.risk.store import ALERT_COLUMNS, Store

ROOT = Path(__file__).resolve().parent.parent
KEY = ("W-P020", "pipe-pressure")


def _book() -> AlertBook:
    return AlertBook(AlertPolicy(min_level=YELLOW, keep_firing_s=60.0, flap_window_s=300.0, flap_max=3))


def test_the_firing_reading_is_kept_while_the_value_eases_and_a_new_peak_replaces_it():
    book = _book()
    book.update(KEY, ORANGE, ORANGE, 100.0, "p", Trigger("P-20", 412.3, "kPa", 99.0))
    book.update(KEY, YELLOW, YELLOW, 110.0, "p", Trigger("P-20", 350.0, "kPa", 109.0))
    (a,) = book.open.values()
    assert (a.trigger_sensor, a.trigger_value, a.trigger_unit, a.trigger_ts) == ("P-20", 412.3, "kPa", 99.0)
    book.update(KEY, RED, RED, 120.0, "p", Trigger("P-20", 530.0, "kPa", 119.0))
    out = a.to_json()
    assert (out["trigger_value"], out["trigger_ts"], out["peak"]) == (530.0, 119.0, "red")


def test_a_rule_without_a_reading_fires_without_a_trigger():
    book = _book()
    book.update(KEY, RED, RED, 100.0, "multivariable rule")
    (a,) = book.open.values()
    assert a.state == "firing" and a.trigger_value is None and a.trigger_ts is None


def test_an_older_store_without_the_trigger_columns_opens_and_keeps_new_triggers(tmp_path):
    path = tmp_path / "old.duckdb"
    old = [c for c in ALERT_COLUMNS if not c.startswith("trigger_")]
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE alerts (id BIGINT PRIMARY KEY, asset VARCHAR, rule VARCHAR, state VARCHAR, level TINYINT, "
        "peak TINYINT, opened DOUBLE, updated DOUBLE, message VARCHAR, fired DOUBLE, acked DOUBLE, "
        "acked_level TINYINT, acked_by VARCHAR, resolved DOUBLE, clear_since DOUBLE, flaps INTEGER, flapping BOOLEAN)"
    )
    con.execute(
        f"INSERT INTO alerts ({', '.join(old)}) VALUES "
        "(1, 'W-P001', 'pipe-pressure', 'firing', 4, 4, 1.0, 1.0, 'old', 1.0, NULL, 0, '', NULL, NULL, 0, false)"
    )
    con.close()
    store = Store(path).open()
    (restored,) = store.open_alerts()
    assert restored.trigger_value is None and restored.trigger_sensor == "" and restored.message == "old"
    book = _book()
    book.restore([restored], store.max_alert_id() + 1)
    book.update(KEY, RED, RED, 100.0, "p", Trigger("P-20", 412.3, "kPa", 99.0))
    store.save_alerts(*book.drain())
    again = {a.asset: a for a in store.open_alerts()}
    assert again["W-P020"].trigger_value == 412.3 and again["W-P020"].trigger_ts == 99.0
    assert again["W-P001"].trigger_value is None
    (at,) = [a for a in store.alerts_at(100.0) if a["asset"] == "W-P020"]
    assert at["trigger_value"] == 412.3
    assert [a["trigger_value"] for a in store.alerts_at(99.5) if a["asset"] == "W-P020"] == []  # not open yet


@pytest.fixture(scope="module")
def demo():
    return twin.load(ROOT / "scenes" / "demo.toml")


@pytest.mark.slow
def test_api_alerts_say_the_triggering_value_apart_from_the_current_one(demo, tmp_path):
    rules = read_rules(demo.live["rules"])
    for rule in rules.rules:
        rule.for_s = 0.0  # red at once, no minimum duration
    svc = RiskService(
        demo.assets, read_sensors(demo.live["sensors"], demo.assets), rules, Store(tmp_path / "s.duckdb")
    ).open()
    svc.start(tick_s=0.2)

    async def alert_of(http, asset):
        async with http.get("/api/alerts") as r:
            return next((a for a in await r.json() if a["asset"] == asset), None)

    async def body(http):
        start = time.time()
        fired = int(start * 1000)
        async with http.post("/api/readings", json=[{"sensor": "BR-DISP-X3", "ts": fired, "value": 35.0}]) as r:
            assert r.status == 200
        deadline, alert = start + 60.0, None  # a generous ceiling, not a timing
        while time.time() < deadline and (alert is None or alert["state"] != "firing"):
            alert = await alert_of(http, "road-x3")
            await asyncio.sleep(0.05)
        return alert, fired

    try:
        alert, fired = asyncio.run(with_server(svc, body))
    finally:
        svc.stop()
    assert alert["level"] == "red" and alert["trigger_sensor"] == "BR-DISP-X3"
    assert alert["trigger_value"] == 35.0 and alert["trigger_ts"] == pytest.approx(fired / 1000)
    assert alert["trigger_unit"]
