"""The four-colour risk scale as small integer codes, shared by the engine, the API and the view.

Codes are ordered so that ``np.maximum`` combines them: any real risk level beats "no data",
and "no data" beats "none" (a silent sensor must never read as a quiet green).  The view
maps the codes to colours with :func:`twin.risk.colours.level_colors`.
"""

from __future__ import annotations

import numpy as np

NONE, NODATA, BLUE, YELLOW, ORANGE, RED = 0, 1, 2, 3, 4, 5

#: Level names by code, as the API spells them.
NAMES: tuple[str, ...] = ("none", "nodata", "blue", "yellow", "orange", "red")
#: The four colours in rising order of severity (threshold keys in the rules file).
COLOURS: tuple[str, ...] = ("blue", "yellow", "orange", "red")
CODES: dict[str, int] = {name: code for code, name in enumerate(NAMES)}

LEVEL_DTYPE = np.int8


def lower(levels: np.ndarray, steps: int) -> np.ndarray:
    """Levels ``steps`` colours lower (red -> orange for one step); below blue becomes none.

    "No data" and "none" are not risks and never propagate, so they map to none.
    """
    levels = np.asarray(levels, dtype=np.int16)
    out = levels - steps
    return np.where((levels >= BLUE) & (out >= BLUE), out, NONE).astype(LEVEL_DTYPE)


def highest_crossed(crossed: np.ndarray) -> np.ndarray:
    """Level code of the highest crossed threshold per row of ``crossed`` (n, 4: blue, yellow,
    orange, red), NONE where none is crossed."""
    top = 3 - np.argmax(crossed[:, ::-1], axis=1)
    return np.where(crossed.any(axis=1), BLUE + top, NONE)
