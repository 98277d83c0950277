"""Decimation to a point budget, uniform in space: a voxel-stratified random sample.

The cloud's bounding box is cut into about ``budget`` voxels.  Every voxel may keep up to the
same quota of points (the quota is solved so the kept total is the budget): sparse voxels
keep everything, dense ones (overlapping flight strips, a scanner's near field) are thinned,
so the sample covers the whole extent evenly.  All of it is vectorised: one ``bincount``,
one gather and one random draw; no sort of the points.
"""

from __future__ import annotations

import numpy as np

#: most voxels used for the stratification (the bincount stays a few tens of MB)
MAX_VOXELS = 1 << 22


def stratified_sample(xyz: np.ndarray, budget: int, bounds: np.ndarray | None = None,
                      seed: int = 0) -> np.ndarray | None:
    """Sorted indices of at most ``budget`` points spread evenly in space, or None if all fit.

    ``bounds`` (``[xmin, xmax, ymin, ymax, zmin, zmax]``, e.g. the header's) spares a pass over
    the points; points outside it fall into the edge voxels.
    """
    n = len(xyz)
    if n <= budget:
        return None
    if budget <= 0:
        return np.empty(0, dtype=np.intp)
    lo, hi = _extent(xyz, bounds)
    voxel = voxel_ids(xyz, min(budget, MAX_VOXELS), lo, hi)
    counts = np.bincount(voxel)
    quota = _quota(counts[counts > 0], budget)
    probability = np.minimum(1.0, quota / np.maximum(counts, 1))
    rng = np.random.default_rng(seed)
    keep = np.flatnonzero(rng.random(n) < probability[voxel])
    if len(keep) > budget:  # the draw overshot by a few: drop the excess at random
        keep = np.sort(rng.choice(keep, budget, replace=False))
    return keep


def voxel_ids(xyz: np.ndarray, voxels: int, lo: np.ndarray, hi: np.ndarray, block: int = 65_536) -> np.ndarray:
    """Id of the voxel of each point, for a grid of about ``voxels`` cubes over ``lo``..``hi``.

    Worked out in cache-sized blocks, so the temporaries never leave the CPU cache.
    """
    extent = np.maximum(hi - lo, 1e-9)
    active = extent > extent.max() * 1e-6  # a flat cloud is gridded in 2D, a line in 1D
    size = (np.prod(extent[active]) / voxels) ** (1.0 / active.sum())
    dims = np.where(active, np.maximum(np.ceil(extent / size), 1), 1).astype(np.int64)
    per_metre = dims / extent
    ids = np.zeros(len(xyz), dtype=np.int64)
    for start in range(0, len(xyz), block):
        chunk, out = xyz[start:start + block], ids[start:start + block]
        for axis in np.flatnonzero(dims > 1):
            cell = ((chunk[:, axis] - lo[axis]) * per_metre[axis]).astype(np.int64)
            np.clip(cell, 0, dims[axis] - 1, out=cell)
            out *= dims[axis]
            out += cell
    return ids


def _extent(xyz: np.ndarray, bounds: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if bounds is not None:
        lo, hi = np.asarray(bounds[0::2], dtype=np.float64), np.asarray(bounds[1::2], dtype=np.float64)
        if np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(hi > lo):
            return lo, hi
    return (np.array([xyz[:, i].min() for i in range(3)]), np.array([xyz[:, i].max() for i in range(3)]))


def _quota(counts: np.ndarray, budget: int) -> float:
    """The per-voxel quota q with sum(min(count, q)) == budget (water filling)."""
    ordered = np.sort(counts)
    below = np.concatenate([[0], np.cumsum(ordered)[:-1]])   # points in smaller voxels
    remaining = len(ordered) - np.arange(len(ordered))        # voxels at least this full
    totals = below + ordered * remaining                       # kept if the quota were ordered[i]
    i = int(np.searchsorted(totals, budget))
    if i >= len(ordered):
        return float(ordered[-1])
    return (budget - below[i]) / remaining[i]
