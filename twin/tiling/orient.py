"""Outward winding for closed solids, so their tiles can be drawn single-sided.

A glTF material that is not ``doubleSided`` has its back faces culled by every viewer (CesiumJS,
and the twin's own streaming view), which halves what a software renderer rasterises over a
city of boxes.  That is only right for a closed, consistently wound solid: culling an open or
inconsistently wound surface punches holes in it.  So each asset is checked — every directed
edge of its triangles must meet its reverse exactly once (a closed, consistent shell) — and a
closed asset whose signed volume is negative (wound inward, as some CityJSON files are) is
turned outward.  Open surfaces (roads, land use, terrain, LoD2 buildings without a floor) are
left as they are and stay double-sided.
"""

from __future__ import annotations

import numpy as np

#: positions are welded on this grid (metres) before edges are matched: loaders may repeat a
#: corner per surface
WELD_M = 1e-3


def orient_solids(points: np.ndarray, corners: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The triangles ``corners`` (``(m, 3)`` ids into ``points``) wound outward where their asset
    is a closed solid, and which owners are closed.

    ``owners`` is each triangle's asset; returns ``(corners, closed)`` with ``closed`` a boolean
    per triangle (its asset is a closed, consistently wound shell, now outward).
    """
    if not len(corners):
        return corners, np.zeros(0, dtype=bool)
    welded = np.unique(
        np.round(np.asarray(points, dtype=np.float64) / WELD_M).astype(np.int64), axis=0, return_inverse=True
    )[1]
    ids = welded.ravel()[corners]
    _, asset = np.unique(owners, return_inverse=True)
    closed_asset = _closed(ids, asset)
    closed = closed_asset[asset]
    flip = closed & (_signed_volumes(points, corners, asset)[asset] < 0)
    oriented = corners.copy()
    oriented[flip, 1], oriented[flip, 2] = corners[flip, 2], corners[flip, 1]
    return oriented, closed


def _closed(ids: np.ndarray, asset: np.ndarray) -> np.ndarray:
    """Per asset: every directed edge has exactly one reverse, and no edge is repeated."""
    start = ids.ravel()
    stop = ids[:, [1, 2, 0]].ravel()
    owner = np.repeat(asset, 3)
    proper = start != stop  # a degenerate triangle's zero-length edge says nothing
    low, high = np.minimum(start, stop), np.maximum(start, stop)
    edges = np.column_stack([owner, low, high])[proper]
    forward = (start < stop)[proper]
    _, edge, counts = np.unique(edges, axis=0, return_inverse=True, return_counts=True)
    ahead = np.bincount(edge.ravel(), weights=forward, minlength=len(counts))
    good_edge = (counts == 2) & (ahead == 1)
    n_assets = int(asset.max()) + 1
    bad = np.bincount(owner[proper][~good_edge[edge.ravel()]], minlength=n_assets)
    closed: np.ndarray = bad == 0
    return closed


def _signed_volumes(points: np.ndarray, corners: np.ndarray, asset: np.ndarray) -> np.ndarray:
    """Per asset, the volume its triangles enclose (positive when wound outward), about its own
    centroid so that city-sized coordinates do not swamp a building's volume."""
    xyz = np.asarray(points, dtype=np.float64)[corners]  # (m, 3, 3)
    n_assets = int(asset.max()) + 1
    counts = np.bincount(asset, minlength=n_assets)[:, None]
    centre = np.column_stack(
        [np.bincount(asset, weights=xyz[:, :, k].mean(axis=1), minlength=n_assets) for k in range(3)]
    )
    xyz = xyz - (centre / np.maximum(counts, 1))[asset][:, None, :]
    volume = np.einsum("ij,ij->i", xyz[:, 0], np.cross(xyz[:, 1], xyz[:, 2])) / 6.0
    return np.bincount(asset, weights=volume, minlength=n_assets)
