"""SWMM 5 input files (``.inp``): drainage, sewer and stormwater networks.

Read with the same small section reader as EPANET (see :mod:`loaders.pipes.epanet` for why
not a library: no maintained pure-Python SWMM reader locates errors by line or accepts GBK).
Nodes carry invert elevations and a maximum depth, so pipes sit at their true invert:
a conduit's end invert is its node's invert plus the conduit's offset (``LINK_OFFSETS DEPTH``)
or the offset itself (``ELEVATION``), and the ground (rim) is invert plus maximum depth.
``FLOW_UNITS`` CFS/GPM/MGD mean feet; CMS/LPS/MLD metres.  A file ending in the middle of a
line (a cut-off copy) loads with a warning that it may be truncated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from loaders.pipes.build import build
from loaders.pipes.inp import Section, bends, empty, options_table, placed, sections, truncation
from loaders.pipes.keys import lookup
from loaders.pipes.model import STR, Attr, LinkTable, NetworkData, NodeTable, Problems
from loaders.pipes.text import read_text
from twin.errors import InputError
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
    table = options_table(_get(rows, path, "OPTIONS"))
    flow = table.get("FLOW_UNITS", "CFS").upper()
    if flow not in US_UNITS + SI_UNITS:
        raise InputError(path, f"unknown FLOW_UNITS {flow!r} in [OPTIONS]")
    unit = 0.3048 if flow in US_UNITS else 1.0
    data.units = {"flow": flow, "length": "ft" if unit != 1.0 else "m", "elevation": "ft" if unit != 1.0 else "m"}
    cut = truncation(text, rows)
    if cut:
        data.warnings.append(f"{path.name}: {cut}")
    offsets_are_elevations = table.get("LINK_OFFSETS", "DEPTH").upper() == "ELEVATION"
    problems = Problems(data, options, strict_default=True)
    nodes = _nodes(path, rows, unit)
    links = _links(path, rows, nodes, unit, offsets_are_elevations)
    data.node_table = _rims_from_links(nodes, links)
    data.link_table = links
    data.extra_details["subcatchments"] = len(rows.get("SUBCATCHMENTS") or ())
    return build(data, options, problems)


def _get(rows: dict[str, Section], path: Path, name: str) -> Section:
    return rows.get(name) or empty(path, name)


def _nodes(path: Path, rows: dict[str, Section], unit: float) -> NodeTable:
    parts = []
    for section, (kind, depth_column) in NODE_SECTIONS.items():
        table = _get(rows, path, section)
        table.need(2, "name, invert elevation")
        n = len(table)
        invert = table.numbers(1, "invert elevation") * unit
        max_depth = table.numbers(depth_column, "maximum depth") * unit if depth_column else np.full(n, math.nan)
        ground = np.where(max_depth > 0, invert + max_depth, math.nan)
        parts.append((table.text(0), np.full(n, kind, dtype=STR), invert, ground, max_depth, table.wheres()))
    ids, kinds, invert, ground, max_depth, where = (np.concatenate(c) for c in zip(*parts))
    xy = placed(ids, _get(rows, path, "COORDINATES"))
    return NodeTable.make(
        len(ids),
        {"max_depth_m": Attr.of(max_depth)},
        id=ids,
        kind=kinds,
        x=xy[:, 0],
        y=xy[:, 1],
        invert=invert,
        ground=ground,
        where=where,
    )


def _rims_from_links(nodes: NodeTable, links: LinkTable) -> NodeTable:
    """SWMM's rule for a node whose maximum depth is 0: its rim is the highest crown of its links."""
    diameter = links["diameter"]
    crown = np.full(len(nodes) + 1, -math.inf)
    for end, invert in (("start", "invert_start"), ("end", "invert_end")):
        use = (diameter > 0) & np.isfinite(links[invert])
        np.maximum.at(crown, lookup(nodes["id"], links[end][use]), (links[invert] + diameter)[use])
    crown = crown[:-1]
    fill = np.isnan(nodes["ground"]) & np.isfinite(crown)
    nodes.columns["ground"] = np.where(fill, crown, nodes["ground"])
    yes = np.where(fill, "yes", "").astype(STR)
    nodes.attrs["rim_from_links"] = Attr.of(yes, fill)
    return nodes


def _xsections(path: Path, rows: Section, unit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Link ids, and their shape, full height (m) and barrels."""
    rows.need(2, "link, shape")
    shape = np.strings.upper(rows.text(1))
    irregular = shape == "IRREGULAR"
    height = rows.numbers(2, "geom1", skip=irregular) * unit
    barrels = rows.numbers(6, "barrels", 1.0, skip=irregular | (shape == "CUSTOM"))
    return rows.text(0), shape, height, barrels


def _links(
    path: Path, rows: dict[str, Section], nodes: NodeTable, unit: float, offsets_are_elevations: bool
) -> LinkTable:
    parts = []
    for section, (kind, start_col, end_col) in LINK_SECTIONS.items():
        table = _get(rows, path, section)
        table.need(3, "name, from node, to node")
        n = len(table)
        start, end = table.text(1), table.text(2)
        length, roughness = np.full(n, math.nan), np.full(n, math.nan)
        if kind == "conduit":
            table.need(4, "name, from node, to node, length")
            length, roughness = table.numbers(3, "length") * unit, table.numbers(4, "roughness")
        node_invert = np.r_[nodes["invert"], math.nan]
        heads = _end_invert(table, start_col, node_invert[lookup(nodes["id"], start)], unit, offsets_are_elevations)
        tails = _end_invert(table, end_col, node_invert[lookup(nodes["id"], end)], unit, offsets_are_elevations)
        parts.append(
            (table.text(0), start, end, np.full(n, kind, dtype=STR), table.wheres(), length, roughness, heads, tails)
        )
    ids, start, end, kinds, where, length, roughness, heads, tails = (np.concatenate(c) for c in zip(*parts))
    x_ids, shape, height, barrels = _xsections(path, _get(rows, path, "XSECTIONS"), unit)
    row = lookup(x_ids[::-1], ids)
    row = np.where(row >= 0, len(x_ids) - 1 - row, len(x_ids))  # the last row of an id counts; none: defaults
    shape, height, barrels = (
        np.append(shape, "").astype(STR)[row],
        np.r_[height, math.nan][row],
        np.r_[barrels, 1.0][row],
    )
    attrs = {"barrels": Attr.of(barrels), "roughness": Attr.of(roughness, kinds == "conduit")}
    offsets, xy = bends(ids, _get(rows, path, "VERTICES"))
    return LinkTable.make(
        len(ids),
        offsets,
        xy,
        attrs,
        id=ids,
        start=start,
        end=end,
        kind=kinds,
        where=where,
        length=length,
        diameter=height,
        shape=shape,
        invert_start=heads,
        invert_end=tails,
    )


def _end_invert(
    table: Section, column: int | None, node_invert: np.ndarray, unit: float, as_elevation: bool
) -> np.ndarray:
    """Invert of a link end: its node's invert plus the offset, or the offset as an elevation."""
    if column is None:
        return node_invert
    given = (table.count > column) & (table.text(column) != "*")
    offset = table.numbers(column, "offset", 0.0, skip=~given) * unit
    return np.where(given, offset if as_elevation else node_invert + offset, node_invert)
