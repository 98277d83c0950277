"""The section-and-columns text format EPANET and SWMM share (``.inp``).

A file is ``[SECTION]`` headers followed by whitespace-separated rows; ``;`` starts a comment.
Both engines refuse an unknown section, and so do we, naming the line.  Rows keep their line
number so any later problem can point at it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from loaders.pipes.model import number
from twin.errors import InputError


@dataclass
class Row:
    line: int
    fields: list[str]

    @property
    def where(self) -> str:
        return f"line {self.line}"


def sections(path: Path, text: str, known: frozenset[str]) -> dict[str, list[Row]]:
    """Rows of every section, keyed by upper-case section name."""
    out: dict[str, list[Row]] = defaultdict(list)
    current: str | None = None
    for number_, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise InputError(path, f"malformed section header {line!r}", where=f"line {number_}")
            current = line[1:-1].strip().upper()
            if current not in known:
                raise InputError(
                    path,
                    f"unknown section [{current}]",
                    where=f"line {number_}",
                    hint="remove it or fix its name; see the format's manual for valid sections",
                )
            continue
        if current is None:
            raise InputError(path, "data before the first [SECTION] header", where=f"line {number_}")
        if current in ("TITLE",):
            continue
        out[current].append(Row(number_, line.split()))
    return out


class RowReader:
    """Reads typed fields out of a row, raising InputError with the file and line."""

    def __init__(self, path: Path, section: str) -> None:
        self.path, self.section = path, section

    def need(self, row: Row, count: int, names: str) -> None:
        if len(row.fields) < count:
            raise InputError(
                self.path,
                f"[{self.section}] row needs {count} fields ({names}), got {len(row.fields)}",
                where=row.where,
            )

    def number(self, row: Row, index: int, name: str, default: float = math.nan) -> float:
        if index >= len(row.fields):
            return default
        text = row.fields[index]
        try:
            return number(text)
        except ValueError:
            raise InputError(self.path, f"[{self.section}] {name} is not a number: {text!r}", where=row.where) from None


def options_table(rows: list[Row]) -> dict[str, str]:
    """``[OPTIONS]`` as upper-case key -> value (multi-word keys joined, e.g. ``DEMAND MULTIPLIER``)."""
    out = {}
    for row in rows:
        if len(row.fields) >= 2:
            out[" ".join(row.fields[:-1]).upper()] = row.fields[-1]
    return out


def coordinates(reader: RowReader, rows: list[Row]) -> dict[str, tuple[float, float]]:
    out = {}
    for row in rows:
        reader.need(row, 3, "node, x, y")
        out[row.fields[0]] = (reader.number(row, 1, "x"), reader.number(row, 2, "y"))
    return out


def vertices(reader: RowReader, rows: list[Row]) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in rows:
        reader.need(row, 3, "link, x, y")
        out[row.fields[0]].append((reader.number(row, 1, "x"), reader.number(row, 2, "y")))
    return out
