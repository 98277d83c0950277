"""A situation-report picture: the view's screenshot with the risk legend, a timestamp and the alerts.

Composed with PIL on the server from the view's own PNG, so the browser only downloads a file.
Shared by the app's snapshot button and ``twin render --risk``.  Its text is in the language of
the browser that asked (or ``$TWIN_LANG`` / the locale for ``twin render``), drawn with a CJK font
(Debian's ``fonts-noto-cjk``, found through fontconfig or its known paths); without one the
picture falls back to DejaVu, whose missing glyphs would show as boxes, so it says so in the log.
"""

from __future__ import annotations

import functools
import io
import logging
import shutil
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from twin.errors import TwinError
from twin.faces.i18n import _, format_datetime, reason, use
from twin.risk.colours import LEVEL_LABELS, LEVEL_RGB
from twin.risk.interface import RiskView
from twin.risk.levels import BLUE, CODES, NODATA, ORANGE, RED, YELLOW

log = logging.getLogger("twin.faces")
PANEL_W = 380
#: fonts with simplified Chinese glyphs where fontconfig is missing: (regular, bold), TTC index
CJK_FONTS = (
    (
        (
            "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
            "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
        ),
        2,
    ),
    (("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
    (("/System/Library/Fonts/PingFang.ttc", "/System/Library/Fonts/PingFang.ttc"), 0),
    (("C:/Windows/Fonts/msyh.ttc", "C:/Windows/Fonts/msyhbd.ttc"), 0),
)
LATIN_FONTS = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    0,
)
BACKGROUND = (18, 22, 29)
TEXT = (230, 235, 240)
MUTED = (150, 160, 175)
LEGEND = (RED, ORANGE, YELLOW, BLUE, NODATA)


def _fontconfig(bold: bool) -> tuple[str, int] | None:
    """The file and collection index fontconfig picks for simplified Chinese, if that font covers it."""
    if not shutil.which("fc-match"):
        return None
    pattern = "sans-serif:lang=zh-cn" + (":weight=bold" if bold else "")
    try:
        answer = subprocess.run(
            ["fc-match", "-f", "%{file}\t%{index}\t%{lang}", pattern], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = answer.stdout.split("\t")
    if len(found) != 3 or "zh-cn" not in found[2].split("|"):
        return None  # fontconfig's best match has no Chinese glyphs (DejaVu, say)
    return found[0], int(found[1] or 0)


@functools.cache
def font_file(bold: bool = False) -> tuple[str, int, bool]:
    """(path, collection index, has CJK glyphs) of the font the pictures use."""
    found = _fontconfig(bold)
    if found and Path(found[0]).is_file():
        return found[0], found[1], True
    for paths, index in CJK_FONTS:
        if Path(paths[bold]).is_file():
            return paths[bold], index, True
    log.warning("no CJK font found (install fonts-noto-cjk): Chinese text in pictures will not show")
    return LATIN_FONTS[0][bold], 0, False


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path, index, _cjk = font_file(bold)
    try:
        return ImageFont.truetype(path, size, index=index)
    except OSError:
        return ImageFont.load_default(size)


def compose(
    view_png: bytes,
    title: str,
    counts: dict[str, int],
    alerts: Sequence[dict],
    when: float | None = None,
    note: str = "",
    lang: str | None = None,
) -> bytes:
    """PNG bytes: the view on the left, a panel on the right (title, time, legend with counts, alerts).

    ``counts`` maps level names (``red``, ``orange``, ...) to asset counts; ``alerts`` are rows
    with ``level``, ``name`` or ``asset``, ``reason`` and ``state``.  The text is in ``lang``
    (default: the language in use, :func:`twin.faces.i18n.current`).
    """
    with use(lang):
        return _compose(view_png, title, counts, alerts, when, note)


def _compose(
    view_png: bytes, title: str, counts: dict[str, int], alerts: Sequence[dict], when: float | None, note: str
) -> bytes:
    view = Image.open(io.BytesIO(view_png)).convert("RGB")
    out = Image.new("RGB", (view.width + PANEL_W, view.height), BACKGROUND)
    out.paste(view, (0, 0))
    draw = ImageDraw.Draw(out)
    x, y = view.width + 20, 18
    draw.text((x, y), title, font=_font(22, True), fill=TEXT)
    y += 32
    draw.text((x, y), format_datetime(when or datetime.now(UTC).timestamp()), font=_font(16), fill=MUTED)
    y += 26
    if note:
        draw.text((x, y), note, font=_font(15, True), fill=(255, 200, 80))
        y += 24
    y += 8
    for code in LEGEND:
        name = ("red", "orange", "yellow", "blue", "nodata")[LEGEND.index(code)]
        draw.rectangle((x, y, x + 26, y + 22), fill=tuple(LEVEL_RGB[code].tolist()), outline=TEXT)
        draw.text((x + 36, y + 1), _(LEVEL_LABELS[code]), font=_font(17), fill=TEXT)
        draw.text((x + PANEL_W - 60, y + 1), str(counts.get(name, 0)), font=_font(17, True), fill=TEXT, anchor="ra")
        y += 30
    y += 12
    active = [a for a in alerts if a.get("state") != "resolved"]
    draw.text((x, y), _("Active alerts: {n}", n=len(active)), font=_font(18, True), fill=TEXT)
    y += 30
    for alert in active:
        if y > view.height - 50:
            draw.text((x, y), _("… and {n} more", n=len(active) - active.index(alert)), font=_font(14), fill=MUTED)
            break
        code = CODES.get(str(alert.get("level")), NODATA)
        draw.rectangle((x, y + 2, x + 10, y + 36), fill=tuple(LEVEL_RGB[code].tolist()))
        head = f"{_(LEVEL_LABELS[code])}  {alert.get('name') or alert.get('asset', '')}"
        draw.text((x + 18, y), head, font=_font(15, True), fill=TEXT)
        draw.text((x + 18, y + 19), _clip(reason(str(alert.get("reason", ""))), 42), font=_font(13), fill=MUTED)
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
    lang: str | None = None,
) -> None:
    """``twin render --risk``: the scene in risk colours with legend, time and alerts, as a PNG file.

    ``lang``: the picture's language (default ``$TWIN_LANG``, else the locale, else English).
    """
    from twin.faces.app.risk_paint import RiskPaint, alert_rows, show_risk
    from twin.faces.rendering import framed_view

    scene = framed_view(twin, size, view, bookmark)
    levels = service.levels()
    paint = RiskPaint(twin, service.grids.features, service.sources.features)
    paint.paint(levels, service.grids.levels(levels))
    show_risk(scene, paint)
    png = scene.plotter.screenshot(None, return_img=True)
    if png is None:
        raise TwinError(_("the offscreen render gave no picture"))
    scene.plotter.close()
    buffer = io.BytesIO()
    Image.fromarray(png).save(buffer, format="PNG")
    summary = service.summary()
    Path(out).write_bytes(
        compose(
            buffer.getvalue(),
            twin.name or _("CIM Twin", lang),
            summary["levels"],
            alert_rows(twin, service, service.alerts()),
            lang=lang,
        )
    )


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
