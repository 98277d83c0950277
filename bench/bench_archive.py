"""The billion-readings archive: query times over generated partitioned Parquet, and bytes per reading.

``python bench/bench_archive.py [--groups 1] [--days 1] [--keep DIR]``

Generates ``groups x 1,024`` sensors at 1 Hz for ``days`` whole days straight into the archive's
layout (``day=YYYY-MM-DD/grp=G``, sorted by sensor and time, zstd), as the store's moves write it;
``--groups 4 --days 3`` is 1.06 billion readings.  ``--keep DIR`` keeps (and reuses) the files.
Then, through the store's own queries (:meth:`Store.readings`, :meth:`Store.buckets`):

* one sensor's 24 h chart (86,400 readings), against a bare DuckDB read of the same rows from the
  one file that holds them (target <= 1 s);
* a grid cell's day (200 sensors spread over every group, 5-minute count/min/max/mean), against
  the same aggregate over the whole archive without partition pruning (target <= 5 s);
* bytes per stored reading, and how the query cost scales: by the files a query names, not by
  the readings kept.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb  # noqa: E402
from common import best_time, report  # noqa: E402

from twin.risk.archive import DAY_S, GROUP_SIZE, day_name  # noqa: E402
from twin.risk.store import Store  # noqa: E402

T0 = 1_700_006_400  # a UTC midnight
CELL = 200  # sensors in the grid cell


def generate(root: Path, groups: int, days: int) -> float:
    """Write the archive's files (skipping those there already); returns the seconds it took."""
    con = duckdb.connect(config={"memory_limit": "1GB"})
    con.execute("SET enable_progress_bar = false")
    started = time.perf_counter()
    for day in range(days):
        for g in range(groups):
            target = (
                root / f"day={day_name(T0 + day * DAY_S)}" / f"grp={g}" / "gen-0.parquet"
            )  # not run-<n>: no move wrote it
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            # a smooth daily signal with noise, to the hundredth: compresses as field readings do
            con.execute(
                f"COPY (SELECT ({g * GROUP_SIZE} + i // 86400)::INTEGER AS sensor, "
                f"make_timestamp(({T0 + day * 86400} + i % 86400) * 1000000) AS ts, "
                "round(20 + 5 * sin((i % 86400) / 13750.0) + (hash(i) % 100) / 100.0, 2) AS value "
                f"FROM range({GROUP_SIZE * 86400}) t(i)) TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
            )
    con.close()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_archive")
    parser.add_argument("--groups", type=int, default=1, help="sensor groups of 1,024 sensors")
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="generate into (and reuse) this folder")
    args = parser.parse_args(argv or [])
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "live.duckdb.archive"
        n_sensors, total = args.groups * GROUP_SIZE, args.groups * GROUP_SIZE * 86400 * args.days
        seconds = generate(root, args.groups, args.days)
        print(
            f"archive: {total:,} readings ({n_sensors:,} sensors x {args.days} days at 1 Hz) written in {seconds:.0f} s"
        )
        store = Store(Path(tmp) / "live.duckdb").open()
        store.sensor_keys([f"s{i:06d}" for i in range(n_sensors)])  # keys 0.. as the files name them
        archive = store.attach_archive(root)
        size = archive.size()
        files = len(archive.files(None, None))
        print(f"archive: {size / 1e9:.2f} GB in {files} files: {size / total:.2f} bytes per stored reading")
        day = T0 + (args.days - 1) * DAY_S
        sensor = n_sensors // 2 + 17
        chart, rows = best_time(lambda: store.readings([f"s{sensor:06d}"], day, day + DAY_S - 1, limit=10**6))
        assert len(rows) == 86400, len(rows)
        (only,) = archive.files(day, day + DAY_S - 1, [sensor // GROUP_SIZE])
        con = duckdb.connect()
        raw, _ = best_time(
            lambda: con.execute(f"SELECT ts, value FROM read_parquet('{only}') WHERE sensor = {sensor}").fetchall()
        )
        report("archive: one sensor's 24 h chart (86,400 readings) vs a bare read of its file", chart, raw)
        print(f"archive: chart {chart:.3f} s (target <= 1 s: {'met' if chart <= 1 else 'NOT met'})")
        cell = [f"s{(i * n_sensors) // CELL + 3:06d}" for i in range(CELL)]  # spread over every group
        grid, buckets = best_time(lambda: store.buckets(cell, day, day + DAY_S - 1, 300.0), repeat=2)
        assert len(buckets) == CELL * 288, len(buckets)
        keys = ", ".join(str((i * n_sensors) // CELL + 3) for i in range(CELL))
        scan, _ = best_time(
            lambda: con.execute(
                f"SELECT sensor, time_bucket(INTERVAL 5 MINUTE, ts) AS t, count(*), min(value), max(value), "
                f"avg(value) FROM read_parquet('{root}/*/*/*.parquet') WHERE sensor IN ({keys}) "
                f"AND ts >= make_timestamp({int(day * 1e6)}) AND ts < make_timestamp({int((day + DAY_S) * 1e6)}) "
                "GROUP BY ALL"
            ).fetchall(),
            repeat=1,
        )
        report(f"archive: a grid cell's day ({CELL} sensors, 5-min buckets) vs an unpruned scan", grid, scan)
        print(f"archive: grid cell's day {grid:.3f} s (target <= 5 s: {'met' if grid <= 5 else 'NOT met'})")
        files_cell = len(archive.files(day, day + DAY_S - 1, list(range(args.groups))))
        print(
            f"archive: the chart reads 1 file and the cell's day {files_cell} (one per group of that day) however"
            f" many days are kept; a billion readings at {size / total:.2f} B each take {size / total:.2f} GB"
        )
        store.close()
        con.close()


if __name__ == "__main__":
    main(sys.argv[1:])
