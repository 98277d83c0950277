"""Shared test fixtures: paths to the real sample files carried in ``data_samples/``, and the
``twin`` command run as a user runs it.

The suite runs against whichever ``twin`` is installed: ``python3 tasks.py test`` installs the built
wheel in a fresh venv and sets ``TWIN_TEST_INSTALLED=1``, and then a ``twin`` imported from this
checkout is an error (the tests would check the source tree, not the package users get).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data_samples"
SCENES = ROOT / "scenes"
DEMO = SCENES / "demo.toml"
ARTIFACTS = ROOT / "artifacts"
#: The working folder of every ``twin`` subprocess: empty and outside the checkout, so ``python -m``
#: cannot pick the source tree up from the current folder (paths given to ``twin`` are absolute).
USER_CWD = Path(tempfile.mkdtemp(prefix="twin-cwd-"))
atexit.register(shutil.rmtree, USER_CWD, True)

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
#: The user cache (scenes, tile trees) of this run alone: no test reads what another run kept
CACHE = Path(tempfile.mkdtemp(prefix="twin-cache-"))
atexit.register(shutil.rmtree, CACHE, True)
os.environ.setdefault("CIM_TWIN_CACHE", str(CACHE))


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to test the checkout's sources when the run is meant for the installed package."""
    import twin

    source = (ROOT / "twin" / "__init__.py").resolve()  # the checkout's (.venv-test may live inside it)
    if os.environ.get("TWIN_TEST_INSTALLED") == "1" and Path(twin.__file__).resolve() == source:
        raise pytest.UsageError(f"TWIN_TEST_INSTALLED=1 but twin is imported from the checkout: {twin.__file__}")


def twin_cli(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``twin ARGS`` in a subprocess of this Python (its installed ``twin``), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "twin.faces.cli", *map(str, args)],
        cwd=USER_CWD,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


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
