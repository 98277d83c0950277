"""The section-and-columns text format EPANET and SWMM share (``.inp``), read into columns.

A file is ``[SECTION]`` headers followed by whitespace-separated rows; ``;`` starts a comment.
Both engines refuse an unknown section, and so do we, naming the line.  A city model has
hundreds of thousands of rows, so the file is tokenised in one pass (one ``str.split`` and
numpy over its code points for each token's line) and every section is a :class:`Section` of
token indices: a column is one fancy index and one vectorised conversion, and only a row that
fails to convert is looked at on its own, to name its line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loaders.pipes.model import STR, lookup
from twin.errors import InputError

_COMMENT = re.compile(r";[^\n]*")
#: whether a code point is what ``str.split()`` splits on (so token i of the split is token i
#: found here); every such code point is below U+3001, and the last entry stands for all above
_SPACE = np.array([chr(c).isspace() for c in range(0x3001)] + [False])


@dataclass
class Section:
    """The rows of one section: row ``i`` is ``tokens[first[i]:first[i] + count[i]]``."""

    path: Path
    name: str
    tokens: np.ndarray
    first: np.ndarray
    count: np.ndarray
    line: np.ndarray

    def __len__(self) -> int:
        return len(self.first)

    def where(self, row: int) -> str:
        return f"line {self.line[row]}"

    def wheres(self) -> np.ndarray:
        return np.strings.add("line ", self.line.astype(STR))

    def fields(self, row: int) -> list[str]:
        start = int(self.first[row])
        return list(self.tokens[start : start + int(self.count[row])].tolist())

    def need(self, count: int, names: str) -> None:
        """Every row has at least ``count`` fields, or the first that has not is an error."""
        short = np.flatnonzero(self.count < count)
        if len(short):
            row = int(short[0])
            raise InputError(
                self.path,
                f"[{self.name}] row needs {count} fields ({names}), got {self.count[row]}",
                where=self.where(row),
            )

    def text(self, index: int, default: str = "") -> np.ndarray:
        """Field ``index`` of every row (``default`` where a row is shorter)."""
        out = np.empty(len(self), dtype=STR)
        if default:
            out[:] = default
        has = self.count > index
        out[has] = self.tokens[self.first[has] + index]
        return out

    def numbers(self, index: int, name: str, default: float = math.nan, skip: np.ndarray | None = None) -> np.ndarray:
        """Field ``index`` as float64 (``default`` where absent or ``skip``); a non-number names its line."""
        out = np.full(len(self), default)
        has = np.flatnonzero((self.count > index) & (True if skip is None else ~skip))
        values = self.tokens[self.first[has] + index]
        try:
            out[has] = values.astype(np.float64)
        except ValueError:
            row = int(has[_first_bad(values)])
            text = self.fields(row)[index]
            raise InputError(
                self.path, f"[{self.name}] {name} is not a number: {text!r}", where=self.where(row)
            ) from None
        return out


def _first_bad(values: np.ndarray) -> int:
    """Index of the first string that is not a number (the error path only: one at a time)."""
    for i, text in enumerate(values.tolist()):
        try:
            float(text)
        except ValueError:
            return i
    return 0


def empty(path: Path, name: str) -> Section:
    none = np.empty(0, dtype=np.int64)
    return Section(path, name, np.empty(0, dtype=STR), none, none, none)


def sections(path: Path, text: str, known: frozenset[str]) -> dict[str, Section]:
    """Rows of every section, keyed by upper-case section name."""
    text = _COMMENT.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    space = _SPACE[np.minimum(codes, len(_SPACE) - 1)]
    starts = np.flatnonzero(~space & np.r_[True, space[:-1]])
    tokens = np.array(text.split(), dtype=STR)
    line = np.searchsorted(np.flatnonzero(codes == 10), starts) + 1
    first = np.flatnonzero(np.r_[True, line[1:] != line[:-1]]) if len(line) else np.empty(0, np.int64)
    count = np.diff(np.r_[first, len(tokens)])
    row_line = line[first]
    header = np.strings.startswith(tokens[first], "[")
    names = _header_names(path, tokens, first, count, row_line, header, known)
    owner = np.cumsum(header) - 1
    data = ~header
    out = {}
    for name in names:
        if name == "TITLE" or name in out:
            continue
        same = np.flatnonzero(np.array(names) == name)
        rows = np.flatnonzero(data & np.isin(owner, same, kind="table"))
        out[name] = Section(path, name, tokens, first[rows], count[rows], row_line[rows])
    return out


def _header_names(
    path: Path,
    tokens: np.ndarray,
    first: np.ndarray,
    count: np.ndarray,
    line: np.ndarray,
    header: np.ndarray,
    known: frozenset[str],
) -> list[str]:
    """Each header's section name, checked in file order (data before the first is an error)."""
    heads = np.flatnonzero(header)
    if len(first) and (not len(heads) or heads[0] > 0):
        raise InputError(path, "data before the first [SECTION] header", where=f"line {line[0]}")
    names = []
    for row in heads.tolist():
        start = int(first[row])
        text = " ".join(tokens[start : start + int(count[row])].tolist())
        where = f"line {line[row]}"
        if not text.endswith("]"):
            raise InputError(path, f"malformed section header {text!r}", where=where)
        name = text[1:-1].strip().upper()
        if name not in known:
            raise InputError(
                path,
                f"unknown section [{name}]",
                where=where,
                hint="remove it or fix its name; see the format's manual for valid sections",
            )
        names.append(name)
    return names


def truncation(text: str, rows: dict[str, Section]) -> str | None:
    """A warning when the file ends in the middle of a line: a cut-off copy loads only part of
    its network, and the last value read may itself be cut short."""
    stripped = text.rstrip(" \t")
    if not stripped or stripped.endswith(("\n", "\r")):
        return None
    last = max((int(s.line[-1]) for s in rows.values() if len(s)), default=0)
    return f"the file ends in the middle of line {last}: it may be truncated (check its last rows)"


def options_table(rows: Section) -> dict[str, str]:
    """``[OPTIONS]`` as upper-case key -> value (multi-word keys joined, e.g. ``DEMAND MULTIPLIER``)."""
    out = {}
    for i in range(len(rows)):
        fields = rows.fields(i)
        if len(fields) >= 2:
            out[" ".join(fields[:-1]).upper()] = fields[-1]
    return out


def points(rows: Section, names: str) -> tuple[np.ndarray, np.ndarray]:
    """``[COORDINATES]`` or ``[VERTICES]``: the ids and their x, y (shape ``(n, 2)``)."""
    rows.need(3, names)
    return rows.text(0), np.column_stack([rows.numbers(1, "x"), rows.numbers(2, "y")])


def placed(node_ids: np.ndarray, coordinates: Section) -> np.ndarray:
    """x, y of each node from ``[COORDINATES]`` (NaN where absent; the last row of an id counts)."""
    ids, xy = points(coordinates, "node, x, y")
    row = lookup(ids[::-1], node_ids)
    out = np.full((len(node_ids), 2), math.nan)
    found = row >= 0
    out[found] = xy[::-1][row[found]]
    return out


def bends(link_ids: np.ndarray, vertices: Section) -> tuple[np.ndarray, np.ndarray]:
    """``[VERTICES]`` grouped by link, in file order: (offsets per link, x y)."""
    ids, xy = points(vertices, "link, x, y")
    row = lookup(link_ids, ids)
    keep = np.flatnonzero(row >= 0)
    order = keep[np.argsort(row[keep], kind="stable")]
    offsets = np.r_[0, np.cumsum(np.bincount(row[keep], minlength=len(link_ids)))]
    return offsets, xy[order]
