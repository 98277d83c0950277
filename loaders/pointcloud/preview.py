"""Previews of a cloud over the point budget whose cost follows the budget, not the file.

- **LAS**: one pass over every record puts each point in its voxel straight from the integer
  coordinates (no conversion) and counts the classes and the exact bounds; the voxel-stratified
  sample is drawn from those ids; then only the kept records are read again.
- **LAZ** (with a chunk table): the first points of every compressed chunk are decoded
  (:func:`loaders.pointcloud.laz.chunk_prefixes`), ``OVERSAMPLE`` times the budget in all, and
  thinned evenly in space to the budget.  Decode work and memory follow the budget: a 500 M-point
  LAZ previews like a 5 M-point one.  Class counts are then of the points decoded.

Either way a preview is the kept raw records (converted by the loader like any others) and the
counts and bounds of the points it saw: small, so :mod:`.cache` keeps it for the next preview.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import laspy
import numpy as np

from loaders.pointcloud.classbounds import int_bounds, record_xyz, world_bounds
from loaders.pointcloud.columns import Layout, classes_of, scaled_xyz
from loaders.pointcloud.header import HeaderInfo
from loaders.pointcloud.laz import ChunkTable, chunk_prefixes
from loaders.pointcloud.read import CONVERT_CHUNK, record_chunks, record_dtype
from loaders.pointcloud.sample import MAX_VOXELS, VoxelGrid, sample_voxels

#: points decoded per point shown in a LAZ preview: the voxel thinning chooses among them
OVERSAMPLE = 2


@dataclass
class Preview:
    """The records a preview keeps (raw, in file order) and what the points it saw tell."""

    records: np.ndarray  # structured records, at most the budget
    points: int  # points the sample was drawn from
    class_counts: np.ndarray  # of those points
    bounds: np.ndarray | None  # exact world bounds of those points


def worthwhile(info: HeaderInfo, budget: int) -> bool:
    """Whether a preview saves work: the file holds over twice the points a LAZ preview decodes."""
    return info.point_count >= 2 * OVERSAMPLE * budget


def las_preview(path: Path, info: HeaderInfo, header: laspy.LasHeader, layout: Layout, budget: int) -> Preview:
    """A LAS over the budget: voxel ids of every point, the sample drawn, only the kept records read."""
    grid = _header_grid(info, budget)
    ids, lo, hi, class_counts = _voxel_pass(record_chunks(path, info, header), info.point_count, layout, grid)
    bounds = world_bounds(lo, hi, layout.scales, layout.offsets)
    if grid is None or not _fits(grid, bounds):  # the header's bounds lie: voxelise on the points'
        grid = _grid(bounds, budget)
        ids = _voxel_pass(record_chunks(path, info, header), info.point_count, layout, grid)[0]
    keep = sample_voxels(ids, grid.size, budget)
    del ids
    kept, start = [], 0
    for chunk in record_chunks(path, info, header):
        first, stop = np.searchsorted(keep, [start, start + len(chunk)])
        kept.append(chunk[keep[first:stop] - start])  # a copy: the chunk's buffer is reused
        start += len(chunk)
    records = np.concatenate(kept) if kept else np.empty(0, record_dtype(header, info.record_length))
    return Preview(records, info.point_count, class_counts, bounds)


def laz_preview(
    path: Path, info: HeaderInfo, header: laspy.LasHeader, layout: Layout, chunks: ChunkTable, budget: int
) -> Preview:
    """A LAZ over the budget: the first points of every chunk, thinned evenly in space."""
    per_chunk = -(-OVERSAMPLE * budget // max(len(chunks.points), 1))
    dtype = record_dtype(header, info.record_length)
    decoded = [np.frombuffer(raw, dtype) for raw in chunk_prefixes(path, chunks, per_chunk, dtype.itemsize)]
    records = np.concatenate(decoded) if decoded else np.empty(0, dtype)
    del decoded
    blocks = [records[s : s + CONVERT_CHUNK] for s in range(0, len(records), CONVERT_CHUNK)]
    _, lo, hi, class_counts = _voxel_pass(blocks, len(records), layout, None)
    bounds = world_bounds(lo, hi, layout.scales, layout.offsets) if len(records) else None
    if bounds is None:
        return Preview(records, 0, class_counts, None)
    grid = _grid(bounds, budget)
    ids = _voxel_pass(blocks, len(records), layout, grid)[0]
    return Preview(records[sample_voxels(ids, grid.size, budget)], len(records), class_counts, bounds)


def _grid(bounds: np.ndarray, budget: int) -> VoxelGrid:
    return VoxelGrid(bounds[0::2], bounds[1::2], min(budget, MAX_VOXELS))


def _header_grid(info: HeaderInfo, budget: int) -> VoxelGrid | None:
    """The voxel grid over the header's bounds, None when they are not even a box."""
    lo, hi = np.asarray(info.mins, dtype=np.float64), np.asarray(info.maxs, dtype=np.float64)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()) or (hi < lo).any() or not (hi > lo).any():
        return None
    return VoxelGrid(lo, hi, min(budget, MAX_VOXELS))


def _fits(grid: VoxelGrid, bounds: np.ndarray) -> bool:
    """Whether the points' bounds fill the grid: none outside, and over half its extent each way."""
    extent = grid.dims / grid.per_metre
    lo, hi = bounds[0::2], bounds[1::2]
    slack = 1e-6 * np.maximum(extent, 1.0)
    inside = (lo >= grid.lo - slack).all() and (hi <= grid.lo + extent + slack).all()
    return bool(inside and ((hi - lo) >= 0.5 * extent - slack)[grid.dims > 1].all())


def _voxel_pass(
    chunks: Iterable[np.ndarray], count: int, layout: Layout, grid: VoxelGrid | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One pass over ``count`` records: voxel ids (empty without a grid), integer bounds, class counts."""
    wide = grid is not None and grid.size >= 2**31
    ids = np.empty(0 if grid is None else count, dtype=np.int64 if wide else np.int32)
    lo, hi = np.full(3, np.iinfo(np.int64).max), np.full(3, np.iinfo(np.int64).min)
    class_counts = np.zeros(256, dtype=np.int64)
    start = 0
    for chunk in chunks:
        chunk_lo, chunk_hi = int_bounds(record_xyz(chunk))
        lo, hi = np.minimum(lo, chunk_lo), np.maximum(hi, chunk_hi)
        class_counts += np.bincount(classes_of(chunk, layout), minlength=256)
        if grid is not None:
            ids[start : start + len(chunk)] = grid.ids(scaled_xyz(chunk, layout))
        start += len(chunk)
    return ids, lo, hi, class_counts
