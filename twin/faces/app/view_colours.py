"""Per-view colourings over shared layer data: pipes by depth of cover, point clouds by mode.

The arrays are computed once on the shared datasets; each browser's mapper only chooses which
one it shows, so switching costs no copy and no other browser sees the change.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv

from twin.colours.point_classes import colors
from twin.scene import Twin

DEPTH_RANGE = (0.0, 4.0)  # metres of cover on the depth colour ramp (fixed, so the legend is stable)
DEPTH_RAMP = "viridis_r"


def ensure_depth_array(twin: Twin, layer) -> bool:
    """Put each cell's depth of cover (mean of both ends, m) on a pipe layer, once; False if unknown."""
    data = layer.dataset.cell_data
    if "depth_m" in data.keys():
        return True
    assets = twin.assets
    if "depth_start_m" not in assets or layer.association != "cell":
        return False
    start = assets["depth_start_m"]
    end = assets["depth_end_m"] if "depth_end_m" in assets else start
    depth = np.where(np.isnan(start), end, np.where(np.isnan(end), start, (start + end) / 2))
    if "depth_m" in assets:  # nodes (manholes, valves) carry one depth
        depth = np.where(np.isnan(depth), assets["depth_m"], depth)
    data["depth_m"] = np.asarray(depth, dtype=np.float32)[layer.asset_index]
    return True


def point_colours(layer, mode: str) -> str | None:
    """Name of the layer's RGB array for a colour mode, computed once and shared by every view."""
    name = f"colours_{mode}"
    data = layer.dataset.point_data
    if name not in data.keys():
        arrays = {key: np.asarray(data[key]) for key in data.keys()}
        arrays["points"] = np.asarray(layer.dataset.points)
        data[name] = colors(arrays, mode)
    return name


def depth_lut():
    lut = pv.LookupTable(cmap=DEPTH_RAMP, n_values=64)
    lut.scalar_range = DEPTH_RANGE
    lut.nan_color = "grey"
    return lut
