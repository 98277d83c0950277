"""CityJSON city models: every city object an asset, one merged mesh per object type.

Vertices are integers with a ``transform`` (scale, translate) applied in float64.  A city
object's geometry at the chosen LoD becomes polygons (outer rings; holes are dropped) that
are triangulated once per merged mesh.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyvista as pv

from twin.assets import AssetTable
from twin.errors import InputError
from twin.layer import LayerPart, LayerStyle
from twin.source import LoadedSource

#: default colours of the object types, sober so that risk colours stand out
TYPE_COLORS = {"Building": "#d8d2c4", "BuildingPart": "#d8d2c4", "Road": "#6b6b6b", "TINRelief": "#a7b59a",
               "LandUse": "#b9c4a5", "PlantCover": "#7fa36b", "WaterBody": "#7fb2d9", "Bridge": "#b0a08a",
               "Tunnel": "#8a8a8a", "GenericCityObject": "#c9c3b8", "CityFurniture": "#9a8f80"}
#: sub-objects drawn with their parent's type
PARENT_TYPES = {"BuildingPart": "Building", "BuildingInstallation": "Building", "BridgePart": "Bridge",
                "TunnelPart": "Tunnel"}
SURFACE_TYPES = ("MultiSurface", "CompositeSurface")
SOLID_TYPES = ("Solid",)
MULTI_SOLID_TYPES = ("MultiSolid", "CompositeSolid")


def load(path: Path, options: Mapping[str, Any]) -> LoadedSource:
    document = _read_json(path)
    vertices = _vertices(path, document)
    lod_wanted = options.get("lod")
    groups: dict[str, _Group] = defaultdict(_Group)
    warnings: list[str] = []
    skipped: list[dict[str, str]] = []
    for object_id, city_object in document.get("CityObjects", {}).items():
        kind = city_object.get("type", "GenericCityObject")
        group = groups[PARENT_TYPES.get(kind, kind)]
        try:
            rings = _object_rings(city_object, lod_wanted, len(vertices))
        except ValueError as exc:
            skipped.append({"id": object_id, "reason": str(exc)})
            continue
        group.add(object_id, kind, city_object, rings)
    parts = [group.part(name, vertices) for name, group in groups.items() if group.ids]
    if skipped:
        warnings.append(f"{len(skipped)} city objects skipped (see skipped)")
    return LoadedSource(
        path=path, kind="city", parts=parts, crs=_crs(document), warnings=warnings, skipped=skipped,
        details={"version": document.get("version"),
                 "objects": {name: len(g.ids) for name, g in sorted(groups.items())}},
    )


def _read_json(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            document = json.load(handle)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON: {exc.msg}", where=f"line {exc.lineno}") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, "not UTF-8 text", where=f"byte {exc.start}") from None
    if not isinstance(document, dict) or document.get("type") != "CityJSON":
        raise InputError(path, "not a CityJSON file (no \"type\": \"CityJSON\")")
    return document


def _vertices(path: Path, document: dict) -> np.ndarray:
    raw = np.asarray(document.get("vertices", []), dtype=np.float64).reshape(-1, 3)
    transform = document.get("transform")
    if transform is None:
        if str(document.get("version", "")).startswith(("1.1", "2")):
            raise InputError(path, "missing \"transform\" (required since CityJSON 1.1)", where="transform")
        return raw
    return raw * np.asarray(transform["scale"], dtype=np.float64) + np.asarray(transform["translate"], dtype=np.float64)


def _crs(document: dict) -> str | None:
    reference = document.get("metadata", {}).get("referenceSystem")
    if not reference:
        return None
    # "https://www.opengis.net/def/crs/EPSG/0/7415" or "urn:ogc:def:crs:EPSG::7415"
    code = str(reference).rstrip("/").replace("::", "/").split("/")[-1].split(":")[-1]
    return f"EPSG:{code}" if code.isdigit() else str(reference)


def _object_rings(city_object: dict, lod_wanted: Any, n_vertices: int) -> list[list[int]]:
    """Outer rings (vertex index lists) of the object's geometry at the chosen LoD."""
    geometries = [g for g in city_object.get("geometry", []) if g.get("type") != "GeometryInstance"]
    if not geometries:
        return []
    if lod_wanted is not None:
        chosen = [g for g in geometries if str(g.get("lod")) == str(lod_wanted)] or geometries
    else:
        best = max(str(g.get("lod", "0")) for g in geometries)
        chosen = [g for g in geometries if str(g.get("lod", "0")) == best]
    geometry = chosen[0]
    kind, boundaries = geometry.get("type"), geometry.get("boundaries", [])
    if kind in SURFACE_TYPES:
        surfaces = boundaries
    elif kind in SOLID_TYPES:
        surfaces = [s for shell in boundaries for s in shell]
    elif kind in MULTI_SOLID_TYPES:
        surfaces = [s for solid in boundaries for shell in solid for s in shell]
    else:
        raise ValueError(f"unsupported geometry type {kind!r}")
    rings = [surface[0] for surface in surfaces if surface and len(surface[0]) >= 3]
    if rings and max(max(r) for r in rings) >= n_vertices:
        raise ValueError(f"vertex index out of range (the file has {n_vertices} vertices)")
    return rings


