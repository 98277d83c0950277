"""The rules file (TOML): thresholds, rates of change, multivariable rules, propagation, alerts.

Parsed and validated in full at start; a mistake is an :class:`~twin.errors.InputError` naming
the file, the entry (``threshold[2].red``) and the problem.  The format is documented in the
README ("Rules file"); unknown keys are errors so a typo never silently disables a rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from twin.errors import InputError
from twin.risk.levels import CODES, COLOURS, RED
from twin.tomltables import TableReader, read_toml

COMMON = {"name", "quantity", "asset_kind", "hysteresis", "for_s", "clear_s", *COLOURS}
THRESHOLD_KEYS = COMMON | {"direction"}
RATE_KEYS = COMMON | {"direction", "window_s"}
COMBINE_KEYS = {"name", "asset_kind", "near_m", "mode", "level", "levels", "term"}
TERM_KEYS = {"quantity", "above", "below", "rate_above", "rate_below", "risk_source", "within_m", "weight"}
PROPAGATION_KEYS = {"from_kinds", "to_kinds", "within_m", "steps", "section"}
ALERT_KEYS = {"min_level", "keep_firing_s", "flap_window_s", "flap_max"}
INGEST_KEYS = {
    "stale_factor",
    "max_age_s",
    "max_future_s",
    "stall_s",
    "keep_days",
    "archive_after_s",
    "flood_factor",
    "flood_burst_s",
}
TOP_KEYS = {"threshold", "rate", "combine", "propagation", "alerts", "ingest"}


@dataclass
class LevelRule:
    """A graded rule on one signal of a sensor: its value (``threshold``) or its rate (``rate``).

    ``enter`` holds the value that enters blue, yellow, orange, red (NaN where the rule has no
    such level); a rate rule's values are in units per minute, signed (falling is negative).
    """

    name: str
    signal: str  # "value" or "rate"
    quantity: str
    kinds: tuple[str, ...]
    direction: str  # "above" or "below"
    enter: np.ndarray
    hysteresis: float = 0.0
    for_s: float = 0.0
    clear_s: float = 0.0
    window_s: float = 60.0

    def applies(self, quantity: str, kind: str) -> bool:
        return quantity == self.quantity and (not self.kinds or kind in self.kinds)


@dataclass
class Term:
    """One condition of a multivariable rule."""

    quantity: str | None = None
    op: str = "above"  # above, below, rate_above, rate_below, risk_source
    value: float = math.nan
    risk_source: str | None = None
    within_m: float | None = None  # sensors: this far from the asset (None: the rule's near_m)
    weight: float = 1.0


@dataclass
class CombineRule:
    """Several sensors on or near one asset: all / any of the terms, or a weighted score."""

    name: str
    kinds: tuple[str, ...]
    near_m: float
    mode: str  # all, any, score
    terms: list[Term]
    level: int = RED
    levels: np.ndarray = field(default_factory=lambda: np.full(4, np.nan))


@dataclass
class Propagation:
    from_kinds: tuple[str, ...] = ("pipe", "Pipe", "pipe_segment")
    to_kinds: tuple[str, ...] = ("Building", "building")
    within_m: float = 30.0
    steps: int = 1
    section: bool = True


@dataclass
class AlertPolicy:
    min_level: int = CODES["blue"]
    keep_firing_s: float = 60.0
    flap_window_s: float = 600.0
    flap_max: int = 3


@dataclass
class RuleSet:
    rules: list[LevelRule] = field(default_factory=list)
    combines: list[CombineRule] = field(default_factory=list)
    propagation: Propagation = field(default_factory=Propagation)
    alerts: AlertPolicy = field(default_factory=AlertPolicy)
    stale_factor: float = 3.0
    max_age_s: float = 7 * 86400.0
    max_future_s: float = 600.0
    stall_s: float = 10.0
    keep_days: float = 90.0  # raw readings older than this are rolled up hourly; 0 keeps them all
    #: whole days of raw readings older than this move to the Parquet archive (a store file only; 0: never)
    archive_after_s: float = 86400.0
    flood_factor: float = 10.0  # a sensor may report this many times its declared rate (0: no limit)
    flood_burst_s: float = 3600.0  # ... with bursts of this many seconds of its declared readings
    path: Path | None = None

    def match(self, signal: str, quantity: str, kind: str) -> int:
        """Index of the rule for a sensor's signal: one naming the asset kind beats a generic one."""
        best, best_score = -1, -1
        for i, rule in enumerate(self.rules):
            if rule.signal == signal and rule.applies(quantity, kind):
                score = 1 if rule.kinds else 0
                if score > best_score:
                    best, best_score = i, score
        return best


