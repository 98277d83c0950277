"""Chinese and English in real headless Chromium: the page's text read as a user sees it.

One ``twin serve`` on the demo district serves the module.  A Chinese page (``?lang=zh``, or a
browser whose language is zh-CN) must leave no English beyond ids, units and the data's own
names; an English page no Chinese; the switch changes the text without reloading the scene.
Screenshots go to artifacts/ (the briefing in Chinese: ``i18n_briefing_zh.png``).
"""

from __future__ import annotations

import re

import pytest
from browser_support import READY_MS, open_page, wait_for_drawing

pytestmark = pytest.mark.browser

#: Latin words a Chinese page may show: units, acronyms and format names, the brand's "CIM"
ALLOWED = {
    "cim", "ifc", "crs", "epsg", "png", "globalid", "vtk", "js", "id", "ms", "kpa", "lel", "mm", "min", "utc",
    "english", "i", "ii", "iii", "iv", "s", "m", "h", "km", "mpa", "pa", "cm", "kn", "hz", "ppm",
}  # fmt: skip
#: the state keys whose strings are the data's own (ids, names, addresses, layer and source names)
DATA_KEYS = ("scene_name", "scene_crs", "layer_groups", "bookmarks", "legend_ids", "risk", "inspector", "suggestions")
WORDS = re.compile(r"[A-Za-z][A-Za-z]+|(?<![A-Za-z])[A-Za-z](?![A-Za-z])")
CJK = re.compile(r"[\u3400-\u9fff]")


def live_page(chromium, url, **context):
    """A page once its view is claimed and its language chosen."""
    page = open_page(chromium, url, **context) if not context.get("locale") else _page_in(chromium, url, **context)
    page.wait_for_function("() => window.twinRisk && window.twinRisk.get('my_view') !== null", timeout=READY_MS)
    return page


def _page_in(chromium, url, locale, width=1280, height=800):
    context = chromium.new_context(viewport={"width": width, "height": height}, locale=locale)
    page = context.new_page()
    page.goto(url)
    page.get_by_test_id("scene-name").wait_for(timeout=READY_MS)
    return page


def data_words(page) -> set[str]:
    """Every Latin word of the data the page shows (ids, names, CRS, sensor values), lower case."""
    blob = page.evaluate(
        "(keys) => JSON.stringify(keys.map((k) => window.twinRisk.get(k)))", [k for k in DATA_KEYS if k != "legend_ids"]
    )
    return {w.lower() for w in WORDS.findall(blob)}


def english_left(page) -> list[str]:
    """Latin words of the page's visible text that are neither data nor units."""
    allowed = ALLOWED | data_words(page)
    return sorted({w for w in WORDS.findall(page.inner_text("body")) if w.lower() not in allowed})


def show_everything(page) -> None:
    """Open what a user opens: the risk legend and the alert list, a selected asset's live card."""
    page.wait_for_function("() => window.twinRisk.get('ready')", timeout=60_000)
    page.evaluate("() => window.twinRisk.setRisk(window.twinRisk.trame, {on: true})")
    page.get_by_test_id("risk-legend").wait_for(timeout=30_000)
    page.evaluate("() => window.twinRisk.trame.state.set('show_alerts', true)")


def switch(page, lang: str) -> None:
    """Choose a language from the title bar's menu, as a user does."""
    page.get_by_test_id("language").click()
    page.get_by_test_id(f"language-{lang}").wait_for(state="visible", timeout=10_000)
    page.get_by_test_id(f"language-{lang}").click()
    page.wait_for_function(f"() => window.twinRisk.get('lang') === {lang!r}", timeout=10_000)


@pytest.fixture(scope="module")
def server(demo_server):
    return demo_server


