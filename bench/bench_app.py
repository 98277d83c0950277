"""The browser app on the demo district: time from ``twin serve`` to the first drawn frame in
headless Chromium, and frame times while orbiting, for server-side and client-side rendering.

Baselines measured in the same run: ``twin render`` of the same scene in a fresh process (load,
first offscreen frame, no trame, no browser) for start-up; an offscreen VTK render of the same
scene per orbit step for frame time.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import browser, drawn_share, serve, view_pixels  # noqa: E402
from common import best_time, report  # noqa: E402

DEMO = ROOT / "scenes" / "demo.toml"
ORBIT_STEPS = 60
COUNT_FRAMES = """
window.__frames = 0;  // images of the stream: each arrives as a blob shown through an object URL
const makeUrl = URL.createObjectURL;
URL.createObjectURL = function (...args) { window.__frames++; return makeUrl.apply(this, args); };
window.__raf = 0;
const tick = () => { window.__raf++; requestAnimationFrame(tick); };
requestAnimationFrame(tick);
"""


def raw_first_frame() -> float:
    """``twin render`` in a fresh process: load the scene and draw one offscreen frame."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "twin.faces.cli", "render", str(DEMO), "-o", f"{tmp}/x.png"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started


def raw_orbit_frame() -> float:
    """Seconds per offscreen frame of the same scene while the camera turns (llvmpipe, no AA)."""
    from twin.faces.rendering import build_view
    from twin.loading import load

    scene = build_view(load(DEMO), off_screen=True, size=(620, 724))
    scene.plotter.render()

    def orbit() -> None:
        for _ in range(ORBIT_STEPS):
            scene.plotter.camera.Azimuth(3)
            scene.plotter.ren_win.Render()

    seconds, _ = best_time(orbit, repeat=2)
    scene.plotter.close()
    return seconds / ORBIT_STEPS


def in_browser(rendering: str) -> tuple[float, float, float]:
    """(seconds to the first drawn frame, browser frames/s while orbiting, server ms per frame)."""
    started = time.perf_counter()
    with serve("--rendering", rendering) as served, browser() as chromium:
        serving = time.perf_counter() - started
        page = chromium.new_page(viewport={"width": 1280, "height": 800})
        page.add_init_script(COUNT_FRAMES)
        page.goto(served.url)
        page.get_by_test_id("scene-name").wait_for(timeout=60_000)
        laid_out = time.perf_counter() - started
        shot = Path(tempfile.gettempdir()) / "bench_app_view.png"
        while drawn_share(view_pixels(page, shot)) < 0.05:
            time.sleep(0.05)
        first = time.perf_counter() - started
        print(
            f"   {rendering}: URL printed after {serving:.1f} s, page laid out after {laid_out:.1f} s, "
            f"first frame after {first:.1f} s",
            flush=True,
        )
        time.sleep(2)
        box = page.locator(".twin-view").bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        frames0, raf0 = page.evaluate("[window.__frames, window.__raf]")
        t0 = time.perf_counter()
        for i in range(ORBIT_STEPS):
            page.mouse.move(x + 4 * (i + 1), y, steps=1)
            time.sleep(1 / 30)
        elapsed = time.perf_counter() - t0
        frames1, raf1 = page.evaluate("[window.__frames, window.__raf]")
        page.mouse.up()
        stats = page.evaluate(f"window.trame.trigger('twin_frame', [window.trame.state.get('my_view'), {elapsed}])")
        print(f"   {rendering}: {ORBIT_STEPS} mouse moves in {elapsed:.1f} s; server renders {stats}", flush=True)
        server_ms = stats.get("median_ms") or 0.0
        fps = (frames1 - frames0 if rendering == "server" else raf1 - raf0) / elapsed
        return first, fps, float(server_ms)


def main() -> None:
    raw_start = raw_first_frame()
    raw_frame = raw_orbit_frame()
    for rendering in ("server", "client"):
        first, fps, server_ms = in_browser(rendering)
        report(f"app {rendering}-side: serve start -> first frame in the browser", first, raw_start)
        label = "images/s received" if rendering == "server" else "browser frames/s (requestAnimationFrame)"
        ours = 1 / fps if fps else float("inf")
        report(f"app {rendering}-side: seconds per frame while orbiting ({fps:.1f} {label})", ours, raw_frame)
        if rendering == "server":
            print(f"   server render time of the last frame: {server_ms:.1f} ms", flush=True)


if __name__ == "__main__":
    main()
