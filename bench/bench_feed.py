"""The Hefei-scale drill: 85,000 sensors at 1 Hz fed over MQTT into the live risk, compressed in time.

``python bench/bench_feed.py [--sensors 85000] [--seconds 60] [--gateway 1000] [--speed 1] [--curve]
[--baseline-seconds S] [--progress-s 60]``

A publisher process plays the sensors as gateways: every simulated second each gateway publishes
one NDJSON batch (``twin/batch/gw-<n>``, QoS 1) of its sensors' readings, paced so the readings
not yet committed stay within ``--window`` simulated seconds (a bounded backlog: the publisher
waits rather than letting the broker's queue grow).  The server side (this process) runs the
service on a DuckDB file with rule evaluation and the MQTT subscriber.  Printed:

* sustained ingest (readings/s) with rule evaluation, against a bare broker round trip of the
  same messages and a bare DuckDB insert of the same rows (``INSERT OR IGNORE`` into a table keyed
  on (sensor, ts), and a plain append), in the same run;
* reading -> colour p50/p95: a sensor per simulated second flips between green and red; time
  from its publication to the changed colours written (``level_colors``) after the commit;
* the server's memory end/start, the largest backlog seen, and whether every reading was stored;
* how long the full hour (306 M readings) takes at the measured rate: this machine's scale;
* ``--curve``: only the growth curve, flat out at 1,000, 10,000 and 85,000 sensors.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb  # noqa: E402
import paho.mqtt.client as paho  # noqa: E402
import pyarrow as pa  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from twin.assets import AssetTable  # noqa: E402
from twin.risk import SensorTable, parse_rules  # noqa: E402
from twin.risk.broker import Mosquitto  # noqa: E402
from twin.risk.colours import level_colors  # noqa: E402
from twin.risk.mqtt import MqttIngest  # noqa: E402
from twin.risk.service import RiskService  # noqa: E402
from twin.risk.store import Store  # noqa: E402

RULES = {
    "threshold": [{"name": "gas", "quantity": "gas", "blue": 5, "yellow": 10, "orange": 20, "red": 25}],
    "ingest": {"stall_s": 600},
}
FLIPS = 1000  # sensors that take turns to flip green <-> red, one per simulated second
HOUR = 3600
BASE_RGB = np.array([200, 200, 200], np.uint8)  # the layer's own colour where no risk
WINDOW = 3  # simulated seconds of readings the publisher lets wait uncommitted


def build_service(n: int, store: Path) -> RiskService:
    ids = [f"a{i:06d}" for i in range(n)]
    assets = AssetTable.build(ids, kind="Building")
    xy = np.column_stack([np.arange(n) % 300 * 20.0, np.arange(n) // 300 * 20.0])
    assets.bounds = np.column_stack([xy[:, 0], xy[:, 0] + 10, xy[:, 1], xy[:, 1] + 10, np.zeros(n), np.full(n, 10.0)])
    sensors = SensorTable.from_rows(
        [{"id": f"s{i:06d}", "asset": ids[i], "quantity": "gas", "unit": "%LEL", "period_s": 1.0} for i in range(n)],
        assets,
    )
    return RiskService(assets, sensors, parse_rules(RULES), Store(store)).open()


def second_payloads(n: int, gateway: int, t_ms: int, second: int) -> list[tuple[str, bytes]]:
    """One simulated second: a batch per gateway; sensor ``second % FLIPS`` reads red on odd turns."""
    values = np.full(n, 1.0)
    flip = second % FLIPS
    values[flip] = 30.0 if (second // FLIPS) % 2 == 0 else 1.0
    lines = [f'{{"sensor":"s{i:06d}","ts":{t_ms},"value":{values[i]:.1f}}}' for i in range(n)]
    return [
        (f"twin/batch/gw-{g // gateway}", "\n".join(lines[g : g + gateway]).encode() + b"\n")
        for g in range(0, n, gateway)
    ]


def publisher(url_port: int, n: int, gateway: int, seconds: int, t0_ms: int, speed: float, progress, out) -> None:
    """The field: gateways publishing QoS 1, paced by the server's progress (a bounded backlog) and,
    with ``speed``, by the clock (``speed`` simulated seconds per second: 1 is real time)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    sent_at: dict[int, float] = {}
    started = time.time()
    for second in range(seconds):
        if speed:
            time.sleep(max(0.0, started + second / speed - time.time()))
        while progress.value < (second - WINDOW) * n:  # the server is WINDOW s behind: wait
            time.sleep(0.005)
        payloads = second_payloads(n, gateway, t0_ms + second * 1000, second)
        sent_at[second] = time.time()
        infos = [client.publish(topic, body, qos=1) for topic, body in payloads]
        infos[-1].wait_for_publish(60)
    for info in infos:
        info.wait_for_publish(60)
    client.loop_stop()
    out.put(sent_at)


