"""EPANET input files (``.inp``): water supply networks.

Why our own reader rather than WNTR: we need only the network's layout (nodes, links,
coordinates, vertices, units), every problem located by file and line, GBK/GB18030 input
accepted, and no pandas-sized dependency in the loading path; WNTR parses the whole
hydraulic model, reads strict UTF-8 and raises bare ``ValueError``/``IndexError``.  The
format is a few column tables, tested here against EPANET's and WNTR's own sample networks.

Units follow ``[OPTIONS] Units``: US flow units (GPM, CFS, MGD, IMGD, AFD) mean feet and
inches, SI units (LPS, LPM, MLD, CMH, CMD) metres and millimetres.  A junction's elevation is
taken as the ground; pipes lie at the network kind's usual cover below it (flagged assumed)
unless options say otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loaders.pipes import swmm
from loaders.pipes.build import build
from loaders.pipes.inp import Row, RowReader, coordinates, options_table, sections, vertices
from loaders.pipes.model import INP_OPTIONS, Link, NetworkData, Node, Problems
from loaders.pipes.text import read_text
from twin.errors import InputError
from twin.registry import LoaderSpec
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


def load(path: Path, options: Mapping[str, Any]) -> LoadedSource:
    data = NetworkData(path=path, format="epanet", network=str(options.get("network", "water")))
    text = read_text(path, options, data.warnings)
    rows = sections(path, text, SECTIONS)
    flow = options_table(rows.get("OPTIONS", [])).get("UNITS", "GPM").upper()
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
    problems = Problems(data, options, strict_default=True)
    coords = coordinates(RowReader(path, "COORDINATES"), rows.get("COORDINATES", []))
    _nodes(data, rows, coords, length)
    bends = vertices(RowReader(path, "VERTICES"), rows.get("VERTICES", []))
    _links(data, rows, bends, length, diameter)
    return build(data, options, problems)


def _option_line(rows: dict[str, list[Row]], key: str) -> str | None:
    return next((r.where for r in rows.get("OPTIONS", []) if r.fields[0].upper() == key), None)


def _nodes(data: NetworkData, rows: dict[str, list[Row]], coords: dict[str, Any], length: float) -> None:
    """Junctions (elevation = ground, base demand), reservoirs (head) and tanks (bottom elevation)."""
    for section, kind, fields in (
        ("JUNCTIONS", "junction", "ID, elevation"),
        ("RESERVOIRS", "reservoir", "ID, head"),
        ("TANKS", "tank", "ID, elevation"),
    ):
        read = RowReader(data.path, section)
        for row in rows.get(section, []):
            read.need(row, 2, fields)
            node_id = row.fields[0]
            x, y = coords.get(node_id, (float("nan"), float("nan")))
            attrs: dict[str, Any] = {}
            if kind == "junction":
                attrs["demand"] = read.number(row, 2, "demand", 0.0)
            if kind == "tank":
                attrs["structure_diameter_m"] = read.number(row, 5, "diameter") * length
            data.nodes[node_id] = Node(
                node_id,
                x,
                y,
                kind=kind,
                ground=read.number(row, 1, fields.split(", ")[1]) * length,
                where=row.where,
                attrs=attrs,
            )


def _links(
    data: NetworkData, rows: dict[str, list[Row]], bends: dict[str, Any], length: float, diameter: float
) -> None:
    """Pipes (length, diameter, roughness, status), pumps and control valves."""
    read = RowReader(data.path, "PIPES")
    for row in rows.get("PIPES", []):
        read.need(row, 5, "ID, node 1, node 2, length, diameter")
        link_id = row.fields[0]
        status = row.fields[7] if len(row.fields) > 7 else "Open"
        data.links.append(
            Link(
                link_id,
                row.fields[1],
                row.fields[2],
                kind="pipe",
                length=read.number(row, 3, "length") * length,
                diameter=read.number(row, 4, "diameter") * diameter,
                vertices=bends.get(link_id, []),
                where=row.where,
                attrs={"roughness": read.number(row, 5, "roughness"), "status": status},
            )
        )
    read = RowReader(data.path, "PUMPS")
    for row in rows.get("PUMPS", []):
        read.need(row, 3, "ID, node 1, node 2")
        data.links.append(
            Link(
                row.fields[0],
                row.fields[1],
                row.fields[2],
                kind="pump",
                vertices=bends.get(row.fields[0], []),
                where=row.where,
                attrs={"pump": " ".join(row.fields[3:])},
            )
        )
    read = RowReader(data.path, "VALVES")
    for row in rows.get("VALVES", []):
        read.need(row, 5, "ID, node 1, node 2, diameter, type")
        data.links.append(
            Link(
                row.fields[0],
                row.fields[1],
                row.fields[2],
                kind="valve",
                diameter=read.number(row, 3, "diameter") * diameter,
                vertices=bends.get(row.fields[0], []),
                where=row.where,
                attrs={"valve_type": row.fields[4].upper()},
            )
        )


def sniff(head: bytes) -> bool:
    """An .inp file that is not SWMM's."""
    return not swmm.sniff(head)


LOADER = LoaderSpec("pipes", "epanet", (".inp",), load, sniff, options=INP_OPTIONS)
