"""Cheap checks of an IFC file's STEP header, before any native code sees it.

A file that is not STEP, that was cut short, or that names a schema nobody knows is
rejected here with a clear :class:`InputError`; pre-release IFC 4.3 schema names (``IFC4X3_RC2``,
``IFC4X3_RC3``, plain ``IFC4X3``...) that ifcopenshell refuses are rewritten to
``IFC4X3_ADD2`` (and ``IFC4_ADD2``-style names to their base schema) in a temporary copy, with a
warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from twin.errors import InputError

#: the schemas ifcopenshell 0.9 reads as they are
KNOWN_SCHEMAS = ("IFC2X3", "IFC4", "IFC4X3_ADD2")
#: the schema every other IFC 4.x draft or release name is read as
FALLBACK_SCHEMA = "IFC4X3_ADD2"
HEAD_BYTES = 65536
TAIL_BYTES = 4096
_SCHEMA = re.compile(rb"FILE_SCHEMA\s*\(\s*\(\s*'([^']*)'", re.IGNORECASE)
_END = re.compile(rb"END-ISO-10303-21\s*;", re.IGNORECASE)


@dataclass(frozen=True)
class Header:
    """What the header says: the schema as written, and the one the file is read as."""

    schema: str
    read_as: str
    size: int

    @property
    def needs_fallback(self) -> bool:
        return self.schema != self.read_as


def check(path: Path) -> Header:
    """Read the head and tail of ``path`` and say whether ifcopenshell may be given it."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
            handle.seek(max(0, size - TAIL_BYTES))
            tail = handle.read()
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror})") from None
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if body.startswith(b"PK\x03\x04"):
        raise InputError(path, "is a zip archive (ifcZIP), not an IFC STEP file", hint="unzip it and load the .ifc")
    if body.lstrip().startswith(b"<"):
        raise InputError(path, "is XML (ifcXML?), not an IFC STEP file", where="byte 0")
    if not body.upper().startswith(b"ISO-10303-21;"):
        raise InputError(path, "not an IFC file: it does not start with ISO-10303-21;", where="byte 0")
    match = _SCHEMA.search(head)
    if match is None:
        raise InputError(path, "no FILE_SCHEMA in the STEP header", where="header")
    schema = match.group(1).decode("ascii", "replace").strip().upper()
    if not _END.search(tail):
        raise InputError(path, "truncated: the file does not end with END-ISO-10303-21;", where=f"byte {size}")
    return Header(schema=schema, read_as=_read_as(path, schema), size=size)


def _read_as(path: Path, schema: str) -> str:
    if schema in KNOWN_SCHEMAS:
        return schema
    if schema.startswith("IFC4X"):
        return FALLBACK_SCHEMA
    for known in ("IFC2X3", "IFC4"):  # addenda and corrigenda written into the name: IFC4_ADD2, IFC2X3_TC1
        if schema.startswith(f"{known}_"):
            return known
    raise InputError(
        path,
        f"unknown IFC schema {schema!r}",
        where="FILE_SCHEMA",
        hint=f"readable schemas: {', '.join(KNOWN_SCHEMAS)} and IFC 4.x drafts (read as {FALLBACK_SCHEMA})",
    )


def fallback_copy(path: Path, header: Header, target: Path) -> Path:
    """Write a copy of ``path`` whose FILE_SCHEMA names ``header.read_as``; return it.

    Only the header is rewritten; the data section is copied byte for byte.
    """
    data = path.read_bytes()
    match = _SCHEMA.search(data, 0, HEAD_BYTES)
    if match is None:
        raise InputError(path, "no schema to rewrite", where="FILE_SCHEMA")
    start, stop = match.span(1)
    target.write_bytes(data[:start] + header.read_as.encode() + data[stop:])
    return target
