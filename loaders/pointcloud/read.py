"""Reading point records: LAS straight from the file, LAZ and COPC through laspy and lazrs.

Raw records come in cache-sized chunks, to be converted by a :class:`Columns` while they are
in cache.  Uncompressed LAS is read here into one reused buffer (faster than ``laspy.read``,
and no full copy of the raw records is ever held); LAZ is decoded by lazrs' parallel
decompressor a million points at a time.  COPC has its own reader (:mod:`.copc`).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import laspy
import numpy as np

from loaders.pointcloud.classbounds import ClassBounds
from loaders.pointcloud.columns import Columns, ExtraDim, Layout
from loaders.pointcloud.header import HeaderInfo
from twin.errors import InputError

#: records converted at a time: small enough to stay in cache while they are converted
CONVERT_CHUNK = 65_536
#: point arrays the loader fills itself: an extra-bytes dimension of the same name gets "extra_"
RESERVED_NAMES = frozenset(
    {"rgb", "rgb_low", "intensity", "classification", "return_number", "nir", "gps_time", "asset_index"}
)
#: most threads converting an uncompressed LAS (numpy releases the GIL while it converts)
MOST_THREADS = 4
#: LAZ points decoded per call, a multiple of the usual 50,000-point LAZ chunk (parallel decode)
DECODE_CHUNK = 1_000_000


@contextmanager
def native_errors(path: Path, what: str) -> Iterator[None]:
    """Turn laspy, lazrs and OS failures (including lazrs panics) into :class:`InputError`.

    A panic in lazrs' Rust code arrives as pyo3's ``PanicException``, a ``BaseException``
    that ``except Exception`` lets through; it is recognised by name (pyo3 does not export it).
    """
    try:
        yield
    except InputError:
        raise
    except Exception as exc:
        raise InputError(path, f"{what}: {reason(exc)}") from exc
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise
        raise InputError(path, f"{what}: the LAZ decoder crashed ({reason(exc)})") from None


def reason(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def laspy_header(path: Path, info: HeaderInfo) -> laspy.LasHeader:
    """laspy's parsed header (VLRs, extra dimensions, CRS keys) of a file that passed our checks.

    laspy does not open LAS 1.0; its header and records are read as LAS 1.1 (1.1 only named
    two reserved fields), from a copy of the header block and VLRs (never the points).
    """
    with native_errors(path, "cannot read the header"):
        if info.version != "1.0":
            with laspy.open(path) as reader:
                return reader.header
        with open(path, "rb") as handle:
            block = bytearray(handle.read(info.offset_to_points))
        block[25] = 1
        with laspy.open(io.BytesIO(bytes(block))) as reader:
            return reader.header


def layout_of(header: laspy.LasHeader) -> Layout:
    """The record layout of a file: its point format, scales and extra-bytes dimensions."""
    extras = []
    for dim in header.point_format.extra_dimensions:
        scales = None if dim.scales is None else np.asarray(dim.scales, dtype=np.float64)
        offsets = None if dim.offsets is None else np.asarray(dim.offsets, dtype=np.float64)
        name = f"extra_{dim.name}" if dim.name in RESERVED_NAMES else dim.name
        extras.append(
            ExtraDim(
                name,
                dim.name,
                np.dtype(dim.dtype.base if dim.dtype.shape else dim.dtype),
                dim.num_elements,
                scales,
                offsets,
            )
        )
    return Layout(
        header.point_format.id,
        np.asarray(header.scales, dtype=np.float64),
        np.asarray(header.offsets, dtype=np.float64),
        tuple(extras),
    )


def record_dtype(header: laspy.LasHeader, record_length: int) -> np.dtype:
    """laspy's record dtype, padded to the header's record length (some writers add bytes)."""
    dtype = header.point_format.dtype()
    if record_length < dtype.itemsize:
        raise ValueError(
            f"records of {record_length} bytes cannot hold the declared "
            f"{dtype.itemsize} bytes of point format {header.point_format.id} and extra bytes"
        )
    if record_length == dtype.itemsize:
        result: np.dtype[Any] = dtype
        return result
    return np.dtype(
        {
            "names": dtype.names,
            "formats": [dtype.fields[n][0] for n in dtype.names],
            "offsets": [dtype.fields[n][1] for n in dtype.names],
            "itemsize": record_length,
        }
    )


def record_chunks(path: Path, info: HeaderInfo, header: laspy.LasHeader) -> Iterator[np.ndarray]:
    """Every raw point record of the file, in cache-sized chunks (each valid until the next).

    Raises :class:`InputError` when the file holds fewer points than its header says.
    """
    seen = 0
    for chunk in _laz_chunks(path) if info.compressed else _las_chunks(path, info, header):
        seen += len(chunk)
        yield chunk
    if seen < info.point_count:
        raise InputError(
            path,
            f"truncated: the header says {info.point_count:,} points, only {seen:,} "
            f"could be {'decompressed' if info.compressed else 'read'}",
        )


def _las_chunks(path: Path, info: HeaderInfo, header: laspy.LasHeader) -> Iterator[np.ndarray]:
    """Uncompressed LAS, read into one reused buffer (no full copy of the raw records is made)."""
    with native_errors(path, "bad point records"):
        dtype = record_dtype(header, info.record_length)
    buffer = bytearray(CONVERT_CHUNK * dtype.itemsize)
    with open(path, "rb") as handle:
        handle.seek(info.offset_to_points)
        left = info.point_count
        while left:
            k = min(CONVERT_CHUNK, left)
            got = handle.readinto(memoryview(buffer)[: k * dtype.itemsize]) // dtype.itemsize
            if got:
                yield np.frombuffer(buffer, dtype, count=got)
            if got < k:
                return
            left -= k


def fill_las(path: Path, info: HeaderInfo, header: laspy.LasHeader, columns: Columns) -> None:
    """Every record of an uncompressed LAS into ``columns`` (no box), converted by threads.

    Conversion, not reading, is what a LAS load costs beyond ``laspy.read``: each thread reads
    its own cache-sized blocks (its own handle and buffer) and converts them into their rows, so
    the cores share it.  One thread on one core, or for a file of a few blocks.
    """
    with native_errors(path, "bad point records"):
        dtype = record_dtype(header, info.record_length)
    starts = range(0, info.point_count, CONVERT_CHUNK)
    threads = max(1, min(MOST_THREADS, os.cpu_count() or 1, len(starts) // 4))

    def work(part: int) -> ClassBounds:
        bounds, buffer = ClassBounds(), bytearray(CONVERT_CHUNK * dtype.itemsize)
        with open(path, "rb", buffering=0) as handle:
            for start in starts[part::threads]:
                k = min(CONVERT_CHUNK, info.point_count - start)
                handle.seek(info.offset_to_points + start * dtype.itemsize)
                if handle.readinto(memoryview(buffer)[: k * dtype.itemsize]) < k * dtype.itemsize:
                    raise InputError(path, f"truncated while reading: point {start:,} and on are missing")
                columns.put(np.frombuffer(buffer, dtype, count=k), start, bounds)
        return bounds

    if not starts:
        return
    _settle_first(info, dtype, columns, path)
    if threads == 1:
        columns.classes.merge(work(0))
    else:
        with ThreadPoolExecutor(threads, thread_name_prefix="las") as pool:
            for bounds in pool.map(work, range(threads)):
                columns.classes.merge(bounds)
    columns.count = info.point_count


def _settle_first(info: HeaderInfo, dtype: np.dtype, columns: Columns, path: Path) -> None:
    """The origin checked against the first block, before threads convert relative to it."""
    with open(path, "rb") as handle:
        handle.seek(info.offset_to_points)
        raw = handle.read(min(CONVERT_CHUNK, info.point_count) * dtype.itemsize)
    columns.settle_origin(np.frombuffer(raw, dtype, count=len(raw) // dtype.itemsize))


def _laz_chunks(path: Path) -> Iterator[np.ndarray]:
    """LAZ through lazrs' parallel decompressor, a million points per call, handed on in slices."""
    with native_errors(path, "cannot decompress the points"):
        with laspy.open(path, laz_backend=laspy.LazBackend.LazrsParallel) as reader:
            for chunk in reader.chunk_iterator(DECODE_CHUNK):
                records = chunk.array
                for start in range(0, len(records), CONVERT_CHUNK):
                    yield records[start : start + CONVERT_CHUNK]


def add_records(columns: Columns, records: np.ndarray) -> None:
    """Records of any length into ``columns``, in cache-sized slices."""
    for start in range(0, len(records), CONVERT_CHUNK):
        columns.add(records[start : start + CONVERT_CHUNK])