class _Group:
    """Accumulates the objects of one type into one mesh."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.kinds: list[str] = []
        self.attributes: list[dict] = []
        self.faces: list[int] = []
        self.owner: list[int] = []

    def add(self, object_id: str, kind: str, city_object: dict, rings: list[list[int]]) -> None:
        index = len(self.ids)
        self.ids.append(object_id)
        self.kinds.append(kind)
        self.attributes.append(city_object.get("attributes", {}) or {})
        for ring in rings:
            self.faces.append(len(ring))
            self.faces.extend(ring)
        self.owner.extend([index] * len(rings))

    def part(self, name: str, vertices: np.ndarray) -> LayerPart:
        faces = np.asarray(self.faces, dtype=np.int64)
        used = np.unique(_face_points(faces)) if len(faces) else np.empty(0, dtype=np.int64)
        remap = np.full(len(vertices), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        faces = faces.copy()
        points_mask = _point_entry_mask(faces)
        faces[points_mask] = remap[faces[points_mask]]
        mesh = pv.PolyData(vertices[used], faces=faces if len(faces) else None)
        mesh.cell_data["asset_index"] = np.asarray(self.owner, dtype=np.int64)
        mesh = mesh.triangulate()
        assets = AssetTable.build(self.ids, kind=self.kinds, name=[_name(a) for a in self.attributes],
                                  address=[str(a.get("address", "")) for a in self.attributes],
                                  attrs=_attribute_columns(self.attributes))
        return LayerPart(name=name, dataset=mesh, assets=assets,
                         asset_index=np.asarray(mesh.cell_data["asset_index"]),
                         style=LayerStyle(color=TYPE_COLORS.get(name, "#c9c3b8")))


def _point_entry_mask(faces: np.ndarray) -> np.ndarray:
    """True where an entry of a VTK face array is a point id (not a ring length)."""
    mask = np.ones(len(faces), dtype=bool)
    pos = 0
    starts = []
    while pos < len(faces):
        starts.append(pos)
        pos += faces[pos] + 1
    mask[starts] = False
    return mask


def _face_points(faces: np.ndarray) -> np.ndarray:
    return faces[_point_entry_mask(faces)]


def _name(attributes: dict) -> str:
    return str(attributes.get("name") or attributes.get("identificatie") or "")


def _attribute_columns(attributes: list[dict]) -> dict[str, list]:
    """Scalar attributes as columns: numbers stay numbers, the rest becomes text."""
    keys = {k for a in attributes for k, v in a.items() if isinstance(v, (str, int, float, bool)) and k != "name"}
    columns = {}
    for key in sorted(keys - {"address"}):
        values = [a.get(key) for a in attributes]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) or v is None for v in values):
            columns[key] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        else:
            columns[key] = ["" if v is None else str(v) for v in values]
    return columns
