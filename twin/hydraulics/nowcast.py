"""Flood nowcast: which manholes of a SWMM model overflow within the next hours of rain.

The network's own SWMM file is run through pyswmm in a forked worker child (time and memory
limits; the engine is global to its process), every rain gauge following the forecast series
from now (or from a hot-start file of the current state) for the horizon.  The answer lists
each node expected to flood (when, how much, how long), the buildings within reach of it, and
the reason its risk rises: "forecast flooding at J12 in 40 min"; where the scene has a terrain,
also the pond its overflow makes on the ground and the buildings and underground entrances
standing in it (:mod:`twin.hydraulics.ponding`).

SWMM reads a gauge at its recording interval, so a forecast step is taken up at the gauge's
next interval boundary (an hourly gauge: on the hour).  Volumes are in m³ whatever the model's
units; intensities are in the model's rainfall units (in/h for US flow units, mm/h for SI).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.spatial import cKDTree

from twin.errors import WorkerFailure
from twin.hydraulics.engine import ENV, HERE
from twin.hydraulics.ponding import ponding
from twin.hydraulics.service import buildings_of, node_positions
from twin.hydraulics.settings import scene_hydraulics
from twin.networks import networks_of
from twin.workers import Call, ForkServer, Task

if TYPE_CHECKING:
    from twin.networks import NetworkRef
    from twin.scene import Twin

JOB = Task("swmm_job", "nowcast", HERE)
#: one fork server for every SWMM model (started on the first nowcast)
SWMM = ForkServer(warm=[Call(Task("swmm_job", "warm", HERE))], env=ENV)


def nowcast(
    twin: Twin,
    ref: NetworkRef,
    rain: Sequence[tuple[float, float]],
    horizon_s: float = 7200.0,
    step_s: int = 300,
    reach_m: float = 60.0,
    hotstart: Path | None = None,
    timeout_s: float = 120.0,
    memory_mb: int = 2048,
    gauge: str | None = None,
    model: Path | None = None,
) -> dict[str, Any]:
    """Nodes expected to flood within ``horizon_s`` under ``rain`` ((seconds from now,
    intensity in the model's rainfall units) steps) at ``gauge`` (every gauge when ``None``),
    with the buildings near each; the SWMM ``model`` is the network's own file unless given
    (a network drawn from GIS, modelled beside it with the same node ids)."""
    if model is None and ref.graph.graph.get("format") != "swmm":
        return {"status": "unavailable", "message": f"network {ref.name!r} has no SWMM model", "nodes": []}
    request = {
        "inp": str(model or twin.sources[ref.source].path),
        "rain": [[float(t), float(v)] for t, v in rain],
        "horizon_s": horizon_s,
        "step_s": step_s,
        "hotstart": None if hotstart is None else str(hotstart),
        "gauge": gauge,
    }
    try:
        answer = SWMM.call(JOB, request, timeout_s=timeout_s, memory_mb=memory_mb)
    except WorkerFailure as failure:
        return {"status": "failed", "message": f"the flood nowcast failed: {failure}", "nodes": []}
    nodes = answer["nodes"]
    near = _buildings_near(twin, ref, [n["id"] for n in nodes], reach_m)
    for node in nodes:
        minutes = round(node["first_flood_s"] / 60)
        node["reason"] = f"forecast flooding at {node['id']} in {minutes} min"
        node["buildings"] = near.get(node["id"], [])
    ponding(twin, nodes, _positions(twin, ref, [n["id"] for n in nodes]))
    return {"status": "ok", "horizon_s": horizon_s, "nodes": nodes}


def scene_nowcast(twin: Twin, rain: Sequence[tuple[float, float]], hotstart: Path | None = None) -> dict[str, Any]:
    """The nowcast the scene's ``[hydraulics.nowcast]`` binds: its SWMM model (a network of the
    scene loaded from that file, or the one ``[hydraulics.models]`` names it for), its rain
    gauge, horizon and step."""
    scene = scene_hydraulics(twin)
    bound = scene.nowcast
    if bound is None:
        return {"status": "unavailable", "message": "the scene binds no SWMM model ([hydraulics.nowcast])", "nodes": []}
    model = bound.model.resolve()
    modelled = {name for name, path in scene.models.items() if Path(path).resolve() == model}
    refs = [r for r in networks_of(twin) if Path(twin.sources[r.source].path).resolve() == model]
    refs += [r for r in networks_of(twin) if r.name in modelled]
    if not refs:
        return {"status": "unavailable", "message": f"no network of the scene is loaded from {model}", "nodes": []}
    return nowcast(
        twin,
        refs[0],
        rain,
        bound.horizon_s,
        bound.step_s,
        scene.settings.reach_m,
        hotstart,
        gauge=bound.rain_gauge,
        model=model,
    )


def _positions(twin: Twin, ref: NetworkRef, node_ids: list[str]) -> np.ndarray:
    """World (x, y) of nodes by id (NaN for one the network lacks)."""
    xy = node_positions(twin, ref)
    rows = [ref.graph.node_row(n) if n in ref.graph else -1 for n in node_ids]
    out = np.full((len(rows), 2), np.nan)
    for i, row in enumerate(rows):
        if row >= 0:
            out[i] = xy[row]
    return out


def _buildings_near(twin: Twin, ref: NetworkRef, node_ids: list[str], reach_m: float) -> dict[str, list[str]]:
    """Ids of the buildings within ``reach_m`` (plan) of each node."""
    rows = buildings_of(twin)
    known = [n for n in node_ids if n in ref.graph]
    if not len(rows) or not known:
        return {}
    xy = node_positions(twin, ref)[[ref.graph.node_row(n) for n in known]]
    tree = cKDTree(twin.assets.centres[rows, :2])
    ids = twin.assets["id"]
    return {
        node: [str(ids[rows[i]]) for i in sorted(hits)]
        for node, hits, finite in zip(
            known, tree.query_ball_point(np.nan_to_num(xy, nan=np.inf), reach_m), np.isfinite(xy).all(axis=1)
        )
        if finite
    }
