"""Units and georeferencing: from IFC's own records to map coordinates and a CRS.

The worker reads what the file declares (:func:`read`, plain numbers); the parent decides
how to place the geometry (:func:`resolve`), in this order of preference:

1. IFC4 ``IfcMapConversion`` to an ``IfcProjectedCRS`` (or IFC2X3 ``ePSet_MapConversion``
   with ``ePSet_ProjectedCRS``): eastings, northings, height, rotation and scale;
2. ``IfcSite.RefLatitude/RefLongitude/RefElevation``: the model origin is put at that point of
   the UTM zone it lies in, turned so that the model's true north points up;
3. none: local coordinates in metres, no CRS.

Geometry from the iterator is in metres whatever the project's length unit; map
coordinates are given in the map unit of the CRS (metres, US survey feet...), heights in metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MODES = ("auto", "map", "site", "local")


def read(model: Any) -> dict[str, Any]:
    """What the file declares about units and its place on Earth (worker side)."""
    import ifcopenshell.util.unit as uu

    unit_scale = float(uu.calculate_unit_scale(model))
    out: dict[str, Any] = {
        "length_unit": _unit_name(model),
        "unit_scale": unit_scale,
        "map": _map_conversion(model, unit_scale),
        "site": _site(model, unit_scale),
        "true_north_deg": _true_north(model),
    }
    return out


def _unit_name(model: Any) -> str:
    import ifcopenshell.util.unit as uu

    unit = uu.get_project_unit(model, "LENGTHUNIT")
    if unit is None:
        return "METRE"
    if unit.is_a("IfcSIUnit"):
        return f"{unit.Prefix or ''}{unit.Name}"
    return str(getattr(unit, "Name", "")) or unit.is_a()


def _named_unit_scale(unit: Any) -> float | None:
    """Metres per unit of an IfcSIUnit or IfcConversionBasedUnit (US survey feet...)."""
    import ifcopenshell.util.unit as uu

    if unit is None:
        return None
    if unit.is_a("IfcSIUnit"):
        return float(uu.get_prefix_multiplier(unit.Prefix)) if unit.Prefix else 1.0
    factor = getattr(unit, "ConversionFactor", None)
    if factor is None:
        return None
    base = _named_unit_scale(factor.UnitComponent) or 1.0
    return float(factor.ValueComponent.wrappedValue) * base


def _map_conversion(model: Any, unit_scale: float) -> dict[str, Any] | None:
    import ifcopenshell.util.element as ue

    if model.schema == "IFC2X3":
        projects = model.by_type("IfcProject")
        conversion = ue.get_pset(projects[0], "ePSet_MapConversion") if projects else None
        if not conversion or conversion.get("Eastings") is None:
            return None
        crs = ue.get_pset(projects[0], "ePSet_ProjectedCRS") or {}
        return {
            "method": "ePSet_MapConversion",
            "crs": crs.get("Name"),
            "map_unit_scale": unit_scale,
            "eastings": float(conversion.get("Eastings") or 0),
            "northings": float(conversion.get("Northings") or 0),
            "height": float(conversion.get("OrthogonalHeight") or 0),
            "x_axis": [float(conversion.get("XAxisAbscissa") or 0), float(conversion.get("XAxisOrdinate") or 0)],
            "scale": float(conversion.get("Scale") or 1.0),
        }
    for conversion in model.by_type("IfcMapConversion"):
        target = conversion.TargetCRS
        map_unit = _named_unit_scale(getattr(target, "MapUnit", None)) if target else None
        return {
            "method": conversion.is_a(),
            "crs": getattr(target, "Name", None),
            "map_unit_scale": map_unit or unit_scale,
            "eastings": float(conversion.Eastings or 0),
            "northings": float(conversion.Northings or 0),
            "height": float(conversion.OrthogonalHeight or 0),
            "x_axis": [float(conversion.XAxisAbscissa or 0), float(conversion.XAxisOrdinate or 0)],
            "scale": float(conversion.Scale) if conversion.Scale is not None else 1.0,
        }
    return None


def _dms(value: Any) -> float | None:
    if not value:
        return None
    parts = list(value) + [0] * (4 - len(value))
    degrees, minutes, seconds, millionths = (float(p) for p in parts[:4])
    return degrees + minutes / 60 + seconds / 3600 + millionths / 3.6e9


def _site(model: Any, unit_scale: float) -> dict[str, Any] | None:
    for site in model.by_type("IfcSite"):
        lat, lon = _dms(site.RefLatitude), _dms(site.RefLongitude)
        if lat is None or lon is None:
            continue
        return {
            "latitude": lat,
            "longitude": lon,
            "elevation": float(site.RefElevation or 0.0) * unit_scale,
            "site": site.GlobalId,
        }
    return None


def _true_north(model: Any) -> float | None:
    """Angle of true north from the model's +Y axis, degrees counter-clockwise."""
    for context in model.by_type("IfcGeometricRepresentationContext"):
        north = getattr(context, "TrueNorth", None)
        if north is not None and not context.is_a("IfcGeometricRepresentationSubContext"):
            x, y = (list(north.DirectionRatios) + [0.0, 0.0])[:2]
            return math.degrees(math.atan2(-x, y))
    return None


