"""EPANET input files (``.inp``): water supply networks.

Why our own reader rather than WNTR: we need only the network's layout (nodes, links,
coordinates, vertices, units), every problem located by file and line, GBK/GB18030 input
accepted, and no pandas-sized dependency in the loading path; WNTR parses the whole
hydraulic model, reads strict UTF-8 and raises bare ``ValueError``/``IndexError``.  The
format is a few column tables, tested here against EPANET's and WNTR's own sample networks,
and read straight into columns (:mod:`loaders.pipes.inp`).

Units follow ``[OPTIONS] Units``: US flow units (GPM, CFS, MGD, IMGD, AFD) mean feet and
inches, SI units (LPS, LPM, MLD, CMH, CMD) metres and millimetres.  A junction's elevation is
taken as the ground; pipes lie at the network kind's usual cover below it (flagged assumed)
unless options say otherwise.  EPANET always ends a file with ``[END]``: a file without it,
or ending in the middle of a line, loads with a warning that it may be truncated.

EPANET itself needs no coordinates, so real files lack some (or all) and some are drawn in
other units; they load as the engine reads them, with a warning: coordinates beyond any place
on Earth are read as millimetres (the Exeter benchmarks' Richmond), a node without coordinates
is placed between its neighbours (:mod:`loaders.pipes.layout`), a network without any is laid
out schematically.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from loaders.pipes.build import build
from loaders.pipes.inp import Section, bends, empty, options_table, placed, points, sections, truncation
from loaders.pipes.layout import fill_positions
from loaders.pipes.model import (
    MAX_COORDINATE,
    STR,
    Attr,
    LinkTable,
    NetworkData,
    NodeTable,
    Problems,
    lookup,
)
from loaders.pipes.text import read_text
from twin.errors import InputError
from twin.source import LoadedSource

SECTIONS = frozenset(
    {
        "TITLE",
        "JUNCTIONS",
        "RESERVOIRS",
        "TANKS",
        "PIPES",
        "PUMPS",
        "VALVES",
        "TAGS",
        "DEMANDS",
        "STATUS",
        "PATTERNS",
        "CURVES",
        "CONTROLS",
        "RULES",
        "ENERGY",
        "EMITTERS",
        "QUALITY",
        "SOURCES",
        "REACTIONS",
        "MIXING",
        "TIMES",
        "REPORT",
        "OPTIONS",
        "COORDINATES",
        "VERTICES",
        "LABELS",
        "BACKDROP",
        "END",
        "LEAKAGE",
    }
)
US_UNITS = ("CFS", "GPM", "MGD", "IMGD", "AFD")
SI_UNITS = ("LPS", "LPM", "MLD", "CMH", "CMD", "CMS")
#: node sections: kind, and the name of the elevation column
NODE_SECTIONS = (
    ("JUNCTIONS", "junction", "elevation"),
    ("RESERVOIRS", "reservoir", "head"),
    ("TANKS", "tank", "elevation"),
)


def load(path: Path, options: Mapping[str, Any]) -> LoadedSource:
    data = NetworkData(path=path, format="epanet", network=str(options.get("network", "water")))
    text = read_text(path, options, data.warnings)
    rows = sections(path, text, SECTIONS)
    flow = options_table(_get(rows, path, "OPTIONS")).get("UNITS", "GPM").upper()
    if flow not in US_UNITS + SI_UNITS:
        raise InputError(path, f"unknown flow units {flow!r} in [OPTIONS]", where=_option_line(rows, "UNITS"))
    us = flow in US_UNITS
    length, diameter = (0.3048, 0.0254) if us else (1.0, 0.001)
    data.units = {
        "flow": flow,
        "length": "ft" if us else "m",
        "diameter": "in" if us else "mm",
        "elevation": "ft" if us else "m",
    }
    cut = truncation(text, rows)
    if cut or "END" not in rows and "[END]" not in text.upper():
        data.warnings.append(f"{path.name}: {cut or 'no [END] section: the file may be truncated'}")
    problems = Problems(data, options, strict_default=True)
    scale = _drawing_scale(path, rows, data.warnings)
    data.node_table = _nodes(path, rows, length, scale, data.warnings)
    data.link_table = _links(path, rows, length, diameter, scale)
    return build(data, options, problems)


#: link sections, whose first three fields are the link and its two nodes
LINK_SECTIONS = ("PIPES", "PUMPS", "VALVES")


def _drawing_scale(path: Path, rows: dict[str, Section], warnings: list[str]) -> float:
    """1, or 1/1000 when the drawing's coordinates lie beyond any place on Earth but fit in
    millimetres (EPANET draws in any unit; the Exeter benchmarks' Richmond is in mm)."""
    drawn = [points(_get(rows, path, name), "id, x, y")[1] for name in ("COORDINATES", "VERTICES")]
    xy = np.concatenate(drawn)
    largest = float(np.nanmax(np.abs(xy), initial=0.0))
    if largest <= MAX_COORDINATE or largest / 1000 > MAX_COORDINATE:
        return 1.0  # in range, or beyond even as millimetres: the build names the node
    warnings.append(
        f"{path.name}: coordinates up to {largest:g} are beyond any place on Earth: read as millimetres (÷1000)"
    )
    return 0.001


def _get(rows: dict[str, Section], path: Path, name: str) -> Section:
    return rows.get(name) or empty(path, name)


def _option_line(rows: dict[str, Section], key: str) -> str | None:
    table = rows.get("OPTIONS")
    if table is None:
        return None
    return next((table.where(i) for i in range(len(table)) if table.fields(i)[0].upper() == key), None)


def _nodes(path: Path, rows: dict[str, Section], length: float, scale: float, warnings: list[str]) -> NodeTable:
    """Junctions (elevation = ground, base demand), reservoirs (head) and tanks (bottom elevation);
    a node the drawing lacks is placed (flagged ``position_assumed``)."""
    parts = []
    for section, kind, label in NODE_SECTIONS:
        rows_ = _get(rows, path, section)
        rows_.need(2, f"ID, {label}")
        n = len(rows_)
        demand = rows_.numbers(2, "demand", 0.0) if kind == "junction" else np.full(n, math.nan)
        tank = rows_.numbers(5, "diameter") * length if kind == "tank" else np.full(n, math.nan)
        parts.append(
            (rows_.text(0), np.full(n, kind, dtype=STR), rows_.numbers(1, label) * length, rows_.wheres(), demand, tank)
        )
    ids, kinds, ground, where, demand, tank = (np.concatenate(c) for c in zip(*parts))
    xy = placed(ids, _get(rows, path, "COORDINATES")) * scale
    ends = [np.concatenate([_get(rows, path, s).text(i) for s in LINK_SECTIONS]) for i in (1, 2)]
    missing = ~np.isfinite(xy).all(axis=1)
    if missing.any():
        xy = fill_positions(xy, lookup(ids, ends[0]), lookup(ids, ends[1]))
        how = "laid out schematically" if missing.all() else "placed between their neighbours"
        count = int(missing.sum())
        nodes = "1 node has" if count == 1 else f"{count} nodes have"
        warnings.append(f"{path.name}: {nodes} no coordinates: {how} (assumed)")
    attrs = {
        "demand": Attr.of(demand, kinds == "junction"),
        "structure_diameter_m": Attr.of(tank, kinds == "tank"),
    }
    if missing.any():
        attrs["position_assumed"] = Attr.of(missing)
    return NodeTable.make(len(ids), attrs, id=ids, kind=kinds, x=xy[:, 0], y=xy[:, 1], ground=ground, where=where)


def _links(path: Path, rows: dict[str, Section], length: float, diameter: float, scale: float) -> LinkTable:
    """Pipes (length, diameter, roughness, status), pumps and control valves."""
    pipes, pumps, valves = (_get(rows, path, name) for name in LINK_SECTIONS)
    pipes.need(5, "ID, node 1, node 2, length, diameter")
    pumps.need(3, "ID, node 1, node 2")
    valves.need(5, "ID, node 1, node 2, diameter, type")
    p, q, v = len(pipes), len(pumps), len(valves)
    kind = np.repeat(np.array(["pipe", "pump", "valve"], dtype=STR), [p, q, v])
    nan = np.full(q, math.nan)
    columns: dict[str, Any] = {
        "id": np.concatenate([s.text(0) for s in (pipes, pumps, valves)]),
        "start": np.concatenate([s.text(1) for s in (pipes, pumps, valves)]),
        "end": np.concatenate([s.text(2) for s in (pipes, pumps, valves)]),
        "where": np.concatenate([s.wheres() for s in (pipes, pumps, valves)]),
        "kind": kind,
        "length": np.r_[pipes.numbers(3, "length") * length, nan, np.full(v, math.nan)],
        "diameter": np.r_[pipes.numbers(4, "diameter") * diameter, nan, valves.numbers(3, "diameter") * diameter],
    }
    pump_text = np.array([" ".join(pumps.fields(i)[3:]) for i in range(q)], dtype=STR)
    text = np.empty(p + q + v, dtype=STR)
    attrs = {
        "roughness": Attr.of(np.r_[pipes.numbers(5, "roughness"), nan, np.full(v, math.nan)], kind == "pipe"),
        "status": Attr.of(_place(text, kind == "pipe", pipes.text(7, "Open")), kind == "pipe"),
        "pump": Attr.of(_place(text, kind == "pump", pump_text), kind == "pump"),
        "valve_type": Attr.of(_place(text, kind == "valve", np.strings.upper(valves.text(4))), kind == "valve"),
    }
    offsets, xy = bends(columns["id"], _get(rows, path, "VERTICES"))
    return LinkTable.make(p + q + v, offsets, xy * scale, attrs, **columns)


def _place(blank: np.ndarray, where: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = blank.copy()
    out[where] = values
    return out
