"""CityGML 2.0 and 3.0 city models (LoD1-2 buildings first of all): every city object an asset.

No well-kept Python library reads CityGML (the mature tools, citygml4j and citygml-tools, are
Java), so this is a focused streaming parser on the standard library's ``iterparse``: each
``cityObjectMember`` is read, turned into objects and freed.  Tags are matched by local name,
so CityGML 2.0 (GML 3.1) and 3.0 (GML 3.2) read alike.  From each city object it takes

- its ``gml:id``, type, ``gml:name``, simple attributes (``function``, ``yearOfConstruction``,
  ``measuredHeight``...), generic attributes (2.0 ``gen:stringAttribute``, 3.0
  ``gen:StringAttribute``...), its address as one line, and a Dynamizer's sensor link
  (``sensor_datastream``, ``sensor_url``);
- its polygons (with holes) at the highest LoD (or the one of ``options["lod"]``), each with
  the thematic surface around it (``RoofSurface``, ``WallSurface``, ``GroundSurface``...) as
  its semantic type;
- nested city objects (``BuildingPart``, ``BuildingRoom``...) as their own assets with ``parent``.

Polygons referenced again by ``xlink:href`` (an LoD2 solid built from the thematic surfaces)
are counted once.  Geometry goes through :mod:`loaders.city_mesh` like CityJSON's.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from loaders.city_mesh import CityObjects, build_parts, flatten
from twin.errors import InputError
from twin.geo import MAX_COORDINATE
from twin.source import LoadedSource

CITY_OBJECTS = {
    "Building",
    "BuildingPart",
    "BuildingInstallation",
    "BuildingRoom",
    "BuildingUnit",
    "BuildingStorey",
    "BuildingConstructiveElement",
    "Bridge",
    "BridgePart",
    "Tunnel",
    "TunnelPart",
    "Road",
    "Railway",
    "Track",
    "Square",
    "Waterway",
    "WaterBody",
    "LandUse",
    "PlantCover",
    "SolitaryVegetationObject",
    "CityFurniture",
    "GenericCityObject",
    "TINRelief",
    "ReliefFeature",
    "GenericOccupiedSpace",
    "GenericUnoccupiedSpace",
    "GenericLogicalSpace",
}
GENERIC_2 = {"stringAttribute", "intAttribute", "doubleAttribute", "dateAttribute", "uriAttribute", "measureAttribute"}
GENERIC_3 = {
    "StringAttribute",
    "IntAttribute",
    "DoubleAttribute",
    "DateAttribute",
    "UriAttribute",
    "MeasureAttribute",
    "CodeAttribute",
}
GEOMETRY_NAMES = {"Polygon", "Triangle"}
#: attributes that hold codes (from code lists), kept as text even when they look like numbers
CODES = {"function", "usage", "class", "roofType", "creationDate", "terminationDate"}
GML = "{http://www.opengis.net/gml"
#: XML levels below a city object member: an LoD2 building with parts needs some 20; deeper is
#: a broken or hostile file (and the reader walks a subtree by recursion)
MAX_DEPTH = 200
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
LOD = re.compile(r"^lod(\d)")
#: AdV (German surveying) CRS names found in CityGML files
ADV_CRS = {
    "DE_DHDN_3GK2": "EPSG:31466",
    "DE_DHDN_3GK3": "EPSG:31467",
    "DE_DHDN_3GK4": "EPSG:31468",
    "DE_DHDN_3GK5": "EPSG:31469",
    "ETRS89_UTM32": "EPSG:25832",
    "ETRS89_UTM33": "EPSG:25833",
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _Reader:
    """Collects objects, vertices and polygons while the file streams past."""

    def __init__(self, lod_wanted: Any) -> None:
        self.objects = CityObjects()
        self.vertices: list[np.ndarray] = []
        self.n_vertices = 0
        self.seen_polygons: set[str] = set()
        self.lod_wanted = None if lod_wanted is None else int(float(lod_wanted))
        self.srs: str | None = None

    def city_object(self, element: ET.Element, parent: str = "") -> str:
        """Add ``element`` (and the city objects nested in it); returns its id."""
        kind = _local(element.tag)
        object_id = (
            element.get("{http://www.opengis.net/gml}id")
            or element.get("{http://www.opengis.net/gml/3.2}id")
            or f"{kind}-{len(self.objects.ids) + 1}"
        )
        attributes: dict[str, Any] = {}
        polygons: list[tuple[list[np.ndarray], str, int]] = []
        children: list[ET.Element] = []
        address = self._visit(element, attributes, polygons, children, "", -1, top=True)
        surfaces, types, lod = self._surfaces(polygons)
        index = len(self.objects.ids)
        self.objects.add(
            object_id,
            kind,
            attributes=attributes,
            parent=parent,
            children=len(children),
            address=address,
            lod=str(lod) if lod >= 0 else "",
            surfaces=surfaces,
            semantic_types=types,
            semantic_values=list(range(len(types))),
        )
        for child in children:
            self.city_object(child, parent=object_id)
        return self.objects.ids[index]

    def _visit(
        self,
        node: ET.Element,
        attributes: dict[str, Any],
        polygons: list[Any],
        children: list[Any],
        semantic: str,
        lod: int,
        top: bool = False,
    ) -> str:
        """Walk one object's subtree; returns its address text (if any)."""
        address = ""
        for child in node:
            name = _local(child.tag)
            if name in CITY_OBJECTS:
                children.append(child)
            elif name in GEOMETRY_NAMES:
                self._polygon(child, polygons, semantic, lod)
            elif name in GENERIC_2 or name in GENERIC_3:
                _generic(child, attributes)
            elif name in ("address", "Address"):
                address = address or _address(child)
            elif name == "Dynamizer":
                _sensor(child, attributes)
            elif top and name == "name" and len(child) == 0:
                attributes.setdefault("name", (child.text or "").strip())
            elif top and len(child) == 0 and (child.text or "").strip():
                attributes[name] = (child.text or "").strip() if name in CODES else _value(child.text)
            else:
                match = LOD.match(name)
                thematic = name.endswith(("Surface", "TrafficArea")) and name[0].isupper()
                surface = name if thematic and not child.tag.startswith(GML) else ""
                found = self._visit(
                    child, attributes, polygons, children, surface or semantic, int(match.group(1)) if match else lod
                )
                address = address or found
            if self.srs is None and child.get("srsName"):
                self.srs = child.get("srsName")
        return address

    def _polygon(self, element: ET.Element, polygons: list[Any], semantic: str, lod: int) -> None:
        polygon_id = element.get("{http://www.opengis.net/gml}id") or element.get("{http://www.opengis.net/gml/3.2}id")
        if polygon_id:
            if polygon_id in self.seen_polygons:
                return
            self.seen_polygons.add(polygon_id)
        rings = []
        for boundary in element:
            if _local(boundary.tag) in ("exterior", "interior", "outerBoundaryIs", "innerBoundaryIs"):
                ring = _ring(boundary)
                if ring is not None and len(ring) >= 3:
                    rings.append(ring)
        if rings:
            polygons.append((rings, semantic, lod))

    def _surfaces(self, polygons: list[Any]) -> tuple[list[Any], list[str], int]:
        """Surfaces (rings of new vertex ids) at the chosen LoD, and their semantic types."""
        lods = {lod for _, _, lod in polygons}
        if not lods:
            return [], [], -1
        if self.lod_wanted is None:
            chosen = max(lods)
        else:
            chosen = min(lods, key=lambda v: (v > self.lod_wanted, abs(v - self.lod_wanted)))
        surfaces, types = [], []
        for rings, semantic, lod in polygons:
            if lod != chosen:
                continue
            ids = []
            for ring in rings:
                ids.append(list(range(self.n_vertices, self.n_vertices + len(ring))))
                self.vertices.append(ring)
                self.n_vertices += len(ring)
            surfaces.append(ids)
            types.append(semantic)
        return surfaces, types, chosen


