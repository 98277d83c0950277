"""Multivariable rules: several sensors on or near one asset, combined with all / any / a weighted score.

The pairing of assets with the sensors near them is worked out once at start (a k-d tree over
the sensors' asset centres); each evaluation is then a handful of ``bincount`` calls per term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from twin.assets import AssetTable
from twin.risk.levels import LEVEL_DTYPE, NONE, highest_crossed
from twin.risk.rules import CombineRule, Term
from twin.risk.sensors import SensorTable
from twin.risk.static import RiskSources


@dataclass
class _Term:
    term: Term
    slot: np.ndarray  # pair -> position in the rule's asset list
    sensor: np.ndarray  # pair -> sensor row
    fixed: np.ndarray | None = None  # per asset truth of a risk-source term


class CombinedRule:
    """One multivariable rule bound to the assets it applies to."""

    def __init__(
        self, rule: CombineRule, assets: AssetTable, sensors: SensorTable, sources: RiskSources | None
    ) -> None:
        self.rule = rule
        centres = assets.centres
        if rule.kinds:
            rows = np.flatnonzero(np.isin(assets["kind"], np.array(rule.kinds, dtype=assets["kind"].dtype)))
        else:
            rows = np.unique(sensors.asset_index[sensors.asset_index >= 0])
        self.assets = rows
        self.terms = [self._bind(t, rows, centres, sensors, sources) for t in rule.terms]

    def _bind(
        self, term: Term, rows: np.ndarray, centres: np.ndarray, sensors: SensorTable, sources: RiskSources | None
    ) -> _Term:
        if term.risk_source is not None:
            fixed = sources.near(term.risk_source, term.within_m or 0.0)[rows] if sources else np.zeros(len(rows), bool)
            return _Term(term, np.empty(0, np.int64), np.empty(0, np.int64), fixed)
        mine = np.flatnonzero((sensors.quantity == term.quantity) & (sensors.asset_index >= 0))
        slot_of = {int(a): i for i, a in enumerate(rows)}
        pairs = [(slot_of[int(a)], int(s)) for s, a in zip(mine, sensors.asset_index[mine]) if int(a) in slot_of]
        where = centres[sensors.asset_index[mine], :2]
        ok = np.isfinite(where).all(axis=1)
        near = self.rule.near_m if term.within_m is None else term.within_m
        if near > 0 and ok.any() and len(rows):
            tree = cKDTree(where[ok])
            here = centres[rows, :2]
            valid = np.isfinite(here).all(axis=1)
            for slot in np.flatnonzero(valid).tolist():
                pairs += [(slot, int(mine[ok][j])) for j in tree.query_ball_point(here[slot], near)]
        pairs = sorted(set(pairs))
        arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        return _Term(term, arr[:, 0], arr[:, 1])

    def evaluate(self, value: np.ndarray, rate: np.ndarray, fresh: np.ndarray) -> np.ndarray:
        """Level per asset of the rule (NONE where it does not hold)."""
        m = len(self.assets)
        truths = []
        for t in self.terms:
            if t.fixed is not None:
                truths.append(t.fixed)
                continue
            op, x = t.term.op, t.term.value
            signal = rate if op.startswith("rate") else value
            with np.errstate(invalid="ignore"):
                cond = signal[t.sensor] > x if op.endswith("above") else signal[t.sensor] < x
            cond &= fresh[t.sensor]
            truths.append(np.bincount(t.slot, weights=cond, minlength=m) > 0)
        truth = np.array(truths).reshape(len(truths), m)
        if self.rule.mode == "all":
            return np.where(truth.all(axis=0), self.rule.level, NONE).astype(LEVEL_DTYPE)
        if self.rule.mode == "any":
            return np.where(truth.any(axis=0), self.rule.level, NONE).astype(LEVEL_DTYPE)
        weights = np.array([t.term.weight for t in self.terms])
        score = weights @ truth
        return highest_crossed(score[:, None] >= self.rule.levels[None, :]).astype(LEVEL_DTYPE)
