"""The browser app in real headless Chromium (Debian's), driven by Playwright.

One ``twin serve`` on the demo district serves the whole module; each test opens its own
browser context (its own tab, cookies and client-only state), as a second user would.
"""

import time

import numpy as np
import pytest
from browser_support import (
    colour_share,
    drawn_share,
    open_page,
    settled_pixels,
    view_pixels,
    wait_for_drawing,
    wait_until,
)

pytestmark = pytest.mark.browser

CYAN = (0, 229, 255)  # the selection overlay (twin/faces/app/client_views.py COLORS)
LIME = (118, 255, 3)  # valves to close
MAGENTA = (255, 64, 255)  # segments that lose supply


@pytest.fixture
def page(chromium, demo_server):
    page = open_page(chromium, demo_server.url)
    yield page
    page.context.close()


def building_share(pixels: np.ndarray) -> float:
    """Share of pale beige-grey pixels: the demo's building walls and roofs (ground is green, roads dark)."""
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return float(((r > 100) & (r - b > 8) & (r >= g) & (np.abs(r - g) < 20)).mean())


def search_and_choose(page, text):
    page.get_by_test_id("search").locator("input").fill(text)
    page.get_by_role("option").first.click(timeout=15_000)
    page.keyboard.press("Escape")


def inspector_rows(page) -> dict:
    rows = page.get_by_test_id("inspector").locator("tr")
    return dict(tuple(cell.strip() for cell in row.split("\t", 1)) for row in rows.all_inner_texts() if "\t" in row)


def click_view_centre(page):
    box = page.locator(".twin-view").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_the_page_loads_and_the_3d_view_draws(page, artifacts):
    assert page.get_by_test_id("scene-name").inner_text() == "Demo district"
    pixels = wait_for_drawing(page, artifacts / "browser_demo.png")
    assert drawn_share(pixels) >= 0.05
    page.screenshot(path=str(artifacts / "browser_demo_page.png"))
    assert page.get_by_test_id("status-assets").inner_text().endswith("assets")


def test_toggling_a_layer_changes_the_picture(page, artifacts):
    before = settled_pixels(page, artifacts / "browser_layers_all.png")
    assert building_share(before) > 0.03
    page.get_by_test_id("layer-district/Building").locator("input").uncheck()
    after = wait_until(
        page, artifacts / "browser_layers_no_buildings.png", lambda pixels: building_share(pixels) < 0.005
    )
    assert building_share(after) < 0.005, f"buildings still cover {building_share(after):.1%} of the view"


def test_searching_an_id_selects_it_flies_there_and_the_inspector_shows_it(page, artifacts):
    wait_for_drawing(page, artifacts / "browser_search_before.png")
    search_and_choose(page, "bldg-005")
    page.get_by_test_id("inspector-title").wait_for(timeout=15_000)
    assert page.get_by_test_id("inspector-title").inner_text() == "Building 5"
    rows = inspector_rows(page)
    assert rows["Id"] == "bldg-005" and rows["Address"] == "3201020010005"
    pixels = wait_until(page, artifacts / "browser_search_selected.png", lambda p: colour_share(p, CYAN) > 0.05)
    assert colour_share(pixels, CYAN) > 0.05, "the selected building is not highlighted in the view"
    page.screenshot(path=str(artifacts / "browser_search_page.png"))


def test_clicking_a_building_in_the_view_inspects_it(page, artifacts):
    settled_pixels(page, artifacts / "browser_pick_before.png")
    click_view_centre(page)
    page.get_by_test_id("inspector-title").wait_for(timeout=15_000)
    assert inspector_rows(page)["Layer"].startswith("district/")
    wait_until(page, artifacts / "browser_pick_after.png", lambda p: colour_share(p, CYAN) > 0.002)
    page.screenshot(path=str(artifacts / "browser_pick_page.png"))


