"""The tileset's local frame: east-north-up at the scene origin, and glTF's y-up inside a GLB.

3D Tiles places content in Earth-centred coordinates (EPSG:4978); the root tile's ``transform``
takes the local ENU frame at the scene origin there.  Scene coordinates (a projected CRS) are
not ENU: grid convergence and the Earth's curvature differ by metres a few kilometres out, so
every vertex goes scene CRS -> ECEF (pyproj) -> ENU, exactly, rather than being shifted only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

ECEF = "EPSG:4978"
GEODETIC = "EPSG:4979"


@lru_cache(maxsize=16)
def _transformer(source: str, target: str):  # type: ignore[no-untyped-def]  # pyproj ships no types
    """Scene CRS (promoted to 3D: heights taken as ellipsoidal) to ``target``; made once per
    process (building one costs about a second of PROJ database look-ups)."""
    from pyproj import CRS, Transformer

    return Transformer.from_crs(CRS.from_user_input(source).to_3d(), CRS.from_user_input(target), always_xy=True)


@dataclass(frozen=True)
class LocalFrame:
    """ENU at ``origin`` (scene CRS coordinates) of the scene CRS ``crs``."""

    crs: str
    origin: tuple[float, float, float]

    @cached_property
    def _to_ecef(self):  # type: ignore[no-untyped-def]  # pyproj ships no types
        return _transformer(self.crs, ECEF)

    @cached_property
    def _origin_ecef(self) -> np.ndarray:
        origin: np.ndarray = self.ecef(np.asarray([self.origin], dtype=np.float64))[0]
        return origin

    @cached_property
    def rotation(self) -> np.ndarray:
        """Rows east, north, up of the ENU frame at the origin, in ECEF."""
        lon, lat, _ = _transformer(self.crs, GEODETIC).transform(*self.origin)
        lon, lat = np.radians(lon), np.radians(lat)
        east = [-np.sin(lon), np.cos(lon), 0.0]
        north = [-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)]
        up = [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)]
        return np.array([east, north, up])

    def ecef(self, world: np.ndarray) -> np.ndarray:
        """Scene-CRS points (n, 3) in ECEF metres."""
        x, y, z = self._to_ecef.transform(world[:, 0], world[:, 1], world[:, 2])
        out: np.ndarray = np.column_stack([x, y, z])
        return out

    def enu(self, world: np.ndarray) -> np.ndarray:
        """Scene-CRS points (n, 3), float64, in the ENU frame at the origin (metres, z up)."""
        if not len(world):
            return np.empty((0, 3))
        out: np.ndarray = (self.ecef(world) - self._origin_ecef) @ self.rotation.T
        return out

    def root_transform(self) -> list[float]:
        """The ENU -> ECEF matrix at the origin, column-major 4x4 as 3D Tiles wants it."""
        matrix = np.eye(4)
        matrix[:3, :3] = self.rotation.T
        matrix[:3, 3] = self._origin_ecef
        return [float(v) for v in matrix.T.ravel()]


def enu_to_gltf(enu: np.ndarray) -> np.ndarray:
    """ENU (z up) to glTF's y-up axes, float32: ``(x, y, z)_gltf = (e, u, -n)``."""
    out = np.empty(enu.shape, dtype=np.float32)
    out[:, 0], out[:, 1], out[:, 2] = enu[:, 0], enu[:, 2], -enu[:, 1]
    return out