def drill(n: int, seconds: int, gateway: int, speed: float, progress_s: float = 0.0) -> dict[str, float]:
    """One drill; ``progress_s`` > 0 prints a line that often (readings, rate, backlog, memory), so a
    long run shows its course and a run cut short still tells how far it got."""
    with tempfile.TemporaryDirectory() as tmp, Mosquitto() as broker:
        svc = build_service(n, Path(tmp) / "drill.duckdb")
        rgb = np.zeros((n, 3), np.uint8)
        changes: list[tuple[float, np.ndarray]] = []

        def recolour(changed: np.ndarray) -> None:
            rgb[changed] = level_colors(svc.state.levels[changed], BASE_RGB)  # the colours a screen gets
            changes.append((time.time(), changed.copy()))

        svc.on_levels_changed(recolour)
        feed = MqttIngest(svc, broker.url).start()
        assert feed.wait_connected(), "the subscriber did not connect"
        progress = mp.Value("q", 0, lock=False)
        backlog_max = [0]
        rss_warm = [float("nan")]  # memory once a fifth of the readings are in: the caches are warm
        stop = threading.Event()

        def watch() -> None:
            next_line = time.monotonic() + progress_s
            while not stop.wait(0.05):
                progress.value = feed.stats.accepted + feed.stats.duplicate
                backlog_max[0] = max(backlog_max[0], feed.health()["waiting"])
                if math.isnan(rss_warm[0]) and progress.value >= n * seconds // 5:
                    rss_warm[0] = rss_mb()
                if progress_s and time.monotonic() >= next_line:
                    next_line += progress_s
                    wall = time.perf_counter() - started
                    print(
                        f"feed progress: {wall:,.0f} s: {progress.value:,} of {n * seconds:,} readings "
                        f"({progress.value / wall:,.0f}/s, {progress.value / n / wall:.2f}x real time), backlog max "
                        f"{backlog_max[0]}, RSS {rss_mb():.0f} MB",
                        flush=True,
                    )

        watcher = threading.Thread(target=watch, daemon=True)
        rss_start = rss_mb()
        out: mp.Queue = mp.Queue()
        t0_ms = int(time.time() * 1000) - seconds * 1000  # the hour ends now (no reading in the future)
        started = time.perf_counter()
        watcher.start()
        proc = mp.Process(target=publisher, args=(broker.port, n, gateway, seconds, t0_ms, speed, progress, out))
        proc.start()
        sent_at = out.get(timeout=4 * 3600)
        proc.join()
        total = n * seconds
        deadline = time.monotonic() + 600
        while feed.stats.accepted + feed.stats.duplicate < total and time.monotonic() < deadline:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        stop.set()
        rss_end = rss_mb()
        feed.stop()
        stored = svc.history.store.count()
        latencies = flip_latencies(sent_at, changes)
        svc.close()
    return {
        "rate": total / elapsed,
        "elapsed": elapsed,
        "stored": stored,
        "total": total,
        "p50": float(np.percentile(latencies, 50)) if len(latencies) else float("nan"),
        "p95": float(np.percentile(latencies, 95)) if len(latencies) else float("nan"),
        "flips": len(latencies),
        "memory": rss_end / rss_warm[0],
        "rss_warm": rss_warm[0],
        "rss_start": rss_start,
        "rss_end": rss_end,
        "backlog": backlog_max[0],
    }


def flip_latencies(sent_at: dict[int, float], changes: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """For each flip published at ``sent_at[second]``, the time until its asset's colour changed."""
    out = []
    times = np.array([t for t, _ in changes])
    for second, published in sent_at.items():
        asset = second % FLIPS
        after = np.flatnonzero(times >= published)
        hit = next((times[i] for i in after if asset in changes[i][1]), None)
        if hit is not None:
            out.append(hit - published)
    return np.array(out)


def bare_broker(n: int, seconds: int, gateway: int) -> float:
    """The same messages through the broker to a bare QoS 1 subscriber: readings/s."""
    payloads = [second_payloads(n, gateway, 1_700_000_000_000 + s * 1000, s) for s in range(seconds)]
    expected = sum(len(p) for p in payloads)
    with Mosquitto() as broker:
        got = threading.Event()
        count = [0]

        def on_message(client, userdata, message) -> None:
            count[0] += 1
            if count[0] == expected:
                got.set()

        sub = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        sub.on_message = on_message
        sub.connect("127.0.0.1", broker.port)
        sub.subscribe("twin/#", qos=1)
        sub.loop_start()
        time.sleep(0.5)
        pub = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        pub.max_inflight_messages_set(1000)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        started = time.perf_counter()
        for second in payloads:
            for topic, body in second:
                pub.publish(topic, body, qos=1)
        got.wait(600)
        elapsed = time.perf_counter() - started
        pub.loop_stop()
        sub.loop_stop()
    return n * seconds / elapsed


def bare_duckdb(n: int, seconds: int, keyed: bool = True) -> float:
    """The same rows inserted into a DuckDB file, a second per commit: readings/s.  ``keyed``: into a
    table keyed on (sensor, ts) with ``INSERT OR IGNORE`` (the idempotent insert a bare DuckDB user
    writes), else appended plainly (no deduplication: the floor)."""
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "raw.duckdb"))
        key = ", PRIMARY KEY (sensor, ts)" if keyed else ""
        con.execute(f"CREATE TABLE readings (sensor INTEGER NOT NULL, ts TIMESTAMP NOT NULL, value DOUBLE{key})")
        started = time.perf_counter()
        for second in range(seconds):
            batch = pa.table(  # noqa: F841 (DuckDB reads it by name)
                {
                    "sensor": pa.array(np.arange(n, dtype=np.int32)),
                    "ts": pa.array(np.full(n, 1_700_000_000_000 + second * 1000), pa.timestamp("ms")),
                    "value": pa.array(np.full(n, 1.0)),
                }
            )
            con.execute(f"{'INSERT OR IGNORE' if keyed else 'INSERT'} INTO readings SELECT * FROM batch")
        elapsed = time.perf_counter() - started
        con.close()
    return n * seconds / elapsed


