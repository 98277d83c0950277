"""Reading text files as city data comes: UTF-8, or GBK/GB18030 from Chinese survey offices.

Without an ``encoding`` option a file must be UTF-8; if it is not, GB18030 (a superset of
GBK and GB2312) is tried and accepted only when the result holds Chinese text, with a
warning.  Anything else is an error naming the line of the first bad byte.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twin.errors import InputError

NEWLINE = b"\n"

_CJK = re.compile(r"[\u4e00-\u9fff]")


def read_text(path: Path, options: Mapping[str, Any], warnings: list[str]) -> str:
    """The file's text, decoded as the ``encoding`` option says or as detected."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror})") from None
    encoding = options.get("encoding")
    if encoding:
        try:
            codecs.lookup(str(encoding))
        except LookupError:
            raise InputError(path, f"unknown encoding {encoding!r} in option encoding") from None
        return _decode(path, raw, str(encoding))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        first_error = exc
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        text = ""
    if _CJK.search(text):
        warnings.append(f"{path.name} is not UTF-8: read as GB18030/GBK (set option encoding to override)")
        return text
    raise InputError(
        path,
        f"not UTF-8 text (byte 0x{raw[first_error.start]:02x} at offset {first_error.start})",
        where=_line_of(raw, first_error.start),
        hint='give the file\'s encoding as an option, e.g. encoding = "gb18030" or "latin-1"',
    )


def _decode(path: Path, raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            path, f"not valid {encoding} text (offset {exc.start})", where=_line_of(raw, exc.start)
        ) from None


def _line_of(raw: bytes, offset: int) -> str:
    return f"line {raw.count(NEWLINE, 0, offset) + 1}"
