"""The Parquet archive of raw readings: whole days move out of the store by day and sensor group,
queries read both in place, a move that died half-way is undone, and the service retains by it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq

from twin.assets import AssetTable
from twin.risk import SensorTable, parse_rules
from twin.risk.archive import DAY_S, GROUP_SIZE
from twin.risk.service import RiskService
from twin.risk.store import Store

T0 = 1_700_006_400.0  # a UTC midnight (2023-11-15)
IDS = [f"s{i:05d}" for i in range(GROUP_SIZE + 10)]  # two sensor groups


def filled_store(path: Path) -> tuple[Store, np.ndarray]:
    """Three days of readings every 10 min of a sensor in group 0 and one in group 1."""
    store = Store(path).open()
    keys = store.sensor_keys(IDS)
    ts = np.arange(T0, T0 + 3 * DAY_S, 600.0)
    for key in (keys[3], keys[GROUP_SIZE + 2]):
        store.insert_readings(np.full(len(ts), key), (ts * 1000).astype(np.int64), np.sin(ts) + key)
    return store, ts


def test_whole_days_move_to_partitioned_parquet_and_read_back(tmp_path: Path) -> None:
    store, ts = filled_store(tmp_path / "s.duckdb")
    before = [store.readings([IDS[3]], limit=10**6), store.readings([IDS[GROUP_SIZE + 2]], limit=10**6)]
    archive = store.attach_archive()
    moved = store.move_to_archive(T0 + 2 * DAY_S + 3600)  # whole days only: the first two
    assert moved == 2 * 2 * 144 and store.count() == 2 * 144
    folders = sorted(str(p.relative_to(archive.root)) for p in archive.root.glob("day=*/grp=*"))
    assert folders == ["day=2023-11-15/grp=0", "day=2023-11-15/grp=1", "day=2023-11-16/grp=0", "day=2023-11-16/grp=1"]
    one = pq.read_table(next(archive.root.glob("day=2023-11-15/grp=0/*.parquet")))
    assert one.column_names == ["sensor", "ts", "value"] and one.num_rows == 144
    # the archive is plain hive-partitioned Parquet any DuckDB reads in place
    glob = f"{archive.root}/*/*/*.parquet"
    query = "SELECT count(*), count(DISTINCT day), count(DISTINCT grp) FROM read_parquet($1, hive_partitioning=1)"
    assert duckdb.connect().execute(query, [glob]).fetchall() == [(moved, 2, 2)]
    after = [store.readings([IDS[3]], limit=10**6), store.readings([IDS[GROUP_SIZE + 2]], limit=10**6)]
    assert after == before  # raw and archive read as one
    window = store.readings([IDS[3]], since=T0 + DAY_S - 1800, until=T0 + DAY_S + 1800)
    assert [r["ts"] for r in window] == list(np.arange(T0 + DAY_S - 1800, T0 + DAY_S + 1801, 600.0))
    assert [r["ts"] for r in store.readings([IDS[3]], limit=2)] == list(ts[-2:])
    assert [r["ts"] for r in store.readings([IDS[3]], limit=2, oldest_first=True)] == list(ts[:2])
    hours = store.hourly([IDS[3]])  # rolled up hourly as they went, as before the archive
    assert len(hours) == 48 and all(h["n"] == 6 for h in hours)
    assert store.move_to_archive(T0 + 2 * DAY_S + 3600) == 0  # nothing left to move
    assert archive.drop_before(T0 + DAY_S) == 1 and len(store.readings([IDS[3]], limit=10**6)) == 2 * 144
    store.close()


def test_a_move_that_died_half_way_is_undone(tmp_path: Path) -> None:
    store, _ = filled_store(tmp_path / "s.duckdb")
    archive = store.attach_archive()
    store.move_to_archive(T0 + DAY_S)
    orphan = archive.root / "day=2023-11-16" / "grp=0" / "run-2-0.parquet"  # files of run 2, never recorded
    orphan.parent.mkdir(parents=True)
    pq.write_table(pq.read_table(next(archive.root.glob("day=2023-11-15/grp=0/*.parquet"))), orphan)
    store.close()
    reopened = Store(tmp_path / "s.duckdb").open()
    reopened.attach_archive()
    assert not orphan.exists()
    assert len(reopened.readings([IDS[3]], limit=10**6)) == 3 * 144  # each reading once
    assert reopened.move_to_archive(T0 + 3 * DAY_S) == 2 * 2 * 144
    assert len(reopened.readings([IDS[3]], limit=10**6)) == 3 * 144
    reopened.close()


def test_the_service_retains_by_the_archive(tmp_path: Path) -> None:
    ids = ["a0", "a1"]
    assets = AssetTable.build(ids, kind="Building")
    sensors = SensorTable.from_rows(
        [{"id": f"g{i}", "asset": a, "quantity": "gas", "unit": "%LEL", "period_s": 60} for i, a in enumerate(ids)],
        assets,
    )
    now = [T0 + 3 * DAY_S + 7200]
    rules = parse_rules({"ingest": {"archive_after_s": 86400, "keep_days": 30}})
    svc = RiskService(assets, sensors, rules, Store(tmp_path / "live.duckdb"), clock=lambda: now[0]).open()
    old = [{"sensor": "g0", "ts": int((T0 + h * 3600) * 1000), "value": float(h)} for h in range(72)]
    assert svc.ingest(old)["accepted"] == 72
    assert svc.retain() == 48  # the two whole days older than 24 h
    assert svc.history.store.count() == 24
    assert [r["value"] for r in svc.readings("a0", limit=1000) or []] == [float(h) for h in range(72)]
    late = svc.ingest([*old[:4], {**old[4], "value": -1.0}])  # repeats of archived readings
    assert (late["accepted"], late["duplicate"], late["conflicting"]) == (0, 5, 1)
    straggler = {"sensor": "g1", "ts": int((T0 + DAY_S + 60) * 1000), "value": 7.0}  # new, of an archived day
    assert svc.ingest([straggler])["accepted"] == 1 and svc.retain() == 1  # moves with the next run
    svc.close()
    assert (tmp_path / "live.duckdb.archive").is_dir()
    memory = RiskService(assets, sensors, rules, Store(None), clock=lambda: now[0]).open()
    assert memory.history.store.archive is None  # an in-memory store keeps today's roll-up
    memory.close()


def test_buckets_summarise_a_day_over_raw_and_archive(tmp_path: Path) -> None:
    store, _ = filled_store(tmp_path / "s.duckdb")
    store.attach_archive()
    store.move_to_archive(T0 + DAY_S)  # day one archived, days two and three raw
    cell = [IDS[3], IDS[GROUP_SIZE + 2]]
    rows = store.buckets(cell, T0 + DAY_S - 3600, T0 + DAY_S + 3599, 1800.0)
    assert [(r["sensor"], r["ts"], r["n"]) for r in rows[:4]] == [
        (IDS[3], T0 + DAY_S - 3600, 3),
        (IDS[3], T0 + DAY_S - 1800, 3),
        (IDS[3], T0 + DAY_S, 3),
        (IDS[3], T0 + DAY_S + 1800, 3),
    ]
    assert len(rows) == 8 and all(r["min"] <= r["mean"] <= r["max"] for r in rows)
    store.close()
