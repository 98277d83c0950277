"""How an asset's level is combined: from its own sensors, the multivariable rules, the static risk
sources and propagation, the highest cause wins (:class:`Causes`).

A multivariable rule (:class:`CombinedRule`) combines several sensors on or near one asset with
all / any / a weighted score.  The pairing of assets with the sensors near them is worked out once
at start (a k-d tree over the sensors' asset centres); each evaluation is then a handful of
``bincount`` calls per term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from twin.assets import AssetTable
from twin.risk.engine import SensorEngine
from twin.risk.levels import LEVEL_DTYPE, NONE, highest_crossed
from twin.risk.propagation import Propagator
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


class Causes:
    """Each asset's level from each kind of cause, and the asset's level: the highest of them.

    Kept per cause, not only combined, because the inspector and the alerts say *why* an asset
    has its level (:mod:`twin.risk.describe`): which sensor, which multivariable rule, which
    static risk source, or which pipe it was propagated from.

    Attributes
    ----------
    sensor
        Highest effective level of the asset's own sensors.
    combine, combine_rule
        Highest level of the multivariable rules, and the index of the rule that gave it (-1: none).
    combine_slots
        Per multivariable rule, its level on each of the assets it applies to (the alert keys').
    prop, prop_src, prop_how
        Propagated level, the asset row it came from (-1: none) and how (:data:`~twin.risk.propagation.HOW`).
    """

    def __init__(
        self,
        n_assets: int,
        sensor_asset: np.ndarray,
        rules: list[CombinedRule],
        sources: RiskSources,
        propagator: Propagator,
    ) -> None:
        self.sensor_asset, self.rules, self.sources, self.propagator = sensor_asset, rules, sources, propagator
        z = np.zeros(n_assets, LEVEL_DTYPE)
        self.sensor, self.combine, self.prop, self.prop_how = z, z.copy(), z.copy(), z.copy()
        self.combine_rule, self.prop_src = np.full(n_assets, -1), np.full(n_assets, -1)
        self.combine_slots = [np.zeros(0, LEVEL_DTYPE)] * len(rules)

    def combine_levels(self, engine: SensorEngine) -> np.ndarray:
        """Re-combine every asset's level from the engine's current sensor state."""
        ai = self.sensor_asset
        self.sensor = np.zeros(len(self.sensor), LEVEL_DTYPE)
        ok = ai >= 0
        np.maximum.at(self.sensor, ai[ok], engine.levels()[ok])
        self.combine = np.zeros_like(self.sensor)
        self.combine_rule = np.full(len(self.sensor), -1)
        fresh = ~engine.stale
        for r, rule in enumerate(self.rules):
            slots = rule.evaluate(engine.last_value, engine.rate, fresh)
            self.combine_slots[r] = slots
            up = slots > self.combine[rule.assets]
            self.combine[rule.assets[up]] = slots[up]
            self.combine_rule[rule.assets[up]] = r
        direct = np.maximum(np.maximum(self.sensor, self.combine), self.sources.asset_level)
        self.prop, self.prop_src, self.prop_how = self.propagator.apply(direct)
        return np.maximum(direct, self.prop)
