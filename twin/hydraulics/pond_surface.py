"""The ponds of a flood nowcast as one water-surface mesh, for the 3D view.

Each flooding node's pond (:func:`twin.hydraulics.ponding.pond`, drawn again from the spill
point and volume the nowcast reports) becomes the quads of its wet cells at the pond's water
level; all ponds together are one merged mesh (one actor, recoloured or replaced per nowcast),
in the scene's local coordinates (world minus origin, float32 for the renderer), with each
cell's depth and the index of its node in the nowcast's list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyvista as pv

from twin.hydraulics.ponding import WET_M, pond, terrain_points

if TYPE_CHECKING:
    from twin.scene import Twin

#: the water's colour (RGB 0-255) and opacity: a translucent blue none of the risk colours uses
WATER_RGB = (41, 121, 255)
WATER_OPACITY = 0.55


def pond_surface(twin: Twin, result: dict[str, Any]) -> pv.PolyData:
    """One mesh of the water surface of every pond in a nowcast ``result`` (empty without any)."""
    ground = terrain_points(twin)
    origin = np.zeros(3) if twin.origin is None else np.asarray(twin.origin, dtype=np.float64)
    points, faces, depth, node = [], [], [], []
    start = 0
    for k, item in enumerate(result.get("nodes", [])):
        where = item.get("ponding")
        if ground is None or where is None:
            continue
        water = pond(ground, where["x"], where["y"], float(item["volume_m3"]))
        if water is None:
            continue
        rows, cols = np.nonzero(water.depth >= WET_M)
        if not len(rows):
            continue
        half = water.cell_m / 2
        cx, cy = water.x0 + cols * water.cell_m, water.y0 + rows * water.cell_m
        corners = np.stack(
            [
                np.stack([cx - half, cy - half], 1),
                np.stack([cx + half, cy - half], 1),
                np.stack([cx + half, cy + half], 1),
                np.stack([cx - half, cy + half], 1),
            ],
            axis=1,
        ).reshape(-1, 2)
        xyz = np.column_stack([corners, np.full(len(corners), water.level)]) - origin
        points.append(xyz)
        quads = start + np.arange(4 * len(rows)).reshape(-1, 4)
        faces.append(np.column_stack([np.full(len(rows), 4), quads]).ravel())
        depth.append(water.depth[rows, cols])
        node.append(np.full(len(rows), k))
        start += len(corners)
    if not points:
        return pv.PolyData()
    mesh = pv.PolyData(np.vstack(points).astype(np.float32), np.concatenate(faces))
    mesh.cell_data["depth_m"] = np.concatenate(depth).astype(np.float32)
    mesh.cell_data["node"] = np.concatenate(node).astype(np.int32)
    return mesh