def _ring(boundary: ET.Element) -> np.ndarray | None:
    """The coordinates of a LinearRing (posList, or pos / coordinates), closing point dropped."""
    for node in boundary.iter():
        name = _local(node.tag)
        if name == "posList":
            dim = int(node.get("srsDimension") or 3)
            if dim not in (2, 3):
                raise ValueError(f"srsDimension {dim}: only 2 or 3 are read")
            coords = np.array((node.text or "").split(), dtype=np.float64)
            break
        if name in ("pos", "coordinates"):
            text = " ".join((p.text or "").replace(",", " ") for p in boundary.iter() if _local(p.tag) == name)
            dim = 3
            coords = np.array(text.split(), dtype=np.float64)
            break
    else:
        return None
    if len(coords) % dim:
        raise ValueError(f"a ring has {len(coords)} numbers, not a multiple of {dim}")
    if not (np.abs(coords) <= MAX_COORDINATE).all():  # NaN compares false: caught too
        raise ValueError(f"a ring has coordinates that are NaN, infinite or beyond +-{MAX_COORDINATE:g}")
    points = coords.reshape(-1, dim)
    if dim == 2:
        points = np.column_stack([points, np.zeros(len(points))])
    if len(points) > 1 and np.array_equal(points[0], points[-1]):
        points = points[:-1]
    return points[:, :3]


