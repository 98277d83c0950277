"""Rule evaluation partitioned by grid cell: the same readings, with propagation across a cell border,
through the router to one evaluator process and to two give identical levels and alerts per asset
(a real Debian mosquitto broker, evaluators as their own processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from twin.assets import AssetTable
from twin.risk import SensorTable, parse_rules
from twin.risk.broker import Mosquitto, mosquitto_binary
from twin.risk.mqtt import MqttIngest
from twin.risk.partition import (
    BUCKETS,
    CellMap,
    Partition,
    Router,
    bucket_of,
    merge_alerts,
    merge_levels,
    owner,
    partition_result,
)
from twin.risk.service import RiskService
from twin.risk.static import Feature
from twin.risk.store import Store

ROOT = Path(__file__).resolve().parent.parent
RULES = {
    "threshold": [{"name": "gas", "quantity": "gas", "blue": 5, "yellow": 10, "orange": 20, "red": 25}],
    "propagation": {"from_kinds": ["Pipe"], "to_kinds": ["Building"], "within_m": 30, "steps": 1, "section": False},
    "ingest": {"stall_s": 600},
}
#: asset -> (kind, x0, x1, y0, y1): the west cell is x < 100, the east one x >= 100
ASSETS = {
    "pipe-w": ("Pipe", 85, 98, 40, 42),  # 7 m from bldg-e across the border
    "bldg-e": ("Building", 105, 115, 35, 45),
    "bldg-w": ("Building", 60, 70, 35, 45),
    "pipe-e": ("Pipe", 102, 110, 80, 82),  # 7 m from bldg-w2 across the border
    "bldg-w2": ("Building", 80, 95, 75, 85),
    "bldg-far": ("Building", 180, 190, 35, 45),
}


def _cell_id(side: str, k: int) -> str:
    """A cell id of the side whose bucket evaluator ``k`` of 2 owns (so the border is a partition's)."""
    return next(f"{side}{i}" for i in range(1000) if owner(bucket_of(f"{side}{i}"), 2) == k)


def build(store: Path | None) -> RiskService:
    """The service of the two-cell scene (the evaluator processes import this: ``--service``)."""
    ids = list(ASSETS)
    assets = AssetTable.build(ids, kind=[ASSETS[a][0] for a in ids])
    b = np.array([ASSETS[a][1:] for a in ids], dtype=np.float64)
    assets.bounds = np.column_stack([b, np.zeros(len(ids)), np.full(len(ids), 10.0)])
    rows = [{"id": f"s-{a}", "asset": a, "quantity": "gas", "unit": "%LEL", "period_s": 3600} for a in ids]
    sensors = SensorTable.from_rows(rows, assets)

    def square(x0: float, cell: str) -> Feature:
        ring = np.array([[x0, 0], [x0 + 100, 0], [x0 + 100, 100], [x0, 100], [x0, 0]], dtype=np.float64)
        return Feature(cell, cell, "polygon", ring, {})

    grids = [square(0, _cell_id("W", 0)), square(100, _cell_id("E", 1))]
    path = None if store is None or str(store) == ":memory:" else store
    return RiskService(assets, sensors, parse_rules(RULES), Store(path), grids=grids)


#: steps published one after the other (each committed everywhere before the next): (sensor, value)
STEPS = [
    [("pipe-w", 30.0), ("bldg-far", 2.0)],  # red west pipe: the east building goes orange
    [("pipe-e", 12.0), ("bldg-e", 6.0)],  # yellow east pipe: the west building blue
    [("pipe-w", 22.0)],  # orange: the east building yellow; the pipe's alert keeps its red peak
]

needs_broker = pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed")


def test_buckets_move_little_when_an_evaluator_is_added() -> None:
    for n in (1, 2, 3, 4):
        moved = sum(owner(b, n) != owner(b, n + 1) for b in range(BUCKETS))
        assert all(owner(b, n + 1) == n for b in range(BUCKETS) if owner(b, n) != owner(b, n + 1))
        assert moved < 2 * BUCKETS / (n + 1)  # about 1/(n+1) of the buckets, all to the new one
    owned = [len(Partition(k, 2).buckets) for k in range(2)]
    assert sum(owned) == BUCKETS and min(owned) > BUCKETS / 4
    with pytest.raises(Exception, match="K/N"):
        Partition.parse("2")


def test_the_halo_reaches_across_the_border() -> None:
    svc = build(None)
    cells = CellMap(svc.state)
    west, east = (bucket_of(_cell_id(s, k)) for s, k in (("W", 0), ("E", 1)))
    assert cells.buckets_of("s-pipe-w").tolist() == sorted({west, east})  # raises bldg-e over the border
    assert cells.buckets_of("s-bldg-far").tolist() == [east]
    assert cells.buckets_of("nope") is None
    ids = svc.assets["id"].tolist()
    assert cells.owned(Partition(1, 2)).tolist() == [a in ("bldg-e", "pipe-e", "bldg-far") for a in ids]


def _evaluators(url: str, n: int, tmp: Path) -> list[tuple[subprocess.Popen[bytes], Path, Path]]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'tests'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = []
    for k in range(n):
        store, status = tmp / f"eval-{k}-of-{n}.duckdb", tmp / f"eval-{k}-of-{n}.json"
        cmd = [sys.executable, "-m", "twin.risk.partition", "evaluate", "--service", "test_partition:build"]
        cmd += ["--partition", f"{k}/{n}", "--mqtt", url, "--store", str(store), "--status", str(status)]
        out.append((subprocess.Popen(cmd, env=env), store, status))
    return out


def _status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _wait(condition, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _run(n: int, tmp: Path) -> tuple[np.ndarray, list[dict]]:
    """Feed STEPS through a router to ``n`` evaluator processes; their merged levels and alerts."""
    tmp.mkdir()
    svc = build(None)
    cells = CellMap(svc.state)
    now = int(time.time() * 1000)
    with Mosquitto() as broker:
        procs = _evaluators(broker.url, n, tmp)
        router = Router(cells, broker.url)
        feed = MqttIngest(router, f"{broker.url}/twin?share=router&client_id=router-test").start()
        pub = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        try:
            assert feed.wait_connected()
            _wait(lambda: all(_status(s).get("connected") for _, _, s in procs), "the evaluators to subscribe")
            time.sleep(0.5)  # their SUBACKs
            expected = [0] * n
            for i, step in enumerate(STEPS):
                for sensor, value in step:
                    body = json.dumps({"ts": now + 1000 * i, "value": value})
                    pub.publish(f"twin/gas/s-{sensor}", body, qos=1).wait_for_publish(10)
                    for b in cells.buckets_of(f"s-{sensor}").tolist():
                        expected[owner(b, n)] += 1
                for k, (_, _, status) in enumerate(procs):
                    want = expected[k]
                    _wait(lambda s=status, w=want: _status(s).get("readings", 0) >= w, f"evaluator {k}/{n}")
        finally:
            pub.loop_stop()
            feed.stop()
            router.close()
            for p, _, _ in procs:
                p.terminate()
            for p, _, _ in procs:
                assert p.wait(30) == 0
    ids = svc.assets["id"].tolist()
    results = [partition_result(store, ids) for _, store, _ in procs]
    levels = merge_levels([r[0] for r in results], cells)
    alerts = merge_alerts([r[1] for r in results], cells, ids)
    keep = ("asset", "rule", "state", "level", "peak", "message")
    return levels, sorted((tuple(a[k] for k in keep) for a in alerts), key=str)


@needs_broker
@pytest.mark.slow
def test_two_evaluators_give_what_one_gives(tmp_path: Path) -> None:
    one = _run(1, tmp_path / "one")
    two = _run(2, tmp_path / "two")
    ids = list(ASSETS)
    levels = dict(zip(ids, one[0].tolist()))
    assert levels["bldg-e"] == 3 and levels["bldg-w2"] == 2  # yellow and blue over the border
    assert levels["pipe-w"] == 4 and levels["bldg-far"] == 0
    assert dict(zip(ids, two[0].tolist())) == levels
    assert two[1] == one[1] and ("pipe-w", "gas", "firing", 4, 5) in [a[:5] for a in one[1]]  # peak red kept
