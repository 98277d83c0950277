"""IFC property sets and quantities for the inspector, read in a separate process.

ifcopenshell is native code that can crash or hang on unlucky files, and the server must
survive that: the parse runs in a :class:`twin.workers.ResidentWorker` (kept, with its parsed
files, for the next question) under a time and a memory limit; a crash or a hang costs that
answer and a fresh worker, nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import loaders
from twin.errors import TaskError, WorkerCrash, WorkerOutOfMemory, WorkerTimeout
from twin.workers import ResidentWorker, Task, half_the_memory_mb

TIMEOUT_S = 60.0
#: ``loaders.ifc.properties``, importable in the worker wherever the twin is installed or checked out
PROPERTIES = Task("loaders.ifc.properties", "properties", Path(loaders.__file__).resolve().parent.parent)


class PropertyReader:
    """Asks a worker process for one element's property sets and quantities."""

    def __init__(self, timeout_s: float = TIMEOUT_S, memory_mb: int | None = None) -> None:
        self.timeout_s = timeout_s
        self._worker = ResidentWorker(memory_mb=memory_mb or half_the_memory_mb())

    def read(self, path: str, global_id: str) -> dict[str, Any]:
        """``{"psets": {...}, "quantities": {...}}``, or ``{"error": "..."}`` when the worker could not tell."""
        try:
            reply: dict[str, Any] = self._worker.call(PROPERTIES, path, global_id, timeout_s=self.timeout_s)
            return reply
        except WorkerTimeout:
            return {"error": f"reading the properties timed out after {self.timeout_s:g} s"}
        except WorkerOutOfMemory:
            return {"error": "reading the properties ran out of memory"}
        except WorkerCrash:
            return {"error": "the property reader crashed on this file"}
        except TaskError as exc:  # an InputError from the loader, shown in the inspector
            return {"error": exc.message}

    def close(self) -> None:
        """End the worker process (a later read starts a new one)."""
        self._worker.stop()


def property_sections(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """Inspector sections, one per property set and quantity set (values as text)."""
    if "error" in reply:
        return [
            {"title": "Property sets", "icon": "mdi-alert-circle-outline", "rows": [["Not available", reply["error"]]]}
        ]
    sections = []
    for group, icon in (("psets", "mdi-tag-multiple-outline"), ("quantities", "mdi-ruler-square")):
        for name, values in sorted((reply.get(group) or {}).items()):
            rows = [[key, _text(value)] for key, value in values.items() if value not in (None, "")]
            if rows:
                sections.append({"title": name, "icon": icon, "rows": rows})
    return sections


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
