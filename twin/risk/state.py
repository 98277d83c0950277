"""What the live risk knows now: each sensor's latest reading and graded level, each asset's level,
its causes and since when.

Pure numpy, no lock, no store, no thread: :class:`~twin.risk.service.RiskService` serialises the
calls and persists what changed.  Kept apart from the service so the state can be read (by
:mod:`twin.risk.describe`, by the alert keys) without reaching into the runtime that owns it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from twin.assets import AssetTable
from twin.risk.combine import Causes, CombinedRule
from twin.risk.engine import SensorEngine
from twin.risk.external import ExternalLevels
from twin.risk.levels import LEVEL_DTYPE, NAMES
from twin.risk.propagation import Propagator
from twin.risk.rules import RuleSet
from twin.risk.sensors import SensorTable
from twin.risk.static import Feature, Grids, RiskSources


class RiskState:
    """The engine state of one twin's live risk: per sensor and per asset.

    Parameters
    ----------
    assets
        The twin's asset table; :attr:`levels` has one entry per row.
    clock
        Epoch seconds (the engine's default time of an evaluation).
    neighbours
        ``asset_id -> [asset_id]``: the other segments of a pipe segment's isolation section.
    """

    def __init__(
        self,
        assets: AssetTable,
        sensors: SensorTable,
        rules: RuleSet,
        clock: Callable[[], float],
        *,
        neighbours: Callable[[str], list[str]] | None = None,
        risk_sources: list[Feature] | None = None,
        grids: list[Feature] | None = None,
    ) -> None:
        self.assets, self.sensors, self.rules = assets, sensors, rules
        n = len(assets)
        all_kinds = assets["kind"].tolist()
        kinds = np.array([all_kinds[a] if a >= 0 else "" for a in sensors.asset_index.tolist()], dtype=object)
        self.engine = SensorEngine(sensors, rules, kinds, clock)
        self.sources = RiskSources(risk_sources or [], assets.centres)
        self.grids = Grids(grids or [], assets.centres)
        self.combines = [CombinedRule(r, assets, sensors, self.sources) for r in rules.combines]
        self.propagator = Propagator(assets, rules.propagation, neighbours)
        self.causes = Causes(n, sensors.asset_index, self.combines, self.sources, self.propagator)
        self.external = ExternalLevels(n)  # levels forecast by other models (a flood nowcast)
        self.levels = np.zeros(n, LEVEL_DTYPE)  # int8 per asset row (twin.risk.levels)
        self.since = np.full(n, clock())  # epoch seconds each asset has had its level

    def seed(self, names: list[str], ts: np.ndarray, value: np.ndarray, now: float) -> None:
        """Take the latest stored reading per sensor at the level it calls for (a restart does not
        start grey, nor wait again for minimum durations)."""
        idx = self.sensors.lookup(names)
        ok = idx >= 0
        self.engine.apply(idx[ok], ts[ok], value[ok], now)
        self.engine.settle(now)

    def apply(self, sensor: np.ndarray, ts: np.ndarray, value: np.ndarray, arrival: float) -> np.ndarray:
        """Take accepted readings (sensor rows) that arrived at ``arrival`` (epoch s); return the
        sensors whose current value changed."""
        return self.engine.apply(sensor, ts, value, arrival)

    def evaluate(self, touched: np.ndarray | None, now: float) -> np.ndarray:
        """Re-grade sensors (``touched`` or all) and re-combine asset levels; return the asset rows
        whose level changed."""
        self.engine.evaluate(slice(None) if touched is None else touched, now)
        final = np.maximum(self.causes.combine_levels(self.engine), self.external.level)
        changed = np.flatnonzero(final != self.levels)
        self.levels = final
        self.since[changed] = now
        return changed

    def last_reading(self) -> float | None:
        """Epoch seconds of the newest reading of any sensor (None before any)."""
        last = self.engine.last_ts[np.isfinite(self.engine.last_ts)]
        return float(last.max()) if len(last) else None

    def last_values(self) -> np.ndarray:
        """The latest value of every sensor (NaN where none); a copy safe to keep."""
        return self.engine.last_value.copy()

    def counts(self) -> dict[str, Any]:
        """Assets per level and sensors online, stale and never heard from."""
        counts = np.bincount(self.levels, minlength=len(NAMES))
        seen = np.isfinite(self.engine.last_ts)
        stale = self.engine.stale
        return {
            "levels": {NAMES[i]: int(c) for i, c in enumerate(counts)},
            "sensors": {
                "total": len(self.sensors),
                "online": int((~stale).sum()),
                "stale": int((stale & seen).sum()),
                "never_reported": int((~seen).sum()),
            },
        }

    def grid_levels(self, levels: np.ndarray) -> list[dict[str, Any]]:
        """Each management grid cell's level from the asset ``levels`` given."""
        cells = self.grids.levels(levels)
        return [{"id": f.id, "name": f.name, "level": NAMES[int(lv)]} for f, lv in zip(self.grids.features, cells)]
