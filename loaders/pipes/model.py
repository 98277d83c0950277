"""What every pipe format is parsed into: node and link columns in metres, before any geometry.

The parsers (EPANET, SWMM, GeoJSON, LandXML, CSV) only read; :mod:`loaders.pipes.build`
turns a :class:`NetworkData` into layers, asset columns and graphs, the same way for all.
Lengths, diameters and elevations are converted to metres by the parser; x and y stay in the
file's coordinate units (the twin reprojects them).

The table formats (``.inp``, CSV) are parsed straight into :class:`NodeTable` and
:class:`LinkTable` columns: a city network has 100,000s of rows, and a Python object per row
(with its attribute dict and vertex list) cost more than everything else put together.  The
feature formats (GeoJSON, LandXML), whose parsers hand over one Python object per feature
anyway, fill :class:`Node` and :class:`Link` rows, turned into the same tables once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from loaders.pipes.keys import lookup as lookup  # re-exported: epanet.py and inp.py import it from here
from twin.errors import InputError

#: metres per unit, for the unit names found in files and options
UNIT_METRES = {
    "m": 1.0,
    "meter": 1.0,
    "metre": 1.0,
    "mm": 0.001,
    "millimeter": 0.001,
    "cm": 0.01,
    "ft": 0.3048,
    "foot": 0.3048,
    "feet": 0.3048,
    "us-ft": 1200 / 3937,
    "in": 0.0254,
    "inch": 0.0254,
}

#: no projected or geographic coordinate is larger (100,000 km); beyond it lengths and meshes overflow
MAX_COORDINATE = 1e8
#: node kinds that feed a pressurised network (isolation cuts a segment off from these)
SOURCE_KINDS = ("reservoir", "tank", "source")


def unit_factor(unit: str | None, path: Path, key: str) -> float:
    """Metres per ``unit``; an unknown unit name is the user's error, said as such."""
    name = (unit or "m").strip().lower()
    if name not in UNIT_METRES:
        raise InputError(
            path, f"unknown unit {unit!r} for option {key}", hint=f"use one of {', '.join(sorted(UNIT_METRES))}"
        )
    return UNIT_METRES[name]


