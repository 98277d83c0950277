"""Property sets and quantities of one element, read on demand for the inspector.

The geometry never needs them, so they are not part of a load: the app asks for one
element at a time.  The parsed file is kept for the next question about the same file.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from loaders.ifc import header
from twin.errors import InputError


@lru_cache(maxsize=4)
def _model(path: str, mtime_ns: int, size: int) -> Any:
    import ifcopenshell

    source = Path(path)
    info = header.check(source)
    if not info.needs_fallback:
        return ifcopenshell.open(path)
    with tempfile.TemporaryDirectory(prefix="cim-twin-ifc-") as tmp:
        return ifcopenshell.open(str(header.fallback_copy(source, info, Path(tmp) / source.name)))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "id"}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def properties(path: str | Path, global_id: str) -> dict[str, Any]:
    """``{"id", "class", "name", "psets": {...}, "quantities": {...}}`` of the element ``global_id``.

    Property sets include those inherited from the element's type.
    """
    import ifcopenshell.util.element as ue

    path = Path(path)
    stat = path.stat()
    model = _model(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    try:
        element = model.by_guid(global_id)
    except RuntimeError:
        raise InputError(path, f"no element with GlobalId {global_id!r}") from None
    return {
        "id": global_id,
        "class": element.is_a(),
        "name": getattr(element, "Name", None),
        "psets": _plain(ue.get_psets(element, psets_only=True)),
        "quantities": _plain(ue.get_psets(element, qtos_only=True)),
    }
