"""The hydraulic job a worker runs: WNTR's EPANET engine on one closure of one model.

Run by :mod:`twin.workers` by module name from this folder, never imported by the twin: it
needs only the standard library and ``wntr`` (imported here, inside the worker, by name), so
the twin never loads the engine, and a crash, hang or runaway allocation of the EPANET toolkit
(whose global state one bad run can poison) ends a forked child, not the caller.

:func:`warm` runs once in the fork server: it reads the model and solves it with nothing
closed, so every child starts with the base state at hand and pays only for its own closure
(the base is what velocities and flow directions are compared with).  Arguments and results
are plain JSON: SI units as WNTR gives them (m of head, m³/s, m/s).
"""

from __future__ import annotations

import importlib
import os
import tempfile
import time
from typing import Any

#: base solutions kept in the fork server by model key, inherited by every child
_BASE: dict[str, dict[str, Any]] = {}
#: the parsed models, kept likewise: a child takes its own copy-on-write copy and closes links in it
_MODELS: dict[str, Any] = {}


def _wntr() -> Any:
    """WNTR, imported by name so the twin's type checker and import graph never see it."""
    return importlib.import_module("wntr")


def _model(model: dict[str, Any]) -> Any:
    """The network read from its file with the pressure-dependent demand options of ``model``."""
    wn = _wntr().network.WaterNetworkModel(model["inp"])
    opts = wn.options
    opts.hydraulic.demand_model = "PDD"
    opts.hydraulic.required_pressure = float(model["required_m"])
    opts.hydraulic.minimum_pressure = float(model["minimum_m"])
    opts.hydraulic.pressure_exponent = float(model.get("exponent", 0.5))
    opts.time.duration = 0
    opts.time.pattern_start = int(model.get("at_s", 0))
    opts.time.report_start = 0
    return wn


def close_links(wn: Any, links: list[str]) -> None:
    """Close the links for good: status closed, and no control or rule may open them again."""
    closed = set(links)
    status = _wntr().network.LinkStatus.Closed
    for name in links:
        wn.get_link(name).initial_status = status
    for name, control in list(wn.controls()):
        targets = {getattr(action.target()[0], "name", None) for action in control.actions()}
        if targets & closed:
            wn.remove_control(name)


def solve(wn: Any) -> dict[str, Any]:
    """One steady-state EPANET solution: per junction pressure, expected and delivered demand;
    per link flow and velocity (all at the first time step)."""
    wntr = _wntr()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cim-twin-epanet-") as tmp:
        results = wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=os.path.join(tmp, "run"))
    seconds = time.perf_counter() - start
    junctions = list(wn.junction_name_list)
    at = int(wn.options.time.pattern_start)  # the demand patterns' time the run stands at
    expected = wntr.metrics.expected_demand(wn, start_time=at, end_time=at, timestep=1).iloc[0]
    node, link = results.node, results.link
    return {
        "converged": results.error_code is None,
        "seconds": seconds,
        "junctions": junctions,
        "pressure": node["pressure"].iloc[0][junctions].tolist(),
        "expected": expected[junctions].tolist(),
        "delivered": node["demand"].iloc[0][junctions].tolist(),
        "links": list(wn.link_name_list),
        "flow": link["flowrate"].iloc[0].tolist(),
        "velocity": link["velocity"].iloc[0].tolist(),
    }


def base(model: dict[str, Any]) -> dict[str, Any]:
    """The solution with nothing closed, kept by model key (computed here if :func:`warm` did not)."""
    key = str(model["key"])
    if key not in _BASE:
        wn = _model(model)
        _BASE[key] = solve(wn)
        _MODELS[key] = _model(model)  # a fresh copy: the solver leaves its marks on the model it ran
    return _BASE[key]


def warm(model: dict[str, Any]) -> None:
    """Import the engine and solve the base state once, before any child is forked.

    A model that fails here is not an error yet: the first call meets the failure again and
    reports it as its own (a warm-up that raised would take the whole server down).
    """
    _wntr()
    try:
        base(model)
    except Exception:  # reported by the call that needs it
        _BASE.pop(str(model["key"]), None)


def closure(model: dict[str, Any], links: list[str]) -> dict[str, Any]:
    """The base solution and the solution with ``links`` closed, side by side.

    The kept model is taken, not copied: in a forked child it is the child's own copy, and in
    any other process the next call reads the file again rather than reuse a changed model.
    """
    before = base(model)
    wn = _MODELS.pop(str(model["key"]), None) or _model(model)
    close_links(wn, links)
    after = solve(wn)
    return {"base": before, "closed": after}
