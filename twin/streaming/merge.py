"""Loaded tile contents into ONE merged PolyData per layer, with the asset row of every cell or point.

Never one actor per tile or per asset: a view draws one mesh per layer whatever it streams, so
recolouring stays one array write (``numpy.take`` of the per-asset colours by ``asset_index``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyvista as pv
import vtk
from vtkmodules.util.numpy_support import numpy_to_vtkIdTypeArray

from twin.layer import SINGLE_SIDED
from twin.streaming.content import TileContent


def merge(contents: Sequence[TileContent], points: bool) -> pv.PolyData:
    """Join contents of one layer (all triangles, or all points) into one PolyData.

    Triangles carry the cell array ``asset_index`` (the asset row of each triangle's first corner),
    points the point array ``asset_index``; both int32, -1 where the file names no asset.  A mesh
    whose every content is single-sided says so in its field data, so a
    view may cull its back faces (:func:`twin.layer.single_sided`).
    """
    parts = [c for c in contents if c.is_points == points and len(c.points)]
    if not parts:
        return empty(points)
    xyz = np.concatenate([c.points for c in parts]).astype(np.float32, copy=False)
    rows = np.concatenate([c.vertex_rows for c in parts]).astype(np.int32)
    mesh = pv.PolyData()
    mesh.points = xyz
    n = len(xyz)
    if points:
        mesh.verts = _cells(np.arange(n, dtype=np.int64).reshape(-1, 1))
        mesh.point_data["asset_index"] = rows
        return mesh
    starts = np.cumsum([0] + [len(c.points) for c in parts[:-1]])
    triangles = np.concatenate([c.triangles + s for c, s in zip(parts, starts)])
    mesh.polys = _cells(triangles)
    mesh.cell_data["asset_index"] = rows[triangles[:, 0]] if len(triangles) else np.empty(0, np.int32)
    mesh.field_data[SINGLE_SIDED] = np.array([all(c.single_sided for c in parts)], dtype=np.uint8)
    return mesh


def empty(points: bool) -> pv.PolyData:
    """A layer with nothing loaded yet: no cells, but the ``asset_index`` array in place.

    It holds one point that no cell uses (nothing is drawn): a view refuses a mesh without points,
    and a layer the overview leaves out (over the budget) must still get its actor.
    """
    mesh = pv.PolyData()
    mesh.points = np.zeros((1, 3), dtype=np.float32)
    if points:
        mesh.verts = _cells(np.empty((0, 1), dtype=np.int64))
        mesh.point_data["asset_index"] = np.full(1, -1, dtype=np.int32)
    else:
        mesh.cell_data["asset_index"] = np.empty(0, dtype=np.int32)
    return mesh


def _cells(connectivity: np.ndarray) -> vtk.vtkCellArray:
    """Cells of equal size from an ``(m, k)`` array of point ids, without a Python loop."""
    m, k = connectivity.shape
    cells = vtk.vtkCellArray()
    offsets = numpy_to_vtkIdTypeArray(np.arange(0, (m + 1) * k, k, dtype=np.int64), deep=True)
    flat = numpy_to_vtkIdTypeArray(np.ascontiguousarray(connectivity, dtype=np.int64).ravel(), deep=True)
    cells.SetData(offsets, flat)
    return cells


def colour_by_rows(mesh: pv.PolyData, name: str, per_asset_rgb: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Write (or create) the uint8 RGB array ``name`` from one colour per asset row: one ``take``.

    Elements without an asset (``asset_index`` -1) get ``fallback``.
    """
    data = mesh.point_data if "asset_index" in mesh.point_data.keys() else mesh.cell_data
    index = np.asarray(data["asset_index"])
    if name not in data.keys() or len(data[name]) != len(index):
        data[name] = np.zeros((len(index), 3), dtype=np.uint8)
    out: np.ndarray = data[name]
    np.take(per_asset_rgb, index, axis=0, out=out, mode="clip")
    if len(index) and index.min() < 0:
        out[index < 0] = fallback
    data.GetArray(name).Modified()
    return out
