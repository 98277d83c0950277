"""What the live risk knows per asset and sensor, put into words: the JSON the API and the app's
inspector show, and the text of alert messages.

Reads a :class:`~twin.risk.state.RiskState` (and the open alerts it is given) and writes nothing:
*why* an asset has its level is in the state's :class:`~twin.risk.combine.Causes`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from twin.risk.alerts import Alert
from twin.risk.levels import COLOURS, NAMES, NODATA, NONE
from twin.risk.propagation import HOW
from twin.risk.rules import Term
from twin.risk.state import RiskState


def iso(t: float | None) -> str | None:
    if t is None or not np.isfinite(t):
        return None
    return datetime.fromtimestamp(float(t), tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def reading(svc: RiskState, s: int) -> str:
    """One sensor's latest reading in words (with its rate and silence where they matter)."""
    eng, sensors = svc.engine, svc.sensors
    text = f"{sensors.quantity[s]} {eng.last_value[s]:.4g} {sensors.unit[s]} at sensor {sensors.ids[s]}"
    if np.isfinite(eng.rate[s]) and eng.channels["rate"].rule[s] >= 0:
        text += f" (changing {eng.rate[s]:+.3g} {sensors.unit[s]}/min)"
    if eng.stale[s]:
        text += f", silent since {iso(eng.last_ts[s])}" if np.isfinite(eng.last_ts[s]) else ", never reported"
    return text


def sensor_rows(svc: RiskState, rows: list[int]) -> list[dict[str, Any]]:
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


def sensor_list(svc: RiskState) -> list[dict[str, Any]]:
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


def asset(svc: RiskState, i: int, open_alerts: list[Alert]) -> dict[str, Any]:
    """Asset row ``i`` with its level, the reason for it, its sensors and its ``open_alerts``."""
    out = svc.assets.row(i)
    asset_id = out["id"]
    level = int(svc.levels[i])
    reason, rule, readings = _explain(svc, i, level)
    out["risk"] = {
        "level": NAMES[level],
        "reason": reason,
        "rule": rule,
        "readings": readings,
        "since": iso(svc.since[i]),
    }
    out["sensors"] = sensor_rows(svc, np.flatnonzero(svc.sensors.asset_index == i).tolist())
    out["alerts"] = [a.to_json() for a in open_alerts if a.asset == asset_id]
    grid = int(svc.grids.asset_grid[i]) if len(svc.grids.asset_grid) else -1
    out["grid"] = svc.grids.features[grid].id if grid >= 0 else None
    return out


def _explain(svc: RiskState, i: int, level: int) -> tuple[str, str | None, list[dict[str, Any]]]:
    """The reason for an asset's level: which rule, which readings (the highest cause wins)."""
    L = svc.causes
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
            return "no data: " + "; ".join(reading(svc, s) for s in hits), None, readings
        rules = [
            r.name
            for s in hits
            for r in (svc.engine.rule_of("value", s), svc.engine.rule_of("rate", s))
            if r is not None and svc.engine.channels[r.signal].level[s] == level
        ]
        return (
            f"rule {', '.join(dict.fromkeys(rules)) or '?'}: " + "; ".join(reading(svc, s) for s in hits),
            rules[0] if rules else None,
            readings,
        )
    if svc.external.level[i] == level and i in svc.external.reason:
        return svc.external.reason[i], "forecast", []
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
            f"propagated: {how} pipe {svc.assets['id'][src]} ({NAMES[int(svc.levels[src])]}), "
            f"{svc.rules.propagation.steps} level(s) lower",
            "propagation",
            [],
        )
    return NAMES[level], None, []


def _term(t: Term) -> str:
    if t.risk_source is not None:
        return f"{t.risk_source} within {t.within_m or 0:g} m"
    op = {"above": ">", "below": "<", "rate_above": "rate >", "rate_below": "rate <"}[t.op]
    return f"{t.quantity} {op} {t.value:g}"


__all__ = ["asset", "iso", "reading", "sensor_list"]
