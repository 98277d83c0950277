"""Static layers of the risk database: graded risk sources and management grids (GeoJSON).

Coordinates are in the scene's CRS (world metres, like the rest of the twin).  A risk source is a
Point (with ``radius_m``) or a Polygon carrying a fixed ``level``; it gives that level to every
asset whose centre lies inside.  A grid cell is a Polygon whose level is the highest level of the
assets inside it.  Geometry tests run once at start, vectorised over asset centres.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twin.errors import InputError
from twin.risk.levels import CODES, COLOURS, LEVEL_DTYPE, NONE


@dataclass
class Feature:
    id: str
    name: str
    kind: str  # "point" or "polygon"
    coords: np.ndarray  # (1, 2) for a point, (m, 2) outer ring for a polygon
    properties: dict[str, Any]
    level: int = NONE
    category: str = ""
    radius_m: float = 0.0


def read_features(path: Path, need_level: bool) -> list[Feature]:
    """Points and polygons of a GeoJSON FeatureCollection (MultiPolygons give their first polygon)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid GeoJSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("features"), list):
        raise InputError(path, "expected a GeoJSON FeatureCollection with a features list")
    return [_feature(path, f, i, need_level) for i, f in enumerate(data["features"])]


def _feature(path: Path, f: Any, i: int, need_level: bool) -> Feature:
    where = f"feature {i}"
    geom = f.get("geometry") if isinstance(f, dict) else None
    if not isinstance(geom, dict):
        raise InputError(path, "a feature needs a geometry", where=where)
    props = f.get("properties") or {}
    gtype = geom.get("type")
    coords: Any = geom.get("coordinates")  # any shape: a malformed one fails below
    try:
        if gtype == "Point":
            kind, xy = "point", np.asarray([coords[:2]], dtype=np.float64)
        elif gtype == "Polygon":
            kind, xy = "polygon", np.asarray([c[:2] for c in coords[0]], dtype=np.float64)
        elif gtype == "MultiPolygon":
            kind, xy = "polygon", np.asarray([c[:2] for c in coords[0][0]], dtype=np.float64)
        else:
            raise InputError(path, f"geometry type {gtype!r} is not supported (Point, Polygon)", where=where)
    except (TypeError, ValueError, IndexError):
        raise InputError(path, f"malformed {gtype} coordinates", where=where) from None
    level = props.get("level", "none")
    if level not in COLOURS and (need_level or level != "none"):
        raise InputError(path, f"level must be one of {', '.join(COLOURS)}, not {level!r}", where=where)
    return Feature(
        id=str(props.get("id", f.get("id", i))),
        name=str(props.get("name", "")),
        kind=kind,
        coords=xy,
        properties=props,
        level=CODES.get(level, NONE),
        category=str(props.get("category", "")),
        radius_m=float(props.get("radius_m", 25.0)),
    )


def inside(feature: Feature, xy: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Which points lie inside a feature (a point feature: within its radius), grown by ``margin``."""
    if feature.kind == "point":
        return np.hypot(*(xy - feature.coords[0]).T) <= feature.radius_m + margin
    ring = feature.coords
    x, y = xy[:, 0], xy[:, 1]
    x0, y0 = ring[:-1, 0][:, None], ring[:-1, 1][:, None]
    x1, y1 = ring[1:, 0][:, None], ring[1:, 1][:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        crosses = ((y0 > y) != (y1 > y)) & (x < (x1 - x0) * (y - y0) / (y1 - y0) + x0)
    hit = crosses.sum(axis=0) % 2 == 1
    if margin > 0:
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((x - x0) * dx + (y - y0) * dy) / np.maximum(dx * dx + dy * dy, 1e-12), 0, 1)
        hit |= (np.hypot(x0 + t * dx - x, y0 + t * dy - y) <= margin).any(axis=0)
    return hit


class RiskSources:
    """Graded static sources and the level each gives the assets it covers."""

    def __init__(self, features: list[Feature], centres: np.ndarray) -> None:
        self.features = features
        self._xy = centres[:, :2]
        n = len(centres)
        self.asset_level = np.zeros(n, LEVEL_DTYPE)
        self.asset_source = np.full(n, -1, np.int64)
        for i, f in enumerate(features):
            hit = inside(f, self._xy) & (f.level > self.asset_level)
            self.asset_level[hit], self.asset_source[hit] = f.level, i

    def near(self, category: str, within_m: float) -> np.ndarray:
        """Assets within ``within_m`` of any source of a category (for multivariable rules)."""
        out = np.zeros(len(self._xy), bool)
        for f in self.features:
            if f.category == category or f.id == category:
                out |= inside(f, self._xy, within_m)
        return out


class Grids:
    """Management grid cells; a cell's level is the highest level of the assets inside."""

    def __init__(self, features: list[Feature], centres: np.ndarray) -> None:
        self.features = features
        self.asset_grid = np.full(len(centres), -1, np.int64)
        for i, f in enumerate(features):
            self.asset_grid[(self.asset_grid < 0) & inside(f, centres[:, :2])] = i

    def levels(self, asset_levels: np.ndarray) -> np.ndarray:
        out = np.zeros(len(self.features), LEVEL_DTYPE)
        has = self.asset_grid >= 0
        np.maximum.at(out, self.asset_grid[has], asset_levels[has])
        return out
