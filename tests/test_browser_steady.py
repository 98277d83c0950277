"""Steady under load, in real headless Chromium: a slow server is not a lost one.

The server is kept busy the way a real one is: CPU-bound work on its event loop (``POST
/test/busy`` holds the loop for N seconds, as a long render or rule evaluation does, so every
heartbeat waits far longer than the 4 s after which pages used to give up and reload) while two
CPU-bound processes of the test load the machine.  The pages must ride it out: no reload, no
"disconnected" banner, the tool, selection, view and briefing tour as they were.  A real outage
(the server stopped and started again) shows the banner and brings the page back as it was.

Run as a program, this file is that server: ``twin serve`` with the ``/test/busy`` route.
Every wait is on a state of the page, never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import serve

pytestmark = pytest.mark.browser

BLOCK_S = 9.0  # one hold of the server's event loop: twice the old heartbeat limit and more
HARNESS = (str(Path(__file__).resolve()),)


def live_page(chromium, url, width=1280, height=800, ready="scene-name", locale="en-US"):
    """A page (its own context, browser language ``locale``) once its live-risk UI has its view."""
    context = chromium.new_context(viewport={"width": width, "height": height}, locale=locale)
    page = context.new_page()
    page.goto(url)
    page.get_by_test_id(ready).wait_for(timeout=60_000)
    page.wait_for_function("() => window.twinRisk && window.twinRisk.get('ready')", timeout=60_000)
    page.evaluate("() => { window.__stayed = true; }")  # gone if the page reloads
    return page


def state(page, key):
    return page.evaluate(f"() => window.twinRisk.get({key!r})")


def block(served, seconds: float) -> None:
    """Hold the server's event loop with CPU-bound work for ``seconds`` (the reply comes after)."""
    request = urllib.request.Request(
        served.url + "test/busy",
        data=json.dumps({"seconds": seconds}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=seconds + 60) as response:
        assert json.loads(response.read())["busy_s"] >= seconds


@contextlib.contextmanager
def machine_load(processes: int = 2) -> Iterator[None]:
    """CPU-bound processes beside the server, as the other users of a shared machine."""
    spinning = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for process in spinning:
            process.kill()
            process.wait(timeout=10)


def select_by_search(page, text: str) -> str:
    """Select and fly to the first suggestion for ``text``; its asset id."""
    reply = page.evaluate(f"() => window.twinRisk.trame.trigger('twin_search', [{text!r}])")
    index = reply["suggestions"][0]["index"]
    page.evaluate(f"() => window.twinUI.select(window.twinRisk.trame, {index}, true)")
    page.wait_for_function(f"() => (window.twinRisk.get('inspector') || {{}}).index === {index}", timeout=30_000)
    return state(page, "inspector")["id"]


@pytest.fixture(scope="module")
def busy_server():
    with serve("--lang", "zh", program=HARNESS) as served:
        yield served


def test_a_busy_server_keeps_every_page_as_it_was(chromium, busy_server, artifacts):
    engineer = live_page(chromium, busy_server.url + "?risk=on")
    wall = live_page(chromium, busy_server.url + "?mode=briefing&hold=2", 1920, 1080, ready="briefing")
    try:
        assert state(engineer, "lang") == "zh"  # twin serve --lang zh, over the browser's en-US
        engineer.get_by_test_id("measure").click()
        chosen = select_by_search(engineer, "Building 6")
        view = state(engineer, "my_view")
        wall.wait_for_function("() => window.twinRisk.get('tour_step') >= 1", timeout=30_000)
        holds = threading.Thread(target=lambda: [block(busy_server, BLOCK_S) for _ in range(2)])
        with machine_load():
            holds.start()
            engineer.get_by_test_id("server-slow").wait_for(timeout=30_000)  # a heartbeat waited > 4 s
            engineer.screenshot(path=str(artifacts / "steady_busy.png"))
            step = state(wall, "tour_step")
            holds.join(timeout=4 * BLOCK_S + 60)
        engineer.get_by_test_id("server-slow").wait_for(state="detached", timeout=30_000)
        wall.wait_for_function(f"() => window.twinRisk.get('tour_step') > {step}", timeout=30_000)  # touring on
        for page in (engineer, wall):
            assert page.evaluate("() => window.__stayed === true")  # no reload
            assert page.get_by_test_id("disconnected").count() == 0
            assert not state(page, "disconnected")
        assert state(engineer, "tool") == "measure"
        assert state(engineer, "inspector")["id"] == chosen
        assert state(engineer, "my_view") == view
    finally:
        engineer.context.close()
        wall.context.close()


def camera(fragment: str) -> list[float]:
    part = next(p for p in fragment.split("&") if p.startswith("cam="))
    return [float(v) for v in part[4:].split(",")]


def test_a_real_outage_shows_the_banner_and_the_page_comes_back_as_it_was(chromium, artifacts):
    store = str(Path(tempfile.mkdtemp(prefix="twin-store-")) / "risk.duckdb")
    with serve("--store", store) as served:
        port = served.url.rstrip("/").rsplit(":", 1)[1]
        page = live_page(chromium, served.url)
        page.evaluate("() => window.twinI18n.set(window.twinRisk.trame, 'zh')")
        page.get_by_test_id("measure").click()
        chosen = select_by_search(page, "Building 6")
        page.evaluate("() => window.twinUI.remember(window.twinRisk.trame)")
        page.wait_for_function(
            "() => (JSON.parse(sessionStorage.getItem('twin.kept') || '{}').fragment || '').includes('sel=')",
            timeout=30_000,
        )
        before = camera(page.evaluate("() => JSON.parse(sessionStorage.getItem('twin.kept')).fragment"))
        os.killpg(served.process.pid, signal.SIGTERM)
        served.process.wait(timeout=20)
        page.get_by_test_id("disconnected").wait_for(timeout=20_000)  # really unreachable: said at once
        page.screenshot(path=str(artifacts / "steady_outage.png"))
    try:
        with serve("--store", store, "--port", port):
            page.wait_for_function(  # a new page (no marker) whose restored selection is shown
                f"() => window.__stayed !== true && window.twinRisk && window.twinRisk.get('ready') && "
                f"(window.twinRisk.get('inspector') || {{}}).id === {chosen!r}",
                timeout=90_000,
            )
            assert page.get_by_test_id("disconnected").count() == 0
            assert state(page, "lang") == "zh" and state(page, "tool") == "measure"
            reply = page.evaluate(
                "() => window.twinRisk.trame.trigger('twin_share', [window.twinRisk.get('my_view'), "
                "window.twinRisk.get('cfg'), null, 'server', null])"
            )
            after = camera(reply["fragment"])
            assert max(abs(a - b) for a, b in zip(before, after, strict=True)) < 0.5, (before, after)
            page.screenshot(path=str(artifacts / "steady_restored.png"))
    finally:
        page.context.close()


def _harness() -> int:
    """``twin serve`` with ``POST /test/busy``: CPU-bound work on the event loop for the seconds asked."""
    from aiohttp import web

    import twin.faces.api
    from twin.faces.cli import main

    routes = twin.faces.api.routes

    def with_busy(service, *args, **kwargs):
        async def busy(request: web.Request) -> web.Response:
            seconds = float((await request.json())["seconds"])
            start = time.monotonic()
            while time.monotonic() - start < seconds:  # the loop does nothing else meanwhile
                sum(i * i for i in range(10_000))
            return web.json_response({"busy_s": time.monotonic() - start})

        return [*routes(service, *args, **kwargs), web.post("/test/busy", busy)]

    twin.faces.api.routes = with_busy
    return main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(_harness())
