"""Partitioned rule evaluation: readings/s through 1 and 2 evaluator processes, in one run.

``python bench/bench_partition.py [--sensors 20000] [--rounds 10]``

A synthetic city of ``--sensors`` buildings with one gas sensor each over a 4 x 4 grid of
management cells.  The publisher plays gateways that know their cell: each round (one simulated
second) it publishes one NDJSON batch per bucket on ``twin-cell/<bucket>/batch`` (QoS 1), all
rounds at once, into the broker's queues for the evaluators (``python -m twin.risk.partition
evaluate``, each its own process with its own DuckDB store and rule evaluation), which then come
back and work the backlog off.  Printed: the time from the first evaluator subscribed to every
reading committed, as readings/s, for 1 and for 2 evaluators, beside a bare broker round trip
(publish and deliver) of the same messages to one plain subscriber.  On a
machine of 2 cores shared with the broker and the publisher, 2 evaluators are not expected to be
faster: the figure says what the split costs and what it leaves.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from twin.assets import AssetTable  # noqa: E402
from twin.risk import SensorTable, parse_rules  # noqa: E402
from twin.risk.broker import Mosquitto  # noqa: E402
from twin.risk.partition import CELL_ROOT, bucket_of  # noqa: E402
from twin.risk.service import RiskService  # noqa: E402
from twin.risk.static import Feature  # noqa: E402
from twin.risk.store import Store  # noqa: E402

RULES = {
    "threshold": [{"name": "gas", "quantity": "gas", "blue": 5, "yellow": 10, "orange": 20, "red": 25}],
    "ingest": {"stall_s": 600},
}
SIDE = 4  # cells per side
SPAN = 1000.0  # metres per side of the city


def build(store: Path | None) -> RiskService:
    """The synthetic city (``BENCH_PARTITION_SENSORS`` buildings); the evaluators import this."""
    n = int(os.environ.get("BENCH_PARTITION_SENSORS", "20000"))
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, SPAN - 10, (n, 2))
    ids = [f"b{i:06d}" for i in range(n)]
    assets = AssetTable.build(ids, kind="Building")
    assets.bounds = np.column_stack([xy[:, 0], xy[:, 0] + 8, xy[:, 1], xy[:, 1] + 8, np.zeros(n), np.full(n, 10.0)])
    rows = [
        {"id": f"g{i:06d}", "asset": a, "quantity": "gas", "unit": "%LEL", "period_s": 1} for i, a in enumerate(ids)
    ]
    sensors = SensorTable.from_rows(rows, assets)
    path = None if store is None or str(store) == ":memory:" else store
    return RiskService(assets, sensors, parse_rules(RULES), Store(path), grids=cells())


def cells() -> list[Feature]:
    step = SPAN / SIDE
    out = []
    for i in range(SIDE):
        for j in range(SIDE):
            x0, y0 = i * step, j * step
            ring = np.array([[x0, y0], [x0 + step, y0], [x0 + step, y0 + step], [x0, y0 + step], [x0, y0]])
            out.append(Feature(f"cell-{i}-{j}", "", "polygon", ring, {}))
    return out


def messages(svc: RiskService, rounds: int) -> list[tuple[str, bytes]]:
    """One NDJSON batch per bucket per round, with readings of every sensor (a few above the rules)."""
    grid = svc.state.grids.asset_grid[svc.sensors.asset_index]
    bucket = np.array([bucket_of(f.id) for f in svc.state.grids.features])[grid]
    ids = svc.sensors.ids.tolist()
    start = int(time.time() * 1000) - rounds * 1000
    rng = np.random.default_rng(1)
    out = []
    for r in range(rounds):
        values = np.where(rng.random(len(ids)) < 0.01, 30.0, rng.uniform(0, 4, len(ids)))
        for b in np.unique(bucket).tolist():
            lines = [
                json.dumps({"sensor": ids[s], "ts": start + 1000 * r, "value": round(float(values[s]), 2)})
                for s in np.flatnonzero(bucket == b).tolist()
            ]
            out.append((f"{CELL_ROOT}/{b}/batch", "\n".join(lines).encode()))
    return out


def publish_all(port: int, msgs: list[tuple[str, bytes]]) -> None:
    pub = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    pub.max_inflight_messages_set(100)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    infos = [pub.publish(t, p, qos=1) for t, p in msgs]
    for info in infos:
        info.wait_for_publish(120)
    pub.loop_stop()
    pub.disconnect()


def bare_round_trip(msgs: list[tuple[str, bytes]]) -> float:
    """Seconds for the messages to reach one plain subscriber (no parsing, no store)."""
    got = threading.Event()
    count = [0]

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        count[0] += 1
        if count[0] == len(msgs):
            got.set()

    with Mosquitto() as broker:
        sub = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        sub.on_message = on_message
        sub.connect("127.0.0.1", broker.port)
        sub.subscribe(f"{CELL_ROOT}/#", qos=1)
        sub.loop_start()
        time.sleep(0.5)
        t0 = time.perf_counter()
        publish_all(broker.port, msgs)
        got.wait(300)
        seconds = time.perf_counter() - t0
        sub.loop_stop()
    return seconds


def evaluators(n: int, msgs: list[tuple[str, bytes]], total: int, sensors: int) -> float:
    """Seconds ``n`` evaluator processes take to commit a backlog of every message waiting on the broker.

    They connect once (the broker then keeps their persistent sessions), stop, the messages are
    published into their queues, and they start again: timed from the first one subscribed to the
    last reading committed, so neither the publisher nor the processes' start-up is counted.
    """
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "BENCH_PARTITION_SENSORS": str(sensors)}
    with tempfile.TemporaryDirectory() as tmp, Mosquitto() as broker:
        status = [Path(tmp) / f"{k}.json" for k in range(n)]

        def start() -> list[subprocess.Popen[bytes]]:
            for s in status:
                s.unlink(missing_ok=True)
            return [
                subprocess.Popen(
                    [sys.executable, "-m", "twin.risk.partition", "evaluate", "--service", "bench_partition:build"]
                    + ["--partition", f"{k}/{n}", "--mqtt", broker.url, "--store", str(Path(tmp) / f"{k}.duckdb")]
                    + ["--status", str(status[k])],
                    env=env,
                )
                for k in range(n)
            ]

        def counts() -> list[dict]:
            out = []
            for s in status:
                try:
                    out.append(json.loads(s.read_text()))
                except (OSError, ValueError):
                    out.append({})
            return out

        def stop(procs: list[subprocess.Popen[bytes]]) -> None:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(60)

        procs = start()
        while not all(c.get("connected") for c in counts()):
            time.sleep(0.1)
        time.sleep(1.0)  # their SUBACKs: the sessions hold the subscriptions from now on
        stop(procs)
        publish_all(broker.port, msgs)
        procs = start()
        while not any(c.get("connected") for c in counts()):
            time.sleep(0.01)
        t0 = time.perf_counter()
        while sum(c.get("accepted", 0) for c in counts()) < total:
            time.sleep(0.02)
        seconds = time.perf_counter() - t0
        stop(procs)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sensors", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    os.environ["BENCH_PARTITION_SENSORS"] = str(args.sensors)
    svc = build(None)
    msgs = messages(svc, args.rounds)
    total = args.sensors * args.rounds
    print(f"{args.sensors:,} sensors x {args.rounds} rounds = {total:,} readings in {len(msgs)} batches")
    bare = bare_round_trip(msgs)
    print(f"bare broker round trip      {bare:7.2f} s  {total / bare:10,.0f} readings/s")
    rates = {}
    for n in (1, 2):
        seconds = evaluators(n, msgs, total, args.sensors)
        rates[n] = total / seconds
        line = f"{seconds:7.2f} s  {rates[n]:10,.0f} readings/s  ({bare / seconds:.2f}x bare)"
        print(f"{n} evaluator process(es)    {line}")
    print(f"2 vs 1 evaluators: {rates[2] / rates[1]:.2f}x on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
