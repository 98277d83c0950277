"""Scene origin, CRS and placement: how world coordinates become renderer coordinates.

Loaders give float64 world coordinates (6-7 digit projected eastings and northings).  The
twin subtracts one float64 origin so the renderer gets small float32 values that do not
jitter; the origin and the CRS are kept so every coordinate can be reported in the world.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pyproj import CRS, Transformer


@dataclass(frozen=True)
class Placement:
    """Places data without georeferencing: scale, then rotate about z, then offset."""

    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation_deg: float = 0.0
    scale: float = 1.0

    @property
    def is_identity(self) -> bool:
        return self.offset == (0.0, 0.0, 0.0) and self.rotation_deg == 0.0 and self.scale == 1.0

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Placed copy of ``points`` (n, 3), float64."""
        out = np.asarray(points, dtype=np.float64) * self.scale
        if self.rotation_deg:
            a = np.radians(self.rotation_deg)
            c, s = np.cos(a), np.sin(a)
            x, y = out[:, 0].copy(), out[:, 1].copy()
            out[:, 0], out[:, 1] = c * x - s * y, s * x + c * y
        return out + np.asarray(self.offset, dtype=np.float64)


#: world coordinates (metres or degrees) beyond this are a broken file, not a place on Earth
MAX_COORDINATE = 1e9


class UnknownCRS(ValueError):
    """A CRS text pyproj cannot read (an unknown EPSG code, a malformed WKT or PROJ string)."""


def normalise_crs(crs: str | None) -> str | None:
    """A CRS as a short authority string (``EPSG:4549``) where pyproj knows one, else its name.

    The name is kept only when it reads back as the same CRS; otherwise (a PROJ string, a custom
    WKT, whose name is often just "unknown") the text itself is kept, so that it can be parsed
    again for reprojection.  Raises :class:`UnknownCRS` for a text pyproj cannot read.
    """
    if not crs:
        return None
    text = str(crs)
    parsed = _parse_crs(text)
    authority = parsed.to_authority(min_confidence=70)
    if authority:
        return f"{authority[0]}:{authority[1]}"
    try:
        return parsed.name if parsed.name != "unknown" and _parse_crs(parsed.name) == parsed else text
    except UnknownCRS:
        return text


@lru_cache(maxsize=64)
def _parse_crs(text: str) -> CRS:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        reason = str(exc).rsplit("proj_create: ", 1)[-1].rstrip(")")[:120]
        raise UnknownCRS(f"unknown CRS {text[:80]!r} ({reason})") from None


def same_crs(a: str | None, b: str | None) -> bool:
    if a is None or b is None or a == b:
        return True
    return bool(_parse_crs(a) == _parse_crs(b))


@lru_cache(maxsize=64)
def _transformer(source: str, target: str) -> Transformer:
    from pyproj import Transformer

    return Transformer.from_crs(_parse_crs(source), _parse_crs(target), always_xy=True)


def reproject(points: np.ndarray, source: str, target: str) -> np.ndarray:
    """Points (n, 3) from one CRS to another (heights pass through where no vertical datum)."""
    x, y, z = _transformer(source, target).transform(points[:, 0], points[:, 1], points[:, 2])
    return np.column_stack([x, y, z]).astype(np.float64)


def choose_origin(bounds: np.ndarray) -> np.ndarray:
    """An origin near the centre of ``[xmin, xmax, ymin, ymax, zmin, zmax]``, rounded to whole metres.

    Rounding keeps the origin readable in reports; the float32 error near it stays sub-millimetre.
    """
    b = np.asarray(bounds, dtype=np.float64)
    if not np.all(np.isfinite(b)):
        return np.zeros(3)
    return np.round([(b[0] + b[1]) / 2, (b[2] + b[3]) / 2, b[4]])
