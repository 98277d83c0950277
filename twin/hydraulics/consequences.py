"""What closing the valves around a burst means for the water supply.

:func:`twin.networks.isolate` says which valves to close, by topology.  Here the network's own
hydraulic model (its EPANET file) is solved with those valves' links closed, pressure-dependent
(a junction gets its full demand at the service pressure, less below it, none at the minimum),
and compared with the same model with nothing closed:

* junctions the closure puts (or keeps, lower still) below the service pressure, and the
  demand they are not served;
* the buildings served from them (critical facilities first) and the customers (the model's
  demand junctions) affected;
* pipes whose velocity rises by more than a factor or whose flow reverses (turbidity risk).

A network without a model, a solver that does not converge, or a run that fails keeps the
topological answer and says why in ``hydraulic.status``; it never raises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from twin.errors import WorkerFailure
from twin.hydraulics.engine import ENGINE, Engine, Model
from twin.hydraulics.service import ServiceLinks, link_buildings
from twin.hydraulics.settings import HydraulicSettings, SceneHydraulics, scene_hydraulics
from twin.networks import PipeNetwork, isolate

if TYPE_CHECKING:
    from twin.networks import NetworkRef
    from twin.scene import Twin

TOPOLOGICAL = "the result is topological only"
#: demand (m³/s) below which a junction counts as served in full (solver noise)
SERVED_TOLERANCE = 1e-6
#: a junction already below service pressure counts only if the closure lowers it further than this (m)
DROP_M = 0.1


def hydraulic_model(
    twin: Twin, ref: NetworkRef, settings: HydraulicSettings, scene: SceneHydraulics | None = None
) -> Model | None:
    """The network's hydraulic model: its EPANET file, if it came from one, else the one the
    scene names for it (``[hydraulics.models]``: a network drawn from GIS, modelled beside it
    with the same node and pipe ids)."""
    if ref.graph.graph.get("format") == "epanet":
        path = twin.sources[ref.source].path
    elif scene is not None and ref.name in scene.models:
        path = scene.models[ref.name]
    else:
        return None
    return Model(path, settings.service_m, settings.minimum_m, settings.at_s)


def consequences(
    twin: Twin,
    ref: NetworkRef,
    segment_id: str,
    settings: HydraulicSettings | None = None,
    strategy: str | None = None,
    engine: Engine = ENGINE,
) -> dict[str, Any]:
    """The isolation of ``segment_id`` with its hydraulic consequences and the buildings affected
    (settings, models and service nodes from the scene's ``[hydraulics]`` unless ``settings`` is given)."""
    scene = scene_hydraulics(twin)
    settings = settings or scene.settings
    result = closure_consequences(
        ref.graph, segment_id, hydraulic_model(twin, ref, settings, scene), settings, strategy, engine
    )
    links = link_buildings(twin, ref, settings.reach_m, settings.service_node_attribute, scene.service_nodes)
    result["hydraulic"].update(affected_buildings(twin, ref.graph, links, result))
    return result


def closure_consequences(
    graph: PipeNetwork,
    segment_id: str,
    model: Model | None,
    settings: HydraulicSettings,
    strategy: str | None = None,
    engine: Engine = ENGINE,
) -> dict[str, Any]:
    """:func:`~twin.networks.isolate` of ``segment_id`` plus ``hydraulic``: the model's answer."""
    result = isolate(graph, segment_id, strategy)
    links = sorted({v["link"] for v in result["valves"]})
    result["closed_links"] = links
    if model is None:
        result["hydraulic"] = _topological(
            "unavailable", f"network {graph.graph.get('name')!r} has no hydraulic model (an EPANET file)"
        )
        return result
    try:
        solution = engine.closure(model, links, settings.timeout_s, settings.memory_mb)
    except WorkerFailure as failure:
        result["hydraulic"] = _topological("failed", f"hydraulics failed: {model.inp}: {failure}")
        return result
    if not (solution["base"]["converged"] and solution["closed"]["converged"]):
        result["hydraulic"] = _topological("not_converged", "hydraulics did not converge")
        return result
    result["hydraulic"] = assess(graph, result, solution, settings)
    return result


def _topological(status: str, why: str) -> dict[str, Any]:
    """A hydraulic answer that is none, with why on one line (engine messages span several)."""
    return {"status": status, "message": f"{' '.join(why.split())}; {TOPOLOGICAL}"}


def _node_rows(graph: PipeNetwork, names: list[str]) -> np.ndarray:
    """Rows in the network of node names, leaving out any the network lacks."""
    return np.array([graph.node_row(n) for n in names if n in graph], dtype=np.int64)


def assess(
    graph: PipeNetwork, isolation: dict[str, Any], solution: dict[str, Any], settings: HydraulicSettings
) -> dict[str, Any]:
    """The hydraulic answer from the engine's two solutions (base, closed)."""
    base, after = solution["base"], solution["closed"]
    junctions = np.array(after["junctions"], dtype=object)
    pressure, before = np.asarray(after["pressure"], float), np.asarray(base["pressure"], float)
    expected, delivered = np.asarray(after["expected"], float), np.asarray(after["delivered"], float)
    isolated = np.isin(junctions, np.array(isolation["nodes"], dtype=object))
    delivered = np.where(isolated, 0.0, delivered)  # cut off: no water, whatever the solver's residue
    short = np.maximum(expected - delivered, 0.0)
    worse = (before >= settings.service_m) | (pressure < before - DROP_M)
    low = isolated | ((pressure < settings.service_m) & worse)
    order = np.flatnonzero(low)[np.argsort(pressure[low] - settings.service_m, kind="stable")]
    customers = np.flatnonzero((expected > 0) & (short > SERVED_TOLERANCE))
    pipes = _pipe_changes(isolation, base, after, settings)
    return {
        "status": "ok",
        "engine": "EPANET 2.2 (WNTR), pressure-dependent demand",
        "service_pressure_mpa": settings.service_pressure_mpa,
        "seconds": round(float(after["seconds"]), 3),
        "junctions_below": [
            {
                "id": str(junctions[i]),
                "pressure_m": round(float(pressure[i]), 3),
                "base_pressure_m": round(float(before[i]), 3),
                "deficit_m": round(max(0.0, settings.service_m - float(pressure[i])), 3),
                "demand_lps": round(float(expected[i]) * 1000, 4),
                "unserved_lps": round(float(short[i]) * 1000, 4),
                "isolated": bool(isolated[i]),
                "was_below": bool(before[i] < settings.service_m),
            }
            for i in order.tolist()
        ],
        "demand_lps": round(float(expected.sum()) * 1000, 3),
        "unserved_lps": round(float(short.sum()) * 1000, 3),
        "customers_affected": junctions[customers].tolist(),
        "pipes": pipes,
        "pressure_m": dict(zip(junctions.tolist(), np.round(pressure, 3).tolist())),
    }


def _pipe_changes(
    isolation: dict[str, Any], base: dict[str, Any], after: dict[str, Any], settings: HydraulicSettings
) -> list[dict[str, Any]]:
    """Links whose velocity rises by more than the factor, or whose flow reverses, outside the
    isolated part (whose flow stops by design)."""
    links = np.array(after["links"], dtype=object)
    v0, v1 = np.abs(np.asarray(base["velocity"], float)), np.abs(np.asarray(after["velocity"], float))
    q0, q1 = np.asarray(base["flow"], float), np.asarray(after["flow"], float)
    moving = np.minimum(v0, v1) >= settings.noise_velocity_m_s
    rise = (v1 >= settings.noise_velocity_m_s) & (v1 > settings.velocity_factor * v0)
    reversed_ = moving & (np.sign(q0) != np.sign(q1))
    outside = ~np.isin(links, np.array(isolation["segments"], dtype=object))
    rows = np.flatnonzero((rise | reversed_) & outside)
    ratio = np.divide(v1, v0, out=np.full(len(v0), np.inf), where=v0 > 0)
    rows = rows[np.argsort(-ratio[rows], kind="stable")]
    return [
        {
            "id": str(links[i]),
            "velocity_m_s": round(float(v1[i]), 4),
            "base_velocity_m_s": round(float(v0[i]), 4),
            "ratio": round(float(ratio[i]), 3) if np.isfinite(ratio[i]) else None,
            "reversed": bool(reversed_[i]),
        }
        for i in rows.tolist()
    ]


def affected_buildings(twin: Twin, graph: PipeNetwork, links: ServiceLinks, result: dict[str, Any]) -> dict[str, Any]:
    """Buildings served from a junction below service pressure (critical facilities first),
    and the headline a briefing screen shows."""
    hydraulic = result["hydraulic"]
    if hydraulic.get("status") == "ok":
        ids = [j["id"] for j in hydraulic["junctions_below"]]
        customers = len(hydraulic["customers_affected"])
    else:  # topological: the nodes that lose supply
        ids, customers = result["nodes"], len(result["customers"])
    below = np.zeros(len(graph.node_ids), dtype=bool)
    below[_node_rows(graph, ids)] = True
    hit = np.flatnonzero(below[links.node])
    hit = hit[np.argsort(links.critical[hit] == "", kind="stable")]
    a = twin.assets
    buildings = [
        {
            "id": str(a["id"][links.building[i]]),
            "name": str(a["name"][links.building[i]]),
            "address": str(a["address"][links.building[i]]),
            "node": str(graph.node_ids[links.node[i]]),
            "assumed": bool(links.assumed[i]),
            "distance_m": None if np.isnan(links.distance_m[i]) else round(float(links.distance_m[i]), 1),
            "critical": str(links.critical[i]),
        }
        for i in hit.tolist()
    ]
    critical = sum(1 for b in buildings if b["critical"])
    return {
        "buildings": buildings,
        "headline": f"{len(buildings)} buildings / {customers} customers without water, {critical} critical",
    }
