"""Incidents in real headless Chromium, with the simulator playing two independent failures at
once in the demo district (a gas leak and a water-main burst): the panel lists two incidents,
opening one flies there and draws its resources' routes, a plan step checked off records the
operator, the situation report downloads as a PDF, and the briefing screen tours by incident.
English and Chinese; screenshots go to artifacts/ (``incidents_*.png``).

Run as a program, this file is that server: ``twin serve`` whose simulator stays quiet (no
noise) until ``POST /test/inject`` ``{"scenarios": [...]}`` starts those failures together.
One server serves the module; the tests run in file order on its live state.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from browser_support import open_page, serve, view_pixels

pytestmark = pytest.mark.browser

HARNESS = (str(Path(__file__).resolve()),)
FAILURES = ("gas_leak", "water_main_burst")
CYCLE_S = 240.0  # the failures rise for 86 s, hold, recover: the tests are done long before
ROUTE = (0, 230, 118)  # the route colour (#00e676) as lit in the view


def api(served, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        served.url + path, data=data, headers={"Content-Type": "application/json"} if data else {}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def state(page, key):
    return page.evaluate(f"() => window.twinRisk.get({key!r})")


def live_page(chromium, url, width=1600, height=1000, ready="scene-name"):
    page = open_page(chromium, url, width, height, ready)
    page.wait_for_function("() => window.twinRisk && window.twinRisk.get('ready')", timeout=60_000)
    return page


def route_share(pixels: np.ndarray) -> float:
    """Pixels of the route green (lit or shaded: green well above red and blue)."""
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return float(((g > 120) & (g - r > 70) & (g - b > 40)).mean())


def settled_share(page, path: Path, condition, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while True:
        share = route_share(view_pixels(page, path))
        if condition(share) or time.monotonic() > deadline:
            return share
        time.sleep(0.5)


@pytest.fixture(scope="module")
def server():
    with serve(program=HARNESS) as served:
        assert api(served, "test/inject", {"scenarios": list(FAILURES)})["scenarios"] == list(FAILURES)
        yield served


def two_incidents(page) -> list[dict]:
    """The shared list once both failures are incidents with their alerts (a leak spreads: a few s)."""
    page.wait_for_function(
        "() => { const l = (window.twinRisk.get('incidents') || {list: []}).list;"
        " return l.length === 2 && new Set(l.map(i => i.hazard)).size === 2 && l.every(i => i.alerts >= 2); }",
        timeout=180_000,
    )
    return state(page, "incidents")["list"]


def test_the_panel_lists_two_incidents_and_one_opens_with_its_routes(chromium, server, artifacts):
    page = live_page(chromium, server.url + "?risk=on&lang=en")
    try:
        listed = two_incidents(page)
        assert {i["hazard"] for i in listed} == {"gas", "water"}
        assert len(api(server, "api/incidents")) == 2
        page.get_by_test_id("incidents-button").click()
        page.get_by_test_id("incidents").wait_for(timeout=10_000)
        for inc in listed:
            row = page.get_by_test_id(f"incident-{inc['id']}")
            assert inc["place"] in row.inner_text() and f"{inc['alerts']} alerts" in row.inner_text()
        page.screenshot(path=str(artifacts / "incidents_list_en.png"))
        before = route_share(view_pixels(page, artifacts / "incidents_view_before.png"))
        gas = next(i for i in listed if i["hazard"] == "gas")
        page.get_by_test_id(f"incident-{gas['id']}").click()
        page.get_by_test_id("incident-detail").wait_for(timeout=30_000)
        shown = state(page, "incident")
        assert shown["id"] == gas["id"] and shown["plan"]["id"] == "gas-leak" and shown["resources"]
        assert state(page, "inspector")["id"] == gas["asset"]  # flown to, its epicentre inspected
        text = page.get_by_test_id("incident-detail").inner_text()
        for heading in ("Plan", "Grids and workers on duty", "Nearest resources", "Timeline"):
            assert heading.upper() in text.upper(), heading
        assert "first abnormal reading" in page.get_by_test_id("incident-timeline").inner_text()
        first = shown["resources"][0]
        listed_resource = page.get_by_test_id(f"resource-{first['id']}-{first['need']}").inner_text()
        assert first["name"] in listed_resource and "min" in listed_resource
        page.screenshot(path=str(artifacts / "incidents_detail_en.png"))
        page.get_by_test_id("incidents").get_by_label("Close").click()  # the panel goes, the incident stays
        drawn = settled_share(page, artifacts / "incidents_routes_en.png", lambda s: s > before + 0.002)
        assert drawn > before + 0.002, (before, drawn)
        page.get_by_test_id("incidents-button").click()
        page.get_by_test_id("incident-back").click()  # deselected: the routes go
        page.get_by_test_id("incidents").get_by_label("Close").click()
        cleared = settled_share(page, artifacts / "incidents_routes_cleared.png", lambda s: s < drawn / 4)
        assert cleared < drawn / 4, (drawn, cleared)
    finally:
        page.context.close()


def test_a_checked_step_records_the_operator_and_the_report_downloads(chromium, server, artifacts):
    page = live_page(chromium, server.url + "?risk=on&lang=en")
    try:
        listed = two_incidents(page)
        water = next(i for i in listed if i["hazard"] == "water")
        page.get_by_test_id("incidents-button").click()
        page.get_by_test_id(f"incident-{water['id']}").click()
        page.get_by_test_id("incident-plan").wait_for(timeout=30_000)
        step = next(s for s in state(page, "incident")["plan"]["steps"] if s["state"] in ("open", "overdue"))
        page.once("dialog", lambda dialog: dialog.accept("Li Na"))  # who checks it off, asked once
        page.get_by_test_id(f"step-{step['id']}").locator("input").click()
        page.get_by_test_id(f"step-by-{step['id']}").wait_for(timeout=30_000)
        assert "Li Na" in page.get_by_test_id(f"step-by-{step['id']}").inner_text()
        kept = next(s for s in api(server, f"api/incidents/{water['id']}")["plan"]["steps"] if s["id"] == step["id"])
        assert kept["state"] == "done" and kept["done_by"] == "Li Na"
        page.wait_for_function(
            f"() => window.twinRisk.get('incidents').list.find(i => i.id === {water['id']}).progress.done === 1",
            timeout=30_000,
        )  # every browser's list
        page.get_by_test_id("incident-note").locator("input").fill("valves V3 and V4 closed")
        page.get_by_test_id("incident-note-save").click()
        page.get_by_test_id("incident-timeline").get_by_text("valves V3 and V4 closed").wait_for(timeout=30_000)
        with page.expect_download(timeout=60_000) as download:
            page.get_by_test_id("incident-report").click()
        pdf = artifacts / "incidents_report.pdf"
        download.value.save_as(pdf)
        assert pdf.read_bytes()[:5] == b"%PDF-" and download.value.suggested_filename.endswith(".pdf")
        subprocess.run(
            ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(artifacts / "incidents_report")],
            check=True,
            timeout=60,
        )
        page.screenshot(path=str(artifacts / "incidents_checked_en.png"))
    finally:
        page.context.close()


def test_the_panel_in_chinese(chromium, server, artifacts):
    page = live_page(chromium, server.url + "?risk=on&lang=zh")
    try:
        listed = two_incidents(page)
        page.get_by_test_id("incidents-button").click()
        panel = page.get_by_test_id("incidents")
        panel.wait_for(timeout=10_000)
        assert "在办事件" in panel.inner_text() and "条告警" in panel.inner_text()
        page.get_by_test_id(f"incident-{listed[0]['id']}").click()
        page.get_by_test_id("incident-plan").wait_for(timeout=30_000)
        text = page.get_by_test_id("incident-detail").inner_text()
        assert "应急预案" in text and "时间线" in text and "首次异常读数" in text and "事件报告" in text
        assert "Send the" not in text and "Close the" not in text  # the steps' own Chinese titles
        page.screenshot(path=str(artifacts / "incidents_detail_zh.png"))
    finally:
        page.context.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_briefing_screen_tours_by_incident(chromium, server, artifacts, lang):
    page = live_page(chromium, server.url + f"?mode=briefing&hold=3&lang={lang}", 1920, 1080, ready="briefing")
    try:
        listed = two_incidents(page)
        seen: set[int] = set()
        deadline = time.monotonic() + 60
        while seen != {i["id"] for i in listed} and time.monotonic() < deadline:
            target = state(page, "tour_target") or {}
            if target.get("incident"):
                seen.add(target["id"])
            time.sleep(0.3)
        assert seen == {i["id"] for i in listed}
        stop = page.get_by_test_id("tour-incident")
        stop.wait_for(timeout=10_000)
        shown = state(page, "tour_target")
        assert str(shown["alerts"]) in stop.inner_text() and shown["place"] in stop.inner_text()
        assert page.get_by_test_id("kpi-incidents-value").inner_text().strip() == "2"
        page.screenshot(path=str(artifacts / f"incidents_briefing_{lang}.png"))
    finally:
        page.context.close()


# -- the server this module drives (run as a program) ----------------------------------------------
def _harness() -> int:
    from aiohttp import web

    import twin.faces.api
    import twin.faces.commands.serve as serve_command
    from twin.faces.cli import main
    from twin.risk.simulator import Simulator

    class Injected(Simulator):
        """The simulator, quiet (no noise) until told: then the failures asked for, together, from then on."""

        def __init__(self, service) -> None:
            super().__init__(service, cycle_s=CYCLE_S, scenarios=(), together=True)
            self.noise[:] = 0.0
            self.start_t = 0.0

        def values(self, now: float) -> np.ndarray:
            return super().values(now - self.start_t)  # the failures begin at the injection

        def inject(self, scenarios: tuple[str, ...]) -> None:
            self.start_t, self.scenarios = time.time(), scenarios

    simulators: list[Injected] = []
    start_live_risk, routes = serve_command.start_live_risk, twin.faces.api.routes

    def quiet_live_risk(twin_, store, simulate, rate=None):
        service = start_live_risk(twin_, store, False)
        simulators.append(Injected(service))
        simulators[0].start()
        return service

    def with_injection(service, *args, **kwargs):
        async def inject(request: web.Request) -> web.Response:
            scenarios = tuple((await request.json())["scenarios"])
            simulators[0].inject(scenarios)
            return web.json_response({"scenarios": list(scenarios)})

        return [*routes(service, *args, **kwargs), web.post("/test/inject", inject)]

    serve_command.start_live_risk, twin.faces.api.routes = quiet_live_risk, with_injection
    return main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(_harness())
