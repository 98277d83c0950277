"""SWMM 5 input files (``.inp``): drainage, sewer and stormwater networks.

Read with the same small section reader as EPANET (see :mod:`loaders.pipes.epanet` for why
not a library: no maintained pure-Python SWMM reader locates errors by line or accepts GBK).
Nodes carry invert elevations and a maximum depth, so pipes sit at their true invert:
a conduit's end invert is its node's invert plus the conduit's offset (``LINK_OFFSETS DEPTH``)
or the offset itself (``ELEVATION``), and the ground (rim) is invert plus maximum depth.
``FLOW_UNITS`` CFS/GPM/MGD mean feet; CMS/LPS/MLD metres.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
        "OPTIONS",
        "REPORT",
        "FILES",
        "RAINGAGES",
        "EVAPORATION",
        "TEMPERATURE",
        "ADJUSTMENTS",
        "SUBCATCHMENTS",
        "SUBAREAS",
        "INFILTRATION",
        "LID_CONTROLS",
        "LID_USAGE",
        "AQUIFERS",
        "GROUNDWATER",
        "GWF",
        "SNOWPACKS",
        "JUNCTIONS",
        "OUTFALLS",
        "DIVIDERS",
        "STORAGE",
        "CONDUITS",
        "PUMPS",
        "ORIFICES",
        "WEIRS",
        "OUTLETS",
        "XSECTIONS",
        "TRANSECTS",
        "STREETS",
        "INLETS",
        "INLET_USAGE",
        "LOSSES",
        "CONTROLS",
        "POLLUTANTS",
        "LANDUSES",
        "COVERAGES",
        "LOADINGS",
        "BUILDUP",
        "WASHOFF",
        "TREATMENT",
        "INFLOWS",
        "DWF",
        "RDII",
        "HYDROGRAPHS",
        "CURVES",
        "TIMESERIES",
        "PATTERNS",
        "MAP",
        "POLYGONS",
        "COORDINATES",
        "VERTICES",
        "LABELS",
        "SYMBOLS",
        "BACKDROP",
        "TAGS",
        "PROFILES",
        "EVENTS",
        "END",
    }
)
US_UNITS = ("CFS", "GPM", "MGD")
SI_UNITS = ("CMS", "LPS", "MLD")
#: node sections: kind, and the column of the maximum depth (None: not read)
NODE_SECTIONS = {
    "JUNCTIONS": ("manhole", 2),
    "OUTFALLS": ("outfall", None),
    "STORAGE": ("storage", 2),
    "DIVIDERS": ("divider", None),
}
#: link sections: kind, and the columns of the start and end offsets (None: none)
LINK_SECTIONS = {
    "CONDUITS": ("conduit", 5, 6),
    "PUMPS": ("pump", None, None),
    "ORIFICES": ("orifice", 4, 4),
    "WEIRS": ("weir", 4, 4),
    "OUTLETS": ("outlet", 3, 3),
}


def load(path: Path, options: Mapping[str, Any]) -> LoadedSource:
    data = NetworkData(path=path, format="swmm", network=str(options.get("network", "drainage")), flow_from_file=True)
    text = read_text(path, options, data.warnings)
    rows = sections(path, text, SECTIONS)
    table = options_table(rows.get("OPTIONS", []))
    flow = table.get("FLOW_UNITS", "CFS").upper()
    if flow not in US_UNITS + SI_UNITS:
        raise InputError(path, f"unknown FLOW_UNITS {flow!r} in [OPTIONS]")
    unit = 0.3048 if flow in US_UNITS else 1.0
    data.units = {"flow": flow, "length": "ft" if unit != 1.0 else "m", "elevation": "ft" if unit != 1.0 else "m"}
    offsets_are_elevations = table.get("LINK_OFFSETS", "DEPTH").upper() == "ELEVATION"
    problems = Problems(data, options, strict_default=True)
    coords = coordinates(RowReader(path, "COORDINATES"), rows.get("COORDINATES", []))
    _nodes(data, rows, coords, unit)
    bends = vertices(RowReader(path, "VERTICES"), rows.get("VERTICES", []))
    xsections = _xsections(path, rows.get("XSECTIONS", []), unit)
    _links(data, rows, bends, xsections, unit, offsets_are_elevations)
    _rims_from_links(data)
    data.extra_details["subcatchments"] = len(rows.get("SUBCATCHMENTS", []))
    return build(data, options, problems)


def _nodes(data: NetworkData, rows: dict[str, list[Row]], coords: dict[str, Any], unit: float) -> None:
    for section, (kind, depth_column) in NODE_SECTIONS.items():
        read = RowReader(data.path, section)
        for row in rows.get(section, []):
            read.need(row, 2, "name, invert elevation")
            invert = read.number(row, 1, "invert elevation") * unit
            max_depth = read.number(row, depth_column, "maximum depth") * unit if depth_column else math.nan
            ground = invert + max_depth if max_depth > 0 else math.nan
            x, y = coords.get(row.fields[0], (math.nan, math.nan))
            data.nodes[row.fields[0]] = Node(
                row.fields[0],
                x,
                y,
                kind=kind,
                invert=invert,
                ground=ground,
                where=row.where,
                attrs={"max_depth_m": max_depth},
            )


def _rims_from_links(data: NetworkData) -> None:
    """SWMM's rule for a node whose maximum depth is 0: its rim is the highest crown of its links."""
    crown: dict[str, float] = {}
    for link in data.links:
        if not link.diameter > 0:
            continue
        for node_id, invert in ((link.start, link.invert_start), (link.end, link.invert_end)):
            if math.isfinite(invert):
                crown[node_id] = max(crown.get(node_id, -math.inf), invert + link.diameter)
    for node in data.nodes.values():
        if math.isnan(node.ground) and node.id in crown:
            node.ground = crown[node.id]
            node.attrs["rim_from_links"] = "yes"


