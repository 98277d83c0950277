"""Start ``twin serve`` as a user would and drive it with headless Chromium (Debian's package)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from conftest import USER_CWD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Served:
    """A running ``twin serve`` process and the URL it printed."""

    def __init__(self, process: subprocess.Popen, url: str, log: list[str]) -> None:
        self.process, self.url, self.log = process, url, log


@contextlib.contextmanager
def serve(
    *args: str, timeout: float = 120.0, env: dict | None = None, program: tuple[str, ...] = ("-m", "twin.faces.cli")
) -> Iterator[Served]:
    """Run ``twin serve --port 0 ARGS`` until it prints its URL; stop it afterwards.

    Each server gets a fresh live-risk store unless ARGS name one, so runs do not share readings.
    ``program`` runs another entry point with the same arguments (a test harness around ``twin``).
    """
    if "--store" not in args:
        args = (*args, "--store", str(Path(tempfile.mkdtemp(prefix="twin-store-")) / "risk.duckdb"))
    process = subprocess.Popen(
        [sys.executable, *program, "serve", "--port", "0", *args],
        cwd=USER_CWD,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    log: list[str] = []
    found: list[str] = []

    def pump() -> None:
        for line in process.stdout:
            log.append(line)
            match = re.search(r"(http://\S+/)", line)
            if match and not found:
                found.append(match.group(1))

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not found and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        if not found:
            raise RuntimeError("twin serve did not print its URL:\n" + "".join(log))
        yield Served(process, found[0], log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


#: how long a page may take to come up: a ceiling, not a goal (load 15 on 2 cores took over 60 s)
READY_MS = 180_000


def open_page(chromium, url: str, width: int = 1280, height: int = 800, ready: str = "scene-name"):
    """A new browser context (its own cookies and client-only state, as another user) on ``url``,
    once the element with test id ``ready`` shows."""
    context = chromium.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    page.goto(url)
    page.get_by_test_id(ready).wait_for(timeout=READY_MS)
    return page


@contextlib.contextmanager
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def view_pixels(page, path: Path, selector: str = ".twin-view") -> np.ndarray:
    """Screenshot of the 3D view area as an RGB array (also saved to ``path`` for people to look at)."""
    from PIL import Image

    page.locator(selector).first.screenshot(path=str(path))
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


#: the scene's background and the page's (shown until the view's first image arrives)
BACKGROUNDS = ((31, 37, 48), (18, 22, 29))


def drawn_share(pixels: np.ndarray, backgrounds=BACKGROUNDS, tolerance: int = 12) -> float:
    """Share of pixels that differ from every background colour."""
    differs = [np.any(np.abs(pixels - np.array(bg)) > tolerance, axis=2) for bg in backgrounds]
    return float(np.logical_and.reduce(differs).mean())


def colour_share(pixels: np.ndarray, colour, tolerance: int = 40) -> float:
    """Share of pixels close to one colour (an overlay's, shaded a little by the lights)."""
    return float((np.abs(pixels - np.array(colour)).max(axis=2) <= tolerance).mean())


def wait_for_drawing(page, path: Path, minimum: float = 0.05, timeout: float = 60.0) -> np.ndarray:
    """Screenshots until the view shows at least ``minimum`` drawn pixels (first frames take a while)."""
    deadline = time.monotonic() + timeout
    while True:
        pixels = view_pixels(page, path)
        if drawn_share(pixels) >= minimum or time.monotonic() > deadline:
            return pixels
        time.sleep(0.5)


def settled_pixels(page, path: Path, timeout: float = 60.0) -> np.ndarray:
    """Screenshots of the drawn view until two in a row agree (the stream has settled)."""
    previous = wait_for_drawing(page, path, timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.7)
        current = view_pixels(page, path)
        if current.shape == previous.shape and np.abs(current - previous).max(axis=2).mean() < 0.5:
            return current
        previous = current
    return previous


def wait_until(page, path: Path, condition, timeout: float = 30.0) -> np.ndarray:
    """Screenshots until ``condition(pixels)`` holds or the time is up; returns the last one."""
    deadline = time.monotonic() + timeout
    while True:
        pixels = view_pixels(page, path)
        if condition(pixels) or time.monotonic() > deadline:
            return pixels
        time.sleep(0.5)


#: counts the four-colour red pixels of every image of the view's stream as it arrives (Date.now())
WATCH_FRAMES = """
window.__frames = [];
const canvas = document.createElement('canvas'); canvas.width = 320; canvas.height = 200;
const ctx = canvas.getContext('2d', {willReadFrequently: true});
window.__countRed = (img) => {
  if (!img || !img.complete || !img.naturalWidth) return 0;
  ctx.drawImage(img, 0, 0, 320, 200);
  const d = ctx.getImageData(0, 0, 320, 200).data;
  let red = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] > 100 && d[i + 1] < 45 && d[i + 2] < 45) red++;
  return red;
};
const watch = (img) => img.addEventListener('load', () => window.__frames.push([Date.now(), window.__countRed(img)]));
document.querySelectorAll('.twin-view img').forEach(watch);
new MutationObserver(() => document.querySelectorAll('.twin-view img').forEach((img) => {
  if (!img.__twin) { img.__twin = true; watch(img); }
})).observe(document.body, {childList: true, subtree: true});
"""


def watch_frames(page) -> int:
    """Record (arrival ms, red pixels of 320x200) for every image the page's view receives from now;
    returns the red pixels of the image shown now."""
    page.evaluate(WATCH_FRAMES)
    return int(page.evaluate("() => window.__countRed(document.querySelector('.twin-view img'))"))


def first_red_frame(page, since_ms: float, above: int, timeout: float = 15.0) -> float | None:
    """Seconds from ``since_ms`` (epoch ms) to the first image with more than ``above`` red pixels."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hit = page.evaluate(f"() => window.__frames.filter(([t, red]) => t >= {since_ms} && red > {above})")
        if hit:
            return (hit[0][0] - since_ms) / 1000
        time.sleep(0.02)
    return None
