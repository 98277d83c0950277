"""A situation-report picture: the view's screenshot with the risk legend, a timestamp and the alerts.

Composed with PIL on the server from the view's own PNG, so the browser only downloads a file.
Shared by the app's snapshot button and ``twin render --risk``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from twin.errors import TwinError
from twin.risk.colours import LEVEL_LABELS, LEVEL_RGB
from twin.risk.interface import RiskView
from twin.risk.levels import BLUE, CODES, NODATA, ORANGE, RED, YELLOW

PANEL_W = 380
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
BACKGROUND = (18, 22, 29)
TEXT = (230, 235, 240)
MUTED = (150, 160, 175)
LEGEND = (RED, ORANGE, YELLOW, BLUE, NODATA)


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        return ImageFont.load_default(size)


def compose(
    view_png: bytes,
    title: str,
    counts: dict[str, int],
    alerts: Sequence[dict],
    when: float | None = None,
    note: str = "",
) -> bytes:
    """PNG bytes: the view on the left, a panel on the right (title, time, legend with counts, alerts).

    ``counts`` maps level names (``red``, ``orange``, ...) to asset counts; ``alerts`` are rows
    with ``level``, ``name`` or ``asset``, ``reason`` and ``state``.
    """
    view = Image.open(io.BytesIO(view_png)).convert("RGB")
    out = Image.new("RGB", (view.width + PANEL_W, view.height), BACKGROUND)
    out.paste(view, (0, 0))
    draw = ImageDraw.Draw(out)
    x, y = view.width + 20, 18
    draw.text((x, y), title, font=_font(22, True), fill=TEXT)
    y += 32
    stamp = datetime.fromtimestamp(when, tz=UTC) if when else datetime.now(UTC)
    draw.text((x, y), stamp.strftime("%Y-%m-%d %H:%M:%S UTC"), font=_font(16), fill=MUTED)
    y += 26
    if note:
        draw.text((x, y), note, font=_font(15, True), fill=(255, 200, 80))
        y += 24
    y += 8
    for code in LEGEND:
        name = ("red", "orange", "yellow", "blue", "nodata")[LEGEND.index(code)]
        draw.rectangle((x, y, x + 26, y + 22), fill=tuple(LEVEL_RGB[code].tolist()), outline=TEXT)
        draw.text((x + 36, y + 1), f"{LEVEL_LABELS[code]}", font=_font(17), fill=TEXT)
        draw.text((x + PANEL_W - 60, y + 1), str(counts.get(name, 0)), font=_font(17, True), fill=TEXT, anchor="ra")
        y += 30
    y += 12
    active = [a for a in alerts if a.get("state") != "resolved"]
    draw.text((x, y), f"Active alerts: {len(active)}", font=_font(18, True), fill=TEXT)
    y += 30
    for alert in active:
        if y > view.height - 50:
            draw.text((x, y), f"… and {len(active) - active.index(alert)} more", font=_font(14), fill=MUTED)
            break
        code = CODES.get(str(alert.get("level")), NODATA)
        draw.rectangle((x, y + 2, x + 10, y + 36), fill=tuple(LEVEL_RGB[code].tolist()))
        head = f"{str(alert.get('level', '')).upper()}  {alert.get('name') or alert.get('asset', '')}"
        draw.text((x + 18, y), head, font=_font(15, True), fill=TEXT)
        draw.text((x + 18, y + 19), _clip(str(alert.get("reason", "")), 42), font=_font(13), fill=MUTED)
        y += 46
    buffer = io.BytesIO()
    out.save(buffer, format="PNG")
    return buffer.getvalue()


def render_risk(
    twin,
    service: RiskView,
    out: str,
    size: tuple[int, int] = (1280, 800),
    view: str = "iso",
    bookmark: str | None = None,
) -> None:
    """``twin render --risk``: the scene in risk colours with legend, time and alerts, as a PNG file."""
    from twin.faces.app.risk_paint import RiskPaint, alert_rows, show_risk
    from twin.faces.rendering import framed_view

    scene = framed_view(twin, size, view, bookmark)
    levels = service.levels()
    paint = RiskPaint(twin, service.grids.features, service.sources.features)
    paint.paint(levels, service.grids.levels(levels))
    show_risk(scene, paint)
    png = scene.plotter.screenshot(None, return_img=True)
    if png is None:
        raise TwinError("the offscreen render gave no picture")
    scene.plotter.close()
    buffer = io.BytesIO()
    Image.fromarray(png).save(buffer, format="PNG")
    summary = service.summary()
    Path(out).write_bytes(
        compose(
            buffer.getvalue(), twin.name or "CIM Twin", summary["levels"], alert_rows(twin, service, service.alerts())
        )
    )


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
