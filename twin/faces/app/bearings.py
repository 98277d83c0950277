"""Where the camera looks and how big things are: the north arrow, the scale bar, the orientation
axes and the coordinates under the mouse, as plain numbers the page draws.

Scene coordinates are the scene CRS shifted by the scene origin, so +y is grid north and z is up.
The math lives here, once, for both rendering modes: a browser rendering server-side gets the
server's camera, one rendering with vtk.js sends its own (:mod:`twin.faces.app.bearings_actions`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from twin.errors import TwinError
from twin.geo import reproject

Vector = Sequence[float] | np.ndarray
#: the lengths a scale bar shows: 1, 2 and 5 times a power of ten metres
ROUND_STEPS = (1.0, 2.0, 5.0)
#: the longest a scale bar may be, in CSS pixels
SCALE_BAR_PX = 120.0
WGS84 = "EPSG:4326"


@dataclass(frozen=True)
class Basis:
    """The camera's screen axes in scene coordinates: ``right``, ``up`` and ``forward`` (unit vectors)."""

    right: np.ndarray
    up: np.ndarray
    forward: np.ndarray


def basis(position: Vector, focal_point: Vector, view_up: Vector) -> Basis:
    """The screen's right, up and forward directions of a camera (view-up made square to the direction)."""
    forward = _unit(np.subtract(focal_point, position, dtype=float))
    right = np.cross(forward, np.asarray(view_up, dtype=float))
    if np.linalg.norm(right) < 1e-12:  # view-up along the direction: any square one will do
        right = np.cross(forward, [0.0, 1.0, 0.0] if abs(forward[2]) > 0.9 else [0.0, 0.0, 1.0])
    right = _unit(right)
    return Basis(right=right, up=np.cross(right, forward), forward=forward)


def heading(position: Vector, focal_point: Vector, view_up: Vector) -> float:
    """The compass bearing (degrees clockwise from grid north, 0..360) the top of the screen faces.

    Taken on the ground plane: the viewing direction projected on it, plus the screen's up
    projected on it (which is all there is when looking straight down, and points the same way
    as the direction for any camera that looks down or up without roll).
    """
    b = basis(position, focal_point, view_up)
    ground = b.forward[:2] - math.copysign(1.0, b.forward[2] or -1.0) * b.up[:2]
    if np.linalg.norm(ground) < 1e-12:
        return 0.0
    return math.degrees(math.atan2(ground[0], ground[1])) % 360.0


def north_angle(position: Vector, focal_point: Vector, view_up: Vector) -> float:
    """How far (degrees clockwise, 0..360) the north arrow turns on screen: 0 when north is up."""
    return round((-heading(position, focal_point, view_up)) % 360.0, 6) % 360.0  # a hair under 360 is 0


def screen_axes(position: Vector, focal_point: Vector, view_up: Vector) -> dict[str, list[float]]:
    """East (+x), north (+y) and up (+z) as seen on screen: (right, up) components, for the orientation axes."""
    b = basis(position, focal_point, view_up)
    axes = {"east": (1.0, 0.0, 0.0), "north": (0.0, 1.0, 0.0), "up": (0.0, 0.0, 1.0)}
    return {name: [round(float(b.right @ v), 4), round(float(b.up @ v), 4)] for name, v in axes.items()}


def metres_per_pixel(
    distance: float, view_angle: float, height_px: float, parallel_scale: float | None = None
) -> float:
    """Scene metres one CSS pixel spans at the focal point: the view's height over its pixels.

    ``view_angle`` is the vertical field of view in degrees; ``parallel_scale`` (half the view's
    height in metres) stands in for it under a parallel projection.
    """
    half = parallel_scale if parallel_scale else distance * math.tan(math.radians(view_angle) / 2)
    return 2.0 * half / max(height_px, 1.0)


def round_length(metres: float) -> float:
    """The largest of 1, 2 or 5 times a power of ten that is not longer than ``metres``."""
    if not math.isfinite(metres) or metres <= 0:
        raise TwinError(f"a scale bar needs a positive length, not {metres!r}")
    power = 10.0 ** math.floor(math.log10(metres))
    steps = [step * power for step in (*ROUND_STEPS, 10.0) if step * power <= metres * (1 + 1e-9)]
    return float(steps[-1])


def length_label(metres: float) -> str:
    """A round length as people read it: ``500 m``, ``2 km``, ``0.5 m`` (units stay in SI for every language)."""
    if metres >= 1000:
        return f"{metres / 1000:g} km"
    if metres >= 1:
        return f"{metres:g} m"
    return f"{metres * 100:g} cm"


def scale_bar(metres_per_px: float, longest_px: float = SCALE_BAR_PX) -> dict:
    """The scale bar for a view: a round length, how many pixels it takes, and its label."""
    metres = round_length(metres_per_px * longest_px)
    return {"metres": metres, "pixels": round(metres / metres_per_px, 1), "label": length_label(metres)}


def north_up(position: Vector, focal_point: Vector, view_up: Vector) -> tuple[list[float], list[float]]:
    """The camera turned about the vertical through its focal point until north is up: (position, view-up)."""
    turn = math.radians(heading(position, focal_point, view_up))  # the camera turns back by its heading
    c, s = math.cos(turn), math.sin(turn)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])  # anticlockwise seen from above
    focal = np.asarray(focal_point, dtype=float)
    moved = focal + rotation @ (np.asarray(position, dtype=float) - focal)
    return moved.tolist(), (rotation @ np.asarray(view_up, dtype=float)).tolist()


def lon_lat(crs: str | None, world: Vector) -> tuple[float, float] | None:
    """Longitude and latitude (WGS 84, degrees) of a point in the scene CRS; ``None`` without a known CRS."""
    if not crs:
        return None
    try:
        lon, lat, _z = reproject(np.asarray([world], dtype=np.float64), crs, WGS84)[0]
    except Exception:  # noqa: BLE001 - an engineering CRS with no datum simply has no lat/lon
        return None
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return None
    return float(lon), float(lat)


def view_bearings(camera, height_px: float) -> dict:
    """Everything the page's bearings show for one camera (a VTK camera) and a view ``height_px`` high."""
    position, focal, up = camera.GetPosition(), camera.GetFocalPoint(), camera.GetViewUp()
    distance = float(np.linalg.norm(np.subtract(position, focal)))
    parallel = camera.GetParallelScale() if camera.GetParallelProjection() else None
    mpp = metres_per_pixel(distance, camera.GetViewAngle(), height_px, parallel)
    return {
        "north": round(north_angle(position, focal, up), 2),
        "axes": screen_axes(position, focal, up),
        "scale": scale_bar(mpp) if mpp > 0 and math.isfinite(mpp) else None,
    }


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    if norm == 0:
        raise TwinError("the camera's position and focal point are the same point")
    return np.asarray(vector, dtype=float) / norm
