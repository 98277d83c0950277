"""``twin serve DIR`` on a city tileset in headless Chromium: the status line counts the tiles shown,
the view draws, and flying somewhere changes which tiles are loaded (both rendering modes).

The tileset comes from tests/tileset_builder.py (the contract ``twin tile`` writes).
"""

from __future__ import annotations

import re
import time

import pytest
from browser_support import colour_share, drawn_share, open_page, serve, wait_for_drawing, wait_until
from tileset_builder import build_city

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CYAN = (0, 229, 255)  # the selection overlay
STATUS = re.compile(r"tiles (\d+)/(\d+)")


@pytest.fixture(scope="module")
def city_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("city")
    build_city(folder, side=16, levels=4, spacing=25.0, points_per_asset=20)
    with serve(str(folder), "--triangles", "4000") as served:
        yield served


@pytest.fixture
def page(chromium, city_server):
    page = open_page(chromium, city_server.url)
    yield page
    page.context.close()


def status_text(page) -> str:
    return page.get_by_test_id("status-city").inner_text(timeout=30_000)


def wait_for_status(page, condition, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = status_text(page)
        if condition(text) or time.monotonic() > deadline:
            return text
        time.sleep(0.3)


def settled_status(page, timeout: float = 30.0) -> str:
    """The status once no tile is loading and it says the same twice in a row."""
    previous = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = status_text(page)
        if text == previous and "loading" not in text:
            return text
        previous = text
        time.sleep(0.6)
    return previous


def test_the_status_line_counts_tiles_and_the_view_draws(page, artifacts):
    text = wait_for_status(page, lambda t: STATUS.search(t) is not None)
    shown, total = map(int, STATUS.search(text).groups())
    assert 0 < shown < total, text
    assert "triangles" in text
    pixels = wait_for_drawing(page, artifacts / "browser_city_overview.png")
    assert drawn_share(pixels) >= 0.02


def test_flying_to_a_building_changes_what_is_loaded(page, artifacts):
    wait_for_drawing(page, artifacts / "browser_city_before.png")
    before = settled_status(page)
    page.get_by_test_id("search").locator("input").fill("B00000")  # a corner of the city, not loaded in detail
    page.get_by_role("option").first.click(timeout=15_000)
    page.keyboard.press("Escape")
    page.get_by_test_id("inspector-title").wait_for(timeout=15_000)
    assert page.get_by_test_id("inspector-title").inner_text() == "Building 0"
    after = wait_for_status(page, lambda t: t != before and "loading" not in t)
    assert after != before, f"the tiles shown did not change: {after}"
    pixels = wait_until(page, artifacts / "browser_city_flown.png", lambda p: colour_share(p, CYAN) > 0.01)
    assert colour_share(pixels, CYAN) > 0.01, "the selected building is not highlighted"


def test_client_side_rendering_streams_by_the_browsers_camera(page, artifacts):
    wait_for_drawing(page, artifacts / "browser_city_server.png")
    before = settled_status(page)
    page.get_by_test_id("rendering-client").click()
    wait_until(page, artifacts / "browser_city_client.png", lambda p: drawn_share(p) > 0.02, timeout=120)
    page.get_by_test_id("search").locator("input").fill("B00255")  # the far corner
    page.get_by_role("option").first.click(timeout=15_000)
    page.keyboard.press("Escape")
    after = wait_for_status(page, lambda t: t != before and "loading" not in t)
    assert after != before, f"the tiles shown did not follow the vtk.js camera: {after}"
