"""Pipe networks as two CSV tables: segments, and the nodes they join.

Layout (columns mapped like GeoJSON properties, see :mod:`loaders.pipes.fields`):

* ``<name>.csv`` -- one row per segment: ``id, from_node, to_node, diameter, ...`` and
  optionally ``vertices`` (interior points as ``"x y; x y"``) or ``wkt``
  (``LINESTRING (x y, x y, ...)``, which then gives the whole line);
* ``<name>.nodes.csv`` beside it (or the file named by the option ``nodes``) -- one row per
  node: ``id, x, y`` and optionally ``kind, elevation, invert, depth, ...``.

Both files: UTF-8 with a header (or GBK/GB18030, detected, or named by ``encoding``); a bad row
is skipped with a warning naming its line, or is an error with ``strict = true``.  A row with
fewer fields than the header (a cut-off copy) is such a bad row, and a file ending in the middle
of a line is warned about; a repeated segment or node id is a bad row too (the first counts).

The tables are read into columns (one StringDType array per CSV column) and converted a column
at a time; only a row that fails to convert is read again on its own, by the per-row field
mapping, to say what is wrong with it.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from loaders.pipes.build import build
from loaders.pipes.fields import FieldMap
from loaders.pipes.model import STR, Attr, LinkTable, NetworkData, NodeTable, Problems
from loaders.pipes.text import read_text
from twin.errors import InputError
from twin.source import LoadedSource

_WKT = re.compile(r"^\s*LINESTRING\s*Z?\s*\((.*)\)\s*$", re.IGNORECASE)


class _Table:
    """A CSV file as columns: ``columns[name]`` (stripped text), each row's line, short rows."""

    def __init__(self, path: Path, options: Mapping[str, Any], data: NetworkData) -> None:
        text = read_text(path, options, data.warnings)
        header, rows, lines, last_line = _records(path, text)
        if not header:
            raise InputError(path, "empty CSV (no header row)", where="line 1")
        width = len(header)
        fields = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        self.short = fields < width
        if self.short.any() or (fields > width).any():
            rows = [(row + [""] * width)[:width] for row in rows]
        cells = list(zip(*rows)) if rows else [() for _ in header]
        self.columns = {name: np.strings.strip(np.array(col, dtype=STR)) for name, col in zip(header, cells)}
        self.n = len(rows)
        self.line = lines
        if text.strip() and not text.endswith(("\n", "\r")):
            data.warnings.append(
                f"{path.name}: the file ends in the middle of line {last_line}: it may be truncated "
                "(check its last rows)"
            )

    def row(self, i: int) -> dict[str, str]:
        """One row as the per-row field mapping reads it (the error path)."""
        return {k: str(v[i]) for k, v in self.columns.items()}

    def text(self, name: str) -> np.ndarray:
        return self.columns[name] if name in self.columns else np.empty(self.n, dtype=STR)


def _records(path: Path, text: str) -> tuple[list[str], list[list[str]], np.ndarray, int]:
    """The header, the records that are not blank (csv.DictReader's rule), the line each ends on
    (``csv.reader.line_num``), and the number of lines.

    Read by one ``list(reader)`` (a C loop); only when some record spans lines (a quoted line
    break) is the file read again record by record, to learn where each ends.
    """

    def reader_of() -> Any:
        return csv.reader(io.StringIO(text, newline=""))

    reader = reader_of()
    try:
        header = [name.strip() for name in next(reader, [])]
        records = list(reader)
        if reader.line_num == len(records) + 1:  # one line per record
            lines = np.flatnonzero(np.fromiter(map(bool, records), dtype=bool, count=len(records))) + 2
            return header, [row for row in records if row], lines, reader.line_num
        reader = reader_of()
        next(reader)
        rows, ends = [], []
        for row in reader:
            if row:
                rows.append(row)
                ends.append(reader.line_num)
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV ({exc})", where=f"line {reader.line_num}") from None
    return header, rows, np.array(ends, dtype=np.int64), reader.line_num


def load(path: Path, options: Mapping[str, Any]) -> LoadedSource:
    if path.name.lower().endswith(".nodes.csv"):
        raise InputError(path, "this is a node table", hint=f"load the segment table {path.name[:-10]}.csv instead")
    data = NetworkData(path=path, format="csv", network=str(options.get("network", "unknown")), crs=None)
    problems = Problems(data, options, strict_default=False)
    nodes_path = (
        (path.parent / str(options["nodes"])) if options.get("nodes") else path.with_name(f"{path.stem}.nodes.csv")
    )
    if not nodes_path.exists():
        raise InputError(
            path,
            f"no node table {nodes_path.name} beside it",
            hint="write one (id, x, y, ...) or name it with the option nodes",
        )
    nodes, links = _Table(nodes_path, options, data), _Table(path, options, data)
    try:
        fields = FieldMap(path, options, [*nodes.columns, *links.columns])
    except ValueError as exc:
        raise InputError(path, str(exc)) from None
    data.units = fields.units
    data.node_table = _nodes(nodes, nodes_path.name, fields, problems)
    data.link_table = _links(links, fields, problems)
    data.crs = options.get("crs")
    return build(data, options, problems)


