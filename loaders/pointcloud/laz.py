"""Checks of a LAZ file's chunk table with ``struct``, before lazrs reads it.

lazrs reserves memory for the chunk count it reads; a garbage count aborts the whole process
(a Rust allocation failure, which no Python handler can catch).  The table also tells how many
points the compressed chunks can hold, which catches a header that lies about its count.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from loaders.pointcloud.header import LASZIP_RECORD, LASZIP_USER, HeaderInfo
from loaders.pointcloud.read import native_errors, reason
from twin.errors import InputError


def check_chunk_table(path: Path, info: HeaderInfo) -> tuple[bool, list[str]]:
    """Check a LAZ header's point count against its chunk table, before decoding anything.

    Returns whether the count could be checked, and warnings; raises when the header claims
    more points than the chunks can hold.
    """
    import lazrs

    vlr = info.find_vlr(LASZIP_USER, LASZIP_RECORD)
    if vlr is None:
        raise InputError(path, "compressed points but no LASzip VLR", where="VLRs")
    with open(path, "rb") as handle:
        _check_table_position(path, info, handle)
        handle.seek(vlr.start)
        with native_errors(path, "corrupt LASzip VLR"):
            laz_vlr = lazrs.LazVlr(handle.read(vlr.length))
        handle.seek(info.offset_to_points)
        try:
            table = lazrs.read_chunk_table(handle, laz_vlr)
        except BaseException as exc:  # no table (streamed writer) or a panic reading it
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise
            return False, [f"LAZ chunk table unreadable ({reason(exc)}): the point count is checked while decoding"]
    counts = np.array([c for c, _ in table], dtype=np.int64)
    if laz_vlr.uses_variable_size_chunks():
        most = least = int(counts.sum())
    else:
        most, least = len(table) * laz_vlr.chunk_size(), (len(table) - 1) * laz_vlr.chunk_size() + 1
    if info.point_count > most:
        raise InputError(
            path,
            f"lying header: it says {info.point_count:,} points, the {len(table):,} "
            f"compressed chunks hold at most {most:,}",
            where="byte 247" if info.version == "1.4" else "byte 107",
        )
    if info.point_count < least:
        return True, [
            f"the header says {info.point_count:,} points, the compressed chunks hold at least "
            f"{least:,}: only the header's count is read"
        ]
    return True, []


def _check_table_position(path: Path, info: HeaderInfo, handle: BinaryIO) -> None:
    """Check the chunk table's offset and chunk count with ``struct``."""
    handle.seek(info.offset_to_points)
    raw = handle.read(8)
    if len(raw) < 8:
        raise InputError(path, "truncated: no compressed point data", where=f"byte {info.offset_to_points}")
    (table,) = struct.unpack("<q", raw)
    if table == -1:
        raise InputError(
            path,
            "the LAZ chunk table is missing (offset -1: did its writer finish?), so the points cannot be decoded",
            where=f"byte {info.offset_to_points}",
            hint="re-compress the file, e.g. with `pdal translate` or `laszip`",
        )
    data_bytes = table - info.offset_to_points - 8
    if not 0 <= data_bytes <= info.file_size - info.offset_to_points - 16:
        raise InputError(
            path,
            f"corrupt or truncated LAZ: the chunk table offset {table:,} lies outside "
            f"the file ({info.file_size:,} bytes)",
            where=f"byte {info.offset_to_points}",
        )
    handle.seek(table)
    version, chunks = struct.unpack("<II", handle.read(8))
    if version != 0 or chunks > data_bytes:
        raise InputError(
            path,
            f"corrupt LAZ chunk table (version {version}, {chunks:,} chunks in "
            f"{data_bytes:,} bytes of compressed points)",
            where=f"byte {table}",
        )