def _address(element: ET.Element) -> str:
    """The address as one line: the text of its xAL elements (not the GML location point)."""
    return " ".join(n.text.strip() for n in element.iter() if "xal" in n.tag.lower() and n.text and n.text.strip())


def _value(text: str | None) -> Any:
    text = (text or "").strip()
    return float(text) if NUMBER.match(text) else text


def _generic(element: ET.Element, attributes: dict[str, Any]) -> None:
    name = element.get("name")
    value = None
    for child in element:
        if _local(child.tag) == "name":
            name = (child.text or "").strip()
        elif _local(child.tag) == "value":
            value = child.text
    if name:
        attributes[name] = _value(value)


def _sensor(dynamizer: ET.Element, attributes: dict[str, Any]) -> None:
    """A Dynamizer's sensor link, so risk rules can bind live readings to the asset."""
    for node in dynamizer.iter():
        name = _local(node.tag)
        if name == "datastreamID":
            attributes["sensor_datastream"] = (node.text or "").strip()
        elif name == "baseURL":
            attributes["sensor_url"] = (node.text or "").strip()
        elif name == "attributeRef":
            attributes["sensor_attribute"] = (node.text or "").strip()


def _crs(srs: str | None) -> str | None:
    """``EPSG:xxxx`` from a GML srsName (URN, URL or AdV name); the horizontal part of a compound CRS."""
    if not srs:
        return None
    codes = re.findall(r"EPSG[:/]+(?:0/)?(\d+)", srs, flags=re.IGNORECASE)
    if codes:
        return f"EPSG:{codes[0]}"
    for name, code in ADV_CRS.items():
        if name in srs:
            return code
    return srs


def load(path: Path, options: Mapping[str, Any]) -> LoadedSource:
    path = Path(path)
    reader = _Reader(options.get("lod"))
    skipped: list[dict[str, str]] = []
    root_seen = False
    try:
        for event, element in ET.iterparse(path, events=("start", "end")):
            name = _local(element.tag)
            if event == "start":
                if not root_seen:
                    root_seen = True
                    if name != "CityModel":
                        raise InputError(path, f"not a CityGML file (the root is <{name}>, not <CityModel>)")
                if reader.srs is None and element.get("srsName"):
                    reader.srs = element.get("srsName")
                continue
            if name in ("cityObjectMember", "featureMember", "member"):
                for member in list(element):
                    if _local(member.tag) not in CITY_OBJECTS:
                        continue
                    try:
                        _check_depth(member)
                        reader.city_object(member)
                    except ValueError as exc:
                        number = len(skipped) + len(reader.objects.ids) + 1
                        object_id = member.get("{http://www.opengis.net/gml}id") or f"{_local(member.tag)} {number}"
                        skipped.append({"id": object_id, "reason": str(exc)})
                element.clear()
    except ET.ParseError as exc:
        line, column = exc.position
        raise InputError(
            path, f"invalid XML: {exc.msg if hasattr(exc, 'msg') else exc}", where=f"line {line} column {column}"
        ) from None
    if skipped and not reader.objects.ids:  # nothing at all could be read: the file is broken
        raise InputError(path, skipped[0]["reason"], where=f"city object {skipped[0]['id']}")
    return _source(path, reader, skipped)


def _check_depth(member: ET.Element) -> None:
    """Refuse a city object nested deeper than MAX_DEPTH levels, before anything walks it."""
    stack = [(member, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"XML nested deeper than the limit of {MAX_DEPTH} levels in one city object")
        stack.extend((child, depth + 1) for child in node)


def _source(path: Path, reader: _Reader, skipped: list[dict[str, str]]) -> LoadedSource:
    objects = reader.objects
    points = np.concatenate(reader.vertices) if reader.vertices else np.empty((0, 3))
    flat, bad = flatten(objects)
    parts = build_parts(points, objects, flat, exclude=set(bad))
    warnings = [f"{len(skipped)} city objects skipped (see skipped)"] if skipped else []
    details = {
        "objects": dict(sorted(Counter(objects.kinds).items())),
        "lods": dict(sorted(Counter(lod for lod in objects.lods if lod).items())),
        "surface_types": list(objects.surface_types),
        "srs_name": reader.srs,
    }
    return LoadedSource(
        path=path, kind="city", parts=parts, crs=_crs(reader.srs), warnings=warnings, skipped=skipped, details=details
    )
