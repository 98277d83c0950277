"""Checks of a LAS/LAZ header with ``struct``, before laspy may allocate anything.

laspy trusts the header: it reserves memory for the VLR and point counts the file claims (a
garbage VLR count made it grow past 12 GB).  So the public header block, the VLR and EVLR
chains and the point count are read here and checked against the file size; only a file that
passes is handed to laspy.
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from twin.errors import InputError

MIN_HEADER = 227  # LAS 1.0-1.2 public header block
VLR_HEADER, EVLR_HEADER = 54, 60
#: smallest record length of each point format (LAS 1.4 R15)
FORMAT_SIZES = {0: 20, 1: 28, 2: 26, 3: 34, 4: 57, 5: 63, 6: 30, 7: 36, 8: 38, 9: 59, 10: 67}
LASZIP_USER, LASZIP_RECORD = "laszip encoded", 22204


@dataclass
class Vlr:
    """One (extended) variable-length record: who wrote it, what it is, where its payload lies."""

    user_id: str
    record_id: int
    start: int
    length: int


@dataclass
class HeaderInfo:
    """The facts of a header that passed every check."""

    version: str
    point_format: int
    record_length: int
    point_count: int
    compressed: bool
    header_size: int
    offset_to_points: int
    file_size: int
    scales: tuple[float, float, float]
    offsets: tuple[float, float, float]
    mins: tuple[float, float, float]
    maxs: tuple[float, float, float]
    vlrs: list[Vlr] = field(default_factory=list)
    evlrs: list[Vlr] = field(default_factory=list)
    #: where internal waveform data starts (LAS 1.3+, global encoding bit 1), else 0
    waveform_start: int = 0
    #: bytes past the last point record (before waveform data and EVLRs) the header does not account for
    trailing_bytes: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def is_copc(self) -> bool:
        return bool(self.vlrs) and (self.vlrs[0].user_id, self.vlrs[0].record_id) == ("copc", 1)

    def find_vlr(self, user_id: str, record_id: int) -> Vlr | None:
        return next((v for v in self.vlrs if (v.user_id, v.record_id) == (user_id, record_id)), None)


def check_header(path: Path, partial: bool = False) -> HeaderInfo:
    """Read and check the header of a LAS/LAZ file; raise :class:`InputError` on any lie in it.

    With ``partial``, a truncated LAS keeps the complete points it holds (and says so in
    ``warnings``) instead of failing.
    """
    try:
        _check_regular(path)
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(0)
            head = handle.read(375)
            info = _public_block(path, head, size)
            handle.seek(info.header_size)
            info.vlrs = _vlr_chain(
                path, handle.read(info.offset_to_points - info.header_size), info.header_size, _count(head, 100, "<I")
            )
            if info.version == "1.4":
                info.evlrs = _evlrs(path, handle, head, size)
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None
    _check_points(path, info, partial)
    return info


def _check_regular(path: Path) -> None:
    """Refuse a FIFO, socket, device or folder at once: opening a FIFO named ``.las`` would wait
    for a writer forever, and a device has no size to check a header against."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        what = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a folder" if stat.S_ISDIR(mode) else "a device"
        raise InputError(path, f"not a regular file but {what}: a point cloud is read from a file")


def _count(head: bytes, offset: int, fmt: str) -> int:
    return int(struct.unpack_from(fmt, head, offset)[0])


def _public_block(path: Path, head: bytes, size: int) -> HeaderInfo:
    if head[:4] != b"LASF":
        raise InputError(path, "not a LAS file (no LASF signature)", where="byte 0")
    if size < MIN_HEADER or len(head) < MIN_HEADER:
        raise InputError(path, f"truncated header: {size} bytes, a LAS header takes at least {MIN_HEADER}")
    major, minor = head[24], head[25]
    if major != 1 or minor > 4:
        raise InputError(path, f"unsupported LAS version {major}.{minor} (1.0 to 1.4 are read)", where="byte 24")
    header_size, offset, _, format_byte, record_length = struct.unpack_from("<HIIBH", head, 94)
    minimum = 375 if minor == 4 else 235 if minor == 3 else MIN_HEADER
    if not minimum <= header_size <= size:
        raise InputError(
            path,
            f"header size {header_size} is impossible for LAS {major}.{minor} (at least {minimum}, file {size} bytes)",
            where="byte 94",
        )
    if not header_size <= offset <= size:
        raise InputError(
            path, f"offset to point data {offset:,} lies outside the file ({header_size}..{size:,})", where="byte 96"
        )
    point_format = format_byte & 0x3F
    if point_format not in FORMAT_SIZES:
        raise InputError(path, f"unknown point format {point_format} (0 to 10 are defined)", where="byte 104")
    if record_length < FORMAT_SIZES[point_format]:
        raise InputError(
            path,
            f"point record length {record_length} is shorter than point format "
            f"{point_format} needs ({FORMAT_SIZES[point_format]})",
            where="byte 105",
        )
    scales = struct.unpack_from("<3d", head, 131)
    if not all(s > 0 or s < 0 for s in scales):
        raise InputError(path, f"scale factors {scales} include zero or NaN", where="byte 131")
    maxx, minx, maxy, miny, maxz, minz = struct.unpack_from("<6d", head, 179)
    legacy = _count(head, 107, "<I")
    internal_waveform = minor >= 3 and _count(head, 6, "<H") & 2
    waveform_start = _count(head, 227, "<Q") if internal_waveform else 0
    count = _count(head, 247, "<Q") if minor == 4 and len(head) >= 255 else legacy
    return HeaderInfo(
        version=f"{major}.{minor}",
        point_format=point_format,
        record_length=record_length,
        point_count=count or legacy,
        compressed=bool(format_byte & 0xC0),
        header_size=header_size,
        offset_to_points=offset,
        file_size=size,
        scales=scales,
        offsets=struct.unpack_from("<3d", head, 155),
        mins=(minx, miny, minz),
        maxs=(maxx, maxy, maxz),
        waveform_start=waveform_start,
    )