def _bad_rows(
    table: _Table,
    ok: np.ndarray,
    what: str,
    ids: np.ndarray,
    where: np.ndarray,
    problems: Problems,
    why: Callable[[int], str],
) -> np.ndarray:
    """Report every row that is short or failed a conversion (in file order); the rows kept."""
    columns = len(table.columns)
    for i in np.flatnonzero(~ok | table.short).tolist():
        element = str(ids[i])
        if table.short[i]:
            filled = sum(1 for v in table.row(i).values() if v)
            reason = f"row has fewer fields than the header ({filled} of {columns} filled): the file may be truncated"
        else:
            reason = why(i)
        problems(element, str(where[i]), f"{what} {element}: {reason}")
    kept: np.ndarray = ok & ~table.short
    return kept


def _nodes(table: _Table, name: str, fields: FieldMap, problems: Problems) -> NodeTable:
    ids = fields.texts(table.columns, "id", table.n)
    where = np.strings.add(f"{name} line ", table.line.astype(STR))
    x, bad_x = _coordinate(table, "x")
    y, bad_y = _coordinate(table, "y")
    numbers = {k: fields.numbers(table.columns, k, fields.elevation, table.n) for k in ("elevation", "invert", "depth")}
    demand = fields.numbers(table.columns, "demand", 1.0, table.n)
    size = fields.numbers(table.columns, "structure_diameter", fields.diameter, table.n)
    ok = ~(bad_x | bad_y | demand[1] | size[1] | np.logical_or.reduce([v[1] for v in numbers.values()]))

    def why(i: int) -> str:
        try:
            fields.node(
                table.row(i), str(ids[i]), float(table.row(i).get("x", "nan")), float(table.row(i).get("y", "nan")), ""
            )
        except ValueError as exc:
            return str(exc)
        return "not readable"

    keep = np.flatnonzero(_bad_rows(table, ok, "node", ids, where, problems, why))
    attrs = fields.free_attrs(table.columns, keep)
    has_demand = fields.column.get("demand") in table.columns
    attrs["demand"] = Attr.of(demand[0][keep] if has_demand else np.zeros(len(keep)))
    attrs["address"] = Attr.of(fields.texts(table.columns, "address", table.n)[keep])
    attrs["structure_diameter_m"] = Attr.of(size[0][keep], np.isfinite(size[0][keep]))
    return NodeTable.make(
        len(keep),
        attrs,
        id=ids[keep],
        x=x[keep],
        y=y[keep],
        kind=fields.kinds(table.columns, table.n)[keep],
        network=fields.texts(table.columns, "network", table.n)[keep],
        ground=numbers["elevation"][0][keep],
        invert=numbers["invert"][0][keep],
        cover=numbers["depth"][0][keep],
        where=where[keep],
    )


