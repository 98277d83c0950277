"""Pipe networks as two CSV tables: segments, and the nodes they join.

Layout (columns mapped like GeoJSON properties, see :mod:`loaders.pipes.fields`):

* ``<name>.csv`` -- one row per segment: ``id, from_node, to_node, diameter, ...`` and
  optionally ``vertices`` (interior points as ``"x y; x y"``) or ``wkt``
  (``LINESTRING (x y, x y, ...)``, which then gives the whole line);
* ``<name>.nodes.csv`` beside it (or the file named by the option ``nodes``) -- one row per
  node: ``id, x, y`` and optionally ``kind, elevation, invert, depth, ...``.

Both files: UTF-8 with a header (or GBK/GB18030, detected, or named by ``encoding``); a bad row
is skipped with a warning naming its line, or is an error with ``strict = true``.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loaders.pipes.build import build
from loaders.pipes.fields import FieldMap
from loaders.pipes.model import FIELD_OPTIONS, NetworkData, Problems
from loaders.pipes.text import read_text
from twin.errors import InputError
from twin.registry import LoaderSpec
from twin.source import LoadedSource

_WKT = re.compile(r"^\s*LINESTRING\s*Z?\s*\((.*)\)\s*$", re.IGNORECASE)


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
    node_rows = _rows(nodes_path, options, data)
    link_rows = _rows(path, options, data)
    try:
        fields = FieldMap(path, options, [k for _, r in node_rows + link_rows for k in r])
    except ValueError as exc:
        raise InputError(path, str(exc)) from None
    data.units = fields.units
    for line, row in node_rows:
        where = f"{nodes_path.name} line {line}"
        node_id = fields.text(row, "id")
        try:
            x, y = float(row.get("x", "nan")), float(row.get("y", "nan"))
            data.nodes[node_id] = fields.node(row, node_id, x, y, where)
        except ValueError as exc:
            problems(node_id, where, f"node {node_id}: {exc}")
    for line, row in link_rows:
        where = f"line {line}"
        link_id = fields.text(row, "id") or where
        try:
            link = fields.link(row, link_id, fields.text(row, "from_node"), fields.text(row, "to_node"), where)
            link.vertices = _vertices(row)
        except ValueError as exc:
            problems(link_id, where, f"segment {link_id}: {exc}")
            continue
        data.links.append(link)
    data.crs = options.get("crs")
    return build(data, options, problems)


def _rows(path: Path, options: Mapping[str, Any], data: NetworkData) -> list[tuple[int, dict[str, str]]]:
    """Rows with the line each starts on; a missing header is an error."""
    reader = csv.DictReader(io.StringIO(read_text(path, options, data.warnings), newline=""))
    if not reader.fieldnames:
        raise InputError(path, "empty CSV (no header row)", where="line 1")
    out = []
    try:
        for row in reader:
            out.append((reader.line_num, {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}))
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV ({exc})", where=f"line {reader.line_num}") from None
    return out


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


LOADER = LoaderSpec("pipes", "pipes-csv", (".csv",), load, options={**FIELD_OPTIONS, "nodes": str})
