"""Levels of detail: LoD1 boxes for coarse tiles, decimated large meshes, thinned point clouds.

A coarse node (level k >= 1) replaces its children (``refine: REPLACE``) with one box per asset
at least half its geometric error across (smaller ones are not drawn that far out), and with
a decimated copy of the assets too large to box (terrain, long roads).  Point clouds are
thinned by level and refined additively (``refine: ADD``): each point lives in exactly one
node, at level ``l`` with probability ``3/4 * 4**-l``, so every level carries about the same
number of points per node.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv

#: the 12 triangles of a box over its 8 corners (corner c has x = bit 0, y = bit 1, z = bit 2)
_BOX_TRIANGLES = np.array(
    [
        [0, 2, 1], [1, 2, 3],  # bottom
        [4, 5, 6], [5, 7, 6],  # top
        [0, 1, 4], [1, 5, 4],  # south
        [2, 6, 3], [3, 6, 7],  # north
        [0, 4, 2], [2, 4, 6],  # west
        [1, 3, 5], [3, 7, 5],  # east
    ]
)  # fmt: skip


def box_triangles(bounds: np.ndarray) -> np.ndarray:
    """Corner coordinates of the 12 triangles of each box, ``(n * 36, 3)`` float64.

    ``bounds`` is ``(n, 6)`` as ``[xmin, xmax, ymin, ymax, zmin, zmax]``; outward winding.
    """
    bits = (np.arange(8)[:, None] >> np.arange(3)) & 1  # (8, 3): min (0) or max (1) per axis
    corners = bounds.reshape(-1, 3, 2)[:, np.arange(3)[None, :], bits]  # (n, 8, 3)
    return corners[:, _BOX_TRIANGLES.ravel()].reshape(-1, 3)


def decimate(points: np.ndarray, triangles: np.ndarray, keep: float) -> tuple[np.ndarray, np.ndarray]:
    """A mesh reduced to about ``keep`` of its triangles (vtkQuadricDecimation), as points and triangles."""
    if keep >= 1.0 or len(triangles) < 64:
        return points, triangles
    faces = np.column_stack([np.full(len(triangles), 3), triangles]).ravel()
    mesh = pv.PolyData(np.asarray(points, dtype=np.float64), faces).clean()
    reduced = mesh.decimate(1.0 - max(keep, 0.01), volume_preservation=True)
    if reduced.n_cells == 0:
        return points, triangles
    reduced_faces: np.ndarray = reduced.regular_faces
    return np.asarray(reduced.points, dtype=np.float64), reduced_faces


def point_levels(count: int, top: int, seed: int) -> np.ndarray:
    """The level each of ``count`` points is shown from (0 = leaf only), deterministic per ``seed``.

    ``P(level >= k) = 4**-k``, capped at ``top``: a node at any level holds about the points of
    one leaf, so a coarse view of the whole cloud costs what one leaf does.
    """
    uniform = np.random.default_rng(seed).random(count)
    levels = np.floor(-np.log(np.maximum(uniform, 1e-300)) / np.log(4.0)).astype(np.int64)
    capped: np.ndarray = np.minimum(levels, top)
    return capped
