"""A sensor's recent readings as a small inline SVG, with its thresholds drawn as coloured bands.

Built on the server so the browser needs no chart library: the inspector shows the string as-is.
The bands follow the rule's direction ("above": red at the top; "below": red at the bottom).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

import numpy as np

from twin.risk.colours import LEVEL_RGB
from twin.risk.levels import CODES, COLOURS

WIDTH, HEIGHT, PAD = 320, 110, 4
LEFT = 34  # room for the value labels


def _rgb(name: str) -> str:
    r, g, b = LEVEL_RGB[CODES[name]].tolist()
    return f"rgb({r},{g},{b})"


def sparkline(
    readings: Sequence[dict], thresholds: dict | None = None, direction: str | None = None, unit: str = ""
) -> str:
    """SVG of ``readings`` (``{ts, value}``, oldest first) over the threshold bands."""
    ts = np.array([r["ts"] for r in readings], dtype=float)
    values = np.array([np.nan if r["value"] is None else r["value"] for r in readings], dtype=float)
    limits = {k: float(v) for k, v in (thresholds or {}).items() if v is not None}
    finite = values[np.isfinite(values)]
    lo = min([*finite.tolist(), *limits.values()] or [0.0])
    hi = max([*finite.tolist(), *limits.values()] or [1.0])
    span = (hi - lo) or 1.0
    lo, hi = lo - 0.08 * span, hi + 0.08 * span
    y_of = lambda v: PAD + (hi - v) / (hi - lo) * (HEIGHT - 2 * PAD)  # noqa: E731
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="recent readings">',
        f'<rect x="{LEFT}" y="0" width="{WIDTH - LEFT}" height="{HEIGHT}" fill="#1b2029"/>',
    ]
    parts += _bands(limits, direction, y_of)
    if len(finite):
        t0, t1 = float(ts.min()), float(ts.max())
        x = LEFT + PAD + (ts - t0) / ((t1 - t0) or 1.0) * (WIDTH - LEFT - 2 * PAD)
        ok = np.isfinite(values)
        path = " ".join(f"{a:.1f},{y_of(b):.1f}" for a, b in zip(x[ok], values[ok]))
        parts.append(f'<polyline points="{path}" fill="none" stroke="#ffffff" stroke-width="1.8"/>')
        parts.append(f'<circle cx="{x[ok][-1]:.1f}" cy="{y_of(values[ok][-1]):.1f}" r="3" fill="#ffffff"/>')
        parts.append(_label(4, HEIGHT - 4, _stamp(t0)))
        parts.append(_label(WIDTH - 4, HEIGHT - 4, _stamp(t1), anchor="end"))
    else:
        parts.append(_label(WIDTH / 2, HEIGHT / 2, "no readings yet", anchor="middle"))
    parts.append(_label(2, 12, f"{hi:.4g}"))
    parts.append(_label(2, HEIGHT - 16, f"{lo:.4g} {escape(unit)}"))
    parts.append("</svg>")
    return "".join(parts)


def _bands(limits: dict[str, float], direction: str | None, y_of) -> list[str]:
    """One translucent rectangle per level, from its threshold to the next one (or the chart's edge)."""
    present = [c for c in COLOURS if c in limits]
    out = []
    for i, colour in enumerate(present):
        start = limits[colour]
        end = limits[present[i + 1]] if i + 1 < len(present) else None
        if direction == "below":
            top, bottom = y_of(start), (y_of(end) if end is not None else HEIGHT)
        else:
            top, bottom = (y_of(end) if end is not None else 0.0), y_of(start)
        top, bottom = max(0.0, min(top, bottom)), min(HEIGHT, max(top, bottom))
        out.append(
            f'<rect x="{LEFT}" y="{top:.1f}" width="{WIDTH - LEFT}" height="{bottom - top:.1f}" '
            f'fill="{_rgb(colour)}" fill-opacity="0.28"><title>{colour} {start:g}</title></rect>'
        )
    return out


def _label(x: float, y: float, text: str, anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="10" fill="#b0bec5" text-anchor="{anchor}" '
        f'font-family="sans-serif">{text}</text>'
    )


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%H:%M:%S")
