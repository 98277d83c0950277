"""Decimation to a point budget, uniform in space: a voxel-stratified random sample.

The cloud's bounding box is cut into about ``budget`` voxels.  Every voxel may keep up to the
same quota of points (the quota is solved so the kept total is the budget): sparse voxels
keep everything, dense ones (overlapping flight strips, a scanner's near field) are thinned,
so the sample covers the whole extent evenly.  All of it is vectorised: a ``bincount`` of the
voxel ids, one gather and one random draw per point; no sort of the points.

A sample can be drawn from points in memory (:func:`stratified_sample`) or from a stream of
chunks in two passes (:class:`StreamSampler`: count the voxels, then draw), which holds only
the kept points: a cloud far above the budget never has to fit in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

#: most voxels used for the stratification (the bincount stays a few tens of MB)
MAX_VOXELS = 1 << 22
BLOCK = 65_536


class VoxelGrid:
    """About ``voxels`` cubes over ``lo``..``hi`` (2D for a flat cloud); points outside go to the edge."""

    def __init__(self, lo: np.ndarray, hi: np.ndarray, voxels: int) -> None:
        self.lo = np.asarray(lo, dtype=np.float64)
        extent = np.maximum(np.asarray(hi, dtype=np.float64) - self.lo, 1e-9)
        active = extent > extent.max() * 1e-6
        size = (np.prod(extent[active]) / voxels) ** (1.0 / active.sum())
        self.dims = np.where(active, np.maximum(np.ceil(extent / size), 1), 1).astype(np.int64)
        self.per_metre = self.dims / extent

    @property
    def size(self) -> int:
        return int(np.prod(self.dims))

    def ids(self, xyz: np.ndarray) -> np.ndarray:
        """Voxel id of each point (int32 while the grid allows), worked out in cache-sized blocks."""
        ids: npt.NDArray[np.signedinteger[Any]] = np.zeros(len(xyz), dtype=np.int32 if self.size < 2**31 else np.int64)
        for start in range(0, len(xyz), BLOCK):
            chunk, out = xyz[start : start + BLOCK], ids[start : start + BLOCK]
            for axis in np.flatnonzero(self.dims > 1):
                cell = (chunk[:, axis] - self.lo[axis]) * self.per_metre[axis]
                np.clip(cell, 0, self.dims[axis] - 1, out=cell)  # before the cast: no overflow
                out *= self.dims[axis]
                out += cell.astype(ids.dtype)
        return ids


def stratified_sample(
    xyz: np.ndarray, budget: int, bounds: np.ndarray | None = None, seed: int = 0
) -> np.ndarray | None:
    """Sorted indices of at most ``budget`` points spread evenly in space, or None if all fit.

    ``bounds`` (``[xmin, xmax, ymin, ymax, zmin, zmax]``, e.g. the header's) spares a pass over
    the points.
    """
    n = len(xyz)
    if n <= budget:
        return None
    grid = VoxelGrid(*_extent(xyz, bounds), min(budget, MAX_VOXELS))
    return sample_voxels(grid.ids(xyz), grid.size, budget, seed)


def sample_voxels(voxel: np.ndarray, voxels: int, budget: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most ``budget`` points, given each point's voxel id (``< voxels``)."""
    probability = keep_probability(np.bincount(voxel, minlength=voxels), budget)
    rng = np.random.default_rng(seed)
    kept = [
        start + np.flatnonzero(rng.random(len(ids)) < probability[ids])  # cache-sized draws
        for start, ids in ((s, voxel[s : s + BLOCK]) for s in range(0, len(voxel), BLOCK))
    ]
    return trim(np.concatenate(kept), budget, rng)


class StreamSampler:
    """The same sample drawn from chunks in two passes: :meth:`count` every chunk, then :meth:`draw`.

    ``xyz_of`` gives the coordinates of a chunk, ``mask_of`` (optional) the points that count
    (e.g. those inside a box) and ``classes_of`` their classes, tallied in ``class_counts``.  The
    draw of chunk ``i`` uses its own seeded generator, so the sample is the same on every run.
    """

    def __init__(
        self,
        bounds: np.ndarray,
        budget: int,
        xyz_of: Callable[[np.ndarray], np.ndarray],
        classes_of: Callable[[np.ndarray], np.ndarray],
        mask_of: Callable[[np.ndarray], np.ndarray] | None = None,
        seed: int = 0,
    ) -> None:
        self.grid = VoxelGrid(bounds[0::2], bounds[1::2], min(budget, MAX_VOXELS))
        self.budget, self.seed = budget, seed
        self.xyz_of, self.classes_of, self.mask_of = xyz_of, classes_of, mask_of
        self.counts = np.zeros(self.grid.size, dtype=np.int64)
        self.class_counts = np.zeros(256, dtype=np.int64)
        self.probability: np.ndarray | None = None

    def count(self, chunks: Iterable[np.ndarray]) -> int:
        """First pass: points per voxel and per class; returns how many points count."""
        for chunk in chunks:
            xyz, classes = self.xyz_of(chunk), self.classes_of(chunk)
            if self.mask_of is not None:
                inside = self.mask_of(xyz)
                xyz, classes = xyz[inside], classes[inside]
            self.counts += np.bincount(self.grid.ids(xyz), minlength=self.grid.size)
            self.class_counts += np.bincount(classes, minlength=256)
        self.probability = keep_probability(self.counts, self.budget)
        return int(self.counts.sum())

    def draw(self, index: int, chunk: np.ndarray) -> np.ndarray:
        """Second pass: the mask of the points of chunk ``index`` that the sample keeps."""
        xyz = self.xyz_of(chunk)
        u = np.random.default_rng((self.seed, index)).random(len(chunk))
        if self.probability is None:
            raise RuntimeError("draw() before count(): the sample has no probabilities yet")
        keep = u < self.probability[self.grid.ids(xyz)]
        if self.mask_of is not None:
            keep &= self.mask_of(xyz)
        result: np.ndarray = keep
        return result


def keep_probability(counts: np.ndarray, budget: int) -> np.ndarray:
    """Per voxel, the chance a point is kept: 1 in sparse voxels, quota / count in dense ones."""
    occupied = counts[counts > 0]
    if occupied.sum() <= budget:
        return np.ones(len(counts))
    result: np.ndarray = np.minimum(1.0, _quota(occupied, budget) / np.maximum(counts, 1))
    return result


def trim(keep: np.ndarray, budget: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """At most ``budget`` of the kept indices: a random draw overshoots by a few at times."""
    if len(keep) <= budget:
        return keep
    rng = rng or np.random.default_rng(0)
    return np.sort(rng.choice(keep, budget, replace=False))


def _extent(xyz: np.ndarray, bounds: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if bounds is not None:
        lo, hi = np.asarray(bounds[0::2], dtype=np.float64), np.asarray(bounds[1::2], dtype=np.float64)
        if np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(hi >= lo) and np.any(hi > lo):
            return lo, hi
    return (np.array([xyz[:, i].min() for i in range(3)]), np.array([xyz[:, i].max() for i in range(3)]))


def _quota(counts: np.ndarray, budget: int) -> float:
    """The per-voxel quota q with sum(min(count, q)) == budget (water filling)."""
    ordered = np.sort(counts)
    below = np.concatenate([[0], np.cumsum(ordered)[:-1]])  # points in smaller voxels
    remaining = len(ordered) - np.arange(len(ordered))  # voxels at least this full
    totals = below + ordered * remaining  # kept if the quota were ordered[i]
    i = int(np.searchsorted(totals, budget))
    if i >= len(ordered):
        return float(ordered[-1])
    return float((budget - below[i]) / remaining[i])
