"""The embedded DuckDB store: readings, alerts and their history, and the history of every asset's
level (what the screens showed, for playback), in one file next to the scene.

DuckDB allows one writer process and fsyncs every commit, so readings go in as one Arrow batch
per transaction (``executemany`` manages ~3,000 rows/s; an Arrow insert hundreds of thousands).
Sensors get a stable integer key in the ``sensors`` table (an integer primary key indexes half
again as fast as a string one).  ``readings`` is idempotent on (sensor, ts): the first value
stored wins and a later duplicate is ignored (and counted as a conflict if its value differs).
It has no index: a primary key on (sensor, ts) cost more per reading than all the rest of
ingest, so duplicates are found by each sensor's newest stored reading held in memory
(:mod:`twin.risk.highwater`), and only stragglers older than it are looked up, in the rows of
their time span.  Reads use their own cursor, so a query never waits for the ingest thread's
Python lock.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from twin.errors import InputError
from twin.risk.alerts import Alert, Event
from twin.risk.archive import GROUP_SIZE, Archive, day_start
from twin.risk.highwater import HighWater, repeated
from twin.risk.levels import NAMES

SCHEMA = """
CREATE TABLE IF NOT EXISTS sensors (id VARCHAR PRIMARY KEY, key INTEGER NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS readings (sensor INTEGER NOT NULL, ts TIMESTAMP NOT NULL, value DOUBLE);
CREATE TABLE IF NOT EXISTS alerts (id BIGINT PRIMARY KEY, asset VARCHAR, rule VARCHAR, state VARCHAR,
    level TINYINT, peak TINYINT, opened DOUBLE, updated DOUBLE, message VARCHAR, fired DOUBLE, acked DOUBLE,
    acked_level TINYINT, acked_by VARCHAR, resolved DOUBLE, clear_since DOUBLE, flaps INTEGER, flapping BOOLEAN,
    trigger_sensor VARCHAR, trigger_value DOUBLE, trigger_unit VARCHAR, trigger_ts DOUBLE);
-- a store written before alerts kept their triggering reading gains its columns (NULL in old rows)
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS trigger_sensor VARCHAR;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS trigger_value DOUBLE;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS trigger_unit VARCHAR;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS trigger_ts DOUBLE;
CREATE TABLE IF NOT EXISTS alert_events (alert BIGINT, ts DOUBLE, event VARCHAR, state VARCHAR, level TINYINT,
    note VARCHAR);
CREATE TABLE IF NOT EXISTS readings_hourly (sensor INTEGER NOT NULL, hour TIMESTAMP NOT NULL, n BIGINT,
    min DOUBLE, max DOUBLE, mean DOUBLE, PRIMARY KEY (sensor, hour));
CREATE TABLE IF NOT EXISTS assets (id VARCHAR PRIMARY KEY, key INTEGER NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS levels (asset INTEGER NOT NULL, ts DOUBLE NOT NULL, seq BIGINT NOT NULL,
    level TINYINT NOT NULL);
CREATE TABLE IF NOT EXISTS archive_runs (run INTEGER PRIMARY KEY, cutoff TIMESTAMP NOT NULL, rows BIGINT NOT NULL);
"""
FEW_SENSORS = 16  #: up to this many sensors a query lists them; more go in as a semi-join
CUTOFF = "make_timestamp(CAST($1 * 1e6 AS BIGINT))"  #: parameter $1 (epoch s) as a TIMESTAMP
ALERT_COLUMNS = [f.name for f in fields(Alert)]
MEMORY_LIMIT = "512MB"  # DuckDB's cache; larger queries spill to disk
#: Words of DuckDB open errors that mean a damaged file (set aside); anything else (permissions,
#: a newer format version) is reported and the file left alone.
#: DuckDB's main header: 8 bytes of checksum, then the magic
DUCKDB_MAGIC, DUCKDB_MAGIC_AT = b"DUCK", 8
#: Words of DuckDB's error for a file another process holds (not "lock" alone: "block" in a damage report)
LOCKED = ("could not set lock", "conflicting lock")
DAMAGE = ("wal", "corrupt", "checksum", "not a valid", "serializ", "internal error", "invalid")


class StoreLockedError(InputError):
    """Another process holds the store: DuckDB has a single writer."""


class Store:
    """One DuckDB database; ``path=None`` keeps it in memory (tests, benchmarks).

    Constructing one touches no file: :meth:`open` connects (and sets a damaged file aside), so a
    service can be built, checked and wired before anything is written to disk.

    Attributes
    ----------
    set_aside
        Files renamed because the store could not be opened (empty when it opened cleanly);
        the service raises an operator alert for them.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.set_aside: list[Path] = []
        self.open_error = ""
        self._lock = threading.Lock()
        self._seq: int | None = None  # the level history's last sequence number, read once
        self._con: duckdb.DuckDBPyConnection | None = None
        self.archive: Archive | None = None
        self._archived_until: float | None = None  # epoch s: the last move's cutoff, read once
        self._marks: HighWater | None = None  # each sensor's newest stored reading, read once

    def attach_archive(self, root: Path | None = None) -> Archive:
        """Keep raw readings older than a window in Parquet under ``root`` (default ``<store>.archive``)
        from now on; files of a move that died half-way are removed (its rows are still here)."""
        if root is None:
            if self.path is None:
                raise RuntimeError("an in-memory store needs an archive folder")
            root = Path(f"{self.path}.archive")
        self.archive = Archive(root)
        self.archive.remove_run(self._next_run())
        return self.archive

    def _next_run(self) -> int:
        return int(_one(self._read("SELECT coalesce(max(run), 0) + 1 FROM archive_runs"))[0])

    def open(self) -> Store:
        """Connect and create the tables (once; later calls do nothing); returns the store."""
        if self._con is None:
            self._con = self._connect()
            self._con.execute(SCHEMA)
            self._unindex_readings()
        return self

    def _unindex_readings(self) -> None:
        """Rebuild a ``readings`` table written with a primary key (before the high-water marks)
        without it, once, in one transaction: the index would keep its cost on every insert."""
        indexed = _one(
            self.con.execute(
                "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'readings' "
                "AND constraint_type = 'PRIMARY KEY'"
            )
        )[0]
        if indexed:
            with self._transaction():
                self.con.execute("ALTER TABLE readings RENAME TO readings_indexed")
                self.con.execute(SCHEMA)
                self.con.execute("INSERT INTO readings SELECT * FROM readings_indexed")
                self.con.execute("DROP TABLE readings_indexed")

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The open connection; using a store before :meth:`open` is a programming error."""
        if self._con is None:
            raise RuntimeError("the store is not open: call Store.open() first")
        return self._con

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self.path is None:
            return _open(":memory:")
        _refuse_foreign(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return _open(str(self.path))
        except duckdb.Error as exc:
            text = str(exc).lower()
            if any(words in text for words in LOCKED):
                raise StoreLockedError(
                    self.path,
                    "the store is in use by another process (DuckDB allows one writer)",
                    hint="stop the other `twin serve`, or point [live] store elsewhere",
                ) from None
            if not any(word in text for word in DAMAGE):
                raise InputError(self.path, f"cannot open the store ({str(exc).splitlines()[0]})") from None
            self.open_error = str(exc).splitlines()[0]
        self._set_aside(self.path)
        return _open(str(self.path))

    def _set_aside(self, path: Path) -> None:
        """Rename a damaged store (and its write-ahead log) so a fresh one can start beside it.

        Only ever called on a file :func:`_refuse_foreign` recognised as a DuckDB store.
        """
        stamp = time.strftime("%Y%m%dT%H%M%S")
        for f in (path, Path(f"{path}.wal")):
            if f.exists():
                target = f.with_name(f"{f.name}.corrupt-{stamp}")
                f.rename(target)
                self.set_aside.append(target)

    def close(self) -> None:
        """Close the connection (a store never opened, or closed already, is left alone)."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    # -- keys -------------------------------------------------------------------------------
    def sensor_keys(self, ids: list[str]) -> np.ndarray:
        """The integer key of each sensor id, registering new ids (keys never change once given)."""
        return self._keys("sensors", ids)

    def asset_keys(self, ids: list[str]) -> np.ndarray:
        """The integer key of each asset id (the level history outlives a scene's row order)."""
        return self._keys("assets", ids)

    def _keys(self, table: str, ids: list[str]) -> np.ndarray:
        with self._lock:
            known = dict(self.con.execute(f"SELECT id, key FROM {table}").fetchall())
            fresh = [i for i in dict.fromkeys(ids) if i not in known]
            if fresh:
                start = max(known.values(), default=-1) + 1
                self._insert(
                    table,
                    pa.table(
                        {
                            "id": pa.array(fresh, pa.string()),
                            "key": pa.array(np.arange(start, start + len(fresh), dtype=np.int32)),
                        }
                    ),
                )
                known.update(zip(fresh, range(start, start + len(fresh)), strict=True))
        return np.array([known[i] for i in ids], dtype=np.int32)

    # -- writes ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """Several writes, one commit (DuckDB fsyncs each commit), under the writer lock."""
        with self._lock:
            self.con.execute("BEGIN")
            try:
                yield
            except Exception:
                self.con.execute("ROLLBACK")
                raise
            self.con.execute("COMMIT")

    def _insert(self, table: str, rows: pa.Table, verb: str = "INSERT") -> None:
        self.con.execute(f"{verb} INTO {table} SELECT * FROM rows")  # DuckDB reads the local Arrow table

    def save_evaluation(
        self, alerts: list[Alert], events: list[Event], assets: np.ndarray, ts: float, levels: np.ndarray
    ) -> None:
        """What one evaluation changed, in one transaction: alerts and their events, and the new
        levels of some assets (keys) at ``ts`` for the playback history."""
        if not alerts and not events and not len(assets):
            return
        with self._transaction():
            self._write_alerts(alerts, events)
            if len(assets):
                if self._seq is None:
                    self._seq = int(_one(self.con.execute("SELECT coalesce(max(seq), 0) FROM levels"))[0])
                seq = np.arange(self._seq + 1, self._seq + 1 + len(assets), dtype=np.int64)
                self._insert(
                    "levels",
                    pa.table(
                        {
                            "asset": pa.array(assets, pa.int32()),
                            "ts": pa.array(np.full(len(assets), ts)),
                            "seq": pa.array(seq),
                            "level": pa.array(levels, pa.int8()),
                        }
                    ),
                )
        if len(assets):
            self._seq = int(seq[-1])  # only once committed

    def levels_at(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(asset keys, level) of every asset's last change at or before ``t`` (epoch s)."""
        columns = self._read(
            "SELECT asset, arg_max(level, seq) AS level FROM levels WHERE ts <= $1 GROUP BY asset", [t]
        ).fetchnumpy()
        return np.asarray(columns["asset"], dtype=np.int64), np.asarray(columns["level"], dtype=np.int8)

    def asset_levels_at(self, t: float) -> dict[str, int]:
        """Asset id -> level code at ``t`` (epoch s), for every asset whose level was ever recorded."""
        rows = self._read(
            "SELECT a.id, arg_max(l.level, l.seq) FROM levels l JOIN assets a ON a.key = l.asset "
            "WHERE l.ts <= $1 GROUP BY a.id",
            [t],
        ).fetchall()
        return {str(asset): int(level) for asset, level in rows}

    def level_range(self) -> tuple[float, float] | None:
        """Epoch seconds of the first and last recorded level change (None before any)."""
        lo, hi = _one(self._read("SELECT min(ts), max(ts) FROM levels"))
        return None if lo is None else (float(lo), float(hi))

    # -- readings -------------------------------------------------------------------------

    def insert_readings(self, sensor: np.ndarray, ts_ms: np.ndarray, value: np.ndarray) -> tuple[int, int]:
        """Commit a batch (sensor keys, epoch ms, values); return (rows inserted, duplicates whose
        value differs from the stored one).

        New readings are told from duplicates by the sensors' high-water marks; those older than
        their mark are looked up in the raw rows of their time span, and those older than the
        last archive move in the archive too.  The marks move only once the insert has returned.
        """
        sensor = np.asarray(sensor, np.int32)
        ts_ms, value = np.asarray(ts_ms, np.int64), np.asarray(value, np.float64)
        fresh = ~repeated(sensor, ts_ms)
        if not fresh.all():
            sensor, ts_ms, value = sensor[fresh], ts_ms[fresh], value[fresh]
        with self._lock:
            marks = self._high_water()
            new, late, conflicts = marks.classify(sensor, ts_ms, value)
            old = self._archived(ts_ms)  # perhaps in the archive, even newer than a mark read after a restart
            keep = new & ~old
            look = late | (new & old)
            if look.any():
                rows = np.flatnonzero(look)
                found, differing = self._stored(sensor[rows], ts_ms[rows], value[rows], late[rows], old[rows])
                keep[rows[~found]] = True
                conflicts += differing
            sensor, ts_ms, value = sensor[keep], ts_ms[keep], value[keep]
            if len(sensor):
                batch = pa.table(  # noqa: F841 (DuckDB reads it by name)
                    {"sensor": sensor, "ts": pa.array(ts_ms, pa.timestamp("ms")), "value": value}
                )
                self.con.execute("INSERT INTO readings SELECT * FROM batch")
                marks.advance(sensor, ts_ms, value)
        return len(sensor), conflicts

    def _high_water(self) -> HighWater:
        """Each sensor's newest stored reading: read from the table once, then kept by the inserts."""
        if self._marks is None:
            columns = self.con.execute(
                "SELECT sensor, epoch_ms(max(ts)) AS ts, arg_max(value, ts) AS value FROM readings GROUP BY sensor"
            ).fetchnumpy()
            self._marks = HighWater(
                np.asarray(columns["sensor"], np.int64),
                np.asarray(columns["ts"], np.int64),
                np.ma.filled(np.ma.asarray(columns["value"], np.float64), np.nan),
            )
        return self._marks

    def _archived(self, ts_ms: np.ndarray) -> np.ndarray:
        """Mask of readings older than the last archive move's cutoff (they may be in the archive)."""
        if self.archive is None:
            return np.zeros(len(ts_ms), bool)
        if self._archived_until is None:
            self._archived_until = float(
                _one(self.con.execute("SELECT coalesce(epoch(max(cutoff)), 0) FROM archive_runs"))[0]
            )
        return ts_ms < self._archived_until * 1000.0

    def _stored(
        self, sensor: np.ndarray, ts_ms: np.ndarray, value: np.ndarray, raw: np.ndarray, archived: np.ndarray
    ) -> tuple[np.ndarray, int]:
        """Which of some readings are stored already (mask), and how many of those differ in value:
        the ``raw`` ones looked up in the rows of their time span, the ``archived`` ones in the
        archive's files of their days and groups (stragglers are few: the live path never reads
        Parquet)."""
        probe = pa.table(  # noqa: F841 (DuckDB reads it by name)
            {"row": np.arange(len(sensor)), "sensor": sensor, "ts": pa.array(ts_ms, pa.timestamp("ms")), "value": value}
        )
        sources: list[tuple[str, list[Any]]] = []
        if raw.any():
            span = "make_timestamp(CAST($1 AS BIGINT) * 1000) AND make_timestamp(CAST($2 AS BIGINT) * 1000)"
            bounds = [int(ts_ms[raw].min()), int(ts_ms[raw].max())]
            sources.append((f"SELECT sensor, ts, value FROM readings WHERE ts BETWEEN {span}", bounds))
        if archived.any() and self.archive is not None:
            groups = sorted(set((sensor[archived] // GROUP_SIZE).tolist()))
            days = ts_ms[archived] / 1000.0
            files = self.archive.files(float(days.min()), float(days.max()), groups)
            if files:
                sources.append(("SELECT sensor, ts, value FROM read_parquet($1)", [files]))
        found = np.zeros(len(sensor), bool)
        differs = np.zeros(len(sensor), bool)
        for source, params in sources:
            hits = self.con.execute(
                f"SELECT p.row, s.value IS DISTINCT FROM p.value AS differs FROM probe p JOIN ({source}) s "
                "ON s.sensor = p.sensor AND s.ts = p.ts",
                params,
            ).fetchnumpy()
            rows = np.asarray(hits["row"], np.int64)
            found[rows] = True
            differs[rows] = np.asarray(hits["differs"], bool)
        return found, int(differs.sum())

    def latest(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Newest reading per sensor (to seed the in-memory state after a restart): the marks."""
        with self._lock:
            keys, ts_ms, value = self._high_water().known()
        named = self._read("SELECT key, id FROM sensors").fetchnumpy()
        ids = np.full(int(max(keys.max(initial=-1), np.max(named["key"], initial=-1))) + 1, None, object)
        ids[np.asarray(named["key"], np.int64)] = np.asarray(named["id"], object)
        mine = ids[keys] != None  # noqa: E711 (elementwise)
        return ids[keys[mine]].tolist(), ts_ms[mine] / 1000.0, value[mine]

    def readings(
        self,
        sensors: list[str],
        since: float | None = None,
        until: float | None = None,
        limit: int = 10_000,
        oldest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Readings of some sensors between ``since`` and ``until`` (epoch s), oldest first: the
        newest ``limit`` of them (``oldest_first``: the oldest), from the raw table and the archive."""
        keys, source, params = self._span(sensors, since, until)
        if not keys:
            return []
        rows = self._read(
            f"SELECT sensor, epoch_ms(ts) / 1000.0, value FROM ({source}) "
            f"ORDER BY ts {'ASC' if oldest_first else 'DESC'} LIMIT ${len(params) + 1}",
            [*params, limit],
        ).fetchall()
        ordered = rows if oldest_first else reversed(rows)
        return [{"sensor": keys[s], "ts": t, "value": v} for s, t, v in ordered]

    def buckets(self, sensors: list[str], since: float, until: float, bucket_s: float) -> list[dict[str, Any]]:
        """Count, min, max and mean per sensor and ``bucket_s`` between ``since`` and ``until`` (epoch s):
        a grid cell's day at a glance, computed where the readings lie (raw table and archive)."""
        keys, source, params = self._span(sensors, since, until)
        if not keys:
            return []
        width = f"to_microseconds(CAST(${len(params) + 1} * 1e6 AS BIGINT))"
        rows = self._read(
            f"SELECT sensor, epoch_ms(time_bucket({width}, ts)) / 1000.0 AS t, count(*), min(value), max(value), "
            f"avg(value) FROM ({source}) GROUP BY ALL ORDER BY sensor, t",
            [*params, bucket_s],
        ).fetchall()
        names = ("ts", "n", "min", "max", "mean")
        return [{"sensor": keys[r[0]], **dict(zip(names, r[1:], strict=True))} for r in rows]

    def _span(
        self, sensors: list[str], since: float | None, until: float | None
    ) -> tuple[dict[int, str], str, list[Any]]:
        """(key -> id of the sensors known, the SQL of their readings in the window over the raw
        table and the archive files of those days and groups, its parameters $1, $2[, $3])."""
        if not sensors:
            return {}, "", []
        keys = dict(self._read("SELECT key, id FROM sensors WHERE list_contains($1, id)", [sensors]).fetchall())
        params: list[Any] = [-1e10 if since is None else since, 1e11 if until is None else until]
        until_ts = CUTOFF.replace("$1", "$2")
        listed = ", ".join(str(int(k)) for k in keys)
        # a short list prunes Parquet row groups by their statistics; a long one reads faster as a semi-join
        among = f"IN ({listed})" if len(keys) <= FEW_SENSORS else f"IN (SELECT unnest([{listed}]))"
        where = f"sensor {among} AND ts >= {CUTOFF} AND ts <= {until_ts}"
        source = f"SELECT sensor, ts, value FROM readings WHERE {where}"
        files = self.archive.files(since, until, sorted({k // GROUP_SIZE for k in keys})) if self.archive else []
        if files:
            source += f" UNION ALL SELECT sensor, ts, value FROM read_parquet($3) WHERE {where}"
            params.append(files)
        return keys, source, params

    def roll_up(self, before: float) -> int:
        """Replace the raw readings older than ``before`` (epoch s, rounded down to the hour) by
        hourly count, min, max and mean per sensor, in one transaction; returns the rows removed.

        Why: at 1,000 readings/s the raw table grows by 86 M rows a day; the hourly summary keeps
        what an audit needs from old data in a few thousand rows.
        """
        with self._transaction():
            return self._roll_up(math.floor(before / 3600.0) * 3600.0)

    def move_to_archive(self, before: float) -> int:
        """Move the raw readings of whole days before ``before`` (epoch s) to the archive's Parquet,
        rolling them up hourly as :meth:`roll_up` does; returns the rows moved.

        One transaction under the writer lock: the files are written, then the rows deleted and the
        run recorded; a crash in between leaves files of an unrecorded run, removed on the next
        :meth:`attach_archive` or move.
        """
        if self.archive is None:
            raise RuntimeError("no archive attached: call Store.attach_archive() first")
        cutoff = day_start(before)
        with self._transaction():
            run = int(_one(self.con.execute("SELECT coalesce(max(run), 0) + 1 FROM archive_runs"))[0])
            self.archive.remove_run(run)
            self.archive.root.mkdir(parents=True, exist_ok=True)
            if not _one(self.con.execute(f"SELECT count(*) FROM readings WHERE ts < {CUTOFF}", [cutoff]))[0]:
                return 0
            self.con.execute(
                "COPY (SELECT sensor, ts, value, strftime(ts, '%Y-%m-%d') AS day, "
                f"sensor // {GROUP_SIZE} AS grp FROM readings WHERE ts < {CUTOFF} ORDER BY grp, sensor, ts) "
                f"TO '{_quoted(self.archive.root)}' (FORMAT parquet, PARTITION_BY (day, grp), COMPRESSION zstd, "
                f"OVERWRITE_OR_IGNORE true, FILENAME_PATTERN 'run-{run}-{{i}}')",
                [cutoff],
            )
            moved = self._roll_up(cutoff)
            self.con.execute(f"INSERT INTO archive_runs VALUES ({run}, {CUTOFF}, {moved})", [cutoff])
        self._archived_until = max(self._archived_until or 0.0, cutoff)
        return moved

    def _roll_up(self, cutoff: float) -> int:
        """Fold raw readings before ``cutoff`` into ``readings_hourly`` and delete them (in a transaction)."""
        self.con.execute(
            "INSERT INTO readings_hourly SELECT sensor, time_bucket(INTERVAL 1 HOUR, ts) AS hour, count(*), "
            f"min(value), max(value), avg(value) FROM readings WHERE ts < {CUTOFF} GROUP BY ALL "
            "ON CONFLICT DO UPDATE SET n = n + excluded.n, min = least(min, excluded.min), "
            "max = greatest(max, excluded.max), "
            "mean = (mean * n + excluded.mean * excluded.n) / (n + excluded.n)",
            [cutoff],
        )
        return int(_one(self.con.execute(f"DELETE FROM readings WHERE ts < {CUTOFF}", [cutoff]))[0])

    def hourly(self, sensors: list[str]) -> list[dict[str, Any]]:
        """The rolled-up hours of some sensors, oldest first (epoch seconds)."""
        rows = self._read(
            "SELECT s.id, epoch_ms(h.hour) / 1000.0, h.n, h.min, h.max, h.mean FROM readings_hourly h "
            "JOIN sensors s ON s.key = h.sensor WHERE list_contains($1, s.id) ORDER BY h.hour",
            [sensors],
        ).fetchall()
        return [dict(zip(("sensor", "hour", "n", "min", "max", "mean"), r, strict=True)) for r in rows]

    def count(self) -> int:
        return int(_one(self._read("SELECT count(*) FROM readings"))[0])

    def check(self) -> None:
        """A real query (a DuckDB instance can be unusable after a fatal error); raises if broken."""
        self._read("SELECT count(*) FROM (SELECT 1 FROM readings LIMIT 1)").fetchone()

    def _read(self, sql: str, params: list | None = None) -> duckdb.DuckDBPyConnection:
        cursor = self.con.cursor()
        return cursor.execute(sql, params) if params is not None else cursor.execute(sql)

    # -- alerts ---------------------------------------------------------------------------
    def save_alerts(self, alerts: list[Alert], events: list[Event]) -> None:
        """Upsert changed alerts and append their events, in one transaction."""
        if alerts or events:
            with self._transaction():
                self._write_alerts(alerts, events)

    def _write_alerts(self, alerts: list[Alert], events: list[Event]) -> None:
        if alerts:
            self._insert(
                "alerts",
                pa.table({c: [getattr(a, c) for a in alerts] for c in ALERT_COLUMNS}, schema=_alert_schema()),
                verb="INSERT OR REPLACE",
            )
        if events:
            self._insert(
                "alert_events",
                pa.table(
                    {
                        "alert": [e.alert for e in events],
                        "ts": [e.ts for e in events],
                        "event": [e.event for e in events],
                        "state": [e.state for e in events],
                        "level": pa.array([e.level for e in events], pa.int8()),
                        "note": [e.note for e in events],
                    },
                    schema=pa.schema(
                        [
                            ("alert", pa.int64()),
                            ("ts", pa.float64()),
                            ("event", pa.string()),
                            ("state", pa.string()),
                            ("level", pa.int8()),
                            ("note", pa.string()),
                        ]
                    ),
                ),
            )

    def alerts_at(self, t: float) -> list[dict[str, Any]]:
        """The alerts open at ``t`` with their state and level then (from their event history)."""
        rows = self._read(
            # events of one evaluation share a time: insertion order (rowid) breaks the tie
            "WITH last AS (SELECT alert, state, level, min(ts) OVER (PARTITION BY alert) AS opened, "
            "row_number() OVER (PARTITION BY alert ORDER BY ts DESC, rowid DESC) AS newest "
            "FROM alert_events WHERE ts <= $1) "
            "SELECT a.id, a.asset, a.rule, last.state, last.level, a.peak, last.opened, a.message, a.acked, "
            "a.acked_by, a.trigger_sensor, a.trigger_value, a.trigger_unit, a.trigger_ts "
            "FROM last JOIN alerts a ON a.id = last.alert WHERE last.newest = 1 "
            "AND last.state <> 'resolved' ORDER BY a.id",
            [t],
        ).fetchall()
        names = (
            "id",
            "asset",
            "rule",
            "state",
            "level",
            "peak",
            "opened",
            "message",
            "acked",
            "acked_by",
            "trigger_sensor",
            "trigger_value",
            "trigger_unit",
            "trigger_ts",
        )
        out = [dict(zip(names, r, strict=True)) for r in rows]
        for alert in out:  # acknowledged (or raised to its peak) later than t: not yet then
            alert["level"], alert["peak"] = NAMES[alert["level"]], NAMES[alert["peak"]]
            if alert["acked"] is not None and alert["acked"] > t:
                alert["acked"], alert["acked_by"] = None, ""
            if alert["trigger_ts"] is None or alert["trigger_ts"] > t:
                alert.update(trigger_sensor="", trigger_value=None, trigger_unit="", trigger_ts=None)
        return out

    def open_alerts(self) -> list[Alert]:
        rows = self._read(f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts WHERE state <> 'resolved'").fetchall()
        alerts = [Alert(**dict(zip(ALERT_COLUMNS, r))) for r in rows]
        for a in alerts:  # NULL text of a row written before the column
            a.trigger_sensor, a.trigger_unit = a.trigger_sensor or "", a.trigger_unit or ""
        return alerts

    def max_alert_id(self) -> int:
        return int(_one(self._read("SELECT coalesce(max(id), 0) FROM alerts"))[0])

    def alert_history(self, alert_id: int) -> list[dict[str, Any]]:
        rows = self._read(
            "SELECT ts, event, state, level, note FROM alert_events WHERE alert = $1 ORDER BY ts", [alert_id]
        ).fetchall()
        return [dict(zip(("ts", "event", "state", "level", "note"), r)) for r in rows]

    # -- tables of other parts of the risk side (incidents and plans: twin.risk.casefile) ----------
    def create(self, schema: str) -> None:
        """Create another part's tables (``CREATE TABLE IF NOT EXISTS ...``) in this store."""
        with self._lock:
            self.con.execute(schema)

    def append(self, writes: list[tuple[str, pa.Table, str]]) -> None:
        """Insert Arrow tables, each ``(table, rows, verb)``, in one transaction."""
        if writes:
            with self._transaction():
                for table, rows, verb in writes:
                    self._insert(table, rows, verb)

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """The rows of a read query (on its own cursor, so it never waits for the writer's lock)."""
        return self._read(sql, params).fetchall()


def _refuse_foreign(path: Path) -> None:
    """Refuse a path that is not (yet) a DuckDB store: a mistyped ``--store`` naming a CSV or a
    manifest must stop the start, never be renamed away or overwritten.

    A missing or empty file is a new store; anything else must carry DuckDB's magic bytes.
    """
    if not path.exists():
        return
    if not path.is_file():
        raise InputError(path, "the store is not a regular file", hint="give --store a new or existing .duckdb file")
    with path.open("rb") as f:
        head = f.read(len(DUCKDB_MAGIC) + DUCKDB_MAGIC_AT)
    if head and head[DUCKDB_MAGIC_AT:] != DUCKDB_MAGIC:
        raise InputError(
            path,
            "not a DuckDB store: this file is something else and is left alone",
            hint="give --store a new file name, or an existing .duckdb store",
        )


def _open(database: str) -> duckdb.DuckDBPyConnection:
    """A connection whose buffer cache is bounded: DuckDB's default (80 % of RAM) lets a server's
    memory grow with its store for as long as it runs."""
    return duckdb.connect(database, config={"memory_limit": MEMORY_LIMIT})


def _quoted(path: Path) -> str:
    """A path as a SQL string literal's content (COPY TO takes no parameter for its target)."""
    return str(path).replace("'", "''")


def _one(cursor: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """The single row of an aggregate query (DuckDB types ``fetchone`` as optional)."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("an aggregate query returned no row")
    return row


def _alert_schema() -> pa.Schema:
    types = {
        "id": pa.int64(),
        "level": pa.int8(),
        "peak": pa.int8(),
        "acked_level": pa.int8(),
        "flaps": pa.int32(),
        "flapping": pa.bool_(),
    }
    text = {"asset", "rule", "state", "message", "acked_by", "trigger_sensor", "trigger_unit"}
    return pa.schema([(c, types.get(c, pa.string() if c in text else pa.float64())) for c in ALERT_COLUMNS])