def _xsections(path: Path, rows: list[Row], unit: float) -> dict[str, tuple[str, float, float]]:
    """Link -> (shape, full height m, barrels)."""
    read = RowReader(path, "XSECTIONS")
    out = {}
    for row in rows:
        read.need(row, 2, "link, shape")
        shape = row.fields[1].upper()
        height = math.nan if shape == "IRREGULAR" else read.number(row, 2, "geom1") * unit
        barrels = 1.0 if shape in ("IRREGULAR", "CUSTOM") else read.number(row, 6, "barrels", 1.0)
        out[row.fields[0]] = (shape, height, barrels)
    return out


def _links(
    data: NetworkData,
    rows: dict[str, list[Row]],
    bends: dict[str, Any],
    xsections: dict[str, Any],
    unit: float,
    offsets_are_elevations: bool,
) -> None:
    for section, (kind, start_col, end_col) in LINK_SECTIONS.items():
        read = RowReader(data.path, section)
        for row in rows.get(section, []):
            read.need(row, 3, "name, from node, to node")
            link_id, start, end = row.fields[:3]
            shape, height, barrels = xsections.get(link_id, ("", math.nan, 1.0))
            link = Link(
                link_id,
                start,
                end,
                kind=kind,
                diameter=height,
                shape=shape,
                vertices=bends.get(link_id, []),
                where=row.where,
                attrs={"barrels": barrels},
            )
            if kind == "conduit":
                read.need(row, 4, "name, from node, to node, length")
                link.length = read.number(row, 3, "length") * unit
                link.attrs["roughness"] = read.number(row, 4, "roughness")
            link.invert_start = _end_invert(read, row, start_col, data.nodes.get(start), unit, offsets_are_elevations)
            link.invert_end = _end_invert(read, row, end_col, data.nodes.get(end), unit, offsets_are_elevations)
            data.links.append(link)


def _end_invert(
    read: RowReader, row: Row, column: int | None, node: Node | None, unit: float, as_elevation: bool
) -> float:
    """Invert of a link end: its node's invert plus the offset, or the offset as an elevation."""
    node_invert = node.invert if node is not None else math.nan
    if column is None or column >= len(row.fields) or row.fields[column] == "*":
        return node_invert
    offset = read.number(row, column, "offset", 0.0) * unit
    return offset if as_elevation else node_invert + offset


def sniff(head: bytes) -> bool:
    """SWMM names its flow units in [OPTIONS] near the top; any other .inp is EPANET's."""
    upper = head.upper()
    return any(marker in upper for marker in (b"FLOW_UNITS", b"[CONDUITS]", b"[SUBCATCHMENTS]"))


LOADER = LoaderSpec("pipes", "swmm", (".inp",), load, sniff, options=INP_OPTIONS)
