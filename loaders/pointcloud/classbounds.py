"""Bounds of each class code, grown chunk by chunk while the chunk is in cache.

Grouping a chunk's points by class (a radix sort and a gather per axis) costs more than
converting them.  Most of that work is avoidable: a point inside the running bounds of its
class can change no bounds, and once a few chunks are read the bounds of the classes spread
over the whole cloud (ground, vegetation, buildings) hardly move.  So while the coordinates
are converted, each is compared with the intersection of those *wide* classes' boxes (the
:meth:`ClassBounds.guard`: two SIMD comparisons per axis on a contiguous scratch); only the
points outside it, and those of narrow or new classes, are grouped and reduced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: a class is wide when its box spans at least this share of the cloud's extent so far, in x and y
WIDE_SHARE = 0.5
#: most wide classes tested one comparison each (more: the sort is as cheap)
MOST_WIDE = 8


@dataclass(frozen=True)
class Guard:
    """The box inside which no point of a ``wide`` class can grow any bounds (local coordinates)."""

    lo: np.ndarray
    hi: np.ndarray
    wide: np.ndarray


class ClassBounds:
    """Per class code: ``lo``/``hi`` bounds of the float32 coordinates added, relative to the origin."""

    def __init__(self) -> None:
        self.lo = np.full((256, 3), np.inf)
        self.hi = np.full((256, 3), -np.inf)

    def guard(self) -> Guard | None:
        """The current guard box, or None while no class is wide (every point is then grouped)."""
        seen = np.flatnonzero(np.isfinite(self.lo[:, 0]))
        if not len(seen):
            return None
        lo, hi = self.lo[seen], self.hi[seen]
        union = hi.max(axis=0) - lo.min(axis=0)
        wide = ((hi - lo)[:, :2] >= WIDE_SHARE * union[:2]).all(axis=1)
        if not wide.any() or np.count_nonzero(wide) > MOST_WIDE:
            return None
        inner_lo, inner_hi = lo[wide].max(axis=0), hi[wide].min(axis=0)
        if (inner_lo > inner_hi).any():
            return None
        return Guard(inner_lo, inner_hi, seen[wide].astype(np.uint8))

    def add(self, xyz: np.ndarray, classes: np.ndarray, outside: np.ndarray | None, guard: Guard | None) -> None:
        """Grow the bounds by a chunk: ``xyz`` ``(k, 3)`` float32, ``classes`` uint8, and
        ``outside`` the mask of its points outside ``guard`` (None: group every point)."""
        if not len(classes):
            return
        if guard is None or outside is None:
            self._reduce(xyz, classes)
            return
        candidates = outside
        wide = classes == guard.wide[0]
        for code in guard.wide[1:]:
            wide |= classes == code
        candidates |= ~wide
        picked = np.flatnonzero(candidates)
        if len(picked):
            self._reduce(xyz[picked], classes[picked])

    def _reduce(self, xyz: np.ndarray, classes: np.ndarray) -> None:
        """Grow the bounds by every given point: one radix sort by class, a min and max ``reduceat``."""
        if classes.min() == classes.max():
            order, starts, codes = None, np.zeros(1, dtype=np.intp), classes[:1].astype(np.intp)
        else:
            order = np.argsort(classes, kind="stable")
            grouped = np.take(classes, order)
            starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
            codes = grouped[starts].astype(np.intp)
        for axis in range(3):
            column = xyz[:, axis] if order is None else np.take(xyz[:, axis], order)
            lo, hi = np.minimum.reduceat(column, starts), np.maximum.reduceat(column, starts)
            self.lo[codes, axis] = np.minimum(self.lo[codes, axis], lo)
            self.hi[codes, axis] = np.maximum(self.hi[codes, axis], hi)

    def bounds(self, codes: np.ndarray, origin: np.ndarray) -> np.ndarray:
        """World ``[xmin, xmax, ymin, ymax, zmin, zmax]`` of every class in ``codes``."""
        out = np.empty((len(codes), 6))
        out[:, 0::2], out[:, 1::2] = self.lo[codes] + origin, self.hi[codes] + origin
        return out
