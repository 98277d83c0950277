"""What the service knows per asset, put into words: level layers, alert keys, the asset view.

Kept apart from :mod:`twin.risk.service` so the service stays a thin owner of state: this module
holds the arrays that say *why* an asset has its level (sensor, multivariable rule, static source
or propagation) and turns them into the JSON the API and the app's inspector show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.risk.levels import COLOURS, LEVEL_DTYPE, NAMES, NODATA, NONE
from twin.risk.propagation import HOW

if TYPE_CHECKING:
    from twin.risk.service import RiskService


def iso(t: float | None) -> str | None:
    if t is None or not np.isfinite(t):
        return None
    return datetime.fromtimestamp(float(t), tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Layers:
    """Per-asset level from each kind of cause; the asset's level is the highest."""

    sensor: np.ndarray
    combine: np.ndarray
    combine_rule: np.ndarray
    combine_slots: list[np.ndarray]
    prop: np.ndarray
    prop_src: np.ndarray
    prop_how: np.ndarray

    @classmethod
    def empty(cls, n: int, n_rules: int) -> Layers:
        z = np.zeros(n, LEVEL_DTYPE)
        return cls(
            z, z.copy(), np.full(n, -1), [np.zeros(0, LEVEL_DTYPE)] * n_rules, z.copy(), np.full(n, -1), z.copy()
        )

    def compute(self, svc: RiskService, now: float) -> np.ndarray:
        eng, ai = svc.engine, svc.sensors.asset_index
        sensor_levels = eng.levels()
        self.sensor = np.zeros(len(svc.assets), LEVEL_DTYPE)
        ok = ai >= 0
        np.maximum.at(self.sensor, ai[ok], sensor_levels[ok])
        self.combine = np.zeros_like(self.sensor)
        self.combine_rule = np.full(len(self.sensor), -1)
        fresh = ~eng.stale
        for r, rule in enumerate(svc.combines):
            slots = rule.evaluate(eng.last_value, eng.rate, fresh)
            self.combine_slots[r] = slots
            up = slots > self.combine[rule.assets]
            self.combine[rule.assets[up]] = slots[up]
            self.combine_rule[rule.assets[up]] = r
        direct = np.maximum(np.maximum(self.sensor, self.combine), svc.sources.asset_level)
        self.prop, self.prop_src, self.prop_how = svc.propagator.apply(direct)
        return np.maximum(direct, self.prop)


