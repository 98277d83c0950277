"""Reading point records: LAS straight from the file, LAZ and COPC through laspy and lazrs.

Every reader feeds raw record chunks to a :class:`Columns`.  Uncompressed LAS is read here in
small chunks into one reused buffer (faster than ``laspy.read``, and no full copy of the raw
records is ever held); LAZ is decoded by lazrs' parallel decompressor in chunks of whole LAZ
chunks; COPC is queried by octree level and box, decoding only the nodes asked for.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import laspy
import numpy as np

from loaders.pointcloud.columns import Columns, ExtraDim, Layout
from loaders.pointcloud.header import LASZIP_RECORD, LASZIP_USER, HeaderInfo
from twin.errors import InputError

#: records converted at a time: small enough to stay in cache while they are converted
CONVERT_CHUNK = 65_536
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
        raise InputError(path, f"{what}: {_reason(exc)}") from exc
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise
        raise InputError(path, f"{what}: the LAZ decoder crashed ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
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
        extras.append(ExtraDim(dim.name, np.dtype(dim.dtype.base if dim.dtype.shape else dim.dtype),
                               dim.num_elements, scales, offsets))
    return Layout(header.point_format.id, np.asarray(header.scales, dtype=np.float64),
                  np.asarray(header.offsets, dtype=np.float64), tuple(extras))


def record_dtype(header: laspy.LasHeader, record_length: int) -> np.dtype:
    """laspy's record dtype, padded to the header's record length (some writers add bytes)."""
    dtype = header.point_format.dtype()
    if record_length < dtype.itemsize:
        raise ValueError(f"records of {record_length} bytes cannot hold the declared "
                         f"{dtype.itemsize} bytes of point format {header.point_format.id} and extra bytes")
    if record_length == dtype.itemsize:
        return dtype
    return np.dtype({"names": dtype.names, "formats": [dtype.fields[n][0] for n in dtype.names],
                     "offsets": [dtype.fields[n][1] for n in dtype.names], "itemsize": record_length})


def read_las(path: Path, info: HeaderInfo, header: laspy.LasHeader, columns: Columns) -> None:
    """Uncompressed LAS: chunks read into one reused buffer and converted while they are in cache."""
    with native_errors(path, "bad point records"):
        dtype = record_dtype(header, info.record_length)
    buffer = bytearray(CONVERT_CHUNK * dtype.itemsize)
    with open(path, "rb") as handle:
        handle.seek(info.offset_to_points)
        left = info.point_count
        while left:
            k = min(CONVERT_CHUNK, left)
            got = handle.readinto(memoryview(buffer)[:k * dtype.itemsize])
            if got < k * dtype.itemsize:
                raise InputError(path, f"truncated: the header says {info.point_count:,} points, the file "
                                       f"ends after {columns.records_seen + got // dtype.itemsize:,}")
            columns.add(np.frombuffer(buffer, dtype, count=k))
            left -= k


def check_chunk_table(path: Path, info: HeaderInfo) -> list[str]:
    """Check a LAZ header's point count against its chunk table, before decoding anything.

    Returns warnings; raises when the header claims more points than the chunks can hold.
    """
    import lazrs

    vlr = info.find_vlr(LASZIP_USER, LASZIP_RECORD)
    with open(path, "rb") as handle:
        if not _table_is_sane(path, info, handle):
            return ["the LAZ file has no chunk table: its point count is checked while decoding"]
        handle.seek(vlr.start)
        with native_errors(path, "corrupt LASzip VLR"):
            laz_vlr = lazrs.LazVlr(handle.read(vlr.length))
        handle.seek(info.offset_to_points)
        try:
            table = lazrs.read_chunk_table(handle, laz_vlr)
        except BaseException as exc:  # no table (streamed writer) or a panic reading it
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise
            return [f"LAZ chunk table unreadable ({_reason(exc)}): the point count is checked while decoding"]
    counts = np.array([c for c, _ in table], dtype=np.int64)
    if laz_vlr.uses_variable_size_chunks():
        most = least = int(counts.sum())
    else:
        most, least = len(table) * laz_vlr.chunk_size(), (len(table) - 1) * laz_vlr.chunk_size() + 1
    if info.point_count > most:
        raise InputError(path, f"lying header: it says {info.point_count:,} points, the {len(table):,} "
                               f"compressed chunks hold at most {most:,}", where="byte 247" if
                         info.version == "1.4" else "byte 107")
    if info.point_count < least:
        return [f"the header says {info.point_count:,} points, the compressed chunks hold at least {least:,}: "
                f"only the header's count is read"]
    return []


def _table_is_sane(path: Path, info: HeaderInfo, handle) -> bool:
    """Check the chunk table's offset and chunk count with ``struct`` before lazrs reads it.

    lazrs reserves memory for the chunk count it reads; a garbage count aborts the whole
    process (a Rust allocation failure, which no Python handler can catch).
    """
    handle.seek(info.offset_to_points)
    raw = handle.read(8)
    if len(raw) < 8:
        raise InputError(path, "truncated: no compressed point data", where=f"byte {info.offset_to_points}")
    (table,) = struct.unpack("<q", raw)
    if table == -1:
        return False
    data_bytes = table - info.offset_to_points - 8
    if not 0 <= data_bytes <= info.file_size - info.offset_to_points - 16:
        raise InputError(path, f"corrupt or truncated LAZ: the chunk table offset {table:,} lies outside "
                               f"the file ({info.file_size:,} bytes)", where=f"byte {info.offset_to_points}")
    handle.seek(table)
    version, chunks = struct.unpack("<II", handle.read(8))
    if version != 0 or chunks > data_bytes:
        raise InputError(path, f"corrupt LAZ chunk table (version {version}, {chunks:,} chunks in "
                               f"{data_bytes:,} bytes of compressed points)", where=f"byte {table}")
    return True


def read_laz(path: Path, info: HeaderInfo, columns: Columns) -> None:
    """LAZ through lazrs' parallel decompressor, converted in cache-sized slices."""
    with native_errors(path, "cannot decompress the points"):
        with laspy.open(path, laz_backend=laspy.LazBackend.LazrsParallel) as reader:
            for chunk in reader.chunk_iterator(DECODE_CHUNK):
                add_records(columns, chunk.array)
    if columns.records_seen < info.point_count:
        raise InputError(path, f"truncated: the header says {info.point_count:,} points, only "
                               f"{columns.records_seen:,} could be decompressed")


def add_records(columns: Columns, records: np.ndarray) -> None:
    for start in range(0, len(records), CONVERT_CHUNK):
        columns.add(records[start:start + CONVERT_CHUNK])
