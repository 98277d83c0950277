"""Colour assets by an attribute (height, construction year, function) with a legend.

Pure numpy: :func:`color_by` gives one RGB per asset and the legend entries; the view writes
``rgb[layer.asset_index]`` as a cell array of a layer (:func:`layer_rgb`).  Numbers are
classed (quantiles by default, or equal intervals, or given breaks) on viridis, which stays
readable for colour-blind viewers and does not mimic the red/orange/yellow/blue risk levels;
text is coloured by category, the rarest folded into "other".  Missing values are grey.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from twin.assets import AssetTable

#: viridis, sampled at 6 stops
SEQUENTIAL = np.array(
    [[68, 1, 84], [65, 68, 135], [42, 120, 142], [34, 168, 132], [122, 209, 81], [253, 231, 37]], dtype=np.float64
)
#: Okabe-Ito and Tableau-like colours for categories, without a pure risk red/orange/yellow/blue
CATEGORICAL = np.array(
    [
        [0, 158, 115],
        [204, 121, 167],
        [86, 180, 233],
        [213, 94, 0],
        [117, 112, 179],
        [166, 118, 29],
        [102, 166, 30],
        [231, 41, 138],
        [27, 158, 119],
        [140, 86, 75],
    ],
    dtype=np.uint8,
)
#: semantic surfaces of city models: roofs darker and warmer than walls, ground and water apart
SURFACE_COLORS = {
    "RoofSurface": (150, 96, 78),
    "WallSurface": (222, 216, 204),
    "GroundSurface": (120, 120, 110),
    "ClosureSurface": (190, 190, 190),
    "OuterCeilingSurface": (200, 190, 170),
    "OuterFloorSurface": (170, 160, 140),
    "WaterSurface": (127, 178, 217),
    "TrafficArea": (95, 95, 95),
    "AuxiliaryTrafficArea": (140, 140, 130),
}
MISSING = (200, 200, 200)
OTHER = (120, 120, 120)


@dataclass
class LegendEntry:
    """One line of a legend: a label, its colour and how many assets it covers."""

    label: str
    rgb: tuple[int, int, int]
    count: int
    low: float | None = None
    high: float | None = None

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


@dataclass
class Coloring:
    """RGB per asset (uint8, ``(n, 3)``) and the legend that explains it."""

    column: str
    rgb: np.ndarray
    legend: list[LegendEntry]


def color_by(
    assets: AssetTable,
    column: str,
    *,
    classes: int = 5,
    method: Literal["quantile", "equal"] = "quantile",
    breaks: Sequence[float] | None = None,
    rows: np.ndarray | None = None,
) -> Coloring:
    """Colour the assets (or only ``rows`` of them, for the breaks and legend) by ``column``."""
    values = assets[column]
    chosen = np.arange(len(values)) if rows is None else np.asarray(rows)
    if values.dtype.kind in "fiu":
        rgb, legend = numeric_colors(
            np.asarray(values, dtype=np.float64), classes=classes, method=method, breaks=breaks, rows=chosen
        )
    else:
        rgb, legend = categorical_colors(np.asarray(values).astype(object), rows=chosen)
    return Coloring(column, rgb, legend)


def numeric_colors(
    values: np.ndarray,
    *,
    classes: int = 5,
    method: str = "quantile",
    breaks: Sequence[float] | None = None,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, list[LegendEntry]]:
    """Class numbers into ``classes`` bins on the sequential ramp; NaN is grey "no value"."""
    rows = np.arange(len(values)) if rows is None else rows
    rgb = np.tile(np.asarray(MISSING, dtype=np.uint8), (len(values), 1))
    valid = ~np.isnan(values)
    sample = values[rows][valid[rows]]
    legend: list[LegendEntry] = []
    if len(sample):
        edges = _edges(sample, classes, method, breaks)
        n = len(edges) - 1
        colours = _ramp(n)
        bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n - 1)
        rgb[valid] = colours[bins[valid]]
        counts = np.bincount(bins[rows][valid[rows]], minlength=n)
        legend = [
            LegendEntry(
                f"{_fmt(edges[i])} – {_fmt(edges[i + 1])}",
                _rgb(colours[i]),
                int(counts[i]),
                float(edges[i]),
                float(edges[i + 1]),
            )
            for i in range(n)
        ]
    missing = int((~valid[rows]).sum())
    if missing:
        legend.append(LegendEntry("no value", MISSING, missing))
    return rgb, legend


def _edges(sample: np.ndarray, classes: int, method: str, breaks: Sequence[float] | None) -> np.ndarray:
    low, high = float(sample.min()), float(sample.max())
    if breaks is not None:
        inner = [b for b in sorted(float(b) for b in breaks) if low < b < high]
        return np.array([low, *inner, high])
    if high == low:
        return np.array([low, high])
    if method == "equal":
        return np.linspace(low, high, classes + 1)
    return np.unique(np.quantile(sample, np.linspace(0, 1, classes + 1)))


def _ramp(n: int) -> np.ndarray:
    """``n`` colours evenly along :data:`SEQUENTIAL`."""
    t = np.linspace(0, len(SEQUENTIAL) - 1, max(n, 1))
    i = np.minimum(t.astype(np.int64), len(SEQUENTIAL) - 2)
    f = (t - i)[:, None]
    colours: np.ndarray = np.rint(SEQUENTIAL[i] * (1 - f) + SEQUENTIAL[i + 1] * f).astype(np.uint8)
    return colours


def _rgb(colour: np.ndarray) -> tuple[int, int, int]:
    """One uint8 colour row as the legend's plain-int triple."""
    red, green, blue = (int(c) for c in colour[:3])
    return red, green, blue


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.1f}"