@dataclass
class Georeference:
    """How the parent places the model: ``map_points`` and the CRS it gives."""

    method: str
    crs: str | None
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation_deg: float = 0.0
    scale: float = 1.0
    xy_unit_scale: float = 1.0
    report: dict[str, Any] = field(default_factory=dict)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Map coordinates of model points in metres (x, y in the CRS unit, z in metres)."""
        if self.method == "local":
            return points
        angle = math.radians(self.rotation_deg)
        c, s = math.cos(angle), math.sin(angle)
        k = self.scale / self.xy_unit_scale
        out = np.empty_like(points)
        out[:, 0] = self.origin[0] + k * (c * points[:, 0] - s * points[:, 1])
        out[:, 1] = self.origin[1] + k * (s * points[:, 0] + c * points[:, 1])
        out[:, 2] = self.origin[2] + points[:, 2] * self.scale
        return out


def resolve(declared: dict[str, Any], mode: str = "auto") -> tuple[Georeference, list[str]]:
    """Pick the georeference to use; warnings say what was ignored or guessed."""
    warnings: list[str] = []
    conversion, site = declared.get("map"), declared.get("site")
    if mode in ("auto", "map") and conversion:
        return _from_map(conversion, declared), warnings
    if mode == "map":
        warnings.append("georeference = 'map' asked for, but the file has no map conversion: local coordinates")
    if mode in ("auto", "site") and site:
        return _from_site(site, declared.get("true_north_deg") or 0.0), warnings
    if mode == "site":
        warnings.append("georeference = 'site' asked for, but IfcSite has no RefLatitude/RefLongitude")
    return Georeference(
        "local", None, report={"method": "none (local coordinates)", "site": site, "map_conversion": conversion}
    ), warnings


def _from_map(conversion: dict[str, Any], declared: dict[str, Any]) -> Georeference:
    map_unit = conversion["map_unit_scale"] or 1.0
    project_unit = declared["unit_scale"]
    scale = conversion["scale"]
    # older exports put the project-to-map unit ratio into Scale; the iterator already made metres
    ratio = project_unit / map_unit
    if ratio != 1.0 and math.isclose(scale, ratio, rel_tol=1e-6):
        scale = 1.0
    a, b = conversion["x_axis"]
    if a == 0 and b == 0:
        a = 1.0
    rotation = math.degrees(math.atan2(b, a))
    origin = (conversion["eastings"], conversion["northings"], conversion["height"] * map_unit)
    report = {
        "method": conversion["method"],
        "crs": conversion["crs"],
        "eastings": origin[0],
        "northings": origin[1],
        "height_m": origin[2],
        "rotation_deg": rotation,
        "scale": scale,
        "map_unit_m": map_unit,
    }
    return Georeference(conversion["method"], conversion["crs"], origin, rotation, scale, map_unit, report)


def utm_crs(latitude: float, longitude: float) -> str:
    """The WGS 84 / UTM zone CRS of a point."""
    zone = int((longitude + 180) // 6) % 60 + 1
    return f"EPSG:{32600 + zone if latitude >= 0 else 32700 + zone}"


def _from_site(site: dict[str, Any], true_north_deg: float) -> Georeference:
    from pyproj import Transformer

    crs = utm_crs(site["latitude"], site["longitude"])
    to_utm = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    easting, northing = to_utm.transform(site["longitude"], site["latitude"])
    origin = (float(easting), float(northing), site["elevation"])
    report = {
        "method": "IfcSite RefLatitude/RefLongitude",
        "crs": crs,
        "latitude": site["latitude"],
        "longitude": site["longitude"],
        "eastings": origin[0],
        "northings": origin[1],
        "height_m": origin[2],
        "rotation_deg": -true_north_deg,
    }
    return Georeference("site", crs, origin, -true_north_deg, 1.0, 1.0, report)
