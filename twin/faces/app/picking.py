"""Picking by ray: which asset lies under a click, the same way for both rendering modes.

Server-side rendering gives a display position (the ray comes from the client's own server
camera); client-side rendering gives the ray vtk.js computed.  Either way the ray is
intersected on the server with the shared layer datasets: meshes and tubes through a cached
``vtkCellLocator`` (every hit along the ray, so clipped-away hits can be skipped), points by a
vectorised distance-to-ray test with a tolerance of a few pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import vtk
from vtkmodules.util.numpy_support import vtk_to_numpy

from twin.layer import Layer

PIXELS = 4.0  # pick tolerance for points and thin lines, in pixels


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
        self._cache: dict[int, tuple[tuple, vtk.vtkCellLocator]] = {}

    def __call__(self, dataset) -> vtk.vtkCellLocator:
        points = dataset.GetPoints()  # geometry only: a colour array written does not rebuild it
        key, stamp = id(dataset), (id(points), points.GetMTime() if points else 0, dataset.GetNumberOfCells())
        cached = self._cache.get(key)
        if cached is None or cached[0] != stamp:
            locator = vtk.vtkCellLocator()
            locator.SetDataSet(dataset)
            locator.BuildLocator()
            self._cache[key] = cached = (stamp, locator)
        return cached[1]


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
) -> Hit | None:
    """Nearest hit of the ray ``start -> end`` (local coordinates) on the given (layer, actor) pairs.

    ``pixel_angle`` is the angle of one pixel (radians), to size the tolerance with distance;
    ``keep(points)`` says which hit points survive the clip planes; ``shown[layer]`` masks the
    points a point layer's class filter hides.
    """
    best: Hit | None = None
    for layer, actor in layers:
        inverse = _inverse(actor)
        p0, p1 = _apply(inverse, start), _apply(inverse, end)
        if layer.geometry == "points":
            hit = _pick_points(layer, p0, p1, pixel_angle, actor, keep, (shown or {}).get(layer.name))
        else:
            hit = _pick_cells(layer, p0, p1, pixel_angle, locators, actor, keep)
        if hit is not None and (best is None or hit.distance < best.distance):
            best = hit
    return best


def _pick_cells(layer, p0, p1, pixel_angle, locators, actor, keep) -> Hit | None:
    points, cells = vtk.vtkPoints(), vtk.vtkIdList()
    length = float(np.linalg.norm(p1 - p0))
    tolerance = 0.0 if layer.geometry == "mesh" else pixel_angle * PIXELS
    locators(layer.dataset).IntersectWithLine(p0, p1, tolerance, points, cells)
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
