"""The two Quick start commands, with nothing but Python 3.11+ and pip on the machine.

``python3 tasks.py demo``  installs CIM Twin in ``.venv`` and serves the demo district in the browser.
``python3 tasks.py test``  what CI runs (``.ci/run``): installs ``.venv`` with the test tools (and Debian's
                           ``chromium``, ``fonts-noto-cjk`` and ``mosquitto``, and npm's ``cesium`` and
                           ``gltf-validator`` in ``.npm-tools``, for the browser, MQTT and interop tests),
                           runs ruff (lint and format) and mypy, builds the wheel, installs it in a fresh
                           ``.venv-test`` and runs the test suite against that installed package, not the
                           source tree.  Extra arguments go to pytest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
TEST_VENV = ROOT / ".venv-test"
DIST = ROOT / "dist"
CHROMIUM = Path("/usr/bin/chromium")
NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
NPM_TOOLS = ROOT / ".npm-tools"
NPM_PACKAGES = ("cesium", "gltf-validator")


def bin_dir(env: Path) -> Path:
    return env / ("Scripts" if os.name == "nt" else "bin")


BIN = bin_dir(VENV)


def run(*command: str | Path, **kwargs) -> None:
    print("+", " ".join(map(str, command)), flush=True)
    subprocess.run([str(c) for c in command], check=True, **kwargs)


def create_venv(env: Path) -> None:
    venv.create(env, with_pip=True)
    run(bin_dir(env) / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")


def install(extras: str = "") -> None:
    """A virtual environment with CIM Twin installed in editable mode (idempotent, quick when done)."""
    if not (BIN / "python").exists():
        create_venv(VENV)
    run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", f"{ROOT}{extras}")


def apt_install(packages: list[str], why: str) -> None:
    """Install Debian packages (as root, or through sudo) unless the list is empty."""
    if not packages:
        return
    if not shutil.which("apt-get"):
        sys.exit(f"tasks.py: {why} need Debian's {' and '.join(packages)} (apt-get not found)")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(*sudo, "apt-get", "update", "-qq", env=env)
    run(*sudo, "apt-get", "install", "-y", "-qq", *packages, env=env)


def install_chromium() -> None:
    """Debian's chromium for the browser tests (Playwright cannot download its own browser here), and
    ``fonts-noto-cjk`` for the Chinese text of the pages and of rendered pictures."""
    missing = [name for name, path in (("chromium", CHROMIUM), ("fonts-noto-cjk", NOTO_CJK)) if not path.exists()]
    apt_install(missing, "the browser tests")


def install_npm() -> None:
    """CesiumJS and the Khronos glTF validator for the 3D Tiles interop tests, in ``.npm-tools/``.

    Idempotent: nothing runs when every package is already there; Debian's ``npm`` when missing.
    """
    modules = NPM_TOOLS / "node_modules"
    if all((modules / name / "package.json").exists() for name in NPM_PACKAGES):
        return
    apt_install([] if shutil.which("npm") else ["npm"], "the 3D Tiles interop tests")
    run("npm", "install", "--no-audit", "--no-fund", "--prefix", NPM_TOOLS, *NPM_PACKAGES)


def install_mosquitto() -> None:
    """Debian's ``mosquitto`` MQTT broker, which the MQTT tests, the feed drill and ``twin serve --mqtt
    local`` start as a plain process on a loopback port (the packaged service is not used)."""
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        apt_install(["mosquitto"], "the MQTT tests")


def install_poppler() -> None:
    """Debian's ``poppler-utils``, whose ``pdftoppm`` renders the situation reports to PNG in the
    tests, so a report is looked at as a picture and not only parsed."""
    if not shutil.which("pdftoppm"):
        apt_install(["poppler-utils"], "the situation-report tests")


def lint() -> None:
    """ruff (lint, then format) and mypy with the configuration in pyproject.toml; any finding fails."""
    run(BIN / "ruff", "check", ".", cwd=ROOT)
    run(BIN / "ruff", "format", "--check", ".", cwd=ROOT)
    run(BIN / "mypy", cwd=ROOT)


def build_wheel() -> Path:
    """The wheel users get, built from scratch (a stale ``build/`` could carry removed modules into it)."""
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    shutil.rmtree(DIST, ignore_errors=True)
    run(BIN / "python", "-m", "build", "--wheel", "--outdir", DIST, ROOT)
    (wheel,) = DIST.glob("*.whl")
    check_wheel(wheel)
    return wheel


def check_wheel(wheel: Path) -> None:
    """Every package and package file of the source tree is in the wheel, and the bundled demo scene.

    pyproject.toml names the packages one by one (the bundled demo needs that), so one added to the
    tree and not to that list would otherwise only show as an ImportError for users.
    """
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {"twin/bundled/scenes/demo.toml"}
    for top in ("twin", "loaders"):
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                wanted.add(path.relative_to(ROOT).as_posix())
    missing = sorted(wanted - names)
    if missing:
        sys.exit(
            f"tasks.py: {wheel.name} lacks {len(missing)} file(s) of the source tree, e.g. {missing[:5]}\n"
            "(a new package goes in [tool.setuptools] packages, a new data file in package-data, pyproject.toml)"
        )
    print(f"{wheel.name}: {len(names)} files, {wheel.stat().st_size / 1e6:.1f} MB", flush=True)


def install_wheel(wheel: Path) -> Path:
    """A fresh ``.venv-test`` (recreated each run) with the wheel and its test extras; its bin folder."""
    shutil.rmtree(TEST_VENV, ignore_errors=True)
    create_venv(TEST_VENV)
    test_bin = bin_dir(TEST_VENV)
    run(test_bin / "python", "-m", "pip", "install", "--quiet", f"{wheel}[test]")
    # the bundled demo's manifest names only files that are there (read from outside the checkout)
    with tempfile.TemporaryDirectory() as elsewhere:
        check = "import twin.manifest as m, twin.resources as r; m.read_manifest(r.demo_scene())"
        run(test_bin / "python", "-c", check, cwd=elsewhere)
    return test_bin


def demo() -> int:
    install()
    if "local" in sys.argv[2:] or "--mqtt=local" in sys.argv[2:]:  # twin serve --mqtt local starts a broker
        install_mosquitto()
    return subprocess.call([str(BIN / "twin"), "serve", "--open", *sys.argv[2:]])


def test() -> int:
    install("[test]")
    install_chromium()
    install_npm()
    install_mosquitto()
    install_poppler()
    lint()
    test_bin = install_wheel(build_wheel())
    env = {**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": "vtkEGLRenderWindow", "TWIN_TEST_INSTALLED": "1"}
    # pytest's own script (not ``python -m``, which would put the checkout on sys.path): the tests
    # import the installed twin; tests/conftest.py refuses to run if it is the checkout's
    return subprocess.call([str(test_bin / "pytest"), *sys.argv[2:]], cwd=ROOT, env=env)


if __name__ == "__main__":
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python3 tasks.py {{{'|'.join(commands)}}} [args]")
    sys.exit(commands[sys.argv[1]]())
