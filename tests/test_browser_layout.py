"""Every screen size, every control named, and a clean first impression, in headless Chromium.

A phone (390×844) and a tablet (820×1180) keep most of the screen for the 3D view (the panels
are drawers, closed at first, that open and close); every button and control has an accessible
name; the keyboard reaches and works the title bar; CIM Twin's loading screen shows before the
first frame; a normal session logs no console error, and a browser closing leaves no traceback
in the server's log.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from browser_support import serve, wait_for_drawing
from conftest import USER_CWD

pytestmark = pytest.mark.browser

READY = "() => window.trame && window.trame.state && window.trame.state.get('ready')"
SIZES = {"phone": (390, 844), "tablet": (820, 1180)}

#: controls without an accessible name (aria-label, aria-labelledby, title, a label, their text)
UNNAMED = """() => {
  const name = (el) => {
    const own = (el.getAttribute('aria-label') || el.getAttribute('title') || '').trim();
    if (own) return own;
    const by = el.getAttribute('aria-labelledby');
    if (by) return by.split(' ').map(id => (document.getElementById(id) || {}).textContent || '').join(' ').trim();
    const label = el.id && document.querySelector('label[for="' + el.id + '"]');
    if (label && label.textContent.trim()) return 'x';
    if (el.closest('label') && el.closest('label').textContent.trim()) return 'x';
    return (el.innerText || el.textContent || '').trim();
  };
  const focusable = (el) => el.getAttribute('aria-hidden') !== 'true' && el.getAttribute('tabindex') !== '-1';
  return [...document.querySelectorAll('button, [role=button], input, [role=slider], select, textarea')]
    .filter(el => !el.closest('[hidden]') && el.type !== 'hidden')  // not in the accessibility tree
    .filter(el => el.tagName === 'BUTTON' || focusable(el))
    .filter(el => !name(el))
    .map(el => el.outerHTML.slice(0, 160));
}"""


@pytest.fixture(scope="module")
def live_server():
    """The demo with the incident simulator: alerts, their Ack buttons and the risk panels show."""
    with serve("--simulate") as served:
        yield served


def open_at(chromium, url: str, width: int, height: int, errors: list | None = None):
    context = chromium.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    if errors is not None:
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_function(
        "() => window.trame && window.trame.state && window.trame.state.get('ready')", timeout=90_000
    )
    return page


def on_screen(page, test_id: str) -> bool:
    """Whether the element is inside the window (a closed drawer is moved out of it)."""
    box = page.get_by_test_id(test_id).bounding_box()
    size = page.viewport_size
    return bool(box) and box["x"] >= 0 and box["y"] < size["height"] and box["x"] + box["width"] <= size["width"] + 1


@pytest.mark.parametrize("size", list(SIZES))
def test_a_small_screen_keeps_the_view_and_opens_panels_as_drawers(chromium, live_server, artifacts, size):
    width, height = SIZES[size]
    page = open_at(chromium, live_server.url, width, height)
    try:
        wait_for_drawing(page, artifacts / f"layout_{size}_view.png")
        page.screenshot(path=str(artifacts / f"layout_{size}.png"))
        view = page.locator(".twin-view").bounding_box()
        assert view["width"] * view["height"] >= 0.6 * width * height, view
        assert not on_screen(page, "layers") and not on_screen(page, "inspector-drawer")

        page.get_by_test_id("layers-button").click()
        page.wait_for_timeout(600)  # the drawer slides in
        assert on_screen(page, "layers")
        page.screenshot(path=str(artifacts / f"layout_{size}_layers.png"))
        page.locator(".v-navigation-drawer__scrim").first.click(position={"x": width - 10, "y": height // 2})
        page.wait_for_timeout(600)
        assert not on_screen(page, "layers")

        page.get_by_test_id("inspector-button").click()
        page.wait_for_timeout(600)
        assert on_screen(page, "inspector-drawer")
        page.screenshot(path=str(artifacts / f"layout_{size}_inspector.png"))
        page.get_by_test_id("inspector-button").click(force=True)
        page.wait_for_timeout(600)
        assert not on_screen(page, "inspector-drawer")
    finally:
        page.context.close()


def test_every_control_has_an_accessible_name(chromium, live_server):
    page = open_at(chromium, live_server.url, 1280, 800)
    try:
        page.get_by_test_id("alerts").wait_for(timeout=60_000)  # the simulator's alerts, with Ack buttons
        page.get_by_test_id("risk-switch").click()  # the legend and its filter
        page.get_by_test_id("risk-legend").wait_for()
        unnamed = page.evaluate(UNNAMED)
        assert unnamed == [], "\n".join(unnamed)
        assert page.locator("button").count() > 20
    finally:
        page.context.close()


def test_the_keyboard_reaches_and_works_the_title_bar(chromium, live_server):
    page = open_at(chromium, live_server.url, 820, 1180)
    try:
        page.get_by_test_id("layers-button").focus()
        page.keyboard.press("Enter")
        page.wait_for_timeout(600)
        assert on_screen(page, "layers")
        page.keyboard.press("Escape")
        page.wait_for_timeout(600)
        assert not on_screen(page, "layers")
        names = []
        page.locator("body").focus()
        for _ in range(8):  # tab order: the title bar's controls, each with a name
            page.keyboard.press("Tab")
            names.append(page.evaluate("() => document.activeElement.getAttribute('aria-label') || ''"))
        assert sum(bool(n) for n in names) >= 5, names
        page.get_by_test_id("view-top").focus()
        page.keyboard.press(" ")  # Space works a button as a click does
        page.wait_for_function("() => !window.trame.state.get('busy')", timeout=30_000)
    finally:
        page.context.close()


def test_the_loading_screen_shows_before_the_first_frame(chromium, live_server, artifacts):
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(live_server.url, wait_until="commit")
        page.locator("[data-testid=loading-screen]").first.wait_for(state="attached", timeout=30_000)
        page.screenshot(path=str(artifacts / "loading_screen.png"))
        page.wait_for_function(
            "() => window.trame && window.trame.state && window.trame.state.get('ready')", timeout=90_000
        )
        wait_for_drawing(page, artifacts / "loading_screen_then_view.png")
        assert page.locator("[data-testid=loading-screen]").count() == 0
    finally:
        context.close()


def test_a_normal_session_has_no_console_errors_and_no_tracebacks(chromium, live_server):
    errors: list[str] = []
    page = open_at(chromium, live_server.url, 1280, 800, errors)
    page.wait_for_timeout(1500)
    page.get_by_test_id("view-top").click()
    page.get_by_test_id("search").locator("input").fill("W-P0")
    page.get_by_role("option").first.click(timeout=15_000)
    page.keyboard.press("Escape")
    page.get_by_test_id("language").click()
    page.get_by_test_id("language-zh").click()
    page.wait_for_timeout(1500)
    page.context.close()  # a browser closing, perhaps with a reply on its way
    time.sleep(3)
    assert errors == []
    log = "".join(live_server.log)
    assert "Traceback" not in log and "Error handling request" not in log, log[-3000:]


def test_the_launcher_question_is_answered_not_refused(live_server):
    """trame's page asks POST /paraview/ for a session launcher first: "none" (null), not a 405."""
    request = urllib.request.Request(
        live_server.url + "paraview/", data=b"{}", method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200 and json.loads(response.read()) is None
    with urllib.request.urlopen(live_server.url + "loading.tpl", timeout=30) as response:
        fragment = response.read().decode()
    assert 'data-testid="loading-screen"' in fragment and "CIM Twin" in fragment


def test_twin_serve_shows_the_scene_loading_then_the_app(chromium, artifacts, tmp_path):
    """Before the app exists its port shows the load's progress, and the page turns into the app."""
    process = subprocess.Popen(
        [sys.executable, "-m", "twin.faces.cli", "serve", "--port", "0", "--store", str(tmp_path / "risk.duckdb")],
        cwd=USER_CWD,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        first = process.stdout.readline()
        match = re.search(r"loading \S+: (\S+) shows the progress", first)
        assert match, first
        context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        page = context.new_page()
        page.goto(f"http://{match.group(1)}/")
        screen = page.get_by_test_id("loading-screen")
        screen.wait_for(timeout=30_000)
        assert "CIM 城市数字孪生" in screen.inner_text()
        page.wait_for_function("() => /个数据源|正在启动/.test(document.body.innerText)", timeout=60_000)
        page.screenshot(path=str(artifacts / "loading_progress_zh.png"))
        page.wait_for_function(READY, timeout=120_000)  # reloaded into the app by itself
        wait_for_drawing(page, artifacts / "loading_progress_then_view.png")
        context.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