def growth_curve(seconds: int, gateway: int) -> None:
    """Flat-out drills at 1,000, 10,000 and 85,000 sensors beside a bare DuckDB append of the same
    rows at each size: readings/s and the ratio, so a super-linear step shows."""
    for n in (1_000, 10_000, 85_000):
        result = drill(n, seconds, gateway, 0.0)
        raw = bare_duckdb(n, max(5, seconds // 3), keyed=True)
        print(
            f"feed curve: {n:,} sensors flat out: {result['rate']:,.0f} readings/s ({result['rate'] / n:.2f}x real "
            f"time at 1 Hz), {raw / result['rate']:.2f}x the time per reading of a bare INSERT OR IGNORE "
            f"({raw:,.0f}/s); p95 reading -> colour {result['p95']:.2f} s; stored {result['stored']:,} of "
            f"{result['total']:,}",
            flush=True,
        )


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_feed")
    parser.add_argument("--sensors", type=int, default=85_000)
    parser.add_argument("--seconds", type=int, default=60, help="simulated seconds (the hour is 3600)")
    parser.add_argument("--gateway", type=int, default=1000, help="sensors per gateway batch")
    parser.add_argument("--speed", type=float, default=0.0, help="simulated s per s (1: real time; 0: flat out)")
    parser.add_argument("--curve", action="store_true", help="only the growth curve: flat out at 1k, 10k, 85k sensors")
    parser.add_argument(
        "--baseline-seconds", type=int, help="simulated seconds of the bare baselines (default a sixth of --seconds)"
    )
    parser.add_argument("--progress-s", type=float, default=0.0, help="print the drill's course this often (s)")
    args = parser.parse_args(argv or [])
    if args.curve:
        growth_curve(args.seconds, args.gateway)
        return
    n, seconds = args.sensors, args.seconds
    baseline_seconds = args.baseline_seconds or max(5, seconds // 6)
    broker_rate = bare_broker(n, baseline_seconds, args.gateway)
    duckdb_rate = bare_duckdb(n, baseline_seconds)
    append_rate = bare_duckdb(n, baseline_seconds, keyed=False)
    result = drill(n, seconds, args.gateway, args.speed, args.progress_s)
    rate = result["rate"]
    print(
        f"feed: {n:,} sensors x {seconds} s = {result['total']:,} readings in {result['elapsed']:.1f} s: "
        f"{rate:,.0f} readings/s with rule evaluation ({rate / n:.2f}x real time at 1 Hz: {seconds:,} simulated s "
        f"compressed into {result['elapsed']:,.0f} s of wall clock)",
        flush=True,
    )
    paced = " (paced by the feed at this speed: run flat out, --speed 0, for the server's limit)" if args.speed else ""
    print(
        f"feed: ratio{paced} {broker_rate / rate:.2f} to a bare broker round trip ({broker_rate:,.0f}/s), "
        f"{duckdb_rate / rate:.2f} to a bare DuckDB INSERT OR IGNORE of the same rows ({duckdb_rate:,.0f}/s), "
        f"{append_rate / rate:.2f} to a plain append without deduplication ({append_rate:,.0f}/s)",
        flush=True,
    )
    print(
        f"feed: reading -> colour p50 {result['p50']:.3f} s, p95 {result['p95']:.3f} s over {result['flips']} flips "
        f"(target p95 <= 1 s: {'met' if result['p95'] <= 1 else 'NOT met'})",
        flush=True,
    )
    print(
        f"feed: memory end/start {result['memory']:.2f} after warm-up ({result['rss_start']:.0f} idle, "
        f"{result['rss_warm']:.0f} at a fifth, {result['rss_end']:.0f} MB at the end; "
        f"target <= 1.25: {'met' if result['memory'] <= 1.25 else 'NOT met'}); largest local backlog "
        f"{result['backlog']} messages; stored {result['stored']:,} of {result['total']:,} "
        f"({'none lost' if result['stored'] == result['total'] else 'LOST READINGS'})",
        flush=True,
    )
    hour = n * HOUR
    print(
        f"feed: the full hour ({hour:,} readings) takes {hour / rate / 60:.1f} min here at this rate "
        f"({'keeps up with' if rate >= 0.95 * n else 'falls behind'} 1 Hz on this shared 2-core machine)",
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
