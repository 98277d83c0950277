"""Colours for point clouds: RGB, ASPRS classes, elevation and intensity, and class filters.

Pure numpy, so the app can recolour a cloud by writing one uint8 ``(n, 3)`` array in place (a
write costs about 1 ms per million points) and hide classes with a boolean mask, without
rebuilding actors.  Class names and colours follow the ASPRS LAS 1.4 specification (R15).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

#: ASPRS standard point classes (LAS 1.4 R15, table 17); 23-63 reserved, 64-255 user definable
ASPRS_CLASSES: dict[int, str] = {
    0: "Created, never classified",
    1: "Unclassified",
    2: "Ground",
    3: "Low vegetation",
    4: "Medium vegetation",
    5: "High vegetation",
    6: "Building",
    7: "Low point (noise)",
    8: "Model key-point",
    9: "Water",
    10: "Rail",
    11: "Road surface",
    12: "Overlap",
    13: "Wire - guard (shield)",
    14: "Wire - conductor (phase)",
    15: "Transmission tower",
    16: "Wire-structure connector",
    17: "Bridge deck",
    18: "High noise",
    19: "Overhead structure",
    20: "Ignored ground",
    21: "Snow",
    22: "Temporal exclusion",
}

#: sober class colours that keep the risk colours (red, orange, yellow, blue) free for risk
ASPRS_COLORS: dict[int, tuple[int, int, int]] = {
    0: (180, 180, 180),
    1: (160, 160, 160),
    2: (150, 112, 72),
    3: (170, 214, 120),
    4: (96, 170, 90),
    5: (40, 110, 55),
    6: (222, 204, 168),
    7: (200, 60, 200),
    8: (120, 120, 120),
    9: (100, 170, 190),
    10: (110, 90, 80),
    11: (85, 85, 85),
    12: (200, 200, 140),
    13: (140, 140, 160),
    14: (170, 150, 190),
    15: (120, 100, 140),
    16: (160, 130, 170),
    17: (170, 150, 130),
    18: (220, 110, 220),
    19: (140, 130, 110),
    20: (130, 100, 70),
    21: (240, 245, 250),
    22: (190, 190, 210),
}
#: colour of classes the table does not name (reserved and user-defined codes)
OTHER_CLASS_COLOR = (200, 200, 200)
#: the vegetation classes, the usual thing to hide to see the ground and the buildings
VEGETATION = (3, 4, 5)
#: colour-blind-safe elevation ramp (viridis control points)
ELEVATION_RAMP = np.array(
    [
        (68, 1, 84),
        (72, 40, 120),
        (62, 74, 137),
        (49, 104, 142),
        (38, 130, 142),
        (31, 158, 137),
        (53, 183, 121),
        (109, 205, 89),
        (180, 222, 44),
        (253, 231, 37),
    ],
    dtype=np.float64,
)
MODES = ("rgb", "classification", "elevation", "intensity")


def class_name(code: int | np.integer[Any]) -> str:
    """The ASPRS name of a class code (``"Class 64"`` for codes the standard leaves open)."""
    return ASPRS_CLASSES.get(int(code), f"Reserved class {code}" if code < 64 else f"Class {code}")


def class_lut() -> np.ndarray:
    """The 256-entry colour table of all class codes, uint8 ``(256, 3)``."""
    lut = np.tile(np.array(OTHER_CLASS_COLOR, dtype=np.uint8), (256, 1))
    for code, rgb in ASPRS_COLORS.items():
        lut[code] = rgb
    return lut


def colors(
    arrays: Mapping[str, np.ndarray],
    mode: str,
    value_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """Colours of every point for a display mode, uint8 ``(n, 3)``.

    Parameters
    ----------
    arrays
        The cloud's point arrays (e.g. ``dataset.point_data``), plus ``"points"`` ``(n, 3)`` or
        ``"z"`` for the elevation mode.
    mode
        ``"rgb"`` (falls back to elevation when the cloud has no colour), ``"classification"``,
        ``"elevation"`` or ``"intensity"``.
    value_range
        Fixed ``(low, high)`` for the elevation and intensity ramps; by default the 2nd and 98th
        percentiles, so that a few outliers (birds, noise) do not flatten the ramp.
    """
    if mode not in MODES:
        raise ValueError(f"unknown colour mode {mode!r}; known: {', '.join(MODES)}")
    if mode == "rgb" and "rgb" in arrays:
        return np.asarray(arrays["rgb"], dtype=np.uint8)
    if mode == "classification":
        return class_lut()[np.asarray(arrays["classification"], dtype=np.uint8)]
    if mode == "intensity":
        grey = _normalised(np.asarray(arrays["intensity"]), value_range)
        return np.repeat((grey * 255).astype(np.uint8)[:, None], 3, axis=1)
    return ramp(_normalised(_elevation(arrays), value_range))


def ramp(values: np.ndarray, table: np.ndarray = ELEVATION_RAMP) -> np.ndarray:
    """Map values in [0, 1] through a colour ramp of control points, uint8 ``(n, 3)``."""
    position = np.clip(values, 0.0, 1.0) * (len(table) - 1)
    low = np.minimum(position.astype(np.intp), len(table) - 2)
    t = (position - low)[:, None]
    rgb: np.ndarray = (table[low] * (1 - t) + table[low + 1] * t + 0.5).astype(np.uint8)
    return rgb


def class_mask(classification: np.ndarray, hidden_classes: Iterable[int]) -> np.ndarray:
    """Boolean mask of the points to show: False where the point's class is hidden."""
    shown = np.ones(256, dtype=bool)
    shown[np.asarray(list(hidden_classes), dtype=np.intp)] = False
    return shown[np.asarray(classification, dtype=np.uint8)]


def _elevation(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    if "z" in arrays:
        return np.asarray(arrays["z"], dtype=np.float64)
    return np.asarray(arrays["points"])[:, 2].astype(np.float64)


def _normalised(values: np.ndarray, value_range: tuple[float, float] | None) -> np.ndarray:
    if len(values) == 0:
        return np.zeros(0)
    low, high = value_range if value_range is not None else np.percentile(values, [2, 98])
    span = float(high) - float(low)
    return (values.astype(np.float64) - low) / (span if span > 0 else 1.0)