class _Reader(TableReader):
    """Reads the rules file's tables, raising InputError with the key path."""

    def tables(self, data: dict, key: str, allowed: set[str]) -> list[tuple[str, dict]]:
        items = data.get(key, [])
        if not isinstance(items, list):
            raise self.fail(key, f"must be an array of tables ([[{key}]])")
        return [(f"{key}[{i}]", self.table(t, f"{key}[{i}]", allowed)) for i, t in enumerate(items)]

    def number(self, value: Any, where: str, low: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(where, f"must be a finite number, not {value!r}")
        if low is not None and value < low:
            raise self.fail(where, f"must be at least {low:g}, not {value}")
        return float(value)

    def text(self, value: Any, where: str, choices: tuple[str, ...] | None = None) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"must be a non-empty string, not {value!r}")
        if choices and value not in choices:
            raise self.fail(where, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def kinds(self, value: Any, where: str) -> tuple[str, ...]:
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise self.fail(where, "must be a string or a list of strings")
        return tuple(self.text(v, f"{where}[{i}]") for i, v in enumerate(items))

    def level(self, value: Any, where: str) -> int:
        return CODES[self.text(value, where, COLOURS)]


def read_rules(path: Path) -> RuleSet:
    """Read and validate a rules file."""
    path = Path(path)
    data = read_toml(path, "rules")
    return parse_rules(data, path)


def parse_rules(data: dict[str, Any], path: Path | None = None) -> RuleSet:
    """Validate a parsed rules document (also used by tests with inline dicts)."""
    r = _Reader(path)
    r.table(data, "", TOP_KEYS)
    rules = [_level_rule(r, t, w, "value") for w, t in r.tables(data, "threshold", THRESHOLD_KEYS)]
    rules += [_level_rule(r, t, w, "rate") for w, t in r.tables(data, "rate", RATE_KEYS)]
    names = [rule.name for rule in rules]
    combines = [_combine(r, t, w) for w, t in r.tables(data, "combine", COMBINE_KEYS)]
    names += [c.name for c in combines]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise InputError(path, f"two rules are named {duplicate!r}; rule names must be unique")
    ingest = r.table(data.get("ingest", {}), "ingest", INGEST_KEYS)
    return RuleSet(
        rules=rules,
        combines=combines,
        propagation=_propagation(r, r.table(data.get("propagation", {}), "propagation", PROPAGATION_KEYS)),
        alerts=_alerts(r, r.table(data.get("alerts", {}), "alerts", ALERT_KEYS)),
        stale_factor=r.number(ingest.get("stale_factor", 3.0), "ingest.stale_factor", 1.0),
        max_age_s=r.number(ingest.get("max_age_s", 7 * 86400.0), "ingest.max_age_s", 1.0),
        max_future_s=r.number(ingest.get("max_future_s", 600.0), "ingest.max_future_s", 0.0),
        stall_s=r.number(ingest.get("stall_s", 10.0), "ingest.stall_s", 1.0),
        keep_days=_keep_days(r, ingest),
        archive_after_s=r.number(ingest.get("archive_after_s", 86400.0), "ingest.archive_after_s", 0.0),
        flood_factor=r.number(ingest.get("flood_factor", 10.0), "ingest.flood_factor", 0.0),
        flood_burst_s=r.number(ingest.get("flood_burst_s", 3600.0), "ingest.flood_burst_s", 0.0),
        path=path,
    )


def _keep_days(r: _Reader, ingest: dict) -> float:
    """0 keeps every reading; otherwise longer than readings may arrive late (``max_age_s``), so
    an hour already rolled up never gets a straggler."""
    keep = r.number(ingest.get("keep_days", 90.0), "ingest.keep_days", 0.0)
    max_age = ingest.get("max_age_s", 7 * 86400.0)
    if keep and isinstance(max_age, (int, float)) and keep * 86400 <= max_age:
        raise r.fail("ingest.keep_days", f"must be longer than max_age_s ({max_age:g} s) or 0, not {keep:g} days")
    return keep


def _level_rule(r: _Reader, t: dict, where: str, signal: str) -> LevelRule:
    for key in ("name", "quantity"):
        if key not in t:
            raise r.fail(f"{where}.{key}", "missing")
    if signal == "value":
        direction = r.text(t.get("direction", "above"), f"{where}.direction", ("above", "below"))
    else:
        trend = r.text(t.get("direction", "falling"), f"{where}.direction", ("falling", "rising"))
        direction = "below" if trend == "falling" else "above"
    enter = np.full(4, np.nan)
    for i, colour in enumerate(COLOURS):
        if colour in t:
            value = r.number(t[colour], f"{where}.{colour}")
            if signal == "rate":
                value = -abs(value) if direction == "below" else abs(value)
            enter[i] = value
    given = enter[~np.isnan(enter)]
    if not len(given):
        raise r.fail(where, "gives no level: set at least one of blue, yellow, orange, red")
    steps = np.diff(given) if direction == "above" else -np.diff(given)
    if (steps <= 0).any():
        order = "rise" if direction == "above" else "fall"
        raise r.fail(where, f"thresholds must {order} from blue to red ({direction}), got {given.tolist()}")
    for_s = r.number(t.get("for_s", 0.0), f"{where}.for_s", 0.0)
    return LevelRule(
        name=r.text(t["name"], f"{where}.name"),
        signal=signal,
        quantity=r.text(t["quantity"], f"{where}.quantity").lower(),
        kinds=r.kinds(t.get("asset_kind"), f"{where}.asset_kind"),
        direction=direction,
        enter=enter,
        hysteresis=r.number(t.get("hysteresis", 0.0), f"{where}.hysteresis", 0.0),
        for_s=for_s,
        clear_s=r.number(t.get("clear_s", for_s), f"{where}.clear_s", 0.0),
        window_s=r.number(t.get("window_s", 60.0), f"{where}.window_s", 1.0),
    )


def _combine(r: _Reader, t: dict, where: str) -> CombineRule:
    if "name" not in t:
        raise r.fail(f"{where}.name", "missing")
    mode = r.text(t.get("mode", "all"), f"{where}.mode", ("all", "any", "score"))
    terms_raw = t.get("term")
    if not isinstance(terms_raw, list) or not terms_raw:
        raise r.fail(f"{where}.term", "missing: add [[combine.term]] tables")
    terms = [
        _term(r, r.table(x, f"{where}.term[{i}]", TERM_KEYS), f"{where}.term[{i}]") for i, x in enumerate(terms_raw)
    ]
    rule = CombineRule(
        name=r.text(t["name"], f"{where}.name"),
        kinds=r.kinds(t.get("asset_kind"), f"{where}.asset_kind"),
        near_m=r.number(t.get("near_m", 0.0), f"{where}.near_m", 0.0),
        mode=mode,
        terms=terms,
    )
    if mode == "score":
        levels = r.table(t.get("levels"), f"{where}.levels", set(COLOURS)) if "levels" in t else None
        if not levels:
            raise r.fail(f"{where}.levels", "missing: a score rule needs levels = {yellow = 0.5, red = 1.0, ...}")
        rule.levels = np.array([r.number(levels[c], f"{where}.levels.{c}") if c in levels else np.nan for c in COLOURS])
    else:
        rule.level = r.level(t.get("level", "red"), f"{where}.level")
    return rule


def _term(r: _Reader, t: dict, where: str) -> Term:
    ops = [op for op in ("above", "below", "rate_above", "rate_below", "risk_source") if op in t]
    if len(ops) != 1:
        raise r.fail(where, "needs exactly one of above, below, rate_above, rate_below, risk_source")
    op = ops[0]
    within = r.number(t["within_m"], f"{where}.within_m", 0.0) if "within_m" in t else None
    term = Term(op=op, weight=r.number(t.get("weight", 1.0), f"{where}.weight", 0.0), within_m=within)
    if op == "risk_source":
        term.risk_source = r.text(t[op], f"{where}.risk_source")
    else:
        if "quantity" not in t:
            raise r.fail(f"{where}.quantity", "missing: which sensor quantity does the term test?")
        term.quantity = r.text(t["quantity"], f"{where}.quantity").lower()
        term.value = r.number(t[op], f"{where}.{op}")
    return term


def _propagation(r: _Reader, t: dict) -> Propagation:
    default = Propagation()
    return Propagation(
        from_kinds=r.kinds(t["from_kinds"], "propagation.from_kinds") if "from_kinds" in t else default.from_kinds,
        to_kinds=r.kinds(t["to_kinds"], "propagation.to_kinds") if "to_kinds" in t else default.to_kinds,
        within_m=r.number(t.get("within_m", default.within_m), "propagation.within_m", 0.0),
        steps=int(r.number(t.get("steps", default.steps), "propagation.steps", 0.0)),
        section=bool(t.get("section", default.section)),
    )


def _alerts(r: _Reader, t: dict) -> AlertPolicy:
    default = AlertPolicy()
    return AlertPolicy(
        min_level=r.level(t["min_level"], "alerts.min_level") if "min_level" in t else default.min_level,
        keep_firing_s=r.number(t.get("keep_firing_s", default.keep_firing_s), "alerts.keep_firing_s", 0.0),
        flap_window_s=r.number(t.get("flap_window_s", default.flap_window_s), "alerts.flap_window_s", 0.0),
        flap_max=int(r.number(t.get("flap_max", default.flap_max), "alerts.flap_max", 1.0)),
    )
