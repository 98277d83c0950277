"""Partitioning space: a quadtree of square cells anchored at the scene origin.

Leaves are ``tile_size`` metres square in scene coordinates relative to the origin; a node at
level ``k`` (0 = leaf) covers ``2**k`` x ``2**k`` leaves and is keyed by ``(k, i >> k, j >> k)``
of its leaves' integer indices.  Keys do not depend on the scene's extent, so adding or
changing one source never renames another's tiles (what incremental rebuilds rely on).  The
root's children are the level-``K`` nodes, indices -1 or 0, around the origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NodeKey = tuple[int, int, int]


@dataclass(frozen=True)
class TileGrid:
    """Leaf cells of ``size`` metres; coordinates are scene-local (world minus origin)."""

    size: float

    def leaf_indices(self, xy: np.ndarray) -> np.ndarray:
        """Integer leaf indices ``(n, 2)`` of local points ``(n, >=2)``."""
        return np.floor(np.asarray(xy)[:, :2] / self.size).astype(np.int64)

    def top_level(self, local_bounds: np.ndarray) -> int:
        """The smallest level K at which every leaf under ``[xmin, xmax, ymin, ymax]`` has an
        ancestor index of -1 or 0 on both axes (so at most 4 nodes sit under the root)."""
        corners = self.leaf_indices(np.array([[local_bounds[0], local_bounds[2]], [local_bounds[1], local_bounds[3]]]))
        level = 0
        while ((corners >> level) < -1).any() or ((corners >> level) > 0).any():
            level += 1
        return level

    def geometric_error(self, level: int) -> float:
        """Error of a node's content in metres: 0 at leaves (full detail), then doubling per level.

        A coarse node at level k holds LoD1 boxes of the assets at least half this size, about
        what a box loses against the full model of a building ``size * 2**k / 16`` across.
        """
        return 0.0 if level <= 0 else self.size * 2.0**level / 16.0


def ancestors(leaves: np.ndarray, level: int) -> np.ndarray:
    """Indices ``(n, 2)`` of the level-``level`` nodes above leaf indices ``(n, 2)``."""
    return np.asarray(leaves) >> level


def node_uri(key: NodeKey, layer: str) -> str:
    """Where a node's GLB of a layer lies in the output folder (a layer name made path-safe)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in layer)
    level, i, j = key
    return f"tiles/{level}/{i}_{j}/{safe}.glb"


def parent(key: NodeKey) -> NodeKey:
    level, i, j = key
    return (level + 1, i >> 1, j >> 1)
