"""The city's asset index: search over 4.7 M standard addresses and 1 M assets, against plain scans.

Generates the megacity once (``data_samples/megacity/make_city.py``: 1 M buildings, 4.7 M
addresses) into ``$CIM_BENCH_CACHE`` (default: the temp folder) and reuses it; its buildings
become a 1 M-row ``assets.parquet``.  Prints:

* generation throughput (buildings and addresses per second) of a 100,000-building city, and of
  the full city when it had to be made;
* ``AssetIndex.open`` cold (signatures computed) and warm (read from ``.index-cache``);
* search latency p50 / p95 over a fixed mix of queries (ids, id prefixes, exact codes, code
  prefixes, names and Chinese address fragments), against the same search done as plain Arrow
  scans (``pc.equal`` / ``starts_with`` / ``match_substring`` over the same columns), and a code
  prefix against a bare ``numpy.searchsorted`` over sorted fixed-width codes.

Target: p95 <= 50 ms warm (printed as a ratio against 50 ms), and far below the plain scan.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from common import best_time, peak_rss_mb, report

from twin.asset_index import CACHE_FOLDER, AssetIndex, write_asset_index

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("CIM_BENCH_CACHE", tempfile.gettempdir())) / "cim-megacity-bench"
FULL = {"buildings": 1_000_000, "pipes": 100_000, "risk_sources": 267_000, "grids": 12_000, "sensors": 10_000}
ADDRESSES = 4_700_000
LIMIT = 10


def make_city_module() -> ModuleType:  # the generator is a script in data_samples/, not a package
    spec = importlib.util.spec_from_file_location("make_city", ROOT / "data_samples" / "megacity" / "make_city.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_city"] = module
    spec.loader.exec_module(module)
    return module


def building_assets(city: Any) -> pa.Table:
    """The city's buildings as the tiler writes them into ``assets.parquet`` (leaf tiles of 8 x 8 blocks)."""
    n = city.n
    column, row = (pc.cast(pa.array(v // 8), pa.string()) for v in (city.bx, city.by))
    tile = pc.binary_join_element_wise("tiles/", column, "_", row, ".glb", "")
    return pa.table(
        {
            "row": pa.array(np.arange(n, dtype=np.uint32)),
            "id": city.ids,
            "kind": pa.array(np.full(n, "Building")),
            "name": city.names,
            "address": pc.cast(pa.array(city.code), pa.string()),
            "address_text": city.text,
            "layer": pa.array(np.full(n, "buildings/Building")),
            "network": pa.nulls(n, pa.string()),
            "xmin": city.x0, "ymin": city.y0, "zmin": city.base,
            "xmax": city.x1, "ymax": city.y1, "zmax": city.base + city.eave + city.ridge,
            "tile": tile,
        }
    )  # fmt: skip


def ensure_city(make_city: ModuleType) -> tuple[Path, Path]:
    """The cached full city (generated when missing or of other sizes) and its assets folder."""
    city_dir, tiles = CACHE / "city", CACHE / "tiles"
    sizes = make_city.Sizes(**FULL, addresses=ADDRESSES, seed=1)
    summary = city_dir / "city.json"
    wanted = {**FULL, "addresses": ADDRESSES}
    if not summary.exists() or json.loads(summary.read_text())["counts"] != wanted:
        shutil.rmtree(CACHE, ignore_errors=True)
        started = time.perf_counter()
        make_city.generate(city_dir, sizes)
        seconds = time.perf_counter() - started
        print(f"full city generated: {seconds:.1f} s ({FULL['buildings'] / seconds:,.0f} buildings/s, "
              f"{ADDRESSES / seconds:,.0f} addresses/s, all files)", flush=True)  # fmt: skip
    if not (tiles / "assets.parquet").exists():
        write_asset_index(building_assets(make_city.City(sizes)), tiles)
    return city_dir, tiles


def generation_throughput(make_city: ModuleType) -> None:
    n = 100_000
    sizes = make_city.Sizes(n, 10_000, 26_700, 1_200, 1_000, 470_000, seed=1)
    with tempfile.TemporaryDirectory() as out:
        seconds, summary = best_time(lambda: make_city.generate(Path(out), sizes), repeat=1)
    parts = summary["seconds"]
    print(f"generation ({n:,} buildings, 470,000 addresses): {seconds:.2f} s; buildings "
          f"{n / parts['buildings']:,.0f}/s, addresses {470_000 / parts['addresses']:,.0f}/s", flush=True)  # fmt: skip


def queries(index: AssetIndex, seed: int = 3) -> list[str]:
    """A fixed mix of what users type: ids, codes, names and address fragments."""
    rng = np.random.default_rng(seed)
    addresses = index.addresses
    assert addresses is not None
    picks = addresses.take(pa.array(rng.integers(0, len(addresses), 8))).to_pylist()
    assets = index.table.take(pa.array(rng.integers(0, len(index), 4))).to_pylist()
    out = []
    for a in picks:
        text = a["text"].removeprefix("江苏省南京市")
        road = text[text.index("街道") + 2 :]
        out += [a["code"], a["code"][:9], a["code"][:15], road, road[: road.index("号") + 1], text[:3]]
    for a in assets:
        out += [a["id"], a["id"][:6], a["name"][-6:]]
    return out + ["中山", "住宅楼", "3单元", "梅园门街道", "汉中东路1号", "不存在的地址"]


def raw_search(index: AssetIndex, query: str, limit: int = LIMIT) -> int:
    """The same search as plain Arrow scans: equal, starts_with and match_substring over each column."""
    table, addresses = index.table, index.addresses
    assert addresses is not None
    found = 0
    for values, test in (
        (table["id"], pc.equal),
        (addresses["code"], pc.equal),
        (table["id"], pc.starts_with),
        (addresses["code"], pc.starts_with),
        (table["name"], pc.match_substring),
        (addresses["text"], pc.match_substring),
    ):
        found += len(pc.indices_nonzero(pc.fill_null(test(values, query), False))[: limit - found])
        if found >= limit:
            break
    return found


def rss_mb() -> float:
    """Resident memory now (Linux), MB."""
    fields = Path("/proc/self/status").read_text().split("VmRSS:")[1].split()
    return int(fields[0]) / 1024


def latencies(fn: Callable[[str], object], items: list[str]) -> np.ndarray:
    out = []
    for q in items:
        started = time.perf_counter()
        fn(q)
        out.append(time.perf_counter() - started)
    return np.array(out)


def main() -> None:
    make_city = make_city_module()
    generation_throughput(make_city)
    city_dir, tiles = ensure_city(make_city)
    addresses = city_dir / "addresses.parquet"
    for folder in (tiles, city_dir):
        shutil.rmtree(folder / CACHE_FOLDER, ignore_errors=True)
    cold, index = best_time(lambda: AssetIndex.open(tiles, addresses), repeat=1)
    del index
    base = rss_mb()
    warm, index = best_time(lambda: AssetIndex.open(tiles, addresses), repeat=2)
    grown = rss_mb() - base
    read, _ = best_time(lambda: (pq.read_table(addresses), pq.read_table(tiles / "assets.parquet")), 2)
    print(f"open {len(index):,} assets + {len(index.addresses):,} addresses: cold (no cache) {cold:.2f} s, "
          f"warm {warm:.3f} s, resident +{grown:,.0f} MB; bare read_table of both files {read:.2f} s; "
          f"peak RSS {peak_rss_mb():,.0f} MB", flush=True)  # fmt: skip
    items = queries(index)
    for q in items[:3]:
        index.search(q)  # warm the page cache of the memory-mapped columns
    ours = latencies(lambda q: index.search(q, LIMIT), items)
    raw = latencies(lambda q: raw_search(index, q), items)
    for name, pick in (("p50", 50), ("p95", 95)):
        report(f"search {name} ({len(items)} queries)", np.percentile(ours, pick), np.percentile(raw, pick))
    report("search p95 against the 50 ms budget", float(np.percentile(ours, 95)), 0.050, target=1.0)
    slowest = ", ".join(f"{items[i]!r} {ours[i] * 1000:.1f} ms" for i in np.argsort(ours)[::-1][:3])
    print(f"slowest queries: {slowest}", flush=True)
    codes = np.sort(index.addresses["code"].to_numpy(zero_copy_only=False).astype("S19"))
    prefixes = [q for q in items if q.isdigit() and len(q) < 19]

    def numpy_prefix(q: str) -> np.ndarray:
        lo = np.searchsorted(codes, q.encode())
        hi = np.searchsorted(codes, q.encode() + b"\xff")
        return np.arange(lo, min(hi, lo + LIMIT))

    ours_prefix = latencies(lambda q: index.search(q, LIMIT), prefixes)
    raw_prefix = latencies(numpy_prefix, prefixes)
    report(
        "code prefix: whole search() p50 vs a bare numpy searchsorted of the prefix",
        np.percentile(ours_prefix, 50),
        np.percentile(raw_prefix, 50),
    )
    box, rows = best_time(lambda: index.rows_in_box(381_000, 3_548_000, 383_000, 3_550_000))
    print(f"rows_in_box 2 x 2 km: {len(rows):,} rows in {box * 1000:.1f} ms", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
