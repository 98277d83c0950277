"""An incident's resource routes in 3D: the street path of each listed resource to the incident,
merged into one polyline mesh just above the ground, and a marker at each resource.

The routes come with the incident (:func:`twin.risk.resources.nearest` gives each resource's
path along the scene's streets as world x, y); the heights come from the scene's terrain (the
nearest vertex of its ground mesh), so a route follows the ground instead of cutting through
it.  One mesh for all routes: one actor per browser, however many resources are listed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyvista as pv
from scipy.spatial import cKDTree

from twin.scene import Twin

LIFT_M = 1.5  #: a route is drawn this far above the ground (streets and terrain are translucent)


class Ground:
    """The ground's height under world x, y: the scene's terrain layers, else a height given."""

    def __init__(self, twin: Twin) -> None:
        self.twin = twin
        self._tree: cKDTree | None = None
        self._z = np.zeros(0)
        self._built = False

    def _build(self) -> None:
        points = [np.asarray(layer.dataset.points) for layer in self.twin.layers if layer.kind == "terrain"]
        points = [p for p in points if len(p)]
        if points:
            every = np.concatenate(points)
            self._tree, self._z = cKDTree(every[:, :2]), every[:, 2]
        self._built = True

    def lifted(self, world_xy: np.ndarray, otherwise_z: float) -> np.ndarray:
        """Scene (local) points above the ground at world ``xy``; ``otherwise_z`` (local) without terrain."""
        if not self._built:
            self._build()
        xy = np.asarray(world_xy, dtype=np.float64).reshape(-1, 2)
        origin = np.zeros(3) if self.twin.origin is None else np.asarray(self.twin.origin, dtype=np.float64)
        local = xy - origin[:2]
        z = np.full(len(local), float(otherwise_z))
        if self._tree is not None and len(local):
            z = self._z[self._tree.query(local)[1]]
        return np.column_stack([local, z + LIFT_M])


def route_mesh(resources: list[dict[str, Any]], ground: Ground, otherwise_z: float) -> pv.PolyData:
    """Every resource's route as one polyline cell of one mesh (empty without routes)."""
    paths = [np.asarray(r["route"], dtype=np.float64) for r in resources if len(r.get("route") or []) >= 2]
    if not paths:
        return pv.PolyData()
    points = ground.lifted(np.concatenate(paths), otherwise_z)
    sizes = np.array([len(p) for p in paths])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    cells = np.concatenate([np.concatenate([[n], s + np.arange(n)]) for n, s in zip(sizes, starts, strict=True)])
    return pv.PolyData(points, lines=cells.astype(np.int64))


def resource_points(resources: list[dict[str, Any]], ground: Ground, otherwise_z: float) -> np.ndarray:
    """Where each listed resource is (scene points above the ground), once per resource."""
    seen = {r["id"]: (r["x"], r["y"]) for r in resources}
    return ground.lifted(np.array(list(seen.values()), dtype=np.float64).reshape(-1, 2), otherwise_z)
