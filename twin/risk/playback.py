"""Levels and alerts as they were: read back from the history the live service keeps in its store.

The live service records every asset's level when it starts and every change after that, each
at the moment it happened (``levels`` table), and every alert's events (``alert_events``).  So a
replay shows exactly what the screens showed then, and a seek anywhere in a day or a week of
history is one query, whatever the feed's rate.  The live service is only read from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twin.risk.levels import NAMES, NODATA


class Replay:
    """The risk state at any time ``t`` in ``[start, end]`` (epoch seconds) of a live service's store."""

    def __init__(self, live: Any, start: float, end: float) -> None:
        if not end > start:
            raise ValueError("a replay window needs end > start")
        self.live, self.start, self.end = live, float(start), float(end)
        keys = np.asarray(live.asset_keys, dtype=np.int64)
        self._row_of_key = np.full(int(keys.max(initial=-1)) + 1, -1, dtype=np.int64)
        self._row_of_key[keys] = np.arange(len(keys))
        self.now = self.start
        self.levels = self.seek(self.start)

    def seek(self, t: float) -> np.ndarray:
        """Move to time ``t`` (clamped to the window) and return the level of every asset then.

        An asset with no recorded level yet at ``t`` (before the service first ran) is "no data".
        """
        self.now = min(max(float(t), self.start), self.end)
        keys, levels = self.live.store.levels_at(self.now)
        known = keys < len(self._row_of_key)
        rows = np.full(len(keys), -1, dtype=np.int64)
        rows[known] = self._row_of_key[keys[known]]
        mine = rows >= 0  # keys of assets this scene no longer has are left out
        out = np.full(len(self.live.asset_keys), NODATA, dtype=np.int8)
        out[rows[mine]] = levels[mine]
        self.levels = out
        return out

    def snapshot(self) -> dict[str, Any]:
        """What the replay shows at its current time: counts per level and the alerts open then."""
        counts = np.bincount(self.levels, minlength=len(NAMES))
        alerts = self.live.store.alerts_at(self.now)
        return {
            "t": self.now,
            "summary": {"levels": {NAMES[i]: int(c) for i, c in enumerate(counts)}, "alerts": {"active": len(alerts)}},
            "alerts": alerts,
        }