class AlertKeys:
    """Maps sensors' graded rules and multivariable rules to alert keys (asset, rule) and feeds the book."""

    def __init__(self, svc: RiskService) -> None:
        self.svc = svc
        self.names: list[tuple[str, str]] = []
        self.index: dict[tuple[str, str], int] = {}
        self.of_sensor: dict[str, np.ndarray] = {}
        self.sensors_of: list[list[int]] = []
        assets = svc.sensors.asset.tolist()
        for signal, channel in svc.engine.channels.items():
            rules = svc.engine.signal_rules[signal]
            keys = np.full(len(svc.sensors), -1, np.int64)
            for s in np.flatnonzero(channel.rule >= 0).tolist():
                k = self.index.setdefault((assets[s], rules[channel.rule[s]].name), len(self.index))
                if k == len(self.sensors_of):
                    self.sensors_of.append([])
                self.sensors_of[k].append(s)
                keys[s] = k
            self.of_sensor[signal] = keys
        self.names = list(self.index)
        self.combine_index = {
            (str(svc.assets["id"][a]), rule.rule.name): (r, slot)
            for r, rule in enumerate(svc.combines)
            for slot, a in enumerate(rule.assets.tolist())
        }
        self.level = np.zeros(len(self.names), LEVEL_DTYPE)
        self.target = np.zeros(len(self.names), LEVEL_DTYPE)
        self.combine_prev = [np.zeros(len(c.assets), LEVEL_DTYPE) for c in svc.combines]

    def update(self, now: float, touched: np.ndarray | None = None) -> None:
        """Feed the alert book the keys whose level changed, and the open ones: all of them on a
        full tick (``touched`` None), else those of the touched sensors."""
        full = touched is None
        level, target = np.zeros_like(self.level), np.zeros_like(self.target)
        for signal, channel in self.svc.engine.channels.items():
            keys = self.of_sensor[signal]
            m = keys >= 0
            np.maximum.at(level, keys[m], channel.level[m])
            np.maximum.at(target, keys[m], np.maximum(channel.level, channel.pending)[m])
        changed = np.flatnonzero((level != self.level) | (target != self.target)).tolist()
        todo = dict.fromkeys(changed, True)
        open_combine = set()
        mine: set[int] = set()
        if not full and self.svc.book.open:
            mine = set(np.unique(np.concatenate([keys[touched] for keys in self.of_sensor.values()])).tolist())
        low = self.svc.rules.alerts.min_level
        for key in self.svc.book.open:
            k = self.index.get(key)
            if k is not None and (full or (k in mine and level[k] < low)):  # only clearing ones need a tick
                todo.setdefault(k, False)
            elif key in self.combine_index:
                r, slot = self.combine_index[key]
                if full or self.svc.layers.combine_slots[r][slot] < low:  # clearing ones need a tick
                    open_combine.add((r, slot))
        self.level, self.target = level, target
        for k, moved in todo.items():
            message = self._message(k) if moved or full else ""
            self.svc.book.update(self.names[k], int(level[k]), int(target[k]), now, message)
        for r, rule in enumerate(self.svc.combines):
            now_lv = self.svc.layers.combine_slots[r]
            slots = set(np.flatnonzero(now_lv != self.combine_prev[r]).tolist())
            slots |= {slot for rr, slot in open_combine if rr == r}
            for slot in sorted(slots):
                asset = str(self.svc.assets["id"][rule.assets[slot]])
                lv = int(now_lv[slot])
                self.svc.book.update((asset, rule.rule.name), lv, lv, now, f"multivariable rule {rule.rule.name}")
            self.combine_prev[r] = now_lv.copy()

    def _message(self, k: int) -> str:
        return f"{self.names[k][1]}: " + "; ".join(_reading(self.svc, s) for s in self.sensors_of[k])


def _reading(svc: RiskService, s: int) -> str:
    eng, sensors = svc.engine, svc.sensors
    text = f"{sensors.quantity[s]} {eng.last_value[s]:.4g} {sensors.unit[s]} at sensor {sensors.ids[s]}"
    if np.isfinite(eng.rate[s]) and eng.channels["rate"].rule[s] >= 0:
        text += f" (changing {eng.rate[s]:+.3g} {sensors.unit[s]}/min)"
    if eng.stale[s]:
        text += f", silent since {iso(eng.last_ts[s])}" if np.isfinite(eng.last_ts[s]) else ", never reported"
    return text


def sensor_rows(svc: RiskService, rows: list[int]) -> list[dict[str, Any]]:
    eng, out = svc.engine, []
    levels = eng.levels()
    for s in rows:
        seen = bool(np.isfinite(eng.last_ts[s]))
        row = svc.sensors.row(s)
        row.update(
            level=NAMES[int(levels[s])],
            stale=bool(eng.stale[s]),
            latest={"ts": iso(eng.last_ts[s]), "value": float(eng.last_value[s])} if seen else None,
            rate_per_min=float(eng.rate[s]) if np.isfinite(eng.rate[s]) else None,
        )
        out.append(row)
    return out


def sensor_list(svc: RiskService) -> list[dict[str, Any]]:
    """Each sensor with the direction and entry values of the simple threshold rule that applies."""
    out = []
    for s in range(len(svc.sensors)):
        rule = svc.engine.rule_of("value", s)
        row = svc.sensors.row(s)
        row["direction"] = rule.direction if rule else None
        row["thresholds"] = {
            c: (None if rule is None or np.isnan(rule.enter[i]) else float(rule.enter[i]))
            for i, c in enumerate(COLOURS)
        }
        row["rule"] = rule.name if rule else None
        out.append(row)
    return out


