"""The IFC job that runs inside a worker process: parse the file and run the geometry kernel.

:mod:`loaders.ifc.runner` runs :func:`run_job` in children of a :class:`twin.workers.ForkServer`
whose :func:`warm` imported ifcopenshell once, so each load is a fresh fork that starts in
milliseconds, under the load's time and memory limits.  The module is imported there by its
folder, as a script with its siblings only: not the twin, pyvista or VTK, so the memory limit
measures the kernel.  The kernel (OpenCASCADE through ifcopenshell) can segfault, abort, loop
or eat memory on unlucky files; there that only ends the child.  Results go to the ``.npz``
file named in the request; a problem with the file is raised as :class:`FileProblem`.
"""

from __future__ import annotations

import json
import os
import re
import resource
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

if __package__:
    from loaders.ifc import chunks, extract, georef, semantics
else:  # run as a script: the siblings only
    # mypy checks the package form above; this one exists only inside the worker process
    import chunks  # type: ignore[import-not-found, no-redef]
    import extract  # type: ignore[import-not-found, no-redef]
    import georef  # type: ignore[import-not-found, no-redef]
    import semantics  # type: ignore[import-not-found, no-redef]

_ENTITY = re.compile(rb"^\s*#\d+\s*=\s*(IFC\w+)\s*\(", re.MULTILINE | re.IGNORECASE)


class FileProblem(Exception):
    """A problem with the file's content that the worker can put in words."""


def fault(kind: str | None, megabytes: int | None) -> None:
    """Test-only hook: misbehave as the kernel sometimes does (``abort``, ``segfault``, ``hang``, ``allocate``)."""
    if kind == "abort":
        os.abort()
    if kind == "segfault":
        import ctypes

        ctypes.string_at(0)
    if kind == "hang":
        while True:
            time.sleep(1)
    if kind == "allocate":
        hog = np.ones(((megabytes or 1024) * 4) << 20, dtype=np.uint8)
        hog.sum()


def dropped_entities(path: Path, schema: str) -> dict[str, int]:
    """Entity types written in the file that ``schema`` does not have (ifcopenshell drops them)."""
    import ifcopenshell.ifcopenshell_wrapper as wrapper

    known = wrapper.schema_by_name(schema)
    counts = Counter(name.decode().upper() for name in _ENTITY.findall(path.read_bytes()))
    dropped = {}
    for name, n in counts.items():
        try:
            known.declaration_by_name(name)
        except Exception:  # not in the schema
            dropped[name] = n
    return dict(sorted(dropped.items()))


def run(request: dict[str, Any]) -> dict[str, np.ndarray]:
    """One job: everything (``role: all``, when one process does it all), or one of several
    workers (``role: worker``) that mesh the chunks they claim, the first also reading the
    meaning of the elements (``meta``) before it joins the others."""
    import ifcopenshell

    path = Path(request["path"])
    options = request.get("options", {})
    started = time.perf_counter()
    model = ifcopenshell.open(str(path))
    opened = time.perf_counter()
    if not model.by_type("IfcProject"):
        raise FileProblem("no IfcProject: not a usable IFC model")
    products = semantics.shaped_products(model, bool(options.get("spaces", True)))
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"seconds": {"parse": round(opened - started, 3)}}
    if request["role"] == "all" or request.get("meta"):
        begun = time.perf_counter()
        meaning, about = _meaning(model, products, path, bool(request.get("fallback")))
        arrays.update(meaning)
        meta.update(about)
        meta["seconds"]["meta"] = round(time.perf_counter() - begun, 3)
    begun = time.perf_counter()
    geometry, log = _geometry(model, products, request)
    arrays.update(geometry.arrays())
    meta["log"] = {str(k): v for k, v in log.items()}
    meta["seconds"]["geometry"] = round(time.perf_counter() - begun, 3)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    meta["seconds"]["cpu"] = round(usage.ru_utime + usage.ru_stime, 3)
    meta["peak_mb"] = round(usage.ru_maxrss / 1024, 1)
    arrays["meta"] = np.array(json.dumps(meta))
    return arrays


def _geometry(model: Any, products: list[Any], request: dict[str, Any]) -> tuple[extract.Geometry, dict[int, str]]:
    """All the shapes in one iterator (``role: all``), or those of the chunks this worker claims."""
    options, threads = request.get("options", {}), int(request.get("threads", 1))
    if request["role"] == "all":
        return extract.iterate(model, options, None, threads)
    plan = chunks.plan(model, products, int(request["workers"]))
    geometry, log = extract.Geometry(), {}
    for index in chunks.claimed(Path(request["claims"]), len(plan)):
        log.update(extract.iterate(model, options, plan[index], threads, geometry)[1])
    return geometry, log


def _meaning(
    model: Any, products: list[Any], path: Path, fallback: bool
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Rows per product, the spatial tree, units and georeferencing, port connections."""
    columns, steps = semantics.rows(model, products)
    arrays = {f"r_{name}": values for name, values in columns.items()}
    arrays["r_step"] = steps
    meta = {
        "schema": model.schema,
        "declared": georef.read(model),
        "spatial_tree": semantics.spatial_tree(model, {p.id() for p in products}),
        "connections": semantics.connections(model),
        "dropped": dropped_entities(path, model.schema_identifier) if fallback else {},
    }
    return arrays, meta


def run_job(request: dict[str, Any]) -> None:
    """One conversion in a forked child: the work, its arrays written whole to ``request["out"]``."""
    fault(request.get("fault"), request.get("memory_mb"))
    arrays = run(request)
    out = Path(request["out"])
    partial = out.with_suffix(".partial.npz")
    np.savez(partial, **arrays)  # type: ignore[arg-type]  # numpy's stub takes **kwds for allow_pickle
    os.replace(partial, out)


def warm() -> None:
    """Run once in the fork server, so that every fork has them: the kernel, the utilities, and the
    compiled EXPRESS rules ifcopenshell imports the first time an absent or derived attribute is
    asked for (~45 ms each)."""
    import importlib

    import ifcopenshell.geom  # noqa: F401
    import ifcopenshell.util.element  # noqa: F401
    import ifcopenshell.util.system  # noqa: F401
    import ifcopenshell.util.unit  # noqa: F401

    for schema in ("IFC2X3", "IFC4", "IFC4X3", "IFC4X3_ADD2"):
        importlib.import_module(f"ifcopenshell.express.rules.{schema}")
