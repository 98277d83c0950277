"""Dependencies point one way: the core knows nothing of trame, ifcopenshell or laspy."""

import ast

from conftest import ROOT

FORBIDDEN = ("trame", "ifcopenshell", "laspy", "lazrs", "wslink")


def imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_the_core_does_not_import_ui_or_format_libraries():
    offenders = [(str(path.relative_to(ROOT)), name)
                 for path in (ROOT / "twin").rglob("*.py")
                 for name in imported_modules(path)
                 if name.split(".")[0] in FORBIDDEN]
    assert offenders == []
