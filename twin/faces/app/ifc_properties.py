"""IFC property sets and quantities for the inspector, read in a separate process.

ifcopenshell is native code that can crash or hang on unlucky files, and the server must
survive that: the parse runs in one worker process (kept, with its parsed files, for the next
question) under a time limit; a crash or a hang costs that answer and a fresh worker, nothing else.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any

TIMEOUT_S = 60.0


def _read(path: str, global_id: str) -> dict[str, Any]:
    from loaders.ifc import properties

    return properties(path, global_id)


class PropertyReader:
    """Asks a worker process for one element's property sets and quantities."""

    def __init__(self, timeout_s: float = TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._pool: ProcessPoolExecutor | None = None

    def read(self, path: str, global_id: str) -> dict[str, Any]:
        """``{"psets": {...}, "quantities": {...}}``, or ``{"error": "..."}`` when the worker could not tell."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        try:
            return self._pool.submit(_read, path, global_id).result(self.timeout_s)
        except FutureTimeout:
            self._discard()
            return {"error": f"reading the properties timed out after {self.timeout_s:g} s"}
        except BrokenProcessPool:
            self._discard()
            return {"error": "the property reader crashed on this file"}
        except Exception as exc:  # an InputError from the loader, shown in the inspector
            return {"error": str(exc)}

    def _discard(self) -> None:
        """Drop a hung or dead worker (shutdown alone would wait for a hung one)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for process in list(getattr(pool, "_processes", {}).values()):  # no public way to kill a worker
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)


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
