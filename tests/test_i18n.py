"""Chinese and English without a browser: the catalogue, the language in use, dates and numbers, the
risk engine's reasons, the CJK font and the pictures (``twin render --risk`` in Chinese).

The pictures go to artifacts/ (``i18n_snapshot_zh.png``, ``i18n_render_risk_zh.png``) for people to
look at.
"""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import numpy as np
import pytest
from babel.messages.extract import extract_from_file
from conftest import DEMO, twin_cli
from PIL import Image, ImageFont

from twin.assets import STR, AssetTable
from twin.colours.point_classes import ASPRS_CLASSES
from twin.colours.utilities import LABELS
from twin.faces import i18n
from twin.faces.app import snapshot
from twin.faces.app.search import AssetSearch
from twin.risk.colours import LEVEL_LABELS
from twin.risk.levels import BLUE, NODATA, ORANGE, RED, YELLOW

APP = Path(i18n.__file__).resolve().parent / "app"
#: the modules whose text goes through the catalogue (other panels adopt it in their own time)
TRANSLATED = [
    APP / "layout.py",
    APP / "snapshot.py",
    APP / "risk_actions.py",
    APP / "incident_actions.py",
    *(APP / "panels" / f"{name}.py" for name in ("briefing", "incidents", "layer_tree", "risk", "status", "toolbar")),
]
KEYWORDS = {"_": None, "gettext": None, "text": None, "tr": None, "aria_label": None, "icon_button": (2,)}
JS_MESSAGES = re.compile(r"twinI18n\.t\(\s*\"((?:[^\"\\]|\\.)*)\"")


def extracted() -> set[str]:
    """Every literal message of the translated modules (Babel's extractor) and of the browser scripts."""
    found = {
        message
        for path in TRANSLATED
        for _line, message, _comments, _context in extract_from_file("python", str(path), keywords=KEYWORDS)
    }
    for script in ("client.js", "risk.js", "incidents.js"):
        found |= set(JS_MESSAGES.findall((APP / script).read_text(encoding="utf-8")))
    return found


def test_the_four_levels_are_written_as_the_field_writes_them():
    expected = {
        RED: "红色 重大风险 I级",
        ORANGE: "橙色 较大风险 II级",
        YELLOW: "黄色 一般风险 III级",
        BLUE: "蓝色 低风险 IV级",
        NODATA: "灰色 无数据",
    }
    for code, words in expected.items():
        assert i18n.gettext(LEVEL_LABELS[code], "zh") == words
        assert i18n.gettext(LEVEL_LABELS[code], "en") == LEVEL_LABELS[code]


def test_every_message_of_the_app_and_its_data_tables_is_in_the_chinese_catalogue():
    from twin.faces.app.panels.risk import FILTERS, PLAYBACK_WINDOWS
    from twin.faces.app.panels.toolbar import VIEW_BUTTONS
    from twin.faces.app.tree import KIND_ICONS, POINT_MODES

    messages = extracted()
    assert len(messages) > 60, sorted(messages)  # the extraction sees the panels' calls
    tables = {
        *LEVEL_LABELS.values(),
        *LABELS.values(),
        *ASPRS_CLASSES.values(),
        *(title for _mode, title in POINT_MODES),
        *(label for label, _code in FILTERS),
        *re.findall(r"'title': '([^']+)'", PLAYBACK_WINDOWS),
        *KIND_ICONS,
        *(tip for _view, _icon, tip in VIEW_BUTTONS),
        "pending",
        "firing",
        "acknowledged",
        "resolved",
    }
    chinese = i18n.catalogue("zh")
    missing = sorted(m for m in messages | tables if m not in chinese)
    assert not missing, missing
    assert all(re.search(r"[\u3400-\u9fff]", chinese[m]) or m in ("of", "≥ IV") for m in messages | tables)


def test_placeholders_survive_translation():
    for msgid, translated in i18n.catalogue("zh").items():
        assert set(re.findall(r"\{\w+\}", msgid)) == set(re.findall(r"\{\w+\}", translated)), msgid


@pytest.mark.parametrize(
    ("tag", "lang"),
    [("zh", "zh"), ("zh-CN", "zh"), ("zh_CN.UTF-8", "zh"), ("zh-Hans", "zh"), ("en-US", "en"), ("fr-FR", None)],
)
def test_language_tags_are_normalised(tag, lang):
    assert i18n.normalise(tag) == lang


