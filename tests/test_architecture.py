"""Dependencies point one way (docs/architecture.md): core model <- loaders; core <- risk; and the
faces (app, REST API, CLI) on top of all three.

Two checks for each rule: every ``import`` statement in the source, wherever it sits (a lazy
import inside a function is still a dependency), and what a fresh interpreter really holds in
``sys.modules`` after importing a part, so a dependency smuggled in through another module
(or a library's side effect) is caught too.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import loaders
import twin

TWIN = Path(twin.__file__).resolve().parent
LOADERS = Path(loaders.__file__).resolve().parent

FORMATS = ("ifcopenshell", "laspy", "lazrs", "rasterio", "mapbox_earcut")
SCREEN = ("trame", "trame_vtk", "trame_vuetify", "trame_client", "trame_server", "wslink")
SERVER = ("aiohttp",)


def parts() -> dict[str, list[Path]]:
    """The source files of each part, by where they sit in the package.

    ``twin/bundled`` (in the wheel) is the demo's data with the scripts that made it, not code of the twin.
    """
    core = [p for p in TWIN.rglob("*.py") if p.relative_to(TWIN).parts[0] not in ("faces", "risk", "bundled")]
    return {
        "core": core,
        "risk": sorted((TWIN / "risk").rglob("*.py")),
        "faces": sorted((TWIN / "faces").rglob("*.py")),
        "loaders": sorted(LOADERS.rglob("*.py")),
    }


def imported_modules(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            if node.module == "twin":  # ``from twin import faces``: a submodule by another spelling
                yield from (f"twin.{alias.name}" for alias in node.names)


def offenders(paths: list[Path], forbidden: tuple[str, ...]) -> list[tuple[str, str]]:
    """(file, module) for each import of a forbidden top-level package or dotted prefix."""

    def matches(name: str) -> bool:
        return any(name == f or name.startswith(f + ".") for f in forbidden)

    return [
        (path.name if path.is_absolute() else str(path), name)
        for path in paths
        for name in imported_modules(path)
        if matches(name)
    ]


def test_the_core_imports_no_loader_risk_face_screen_or_format_library() -> None:
    assert offenders(parts()["core"], ("loaders", "twin.risk", "twin.faces", *SCREEN, *SERVER, *FORMATS)) == []


def test_the_risk_side_imports_no_face_screen_loader_or_format_library() -> None:
    assert offenders(parts()["risk"], ("twin.faces", "loaders", *SCREEN, *SERVER, *FORMATS)) == []


def test_loaders_import_no_face_risk_or_screen() -> None:
    assert offenders(parts()["loaders"], ("twin.faces", "twin.risk", *SCREEN, *SERVER)) == []


def test_only_the_faces_import_trame_or_aiohttp_and_they_leave_formats_to_the_loaders() -> None:
    outside = parts()["core"] + parts()["risk"] + parts()["loaders"]
    assert offenders(outside, (*SCREEN, *SERVER)) == []
    assert offenders(parts()["faces"], FORMATS) == []


def modules_after_import(*names: str) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {list(names)!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return json.loads(result.stdout)


def module_names(part: str) -> list[str]:
    root = TWIN.parent
    names = []
    for path in parts()[part]:
        dotted = ".".join(path.relative_to(root).with_suffix("").parts)
        names.append(dotted.removesuffix(".__init__"))
    return names


@pytest.mark.parametrize(
    ("part", "forbidden"),
    [
        ("core", ("loaders", "twin.risk", "twin.faces", *SCREEN, *SERVER, *FORMATS)),
        ("risk", ("loaders", "twin.faces", *SCREEN, *SERVER, *FORMATS)),
    ],
)
def test_importing_a_part_loads_nothing_it_must_not_know(part: str, forbidden: tuple[str, ...]) -> None:
    loaded = modules_after_import(*module_names(part))
    assert [m for m in loaded if any(m == f or m.startswith(f + ".") for f in forbidden)] == []
