"""What is near a pipe: other utilities, buildings, sensors, and clearance violations between networks.

Works on the twin's own geometry, after placement and reprojection: the centre line of every
segment is recovered from its tube mesh (the mean of each ring,
:func:`ring_centres`), sampled every ``step`` metres, and searched with a k-d tree.
Distances are 3D, so a gas main crossing 0.3 m above a power cable is found.  Clearances are
between outer walls (centre-line distance minus both radii) and follow GB 50289 both ways: two
pipes laid side by side (within ``PARALLEL_DEG`` of each other where they come closest) must
keep the *horizontal* clearance of :data:`PARALLEL_CLEARANCE_M`, two that cross the clearance of
:data:`CLEARANCE_M`.  Only assets an engineer has to keep clear of are listed: utilities,
buildings and sensors, never the terrain, roads or point-cloud classes around them.  The samples and their k-d trees
are built once per twin and kept (:func:`samples_of`) until its pipe layers change, so a
question costs a tree query, not a pass over every pipe of the city.
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyvista as pv
from scipy.spatial import cKDTree

from twin.colours.utilities import network_kind
from twin.errors import InputError

if TYPE_CHECKING:
    from twin.layer import Layer
    from twin.scene import Twin

#: minimum clearance between outer walls of two networks' pipes where they cross, m (indicative
#: values after the crossing clearances of GB 50289-2016; pass ``rules`` to use a utility's own table)
CLEARANCE_M: dict[frozenset[str], float] = {
    frozenset(pair): metres
    for pair, metres in (
        (("water", "drainage"), 0.40),
        (("gas", "water"), 0.15),
        (("gas", "drainage"), 0.15),
        (("gas", "heat"), 0.15),
        (("gas", "power"), 0.50),
        (("gas", "telecom"), 0.50),
        (("power", "telecom"), 0.25),
        (("power", "water"), 0.50),
        (("power", "drainage"), 0.50),
        (("power", "heat"), 0.50),
        (("heat", "water"), 0.15),
        (("heat", "drainage"), 0.15),
        (("telecom", "water"), 0.50),
        (("telecom", "drainage"), 0.50),
        (("telecom", "heat"), 0.25),
    )
}
#: minimum horizontal clearance between outer walls of two networks' pipes laid side by side, m
#: (indicative values after GB 50289-2016 table 4.1.9 for the smallest class of each: water
#: DN <= 200, low-pressure gas, direct-buried cables; pass ``parallel_rules`` for a utility's own)
PARALLEL_CLEARANCE_M: dict[frozenset[str], float] = {
    frozenset(pair): metres
    for pair, metres in (
        (("water", "drainage"), 1.0),
        (("gas", "water"), 0.5),
        (("gas", "drainage"), 1.0),
        (("gas", "heat"), 1.0),
        (("gas", "power"), 0.5),
        (("gas", "telecom"), 0.5),
        (("power", "telecom"), 0.5),
        (("power", "water"), 0.5),
        (("power", "drainage"), 0.5),
        (("power", "heat"), 2.0),
        (("heat", "water"), 1.5),
        (("heat", "drainage"), 1.5),
        (("telecom", "water"), 1.0),
        (("telecom", "drainage"), 1.0),
        (("telecom", "heat"), 1.0),
    )
}
#: two pipes closer to parallel than this where they come closest are "laid side by side", degrees
PARALLEL_DEG = 45.0
#: layer kinds whose every asset is worth a clearance (other kinds count only buildings and sensors)
MATTERING_LAYERS = frozenset({"pipes", "ifc"})
#: asset kinds never listed as nearby: the ground an IFC model stands on, its rooms
IGNORED_KINDS = ("ifcsite", "ifcspace")
_RULE_KIND = {"sewer": "drainage", "storm": "drainage", "reclaimed": "water"}


def rule_kind(network: str) -> str:
    kind = network_kind(network)
    return _RULE_KIND.get(kind, kind)


@dataclass
class Samples:
    """Points along every segment centre line of the twin (world coordinates).

    Built once per twin and kept by callers that ask many times (the app's inspector), with
    the k-d tree over all points built on first use.
    """

    points: np.ndarray  #: (n, 3)
    owner: np.ndarray  #: twin asset row of each point
    tangents: np.ndarray  #: (n, 3) unit direction of the centre line at each point (0 for a lone vertex)
    max_radius: float = 0.0  #: the widest pipe's radius: how far beyond a radius to look

    @functools.cached_property
    def tree(self) -> cKDTree:
        return cKDTree(self.points)

    @functools.cached_property
    def tree_2d(self) -> cKDTree:
        """The same points seen from above (for what is nearest on the map)."""
        return cKDTree(self.points[:, :2])


#: twin -> {(layers' identity and version, step): samples}; entries go with their twin
_SAMPLES: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Samples]] = weakref.WeakKeyDictionary()


def samples_of(twin: Twin, layers: list[Layer] | None = None, step: float = 0.5) -> Samples:
    """:func:`centre_lines`, built once per twin, layers and step, and rebuilt when a layer's mesh
    changes (VTK's modification time) or the asset table grows."""
    chosen = layers if layers is not None else pipe_layers(twin)
    key = (tuple((id(x.dataset), x.dataset.GetMTime(), x.asset_start) for x in chosen), len(twin.assets), step)
    kept = _SAMPLES.setdefault(twin, {})
    if key not in kept:
        if len(kept) >= 8:  # layers changed again and again: drop the stale ones
            kept.clear()
        kept[key] = centre_lines(twin, chosen, step)
    return kept[key]


def centre_lines(twin: Twin, layers: list[Layer] | None = None, step: float = 0.5) -> Samples:
    """Sample the centre lines of the twin's pipe layers every ``step`` metres (at least the vertices)."""
    points, owners, tangents = [], [], []
    for layer in layers if layers is not None else pipe_layers(twin):
        local, owner = ring_centres(layer.dataset)
        p, o, t = _densify(twin.to_world(local), owner + layer.asset_start, step)
        points.append(p)
        owners.append(o)
        tangents.append(t)
    if not points:
        return Samples(np.empty((0, 3)), np.empty(0, dtype=np.int64), np.empty((0, 3)))
    owner = np.concatenate(owners)
    return Samples(
        np.concatenate(points),
        owner,
        np.concatenate(tangents),
        float(_radius(twin, np.unique(owner)).max(initial=0.0)),
    )


def pipe_layers(twin: Twin) -> list[Layer]:
    return [layer for layer in twin.layers if layer.kind == "pipes" and "tube_sides" in layer.dataset.field_data]


def _densify(vertices: np.ndarray, owner: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Extra points every ``step`` along each polyline edge, vectorised over all edges, with the
    unit direction of the line at every point (a vertex takes its next edge's, the last its previous)."""
    same = owner[1:] == owner[:-1]
    a, b = vertices[:-1][same], vertices[1:][same]
    n = np.maximum(np.ceil(np.linalg.norm(b - a, axis=1) / step).astype(np.int64), 1)
    edge = np.repeat(np.arange(len(a)), n)
    t = (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n, n)
    inner = a[edge] + t[:, None] * (b - a)[edge]
    direction = _unit(vertices[1:] - vertices[:-1]) * same[:, None]
    nxt, prev = np.vstack([direction, np.zeros((1, 3))]), np.vstack([np.zeros((1, 3)), direction])
    at_vertex = np.where(np.r_[same, False][:, None], nxt, prev)
    return (
        np.vstack([inner, vertices]),
        np.concatenate([owner[:-1][same][edge], owner]),
        np.vstack([direction[same][edge], at_vertex]),
    )


def _unit(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero)."""
    norm = np.linalg.norm(vectors, axis=1, keepdims=True)
    out = np.zeros_like(vectors)
    np.divide(vectors, norm, out=out, where=norm > 0)
    return out


def _radius(twin: Twin, rows: np.ndarray) -> np.ndarray:
    if "diameter_m" not in twin.assets:
        return np.zeros(len(rows))
    d = np.asarray(twin.assets["diameter_m"], dtype=np.float64)[rows]
    return np.where(np.isfinite(d), d / 2, 0.0)


def _box_distance(points: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Smallest distance from any of ``points`` to each axis-aligned box (0 inside)."""
    lo, hi = bounds[:, 0::2], bounds[:, 1::2]
    best = np.full(len(bounds), np.inf)
    for chunk in range(0, len(points), 2048):
        p = points[chunk : chunk + 2048, None, :]
        gap = np.maximum(np.maximum(lo[None] - p, p - hi[None]), 0.0)
        best = np.minimum(best, np.linalg.norm(gap, axis=2).min(axis=0))
    return best


def nearby(
    twin: Twin,
    row: int,
    radius: float,
    rules: dict[frozenset[str], float] | None = None,
    samples: Samples | None = None,
    parallel_rules: dict[frozenset[str], float] | None = None,
) -> dict[str, Any]:
    """Assets within ``radius`` metres of the asset at ``row``, and the clearance violations.

    ``rules`` are the crossing clearances (default :data:`CLEARANCE_M`), ``parallel_rules`` the
    horizontal ones of pipes laid side by side (default :data:`PARALLEL_CLEARANCE_M`); each pipe
    found says how it lies (``lay``) and its horizontal clearance.
    """
    if not radius > 0:
        raise InputError(None, f"radius must be positive, not {radius}")
    tables = {
        "crossing": CLEARANCE_M if rules is None else rules,
        "parallel": PARALLEL_CLEARANCE_M if parallel_rules is None else parallel_rules,
    }
    samples = samples if samples is not None else samples_of(twin)
    assets = twin.assets
    mine = samples.owner == row
    if mine.any():
        target = Samples(samples.points[mine], samples.owner[mine], samples.tangents[mine])
        my_radius = _radius(twin, np.array([row]))[0]
    else:
        target = Samples(assets.centre(row)[None, :], np.array([row]), np.zeros((1, 3)))
        my_radius = 0.0
    my_network = str(assets["network"][row])
    pipes = _near_pipes(twin, samples, target, row, my_radius, radius)
    other = _near_other(twin, samples, target.points, row, radius)
    violations = []
    for item in pipes:
        if item["network"] == my_network:
            continue
        measured = item["horizontal_m"] if item["lay"] == "parallel" else item["clearance_m"]
        minimum = tables[item["lay"]].get(frozenset((rule_kind(my_network), rule_kind(item["network"]))))
        if minimum is not None and measured < minimum:
            violations.append({**item, "clearance_m": measured, "required_m": minimum})
    return {
        "id": str(assets["id"][row]),
        "network": my_network,
        "radius_m": radius,
        "pipes": pipes,
        "assets": other,
        "violations": violations,
    }


def _near_pipes(
    twin: Twin, samples: Samples, target: Samples, row: int, my_radius: float, radius: float
) -> list[dict[str, Any]]:
    """Other segments whose outer wall comes within ``radius`` of this one's, each with how it lies
    (parallel or crossing, at the closest points) and its horizontal clearance there."""
    if not (samples.owner != row).any():
        return []
    pairs = cKDTree(target.points).sparse_distance_matrix(
        samples.tree, max_distance=radius + my_radius + samples.max_radius, output_type="ndarray"
    )
    i, j, dist = pairs["i"], pairs["j"], pairs["v"]
    others = samples.owner[j] != row
    i, j, dist = i[others], j[others], dist[others]
    if not len(j):
        return []
    rows = samples.owner[j]
    order = np.lexsort((dist, rows))
    first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]  # each segment's closest pair
    i, j, rows, dist = i[first], j[first], rows[first], dist[first]
    walls = my_radius + _radius(twin, rows)
    clearance = dist - walls
    horizontal = np.maximum(np.linalg.norm(target.points[i, :2] - samples.points[j, :2], axis=1) - walls, 0.0)
    cosine = np.abs(np.einsum("ij,ij->i", target.tangents[i], samples.tangents[j]))
    parallel = cosine >= np.cos(np.radians(PARALLEL_DEG))
    keep = np.flatnonzero(clearance <= radius)
    keep = keep[np.argsort(clearance[keep])]
    return [
        {
            **_describe(twin, rows[k], centre_distance=dist[k], clearance=clearance[k], horizontal=horizontal[k]),
            "lay": "parallel" if parallel[k] else "crossing",
        }
        for k in keep
    ]


def _near_other(twin: Twin, samples: Samples, target: np.ndarray, row: int, radius: float) -> list[dict[str, Any]]:
    bounds = twin.assets.bounds
    pipe_rows = np.zeros(len(bounds), dtype=bool)
    pipe_rows[samples.owner] = True
    lo, hi = target.min(axis=0) - radius, target.max(axis=0) + radius
    candidate = (
        np.isfinite(bounds).all(axis=1)
        & ~pipe_rows
        & (bounds[:, 0] <= hi[0])
        & (bounds[:, 1] >= lo[0])
        & (bounds[:, 2] <= hi[1])
        & (bounds[:, 3] >= lo[1])
        & (bounds[:, 4] <= hi[2])
        & (bounds[:, 5] >= lo[2])
    )
    candidate[row] = False
    rows = np.flatnonzero(candidate)
    rows = rows[_matters(twin, rows)]
    if not len(rows):
        return []
    dist = _box_distance(target, bounds[rows])
    keep = dist <= radius
    order = np.argsort(dist[keep])
    return [_describe(twin, r, distance=d) for r, d in zip(rows[keep][order], dist[keep][order])]


def _matters(twin: Twin, rows: np.ndarray) -> np.ndarray:
    """Which of ``rows`` an engineer keeps clear of: utilities and IFC elements (not the site or its
    rooms), buildings and sensors of any source; not the terrain, roads or point-cloud classes."""
    a = twin.assets
    kinds = np.strings.lower(a["kind"][rows])
    layers = a["layer"][rows]
    mattering = [layer.name for layer in twin.layers if layer.kind in MATTERING_LAYERS]
    keep = np.isin(layers, np.array(mattering, dtype=layers.dtype))
    keep |= (np.strings.find(kinds, "building") >= 0) | (np.strings.find(kinds, "sensor") >= 0)
    return keep & ~np.isin(kinds, np.array(IGNORED_KINDS, dtype=kinds.dtype))


def _describe(twin: Twin, row: int, **numbers: float) -> dict[str, Any]:
    a = twin.assets
    out: dict[str, Any] = {
        "id": str(a["id"][row]),
        "kind": str(a["kind"][row]),
        "name": str(a["name"][row]),
        "layer": str(a["layer"][row]),
        "network": str(a["network"][row]),
    }
    out.update({f"{k}_m": round(float(v), 3) for k, v in numbers.items()})
    return out


def served_buildings(twin: Twin, layer: Layer, segment_ids: set[str], reach: float = 60.0) -> list[dict[str, Any]]:
    """Buildings whose nearest segment of this network (within ``reach`` m) is among ``segment_ids``.

    A service connection is assumed to come from the nearest main: the usual stand-in where the
    data links no customer to a pipe.
    """
    kinds = np.strings.lower(twin.assets["kind"])
    building = np.flatnonzero(np.strings.find(kinds, "building") >= 0)
    building = building[np.isfinite(twin.assets.bounds[building]).all(axis=1)]
    if not len(building) or not segment_ids:
        return []
    samples = samples_of(twin, [layer], step=2.0)
    if not len(samples.points):
        return []
    distance, index = samples.tree_2d.query(twin.assets.centres[building][:, :2], distance_upper_bound=reach)
    found = np.isfinite(distance)
    out = []
    ids = twin.assets["id"]
    for b, d, i in zip(building[found], distance[found], index[found]):
        segment = str(ids[samples.owner[i]])
        if segment in segment_ids:
            out.append(
                {**_describe(twin, b, distance=d), "segment": segment, "address": str(twin.assets["address"][b])}
            )
    return out


def ring_centres(mesh: pv.PolyData) -> tuple[np.ndarray, np.ndarray]:
    """Centre-line vertices of a pipe tube mesh (in the mesh's current coordinates) and their owners.

    Reads the layout the pipe loader records on the mesh (``tube_sides`` rings per vertex row,
    ``ring_owner``), so the core needs no loader code to walk a tube.
    """
    sides = int(mesh.field_data["tube_sides"][0])
    points = np.asarray(mesh.points, dtype=np.float64).reshape(-1, sides, 3)
    return points.mean(axis=1), np.asarray(mesh.field_data["ring_owner"])
