"""An IFC model in the browser app: GlobalId search, the spatial tree and the 3D selection in sync."""

import pytest
from browser_support import browser, colour_share, open_page, serve, wait_for_drawing, wait_until
from conftest import DATA
from test_browser_app import CYAN, inspector_rows, search_and_choose

HOUSE = DATA / "ifc" / "IfcOpenHouse_IFC4.ifc"
NORTH_ROOF = "3lPsczHcDCwepFiJhZqz9q"

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not HOUSE.exists(), reason="no IFC samples yet")]


@pytest.fixture(scope="module")
def page():
    with serve(str(HOUSE)) as served, browser() as chromium:
        page = open_page(chromium, served.url)
        yield page
        page.context.close()


def test_searching_a_globalid_selects_the_element_and_opens_it_in_the_tree(page, artifacts):
    wait_for_drawing(page, artifacts / "browser_ifc_start.png")
    search_and_choose(page, NORTH_ROOF)
    page.get_by_test_id("inspector-title").wait_for(timeout=15_000)
    rows = inspector_rows(page)
    assert rows["GlobalId"] == NORTH_ROOF and rows["Class"] == "IfcSlab" and rows["Name"] == "North roof"
    tree = page.get_by_test_id("tree-IfcOpenHouse_IFC4")
    assert tree.locator(".v-list-item--active").inner_text().strip() == "North roof"
    wait_until(page, artifacts / "browser_ifc_selected.png", lambda p: colour_share(p, CYAN) > 0.001)


def test_clicking_an_element_in_the_tree_selects_it_in_3d(page, artifacts):
    page.get_by_test_id("tree-IfcOpenHouse_IFC4").get_by_text("South roof").click()
    page.get_by_test_id("inspector-title").filter(has_text="South roof").wait_for(timeout=15_000)
    pixels = wait_until(page, artifacts / "browser_ifc_tree_pick.png", lambda p: colour_share(p, CYAN) > 0.03)
    assert colour_share(pixels, CYAN) > 0.03, "the roof chosen in the tree is not highlighted"
    page.screenshot(path=str(artifacts / "browser_ifc_tree_page.png"))