def categorical_colors(
    values: np.ndarray, *, max_categories: int = len(CATEGORICAL), rows: np.ndarray | None = None
) -> tuple[np.ndarray, list[LegendEntry]]:
    """One colour per category, most frequent first; the rest "other", empty text grey."""
    rows = np.arange(len(values)) if rows is None else rows
    values = np.asarray(values).astype(object)  # StringDType comparisons are unreliable in numpy 2.4
    rgb = np.tile(np.asarray(MISSING, dtype=np.uint8), (len(values), 1))
    names, inverse = np.unique(values, return_inverse=True)
    counts = np.bincount(inverse[rows], minlength=len(names))
    order = [i for i in np.argsort(-counts, kind="stable") if names[i] != "" and counts[i] > 0]
    shown, folded = order[:max_categories], order[max_categories:]
    lookup = np.full((len(names), 3), MISSING, dtype=np.uint8)
    legend = []
    for k, i in enumerate(shown):
        lookup[i] = CATEGORICAL[k % len(CATEGORICAL)]
        legend.append(LegendEntry(str(names[i]), _rgb(lookup[i]), int(counts[i])))
    if folded:
        lookup[folded] = OTHER
        legend.append(LegendEntry("other", OTHER, int(counts[folded].sum())))
    empty = np.flatnonzero(names == "")
    if len(empty) and counts[empty[0]]:
        legend.append(LegendEntry("no value", MISSING, int(counts[empty[0]])))
    rgb[:] = lookup[inverse]
    return rgb, legend


def surface_colors(codes: np.ndarray, surface_types: Sequence[str]) -> tuple[np.ndarray, list[LegendEntry]]:
    """RGB per cell from a city layer's ``surface`` codes (names in ``details["surface_types"]``)."""
    lookup = np.array([SURFACE_COLORS.get(name, MISSING) for name in surface_types] or [MISSING], dtype=np.uint8)
    codes = np.clip(np.asarray(codes, dtype=np.int64), 0, len(lookup) - 1)
    counts = np.bincount(codes, minlength=len(lookup))
    legend = [
        LegendEntry(name or "unclassified", _rgb(lookup[i]), int(counts[i]))
        for i, name in enumerate(surface_types)
        if counts[i]
    ]
    return lookup[codes], legend


def layer_rgb(coloring: Coloring, asset_index: np.ndarray) -> np.ndarray:
    """Per-cell (or per-point) RGB of a layer whose ``asset_index`` indexes the same table."""
    rgb: np.ndarray = coloring.rgb[np.asarray(asset_index)]
    return rgb
