"""The scene layer of a cloud: a PolyData of vertex cells and one asset per class.

Vertex cells (one per point, so a picked cell id is the point id) are built without a Python
loop and without memory: implicit (affine) connectivity and offsets.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonCore import vtkDataArray
from vtkmodules.vtkCommonDataModel import vtkCellArray

from twin.assets import AssetTable
from twin.colours.point_classes import class_name


def point_polydata(xyz: np.ndarray, arrays: dict[str, np.ndarray], asset_index: np.ndarray) -> pv.PolyData:
    """A PolyData over ``xyz`` (float64, not copied) with one vertex cell per point and the arrays."""
    dataset = pv.PolyData()
    dataset.points = xyz
    dataset.SetVerts(vertex_cells(len(xyz)))
    if len(xyz):  # VTK refuses empty multi-component arrays; an empty cloud has no arrays
        for name, values in arrays.items():
            dataset.point_data[name] = values
        dataset.point_data["asset_index"] = asset_index
    return dataset


def vertex_cells(n: int) -> vtkCellArray:
    """``n`` single-point cells stored as two implicit (affine) arrays: ids 0..n-1, offsets 0..n.

    They take no memory per point, yet picking, extraction and thresholds work as on explicit cells.
    """
    cells = vtkCellArray()
    kind = "int32" if n < 2**31 - 1 else "int64"
    try:
        cells.SetData(_affine(n + 1, kind), _affine(n, kind))  # on failure it holds no cells
        if cells.GetNumberOfCells() == n:
            return cells
    except (ImportError, TypeError, KeyError):
        pass  # a VTK without implicit arrays in cell arrays (before 9.5): store the ids
    ids = np.arange(n + 1, dtype=np.int32 if kind == "int32" else np.int64)
    cells = vtkCellArray()
    cells.SetData(numpy_to_vtk(ids, deep=False), numpy_to_vtk(ids[:-1], deep=False))
    return cells


def _affine(length: int, kind: str) -> vtkDataArray:
    """The integers 0, 1, ..., length - 1 without storing them (VTK's implicit affine array)."""
    from vtkmodules.vtkCommonCore import vtkAffineArray

    values = vtkAffineArray[kind]()  # type: ignore[index]  # the stubs know no template lookup by name
    values.ConstructBackend(1, 0)
    values.SetNumberOfComponents(1)
    values.SetNumberOfTuples(length)
    array: vtkDataArray = values
    return array


def class_assets(
    stem: str,
    class_counts: np.ndarray,
    shown_counts: np.ndarray,
    classification: np.ndarray,
) -> tuple[AssetTable, np.ndarray]:
    """One asset per class present, id ``<stem>/class-<code>``, and each point's asset (uint8).

    ``class_counts`` are the points of each class read, ``shown_counts`` those kept in the layer.
    """
    codes = np.flatnonzero(class_counts)
    lookup = np.zeros(256, dtype=np.uint8)
    lookup[codes] = np.arange(len(codes), dtype=np.uint8)
    assets = AssetTable.build(
        [f"{stem}/class-{c}" for c in codes],
        kind="point class",
        name=[class_name(c) for c in codes],
        attrs={
            "class_code": codes.astype(np.float64),
            "points": class_counts[codes].astype(np.float64),
            "points_shown": shown_counts[codes].astype(np.float64),
        },
    )
    return assets, np.take(lookup, classification)  # take: faster than fancy indexing
