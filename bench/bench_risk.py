"""Live risk: sustained ingest with rule evaluation against a raw DuckDB insert, recolouring, latency.

* ingest in process: a second of readings of every sensor per batch, checked, deduplicated,
  committed to a DuckDB file and graded by the rules, against the raw Arrow insert of the same
  rows (``INSERT OR IGNORE`` into a table keyed on (sensor, ts), the idempotent insert a bare
  DuckDB user writes; target <= 1.3x its time per reading, >= 100,000 readings/s) and a plain
  append without deduplication (the floor); from Arrow columns and from NDJSON (parsed by Arrow
  on both sides); growth curve over 1,000, 10,000 and 85,000 sensors;
* ingest over HTTP: 10,000 sensors, batches of 10,000 readings POSTed by 4 concurrent clients to
  the API served in a child process (its own interpreter, as in production), against the raw
  Arrow insert of the same rows (target: >= 100,000 readings/s over HTTP);
* recolour: level -> RGB write for 100,000 assets against a bare ``np.take`` (target <= 50 ms);
* latency: 10,000 sensors at 1 Hz (ten POSTs of 1,000 a second); time from POST to the changed
  level reaching the change hook, p50 and p95.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import best_time, peak_rss_mb, report  # noqa: E402

from twin.assets import AssetTable  # noqa: E402
from twin.risk import SensorTable, parse_rules  # noqa: E402
from twin.risk.colours import LEVEL_RGB, level_colors  # noqa: E402
from twin.risk.ingest import parse_body  # noqa: E402
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


def bodies(n_batches: int, t0_ms: int, n: int = N_SENSORS, batch: int = BATCH) -> list[bytes]:
    out = []
    for b in range(n_batches):
        ts = t0_ms + b * 1000
        rows = [
            {
                "sensor": f"s{i % n:06d}",
                "ts": ts + i // n,
                "value": 12.0 if i % 1000 == 7 else float(i % 5),
            }
            for i in range(batch)
        ]
        out.append("\n".join(map(json.dumps, rows)).encode() + b"\n")  # NDJSON: Arrow reads it into columns
    return out


def raw_insert(path: Path, tables: list[pa.Table], keyed: bool) -> float:
    """Seconds to insert the rows of ``tables`` (sensor names as integer keys), a commit per batch,
    into a fresh DuckDB file table keyed on (sensor, ts) with ``INSERT OR IGNORE`` or, not
    ``keyed``, appended plainly."""
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    key = ", PRIMARY KEY (sensor, ts)" if keyed else ""
    con.execute(f"CREATE TABLE readings (sensor INTEGER NOT NULL, ts TIMESTAMP NOT NULL, value DOUBLE{key})")
    verb = "INSERT OR IGNORE" if keyed else "INSERT"
    rows = [
        pa.table(
            {
                "sensor": pc.cast(pc.utf8_slice_codeunits(t["sensor"], 1), pa.int32()),
                "ts": t["ts"].cast(pa.timestamp("ms")),
                "value": t["value"],
            }
        )
        for t in tables
    ]
    started = time.perf_counter()
    for batch in rows:  # noqa: B007 (DuckDB reads it by name)
        con.execute(f"{verb} INTO readings SELECT * FROM batch")
    took = time.perf_counter() - started
    con.close()
    return took


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
        raw_rate = len(payloads) * BATCH / raw_insert(Path(tmp) / "raw.duckdb", list(map(parse_body, payloads)), True)
    print(
        f"ingest over HTTP: {rate:,.0f} readings/s ({len(payloads)} batches of {BATCH:,}, 4 clients, rules on); "
        f"raw DuckDB Arrow insert: {raw_rate:,.0f} rows/s; target >= 100,000/s: "
        f"{'met' if rate >= 100_000 else 'NOT met'}"
    )
    report("ingest HTTP time per reading vs raw insert", 1e6 / rate, 1e6 / raw_rate, unit="us/reading")


def bench_inprocess(n: int, seconds: int, repeat: int = 3) -> None:
    """``seconds`` batches of one reading per sensor, after one to warm up (the first evaluation)."""
    with tempfile.TemporaryDirectory() as tmp:
        payloads = bodies(seconds + 1, int(time.time() * 1000) - 3_600_000, n, n)
        tables = [parse_body(body) for body in payloads]
        total = seconds * n

        def ours(parse: bool) -> float:
            path = Path(tmp) / f"ours-{parse}.duckdb"
            path.unlink(missing_ok=True)
            svc = build_service(n, path)
            svc.ingest(tables[0])
            gc.collect()
            started = time.perf_counter()
            for body, table in zip(payloads[1:], tables[1:], strict=True):
                svc.ingest(parse_body(body) if parse else table)
            took = time.perf_counter() - started
            assert svc.accepted_total == total + n, "readings were not all stored"
            svc.close()
            return took

        def parse_all() -> float:
            started = time.perf_counter()
            for body in payloads[1:]:
                parse_body(body)
            return time.perf_counter() - started

        runs = []
        for _ in range(repeat):  # interleaved, best of each: a busy machine slows one run, not one side
            runs.append(
                (
                    ours(False),
                    ours(True),
                    raw_insert(Path(tmp) / "keyed.duckdb", tables[1:], keyed=True),
                    raw_insert(Path(tmp) / "plain.duckdb", tables[1:], keyed=False),
                    parse_all(),
                )
            )
        arrow, ndjson, keyed, plain, parsing = np.min(runs, axis=0)
    per = 1e6 / total
    print(
        f"ingest in process, {n:,} sensors x {seconds} s (check + dedup + commit + rules): "
        f"{total / arrow:,.0f} readings/s from Arrow columns, {total / ndjson:,.0f}/s from NDJSON; "
        f"raw INSERT OR IGNORE {total / keyed:,.0f} rows/s, plain append {total / plain:,.0f} rows/s; "
        f"target >= 100,000/s: {'met' if total / ndjson >= 100_000 else 'NOT met'}",
        flush=True,
    )
    raw_ndjson = (keyed + parsing) * per
    report(f"ingest {n:,} sensors, Arrow in, vs raw Arrow INSERT OR IGNORE", arrow * per, keyed * per, 1.3, "us")
    report(f"ingest {n:,} sensors, NDJSON in, vs raw parse + INSERT OR IGNORE", ndjson * per, raw_ndjson, 1.3, "us")
    report(f"ingest {n:,} sensors, Arrow in, vs a plain append (no dedup)", arrow * per, plain * per, unit="us")


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
    for n, seconds in ((1_000, 100), (N_SENSORS, 20), (85_000, 4)):  # the growth curve: super-linear steps show
        bench_inprocess(n, seconds)
    bench_ingest()
    bench_latency()
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        serve_child(sys.argv[2])
    else:
        main()
