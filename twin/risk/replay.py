"""Levels and alerts as they were: the stored readings re-evaluated by a separate engine on a fake clock.

A :class:`Replay` builds its own :class:`~twin.risk.service.RiskService` (same assets, sensors,
rules and static layers as the live one, an in-memory store, a clock it sets itself) and feeds
it the live store's readings in time order, in steps of at most ``step_s`` so minimum durations
and staleness play out as they did.  The live service is only read from.  Moving forward feeds
the readings since the last position; moving back starts again from the window's start.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from twin.store import Store

#: readings this long before the window's start are fed first, so sensors are not "no data" at t0
LOOKBACK_S = 600.0


class Replay:
    """The risk state at any time ``t`` in ``[start, end]`` (epoch seconds) of a live service's store."""

    def __init__(self, live: Any, start: float, end: float, step_s: float = 5.0) -> None:
        if not end > start:
            raise ValueError("a replay window needs end > start")
        self.live, self.start, self.end, self.step_s = live, float(start), float(end), float(step_s)
        self.now = self.start
        self.service = None
        self._reset()

    def _clock(self) -> float:
        return self.now

    def _reset(self) -> None:
        from twin.risk.service import RiskService

        live = self.live
        if self.service is not None:
            self.service.store.close()
        self.now = self.start - LOOKBACK_S
        self.service = RiskService(live.assets, live.sensors, live.rules, Store(None), clock=self._clock,
                                   neighbours=live.propagator.neighbours, risk_sources=live.sources.features,
                                   grids=live.grids.features)
        self._feed(self.start)

    def seek(self, t: float) -> np.ndarray:
        """Move to time ``t`` (clamped to the window) and return the level of every asset then."""
        t = min(max(float(t), self.start), self.end)
        if t < self.now:
            self._reset()
        self._feed(t)
        return self.service.levels()

    def _feed(self, t: float) -> None:
        """Feed the stored readings up to ``t`` in steps, ticking the fake clock after each."""
        while self.now < t:
            step_end = min(t, self.now + self.step_s)
            table = self.live.store.readings_between(self.now, step_end)
            self.now = step_end
            if table.num_rows:
                self.service.ingest(pa.table({"sensor": table["sensor"], "ts": table["ts"],
                                              "value": table["value"]}))
            self.service.tick()

    def snapshot(self) -> dict[str, Any]:
        """What the replay shows at its current time: summary and the alerts open then."""
        return {"t": self.now, "summary": self.service.summary(), "alerts": self.service.alerts()}

    def close(self) -> None:
        if self.service is not None:
            self.service.store.close()