def _vlr_chain(path: Path, data: bytes, start: int, count: int) -> list[Vlr]:
    """Walk ``count`` VLRs in ``data`` (which begins at file offset ``start``), checking each fits."""
    if count * VLR_HEADER > len(data):
        raise InputError(
            path,
            f"header claims {count:,} VLRs but the {len(data):,} bytes between the "
            f"header and the point data have room for {len(data) // VLR_HEADER:,}",
            where="byte 100",
        )
    records, pos = [], 0
    for i in range(count):
        user = data[pos + 2 : pos + 18].split(b"\0", 1)[0].decode("ascii", "replace")
        record_id = struct.unpack_from("<H", data, pos + 18)[0]
        length = struct.unpack_from("<H", data, pos + 20)[0]
        if pos + VLR_HEADER + length > len(data):
            raise InputError(
                path,
                f"VLR {i} ({user!r} record {record_id}) claims {length:,} bytes, "
                f"running past the start of the point data",
                where=f"byte {start + pos}",
            )
        records.append(Vlr(user, record_id, start + pos + VLR_HEADER, length))
        pos += VLR_HEADER + length
    return records


def _evlrs(path: Path, handle: BinaryIO, head: bytes, size: int) -> list[Vlr]:
    """The EVLR chain at the end of a LAS 1.4 file, walked header by header (never read whole)."""
    first, count = struct.unpack_from("<QI", head, 235)
    if count == 0:
        return []
    if not 0 < first <= size or count * EVLR_HEADER > size - first:
        raise InputError(
            path,
            f"header claims {count:,} EVLRs from byte {first:,}, which a file of {size:,} bytes cannot hold",
            where="byte 235",
        )
    records, pos = [], first
    for i in range(count):
        handle.seek(pos)
        block = handle.read(EVLR_HEADER)
        if len(block) < EVLR_HEADER:
            raise InputError(path, f"EVLR {i} starts past the end of the file", where=f"byte {pos}")
        user = block[2:18].split(b"\0", 1)[0].decode("ascii", "replace")
        record_id, length = struct.unpack_from("<HQ", block, 18)
        if pos + EVLR_HEADER + length > size:
            raise InputError(
                path,
                f"EVLR {i} ({user!r} record {record_id}) claims {length:,} bytes, running past the end of the file",
                where=f"byte {pos}",
            )
        records.append(Vlr(user, record_id, pos + EVLR_HEADER, length))
        pos += EVLR_HEADER + length
    return records


def _check_points(path: Path, info: HeaderInfo, partial: bool) -> None:
    """The point count against the bytes that hold the points (LAS) or the chunk table (LAZ)."""
    if info.compressed:
        if info.find_vlr(LASZIP_USER, LASZIP_RECORD) is None:
            raise InputError(path, "compressed point format but no LASzip VLR")
        return
    ends = [v.start - EVLR_HEADER for v in info.evlrs]
    if info.offset_to_points <= info.waveform_start <= info.file_size:
        ends.append(info.waveform_start)
    end = min(ends, default=info.file_size)
    available = max(end - info.offset_to_points, 0)
    needed = info.point_count * info.record_length
    complete = available // info.record_length
    if needed > available and partial:
        info.warnings.append(
            f"truncated file: the header says {info.point_count:,} points, only the "
            f"{complete:,} complete ones are loaded"
        )
        info.point_count, needed = complete, complete * info.record_length
    if needed > available:
        raise InputError(
            path,
            f"truncated or lying header: it says {info.point_count:,} points "
            f"({needed:,} bytes) but the file holds {complete:,} "
            f"complete points ({available:,} bytes)",
            where=f"byte {info.offset_to_points}",
            hint="pass option partial=true to load the complete points that are there",
        )
    info.trailing_bytes = available - needed