def number(text: Any) -> float:
    """A float, or NaN for a missing or empty value; raises ValueError on anything else,
    infinities (and numbers too long to be measurements, which read as infinite) included."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return math.nan
    if isinstance(text, bool):
        raise ValueError(f"not a number: {text!r}")
    value = float(text)
    if math.isinf(value):
        shown = text if not isinstance(text, str) or len(text) <= 24 else f"{text[:12]}...({len(text)} characters)"
        raise ValueError(f"not a finite number: {shown!r}")
    return value


@dataclass
class Node:
    id: str
    x: float
    y: float
    kind: str = "junction"
    network: str = ""
    ground: float = math.nan  #: ground (rim) elevation, m
    invert: float = math.nan  #: invert (sump) elevation, m: drainage structures
    cover: float = math.nan  #: depth of cover to the pipe crown at this node, m
    where: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Link:
    id: str
    start: str
    end: str
    kind: str = "pipe"
    network: str = ""
    diameter: float = math.nan  #: m (height for non-circular sections)
    length: float = math.nan  #: m, as the file states it (NaN: measured from the geometry)
    vertices: list[tuple[float, float]] = field(default_factory=list)  #: interior x, y
    invert_start: float = math.nan
    invert_end: float = math.nan
    cover_start: float = math.nan
    cover_end: float = math.nan
    material: str = ""
    install_year: float = math.nan
    pressure_class: str = ""
    owner: str = ""
    address: str = ""
    shape: str = ""
    where: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)


STR = np.dtypes.StringDType()
NODE_TEXT = ("id", "kind", "network", "where")
NODE_NUMBERS = ("x", "y", "ground", "invert", "cover")
LINK_TEXT = (
    "id",
    "start",
    "end",
    "kind",
    "network",
    "material",
    "pressure_class",
    "owner",
    "address",
    "shape",
    "where",
)
LINK_NUMBERS = ("diameter", "length", "invert_start", "invert_end", "cover_start", "cover_end", "install_year")


@dataclass
class Attr:
    """A free attribute column and where it was given (float64, StringDType, or mixed objects)."""

    values: np.ndarray
    present: np.ndarray  #: bool per row

    @classmethod
    def of(cls, values: Any, present: np.ndarray | None = None) -> Attr:
        array = np.asarray(values)
        if array.dtype.kind in "US":
            array = array.astype(STR, copy=False)
        return cls(array, np.ones(len(array), dtype=bool) if present is None else present)


def _columns(
    n: int, text: tuple[str, ...], numbers: tuple[str, ...], given: Mapping[str, Any], defaults: Mapping[str, str]
) -> dict[str, np.ndarray]:
    """Every text and number column, from ``given`` or filled with the default (text) or NaN."""
    out: dict[str, np.ndarray] = {}
    for key in text:
        column = np.empty(n, dtype=STR) if key not in given else np.asarray(given[key]).astype(STR, copy=False)
        if key not in given and defaults.get(key):
            column[:] = defaults[key]
        out[key] = column
    for key in numbers:
        out[key] = np.asarray(given[key], dtype=np.float64) if key in given else np.full(n, math.nan)
    unknown = set(given) - set(text) - set(numbers)
    if unknown:
        raise TypeError(f"unknown columns {sorted(unknown)}")
    return out


@dataclass
class NodeTable:
    """Nodes as columns (see :class:`Node` for their meaning) and free attributes."""

    columns: dict[str, np.ndarray]
    attrs: dict[str, Attr] = field(default_factory=dict)

    @classmethod
    def make(cls, n: int, attrs: Mapping[str, Attr] | None = None, **given: Any) -> NodeTable:
        return cls(_columns(n, NODE_TEXT, NODE_NUMBERS, given, {"kind": "junction"}), dict(attrs or {}))

    @classmethod
    def from_rows(cls, nodes: Sequence[Node]) -> NodeTable:
        given = {k: [getattr(n, k) for n in nodes] for k in NODE_TEXT + NODE_NUMBERS}
        return cls.make(len(nodes), _attrs_of([n.attrs for n in nodes]), **given)

    def __len__(self) -> int:
        return len(self.columns["id"])

    def __getitem__(self, key: str) -> np.ndarray:
        return self.columns[key]


@dataclass
class LinkTable:
    """Links as columns (see :class:`Link`), interior vertices as one flat array, free attributes.

    Link ``i``'s vertices are ``vertex_xy[vertex_offsets[i]:vertex_offsets[i + 1]]``.
    """

    columns: dict[str, np.ndarray]
    vertex_offsets: np.ndarray
    vertex_xy: np.ndarray
    attrs: dict[str, Attr] = field(default_factory=dict)

    @classmethod
    def make(
        cls,
        n: int,
        vertex_offsets: np.ndarray | None = None,
        vertex_xy: np.ndarray | None = None,
        attrs: Mapping[str, Attr] | None = None,
        **given: Any,
    ) -> LinkTable:
        offsets = np.zeros(n + 1, dtype=np.int64) if vertex_offsets is None else vertex_offsets
        xy = np.empty((0, 2)) if vertex_xy is None else np.asarray(vertex_xy, dtype=np.float64).reshape(-1, 2)
        columns = _columns(n, LINK_TEXT, LINK_NUMBERS, given, {"kind": "pipe"})
        return cls(columns, offsets, xy, dict(attrs or {}))

    @classmethod
    def from_rows(cls, links: Sequence[Link]) -> LinkTable:
        given = {k: [getattr(link, k) for link in links] for k in LINK_TEXT + LINK_NUMBERS}
        offsets = np.r_[0, np.cumsum([len(link.vertices) for link in links], dtype=np.int64)]
        xy = [p for link in links for p in link.vertices]
        return cls.make(
            len(links), offsets, np.array(xy, dtype=np.float64), _attrs_of([k.attrs for k in links]), **given
        )

    def __len__(self) -> int:
        return len(self.columns["id"])

    def __getitem__(self, key: str) -> np.ndarray:
        return self.columns[key]


def _attrs_of(rows: list[dict[str, Any]]) -> dict[str, Attr]:
    """Free attributes of row objects, as mixed columns (typed per network by the builder)."""
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    out = {}
    for key in keys:
        values = np.empty(len(rows), dtype=object)
        values[:] = [row.get(key) for row in rows]
        out[key] = Attr(values, np.array([key in row for row in rows], dtype=bool))
    return out


@dataclass
class NetworkData:
    """A parsed file: node and link tables (or rows, for the feature formats), plus what the
    parser learnt about it."""

    path: Path
    format: str
    network: str  #: default network name (e.g. "water")
    nodes: dict[str, Node] = field(default_factory=dict)  #: rows, for parsers that make them
    links: list[Link] = field(default_factory=list)
    node_table: NodeTable | None = None  #: columns, for parsers that make them
    link_table: LinkTable | None = None
    crs: str | None = None
    units: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    flow_from_file: bool = False  #: link direction is the flow direction (SWMM, LandXML)
    extra_details: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> tuple[NodeTable, LinkTable]:
        """The parsed columns (made from the rows when the parser made rows)."""
        nodes = self.node_table if self.node_table is not None else NodeTable.from_rows(list(self.nodes.values()))
        links = self.link_table if self.link_table is not None else LinkTable.from_rows(self.links)
        return nodes, links


class Problems:
    """Decides whether a problem with one element stops the load or skips the element.

    Hydraulic model files (EPANET, SWMM) are strict by default, as their engines are: a link to
    an unknown node is an error.  GIS exports (GeoJSON, CSV, LandXML) skip the bad element with
    a warning and load the rest.  The ``strict`` option overrides either default.
    """

    def __init__(self, data: NetworkData, options: Mapping[str, Any], strict_default: bool) -> None:
        self.data = data
        self.strict = bool(options.get("strict", strict_default))

    def __call__(self, element_id: str, where: str, problem: str, hint: str | None = None) -> None:
        if self.strict:
            raise InputError(self.data.path, problem, where=where or None, hint=hint)
        reason = f"{where}: {problem}" if where else problem
        self.data.skipped.append({"id": element_id, "reason": reason})

    def fatal(self, where: str, problem: str, hint: str | None = None) -> InputError:
        return InputError(self.data.path, problem, where=where or None, hint=hint)
