"""Where a manhole's overflow stands on the ground: ponding depth from the scene's terrain.

A node the nowcast expects to flood spills a volume; on the surface it gathers in the lowest
ground within reach of the node (a "bathtub" over a square window: the usual first estimate
of surface ponding where no 2D surface model is run).  The terrain is the scene's own DEM mesh,
resampled to a regular grid (linear between its vertices) around the node; the water level is
the one at which the ground below it holds the volume, found exactly from the sorted cell
heights in one pass.  Buildings and underground entrances whose centre stands in water are
listed with the depth there, and the reason their risk rises ("forecast flooding at J12 in
40 min").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.interpolate import LinearNDInterpolator

from twin.hydraulics.service import STR, buildings_of

if TYPE_CHECKING:
    from twin.scene import Twin

CELL_M = 2.0  #: grid spacing of the resampled ground
REACH_M = 150.0  #: half the window around the node where its water may gather
WET_M = 0.05  #: shallower water does not count as ponding (kerb-side films, DEM noise)
#: asset kinds that are ways underground (a basement ramp floods first)
UNDERGROUND = ("entrance", "underground", "basement", "subway", "metro", "地下", "出入口")


@dataclass(frozen=True)
class Pond:
    """The water one node spills, on a grid: depth per cell and the grid's placement."""

    x0: float  #: world x of the first column's centre
    y0: float  #: world y of the first row's centre
    cell_m: float
    depth: np.ndarray  #: (rows, columns) metres of water (0 where dry or off the terrain)
    level: float  #: water surface (world z)

    def at(self, xy: np.ndarray) -> np.ndarray:
        """Depth of water at world points (0 off the grid)."""
        col = np.rint((xy[:, 0] - self.x0) / self.cell_m).astype(np.int64)
        row = np.rint((xy[:, 1] - self.y0) / self.cell_m).astype(np.int64)
        inside = (row >= 0) & (row < self.depth.shape[0]) & (col >= 0) & (col < self.depth.shape[1])
        out = np.zeros(len(xy))
        out[inside] = self.depth[row[inside], col[inside]]
        return out


def terrain_points(twin: Twin) -> np.ndarray | None:
    """World (x, y, z) of the vertices of the scene's first terrain layer, if it has one."""
    for layer in twin.layers:
        if layer.kind == "terrain" and layer.dataset.n_points:
            origin = np.zeros(3) if twin.origin is None else twin.origin
            points: np.ndarray = np.asarray(layer.dataset.points, dtype=np.float64) + origin
            return points
    return None


def pond(ground: np.ndarray, x: float, y: float, volume_m3: float, cell_m: float = CELL_M) -> Pond | None:
    """The pond ``volume_m3`` makes around world (x, y) on the ``ground`` points; ``None`` off the terrain."""
    near = ground[(np.abs(ground[:, 0] - x) <= REACH_M + cell_m) & (np.abs(ground[:, 1] - y) <= REACH_M + cell_m)]
    if len(near) < 3 or volume_m3 <= 0:
        return None
    steps = np.arange(-REACH_M, REACH_M + cell_m / 2, cell_m)
    gx, gy = np.meshgrid(x + steps, y + steps)
    z = LinearNDInterpolator(near[:, :2], near[:, 2])(gx, gy)
    usable = np.isfinite(z)
    if not usable.any():
        return None
    heights = np.sort(z[usable])
    area = cell_m * cell_m
    # capacity below each cell's height: sum over lower cells of (h_k - h_i) * area
    below = np.arange(len(heights))
    capacity = (heights * below - np.r_[0.0, np.cumsum(heights)[:-1]]) * area
    k = int(np.searchsorted(capacity, volume_m3, side="right"))  # cells 0..k-1 are under water
    level = float(heights[k - 1] + (volume_m3 - capacity[k - 1]) / (k * area))
    depth = np.where(usable, np.maximum(level - np.nan_to_num(z, nan=level), 0.0), 0.0)
    return Pond(float(x - REACH_M), float(y - REACH_M), cell_m, depth, level)


def ponding(twin: Twin, nodes: list[dict[str, Any]], xy: np.ndarray) -> None:
    """Add to each flooding node (with its world ``xy``) its pond on the terrain and the
    buildings and underground entrances in it, in place; nothing without a terrain."""
    ground = terrain_points(twin)
    if ground is None:
        return
    a = twin.assets
    kinds = np.strings.lower(a["kind"].astype(STR, copy=False))
    way_down = np.zeros(len(kinds), dtype=bool)
    for word in UNDERGROUND:
        way_down |= np.strings.find(kinds, word) >= 0
    rows = np.union1d(buildings_of(twin), np.flatnonzero(way_down & np.isfinite(a.bounds).all(axis=1)))
    centres = a.centres[rows, :2]
    for node, (x, y) in zip(nodes, xy.tolist()):
        water = pond(ground, x, y, float(node.get("volume_m3", 0.0))) if np.isfinite([x, y]).all() else None
        if water is None:
            continue
        wet = water.depth >= WET_M
        depth = water.at(centres)
        hit = np.flatnonzero(depth >= WET_M)
        hit = hit[np.argsort(-depth[hit], kind="stable")]
        node["ponding"] = {
            "x": round(x, 2),  # where the node spills (world), so the pond can be drawn again
            "y": round(y, 2),
            "level_m": round(water.level, 3),
            "max_depth_m": round(float(water.depth.max()), 3),
            "area_m2": round(float(wet.sum()) * water.cell_m**2, 1),
        }
        node["flooded"] = [
            {
                "id": str(a["id"][rows[i]]),
                "kind": str(a["kind"][rows[i]]),
                "depth_m": round(float(depth[i]), 3),
                "underground": bool(way_down[rows[i]]),
                "reason": node["reason"],
            }
            for i in hit.tolist()
        ]
