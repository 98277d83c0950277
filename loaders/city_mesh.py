"""City objects collected by a city model reader, turned into one merged mesh per object type.

A reader (CityJSON, CityGML) adds each object with its surfaces as nested lists (surface ->
rings -> vertex ids) and one semantic code per surface.  :func:`build_parts` flattens all of
them at once (``itertools.chain`` and ``np.fromiter`` run at C speed, so there is no Python
work per ring), checks every vertex id in one vectorised pass, triangulates
(:mod:`loaders.polygons`) and splits the triangles by object type.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from itertools import chain
from operator import methodcaller
from typing import Any

import numpy as np
import pyvista as pv

from loaders.polygons import triangulate
from twin.assets import CORE_COLUMNS, AssetTable
from twin.layer import LayerPart, LayerStyle

#: default colours of the object types, sober so that risk colours stand out
TYPE_COLORS = {
    "Building": "#d8d2c4",
    "Road": "#6b6b6b",
    "TINRelief": "#a7b59a",
    "LandUse": "#b9c4a5",
    "PlantCover": "#7fa36b",
    "WaterBody": "#7fb2d9",
    "Bridge": "#b0a08a",
    "Tunnel": "#8a8a8a",
    "GenericCityObject": "#c9c3b8",
    "CityFurniture": "#9a8f80",
    "Railway": "#7a6f66",
    "TransportSquare": "#8d8d8d",
    "SolitaryVegetationObject": "#6f9a5c",
}
#: sub-objects drawn in their parent's layer
PARENT_TYPES = {
    "BuildingPart": "Building",
    "BuildingInstallation": "Building",
    "BuildingConstructiveElement": "Building",
    "BuildingFurniture": "Building",
    "BuildingRoom": "Building",
    "BuildingStorey": "Building",
    "BuildingUnit": "Building",
    "BridgePart": "Bridge",
    "BridgeInstallation": "Bridge",
    "BridgeConstructiveElement": "Bridge",
    "TunnelPart": "Tunnel",
    "TunnelInstallation": "Tunnel",
}
#: asset columns the loader fills itself; a file attribute of the same name gets an ``attr_`` prefix
OWN_COLUMNS = {*CORE_COLUMNS, "x", "y", "z", "parent", "children", "height_m", "lod", "replaced_by"}


@dataclass
class CityObjects:
    """Objects in file order; surfaces of every object in one flat list (global vertex ids)."""

    ids: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    attributes: list[dict[str, Any]] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    lods: list[str] = field(default_factory=list)
    n_surfaces: list[int] = field(default_factory=list)
    vertex_limit: list[tuple[int, int]] = field(default_factory=list)
    surfaces: list[list[Any]] = field(default_factory=list)
    #: per surface, an index into its object's semantic types (None for none)
    semantic_values: list[int | None] = field(default_factory=list)
    #: per object, where its semantic types start in ``semantic_codes``
    semantic_offset: list[int] = field(default_factory=list)
    semantic_codes: list[int] = field(default_factory=list)
    surface_types: list[str] = field(default_factory=lambda: [""])
    _codes: dict[str, int] = field(default_factory=lambda: {"": 0})

    def surface_code(self, name: str | None) -> int:
        """Code of a semantic surface type (``RoofSurface``...) in ``surface_types``; 0 for none."""
        key = name or ""
        code = self._codes.get(key)
        if code is None:
            code = self._codes[key] = len(self.surface_types)
            self.surface_types.append(key)
        return code

    def add(
        self,
        object_id: str,
        kind: str,
        *,
        attributes: dict[str, Any] | None = None,
        parent: str = "",
        children: int = 0,
        address: str = "",
        lod: str = "",
        surfaces: list[Any] | None = None,
        semantic_types: Sequence[str] = (),
        semantic_values: list[int | None] | None = None,
        vertices: tuple[int, int] = (0, 2**62),
    ) -> None:
        """Add one object.

        ``semantic_values[i]`` indexes ``semantic_types`` for surface ``i``; ``vertices`` =
        (first, stop) of the ids its rings may use.
        """
        surfaces = surfaces or []
        self.ids.append(object_id)
        self.kinds.append(kind)
        self.attributes.append(attributes or {})
        self.parents.append(parent)
        self.children.append(children)
        self.addresses.append(address)
        self.lods.append(lod)
        self.n_surfaces.append(len(surfaces))
        self.vertex_limit.append(vertices)
        self.surfaces.extend(surfaces)
        self.semantic_offset.append(len(self.semantic_codes))
        self.semantic_codes.extend(map(self.surface_code, semantic_types))
        if semantic_values is None or len(semantic_values) != len(surfaces):
            semantic_values = [None] * len(surfaces)
        self.semantic_values.extend(semantic_values)

    def surface_semantics(self) -> np.ndarray:
        """The semantic code of every surface (0 where it has none)."""
        try:
            values = np.array(self.semantic_values, dtype=np.float64)  # None -> NaN, at C speed
        except (TypeError, ValueError):  # malformed semantics draw as plain surfaces
            values = np.array([v if isinstance(v, int) else np.nan for v in self.semantic_values], dtype=np.float64)
        owner = np.repeat(np.arange(len(self.ids)), self.n_surfaces)
        index = np.asarray(self.semantic_offset, dtype=np.int64)[owner] + np.nan_to_num(values).astype(np.int64)
        codes = np.asarray(self.semantic_codes + [0], dtype=np.int16)
        valid = ~np.isnan(values) & (index < len(self.semantic_codes)) & (index >= 0)
        return np.where(valid, codes[np.where(valid, index, -1)], 0).astype(np.int16)


@dataclass
class Flat:
    """All rings of all objects, flattened."""

    flat: np.ndarray
    ring_len: np.ndarray
    surface_rings: np.ndarray
    surface_owner: np.ndarray


def flatten(objects: CityObjects) -> tuple[Flat, dict[int, str]]:
    """Flatten every ring and check vertex ids; returns the flat rings and ``{object: problem}``."""
    surface_owner = np.repeat(np.arange(len(objects.ids)), objects.n_surfaces)
    try:
        flat = _flatten(objects.surfaces)
    except (TypeError, ValueError):
        bad = _find_malformed(objects)
        keep = ~np.isin(surface_owner, list(bad))
        surfaces = [s for s, k in zip(objects.surfaces, keep.tolist()) if k]
        flat = _flatten(surfaces)
        flat.surface_owner = surface_owner[keep]
        return _check_range(flat, objects, bad)
    flat.surface_owner = surface_owner
    return _check_range(flat, objects, {})


def _flatten(surfaces: list[list[Any]]) -> Flat:
    surface_rings = np.fromiter(map(len, surfaces), dtype=np.int64, count=len(surfaces))
    rings = list(chain.from_iterable(surfaces))
    ring_len = np.fromiter(map(len, rings), dtype=np.int64, count=len(rings))
    flat = np.fromiter(chain.from_iterable(rings), dtype=np.int64, count=int(ring_len.sum()))
    return Flat(flat, ring_len, surface_rings, np.empty(0, dtype=np.int64))


def _find_malformed(objects: CityObjects) -> dict[int, str]:
    """Objects whose rings are not lists of integers (the slow path, only after a failure)."""
    bad, start = {}, 0
    for index, count in enumerate(objects.n_surfaces):
        try:
            _flatten(objects.surfaces[start : start + count])
        except (TypeError, ValueError):
            bad[index] = "malformed boundaries (rings must be lists of vertex indices)"
        start += count
    return bad


def _check_range(flat: Flat, objects: CityObjects, bad: dict[int, str]) -> tuple[Flat, dict[int, str]]:
    """Skip objects with a vertex id outside their vertex range; others keep their surfaces."""
    limits = np.asarray(objects.vertex_limit, dtype=np.int64).reshape(-1, 2)
    ring_owner = np.repeat(flat.surface_owner, flat.surface_rings)
    entry_owner = np.repeat(ring_owner, flat.ring_len)
    wrong = (flat.flat < 0) | (flat.flat >= limits[entry_owner, 1] - limits[entry_owner, 0])
    if not wrong.any():
        flat.flat = flat.flat + limits[entry_owner, 0]
        return flat, bad
    bad = dict(bad)
    for owner in np.unique(entry_owner[wrong]).tolist():
        first = int(flat.flat[np.flatnonzero(wrong & (entry_owner == owner))[0]])
        size = int(limits[owner, 1] - limits[owner, 0])
        bad[owner] = f"vertex index {first} out of range (0..{size - 1})"
    keep_surface = ~np.isin(flat.surface_owner, list(bad))
    keep_ring = np.repeat(keep_surface, flat.surface_rings)
    keep_entry = np.repeat(keep_ring, flat.ring_len)
    return Flat(
        flat.flat[keep_entry] + limits[entry_owner[keep_entry], 0],
        flat.ring_len[keep_ring],
        flat.surface_rings[keep_surface],
        flat.surface_owner[keep_surface],
    ), bad


def build_parts(
    points: np.ndarray, objects: CityObjects, flat: Flat, exclude: AbstractSet[int] = frozenset()
) -> list[LayerPart]:
    """One triangle mesh per layer (object type, parts with their parent's type); ``exclude``d objects
    (skipped ones) get no asset row."""
    triangles = triangulate(points, flat.flat, flat.ring_len, flat.surface_rings)
    tri_owner = flat.surface_owner[triangles.surface]
    semantics = objects.surface_semantics()
    tri_semantic = semantics[_surface_positions(objects, flat)[triangles.surface]]
    height = _object_heights(points, flat, len(objects.ids))
    groups = np.array([PARENT_TYPES.get(k, k) for k in objects.kinds], dtype=object)
    groups[list(exclude)] = None
    parts = []
    for name in dict.fromkeys(g for g in groups.tolist() if g is not None):
        members = np.flatnonzero(groups == name)
        local = np.full(len(objects.ids), -1, dtype=np.int64)
        local[members] = np.arange(len(members))
        chosen = local[tri_owner] >= 0
        mesh = _mesh(points, triangles.ids[chosen])
        mesh.cell_data["asset_index"] = local[tri_owner[chosen]]
        mesh.cell_data["surface"] = tri_semantic[chosen]
        parts.append(
            LayerPart(
                name=name,
                dataset=mesh,
                assets=_assets(objects, members, height),
                asset_index=np.asarray(mesh.cell_data["asset_index"]),
                style=LayerStyle(color=TYPE_COLORS.get(name, "#c9c3b8")),
            )
        )
    return parts


def _surface_positions(objects: CityObjects, flat: Flat) -> np.ndarray:
    """Index into the list of all surfaces of every surface that survived the checks."""
    if len(flat.surface_owner) == len(objects.surfaces):
        return np.arange(len(objects.surfaces))
    first = np.zeros(len(objects.ids), dtype=np.int64)
    np.cumsum(objects.n_surfaces[:-1], out=first[1:])
    owner = flat.surface_owner
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if len(owner) else np.empty(0, dtype=np.int64)
    within = np.arange(len(owner)) - np.repeat(starts, np.diff(np.r_[starts, len(owner)]))
    result: np.ndarray = first[owner] + within
    return result


def _object_heights(points: np.ndarray, flat: Flat, n: int) -> np.ndarray:
    """Height of each object (top minus bottom of its vertices), NaN without geometry."""
    owner = np.repeat(np.repeat(flat.surface_owner, flat.surface_rings), flat.ring_len)
    height = np.full(n, np.nan)
    if not len(owner):
        return height
    z = points[flat.flat, 2]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    height[owner[starts]] = np.maximum.reduceat(z, starts) - np.minimum.reduceat(z, starts)
    return height


def _mesh(points: np.ndarray, triangles: np.ndarray) -> pv.PolyData:
    if not len(triangles):
        return pv.PolyData()
    used, inverse = np.unique(triangles, return_inverse=True)
    result: pv.PolyData = pv.PolyData.from_regular_faces(points[used], inverse.reshape(-1, 3))  # type: ignore[arg-type]  # pyvista's stub wants dtype[int], any integer array works
    return result


def _assets(objects: CityObjects, members: np.ndarray, height: np.ndarray) -> AssetTable:
    rows = members.tolist()
    attributes = [objects.attributes[i] for i in rows]
    columns = attribute_columns(attributes)
    measured = columns.get("measuredHeight")
    own_height = height[members]
    if isinstance(measured, np.ndarray):
        own_height = np.where(np.isnan(measured), own_height, measured)
    columns.update(
        parent=[objects.parents[i] for i in rows],
        children=np.asarray([objects.children[i] for i in rows], dtype=np.float64),
        height_m=own_height,
        lod=[objects.lods[i] for i in rows],
        replaced_by="",
    )
    return AssetTable.build(
        [objects.ids[i] for i in rows],
        kind=[objects.kinds[i] for i in rows],
        name=[_name(a) for a in attributes],
        address=[objects.addresses[i] for i in rows],
        attrs=columns,
    )


def _name(attributes: dict[str, Any]) -> str:
    return str(attributes.get("name") or attributes.get("identificatie") or "")


def attribute_columns(attributes: list[dict[str, Any]]) -> dict[str, Any]:
    """Scalar attributes as columns: numbers stay float64 (NaN when missing), the rest text.

    Types are checked per column with ``set(map(type, ...))`` (C speed) rather than per value.
    """
    columns: dict[str, Any] = {}
    for key in dict.fromkeys(chain.from_iterable(attributes)):
        if key in ("name", "address"):
            continue
        values = list(map(methodcaller("get", key), attributes))
        types = set(map(type, values)) - {type(None)}
        column = f"attr_{key}" if key in OWN_COLUMNS else key
        if types and types <= {int, float}:
            columns[column] = np.array(values, dtype=np.float64)  # None becomes NaN
        elif types and types <= {str, int, float, bool}:
            columns[column] = ["" if v is None else str(v) for v in values]
        elif types & {str, int, float, bool}:  # some nested values: keep the scalar ones
            columns[column] = [str(v) if isinstance(v, (str, int, float, bool)) else "" for v in values]
    return columns
