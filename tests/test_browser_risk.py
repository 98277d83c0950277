"""Live risk in real headless Chromium: red readings reach every browser, acknowledge, the live
inspector, the read-only risk state, briefing mode (KPI tiles, tour, disconnection) and playback.

One ``twin serve`` (fresh store, no simulator) serves the module; the tests run in file order
because they build on the same live state: playback first (before anything is red), then the
red reading, acknowledge and inspector, then briefing.  Screenshots go to artifacts/.
"""

import json
import os
import signal
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from browser_support import (
    drawn_share,
    first_red_frame,
    open_page,
    serve,
    view_pixels,
    wait_for_drawing,
    wait_until,
    watch_frames,
)

pytestmark = pytest.mark.browser

RED = (230, 0, 0)


@pytest.fixture(scope="module")
def server(demo_server):
    return demo_server


def kpis_agree(page, served, timeout: float = 60.0) -> None:
    """The briefing's level tiles, active alerts and sensors online equal the server's summary.

    Compared with the summary of the same moment, polled: on a busy machine a sensor may go stale or
    an alert resolve between one snapshot and the page's next update.
    """
    names = ("red", "orange", "yellow", "blue", "nodata")
    deadline = time.monotonic() + timeout
    while True:
        summary = api(served, "risk/summary")
        sensors = summary["sensors"]
        wanted = [str(summary["levels"][n]) for n in names]
        wanted += [str(summary["alerts"]["active"]), f"{sensors['online']} / {sensors['total']}"]
        shown = [page.get_by_test_id(f"kpi-{n}-count").inner_text().strip() for n in names]
        shown += [page.get_by_test_id(f"kpi-{k}-value").inner_text().strip() for k in ("alerts", "online")]
        if shown == wanted or time.monotonic() > deadline:
            assert shown == wanted, (shown, wanted)
            return
        time.sleep(0.5)