def _coordinate(table: _Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A node table's x or y: float64, and where the text is no number (empty included)."""
    if name not in table.columns:
        return np.full(table.n, math.nan), np.zeros(table.n, dtype=bool)
    text = table.columns[name]
    try:
        return text.astype(np.float64), np.zeros(table.n, dtype=bool)
    except ValueError:
        values = np.full(table.n, math.nan)
        bad = np.zeros(table.n, dtype=bool)
        for i, item in enumerate(text.tolist()):
            try:
                values[i] = float(item)
            except ValueError:
                bad[i] = True
        return values, bad


def _links(table: _Table, fields: FieldMap, problems: Problems) -> LinkTable:
    where = np.strings.add("line ", table.line.astype(STR))
    ids = fields.texts(table.columns, "id", table.n)
    ids = np.where(np.strings.str_len(ids) > 0, ids, where).astype(STR)
    metres = {
        key: fields.numbers(table.columns, key, factor, table.n)
        for key, factor in (
            ("depth", fields.elevation),
            ("depth_start", fields.elevation),
            ("depth_end", fields.elevation),
            ("diameter", fields.diameter),
            ("length", fields.length),
            ("invert_start", fields.elevation),
            ("invert_end", fields.elevation),
        )
    }
    bend_counts, bend_xy, bad_bends = _bends(table)
    ok = ~(np.logical_or.reduce([v[1] for v in metres.values()]) | bad_bends)

    def why(i: int) -> str:
        row = table.row(i)
        try:
            fields.link(row, str(ids[i]), "", "", "")
            _vertices(row)
        except ValueError as exc:
            return str(exc)
        return "not readable"

    keep = np.flatnonzero(_bad_rows(table, ok, "segment", ids, where, problems, why))
    cover = metres["depth"][0]
    kept = np.zeros(table.n, dtype=bool)
    kept[keep] = True
    return LinkTable.make(
        len(keep),
        np.r_[0, np.cumsum(bend_counts[keep])],
        bend_xy[np.repeat(kept, bend_counts)],
        fields.free_attrs(table.columns, keep),
        id=ids[keep],
        start=fields.texts(table.columns, "from_node", table.n)[keep],
        end=fields.texts(table.columns, "to_node", table.n)[keep],
        network=fields.texts(table.columns, "network", table.n)[keep],
        diameter=metres["diameter"][0][keep],
        length=metres["length"][0][keep],
        invert_start=metres["invert_start"][0][keep],
        invert_end=metres["invert_end"][0][keep],
        cover_start=np.where(np.isfinite(metres["depth_start"][0]), metres["depth_start"][0], cover)[keep],
        cover_end=np.where(np.isfinite(metres["depth_end"][0]), metres["depth_end"][0], cover)[keep],
        material=fields.texts(table.columns, "material", table.n)[keep],
        install_year=fields.years(table.columns, table.n)[keep],
        pressure_class=fields.texts(table.columns, "pressure_class", table.n)[keep],
        owner=fields.texts(table.columns, "owner", table.n)[keep],
        address=fields.texts(table.columns, "address", table.n)[keep],
        where=where[keep],
    )


def _bends(table: _Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interior points of every row (rows without any cost nothing): their count per row and
    their x, y in row order; and the rows whose points do not read.

    ``wkt`` wins over ``vertices`` where a row has both.  Each column's points are read in
    array passes; a column with any point that is not plainly two finite numbers is read again
    row by row, to find those rows.
    """
    wkt = np.strings.str_len(table.text("wkt")) > 0
    listed = (np.strings.str_len(table.text("vertices")) > 0) & ~wkt
    counts = np.zeros(table.n, dtype=np.int64)
    bad = np.zeros(table.n, dtype=bool)
    owners, points = [np.empty(0, dtype=np.int64)], [np.empty((0, 2))]
    for name, given in (("wkt", wkt), ("vertices", listed)):
        rows = np.flatnonzero(given)
        if not len(rows):
            continue
        read = _column_points(table.columns[name][rows], name == "wkt")
        if read is None:  # some point does not read: row by row, to know which
            read = _row_points(table, rows, bad)
        per_row, xy = read
        counts[rows] = per_row
        owners.append(np.repeat(rows, per_row))
        points.append(xy)
    order = np.argsort(np.concatenate(owners), kind="stable")  # the two columns' points merged in row order
    return counts, np.concatenate(points)[order], bad


def _column_points(texts: np.ndarray, wkt: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """Points of each text (its interior points, for WKT), read in array passes; None when any
    text or point is not plainly formed."""
    if wkt:
        bodies = [m.group(1) if (m := _WKT.match(text)) else None for text in texts.tolist()]
        if None in bodies:
            return None
        texts = np.array(bodies, dtype=STR)
    separator = "," if wkt else ";"
    parts = np.strings.strip(np.array(separator.join(texts.tolist()).split(separator), dtype=STR))
    per_text = np.strings.count(texts, separator) + 1
    owner = np.repeat(np.arange(len(texts)), per_text)
    given = np.strings.str_len(parts) > 0  # "x y; ; x y": an empty item is no point (bad in WKT)
    if wkt and not given.all():
        return None
    space = np.array(" ", dtype=STR)
    x, _, rest = np.strings.partition(np.strings.replace(parts[given], "\t", " "), space)
    y, _, _ = np.strings.partition(np.strings.lstrip(rest), space)
    try:
        xy = np.column_stack([x.astype(np.float64), y.astype(np.float64)])
    except ValueError:
        return None
    if not np.isfinite(xy).all():
        return None
    owner = owner[given]
    if wkt:  # a line's first and last points are its end nodes
        position = np.arange(len(parts)) - np.repeat(np.cumsum(per_text) - per_text, per_text)
        inner = (position > 0) & (position < per_text[owner] - 1)
        xy, owner = xy[inner], owner[inner]
    return np.bincount(owner, minlength=len(texts)), xy


def _row_points(table: _Table, rows: np.ndarray, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points of some rows read one by one (the error path); rows that do not read are marked bad."""
    counts, xy = np.zeros(len(rows), dtype=np.int64), []
    for k, i in enumerate(rows.tolist()):
        try:
            points = _vertices(table.row(i))
        except ValueError:
            bad[i] = True
            continue
        counts[k] = len(points)
        xy.extend(points)
    return counts, np.array(xy, dtype=np.float64).reshape(-1, 2)


def _vertices(row: Mapping[str, str]) -> list[tuple[float, float]]:
    """Interior points from ``vertices`` ("x y; x y") or from a ``wkt`` LINESTRING (ends dropped)."""
    text = row.get("vertices", "")
    if row.get("wkt"):
        match = _WKT.match(row["wkt"])
        if not match:
            raise ValueError(f"wkt is not a LINESTRING: {row['wkt'][:40]!r}")
        points = [_pair(p) for p in match.group(1).split(",")]
        return points[1:-1]
    return [_pair(p) for p in text.split(";") if p.strip()]


def _pair(text: str) -> tuple[float, float]:
    values = text.split()
    if len(values) < 2:
        raise ValueError(f"bad point {text!r}")
    x, y = float(values[0]), float(values[1])
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"bad point {text!r}")
    return x, y
