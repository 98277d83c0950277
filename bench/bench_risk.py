"""Live risk: sustained ingest over HTTP with rule evaluation, raw DuckDB insert, recolouring, latency.

* ingest: 10,000 sensors, batches of 10,000 readings POSTed by 4 concurrent clients to the API
  served in a child process (its own interpreter, as in production), against the raw Arrow insert
  of the same rows into the same DuckDB table layout (target: >= 100,000 readings/s over HTTP);
* recolour: level -> RGB write for 100,000 assets against a bare ``np.take`` (target <= 50 ms);
* latency: 10,000 sensors at 1 Hz (ten POSTs of 1,000 a second); time from POST to the changed
  level reaching the change hook, p50 and p95.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import best_time, peak_rss_mb, report  # noqa: E402

from twin.assets import AssetTable  # noqa: E402
from twin.risk import SensorTable, parse_rules  # noqa: E402
from twin.risk.colours import LEVEL_RGB, level_colors  # noqa: E402
from twin.risk.service import RiskService  # noqa: E402
from twin.risk.store import Store  # noqa: E402

N_SENSORS = 10_000
BATCH = 10_000
RULES = {
    "threshold": [
        {"name": "gas", "quantity": "gas", "blue": 5, "yellow": 10, "orange": 20, "red": 25, "hysteresis": 1}
    ],
    "rate": [{"name": "gas-rising", "quantity": "gas", "direction": "rising", "red": 100}],
}


def build_service(n: int, store: Path | None) -> RiskService:
    ids = [f"a{i:06d}" for i in range(n)]
    assets = AssetTable.build(ids, kind="Building")
    xy = np.column_stack([np.arange(n) % 100 * 20.0, np.arange(n) // 100 * 20.0])
    assets.bounds = np.column_stack([xy[:, 0], xy[:, 0] + 10, xy[:, 1], xy[:, 1] + 10, np.zeros(n), np.full(n, 10.0)])
    sensors = SensorTable.from_rows(
        [{"id": f"s{i:06d}", "asset": ids[i], "quantity": "gas", "unit": "%LEL", "period_s": 1.0} for i in range(n)],
        assets,
    )
    return RiskService(assets, sensors, parse_rules(RULES), Store(store)).open()


def bodies(n_batches: int, t0_ms: int) -> list[bytes]:
    out = []
    for b in range(n_batches):
        ts = t0_ms + b * 1000
        rows = [
            {
                "sensor": f"s{i % N_SENSORS:06d}",
                "ts": ts + i // N_SENSORS,
                "value": 12.0 if i % 1000 == 7 else float(i % 5),
            }
            for i in range(BATCH)
        ]
        out.append("\n".join(map(json.dumps, rows)).encode() + b"\n")  # NDJSON: Arrow reads it into columns
    return out


def serve_child(store: str) -> None:
    """Child process: the API on port 0 over a synthetic 10,000-sensor service."""
    from twin.faces.api import serve_api

    serve_api(build_service(N_SENSORS, Path(store)), "127.0.0.1", 0)


async def post_all(url: str, payloads: list[bytes], concurrency: int = 4) -> list[float]:
    import aiohttp

    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(p)
    took: list[float] = []

    async def worker(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            while True:
                started = time.perf_counter()
                async with http.post(
                    f"{url}/api/readings", data=body, headers={"Content-Type": "application/x-ndjson"}
                ) as r:
                    if r.status == 200:
                        assert (await r.json())["rejected"] == 0
                        took.append(time.perf_counter() - started)
                        break
                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")))

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    return took


def bench_ingest() -> None:
    import duckdb
    import pyarrow as pa

    with tempfile.TemporaryDirectory() as tmp:
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", f"{tmp}/http.duckdb"], stdout=subprocess.PIPE, text=True
        )
        try:
            url = child.stdout.readline().split()[-1]
            payloads = bodies(30, int(time.time() * 1000) - 3_600_000)
            started = time.perf_counter()
            asyncio.run(post_all(url, payloads))
            http_s = time.perf_counter() - started
        finally:
            child.terminate()
            child.wait()
        rate = len(payloads) * BATCH / http_s
        con = duckdb.connect(f"{tmp}/raw.duckdb")
        con.execute(
            "CREATE TABLE readings (sensor INTEGER NOT NULL, ts TIMESTAMP NOT NULL, value DOUBLE, "
            "PRIMARY KEY (sensor, ts))"
        )
        names = pa.array(np.arange(BATCH, dtype=np.int32) % N_SENSORS)
        t0 = int(time.time() * 1000)

        def raw() -> None:
            for b in range(30):
                batch = pa.table(
                    {
                        "sensor": names,
                        "ts": pa.array(np.full(BATCH, t0 + b * 1000 + raw.k), pa.timestamp("ms")),
                        "value": pa.array(np.random.rand(BATCH)),
                    }
                )
                con.register("batch", batch)
                con.execute("INSERT OR IGNORE INTO readings SELECT * FROM batch")
            raw.k += 1

        raw.k = 0
        raw_s, _ = best_time(raw, repeat=2)
        raw_rate = 30 * BATCH / raw_s
    print(
        f"ingest over HTTP: {rate:,.0f} readings/s ({len(payloads)} batches of {BATCH:,}, 4 clients, rules on); "
        f"raw DuckDB Arrow insert: {raw_rate:,.0f} rows/s; target >= 100,000/s: "
        f"{'met' if rate >= 100_000 else 'NOT met'}"
    )
    report("ingest HTTP time per reading vs raw insert", 1e6 / rate, 1e6 / raw_rate, unit="us/reading")


def bench_inprocess() -> None:
    from twin.risk.ingest import parse_body

    with tempfile.TemporaryDirectory() as tmp:
        svc = build_service(N_SENSORS, Path(tmp) / "s.duckdb")
        payloads = bodies(11, int(time.time() * 1000) - 3_600_000)
        svc.ingest(parse_body(payloads[0]))
        started = time.perf_counter()
        for body in payloads[1:]:
            svc.ingest(parse_body(body))
        took = time.perf_counter() - started
        svc.close()
    print(f"ingest in process (parse + check + commit + rules, no HTTP): {10 * BATCH / took:,.0f} readings/s")


def bench_recolour() -> None:
    n = 100_000
    levels = np.random.default_rng(0).integers(0, 6, n).astype(np.int8)
    base = np.full((n, 3), 200, np.uint8)
    out = np.empty((n, 3), np.uint8)
    ours, _ = best_time(lambda: level_colors(levels, base, out=out), repeat=20)
    raw, _ = best_time(lambda: np.take(LEVEL_RGB, levels, axis=0, out=out), repeat=20)
    print(f"recolour {n:,} assets: {ours * 1000:.2f} ms (target <= 50 ms: {'met' if ours <= 0.05 else 'NOT met'})")
    report("recolour vs bare np.take", ours, raw)


def bench_latency() -> None:
    from twin.faces.api import api_in_thread

    svc = build_service(N_SENSORS, None)
    target = svc.assets.index_of("a000123")
    fired: dict[int, float] = {}
    svc.on_levels_changed(
        lambda changed: fired.setdefault(len(fired), time.perf_counter()) if target in changed else None
    )
    import urllib.request

    with api_in_thread(svc) as port:
        latencies = []
        now = time.time()
        for second in range(20):
            for part in range(10):
                ts = int((now + second) * 1000) + part
                value_for = 30.0 if (second % 2 == 0) else 1.0
                rows = [{"sensor": f"s{i:06d}", "ts": ts, "value": 1.0} for i in range(part * 1000, part * 1000 + 1000)]
                if part == 0:
                    rows[123]["value"] = value_for
                before = len(fired)
                started = time.perf_counter()
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/readings",
                    data="\n".join(map(json.dumps, rows)).encode() + b"\n",
                    headers={"Content-Type": "application/x-ndjson"},
                )
                urllib.request.urlopen(req).read()
                if part == 0 and len(fired) > before:
                    latencies.append(fired[before] - started)
                time.sleep(max(0.0, 0.1 - (time.perf_counter() - started)))

    lat = np.array(latencies) * 1000
    print(
        f"POST -> changed level array, 10,000 sensors at 1 Hz: p50 {np.percentile(lat, 50):.1f} ms, "
        f"p95 {np.percentile(lat, 95):.1f} ms ({len(lat)} level changes)"
    )


def main() -> None:
    bench_recolour()
    bench_inprocess()
    bench_ingest()
    bench_latency()
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        serve_child(sys.argv[2])
    else:
        main()
