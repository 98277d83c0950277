"""Levels and alerts as they were: read back from the history the live service keeps in its store.

The live service records every asset's level when it starts and every change after that, each
at the moment it happened (``levels`` table), and every alert's events (``alert_events``).  So a
playback shows exactly what the screens showed then, and a seek anywhere in a day or a week of
history is one query, whatever the feed's rate.  The history is only read from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twin.risk.history import History
from twin.risk.levels import NAMES


class Playback:
    """The risk state at any time ``t`` in ``[start, end]`` (epoch seconds) of a live service's history."""

    def __init__(self, history: History, start: float, end: float) -> None:
        if not end > start:
            raise ValueError("a playback window needs end > start")
        self.history, self.start, self.end = history, float(start), float(end)
        self.now = self.start
        self.levels = self.seek(self.start)

    def seek(self, t: float) -> np.ndarray:
        """Move to time ``t`` (clamped to the window) and return the level of every asset then.

        An asset with no recorded level yet at ``t`` (before the service first ran) is "no data".
        """
        self.now = min(max(float(t), self.start), self.end)
        self.levels = self.history.levels_at(self.now)
        return self.levels

    def snapshot(self) -> dict[str, Any]:
        """What the playback shows at its current time: counts per level and the alerts open then."""
        counts = np.bincount(self.levels, minlength=len(NAMES))
        alerts = self.history.alerts_at(self.now)
        return {
            "t": self.now,
            "summary": {"levels": {NAMES[i]: int(c) for i, c in enumerate(counts)}, "alerts": {"active": len(alerts)}},
            "alerts": alerts,
        }
