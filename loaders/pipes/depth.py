"""Where a pipe lies in height: from inverts, from ground minus cover, or from an assumed cover.

The order follows what an engineer trusts most: a surveyed invert elevation; else the ground
elevation at the node minus a recorded depth of cover; else the ground minus the usual cover
of the network's kind, flagged ``depth_assumed`` so nobody digs on the strength of a guess.
``depth_*_m`` is the depth of cover (ground to pipe crown), ``invert_*_m`` the elevation of the
pipe's bottom, both per link end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: usual depth of cover (ground to crown), m, used when the data gives neither invert nor cover
DEFAULT_COVER = {
    "water": 1.2,
    "reclaimed": 1.2,
    "drainage": 2.0,
    "sewer": 2.5,
    "storm": 2.0,
    "gas": 0.9,
    "heat": 1.0,
    "power": 0.7,
    "telecom": 0.7,
    "oil_gas": 1.2,
    "industrial": 1.0,
    "unknown": 1.0,
}


@dataclass
class EndHeights:
    """Per link end (arrays of shape ``(n,)``): centre-line elevation and what it rests on."""

    centre: np.ndarray
    invert: np.ndarray
    cover: np.ndarray  #: ground to crown; NaN where the ground is unknown
    ground: np.ndarray
    assumed: np.ndarray  #: bool: neither invert nor cover came from the data
    ground_guessed: np.ndarray  #: bool: placed below a ground of 0 m for want of an elevation


def end_heights(
    diameter: np.ndarray, ground: np.ndarray, invert: np.ndarray, cover: np.ndarray, default_cover: np.ndarray
) -> EndHeights:
    """Resolve the height of one end of every link, vectorised.

    All inputs are per-link arrays in metres, NaN where unknown.  Where the ground is unknown and
    only a cover can be used, the ground is taken as 0 m (the caller warns about it).
    """
    has_invert = np.isfinite(invert)
    has_cover = np.isfinite(cover)
    assumed = ~has_invert & ~has_cover
    use_cover = np.where(has_cover, cover, default_cover)
    base_ground = np.where(np.isfinite(ground), ground, 0.0)
    crown_from_cover = base_ground - use_cover
    inv = np.where(has_invert, invert, crown_from_cover - diameter)
    centre = inv + diameter / 2
    out_cover = np.where(has_invert, ground - (inv + diameter), use_cover)
    out_ground = np.where(has_invert, ground, base_ground)
    return EndHeights(
        centre=centre,
        invert=inv,
        cover=out_cover,
        ground=out_ground,
        assumed=assumed,
        ground_guessed=~has_invert & ~np.isfinite(ground),
    )


def slope(invert_start: np.ndarray, invert_end: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Fall per metre along the link's direction (positive: flows from start to end by gravity)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(length > 0, (invert_start - invert_end) / length, np.nan)