def test_two_browsers_have_their_own_camera_layers_and_selection(chromium, demo_server, artifacts):
    first, second = open_page(chromium, demo_server.url), open_page(chromium, demo_server.url)
    try:
        a0 = settled_pixels(first, artifacts / "browser_two_a0.png")
        b0 = settled_pixels(second, artifacts / "browser_two_b0.png")
        assert np.abs(a0 - b0).mean() < 2, "two fresh browsers should see the same default view"
        search_and_choose(first, "bldg-013")  # selects and flies the first browser's camera
        first.get_by_test_id("inspector-title").wait_for(timeout=15_000)
        second.get_by_test_id("layer-district/Building").locator("input").uncheck()
        a1 = wait_until(first, artifacts / "browser_two_a1.png", lambda p: colour_share(p, CYAN) > 0.05)
        b1 = wait_until(second, artifacts / "browser_two_b1.png", lambda p: building_share(p) < 0.005)
        assert colour_share(a1, CYAN) > 0.05 and building_share(a1) > 0.03, "A lost its own view"
        assert building_share(b1) < 0.005 and colour_share(b1, CYAN) < 0.001, "B got A's selection or camera"
        assert second.get_by_test_id("inspector").count() == 0, "B's inspector shows A's selection"
        time.sleep(1.5)
        assert np.abs(view_pixels(first, artifacts / "browser_two_a2.png") - a1).mean() < 3, (
            "B's layer change reached A's picture"
        )
    finally:
        first.context.close()
        second.context.close()


def test_a_share_link_restores_camera_layers_and_selection(chromium, page, demo_server, artifacts):
    wait_for_drawing(page, artifacts / "browser_share_before.png")
    search_and_choose(page, "bldg-020")
    page.get_by_test_id("inspector-title").wait_for(timeout=15_000)
    page.get_by_test_id("layer-district/Road").locator("input").uncheck()
    page.get_by_test_id("share").click()
    url = page.get_by_test_id("share-url").locator("input").input_value()
    assert "sel=bldg-020" in url and "cam=" in url and "district/Road" not in url.split("layers=")[1].split("&")[0]
    page.get_by_test_id("share-close").click()
    original = settled_pixels(page, artifacts / "browser_share_original.png")
    other = open_page(chromium, url)
    try:
        other.get_by_test_id("inspector-title").wait_for(timeout=15_000)
        assert other.get_by_test_id("inspector-title").inner_text() == "Building 20"
        assert not other.get_by_test_id("layer-district/Road").locator("input").is_checked()
        restored = wait_until(
            other, artifacts / "browser_share_restored.png", lambda p: np.abs(p - original).mean() < 4
        )
        assert np.abs(restored - original).mean() < 4, "the shared camera was not restored"
    finally:
        other.context.close()


def test_a_malformed_share_link_is_reported_and_the_app_still_works(chromium, demo_server, artifacts):
    page = open_page(chromium, demo_server.url + "#cam=1,2,3")
    try:
        toast = page.get_by_test_id("toast")
        toast.wait_for(timeout=15_000)
        assert "malformed" in page.locator(".v-snackbar").inner_text()
        assert drawn_share(wait_for_drawing(page, artifacts / "browser_bad_link.png")) > 0.05
    finally:
        page.context.close()


def test_the_screenshot_button_downloads_a_png(page, artifacts):
    wait_for_drawing(page, artifacts / "browser_screenshot_view.png")
    with page.expect_download(timeout=30_000) as download:
        page.get_by_test_id("screenshot").click()
    path = artifacts / "browser_screenshot_download.png"
    download.value.save_as(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert download.value.suggested_filename.startswith("demo-district-")


def test_measuring_between_two_points(page, artifacts):
    settled_pixels(page, artifacts / "browser_measure_before.png")
    page.get_by_test_id("measure").click()
    box = page.locator(".twin-view").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.42, box["y"] + box["height"] * 0.55)
    page.get_by_test_id("measure-panel").get_by_text("Click two points").wait_for(timeout=10_000)
    time.sleep(1)
    page.mouse.click(box["x"] + box["width"] * 0.58, box["y"] + box["height"] * 0.55)
    page.get_by_test_id("measure-distance").wait_for(timeout=15_000)
    distance = float(page.get_by_test_id("measure-distance").inner_text().split()[0])
    horizontal = float(page.get_by_test_id("measure-horizontal").inner_text().split()[0])
    assert 1 < distance < 500 and horizontal <= distance + 1e-6
    settled_pixels(page, artifacts / "browser_measure_view.png")
    page.screenshot(path=str(artifacts / "browser_measure_page.png"))