def api(served, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        served.url + "api/" + path, data=data, headers={"Content-Type": "application/json"} if data else {}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def post(served, sensor, value, ago=0.0):
    answer = api(served, "readings", [{"sensor": sensor, "ts": int((time.time() - ago) * 1000), "value": value}])
    assert answer["accepted"] == 1, answer


def open_live(chromium, url, width=1280, height=800, ready="scene-name"):
    """A page once its live-risk UI has its view."""
    page = open_page(chromium, url, width, height, ready)
    page.wait_for_function("() => window.twinRisk && window.twinRisk.get('my_view')", timeout=60_000)
    return page


def state(page, key):
    return page.evaluate(f"() => window.twinRisk.get({key!r})")


def red_share(pixels: np.ndarray) -> float:
    """Pixels of the four-colour red, lit or shaded (pure red hue: G and B near zero)."""
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return float(((r > 100) & (g < 45) & (b < 45)).mean())


def playback_samples(page, timeout: float = 30.0) -> list[tuple[float, int]]:
    """(time, red count) of the playback while it plays, until it stops."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        t, red, playing = page.evaluate(
            "() => [window.twinRisk.get('playback_t'), "
            "window.twinRisk.get('playback_state').levels.red, "
            "window.twinRisk.get('playback_playing')]"
        )
        seen.append((t, red))
        if not playing and len(seen) > 1:
            break
        time.sleep(0.1)
    return seen


def test_playback_shows_the_level_as_it_was(chromium, server, artifacts):
    page = open_live(chromium, server.url + "?risk=on")
    try:
        wait_for_drawing(page, artifacts / "risk_playback_live.png")
        page.get_by_test_id("view-top").click()  # the whole district from above
        time.sleep(3)
        live = red_share(view_pixels(page, artifacts / "risk_playback_live.png"))
        red_at = time.time()
        post(server, "GAS-B021", 30.0)  # a short incident: red for four seconds
        time.sleep(4)
        post(server, "GAS-B021", 1.0)
        time.sleep(2)
        page.get_by_test_id("playback-open").click()
        page.get_by_test_id("playback").wait_for(timeout=30_000)
        window = state(page, "playback")
        assert window["start"] < red_at < window["end"]
        page.evaluate(f"() => window.twinRisk.seek(window.twinRisk.trame, {red_at + 2})")
        page.wait_for_function("() => window.twinRisk.get('playback_state').levels.red === 1", timeout=30_000)
        past = wait_until(
            page, artifacts / "risk_playback_past.png", lambda p: red_share(p) > live + 0.0005, timeout=20
        )
        assert page.get_by_test_id("playback-red").inner_text().strip().endswith("1")
        assert any(a["asset"] == "bldg-021" for a in state(page, "playback_state")["alerts"])
        page.evaluate(f"() => window.twinRisk.seek(window.twinRisk.trame, {window['end']})")
        page.wait_for_function("() => window.twinRisk.get('playback_state').levels.red === 0", timeout=30_000)
        now = wait_until(
            page, artifacts / "risk_playback_now.png", lambda p: red_share(p) < red_share(past) - 0.0004, timeout=20
        )
        assert red_share(past) > live + 0.0005 and red_share(now) < red_share(past) - 0.0004
        assert api(server, "assets/bldg-021")["risk"]["level"] != "red"  # the live service was not disturbed
        # play it at 1x from just before the incident: red comes and goes, 0.5 s per half second
        page.evaluate(f"() => window.twinRisk.seek(window.twinRisk.trame, {red_at - 1})")
        page.wait_for_function("() => window.twinRisk.get('playback_state').levels.red === 0", timeout=30_000)
        page.evaluate("() => window.twinRisk.trame.state.set('playback_speed', 1)")
        page.get_by_test_id("playback-play").click()
        seen = playback_samples(page)
        steps = {round(b[0] - a[0], 1) for a, b in zip(seen, seen[1:], strict=False) if b[0] != a[0]}
        assert 1 in {red for _, red in seen} and seen[-1][1] == 0, seen
        assert 0.5 in steps and max(steps) <= 0.5, steps
        assert seen[-1][0] >= window["end"] - 0.01, (seen[-1], window)
        # a shorter window from the picker: it opens again, ending now
        page.get_by_test_id("playback-window").click()
        page.get_by_role("option", name="last 15 min").click()
        page.wait_for_function(f"() => window.twinRisk.get('playback').end > {window['end']}", timeout=30_000)
        opened = state(page, "playback_state")["levels"]  # the window's start: every asset has its level
        assert opened["nodata"] < sum(opened.values()) / 2, opened
        page.screenshot(path=str(artifacts / "risk_playback_bar.png"))
        page.get_by_test_id("playback-close").click()
    finally:
        page.context.close()


def test_a_red_reading_reaches_two_browsers_within_a_second(chromium, server, artifacts):
    pages = [open_live(chromium, server.url + "?risk=on") for _ in range(2)]
    try:
        for i, page in enumerate(pages):
            wait_for_drawing(page, artifacts / f"risk_before_{i}.png")
        time.sleep(2)
        before = [red_share(view_pixels(p, artifacts / f"risk_before_{i}.png")) for i, p in enumerate(pages)]
        reds = [watch_frames(page) for page in pages]
        started, posted_ms = time.monotonic(), time.time() * 1000
        post(server, "GAS-B006", 30.0)
        seen = []
        for page in pages:
            page.get_by_test_id("alert-bldg-006").wait_for(timeout=15_000)
            seen.append(time.monotonic() - started)
        # when each page received its first image with the red building (the stream's own timing)
        pictured = [first_red_frame(page, posted_ms, red + 40) for page, red in zip(pages, reds, strict=True)]
        after = [
            wait_until(
                p,
                artifacts / f"risk_red_{i}.png",
                lambda px, floor=before[i] + 0.002: red_share(px) > floor,
                timeout=15,
            )
            for i, p in enumerate(pages)
        ]
        (artifacts / "risk_latency.json").write_text(json.dumps({"alert_seen_s": seen, "red_picture_s": pictured}))
        for i, pixels in enumerate(after):
            assert red_share(pixels) > before[i] + 0.002, (before, [red_share(p) for p in after])
        assert "gas" in pages[1].get_by_test_id("alert-bldg-006").inner_text()
        fired = pages[1].get_by_test_id("alert-trigger-bldg-006").inner_text()  # the firing reading, apart
        assert "GAS-B006 30" in fired and "%LEL" in fired, fired
        print(f"alert seen after {seen} s, red pictures after {pictured} s")
    finally:
        for page in pages:
            page.context.close()


def test_acknowledge_from_the_panel_reaches_the_service_and_the_other_browser(chromium, server):
    first, second = (open_live(chromium, server.url + "?risk=on") for _ in range(2))
    try:
        first.get_by_test_id("ack-bldg-006").click(timeout=15_000)
        second.get_by_test_id("alert-state-bldg-006").get_by_text("acknowledged").wait_for(timeout=10_000)
        alert = next(a for a in api(server, "alerts") if a["asset"] == "bldg-006")
        assert alert["state"] == "acknowledged" and alert["acked_by"] == "browser"
        first.get_by_test_id("ack-bldg-006").wait_for(state="detached", timeout=30_000)  # the button goes
    finally:
        first.context.close()
        second.context.close()


def test_clicking_an_alert_inspects_the_asset_with_its_live_level_chart_and_history(chromium, server, artifacts):
    page = open_live(chromium, server.url + "?risk=on")
    try:
        page.get_by_test_id("alert-bldg-006").click(timeout=15_000)
        page.get_by_test_id("asset-risk").wait_for(timeout=15_000)
        assert "gas" in page.get_by_test_id("asset-risk-reason").inner_text()
        chart = page.get_by_test_id("chart-GAS-B006").locator("svg")
        assert chart.count() == 1 and chart.locator("polyline").count() == 1
        assert "acknowledged" in page.get_by_test_id("asset-risk").inner_text()
        page.screenshot(path=str(artifacts / "risk_inspector.png"))
    finally:
        page.context.close()


def test_a_browser_cannot_write_the_risk_state(chromium, server):
    page = open_live(chromium, server.url + "?risk=on")
    try:
        page.get_by_test_id("legend-red-count").wait_for(timeout=15_000)
        page.evaluate(
            "() => window.twinRisk.trame.state.set('risk', Object.assign({}, "
            "window.twinRisk.get('risk'), {alerts: [], summary: Object.assign({}, "
            "window.twinRisk.get('risk').summary, {levels: {red: 0, orange: 0, yellow: 0, blue: 0, "
            "nodata: 0, none: 0}})}))"
        )
        page.wait_for_function("() => window.twinRisk.get('risk').alerts.length > 0", timeout=10_000)
        assert page.get_by_test_id("legend-red-count").inner_text().strip() == "1"
    finally:
        page.context.close()


def test_briefing_mode_shows_the_kpis_and_tours_the_incidents(chromium, server, artifacts):
    post(server, "GAS-B006", 31.0)  # red (again, so the test also stands alone)
    post(server, "GAS-B021", 22.0)  # orange, 200 m away: an incident of its own (the tour goes by incident)
    page = open_live(chromium, server.url + "?mode=briefing&hold=4", 1920, 1080, ready="briefing")
    try:
        # no editing controls (the title bar may still be leaving as the kiosk appears)
        page.get_by_test_id("scene-name").wait_for(state="detached", timeout=10_000)
        assert page.get_by_test_id("scene-name").count() == 0
        kpis_agree(page, server)
        assert "twin-pulse" in page.get_by_test_id("kpi-red").get_attribute("class")  # something is red
        assert "twin-pulse" not in (page.get_by_test_id("kpi-orange").get_attribute("class") or "")
        page.wait_for_function("() => window.twinRisk.get('tour_target')", timeout=30_000)
        first = state(page, "tour_target")["asset"], state(page, "tour_camera")
        page.wait_for_function(
            f"() => (window.twinRisk.get('tour_target') || {{}}).asset !== {first[0]!r}", timeout=30_000
        )
        second = state(page, "tour_target")["asset"], state(page, "tour_camera")
        touring = {a["asset"] for a in api(server, "alerts") if a["level"] in ("red", "orange")}
        assert first[0] != second[0] and {first[0], second[0]} <= touring and {"bldg-006", "bldg-021"} <= touring
        assert np.linalg.norm(np.subtract(first[1]["focal_point"], second[1]["focal_point"])) > 5
        assert page.get_by_test_id("ticker").get_by_text("Building 6").count() >= 1
        time.sleep(2)
        page.screenshot(path=str(artifacts / "risk_briefing.png"))
    finally:
        page.context.close()


def test_a_briefing_screen_says_disconnected_when_the_server_goes(chromium, artifacts):
    with serve("--briefing") as served:
        page = open_live(chromium, served.url, 1920, 1080, ready="briefing")
        try:
            assert state(page, "mode") == "briefing"
            os.killpg(served.process.pid, signal.SIGTERM)
            page.get_by_test_id("disconnected").wait_for(timeout=10_000)
            page.screenshot(path=str(artifacts / "risk_disconnected.png"))
        finally:
            page.context.close()


def test_a_briefing_screen_reconnects_by_itself_when_the_server_is_back(chromium, artifacts):
    store = str(Path(tempfile.mkdtemp(prefix="twin-store-")) / "risk.duckdb")
    with serve("--briefing", "--store", store) as served:
        port = served.url.rstrip("/").rsplit(":", 1)[1]
        page = open_live(chromium, served.url, 1920, 1080, ready="briefing")
        os.killpg(served.process.pid, signal.SIGTERM)
        served.process.wait(timeout=20)
        page.get_by_test_id("disconnected").wait_for(timeout=10_000)
    try:
        with serve("--briefing", "--store", store, "--port", port):
            page.get_by_test_id("briefing").wait_for(timeout=60_000)  # the page reloaded itself
            page.get_by_test_id("scene-name").wait_for(state="detached", timeout=60_000)  # kiosk again
            assert drawn_share(wait_for_drawing(page, artifacts / "risk_reconnected.png")) > 0.05
            assert page.get_by_test_id("disconnected").count() == 0
            page.screenshot(path=str(artifacts / "risk_reconnected.png"))
    finally:
        page.context.close()


def stall(served, on: bool) -> None:
    request = urllib.request.Request(
        served.url + "test/stall", data=json.dumps({"on": on}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.loads(response.read())["stalled"] is on


def test_every_screen_says_so_when_rule_evaluation_is_stuck(chromium, artifacts):
    """A hung evaluation holds the service's lock; the screens keep running, say so, and recover."""
    harness = (str(Path(__file__).with_name("stalling_server.py")),)
    with serve(program=harness) as served:
        pages = [
            open_live(chromium, served.url + "?risk=on"),
            open_live(chromium, served.url + "?mode=briefing", 1920, 1080, ready="briefing"),
        ]
        try:
            stall(served, True)
            for page in pages:
                page.get_by_test_id("degraded").wait_for(timeout=20_000)
                page.wait_for_function(
                    "() => (window.twinRisk.get('risk').degraded_reason || '').includes('running for')", timeout=20_000
                )  # the hang, seen
            text = pages[1].get_by_test_id("degraded").inner_text()
            assert "DEGRADED" in text and "running for" in text and "levels may be out of date" in text
            assert state(pages[0], "risk")["summary"]["levels"]  # the last known picture stays
            pages[1].screenshot(path=str(artifacts / "risk_degraded.png"))
            assert api(served, "risk/summary")["degraded"]  # the API answers too
            stall(served, False)
            for page in pages:
                page.get_by_test_id("degraded").wait_for(state="detached", timeout=20_000)
        finally:
            stall(served, False)
            for page in pages:
                page.context.close()


def test_client_side_rendering_gets_the_new_colour_arrays(chromium, server, artifacts):
    page = open_live(chromium, server.url + "?risk=on")
    try:
        page.get_by_test_id("rendering-client").click()
        page.wait_for_function("() => window.twinRisk.get('rendering') === 'client'", timeout=10_000)
        page.evaluate("() => window.twinRisk.setRisk(window.twinRisk.trame, {on: true})")
        before = wait_for_drawing(page, artifacts / "risk_client_before.png")
        time.sleep(3)
        before = view_pixels(page, artifacts / "risk_client_before.png")
        post(server, "GAS-B015", 30.0)
        after = wait_until(
            page, artifacts / "risk_client_red.png", lambda p: red_share(p) > red_share(before) + 0.001, timeout=20
        )
        assert red_share(after) > red_share(before) + 0.001, (red_share(before), red_share(after))
    finally:
        page.context.close()
