"""Dependencies point one way: the core knows nothing of trame, ifcopenshell or laspy; the user
interface (``twin/ui``) is the one part of ``twin`` that may import trame, and it too stays clear
of the format libraries (loaders own them)."""

import ast

from conftest import ROOT

FORMATS = ("ifcopenshell", "laspy", "lazrs")
UI = ("trame", "trame_vtk", "trame_vuetify", "trame_client", "wslink")


def imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def offenders(paths, forbidden):
    return [(str(path.relative_to(ROOT)), name) for path in paths for name in imported_modules(path)
            if name.split(".")[0] in forbidden]


def test_the_core_does_not_import_ui_or_format_libraries():
    core = [p for p in (ROOT / "twin").rglob("*.py") if p.relative_to(ROOT / "twin").parts[0] != "ui"]
    assert offenders(core, (*FORMATS, *UI)) == []


def test_the_user_interface_does_not_import_format_libraries():
    assert offenders((ROOT / "twin" / "ui").rglob("*.py"), FORMATS) == []
