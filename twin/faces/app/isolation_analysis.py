"""The inspector's account of an isolation: which valves to close and what it costs the supply.

From a what-if (:func:`twin.hydraulics.whatif.what_if`): the valves to close (each one a
button to mark it as not closing, which re-plans to the next ring out), the valves already
marked, the section out of supply, and with hydraulics the buildings and customers without
water (critical facilities first), the pipes whose velocity rises past the factor or whose flow
reverses, and the legend of the pressure-deficit colours drawn in the view.  ``water`` holds the
briefing line's numbers ("N buildings / M customers without water, K critical").
"""

from __future__ import annotations

from typing import Any

from twin.faces.app.hydraulic_paint import legend
from twin.faces.i18n import _

#: how many buildings and pipes the inspector lists (the counts cover all of them)
LISTED = 25


def analysis(segment: str, result: dict[str, Any], service_m: float) -> dict[str, Any]:
    """The ``analysis`` reply of an isolation of ``segment``."""
    valves = result["valves"]
    plugs = any(v.get("kind") == "plug" for v in valves)
    rows = [
        [_("Plugs to set") if plugs else _("Valves to close"), ", ".join(v["id"] for v in valves) or _("none")],
        [_("Valves assumed"), _("yes") if result["valves_assumed"] else _("no (from the data)")],
        [_("Segments out of supply"), str(len(result["segments"]))],
        [_("Length out of supply"), f"{result['length_m']:,.1f} m"],
        [_("Customers affected"), str(len(result["customers"]))],
    ]
    out: dict[str, Any] = {
        "kind": "isolate",
        "title": _("Isolating {id}", id=segment),
        "rows": rows,
        "valves": [] if plugs else [v["id"] for v in valves],
        "segments": result["segments"],
        "inoperable": result.get("inoperable", []),
        "water": None,
        "buildings": [],
        "pipes": [],
        "legend": None,
        "hydraulic_note": "",
    }
    hydraulic = result.get("hydraulic")
    if hydraulic is None:  # a gravity network: plugs, no supply
        return out
    buildings = hydraulic.get("buildings", [])
    ok = hydraulic.get("status") == "ok"
    customers = len(hydraulic["customers_affected"]) if ok else len(result["customers"])
    out["water"] = {
        "buildings": len(buildings),
        "customers": customers,
        "critical": sum(1 for b in buildings if b["critical"]),
        "hydraulic": ok,
    }
    out["buildings"] = [_building(b) for b in buildings[:LISTED]]
    out["legend"] = legend(service_m)
    if ok:
        rows.append([_("Junctions below service pressure"), str(len(hydraulic["junctions_below"]))])
        rows.append([_("Demand not served"), f"{hydraulic['unserved_lps']:,.2f} L/s"])
        out["pipes"] = [_pipe(p) for p in hydraulic["pipes"][:LISTED]]
        out["hydraulic_note"] = _(
            "{engine}, service pressure {mpa} MPa",
            engine=hydraulic["engine"],
            mpa=f"{hydraulic['service_pressure_mpa']:g}",
        )
    else:
        out["hydraulic_note"] = hydraulic.get("message", "")
    return out


def _building(b: dict[str, Any]) -> dict[str, str]:
    name = b["name"] if b["name"] and b["name"] != b["id"] else b["id"]
    how = _("assumed, {d} m away", d=f"{b['distance_m']:g}") if b["assumed"] and b["distance_m"] is not None else ""
    return {
        "id": b["id"],
        "name": name,
        "critical": _(b["critical"]) if b["critical"] else "",
        "node": b["node"] + (f" ({how})" if how else ""),
    }


def _pipe(p: dict[str, Any]) -> dict[str, str]:
    if p["reversed"]:
        change = _("flow reversed")
    elif p["ratio"] is None:
        change = _("flows again, {v} m/s", v=f"{p['velocity_m_s']:.2f}")
    else:
        change = _("velocity ×{ratio}", ratio=f"{p['ratio']:.1f}")
    return {"id": p["id"], "change": change, "velocity": f"{p['base_velocity_m_s']:.2f} → {p['velocity_m_s']:.2f} m/s"}
