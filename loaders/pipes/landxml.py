"""LandXML ``<PipeNetworks>``: structures (manholes) and pipes with invert and rim elevations.

Read with the standard library's ElementTree (the XML declaration names the encoding, e.g.
the ISO-8859-1 of Finnish InfraModel files).  Traps handled: ``<Center>`` is *northing first*
(``N E [Z]``); a pipe's invert at each end is the ``<Invert refPipe=...>`` of the structure
there, else the structure's ``elevSump``; units come from ``<Units><Metric|Imperial>``; the
CRS from ``<CoordinateSystem epsgCode>``.  ``pipeNetType`` (storm, sanitary, water, gas, ...)
names the network.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loaders.pipes.build import build
from loaders.pipes.model import UNIT_METRES, Link, NetworkData, Node, Problems, number
from twin.errors import InputError
from twin.source import LoadedSource

NET_TYPES = {"storm": "storm", "sanitary": "sewer", "combined": "drainage", "water": "water", "gas": "gas"}
_UNIT_NAMES = {
    "meter": "m",
    "millimeter": "mm",
    "centimeter": "cm",
    "foot": "ft",
    "ussurveyfoot": "us-ft",
    "inch": "in",
}
SECTIONS = ("CircPipe", "EggPipe", "ElliPipe", "RectPipe", "Channel")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in element if _local(c.tag) == name]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def load(path: Path, options: Mapping[str, Any]) -> LoadedSource:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(
            path, f"not well-formed XML ({exc.msg if hasattr(exc, 'msg') else exc})", where=f"line {exc.position[0]}"
        ) from None
    networks = [n for n in root.iter() if _local(n.tag) == "PipeNetwork"]
    if not networks:
        raise InputError(path, "no <PipeNetwork> in this LandXML file")
    data = NetworkData(
        path=path, format="landxml", network=str(options.get("network", "drainage")), flow_from_file=True
    )
    problems = Problems(data, options, strict_default=False)
    linear, diameter, elevation = _units(root)
    data.units = {"length": linear[0], "diameter": diameter[0], "elevation": elevation[0]}
    system = next((n for n in root.iter() if _local(n.tag) == "CoordinateSystem"), None)
    if system is not None and system.get("epsgCode"):
        data.crs = f"EPSG:{system.get('epsgCode')}"
    for network in networks:
        name = str(options.get("network") or NET_TYPES.get(str(network.get("pipeNetType", "")).lower(), "drainage"))
        _structs(data, network, name, diameter[1], elevation[1], problems)
        _pipes(data, network, name, diameter[1], elevation[1], problems)
    data.extra_details["pipe_networks"] = [n.get("name", "") for n in networks]
    return build(data, options, problems)


def _units(root: ET.Element) -> tuple[tuple[str, float], ...]:
    units = next((u for u in root.iter() if _local(u.tag) in ("Metric", "Imperial")), None)
    imperial = units is not None and _local(units.tag) == "Imperial"
    default = "foot" if imperial else "meter"

    def factor(key: str, fallback: str) -> tuple[str, float]:
        name = _UNIT_NAMES.get(str(units.get(key, fallback) if units is not None else fallback).lower(), "m")
        return name, UNIT_METRES[name]

    return (
        factor("linearUnit", default),
        factor("diameterUnit", "inch" if imperial else "meter"),
        factor("elevationUnit", default),
    )


def _structs(
    data: NetworkData, network: ET.Element, name: str, diameter: float, elevation: float, problems: Problems
) -> None:
    for structs in _children(network, "Structs"):
        for i, struct in enumerate(_children(structs, "Struct")):
            node_id = struct.get("name") or f"struct{i}"
            where = f"Struct {node_id}"
            try:
                x, y = _center(struct)
                ground = number(struct.get("elevRim")) * elevation
                sump = number(struct.get("elevSump")) * elevation
            except ValueError as exc:
                problems(node_id, where, f"structure {node_id}: {exc}")
                x = y = ground = sump = math.nan
                if problems.strict:
                    return
            shape = next((c for c in struct if _local(c.tag) in ("CircStruct", "RectStruct")), None)
            attrs: dict[str, Any] = {
                "desc": struct.get("desc", ""),
                "inverts": {
                    inv.get("refPipe"): number(inv.get("elev")) * elevation for inv in _children(struct, "Invert")
                },
            }
            if shape is not None:
                attrs["material"] = shape.get("material", "")
                size = number(shape.get("diameter") or shape.get("width"))
                if math.isfinite(size):
                    attrs["structure_diameter_m"] = size * diameter
            data.nodes[node_id] = Node(
                node_id, x, y, kind="manhole", network=name, ground=ground, invert=sump, where=where, attrs=attrs
            )


def _center(struct: ET.Element) -> tuple[float, float]:
    center = _child(struct, "Center")
    words = (center.text or "").split() if center is not None else []
    if not words:
        raise ValueError("no <Center> coordinates")
    values = [float(v) for v in words]
    if len(values) < 2:
        raise ValueError(f"<Center> needs northing and easting, got {' '.join(words)!r}")
    return values[1], values[0]  # LandXML writes northing first


def _pipes(
    data: NetworkData, network: ET.Element, name: str, diameter: float, elevation: float, problems: Problems
) -> None:
    for pipes in _children(network, "Pipes"):
        for i, pipe in enumerate(_children(pipes, "Pipe")):
            link_id = pipe.get("name") or f"pipe{i}"
            where = f"Pipe {link_id}"
            section = next((c for c in pipe if _local(c.tag) in SECTIONS), None)
            size = math.nan
            if section is not None:
                size = number(section.get("diameter") or section.get("height")) * diameter
            start, end = pipe.get("refStart", ""), pipe.get("refEnd", "")
            link = Link(
                link_id,
                start,
                end,
                kind="pipe",
                network=name,
                diameter=size,
                where=where,
                material=section.get("material", "") if section is not None else "",
                shape=_local(section.tag) if section is not None else "",
                attrs={
                    "desc": section.get("desc", "") if section is not None else "",
                    "slope_percent": number(pipe.get("slope")),
                },
            )
            link.invert_start = _invert(data, start, link_id)
            link.invert_end = _invert(data, end, link_id)
            data.links.append(link)
    for node in data.nodes.values():
        node.attrs.pop("inverts", None)


def _invert(data: NetworkData, node_id: str, link_id: str) -> float:
    node = data.nodes.get(node_id)
    if node is None:
        return math.nan
    return float(node.attrs.get("inverts", {}).get(link_id, node.invert))