def test_the_default_language_comes_from_twin_lang_then_the_locale(monkeypatch):
    for key in (i18n.LANG_ENV, "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(key, raising=False)
    assert i18n.default_language() == "en"
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert i18n.default_language() == "zh"
    monkeypatch.setenv(i18n.LANG_ENV, "en")
    assert i18n.default_language() == "en"


def test_each_trigger_speaks_its_own_callers_language():
    async def answer(lang: str) -> tuple[str, str]:
        with i18n.use(lang):
            await asyncio.sleep(0)  # another trigger runs meanwhile
            in_thread = await asyncio.to_thread(i18n.gettext, "Alert {id} acknowledged", None, id=7)
            return i18n._("Layers"), in_thread

    async def both():
        return await asyncio.gather(answer("zh"), answer("en"))

    assert asyncio.run(both()) == [("图层", "预警 7 已确认"), ("Layers", "Alert 7 acknowledged")]


def test_dates_and_numbers_follow_the_language():
    when = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC
    assert i18n.format_datetime(when, "zh") == "2026年5月28日 20:26:40 UTC"
    assert i18n.format_datetime(when, "en") == "28 May 2026, 20:26:40 UTC"
    assert i18n.format_number(1234567.5, "zh") == "1,234,567.5"


def test_a_reason_is_translated_and_keeps_its_ids_numbers_and_units():
    english = "rule gas-lel: gas 32 %LEL at sensor GAS-B006 (changing +1.2 %LEL/min)"
    chinese = i18n.reason(english, "zh")
    assert chinese == "规则 gas-lel: 燃气 32 %LEL 传感器 GAS-B006 (变化率 +1.2 %LEL/min)"
    assert i18n.reason(english, "en") == english


def test_the_browser_gets_every_language_and_english_maps_to_itself():
    catalogues = i18n.browser_catalogues()
    assert set(catalogues) == set(i18n.LANGUAGES)
    assert catalogues["en"]["Layers"] == "Layers" and catalogues["zh"]["Layers"] == "图层"
    assert set(catalogues["en"]) == set(catalogues["zh"])
    assert i18n.tr('it\'s "x"') == "((i18n[lang] || {})['it\\'s \\x22x\\x22'] || 'it\\'s \\x22x\\x22')"


def test_a_cjk_font_is_found_and_draws_chinese():
    path, index, cjk = snapshot.font_file()
    assert cjk, "no CJK font: python3 tasks.py test installs fonts-noto-cjk"
    font = ImageFont.truetype(path, 32, index=index)
    glyphs = [np.asarray(font.getmask(c)) for c in ("红", "蓝", "\U0010fffd")]  # the last is not in any font
    assert glyphs[0].any() and glyphs[1].any()
    assert glyphs[0].shape != glyphs[1].shape or (glyphs[0] != glyphs[1]).any()  # real glyphs, not boxes
    assert glyphs[0].shape != glyphs[2].shape or (glyphs[0] != glyphs[2]).any()


def test_without_a_cjk_font_the_pictures_fall_back_and_say_so(monkeypatch, caplog):
    snapshot.font_file.cache_clear()
    monkeypatch.setattr(snapshot, "_fontconfig", lambda bold: None)
    monkeypatch.setattr(snapshot, "CJK_FONTS", ())
    try:
        path, _index, cjk = snapshot.font_file()
        assert not cjk and path.endswith("DejaVuSans.ttf")
        assert "fonts-noto-cjk" in caplog.text
    finally:
        snapshot.font_file.cache_clear()


def _text_pixels(image: Image.Image, box: tuple[int, int, int, int]) -> float:
    panel = np.asarray(image.crop(box).convert("RGB")).astype(int)
    return float((np.abs(panel - np.array(snapshot.BACKGROUND)).max(axis=2) > 60).mean())


def test_a_situation_picture_in_chinese(artifacts):
    view = Image.new("RGB", (640, 480), (40, 60, 80))
    buffer = io.BytesIO()
    view.save(buffer, format="PNG")
    alerts = [
        {"level": "red", "name": "Building 6", "reason": "rule gas-lel: gas 32 %LEL at sensor GAS-B006"},
        {"level": "orange", "name": "W-P020", "reason": "rule low-pressure: pressure 180 kPa at sensor P-W020"},
    ]
    counts = {"red": 1, "orange": 1, "yellow": 0, "blue": 3, "nodata": 2}
    png = snapshot.compose(buffer.getvalue(), "示范街区", counts, alerts, 1_780_000_000.0, lang="zh")
    (artifacts / "i18n_snapshot_zh.png").write_bytes(png)
    picture = Image.open(io.BytesIO(png))
    assert picture.size == (640 + snapshot.PANEL_W, 480)
    assert _text_pixels(picture, (640, 0, 640 + snapshot.PANEL_W, 480)) > 0.01
    english = Image.open(io.BytesIO(snapshot.compose(buffer.getvalue(), "Demo", counts, alerts, 1e9, lang="en")))
    assert (np.asarray(english) != np.asarray(picture)).any()


def test_search_matches_chinese_names_and_addresses():
    assets = AssetTable(
        {
            "id": np.array(["G-001", "W-002", "B-003"], dtype=STR),
            "kind": np.array(["pipe", "pipe", "Building"], dtype=STR),
            "name": np.array(["中山路燃气管", "汉中路给水管", "鼓楼医院门诊楼"], dtype=STR),
            "address": np.array(
                ["江苏省南京市鼓楼区中山路1号", "南京市汉中路8号", "南京市鼓楼区中山路321号"], dtype=STR
            ),
        }
    )
    search = AssetSearch(assets)
    assert [s["index"] for s in search.suggest("燃气")] == [0]
    assert [s["index"] for s in search.suggest("中山路")] == [0, 2]  # names first, then addresses
    assert [s["title"] for s in search.suggest("汉中路8号")] == ["汉中路给水管"]


@pytest.mark.slow
def test_twin_render_risk_in_chinese(artifacts, monkeypatch, tmp_path):
    monkeypatch.setenv(i18n.LANG_ENV, "zh")
    out = artifacts / "i18n_render_risk_zh.png"
    result = twin_cli("render", DEMO, "--risk", "--store", tmp_path / "risk.duckdb", "-o", out, "--size", "960x600")
    assert result.returncode == 0, result.stderr
    picture = Image.open(out)
    assert picture.size == (960 + snapshot.PANEL_W, 600)
    assert _text_pixels(picture, (960, 0, 960 + snapshot.PANEL_W, 600)) > 0.01
