"""A point cloud in the browser app: colour modes, the class filter, picking a point."""

import time

import pytest
from browser_support import settled_pixels, wait_until
from test_browser_app import click_view_centre, inspector_rows

pytestmark = pytest.mark.browser
LAYER = "survey/points"


def test_class_colours_and_the_class_filter_change_the_picture_and_the_count(page, artifacts):
    page.get_by_test_id(f"layer-{LAYER}").locator("input").check()
    shown = page.get_by_test_id("status-points")
    total = shown.inner_text()
    before = settled_pixels(page, artifacts / "browser_points_rgb.png")
    page.get_by_test_id(f"colour-{LAYER}").click()
    page.get_by_role("option", name="Class").click()
    coloured = wait_until(
        page, artifacts / "browser_points_class.png", lambda p: abs(p - before).max(axis=2).mean() > 5
    )
    assert abs(coloured - before).max(axis=2).mean() > 5, "the class colour mode did not recolour the points"
    page.get_by_test_id(f"classes-{LAYER}").locator(".v-chip").first.click()  # hide ground
    wait_until(page, artifacts / "browser_points_no_ground.png", lambda p: abs(p - coloured).max(axis=2).mean() > 3)
    assert shown.inner_text() != total, "the points shown did not drop when a class was hidden"


def test_clicking_a_point_shows_its_class_intensity_colour_and_elevation(page, artifacts):
    for layer in ("district/Building", "district/Road", "terrain/Terrain"):  # leave the points alone in view
        box = page.get_by_test_id(f"layer-{layer}")
        if box.count():
            box.locator("input").uncheck()
    time.sleep(2)
    click_view_centre(page)
    page.get_by_test_id("inspector-title").wait_for(timeout=15_000)
    rows = inspector_rows(page)
    assert {"Class", "Intensity", "RGB", "Elevation"} <= set(rows), rows
    assert not rows["Class"].startswith("2 "), "a hidden ground point was picked"
    page.screenshot(path=str(artifacts / "browser_points_picked_page.png"))
