"""Emergency resources (rescue teams, equipment depots, shelters, experts) and how fast each can
reach an incident over the scene's streets.

Resources come from a CSV (columns ``id, name, kind, skills, x, y`` and optional ``phone,
capacity, speed_kmh``; ``skills`` separated by ``;``) or a GeoJSON of Points with the same
properties, in the scene's CRS (``[live] resources``).  The streets are the centre lines of the
scene's roads, a GeoJSON of LineStrings (``[live] streets``): lines that share a vertex (within
:data:`SNAP_M`) are joined there.  A trip is the straight leg from the resource to the nearest
street vertex, the shortest path along the streets (Dijkstra, :mod:`scipy.sparse.csgraph`) and
the straight leg to the incident; its time is the street distance at the resource's speed and
the legs off the street on foot.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from twin.errors import InputError

KINDS = ("team", "depot", "shelter", "expert")
#: km/h along the streets by kind (emergency vehicles in city traffic; people walk to a shelter)
SPEED_KMH = {"team": 30.0, "depot": 25.0, "shelter": 4.0, "expert": 30.0}
WALK_KMH = 4.0  # off the street network
SNAP_M = 0.5


@dataclass
class Resources:
    """Resources as columns (``xy`` in world metres)."""

    ids: list[str]
    names: list[str]
    kinds: list[str]
    skills: list[frozenset[str]]
    xy: np.ndarray
    phone: list[str]
    capacity: np.ndarray
    speed_kmh: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def suits(self, need: str) -> np.ndarray:
        """Which resources are of the kind ``need`` or have it as a skill."""
        return np.array([k == need or need in s for k, s in zip(self.kinds, self.skills)], dtype=bool)

    def row(self, i: int) -> dict[str, Any]:
        return {
            "id": self.ids[i],
            "name": self.names[i],
            "kind": self.kinds[i],
            "skills": sorted(self.skills[i]),
            "x": float(self.xy[i, 0]),
            "y": float(self.xy[i, 1]),
            "phone": self.phone[i],
            "capacity": float(self.capacity[i]),
        }


def read_resources(path: Path) -> Resources:
    """Read a resources CSV or GeoJSON; a bad row is an InputError naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(path, f"cannot read the resources file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, "not UTF-8 text", where=f"byte {exc.start}") from None
    rows = _geojson_rows(path, text) if path.suffix.lower() in (".geojson", ".json") else _csv_rows(text)
    clean = [_row(path, r, where) for where, r in rows]
    ids = [c["id"] for c in clean]
    twice = next((i for i in ids if ids.count(i) > 1), None)
    if twice:
        raise InputError(path, f"two resources have the id {twice!r}")
    return Resources(
        ids=ids,
        names=[c["name"] for c in clean],
        kinds=[c["kind"] for c in clean],
        skills=[c["skills"] for c in clean],
        xy=np.array([[c["x"], c["y"]] for c in clean], dtype=np.float64).reshape(-1, 2),
        phone=[c["phone"] for c in clean],
        capacity=np.array([c["capacity"] for c in clean], dtype=np.float64),
        speed_kmh=np.array([c["speed_kmh"] for c in clean], dtype=np.float64),
    )


def _csv_rows(text: str) -> list[tuple[str, dict[str, Any]]]:
    return [(f"line {i + 2}", dict(r)) for i, r in enumerate(csv.DictReader(text.splitlines()))]


def _geojson_rows(path: Path, text: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid GeoJSON ({exc})") from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise InputError(path, "expected a GeoJSON FeatureCollection with a features list")
    out = []
    for i, f in enumerate(features):
        geom = f.get("geometry") if isinstance(f, dict) else None
        if not isinstance(geom, dict) or geom.get("type") != "Point":
            raise InputError(path, "a resource must be a Point feature", where=f"feature {i}")
        coords = geom.get("coordinates")
        props = f.get("properties") or {}
        if not isinstance(coords, list) or len(coords) < 2 or not isinstance(props, dict):
            raise InputError(path, "malformed Point", where=f"feature {i}")
        out.append((f"feature {i}", {**props, "x": coords[0], "y": coords[1]}))
    return out


def _row(path: Path, r: dict[str, Any], where: str) -> dict[str, Any]:
    for key in ("id", "kind", "x", "y"):
        if r.get(key) in (None, ""):
            raise InputError(path, f"missing {key}", where=where)
    kind = str(r["kind"]).strip()
    if kind not in KINDS:
        raise InputError(path, f"kind must be one of {', '.join(KINDS)}, not {kind!r}", where=where)
    skills = r.get("skills") or ""
    skill_set = frozenset(s.strip() for s in (skills if isinstance(skills, list) else str(skills).split(";")))
    return {
        "id": str(r["id"]).strip(),
        "name": str(r.get("name") or r["id"]).strip(),
        "kind": kind,
        "skills": skill_set - {""},
        "x": _number(path, r["x"], where, "x"),
        "y": _number(path, r["y"], where, "y"),
        "phone": str(r.get("phone") or ""),
        "capacity": _number(path, r.get("capacity") or 0, where, "capacity"),
        "speed_kmh": _number(path, r.get("speed_kmh") or SPEED_KMH[kind], where, "speed_kmh"),
    }


def _number(path: Path, value: Any, where: str, key: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(path, f"{key} must be a number, not {value!r}", where=where) from None
    if not math.isfinite(out) or abs(out) > 1e9:
        raise InputError(path, f"{key} must be a finite coordinate or amount, not {value!r}", where=where)
    return out


class Streets:
    """The street centre lines as a weighted graph over their (snapped) vertices, with a vertex
    at least every 10 m so a place joins the street close by."""

    def __init__(self, lines: list[np.ndarray]) -> None:
        lines = [_densify(line) for line in lines]
        points = np.concatenate(lines) if lines else np.zeros((0, 2))
        keys = np.round(points / SNAP_M).astype(np.int64)
        _, first, node = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        node = node.ravel()
        self.xy = points[first]
        starts = np.cumsum([0] + [len(line) for line in lines])[:-1]
        ends = starts + np.array([len(line) for line in lines], dtype=np.int64)
        inner = np.ones(len(points), dtype=bool)
        inner[ends - 1] = False  # no edge from a line's last vertex to the next line's first
        a, b = node[:-1][inner[:-1]], node[1:][inner[:-1]]
        length = np.hypot(*(self.xy[a] - self.xy[b]).T)
        n = len(self.xy)
        self.graph = coo_matrix((length, (a, b)), shape=(n, n)).tocsr()
        self.tree = cKDTree(self.xy) if n else None

    def __len__(self) -> int:
        return len(self.xy)

    def trips(self, xy: np.ndarray, targets: np.ndarray) -> Trips:
        """Trips from each target to ``xy`` (the shortest along the streets; straight without streets)."""
        if self.tree is None:
            return Trips(np.zeros(len(targets)), np.hypot(*(targets - xy).T), np.zeros(len(targets)), xy, targets)
        d0, n0 = self.tree.query(xy)
        d1, n1 = self.tree.query(targets)
        along, pred = dijkstra(self.graph, directed=False, indices=int(n0), return_predecessors=True)
        street = (self.xy, np.asarray(pred), np.asarray(n1))
        return Trips(along[n1], np.full(len(targets), float(d0)), np.asarray(d1), xy, targets, street)


@dataclass
class Trips:
    """Trips from several places (resources) to one (an incident): metres along the streets and
    off them at either end, and the route of each, to draw."""

    along: np.ndarray
    off_start: np.ndarray  # at the incident's end
    off_end: np.ndarray  # at the resource's end
    to: np.ndarray
    origins: np.ndarray
    street: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # vertices, predecessors, nodes of origins

    def route(self, i: int) -> list[list[float]]:
        """The polyline from origin ``i`` along the streets to the destination (world x, y)."""
        points = [self.origins[i]]
        if self.street is not None:
            vertices, pred, nodes = self.street
            node = int(nodes[i])
            while node >= 0:
                points.append(vertices[node])
                node = int(pred[node])
        points.append(self.to)
        return [[round(float(x), 2), round(float(y), 2)] for x, y in points]


def read_streets(path: Path) -> Streets:
    """Street centre lines from a GeoJSON of LineStrings (MultiLineStrings give each part)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(path, f"cannot read the streets file ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid GeoJSON ({exc})") from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise InputError(path, "expected a GeoJSON FeatureCollection with a features list")
    lines: list[np.ndarray] = []
    for i, f in enumerate(features):
        geom = f.get("geometry") if isinstance(f, dict) else None
        geom = geom if isinstance(geom, dict) else {}
        kind, coords = geom.get("type"), geom.get("coordinates")
        parts = [coords] if kind == "LineString" else coords
        if kind not in ("LineString", "MultiLineString") or not isinstance(parts, list):
            raise InputError(path, "a street must be a LineString or MultiLineString", where=f"feature {i}")
        try:
            lines += [np.asarray([c[:2] for c in part], dtype=np.float64).reshape(-1, 2) for part in parts]
        except (TypeError, ValueError, IndexError):
            raise InputError(path, "malformed line coordinates", where=f"feature {i}") from None
    if any(not np.isfinite(line).all() for line in lines):
        raise InputError(path, "coordinates must be finite numbers")
    return Streets([line for line in lines if len(line) >= 2])


def _densify(line: np.ndarray, step_m: float = 10.0) -> np.ndarray:
    """The line with a vertex at least every ``step_m``, so a place joins the street close by."""
    pieces = np.maximum(np.ceil(np.hypot(*np.diff(line, axis=0).T) / step_m), 1).astype(np.int64)
    at = np.concatenate([np.arange(n) / n for n in pieces.tolist()])
    seg = np.repeat(np.arange(len(pieces)), pieces)
    points = line[seg] + (line[seg + 1] - line[seg]) * at[:, None]
    return np.vstack([points, line[-1:]])


def nearest(
    resources: Resources, streets: Streets | None, xy: np.ndarray, needs: list[str], per_need: int = 3
) -> list[dict[str, Any]]:
    """For each need (a kind or a skill), the ``per_need`` resources that reach ``xy`` soonest,
    each with its trip's distance, time and route (a polyline to draw in 3D)."""
    if not len(resources):
        return []
    trips = (streets or Streets([])).trips(xy, resources.xy)
    along, off0, off1 = trips.along, trips.off_start, trips.off_end
    minutes = (along / resources.speed_kmh + (off0 + off1) / WALK_KMH) * 60.0 / 1000.0
    out = []
    for need in dict.fromkeys(needs):
        fit = np.flatnonzero(resources.suits(need) & np.isfinite(minutes))
        for i in fit[np.argsort(minutes[fit], kind="stable")][:per_need].tolist():
            out.append(
                {
                    **resources.row(i),
                    "need": need,
                    "street_m": round(float(along[i]), 1),
                    "distance_m": round(float(along[i] + off0[i] + off1[i]), 1),
                    "minutes": round(float(minutes[i]), 1),
                    "route": trips.route(i),
                }
            )
    return out
