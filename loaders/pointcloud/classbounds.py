"""Bounds of each class code, measured on the integer record coordinates chunk by chunk.

The bounds are kept in record units (the int32 ``X``, ``Y``, ``Z`` of the LAS records), so they
are exact: a class's world bounds are ``integer x scale + offset`` in float64, the very values
laspy gives for its points, whatever float32 the layer stores them in and whatever a header says.

Per chunk it costs one stable radix sort of the class bytes (none when the chunk holds one
class), one gather per axis and a min and max ``reduceat``: a few hundred microseconds per 65k
points, whatever order the points arrive in (tile by tile or interleaved).
"""

from __future__ import annotations

import numpy as np

_HIGH, _LOW = np.iinfo(np.int64).max, np.iinfo(np.int64).min


def record_xyz(records: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``X``, ``Y``, ``Z`` int32 fields of a chunk of records (views, no copy)."""
    return records["X"], records["Y"], records["Z"]


def int_bounds(ints: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis minimum and maximum of integer coordinate columns, as int64 ``(3,)`` arrays."""
    return (
        np.array([column.min() for column in ints], dtype=np.int64),
        np.array([column.max() for column in ints], dtype=np.int64),
    )


class ClassBounds:
    """Per class code: ``lo``/``hi`` of the integer record coordinates added (int64 ``(256, 3)``)
    and ``counts``, the points added (which the grouping gives for free)."""

    def __init__(self) -> None:
        self.lo = np.full((256, 3), _HIGH, dtype=np.int64)
        self.hi = np.full((256, 3), _LOW, dtype=np.int64)
        self.counts = np.zeros(256, dtype=np.int64)

    def add(self, ints: tuple[np.ndarray, ...], classes: np.ndarray) -> None:
        """Grow the bounds by a chunk: its ``X``, ``Y``, ``Z`` record columns and uint8 ``classes``."""
        if not len(classes):
            return
        if classes.min() == classes.max():  # one class (a vegetation strip, a ground tile): no sort
            codes, sizes = classes[:1].astype(np.intp), np.array([len(classes)])
            lo, hi = (bound[None] for bound in int_bounds(ints))
        else:
            order = np.argsort(classes, kind="stable")  # a radix sort of bytes
            grouped = np.take(classes, order)
            starts = np.flatnonzero(grouped[1:] != grouped[:-1]) + 1
            starts = np.concatenate([[0], starts])
            codes, sizes = grouped[starts].astype(np.intp), np.diff(starts, append=len(classes))
            lo, hi = np.empty((len(codes), 3), np.int64), np.empty((len(codes), 3), np.int64)
            for axis, column in enumerate(ints):  # one gather per axis, in cache
                rows = np.take(column, order)
                lo[:, axis], hi[:, axis] = np.minimum.reduceat(rows, starts), np.maximum.reduceat(rows, starts)
        self.lo[codes] = np.minimum(self.lo[codes], lo)
        self.hi[codes] = np.maximum(self.hi[codes], hi)
        self.counts[codes] += sizes

    def merge(self, other: ClassBounds) -> None:
        """Take in the bounds another reader measured (a worker thread's)."""
        np.minimum(self.lo, other.lo, out=self.lo)
        np.maximum(self.hi, other.hi, out=self.hi)
        self.counts += other.counts

    def codes(self) -> np.ndarray:
        """The class codes that have points."""
        return np.flatnonzero(self.lo[:, 0] <= self.hi[:, 0])

    def bounds(self, codes: np.ndarray, scales: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """World ``[xmin, xmax, ymin, ymax, zmin, zmax]`` (float64) of every class in ``codes``."""
        return world_bounds(self.lo[codes], self.hi[codes], scales, offsets)

    def total(self, scales: np.ndarray, offsets: np.ndarray) -> np.ndarray | None:
        """World bounds of every point added, None if none was."""
        codes = self.codes()
        if not len(codes):
            return None
        return world_bounds(self.lo[codes].min(axis=0), self.hi[codes].max(axis=0), scales, offsets)


def world_bounds(lo: np.ndarray, hi: np.ndarray, scales: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``[xmin, xmax, ...]`` rows of integer record bounds, scaled as laspy scales (a negative
    scale swaps the ends)."""
    a, b = lo * scales + offsets, hi * scales + offsets
    out = np.empty((*np.shape(lo)[:-1], 6))
    out[..., 0::2], out[..., 1::2] = np.minimum(a, b), np.maximum(a, b)
    return out
