"""Engineers reach their pipes: in the default translucent underground mode a click on a pipe
selects the pipe, not the street or ground in front of it, in both rendering modes."""

import time

import pytest
from browser_support import wait_for_drawing
from test_browser_app import click_view_centre, inspector_rows, search_and_choose

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PIPE = "W-P002"  # a water main under a street of the demo district


def pick_pipe_from_above(page) -> str:
    """Frame the pipe from the top, clear the selection, click the middle of the view."""
    page.get_by_test_id("view-top").click()
    search_and_choose(page, PIPE)  # flies the camera over the segment, the street above it
    page.get_by_test_id("inspector-title").wait_for(timeout=30_000)
    page.get_by_test_id("inspector").get_by_role("button").first.click()  # close: select by clicking
    page.get_by_test_id("inspector").wait_for(state="detached", timeout=15_000)
    time.sleep(1)
    click_view_centre(page)
    page.get_by_test_id("inspector-title").wait_for(timeout=30_000)
    return page.get_by_test_id("inspector-title").inner_text()


def test_a_click_through_translucent_ground_picks_the_pipe(page, artifacts):
    wait_for_drawing(page, artifacts / "browser_pick_pipes_start.png")
    page.get_by_test_id("underground").click()  # translucent ground and streets: the default
    page.get_by_test_id("depth-legend").wait_for(timeout=15_000)
    assert pick_pipe_from_above(page) == PIPE
    assert inspector_rows(page)["Diameter"].endswith(" mm")
    page.screenshot(path=str(artifacts / "browser_pick_pipes_server_page.png"))


def test_hovering_a_pipe_names_it_in_a_tooltip(page, artifacts):
    box = page.locator(".twin-view").bounding_box()
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(centre[0] + 40, centre[1] + 40)
    page.mouse.move(*centre, steps=4)  # then rest over the pipe
    tip = page.get_by_test_id("hover-tip")
    tip.wait_for(state="visible", timeout=30_000)
    assert PIPE in tip.inner_text() and "water" in tip.inner_text()
    page.screenshot(path=str(artifacts / "browser_pick_pipes_hover_page.png"))


def test_client_side_rendering_picks_the_pipe_too(page, artifacts):
    page.get_by_test_id("rendering-client").click()
    time.sleep(5)  # vtk.js in software rendering takes its time to take over the view
    assert pick_pipe_from_above(page) == PIPE
    page.screenshot(path=str(artifacts / "browser_pick_pipes_client_page.png"))
