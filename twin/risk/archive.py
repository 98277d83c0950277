"""The archive of raw readings: partitioned Parquet beside the store, which DuckDB queries in place.

At city scale the raw table cannot stay in the embedded file: 85,000 sensors at 1 Hz are 7.3
billion readings a day.  Whole days older than a window (``[ingest] archive_after_s``, default
24 h) move out of the store's ``readings`` table into files laid out as::

    <store>.archive/day=YYYY-MM-DD/grp=G/run-<n>-<i>.parquet      G = sensor key // GROUP_SIZE

sorted by sensor and time inside each file (so DuckDB skips row groups by their statistics) and
compressed with zstd.  A query names the files of the days and groups it needs, never the whole
tree, so its cost follows what it reads, not how much is kept.  Each move is a numbered run
recorded in the store: files are written first and the raw rows deleted (and rolled up hourly)
after, in one transaction; a run that died between the two has its files removed and is redone,
so no reading is archived twice or lost.
"""

from __future__ import annotations

import math
import shutil
from datetime import UTC, datetime
from pathlib import Path

GROUP_SIZE = 1024  #: sensors per partition group (by their stable integer key)
DAY_S = 86400.0
LAST_S = 253_402_300_799.0  # the last second of the year 9999


class Archive:
    """The folder of one store's archived days; knows its layout, not the store."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def files(self, since: float | None, until: float | None, groups: list[int] | None = None) -> list[str]:
        """The Parquet files of the days between ``since`` and ``until`` (epoch s; None: open) and
        of some sensor groups (None: all), as existing paths (DuckDB reads exactly these)."""
        if not self.root.is_dir():
            return []
        days = sorted(p for p in self.root.glob("day=*") if p.is_dir() and _within(p.name[4:], since, until))
        out: list[str] = []
        for day in days:
            folders = [day / f"grp={g}" for g in groups] if groups is not None else sorted(day.glob("grp=*"))
            for folder in folders:
                out.extend(str(f) for f in sorted(folder.glob("*.parquet")))
        return out

    def remove_run(self, run: int) -> None:
        """Remove the files of an unfinished run (it is redone from the rows still in the store)."""
        for f in self.root.glob(f"day=*/grp=*/run-{run}-*.parquet"):
            f.unlink()

    def drop_before(self, before: float) -> int:
        """Remove whole days older than ``before`` (epoch s): raw readings past ``keep_days``; returns days removed."""
        if not self.root.is_dir():
            return 0
        cutoff = day_name(before)
        old = [p for p in self.root.glob("day=*") if p.is_dir() and p.name[4:] < cutoff]
        for p in old:
            shutil.rmtree(p)
        return len(old)

    def size(self) -> int:
        """Bytes of Parquet kept (the benchmark's bytes per stored reading)."""
        return sum(f.stat().st_size for f in self.root.glob("day=*/grp=*/*.parquet"))


def day_name(t: float) -> str:
    """``YYYY-MM-DD`` (UTC) of epoch seconds, clamped to the years a path can name."""
    return datetime.fromtimestamp(min(max(t, 0.0), LAST_S), tz=UTC).strftime("%Y-%m-%d")


def day_start(t: float) -> float:
    """Epoch seconds of the UTC midnight at or before ``t``: moves take whole days."""
    return math.floor(t / DAY_S) * DAY_S


def _within(day: str, since: float | None, until: float | None) -> bool:
    return (since is None or day >= day_name(since)) and (until is None or day <= day_name(until))
