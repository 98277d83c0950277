"""What a burst means, in the browser: the demo district with its water model (``water.inp``)
bound by a ``[hydraulics]`` table, a main isolated from the inspector, the area short of
pressure coloured on the deficit ramp, a valve that will not close growing it, and the
briefing screen's "N buildings / M customers without water, K critical" line."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from browser_support import colour_share, open_page, serve, wait_for_drawing, wait_until
from conftest import DATA, SCENES
from test_browser_app import LIME, MAGENTA, search_and_choose

pytestmark = pytest.mark.browser

BURST = "W-P001"  # the ring main next to the supply point: closing it starves the far corner
HEADLINE = re.compile(r"(\d+) buildings / (\d+) customers without water, (\d+) critical")


def ramp_share(pixels: np.ndarray) -> float:
    """Pixels on the deficit ramp (cyan to purple, lit or shaded: blue above red and green, and
    red enough not to be the water pipes' sky blue)."""
    r, g, b = (pixels[..., i].astype(int) for i in range(3))
    return float(((b > 120) & (r > 70) & (b - r > 30) & (b > g)).mean())


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    """The demo manifest with its water network's hydraulic model and settings."""
    folder = tmp_path_factory.mktemp("hydraulic-demo")
    text = (SCENES / "demo.toml").read_text(encoding="utf-8").replace("../data_samples", str(DATA))
    text = text.split("\n[hydraulics]\n")[0]  # its own table, replaced by this one
    text += (
        "\n[hydraulics]\nservice_pressure_mpa = 0.14\nreach_m = 100\n"
        f'models = {{ water = "{DATA / "demo" / "water.inp"}" }}\n'
    )
    path = folder / "demo_hydraulics.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def page(scene, chromium):
    with serve(str(scene)) as served:
        page = open_page(chromium, served.url, 1600, 1000)
        page.wait_for_function("() => window.twinRisk && window.twinRisk.get('my_view')", timeout=60_000)
        yield page
        page.context.close()


def overview(page) -> None:
    """The scene's "Overview" bookmark: the whole district from the south-west."""
    page.get_by_test_id("bookmarks").click()
    page.locator(".v-overlay--active .v-list-item-title").get_by_text("Overview", exact=True).click()


def headline(page) -> tuple[int, int, int]:
    match = HEADLINE.search(page.get_by_test_id("analysis-water").inner_text())
    assert match, page.get_by_test_id("analysis").inner_text()
    n, m, k = (int(g) for g in match.groups())
    return n, m, k


def test_isolating_a_main_colours_the_area_short_of_pressure(page, artifacts):
    wait_for_drawing(page, artifacts / "browser_hydraulics_start.png")
    page.get_by_test_id("underground").click()  # the pipes alone, as an engineer isolates one
    page.get_by_test_id("underground-hidden").click()
    page.get_by_test_id("view-top").click()
    search_and_choose(page, BURST)
    page.get_by_test_id("inspector-title").wait_for(timeout=15_000)
    page.get_by_test_id("action-isolate").click()
    page.get_by_test_id("analysis-water").wait_for(timeout=60_000)
    buildings, customers, critical = headline(page)
    assert buildings > 0 and customers > 0
    card = page.get_by_test_id("analysis").inner_text()
    assert "Junctions below service pressure" in card and "EPANET" in card
    page.get_by_test_id("deficit-legend").wait_for()
    assert page.get_by_test_id("analysis-buildings").inner_text().count("\n") >= 1
    # close up (where the inspector flew): the section out of supply and its valves
    pixels = wait_until(
        page,
        artifacts / "browser_hydraulics_valves.png",
        lambda p: colour_share(p, LIME, 60) > 0.0005 and colour_share(p, MAGENTA) > 0.0005,
    )
    assert colour_share(pixels, LIME, 60) > 0.0005, "the valves to close are not shown"
    assert colour_share(pixels, MAGENTA) > 0.0005, "the section out of supply is not shown"
    # the district: the buildings short of pressure on the ramp
    page.get_by_test_id("underground").click()  # back above ground
    overview(page)
    pixels = wait_until(page, artifacts / "browser_hydraulics_isolate.png", lambda p: ramp_share(p) > 0.005, timeout=60)
    assert ramp_share(pixels) > 0.005, "the area short of pressure is not coloured"
    page.screenshot(path=str(artifacts / "browser_hydraulics_isolate_page.png"))


def test_a_valve_that_will_not_close_grows_the_area(page, artifacts):
    before = headline(page)
    valve = page.get_by_test_id("analysis").locator("[data-testid^='seize-']").first
    name = valve.get_attribute("data-testid").removeprefix("seize-")
    valve.click()
    page.get_by_test_id("seized-reset").wait_for(timeout=60_000)
    after = headline(page)
    assert name in page.get_by_test_id("analysis").inner_text()
    segments = page.get_by_test_id("analysis").inner_text()
    assert after[1] >= before[1] and "Valves that will not close" in segments
    time.sleep(1)
    page.screenshot(path=str(artifacts / "browser_hydraulics_seized_page.png"))


def test_the_briefing_screen_says_who_is_without_water(page, artifacts):
    n, m, k = headline(page)
    for key, value in (("mode", "'briefing'"), ("show_layers", "false"), ("show_inspector", "false")):
        page.evaluate(f"() => window.twinRisk.trame.state.set('{key}', {value})")
    line = page.get_by_test_id("briefing-water-text")
    line.wait_for(timeout=15_000)
    assert line.inner_text() == f"{n} buildings / {m} customers without water, {k} critical"
    page.evaluate("() => window.twinRisk.trame.state.set('lang', 'zh')")
    wait_text = "栋建筑"
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=briefing-water-text]').innerText.includes('{wait_text}')",
        timeout=10_000,
    )
    assert line.inner_text() == f"{n} 栋建筑 / {m} 户用户停水，其中重点设施 {k} 处"
    time.sleep(1)
    page.screenshot(path=str(artifacts / "browser_hydraulics_briefing_zh.png"))
    page.evaluate("() => window.twinRisk.trame.state.set('lang', 'en')")
    page.screenshot(path=str(artifacts / "browser_hydraulics_briefing.png"))
    for key, value in (("mode", "'normal'"), ("show_layers", "true"), ("show_inspector", "true")):
        page.evaluate(f"() => window.twinRisk.trame.state.set('{key}', {value})")
    # clearing the selection clears the analysis, and the briefing line with it
    page.get_by_role("button", name="Close the inspector").click()
    page.get_by_test_id("analysis").wait_for(state="detached", timeout=10_000)
    pixels = wait_until(page, artifacts / "browser_hydraulics_cleared.png", lambda p: colour_share(p, MAGENTA) < 1e-4)
    assert ramp_share(pixels) < 0.002
