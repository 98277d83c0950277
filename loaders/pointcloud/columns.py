"""Point records to the arrays a scene layer keeps, converted chunk by chunk in one pass.

A chunk of raw LAS records (a structured numpy array, as laspy and our own LAS reader give
it) is small enough to stay in the CPU cache, so scaling the integer coordinates, splitting
the bit fields and copying the attributes into the final arrays costs little beyond reading
the records; no full-size temporary is ever made.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from loaders.pointcloud.classbounds import ClassBounds, int_bounds, record_xyz, world_bounds
from twin.geo import choose_origin

RGB_FIELDS = ("red", "green", "blue")
#: farthest (in CRS units) a cloud's first points may lie from a given origin for the cloud to
#: be read relative to it: float32 there still resolves a millimetre (2**14 m)
NEAR_ORIGIN_M = 16_384.0


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
    in cache.  The origin is checked against the first chunk's points, never the header's
    bounds (headers lie): with none given, or one farther than ``NEAR_ORIGIN_M`` from those
    points, the first chunk chooses one near them.  The exact bounds of each class are measured
    on the integer coordinates as they go (:class:`ClassBounds`).  Arrays are allocated for the
    expected count and grow only if a file holds more points than its header promised (a LAZ
    without a chunk table).
    """

    def __init__(
        self, layout: Layout, capacity: int, origin: np.ndarray | None = None, box: np.ndarray | None = None
    ) -> None:
        self.layout = layout
        self.origin = None if origin is None else np.asarray(origin, dtype=np.float64)
        self.box = None if box is None else np.asarray(box, dtype=np.float64)
        self.count = 0
        self.rgb_16bit = False
        #: exact bounds per class code of the rows filled, in record units
        self.classes = ClassBounds()
        self._scratch = threading.local()  # per chunk and thread, reused (see put)
        self._checked = False  # whether the origin was checked against the first points
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
        if not k:
            return
        self._reserve(self.count + k)
        a, b = self.count, self.count + k
        ints = record_xyz(records)
        self.settle_origin(records)
        keep = self._convert(records, ints, a, b)
        classes = self.arrays["classification"][a:b]
        if keep is None:
            self.classes.add(ints, classes)
        else:
            self.classes.add(tuple(column[keep] for column in ints), classes[keep])
            kept = int(np.count_nonzero(keep))
            if kept < k:
                self.xyz[a : a + kept] = self.xyz[a:b][keep]
                for values in self.arrays.values():
                    values[a : a + kept] = values[a:b][keep]
            b = a + kept
        self.count = b

    def settle_origin(self, records: np.ndarray) -> None:
        """Check the origin against the first chunk of points (choose one near them if needed)."""
        if not self._checked and len(records):
            self.origin = near_origin(self.origin, world_bounds(*int_bounds(record_xyz(records)), *self._scaling))
            self._checked = True

    def put(self, records: np.ndarray, row: int, bounds: ClassBounds) -> None:
        """Convert a chunk into rows ``row:row + len(records)`` of the capacity, growing ``bounds``.

        For worker threads filling disjoint rows of a whole file (no box) at once, after
        :meth:`settle_origin`: numpy releases the GIL in every conversion, and each thread keeps
        its own scratch and bounds (merged with :meth:`ClassBounds.merge`; then set ``count``).
        """
        ints = record_xyz(records)
        self._convert(records, ints, row, row + len(records))
        bounds.add(ints, self.arrays["classification"][row : row + len(records)])

    @property
    def _scaling(self) -> tuple[np.ndarray, np.ndarray]:
        return self.layout.scales, self.layout.offsets

    @property
    def class_counts(self) -> np.ndarray:
        """Points per class code among the rows filled (counted while grouping them for bounds)."""
        return self.classes.counts

    def class_bounds(self, codes: np.ndarray) -> np.ndarray:
        """Exact world ``[xmin, xmax, ymin, ymax, zmin, zmax]`` of every class in ``codes``."""
        return self.classes.bounds(codes, *self._scaling)

    def bounds(self) -> np.ndarray | None:
        """Exact world bounds of every row filled (None before any)."""
        return self.classes.total(*self._scaling)

    def _convert(self, rec: np.ndarray, ints: tuple[np.ndarray, ...], a: int, b: int) -> np.ndarray | None:
        """Records into rows ``a:b``; returns the mask of the points inside the box (None: no box)."""
        keep = self._convert_xyz(ints, a, b)
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
        return keep

    def _convert_xyz(self, ints: tuple[np.ndarray, ...], a: int, b: int) -> np.ndarray | None:
        """Integer coordinates to float32 local ones, one pass per axis into a cache-sized float64
        scratch (the scaling) and one out of it (the shift by ``origin - offset``, rounded once to
        float32 straight into the output column).  With a box, the scratch holds world coordinates
        (they exist only there, and only then) while the box is tested."""
        lay, k = self.layout, b - a
        if len(getattr(self._scratch, "values", ())) < k:
            self._scratch.values = np.empty(k)
        scratch, keep = self._scratch.values[:k], None
        origin = self.origin
        if origin is None:
            raise RuntimeError("coordinates converted before the origin was chosen")
        for axis, column in enumerate(ints):
            np.multiply(column, lay.scales[axis], out=scratch)
            if self.box is None:
                np.subtract(scratch, origin[axis] - lay.offsets[axis], out=self.xyz[a:b, axis], casting="same_kind")
                continue
            scratch += lay.offsets[axis]
            inside = (scratch >= self.box[2 * axis]) & (scratch <= self.box[2 * axis + 1])
            keep = inside if keep is None else keep & inside
            np.subtract(scratch, origin[axis], out=self.xyz[a:b, axis], casting="same_kind")
        return keep

    def _convert_rgb(self, rec: np.ndarray, a: int, b: int) -> None:
        """16-bit colour to its high byte; low bytes kept while the file may hold 8-bit colour.

        The bytes are copied straight out of the records (LAS is little-endian: each colour
        field's high byte follows its low byte): a byte copy per channel costs a fifth of the
        instructions of a shift and a cast.  Some writers store 8-bit values in the 16-bit
        fields: if no high byte is ever set, the low bytes are the colour.  Once a high byte
        shows, the low bytes are no longer written, so their untouched pages never take memory.
        """
        rgb, low = self.arrays["rgb"], self.arrays["rgb_low"]
        fields = rec.dtype.fields
        if fields is None:
            raise TypeError("point records must be a structured array")
        for axis, name in enumerate(RGB_FIELDS):
            rgb[a:b, axis] = rec.getfield(np.uint8, fields[name][1] + 1)
        if not self.rgb_16bit:
            self.rgb_16bit = bool(rgb[a:b].any())
            for axis, name in enumerate(RGB_FIELDS):
                low[a:b, axis] = rec.getfield(np.uint8, fields[name][1])

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


def in_box(xyz: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Mask of the points inside ``[xmin, xmax, ymin, ymax, zmin, zmax]`` (edges included)."""
    keep = (xyz[:, 0] >= box[0]) & (xyz[:, 0] <= box[1])
    keep &= (xyz[:, 1] >= box[2]) & (xyz[:, 1] <= box[3])
    keep &= (xyz[:, 2] >= box[4]) & (xyz[:, 2] <= box[5])
    result: np.ndarray = keep
    return result


def near_origin(given: np.ndarray | None, bounds: np.ndarray) -> np.ndarray:
    """``given`` if the points within ``bounds`` lie near it, else an origin chosen near them
    (a scene in another CRS, to be reprojected, would cost float32 precision: the twin shifts)."""
    if given is not None and np.abs(bounds - np.repeat(given, 2)).max() <= NEAR_ORIGIN_M:
        return given
    return choose_origin(bounds)


def _grown(values: np.ndarray, size: int, filled: int) -> np.ndarray:
    out = np.empty((size, *values.shape[1:]), values.dtype)
    out[:filled] = values[:filled]
    return out
