"""Pipes in the browser app: underground mode, clicking a segment, isolating it."""

import time

import pytest
from browser_support import colour_share, wait_for_drawing, wait_until
from test_browser_app import CYAN, LIME, MAGENTA, click_view_centre, inspector_rows, search_and_choose

pytestmark = pytest.mark.browser


def test_clicking_a_pipe_in_underground_mode_shows_its_diameter_and_depth(page, artifacts):
    wait_for_drawing(page, artifacts / "browser_pipes_start.png")
    page.get_by_test_id("underground").click()
    page.get_by_test_id("depth-legend").wait_for(timeout=10_000)
    page.get_by_test_id("underground-hidden").click()
    page.get_by_test_id("view-top").click()
    search_and_choose(page, "W-P001")  # flies the camera over the segment
    page.get_by_test_id("inspector-title").wait_for(timeout=15_000)
    page.get_by_test_id("inspector").get_by_role("button").first.click()  # close: select again by clicking
    page.get_by_test_id("inspector").wait_for(state="detached", timeout=10_000)
    time.sleep(1)
    click_view_centre(page)
    page.get_by_test_id("inspector-title").wait_for(timeout=15_000)
    rows = inspector_rows(page)
    assert page.get_by_test_id("inspector-title").inner_text() == "W-P001"
    assert rows["Diameter"] == "300 mm"
    assert rows["Depth at start"].endswith(" m") and rows["Depth at end"].endswith(" m")
    wait_until(page, artifacts / "browser_pipes_selected.png", lambda p: colour_share(p, CYAN) > 0.002)
    page.screenshot(path=str(artifacts / "browser_pipes_selected_page.png"))


def test_isolating_a_segment_highlights_the_valves_and_the_segments_out_of_supply(page, artifacts):
    page.get_by_test_id("action-isolate").click()
    page.get_by_test_id("analysis").wait_for(timeout=15_000)
    text = page.get_by_test_id("analysis").inner_text()
    assert "Valves to close" in text and "W-V" in text
    pixels = wait_until(
        page,
        artifacts / "browser_pipes_isolate.png",
        lambda p: colour_share(p, LIME, 60) > 0.001 and colour_share(p, MAGENTA) > 0.001,
    )
    assert colour_share(pixels, LIME, 60) > 0.001, "the valves to close are not shown"
    assert colour_share(pixels, MAGENTA) > 0.001, "the segments out of supply are not shown"
    page.screenshot(path=str(artifacts / "browser_pipes_isolate_page.png"))
