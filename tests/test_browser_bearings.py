"""Bearings in real headless Chromium: the north arrow for known cameras, the scale bar, the
coordinates under the mouse, keyboard shortcuts, and measure markers that go with the tool, in
both rendering modes.  Screenshots go to artifacts/ (``browser_bearings_*.png``)."""

import re
import time

import pytest
from browser_support import colour_share, open_page, settled_pixels, view_pixels, wait_for_drawing

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MEASURE = (255, 235, 59)  # the measure tool's markers, line and label (client_views.COLORS)
SCALE = re.compile(r"([125])(0*) (cm|m|km)")


@pytest.fixture(scope="module")
def page(chromium, demo_server):
    page = open_page(chromium, demo_server.url)
    yield page
    page.context.close()


def angle(page) -> float:
    return float(page.get_by_test_id("north-needle").get_attribute("data-angle"))


def wait_angle(page, expected: float, timeout: float = 30.0) -> float:
    """The north arrow's angle once it shows ``expected`` (or the last one seen at the deadline)."""
    deadline = time.monotonic() + timeout
    while abs(angle(page) - expected) > 0.5 and time.monotonic() < deadline:
        time.sleep(0.2)
    return angle(page)


def scale_metres(page) -> float:
    label = page.get_by_test_id("scale-bar-label").inner_text()
    match = SCALE.fullmatch(label)
    assert match, f"not a round length: {label!r}"
    return float(match.group(1) + match.group(2)) * {"cm": 0.01, "m": 1.0, "km": 1000.0}[match.group(3)]


def view_centre(page) -> tuple[float, float]:
    box = page.locator(".twin-view").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_the_north_arrow_turns_with_the_camera(page, artifacts):
    wait_for_drawing(page, artifacts / "browser_bearings_start.png")
    page.get_by_test_id("view-top").click()
    assert wait_angle(page, 0.0) == pytest.approx(0.0, abs=0.5)  # top view: north up
    page.keyboard.press("s")  # side view, from the east: turned 90 degrees
    assert wait_angle(page, 90.0) == pytest.approx(90.0, abs=0.5)
    settled_pixels(page, artifacts / "browser_bearings_side.png")
    page.get_by_test_id("north-arrow").click()  # turns north up again
    assert wait_angle(page, 0.0) == pytest.approx(0.0, abs=0.5)
    page.get_by_test_id("orient-side").click()
    assert wait_angle(page, 90.0) == pytest.approx(90.0, abs=0.5)
    page.keyboard.press("n")
    assert wait_angle(page, 0.0) == pytest.approx(0.0, abs=0.5)
    page.screenshot(path=str(artifacts / "browser_bearings_page.png"))


def test_the_scale_bar_follows_the_zoom(page, artifacts):
    page.keyboard.press("t")
    wait_angle(page, 0.0)
    time.sleep(1)
    far = scale_metres(page)
    page.mouse.move(*view_centre(page))
    for _ in range(6):
        page.mouse.wheel(0, -400)  # zoom in
        time.sleep(0.3)
    deadline = time.monotonic() + 30
    while scale_metres(page) >= far and time.monotonic() < deadline:
        time.sleep(0.3)
    assert scale_metres(page) < far
    page.keyboard.press("h")  # home
    deadline = time.monotonic() + 30
    while abs(angle(page) - 322.4) > 1 and time.monotonic() < deadline:  # the home view looks north-east
        time.sleep(0.3)
    assert angle(page) == pytest.approx(322.4, abs=1)


