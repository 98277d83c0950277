"""Picking by ray: which asset lies under a click, the same way for both rendering modes.

Server-side rendering gives a display position (the ray comes from the client's own server
camera); client-side rendering gives the ray vtk.js computed.  Either way the ray is
intersected on the server with the shared layer datasets: meshes through a cached
``vtkCellLocator`` (every hit along the ray, so clipped-away hits can be skipped); pipes, lines
and points by a vectorised distance-to-ray test with a tolerance of a few pixels, so a DN100 pipe
seen from 200 m (a pixel wide) is as easy to hit as a building.  In underground modes the caller
passes ``prefer`` (the pipe layers): a hit on them wins over the translucent ground or road in
front of them, and only a ray that meets no pipe falls through to everything else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import vtk
from vtkmodules.util.numpy_support import vtk_to_numpy

from twin.layer import Layer
from twin.nearby import ring_centres

PIXELS = 4.0  # pick tolerance for points and thin lines, in pixels


@dataclass
class Edges:
    """The centre line of a thin layer as straight edges ``a -> b`` (model coordinates), each
    with the radius drawn around it (a tube's; 0 for a plain line) and the element it belongs to."""

    a: np.ndarray
    b: np.ndarray
    radius: np.ndarray
    element: np.ndarray  #: cell id (lines) or the owning asset row (tubes)
    of_asset: bool  #: whether ``element`` is already an asset row


@dataclass
class Hit:
    """The nearest thing under the cursor: asset row, layer, world and local hit position."""

    asset: int
    layer: str
    local: np.ndarray
    distance: float
    point_id: int | None = None


class Locators:
    """One cell locator per layer dataset, built on first use and shared by every client view.

    Built again when the dataset changed since (a streamed city's layers are refreshed in place).
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str], tuple[tuple, object]] = {}

    def __call__(self, dataset) -> vtk.vtkCellLocator:
        locator: vtk.vtkCellLocator = self._kept(dataset, "locator", lambda: _locator(dataset))
        return locator

    def edges(self, layer: Layer) -> Edges | None:
        """The centre-line edges of a pipe (tube) or line layer, kept like the locators; ``None``
        for layers that are neither."""
        if "tube_sides" in layer.dataset.field_data:
            edges: Edges = self._kept(layer.dataset, "edges", lambda: _tube_edges(layer))
            return edges
        if layer.geometry == "lines":
            edges = self._kept(layer.dataset, "edges", lambda: _line_edges(layer.dataset))
            return edges
        return None

    def _kept(self, dataset, what: str, build: Callable[[], object]):
        """What ``build`` makes of ``dataset``, made again when its geometry changed since (a
        colour array written does not count; a streamed city's layers are refreshed in place)."""
        points = dataset.GetPoints()
        # the C++ object, not its Python wrapper: VTK makes a new wrapper (a new id) on every GetPoints()
        stamp = (points.__this__ if points else None, points.GetMTime() if points else 0, dataset.GetNumberOfCells())
        cached = self._cache.get((id(dataset), what))
        if cached is None or cached[0] != stamp:
            self._cache[(id(dataset), what)] = cached = (stamp, build())
        return cached[1]


def _locator(dataset) -> vtk.vtkCellLocator:
    locator = vtk.vtkCellLocator()
    locator.SetDataSet(dataset)
    locator.BuildLocator()
    return locator


def _tube_edges(layer: Layer) -> Edges:
    """A pipe layer's centre lines (ring centres, :func:`twin.nearby.ring_centres`) and radii."""
    centres, owner = ring_centres(layer.dataset)
    sides = int(layer.dataset.field_data["tube_sides"][0])
    rim = np.asarray(layer.dataset.points, dtype=np.float64).reshape(-1, sides, 3)[:, 0]
    radius = np.linalg.norm(rim - centres, axis=1)
    same = np.flatnonzero(owner[1:] == owner[:-1])
    return Edges(
        centres[same],
        centres[same + 1],
        np.maximum(radius[same], radius[same + 1]),
        owner[same] + layer.asset_start,
        of_asset=True,
    )


def _line_edges(dataset) -> Edges:
    """Every consecutive pair of points of every polyline cell."""
    lines = dataset.GetLines()
    connectivity = vtk_to_numpy(lines.GetConnectivityArray()).astype(np.int64)
    offsets = vtk_to_numpy(lines.GetOffsetsArray()).astype(np.int64)
    cell = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    same = np.flatnonzero(cell[1:] == cell[:-1])
    points = np.asarray(dataset.points, dtype=np.float64)
    return Edges(
        points[connectivity[same]],
        points[connectivity[same + 1]],
        np.zeros(len(same)),
        cell[same],
        of_asset=False,
    )


def display_ray(renderer, x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
    """The ray under display pixel ``(x, y)`` (origin bottom-left), from the near to the far plane."""
    ends = []
    for depth in (0.0, 1.0):
        renderer.SetDisplayPoint(x, y, depth)
        renderer.DisplayToWorld()
        wx, wy, wz, w = renderer.GetWorldPoint()
        ends.append(np.array([wx, wy, wz]) / (w or 1.0))
    return ends[0], ends[1]


def pick(
    layers: list[tuple[Layer, object]],
    start: np.ndarray,
    end: np.ndarray,
    pixel_angle: float,
    locators: Locators,
    keep: Callable[[np.ndarray], np.ndarray] | None = None,
    shown: dict[str, np.ndarray] | None = None,
    prefer: Callable[[Layer], bool] | None = None,
) -> Hit | None:
    """Nearest hit of the ray ``start -> end`` (local coordinates) on the given (layer, actor) pairs.

    ``pixel_angle`` is the angle of one pixel (radians), to size the tolerance with distance;
    ``keep(points)`` says which hit points survive the clip planes; ``shown[layer]`` masks the
    points a point layer's class filter hides; a hit on a layer ``prefer`` accepts wins over
    any nearer one on the others (pipes under translucent ground).
    """
    if prefer is not None:
        first = [pair for pair in layers if prefer(pair[0])]
        hit = pick(first, start, end, pixel_angle, locators, keep, shown)
        if hit is not None:
            return hit
        layers = [pair for pair in layers if not prefer(pair[0])]
    best: Hit | None = None
    for layer, actor in layers:
        inverse = _inverse(actor)
        p0, p1 = _apply(inverse, start), _apply(inverse, end)
        if layer.geometry == "points":
            hit = _pick_points(layer, p0, p1, pixel_angle, actor, keep, (shown or {}).get(layer.name))
        elif (edges := locators.edges(layer)) is not None:
            hit = _pick_edges(layer, edges, p0, p1, pixel_angle, actor, keep)
        else:
            hit = _pick_cells(layer, p0, p1, locators, actor, keep)
        if hit is not None and (best is None or hit.distance < best.distance):
            best = hit
    return best


def _pick_edges(layer, edges: Edges, p0, p1, pixel_angle, actor, keep) -> Hit | None:
    """The edge nearest the eye whose centre line passes within its radius plus ``PIXELS`` pixels
    of the ray: lines and pipes get a screen-space tolerance that grows with distance."""
    length = float(np.linalg.norm(p1 - p0))
    if not len(edges.a) or length == 0:
        return None
    direction = (p1 - p0) / length
    along, centre, gap = _ray_to_segments(p0, direction, edges.a, edges.b)
    near = np.flatnonzero((along > 0) & (gap <= edges.radius + along * pixel_angle * PIXELS))
    if keep is not None and len(near):
        near = near[keep(_apply_many(actor, centre[near]))]
    if not len(near):
        return None
    # the nearest along the ray, ties (a crossing seen from above) to the closest to the ray
    i = int(near[np.lexsort((gap[near], np.round(along[near], 2)))[0]])
    asset = int(edges.element[i]) if edges.of_asset else _asset_of(layer, int(edges.element[i]), cell=True)
    if asset is None:
        return None
    return Hit(asset, layer.name, _apply_many(actor, centre[i : i + 1])[0], float(along[i] / length))


def _ray_to_segments(
    origin: np.ndarray, direction: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each segment ``a -> b``: how far along the ray (unit ``direction``) it comes closest,
    its point closest to the ray, and the gap between them (vectorised over all segments)."""
    edge = b - a
    w = a - origin
    de, ee = edge @ direction, np.einsum("ij,ij->i", edge, edge)
    dw, ew = w @ direction, np.einsum("ij,ij->i", edge, w)
    denominator = ee - de * de  # |d|^2 |e|^2 - (d.e)^2 with |d| = 1
    safe = np.where(denominator > 1e-12 * np.maximum(ee, 1e-12), denominator, 1.0)
    u = np.where(denominator > 1e-12 * np.maximum(ee, 1e-12), (de * dw - ew) / safe, 0.0)
    u = np.clip(u, 0.0, 1.0)
    centre = a + u[:, None] * edge
    along = (centre - origin) @ direction
    gap = np.linalg.norm(origin + np.maximum(along, 0.0)[:, None] * direction - centre, axis=1)
    return along, centre, gap


def _pick_cells(layer, p0, p1, locators, actor, keep) -> Hit | None:
    points, cells = vtk.vtkPoints(), vtk.vtkIdList()
    length = float(np.linalg.norm(p1 - p0))
    locators(layer.dataset).IntersectWithLine(p0, p1, 0.0, points, cells)
    if points.GetNumberOfPoints() == 0:
        return None
    found = vtk_to_numpy(points.GetData()).astype(np.float64)
    ids = np.array([cells.GetId(i) for i in range(cells.GetNumberOfIds())])
    world = _apply_many(actor, found)
    ok = keep(world) if keep else np.ones(len(found), dtype=bool)
    if not ok.any():
        return None
    distance = np.linalg.norm(found - p0, axis=1) / max(length, 1e-12)
    distance[~ok] = np.inf
    i = int(np.argmin(distance))
    asset = _asset_of(layer, int(ids[i]), cell=True)
    return Hit(asset, layer.name, world[i], float(distance[i])) if asset is not None else None


def _pick_points(layer, p0, p1, pixel_angle, actor, keep, shown) -> Hit | None:
    pts = np.asarray(layer.dataset.points, dtype=np.float64)
    direction = p1 - p0
    length = float(np.linalg.norm(direction))
    if not len(pts) or length == 0:
        return None
    direction /= length
    rel = pts - p0
    t = rel @ direction
    perpendicular = np.linalg.norm(rel - np.outer(t, direction), axis=1)
    near = (t > 0) & (perpendicular <= np.maximum(t, 1e-6) * pixel_angle * PIXELS)
    if shown is not None:
        near &= shown
    candidates = np.flatnonzero(near)
    if keep is not None and len(candidates):
        candidates = candidates[keep(_apply_many(actor, pts[candidates]))]
    if not len(candidates):
        return None
    i = int(candidates[np.argmin(t[candidates])])
    asset = _asset_of(layer, i, cell=False)
    if asset is None:
        return None
    return Hit(asset, layer.name, _apply_many(actor, pts[i : i + 1])[0], float(t[i] / length), point_id=i)


def _asset_of(layer: Layer, element: int, cell: bool) -> int | None:
    if layer.association == "point" and cell:
        element = layer.dataset.get_cell(element).point_ids[0]
    index = layer.asset_index
    return int(index[element]) if 0 <= element < len(index) else None


def _inverse(actor) -> vtk.vtkMatrix4x4:
    inverse = vtk.vtkMatrix4x4()
    vtk.vtkMatrix4x4.Invert(actor.GetMatrix(), inverse)
    return inverse


def _apply(matrix, point: np.ndarray) -> np.ndarray:
    x, y, z, w = matrix.MultiplyPoint((*map(float, point), 1.0))
    return np.array([x, y, z]) / (w or 1.0)


def _apply_many(actor, points: np.ndarray) -> np.ndarray:
    """Actor (model) coordinates to scene coordinates: the actor's 4x4 matrix on every point."""
    m = np.array([[actor.GetMatrix().GetElement(r, c) for c in range(4)] for r in range(4)])
    return points @ m[:3, :3].T + m[:3, 3]