def test_section_clip_cuts_the_buildings(page, artifacts):
    before = settled_pixels(page, artifacts / "browser_clip_before.png")
    page.get_by_test_id("clip").click()
    page.get_by_test_id("clip-card").wait_for(timeout=10_000)
    changed = lambda p: float((np.abs(p - before).max(axis=2) > 40).mean())  # noqa: E731
    cut = lambda p: changed(p) > 0.01 and building_share(p) < 0.95 * building_share(before)  # noqa: E731
    after = wait_until(page, artifacts / "browser_clip_after.png", cut)
    assert changed(after) > 0.01 and building_share(after) < 0.95 * building_share(before), (
        "the clip plane did not cut the tall buildings"
    )


def test_client_side_rendering_draws_the_scene_with_vtkjs(page, artifacts):
    wait_for_drawing(page, artifacts / "browser_client_before.png")
    page.get_by_test_id("rendering-client").click()
    # vtk.js in headless Chromium renders in software (SwiftShader): give it time on a busy machine
    pixels = wait_until(
        page, artifacts / "browser_client_rendering.png", lambda p: building_share(p) > 0.01, timeout=120
    )
    assert page.locator(".twin-view canvas").count() >= 1
    assert building_share(pixels) > 0.01  # vtk.js frames the whole scene a little wider than VTK
    click_view_centre(page)  # picked from the ray vtk.js computed
    page.get_by_test_id("inspector-title").wait_for(timeout=30_000)
    assert inspector_rows(page)["Layer"]
    page.screenshot(path=str(artifacts / "browser_client_pick_page.png"))


def test_two_browsers_rendering_client_side_keep_their_own_layers_and_selection(chromium, demo_server, artifacts):
    first, second = open_page(chromium, demo_server.url), open_page(chromium, demo_server.url)
    try:
        for page in (first, second):
            page.get_by_test_id("rendering-client").click()
        a0 = wait_until(first, artifacts / "browser_client_two_a0.png", lambda p: building_share(p) > 0.01, 120)
        b0 = wait_until(second, artifacts / "browser_client_two_b0.png", lambda p: building_share(p) > 0.01, 120)
        assert building_share(a0) > 0.01 and building_share(b0) > 0.01
        second.get_by_test_id("layer-district/Building").locator("input").uncheck()
        b1 = wait_until(second, artifacts / "browser_client_two_b1.png", lambda p: building_share(p) < 0.002, 60)
        assert building_share(b1) < 0.002, "B's own layer change did not reach B's vtk.js view"
        search_and_choose(first, "bldg-013")
        first.get_by_test_id("inspector-title").wait_for(timeout=15_000)
        a1 = wait_until(first, artifacts / "browser_client_two_a1.png", lambda p: colour_share(p, CYAN) > 0.02, 60)
        assert colour_share(a1, CYAN) > 0.02 and building_share(a1) > 0.01, "A lost its buildings or selection"
        time.sleep(2)
        b2 = view_pixels(second, artifacts / "browser_client_two_b2.png")
        assert colour_share(b2, CYAN) < 0.001 and building_share(b2) < 0.002, "A's changes reached B's view"
    finally:
        first.context.close()
        second.context.close()


def test_a_closed_browser_gives_its_view_back(chromium, demo_server):
    """A wall screen that reloads every night must not fill the pool with views nobody watches."""
    my_view = "() => window.twinRisk && window.twinRisk.get('my_view')"
    first = open_page(chromium, demo_server.url)
    first.wait_for_function(my_view, timeout=60_000)
    view = first.evaluate(my_view)
    first.context.close()
    time.sleep(3.0)  # the server sees the websocket close
    second = open_page(chromium, demo_server.url)
    try:
        second.wait_for_function(my_view, timeout=60_000)
        assert second.evaluate(my_view) == view
    finally:
        second.context.close()
