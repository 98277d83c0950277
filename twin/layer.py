"""Layers: one merged dataset per source and kind, mapped to assets by an index array.

A loader hands back :class:`LayerPart` objects in float64 world coordinates (or, for big point
clouds, float32 coordinates relative to a given ``origin``); the twin turns each into a
:class:`Layer` in small float32 coordinates relative to the scene origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyvista as pv
from vtkmodules.util.numpy_support import vtk_to_numpy

from twin.assets import AssetTable

Association = Literal["cell", "point"]
Geometry = Literal["mesh", "lines", "points"]


#: field-data flag of a layer's dataset: every triangle belongs to a closed solid wound outward,
#: so a view may cull back faces (a software renderer then rasterises about half as much)
SINGLE_SIDED = "single_sided"


def single_sided(dataset: pv.DataSet) -> bool:
    """Whether a layer's dataset says its back faces may be culled (see :data:`SINGLE_SIDED`)."""
    flag = dataset.field_data.get(SINGLE_SIDED)
    return flag is not None and len(flag) == 1 and bool(flag[0])


@dataclass
class LayerStyle:
    """How a layer is drawn; ``color`` None means the palette's colour for its kind."""

    color: str | None = None
    opacity: float = 1.0
    visible: bool = True
    #: name of a point/cell array coloured directly as RGB (uint8, 3 components), if any
    rgb_array: str | None = None

    def merged(self, overrides: dict[str, Any]) -> LayerStyle:
        values = {**self.__dict__, **{k: v for k, v in overrides.items() if v is not None}}
        return LayerStyle(**values)


@dataclass
class LayerPart:
    """A loader's output for one layer: world float64 geometry (or float32 relative to
    ``origin``) plus its own asset rows.

    ``asset_index`` (per cell, or per point when ``association == "point"``) indexes ``assets``.
    """

    name: str
    dataset: pv.PolyData
    assets: AssetTable
    asset_index: np.ndarray
    association: Association = "cell"
    style: LayerStyle = field(default_factory=LayerStyle)
    #: world bounds of each asset ``(n, 6)`` if the loader measured them while reading (a point
    #: cloud does, chunk by chunk in cache); the twin measures them itself when this is None
    #: or when it moves the points (placement, reprojection)
    bounds: np.ndarray | None = None
    #: when set, ``dataset.points`` are float32 coordinates relative to this float64 world origin:
    #: the loader fused the twin's origin shift into its read (a point cloud does, to spare a
    #: second pass over millions of points); ``bounds``, if given, stay in world coordinates
    origin: np.ndarray | None = None

    def world_points(self) -> np.ndarray:
        """The part's points as float64 world coordinates (a new array when the part is local)."""
        points = np.asarray(self.dataset.points, dtype=np.float64)
        return points if self.origin is None else points + self.origin

    @property
    def geometry(self) -> Geometry:
        if self.association == "point" or self.dataset.n_cells == self.dataset.n_verts:
            return "points"
        if self.dataset.n_lines and not self.dataset.n_faces_strict:
            return "lines"
        return "mesh"


@dataclass
class Layer:
    """A layer of the scene: local float32 geometry whose ``asset_index`` indexes the twin's table.

    Its assets are the contiguous rows ``asset_start:asset_stop`` of the table.
    """

    name: str
    kind: str
    geometry: Geometry
    dataset: pv.PolyData
    association: Association
    style: LayerStyle
    source: str
    asset_start: int
    asset_stop: int

    @property
    def n_assets(self) -> int:
        return self.asset_stop - self.asset_start

    @property
    def asset_index(self) -> np.ndarray:
        data = self.dataset.cell_data if self.association == "cell" else self.dataset.point_data
        return data["asset_index"]

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "geometry": self.geometry,
            "assets": self.n_assets,
            "cells": int(self.dataset.n_cells),
            "points": int(self.dataset.n_points),
        }


def cell_point_ids(mesh: pv.PolyData) -> tuple[np.ndarray, np.ndarray]:
    """For every entry of the mesh's cell connectivity: the cell it belongs to and its point id.

    Cells are numbered as VTK numbers them in a PolyData: vertices, lines, polygons, strips.
    """
    cells, points, first = [], [], 0
    for array in (mesh.GetVerts(), mesh.GetLines(), mesh.GetPolys(), mesh.GetStrips()):
        n = array.GetNumberOfCells()
        if n == 0:
            continue
        offsets = vtk_to_numpy(array.GetOffsetsArray())
        points.append(vtk_to_numpy(array.GetConnectivityArray()))
        cells.append(np.repeat(np.arange(first, first + n), np.diff(offsets)))
        first += n
    if not cells:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(cells), np.concatenate(points)


def asset_bounds(points: np.ndarray, owner: np.ndarray, n_assets: int) -> np.ndarray:
    """World bounding box of each asset from its points; NaN for an asset with no points.

    ``owner[i]`` is the asset of ``points[i]``.  Vectorised: one sort, then ``reduceat``.
    """
    bounds = np.full((n_assets, 6), np.nan)
    if len(owner) == 0:
        return bounds
    if np.all(owner[1:] >= owner[:-1]):  # loaders usually emit assets in order: no sort needed
        owner_sorted, pts = owner, points
    else:
        order = np.argsort(owner, kind="stable")
        owner_sorted, pts = owner[order], points[order]
    starts = np.flatnonzero(np.r_[True, owner_sorted[1:] != owner_sorted[:-1]])
    assets = owner_sorted[starts]
    bounds[assets, 0::2] = np.minimum.reduceat(pts, starts, axis=0)
    bounds[assets, 1::2] = np.maximum.reduceat(pts, starts, axis=0)
    return bounds


def part_asset_bounds(part: LayerPart) -> np.ndarray:
    """Bounds of every asset of a part, from its float64 world points (or as the loader measured them)."""
    if part.bounds is not None:
        return np.asarray(part.bounds, dtype=np.float64)
    points = part.world_points()
    n = len(part.assets)
    if part.association == "point":
        return asset_bounds(points, np.asarray(part.asset_index), n)
    cell_ids, point_ids = cell_point_ids(part.dataset)
    entry_owner = np.asarray(part.asset_index)[cell_ids]
    point_owner = np.full(len(points), -1, dtype=entry_owner.dtype)
    point_owner[point_ids] = entry_owner
    if np.array_equal(point_owner[point_ids], entry_owner):
        # no point is shared by two assets: reduce over points, not over every cell corner
        used = point_owner >= 0
        if used.all():
            return asset_bounds(points, point_owner, n)
        return asset_bounds(points[used], point_owner[used], n)
    return asset_bounds(points[point_ids], entry_owner, n)
