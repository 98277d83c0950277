"""Point records to the arrays a scene layer keeps, converted chunk by chunk in one pass.

A chunk of raw LAS records (a structured numpy array, as laspy and our own LAS reader give
it) is small enough to stay in the CPU cache, so scaling the integer coordinates, splitting
the bit fields and copying the attributes into the final arrays costs little beyond reading
the records; no full-size temporary is ever made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from loaders.pointcloud.classbounds import ClassBounds, Guard
from twin.geo import choose_origin

RGB_FIELDS = ("red", "green", "blue")


@dataclass(frozen=True)
class ExtraDim:
    """An extra-bytes dimension: its point-array name, record field, type, elements and scaling."""

    name: str
    field: str
    dtype: np.dtype
    elements: int = 1
    scales: np.ndarray | None = None
    offsets: np.ndarray | None = None

    @property
    def out_dtype(self) -> np.dtype:
        return np.dtype(np.float64) if self.scales is not None or self.offsets is not None else self.dtype


@dataclass(frozen=True)
class Layout:
    """What the records of one file hold, and how to scale their integer coordinates."""

    point_format: int
    scales: np.ndarray
    offsets: np.ndarray
    extras: tuple[ExtraDim, ...] = field(default_factory=tuple)

    @property
    def has_rgb(self) -> bool:
        return self.point_format in (2, 3, 5, 7, 8, 10)

    @property
    def has_nir(self) -> bool:
        return self.point_format in (8, 10)

    @property
    def has_gps_time(self) -> bool:
        return self.point_format not in (0, 2)

    @property
    def extended(self) -> bool:
        """Point formats 6-10: a full classification byte and 4-bit return numbers."""
        return self.point_format >= 6


class Columns:
    """The output arrays of a cloud, filled chunk by chunk (optionally keeping only a box).

    Coordinates are stored as float32 relative to ``origin`` (the scene's, so the twin takes
    them as they are): scale, offset and origin shift happen in one pass while each chunk is
    in cache.  With ``origin`` None the first chunk read chooses one near its points.
    Arrays are allocated for the expected count and grow only if a file holds more points than
    its header promised (a LAZ without a chunk table).
    """

    def __init__(
        self, layout: Layout, capacity: int, origin: np.ndarray | None = None, box: np.ndarray | None = None
    ) -> None:
        self.layout = layout
        self.origin = None if origin is None else np.asarray(origin, dtype=np.float64)
        self.box = None if box is None else np.asarray(box, dtype=np.float64)
        self.count = 0
        self.rgb_16bit = False
        #: bounds (relative to the origin) per class code of the rows filled, measured while
        #: each chunk is in cache
        self.classes = ClassBounds()
        self._counts: tuple[int, np.ndarray] | None = None  # class counts, and the row count they are for
        self._scratch, self._flags = np.empty(0), np.empty(0, dtype=bool)  # per chunk, reused
        n = max(int(capacity), 1)
        self.xyz = np.empty((n, 3), np.float32)
        self.arrays: dict[str, np.ndarray] = {
            "intensity": np.empty(n, np.uint16),
            "classification": np.empty(n, np.uint8),
            "return_number": np.empty(n, np.uint8),
        }
        if layout.has_rgb:  # high bytes; the low bytes only until a high byte shows 16-bit colour
            self.arrays["rgb"] = np.empty((n, 3), np.uint8)
            self.arrays["rgb_low"] = np.empty((n, 3), np.uint8)
        if layout.has_nir:
            self.arrays["nir"] = np.empty(n, np.uint16)
        if layout.has_gps_time:
            self.arrays["gps_time"] = np.empty(n)
        for dim in layout.extras:
            shape = (n,) if dim.elements == 1 else (n, dim.elements)
            self.arrays[dim.name] = np.empty(shape, dim.out_dtype)

    def add(self, records: np.ndarray) -> None:
        """Convert a chunk of raw records into the next rows (only those in the box, if any)."""
        k = len(records)
        self._reserve(self.count + k)
        a, b = self.count, self.count + k
        if self.origin is None and k:
            self.origin = choose_origin(_bounds(scaled_xyz(records, self.layout)))
        guard = self.classes.guard()
        keep, outside = self._convert(records, a, b, guard)
        if keep is not None:
            kept = int(np.count_nonzero(keep))
            if kept < k:
                self.xyz[a : a + kept] = self.xyz[a:b][keep]
                for values in self.arrays.values():
                    values[a : a + kept] = values[a:b][keep]
                outside = None if outside is None else outside[keep]
            b = a + kept
        self.classes.add(self.xyz[a:b], self.arrays["classification"][a:b], outside, guard)
        self.count = b

    @property
    def class_counts(self) -> np.ndarray:
        """Points per class code among the rows filled (one ``bincount`` once they are all read:
        per chunk it would cast every chunk's bytes to 64-bit indices)."""
        if self._counts is None or self._counts[0] != self.count:
            self._counts = (self.count, np.bincount(self.arrays["classification"][: self.count], minlength=256))
        return self._counts[1]

    def class_bounds(self, codes: np.ndarray) -> np.ndarray:
        """World ``[xmin, xmax, ymin, ymax, zmin, zmax]`` of every class in ``codes``."""
        return self.classes.bounds(codes, self.origin if self.origin is not None else np.zeros(3))

    def _convert(
        self,
        rec: np.ndarray,
        a: int,
        b: int,
        guard: Guard | None,
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Records into rows ``a:b``; returns the masks of the points inside the box and outside
        the guard (each None when there is none)."""
        keep, outside = self._convert_xyz(rec, a, b, guard)
        lay, out = self.layout, self.arrays
        out["intensity"][a:b] = rec["intensity"]
        if lay.extended:
            out["classification"][a:b] = rec["classification"]
            np.bitwise_and(rec["bit_fields"], 0x0F, out=out["return_number"][a:b])
        else:
            np.bitwise_and(rec["raw_classification"], 0x1F, out=out["classification"][a:b])
            np.bitwise_and(rec["bit_fields"], 0x07, out=out["return_number"][a:b])
        if lay.has_rgb:
            self._convert_rgb(rec, a, b)
        if lay.has_nir:
            out["nir"][a:b] = rec["nir"]
        if lay.has_gps_time:
            out["gps_time"][a:b] = rec["gps_time"]
        for dim in lay.extras:
            values = rec[dim.field]
            if dim.scales is not None or dim.offsets is not None:
                values = values * (1.0 if dim.scales is None else dim.scales) + (
                    0.0 if dim.offsets is None else dim.offsets
                )
            out[dim.name][a:b] = values
        return keep, outside

    def _convert_xyz(
        self,
        rec: np.ndarray,
        a: int,
        b: int,
        guard: Guard | None,
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Integer coordinates to float32 local ones in one pass over the output: scale and
        shift by ``origin - offset`` in a cache-sized float64 scratch, test it against the box
        (world values exist only there, and only then) and the class-bounds guard, cast it out.

        Rounding to float32 is monotonic and the guard's edges are float32 values, so a value
        inside the guard in float64 stays inside it in float32."""
        lay, k = self.layout, b - a
        if len(self._scratch) < k:
            self._scratch, self._flags = np.empty(k), np.empty(k, dtype=bool)
        scratch, flags, keep = self._scratch[:k], self._flags[:k], None
        outside = None if guard is None else np.zeros(k, dtype=bool)
        origin = self.origin
        if origin is None:
            raise RuntimeError("coordinates converted before the origin was chosen")
        for axis, name in enumerate("XYZ"):
            np.multiply(rec[name], lay.scales[axis], out=scratch)
            if self.box is None:
                scratch -= origin[axis] - lay.offsets[axis]
            else:
                scratch += lay.offsets[axis]
                inside = (scratch >= self.box[2 * axis]) & (scratch <= self.box[2 * axis + 1])
                keep = inside if keep is None else keep & inside
                scratch -= origin[axis]
            if outside is not None and guard is not None:
                outside |= np.less(scratch, guard.lo[axis], out=flags)
                outside |= np.greater(scratch, guard.hi[axis], out=flags)
            self.xyz[a:b, axis] = scratch
        return keep, outside

    def _convert_rgb(self, rec: np.ndarray, a: int, b: int) -> None:
        """16-bit colour to its high byte; low bytes kept while the file may hold 8-bit colour.

        Some writers store 8-bit values in the 16-bit fields: if no high byte is ever set, the
        low bytes are the colour.  Once a high byte shows, the low bytes are no longer written,
        so their untouched pages never take memory.
        """
        rgb, low = self.arrays["rgb"], self.arrays["rgb_low"]
        for axis, name in enumerate(RGB_FIELDS):
            np.right_shift(rec[name], 8, out=rgb[a:b, axis], casting="unsafe")
        if not self.rgb_16bit:
            self.rgb_16bit = bool(rgb[a:b].any())
            for axis, name in enumerate(RGB_FIELDS):
                low[a:b, axis] = rec[name]

    def _reserve(self, needed: int) -> None:
        if needed <= len(self.xyz):
            return
        size = max(needed, 2 * len(self.xyz))
        self.xyz = _grown(self.xyz, size, self.count)
        self.arrays = {name: _grown(values, size, self.count) for name, values in self.arrays.items()}

    def finish(self, keep: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The filled coordinates (float32, relative to ``origin``) and point arrays (``keep``:
        indices of a sample), RGB as uint8."""
        n, arrays = self.count, dict(self.arrays)
        if self.layout.has_rgb:
            low = arrays.pop("rgb_low")
            if not self.rgb_16bit:
                arrays["rgb"] = low
        xyz, arrays = self.xyz[:n], {name: values[:n] for name, values in arrays.items()}
        if keep is not None:
            xyz, arrays = xyz[keep], {name: values[keep] for name, values in arrays.items()}
        elif n < len(self.xyz) // 2:  # a box kept few points: do not hold the whole allocation
            xyz, arrays = xyz.copy(), {name: values.copy() for name, values in arrays.items()}
        return xyz, arrays


def scaled_xyz(records: np.ndarray, layout: Layout) -> np.ndarray:
    """World coordinates of a chunk of records, float64 ``(n, 3)``."""
    xyz = np.empty((len(records), 3))
    for axis, name in enumerate("XYZ"):
        np.multiply(records[name], layout.scales[axis], out=xyz[:, axis])
        xyz[:, axis] += layout.offsets[axis]
    return xyz


def classes_of(records: np.ndarray, layout: Layout) -> np.ndarray:
    """ASPRS class codes of a chunk of records (5 bits in formats 0-5, a byte in 6-10)."""
    return records["classification"] if layout.extended else records["raw_classification"] & 0x1F


def _bounds(xyz: np.ndarray) -> np.ndarray:
    """``[xmin, xmax, ymin, ymax, zmin, zmax]`` of a chunk of points."""
    out = np.empty(6)
    out[0::2], out[1::2] = xyz.min(axis=0), xyz.max(axis=0)
    return out


def in_box(xyz: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Mask of the points inside ``[xmin, xmax, ymin, ymax, zmin, zmax]`` (edges included)."""
    keep = (xyz[:, 0] >= box[0]) & (xyz[:, 0] <= box[1])
    keep &= (xyz[:, 1] >= box[2]) & (xyz[:, 1] <= box[3])
    keep &= (xyz[:, 2] >= box[4]) & (xyz[:, 2] <= box[5])
    result: np.ndarray = keep
    return result


def _grown(values: np.ndarray, size: int, filled: int) -> np.ndarray:
    out = np.empty((size, *values.shape[1:]), values.dtype)
    out[:filled] = values[:filled]
    return out
