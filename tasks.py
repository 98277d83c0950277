"""The two Quick start commands, with nothing but Python 3.11+ and pip on the machine.

``python3 tasks.py demo``  installs CIM Twin in ``.venv`` and serves the demo district in the browser.
``python3 tasks.py test``  installs it with the test tools (and Debian's ``chromium`` for the browser
                           tests) and runs the whole test suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
CHROMIUM = Path("/usr/bin/chromium")


def run(*command: str | Path, **kwargs) -> None:
    print("+", " ".join(map(str, command)), flush=True)
    subprocess.run([str(c) for c in command], check=True, **kwargs)


def install(extras: str = "") -> None:
    """A virtual environment with CIM Twin installed in editable mode (idempotent, quick when done)."""
    if not (BIN / "python").exists():
        venv.create(VENV, with_pip=True)
        run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", f"{ROOT}{extras}")


def install_chromium() -> None:
    """Debian's chromium for the browser tests (Playwright cannot download its own browser here)."""
    if CHROMIUM.exists():
        return
    if not shutil.which("apt-get"):
        sys.exit("tasks.py: the browser tests need Debian's chromium at /usr/bin/chromium (apt-get not found)")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(*sudo, "apt-get", "update", "-qq", env=env)
    run(*sudo, "apt-get", "install", "-y", "-qq", "chromium", env=env)


def demo() -> int:
    install()
    return subprocess.call([str(BIN / "twin"), "serve", "--open", *sys.argv[2:]])


def test() -> int:
    install("[test]")
    install_chromium()
    env = {**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": "vtkEGLRenderWindow"}
    return subprocess.call([str(BIN / "python"), "-m", "pytest", *sys.argv[2:]], cwd=ROOT, env=env)


if __name__ == "__main__":
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python3 tasks.py {{{'|'.join(commands)}}} [args]")
    sys.exit(commands[sys.argv[1]]())
