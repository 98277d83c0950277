"""What every pipe format is parsed into: node and link rows in metres, before any geometry.

The parsers (EPANET, SWMM, GeoJSON, LandXML, CSV) only read; :mod:`loaders.pipes.build`
turns a :class:`NetworkData` into layers, asset columns and graphs, the same way for all.
Lengths, diameters and elevations are converted to metres by the parser; x and y stay in the
file's coordinate units (the twin reprojects them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.errors import InputError
from twin.registry import OptionType

#: options every pipe loader takes (the network's name, CRS, default depths, display)
NETWORK_OPTIONS: dict[str, OptionType] = {
    "network": str,
    "crs": str,
    "cover": float,
    "ground": float,
    "display_scale": float,
    "strict": bool,
}
#: and those that read text files (.inp, GeoJSON, CSV)
INP_OPTIONS: dict[str, OptionType] = {**NETWORK_OPTIONS, "encoding": str}
#: and those whose columns are mapped by the manifest (GeoJSON, CSV)
FIELD_OPTIONS: dict[str, OptionType] = {
    **INP_OPTIONS,
    "fields": dict,
    "diameter_unit": str,
    "length_unit": str,
    "elevation_unit": str,
}

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
    """A float, or NaN for a missing or empty value; raises ValueError on anything else."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return math.nan
    if isinstance(text, bool):
        raise ValueError(f"not a number: {text!r}")
    return float(text)


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


@dataclass
class NetworkData:
    """A parsed file: nodes and links keyed by id, plus what the parser learnt about it."""

    path: Path
    format: str
    network: str  #: default network name (e.g. "water")
    nodes: dict[str, Node] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    crs: str | None = None
    units: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    flow_from_file: bool = False  #: link direction is the flow direction (SWMM, LandXML)
    extra_details: dict[str, Any] = field(default_factory=dict)


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
