"""The browser app in real headless Chromium (Debian's), driven by Playwright."""

import numpy as np
import pytest

from browser_support import browser, drawn_share, serve, settled_pixels, wait_for_drawing, wait_until

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_server():
    with serve() as served:
        yield served


@pytest.fixture
def page(demo_server):
    with browser() as chromium:
        page = chromium.new_page(viewport={"width": 1280, "height": 800})
        page.goto(demo_server.url)
        page.get_by_test_id("scene-name").wait_for(timeout=60_000)
        yield page
        page.close()


def building_share(pixels: np.ndarray) -> float:
    """Share of pale beige-grey pixels: the demo's building walls and roofs (ground is green, roads dark)."""
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return float(((r > 100) & (r - b > 8) & (r >= g) & (np.abs(r - g) < 20)).mean())


def test_the_page_loads_and_the_3d_view_draws(page, artifacts):
    assert page.get_by_test_id("scene-name").inner_text() == "Demo district"
    pixels = wait_for_drawing(page, artifacts / "browser_demo.png")
    assert drawn_share(pixels) >= 0.05


def test_toggling_a_layer_changes_the_picture(page, artifacts):
    before = settled_pixels(page, artifacts / "browser_layers_all.png")
    assert building_share(before) > 0.03
    page.get_by_test_id("layer-district/Building").locator("input").uncheck()
    after = wait_until(page, artifacts / "browser_layers_no_buildings.png",
                       lambda pixels: building_share(pixels) < 0.005)
    assert building_share(after) < 0.005, f"buildings still cover {building_share(after):.1%} of the view"
