"""Generated box-shaped assets, for scale tests and benchmarks (never a stand-in for real formats)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvista as pv

from twin.assets import AssetTable
from twin.layer import LayerPart
from twin.source import LoadedSource

# unit cube corners and its 6 quads, counter-clockwise seen from outside
_CORNERS = (
    np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=np.float64)
    - 0.5
)
_QUADS = np.array([[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]])


def box_arrays(centres: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points ``(8n, 3)`` and VTK face array ``(6n * 5,)`` of n axis-aligned boxes, vectorised."""
    n = len(centres)
    points = (centres[:, None, :] + _CORNERS[None, :, :] * sizes[:, None, :]).reshape(-1, 3)
    quads = _QUADS[None, :, :] + 8 * np.arange(n)[:, None, None]
    faces = np.concatenate([np.full((n, 6, 1), 4), quads], axis=2).reshape(-1)
    return points, faces


def box_source(
    centres: np.ndarray,
    sizes: np.ndarray | None = None,
    crs: str | None = None,
    name: str = "boxes",
    path: Path | str = "generated",
) -> LoadedSource:
    """A LoadedSource of n boxes (one asset each) at world ``centres`` (float64)."""
    centres = np.asarray(centres, dtype=np.float64)
    n = len(centres)
    sizes = np.ones((n, 3)) * 10.0 if sizes is None else np.asarray(sizes, dtype=np.float64)
    points, faces = box_arrays(centres, sizes)
    mesh = pv.PolyData(points, faces=faces)
    asset_index = np.repeat(np.arange(n), 6)
    ids = np.char.add("box-", np.arange(n).astype(str))
    assets = AssetTable.build(ids, kind="box", name=ids, attrs={"height_m": sizes[:, 2]})
    return LoadedSource(
        path=Path(path),
        kind="city",
        crs=crs,
        parts=[LayerPart(name=name, dataset=mesh, assets=assets, asset_index=asset_index)],
    )
