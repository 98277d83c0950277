"""COPC (cloud-optimised point cloud): read by octree level and box, decoding only those nodes.

The hierarchy says how many points each node holds, so the deepest level whose points fit
the budget is known before a single point is decompressed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import laspy
import numpy as np
from laspy.copc import Bounds, load_octree_for_query

from loaders.pointcloud.columns import Columns
from loaders.pointcloud.read import add_records, native_errors
from twin.errors import InputError


def read_copc(
    path: Path, columns: Columns, budget: int, level: int | None = None, box: np.ndarray | None = None
) -> dict[str, Any]:
    """Query a COPC file into ``columns``; returns what was read, for ``twin info``.

    ``level`` None picks the deepest level whose points (inside ``box``) fit ``budget``.
    """
    with native_errors(path, "cannot read the COPC octree"), laspy.CopcReader.open(str(path)) as reader:
        bounds = None if box is None else _clipped(box, reader.header)
        nodes = load_octree_for_query(
            reader.source,
            reader.copc_info,
            reader.root_page,
            query_bounds=None if bounds is None else bounds.ensure_3d(reader.header.mins, reader.header.maxs),
        )
        _check_nodes(path, nodes, reader.header.point_count)
        levels = np.array([n.key.level for n in nodes], dtype=np.int64)
        counts = np.array([n.point_count for n in nodes], dtype=np.int64)
        per_level = np.bincount(levels, weights=counts).astype(np.int64) if len(nodes) else np.zeros(1, np.int64)
        if level is None:
            fitting = np.flatnonzero(np.cumsum(per_level) <= budget)
            level = int(fitting[-1]) if len(fitting) else 0
        level = max(0, min(int(level), len(per_level) - 1))
        points = reader.query(bounds=bounds, level=range(0, level + 1))
        add_records(columns, points.array)
    return {"copc_levels": len(per_level), "copc_level_read": level, "copc_points_per_level": per_level.tolist()}


def _clipped(box: np.ndarray, header: laspy.LasHeader) -> Bounds:
    """The box within the file's bounds (laspy turns the bounds into int32 record units)."""
    lo = np.clip(box[0::2], header.mins, header.maxs)
    hi = np.clip(box[1::2], header.mins, header.maxs)
    return Bounds(lo.astype(np.float64), hi.astype(np.float64))


def _check_nodes(path: Path, nodes: list[Any], point_count: int) -> None:
    """Each octree node's byte range inside the file and its points within the header's count
    (laspy allocates what the hierarchy claims before decoding)."""
    size = path.stat().st_size
    total = 0
    for node in nodes:
        total += node.point_count
        if node.offset < 0 or node.byte_size < 0 or node.offset + node.byte_size > size or node.point_count < 0:
            raise InputError(
                path,
                f"corrupt COPC hierarchy: node {node.key} claims bytes {node.offset:,}+"
                f"{node.byte_size:,} of a {size:,}-byte file",
            )
    if total > point_count:
        raise InputError(path, f"corrupt COPC hierarchy: its nodes hold {total:,} points, the header {point_count:,}")