def test_the_coordinates_under_the_mouse(page, artifacts):
    page.keyboard.press("t")
    wait_angle(page, 0.0)
    settled_pixels(page, artifacts / "browser_bearings_top.png")
    x, y = view_centre(page)
    page.mouse.move(x + 60, y + 40)
    page.mouse.move(x + 20, y + 10, steps=5)
    readout = page.get_by_test_id("coordinates-crs")
    readout.wait_for(timeout=30_000)
    easting, northing, _height = (float(v) for v in re.findall(r"[XYZ] (-?[\d.]+)", readout.inner_text()))
    assert abs(easting - 385190) < 250 and abs(northing - 3548190) < 250  # on the demo district
    lon_lat = page.get_by_test_id("coordinates-lonlat").inner_text()
    lon, lat = (float(v) for v in re.findall(r"(-?\d+\.\d+)°", lon_lat))
    assert 118.7 < lon < 118.9 and 32.0 < lat < 32.1
    page.screenshot(path=str(artifacts / "browser_bearings_coordinates.png"))


def test_shortcuts_show_their_help_and_wait_while_typing(page, artifacts):
    page.keyboard.press("?")
    help_card = page.get_by_test_id("shortcuts-help")
    help_card.wait_for(timeout=10_000)
    time.sleep(0.5)
    assert "Turn north up" in help_card.inner_text()
    page.screenshot(path=str(artifacts / "browser_bearings_help.png"))
    page.keyboard.press("Escape")
    help_card.wait_for(state="detached", timeout=10_000)
    page.keyboard.press("s")
    assert wait_angle(page, 90.0) == pytest.approx(90.0, abs=0.5)
    search = page.get_by_test_id("search").locator("input")
    search.click()
    search.type("nt")  # letters typed in a field are text, not shortcuts
    time.sleep(2)
    assert angle(page) == pytest.approx(90.0, abs=0.5)
    search.fill("")
    page.evaluate("document.activeElement.blur()")


def test_measure_markers_and_labels_go_with_the_tool(page, artifacts):
    page.keyboard.press("t")
    wait_angle(page, 0.0)
    before = settled_pixels(page, artifacts / "browser_bearings_measure_before.png")
    page.keyboard.press("m")
    page.get_by_test_id("measure-panel").wait_for(timeout=10_000)
    x, y = view_centre(page)
    page.mouse.click(x - 120, y + 60)
    time.sleep(1)
    page.mouse.click(x + 120, y + 60)
    page.get_by_test_id("measure-distance").wait_for(timeout=30_000)
    drawn = settled_pixels(page, artifacts / "browser_bearings_measure_on.png")
    assert colour_share(drawn, MEASURE) > colour_share(before, MEASURE) + 0.0005
    page.keyboard.press("m")  # the tool off: markers, line and label go
    page.get_by_test_id("measure-panel").wait_for(state="detached", timeout=10_000)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        after = view_pixels(page, artifacts / "browser_bearings_measure_off.png")
        if colour_share(after, MEASURE) <= colour_share(before, MEASURE) + 0.0001:
            break
        time.sleep(0.5)
    assert colour_share(after, MEASURE) <= colour_share(before, MEASURE) + 0.0001


def test_client_side_rendering_has_the_same_bearings(page, artifacts):
    page.get_by_test_id("rendering-client").click()
    time.sleep(5)  # vtk.js in software rendering takes its time to take over the view
    page.keyboard.press("t")
    assert wait_angle(page, 0.0) == pytest.approx(0.0, abs=0.5)
    page.keyboard.press("s")
    assert wait_angle(page, 90.0) == pytest.approx(90.0, abs=0.5)
    scale_metres(page)
    page.keyboard.press("t")
    wait_angle(page, 0.0)
    time.sleep(2)
    readout = page.get_by_test_id("coordinates-crs")
    before = readout.inner_text() if readout.count() else ""
    x, y = view_centre(page)
    page.mouse.move(x - 100, y - 20)
    page.mouse.move(x - 80, y - 50, steps=5)  # elsewhere than the server-side test's point
    deadline = time.monotonic() + 30
    while (not readout.count() or readout.inner_text() == before) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert readout.inner_text() != before
    page.screenshot(path=str(artifacts / "browser_bearings_client_page.png"))
