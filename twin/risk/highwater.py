"""Which readings of a batch are new, without an index: each sensor's newest stored reading.

A reading is a duplicate iff its (sensor, ts) is stored already.  A live feed is nearly always
in order, so keeping, per sensor key, the time and value of its newest stored reading (its
*high-water mark*) settles almost every reading in memory: one newer than its mark is new, one
at its mark is a repeat (a redelivered message) whose value can be compared at once.  Only a
reading older than its mark, a straggler, needs a look at the store.  This replaces a
primary-key index on the readings table, which cost more than the rest of ingest together.

Pure numpy; :class:`~twin.risk.store.Store` owns one, seeds it from the table once and moves it
on after every commit.
"""

from __future__ import annotations

import numpy as np

NO_MARK = np.iinfo(np.int64).min  #: a sensor with nothing stored: every reading is newer


def in_order(sensor: np.ndarray, ts_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the order that sorts readings by sensor, then time, then arrival; the mask, in that
    order, of the readings repeating the one before: a later arrival of the same (sensor, ts)).

    A batch put in this order once makes every later sort of it (rate limits, the engine's
    newest per sensor, the marks) a pass over runs already sorted.
    """
    order = np.lexsort((ts_ms, sensor))  # stable: the first of equal keys comes first
    s, t = sensor[order], ts_ms[order]
    repeat = np.zeros(len(order), bool)
    repeat[1:] = (s[1:] == s[:-1]) & (t[1:] == t[:-1])
    return order, repeat


def repeated(sensor: np.ndarray, ts_ms: np.ndarray) -> np.ndarray:
    """Mask of the readings repeating an earlier reading's (sensor, ts) in the same batch."""
    order, repeat = in_order(sensor, ts_ms)
    out = np.zeros(len(sensor), bool)
    out[order[repeat]] = True
    return out


def differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a IS DISTINCT FROM b`` for values: NaN equals NaN, as DuckDB compares them."""
    return ~((a == b) | (np.isnan(a) & np.isnan(b)))


class HighWater:
    """Per sensor key, the time (epoch ms) and value of its newest stored reading."""

    def __init__(self, keys: np.ndarray, ts_ms: np.ndarray, value: np.ndarray) -> None:
        size = int(keys.max(initial=-1)) + 1
        self.ts = np.full(size, NO_MARK, np.int64)
        self.value = np.full(size, np.nan)
        self.ts[keys], self.value[keys] = ts_ms, value

    def classify(self, sensor: np.ndarray, ts_ms: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """(newer than the mark: not stored; older: to look up in the store; how many at the
        mark differ in value).  A reading at its mark is a duplicate: in neither mask."""
        self._cover(int(sensor.max(initial=-1)) + 1)
        mark = self.ts[sensor]
        at = ts_ms == mark
        conflicts = int(differ(value[at], self.value[sensor[at]]).sum()) if at.any() else 0
        return ts_ms > mark, ts_ms < mark, conflicts

    def advance(self, sensor: np.ndarray, ts_ms: np.ndarray, value: np.ndarray) -> None:
        """Take readings just committed: each sensor's newest becomes its mark if newer."""
        if not len(sensor):
            return
        self._cover(int(sensor.max()) + 1)
        order = np.lexsort((ts_ms, sensor))
        s, t, v = sensor[order], ts_ms[order], value[order]
        last = np.r_[s[1:] != s[:-1], True]
        s, t, v = s[last], t[last], v[last]
        newer = t > self.ts[s]
        self.ts[s[newer]], self.value[s[newer]] = t[newer], v[newer]

    def known(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sensor keys with a reading stored, their newest time in epoch ms, its value)."""
        keys = np.flatnonzero(self.ts != NO_MARK)
        return keys, self.ts[keys], self.value[keys]

    def _cover(self, size: int) -> None:
        """Room for keys below ``size`` (sensors registered after the marks were read)."""
        if size > len(self.ts):
            grow = size - len(self.ts)
            self.ts = np.r_[self.ts, np.full(grow, NO_MARK, np.int64)]
            self.value = np.r_[self.value, np.full(grow, np.nan)]
