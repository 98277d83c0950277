"""Propagation: a risk on a pipe segment raises nearby buildings and its isolation section.

The pipe networks are not needed here, only two small things injected by the caller: the asset
centres/bounds (for "buildings within R metres") and a ``neighbours(asset_id) -> [asset_id]``
callable that returns the other segments of a segment's valve-isolation section.  Both lookups
are made lazily, only for segments that carry a risk, and cached.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial import cKDTree

from twin.assets import AssetTable
from twin.risk.levels import BLUE, LEVEL_DTYPE, lower
from twin.risk.rules import Propagation

NEAR, SECTION = 1, 2
HOW = {NEAR: "within {r:g} m of", SECTION: "in the isolation section of"}


class Propagator:
    def __init__(
        self, assets: AssetTable, policy: Propagation, neighbours: Callable[[str], list[str]] | None = None
    ) -> None:
        self.assets, self.policy, self.neighbours = assets, policy, neighbours
        kinds = assets["kind"]
        self.is_source = (
            np.isin(kinds, np.array(policy.from_kinds, dtype=kinds.dtype)) if len(kinds) else np.zeros(0, bool)
        )
        self.targets = (
            np.flatnonzero(np.isin(kinds, np.array(policy.to_kinds, dtype=kinds.dtype)))
            if len(kinds)
            else np.zeros(0, np.int64)
        )
        b = assets.bounds
        ok = np.isfinite(b[self.targets, :4]).all(axis=1)
        self.targets = self.targets[ok]
        tb = b[self.targets]
        self._tree = (
            cKDTree(np.column_stack([(tb[:, 0] + tb[:, 1]) / 2, (tb[:, 2] + tb[:, 3]) / 2])) if len(tb) else None
        )
        self._target_reach = float(np.hypot(tb[:, 1] - tb[:, 0], tb[:, 3] - tb[:, 2]).max() / 2) if len(tb) else 0.0
        self._near: dict[int, np.ndarray] = {}
        self._section: dict[int, np.ndarray] = {}

    def near(self, src: int) -> np.ndarray:
        """Target assets whose footprint box lies within R of the segment's box (cached)."""
        if src not in self._near:
            b = self.assets.bounds[src]
            if self._tree is None or not np.isfinite(b[:4]).all():
                self._near[src] = np.empty(0, np.int64)
            else:
                r = self.policy.within_m
                reach = r + np.hypot(b[1] - b[0], b[3] - b[2]) / 2 + self._target_reach
                cand = self.targets[
                    np.asarray(
                        self._tree.query_ball_point([(b[0] + b[1]) / 2, (b[2] + b[3]) / 2], reach), dtype=np.int64
                    )
                ]
                tb = self.assets.bounds[cand]
                gx = np.maximum(0, np.maximum(tb[:, 0] - b[1], b[0] - tb[:, 1]))
                gy = np.maximum(0, np.maximum(tb[:, 2] - b[3], b[2] - tb[:, 3]))
                self._near[src] = np.sort(cand[np.hypot(gx, gy) <= r])
        return self._near[src]

    def section(self, src: int) -> np.ndarray:
        """Other segments of the isolation section (cached); empty without a neighbours function."""
        if src not in self._section:
            rows: list[int] = []
            if self.neighbours is not None and self.policy.section:
                for other in self.neighbours(str(self.assets["id"][src])):
                    i = self.assets.index_of(other)
                    if i is not None and i != src:
                        rows.append(i)
            self._section[src] = np.array(sorted(set(rows)), dtype=np.int64)
        return self._section[src]

    def apply(self, direct: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Propagated level, source asset and how (NEAR / SECTION) per asset, from direct levels.

        Propagation starts only from direct levels, so it never chains.
        """
        n = len(direct)
        level, source, how = np.zeros(n, LEVEL_DTYPE), np.full(n, -1, np.int64), np.zeros(n, np.int8)
        risky = np.flatnonzero(self.is_source & (direct >= BLUE))
        if not len(risky) or self.policy.steps < 0:
            return level, source, how
        tgt, lvl, src, kind = [], [], [], []
        for s in risky.tolist():
            down = int(lower(direct[s : s + 1], self.policy.steps)[0])
            for rows, k in ((self.near(s), NEAR), (self.section(s), SECTION)):
                if len(rows) and down >= BLUE:
                    tgt.append(rows)
                    lvl.append(np.full(len(rows), down))
                    src.append(np.full(len(rows), s))
                    kind.append(np.full(len(rows), k))
        if not tgt:
            return level, source, how
        targets, levels, sources, kinds = (np.concatenate(x) for x in (tgt, lvl, src, kind))
        order = np.lexsort((-levels, targets))  # per target, the highest propagated level first
        targets, levels, sources, kinds = targets[order], levels[order], sources[order], kinds[order]
        first = np.r_[True, targets[1:] != targets[:-1]]
        at = targets[first]
        level[at], source[at], how[at] = levels[first], sources[first], kinds[first]
        return level, source, how