def asset(svc: RiskService, i: int) -> dict[str, Any]:
    out = svc.assets.row(i)
    asset_id = out["id"]
    level = int(svc.levels_array[i])
    reason, rule, readings = _explain(svc, i, level)
    out["risk"] = {
        "level": NAMES[level],
        "reason": reason,
        "rule": rule,
        "readings": readings,
        "since": iso(svc.since[i]),
    }
    out["sensors"] = sensor_rows(svc, np.flatnonzero(svc.sensors.asset_index == i).tolist())
    out["alerts"] = [a.to_json() for a in svc.book.open.values() if a.asset == asset_id]
    grid = int(svc.grids.asset_grid[i]) if len(svc.grids.asset_grid) else -1
    out["grid"] = svc.grids.features[grid].id if grid >= 0 else None
    return out


def _explain(svc: RiskService, i: int, level: int) -> tuple[str, str | None, list[dict[str, Any]]]:
    """The reason for an asset's level: which rule, which readings (the highest cause wins)."""
    L = svc.layers
    mine = np.flatnonzero(svc.sensors.asset_index == i).tolist()
    if level == NONE:
        return ("monitored, no risk" if mine else "not monitored"), None, []
    if L.sensor[i] == level:
        levels = svc.engine.levels()
        hits = [s for s in mine if levels[s] == level]
        readings = [
            {
                "sensor": str(svc.sensors.ids[s]),
                "ts": iso(svc.engine.last_ts[s]),
                "value": float(svc.engine.last_value[s]) if np.isfinite(svc.engine.last_value[s]) else None,
            }
            for s in hits
        ]
        if level == NODATA:
            return "no data: " + "; ".join(_reading(svc, s) for s in hits), None, readings
        rules = [
            r.name
            for s in hits
            for r in (svc.engine.rule_of("value", s), svc.engine.rule_of("rate", s))
            if r is not None and svc.engine.channels[r.signal].level[s] == level
        ]
        return (
            f"rule {', '.join(dict.fromkeys(rules)) or '?'}: " + "; ".join(_reading(svc, s) for s in hits),
            rules[0] if rules else None,
            readings,
        )
    if L.combine[i] == level and L.combine_rule[i] >= 0:
        rule = svc.combines[int(L.combine_rule[i])].rule
        terms = ", ".join(_term(t) for t in rule.terms)
        return f"multivariable rule {rule.name} ({rule.mode} of: {terms})", rule.name, []
    if svc.sources.asset_level[i] == level and svc.sources.asset_source[i] >= 0:
        f = svc.sources.features[int(svc.sources.asset_source[i])]
        return f"risk source {f.id}{' (' + f.name + ')' if f.name else ''}: {NAMES[level]}", "risk_source", []
    if L.prop[i] == level and L.prop_src[i] >= 0:
        src = int(L.prop_src[i])
        how = HOW[int(L.prop_how[i])].format(r=svc.rules.propagation.within_m)
        return (
            f"propagated: {how} pipe {svc.assets['id'][src]} ({NAMES[int(svc.levels_array[src])]}), "
            f"{svc.rules.propagation.steps} level(s) lower",
            "propagation",
            [],
        )
    return NAMES[level], None, []


def _term(t: Any) -> str:
    if t.risk_source is not None:
        return f"{t.risk_source} within {t.within_m or 0:g} m"
    op = {"above": ">", "below": "<", "rate_above": "rate >", "rate_below": "rate <"}[t.op]
    return f"{t.quantity} {op} {t.value:g}"


__all__ = ["AlertKeys", "Layers", "asset", "iso", "sensor_list"]
