"""Level codes to RGB: the four-colour table of the guide, written into a colour array in one go.

``level_colors`` is what the view calls on every change; it is a single fancy-index plus a
masked copy, so recolouring a million assets costs a few milliseconds.
"""

from __future__ import annotations

import numpy as np

from twin.risk.levels import BLUE, NODATA, NONE, ORANGE, RED, YELLOW

#: RGB per level code; the row for "none" is unused (the layer's own colour shows instead).
LEVEL_RGB = np.zeros((6, 3), dtype=np.uint8)
LEVEL_RGB[RED] = (230, 0, 0)
LEVEL_RGB[ORANGE] = (255, 140, 0)
LEVEL_RGB[YELLOW] = (255, 215, 0)
LEVEL_RGB[BLUE] = (30, 110, 255)
LEVEL_RGB[NODATA] = (150, 150, 150)

#: Short labels to pair with the colours (for colour-blind viewers and legends).
LEVEL_LABELS = {
    RED: "I red",
    ORANGE: "II orange",
    YELLOW: "III yellow",
    BLUE: "IV blue",
    NODATA: "no data",
    NONE: "no risk",
}


def level_colors(levels: np.ndarray, base_rgb: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Colour per asset: the level's colour, or ``base_rgb`` where the level is none.

    Parameters
    ----------
    levels
        int8 level codes, shape ``(n,)``.
    base_rgb
        The layer's own colour, shape ``(3,)`` or ``(n, 3)`` (uint8 or 0-255 numbers).
    out
        Optional ``(n, 3)`` uint8 array to write into, so the view can update its colour
        array in place without allocating.
    """
    levels = np.asarray(levels)
    base = np.asarray(base_rgb)
    if base.dtype != np.uint8:
        base = np.clip(np.rint(base), 0, 255).astype(np.uint8)
    if out is None:
        out = np.empty((len(levels), 3), dtype=np.uint8)
    np.take(LEVEL_RGB, levels, axis=0, out=out)
    plain = levels == NONE
    if base.ndim == 1:
        out[plain] = base
    else:
        np.copyto(out, base, where=plain[:, None])
    return out