def test_a_chinese_page_has_no_english_beyond_ids_and_units(chromium, server, artifacts):
    page = live_page(chromium, server.url + "?lang=zh")
    try:
        show_everything(page)
        page.wait_for_function("() => window.twinRisk.get('lang') === 'zh'", timeout=10_000)
        assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
        body = page.inner_text("body")
        for words in ("图层", "风险等级", "红色 重大风险 I级", "橙色 较大风险 II级", "黄色 一般风险 III级",
                      "蓝色 低风险 IV级", "灰色 无数据", "服务器端渲染"):  # fmt: skip
            assert words in body, words
        assert english_left(page) == [], english_left(page)
        labels = page.eval_on_selector_all("[aria-label]", "(nodes) => nodes.map((n) => n.getAttribute('aria-label'))")
        assert labels and all(CJK.search(label) for label in labels), labels
        page.screenshot(path=str(artifacts / "i18n_page_zh.png"))
    finally:
        page.context.close()


def test_a_zh_cn_browser_gets_chinese_and_an_english_one_english(chromium, server):
    chinese = live_page(chromium, server.url, locale="zh-CN")
    english = live_page(chromium, server.url, locale="en-US")
    try:
        chinese.wait_for_function("() => window.twinRisk.get('lang') === 'zh'", timeout=10_000)
        assert "图层" in chinese.inner_text("body")
        show_everything(english)
        assert english.evaluate("() => document.documentElement.lang") == "en-GB"
        text = english.inner_text("body")
        assert "layers" in text.lower() and "I red" in text and not CJK.search(text), CJK.findall(text)[:20]
    finally:
        chinese.context.close()
        english.context.close()


def test_the_language_switches_without_reloading_the_scene(chromium, server, artifacts):
    page = live_page(chromium, server.url + "?lang=en")
    try:
        wait_for_drawing(page, artifacts / "i18n_switch_before.png")
        view = page.evaluate("() => { window.__stayed = true; return window.twinRisk.get('my_view'); }")
        switch(page, "zh")
        page.wait_for_function("() => document.body.innerText.includes('图层')", timeout=20_000)
        assert page.evaluate("() => window.__stayed === true")  # the same page: no reload
        assert page.evaluate("() => window.twinRisk.get('my_view')") == view  # the same view
        assert "layers" not in page.inner_text("body").lower()
        switch(page, "en")
        page.wait_for_function("() => document.body.innerText.toLowerCase().includes('layers')", timeout=20_000)
        assert page.evaluate("() => window.__stayed === true")
    finally:
        page.context.close()


def test_the_briefing_in_chinese(chromium, server, artifacts):
    page = live_page(chromium, server.url + "?mode=briefing&lang=zh", width=1920, height=1080)
    try:
        page.get_by_test_id("briefing").wait_for(timeout=60_000)
        page.wait_for_function("() => window.twinRisk.get('clock')", timeout=30_000)
        text = page.get_by_test_id("briefing").inner_text()
        for words in ("实时风险", "当前预警", "在线传感器", "最近读数", "红色 重大风险 I级"):
            assert words in text, words
        assert english_left(page) == [], english_left(page)
        wait_for_drawing(page, artifacts / "i18n_briefing_zh_view.png")
        page.screenshot(path=str(artifacts / "i18n_briefing_zh.png"))
    finally:
        page.context.close()


def test_a_reason_phrase_with_fields_is_translated_in_the_page_as_on_the_server(chromium, server):
    """The flood nowcast's reason: the page's client.js and twin.faces.i18n.reason give the same words."""
    from twin.faces import i18n

    page = live_page(chromium, server.url + "?lang=zh")
    try:
        page.wait_for_function("() => window.twinRisk.get('lang') === 'zh'", timeout=10_000)
        for english in (
            "forecast flooding at D-M012 in 40 min",
            "rule gas-lel: gas 32 %LEL at sensor GAS-B006 (changing +1.2 %LEL/min)",
            "propagated: forecast flooding at J-7 in 5 min within 30 m",
        ):
            in_page = page.evaluate("(text) => window.twinI18n.reason(text, 'zh')", english)
            assert in_page == i18n.reason(english, "zh"), (english, in_page)
        assert page.evaluate("() => window.twinI18n.reason('forecast flooding at J12 in 40 min', 'zh')") == (
            "预报 40 分钟后 J12 溢流积水"
        )
    finally:
        page.context.close()
