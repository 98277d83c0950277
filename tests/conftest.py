"""Shared test fixtures: paths to the real sample files carried in ``data_samples/``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data_samples"
SCENES = ROOT / "scenes"
DEMO = SCENES / "demo.toml"
ARTIFACTS = ROOT / "artifacts"

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots and other test artefacts (kept after the run for people to look at)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def demo_server():
    """``twin serve`` on the demo district (fresh live-risk store), one per test module."""
    from browser_support import serve

    with serve() as served:
        yield served


@pytest.fixture(scope="module")
def chromium():
    """Headless Debian chromium driven by Playwright, one per test module."""
    from browser_support import browser

    with browser() as instance:
        yield instance


@pytest.fixture(scope="module")
def page(demo_server, chromium):
    """One page on the demo district for a module's tests in turn (a module may define its own)."""
    from browser_support import open_page

    page = open_page(chromium, demo_server.url)
    yield page
    page.context.close()
