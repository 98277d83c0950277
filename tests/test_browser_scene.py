"""A scene with a broken source, in the browser: the error shows in the layer tree, the rest works,
and a saved bookmark lands in the scene's sidecar file and in the bookmarks menu."""

import pytest
from browser_support import browser, drawn_share, open_page, serve, wait_for_drawing
from conftest import DATA

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scene")
    (folder / "broken.city.json").write_text('{"type": "CityJSON", "version": "2.0", "CityObjects": {')
    manifest = folder / "broken.toml"
    manifest.write_text(f'''name = "Half broken"
crs = "EPSG:4549"

[[sources]]
name = "district"
path = "{(DATA / "demo" / "district.city.json").as_posix()}"

[[sources]]
name = "broken"
path = "broken.city.json"
''')
    return manifest


@pytest.fixture(scope="module")
def page(scene):
    with serve(str(scene)) as served, browser() as chromium:
        page = open_page(chromium, served.url)
        yield page
        page.context.close()


def test_a_source_that_failed_shows_its_error_and_the_rest_of_the_scene_works(page, artifacts):
    error = page.get_by_test_id("error-broken")
    error.wait_for(timeout=10_000)
    assert "broken.city.json" in error.inner_text()
    assert drawn_share(wait_for_drawing(page, artifacts / "browser_broken_scene.png")) > 0.05
    page.screenshot(path=str(artifacts / "browser_broken_scene_page.png"))


def test_a_saved_bookmark_goes_to_the_sidecar_file_and_the_menu(page, scene):
    page.get_by_test_id("view-top").click()
    page.get_by_test_id("bookmarks").click()
    page.get_by_text("Save this view").click()
    page.get_by_test_id("bookmark-name").locator("input").fill("Roof check")
    page.get_by_test_id("bookmark-save").click()
    page.get_by_test_id("toast").get_by_text("saved").wait_for(timeout=10_000)
    sidecar = scene.with_name("broken.bookmarks.toml")
    assert 'name = "Roof check"' in sidecar.read_text()
    page.keyboard.press("Escape")
    page.get_by_test_id("bookmarks").click()
    page.locator(".v-overlay--active .v-list-item-title").get_by_text("Roof check", exact=True).wait_for(timeout=10_000)
