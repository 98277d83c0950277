"""A LAZ file's chunk table: checked with ``struct`` before lazrs reads it, then used to decode
only the beginning of each chunk for a preview.

lazrs reserves memory for the chunk count it reads; a garbage count aborts the whole process
(a Rust allocation failure, which no Python handler can catch).  The table also tells how many
points the compressed chunks can hold, which catches a header that lies about its count.

LAZ chunks (usually 50,000 points) are compressed independently, and each decodes from its
start: the first ``m`` points of every chunk cost about ``m / chunk size`` of a full decode,
touch only the first pages of each chunk (the file is memory-mapped) and, spread over the whole
file, cover every part of the cloud.  That is the preview of a LAZ over the point budget.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from loaders.pointcloud.header import LASZIP_RECORD, LASZIP_USER, HeaderInfo
from loaders.pointcloud.read import DECODE_CHUNK, native_errors, reason
from twin.errors import InputError


@dataclass(frozen=True)
class ChunkTable:
    """Where each compressed chunk lies and how many points it holds (of the header's count)."""

    vlr: bytes  # the LASzip VLR's payload, which lazrs needs to decode
    points: np.ndarray  # int64 per chunk
    sizes: np.ndarray  # compressed bytes per chunk, int64
    data_start: int  # file offset of the first chunk

    @property
    def starts(self) -> np.ndarray:
        return self.data_start + np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)


def check_chunk_table(path: Path, info: HeaderInfo) -> tuple[ChunkTable | None, list[str]]:
    """Check a LAZ header's point count against its chunk table, before decoding anything.

    Returns the table (None when it cannot be read: the count is then checked while decoding)
    and warnings; raises when the header claims more points than the chunks can hold.
    """
    import lazrs

    vlr = info.find_vlr(LASZIP_USER, LASZIP_RECORD)
    if vlr is None:
        raise InputError(path, "compressed points but no LASzip VLR", where="VLRs")
    with open(path, "rb") as handle:
        table_offset = _check_table_position(path, info, handle)
        handle.seek(vlr.start)
        payload = handle.read(vlr.length)
        with native_errors(path, "corrupt LASzip VLR"):
            laz_vlr = lazrs.LazVlr(payload)
        handle.seek(info.offset_to_points)
        try:
            table = lazrs.read_chunk_table(handle, laz_vlr)
        except BaseException as exc:  # no table (streamed writer) or a panic reading it
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise
            return None, [f"LAZ chunk table unreadable ({reason(exc)}): the point count is checked while decoding"]
    counts = np.array([c for c, _ in table], dtype=np.int64)
    sizes = np.array([b for _, b in table], dtype=np.int64)
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
    data_start = info.offset_to_points + 8
    if (sizes < 0).any() or int(sizes.sum()) > table_offset - data_start:
        return None, ["LAZ chunk table holds impossible chunk sizes: the point count is checked while decoding"]
    if not laz_vlr.uses_variable_size_chunks():
        counts = np.full(len(table), laz_vlr.chunk_size(), dtype=np.int64)
    held = np.diff(np.minimum(np.cumsum(counts), info.point_count), prepend=0)  # the header's points
    chunks = ChunkTable(payload, held, sizes, data_start)
    if info.point_count < least:
        return chunks, [
            f"the header says {info.point_count:,} points, the compressed chunks hold at least "
            f"{least:,}: only the header's count is read"
        ]
    return chunks, []


def _check_table_position(path: Path, info: HeaderInfo, handle: BinaryIO) -> int:
    """Check the chunk table's offset and chunk count with ``struct``; returns the offset."""
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
    return int(table)


def chunk_prefixes(path: Path, chunks: ChunkTable, per_chunk: int, record_size: int) -> Iterator[np.ndarray]:
    """The first ``per_chunk`` points of every chunk, decoded in parallel about a million at a
    time (raw record bytes, ``uint8``), from the memory-mapped file: only the pages each prefix
    needs are ever read."""
    import lazrs

    take = np.minimum(chunks.points, per_chunk)
    starts, ends = chunks.starts, chunks.starts + chunks.sizes
    groups = np.searchsorted(np.cumsum(take), np.arange(DECODE_CHUNK, int(take.sum()), DECODE_CHUNK), side="right")
    selection = lazrs.DecompressionSelection(lazrs.SELECTIVE_DECOMPRESS_ALL)
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        view = memoryview(mapped)
        try:
            for first, stop in zip([0, *groups], [*groups, len(take)], strict=True):
                if first == stop:
                    continue
                out = np.empty(int(take[first:stop].sum()) * record_size, np.uint8)
                table = list(zip(take[first:stop].tolist(), chunks.sizes[first:stop].tolist(), strict=True))
                with native_errors(path, "cannot decompress the points"):
                    lazrs.decompress_points_with_chunk_table(
                        view[int(starts[first]) : int(ends[stop - 1])], chunks.vlr, out, table, selection
                    )
                yield out
        finally:
            view.release()
