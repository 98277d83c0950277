"""Rate limits per sensor: a device reporting far faster than its declared period is throttled and flagged.

A stuck or misconfigured device can publish thousands of readings a second; unchecked, one sensor
fills the store and starves the rest of the feed.  Each sensor has a token bucket refilled at
``factor`` times its declared rate (``1 / period_s``) and holding ``burst_s`` seconds of its
declared readings.  Readings spread over their own time at no more than the limit cost nothing
(a gateway replaying a day it buffered during an outage, a replay compressed in time): a batch
may hold, per sensor, ``factor`` times the readings its span of timestamps calls for beyond the
bucket.  Readings past that are dropped (counted as ``rate_limited``) and the sensor is listed as
flooding until it has been quiet within its limit for ``burst_s``.  Vectorised over the batch.
"""

from __future__ import annotations

import numpy as np


class FloodGuard:
    """Token buckets for every sensor row; ``factor = 0`` admits everything."""

    def __init__(self, period_s: np.ndarray, factor: float, burst_s: float) -> None:
        period = np.where(np.asarray(period_s, float) > 0, period_s, 1.0)
        self.factor = factor
        self.rate = factor / period  # readings per second allowed, sustained
        self.capacity = np.maximum(burst_s / period, factor)
        self.tokens = self.capacity.copy()
        self.last = np.full(len(period), -np.inf)
        self.flagged_at = np.full(len(period), -np.inf)  # arrival time of the last dropped reading
        self.burst_s = burst_s
        self.dropped = 0

    def admit(self, sensor: np.ndarray, ts: np.ndarray, now: float) -> np.ndarray:
        """The mask of readings (sensor rows and epoch s, in arrival order) within their sensors' limits."""
        if not self.factor or not len(sensor):
            return np.ones(len(sensor), bool)
        order = np.argsort(sensor, kind="stable")
        rows, starts, counts = np.unique(sensor[order], return_index=True, return_counts=True)
        elapsed = np.minimum(now - self.last[rows], self.burst_s)
        self.tokens[rows] = np.minimum(self.capacity[rows], self.tokens[rows] + elapsed * self.rate[rows])
        self.last[rows] = now
        spread = np.maximum.reduceat(ts[order], starts) - np.minimum.reduceat(ts[order], starts)
        allowed = np.floor(self.tokens[rows] + spread * self.rate[rows])
        rank = np.empty(len(sensor), np.int64)
        rank[order] = np.arange(len(sensor)) - np.repeat(starts, counts)  # n-th reading of its sensor here
        keep = rank < np.repeat(allowed, counts)[np.argsort(order)]
        kept = np.minimum(counts, allowed)
        self.tokens[rows] = np.maximum(self.tokens[rows] - np.maximum(kept - spread * self.rate[rows], 0), 0)
        over = rows[kept < counts]
        self.flagged_at[over] = now
        self.dropped += int(len(sensor) - keep.sum())
        return keep

    def flooding(self, now: float) -> np.ndarray:
        """Sensor rows throttled within the last ``burst_s``."""
        return np.flatnonzero(now - self.flagged_at < max(self.burst_s, 1.0))
