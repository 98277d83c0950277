"""IFC buildings and infrastructure: fast, faithful and crash-proof.

``load(path, options)`` checks the STEP header, then runs ifcopenshell's geometry iterator in
worker processes with a time and a memory limit (:mod:`loaders.ifc.runner`, on :mod:`twin.workers`), caches their
numpy output on disk (:mod:`loaders.ifc.cache`) and turns it into three layers: ``elements``,
translucent ``glazing`` and hidden ``spaces`` (:mod:`loaders.ifc.build`).  Every product with
body geometry is an asset whose id is its GlobalId.  ``properties(path, global_id)`` reads
property sets and quantities on demand for the inspector.

The workers' fork server is started the moment a file misses the cache, before this process
imports what it needs to assemble the layers (or earlier still with ``warm_up()``), so its
imports of ifcopenshell overlap ours.  A file over 1 MB is meshed by one worker per core, as
far as its products and the memory go (each worker parses the file); they claim chunks of
products as they go (:mod:`loaders.ifc.chunks`), keep shapes in object coordinates so a shape
used by many elements is meshed once, and the placements are applied here in numpy.

Options (all optional): ``georeference`` (``auto``, ``map``, ``site``, ``local``), ``spaces``
(bool), ``processes``, ``threads``, ``timeout_s``, ``memory_mb``, ``cache`` (bool),
``cache_dir``, ``deflection`` (mesher linear deflection, metres).

``details`` (the ``ifc`` block of ``twin info --json``) holds the schema, length unit,
``georeference`` (method, CRS, eastings, northings, rotation...), element counts per class,
spatial counts and the worker's time and memory; ``extras`` holds ``spatial_tree`` (nested
dicts) and ``connections`` (GlobalId pairs joined port to port).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from loaders.ifc import cache, header, runner
from loaders.ifc import tree as spatial_tree
from loaders.ifc.georef import MODES, resolve
from loaders.ifc.merge import merge
from loaders.ifc.properties import properties
from twin.errors import InputError
from twin.workers import half_the_memory_mb

if TYPE_CHECKING:
    from twin.source import LoadedSource

__all__ = ["load", "properties", "warm_up"]

DEFAULT_TIMEOUT_S = 600.0
#: files smaller than this are converted by one worker: a second one would cost more than it saves
SPLIT_BYTES = 1 << 20
#: products with a shape that make one worker's worth of work, at the least
PRODUCTS_PER_PROCESS = 40
#: the most worker processes for one file (each parses the whole file)
MAX_PROCESSES = 8
#: how each product's shape starts in the STEP text (writers put entity names in upper case)
_SHAPE = b"IFCPRODUCTDEFINITIONSHAPE("


def _processes(options: Mapping[str, Any], path: Path, size: int) -> int:
    """Worker processes for one file, set by its work and the machine: one for small files, else
    one per core this process may run on, as far as the products (one worker per 40 shapes)
    and the memory (each worker parses the whole file, ~25 times its size) go.

    A busy machine is no reason for fewer: the cores are shared per process, and a worker that
    draws slow elements claims fewer chunks (:mod:`loaders.ifc.chunks`).
    """
    wanted = options.get("processes", "auto")
    if wanted != "auto":
        return max(1, int(wanted))
    if size < SPLIT_BYTES:
        return 1
    cores = len(os.sched_getaffinity(0))
    by_memory = half_the_memory_mb() // max(1, (25 * size) >> 20)
    most = max(1, min(cores, by_memory, MAX_PROCESSES))
    return max(1, min(most, _count_shapes(path, most * PRODUCTS_PER_PROCESS) // PRODUCTS_PER_PROCESS))


def _count_shapes(path: Path, enough: int) -> int:
    """Product shapes in the file, counted until ``enough`` (a big file is not read to its end)."""
    found = 0
    with open(path, "rb") as handle:
        while found < enough and (block := handle.read(1 << 22)):
            found += block.count(_SHAPE)
    return found


def warm_up() -> None:
    """Start the IFC workers now, without waiting: their imports of ifcopenshell and its rules then
    overlap the caller's own (call it as soon as an IFC file is known to be coming)."""
    runner.WORKERS.start()


def _import_assembly() -> None:
    """Import what :func:`assemble` needs (pyvista, VTK) while the workers warm up, if not yet done."""
    from loaders.ifc import build  # noqa: F401


def load(path: Path, options: Mapping[str, Any]) -> LoadedSource:
    """Read an IFC file into layer parts in world coordinates (see the module docstring for options).

    Raises
    ------
    InputError
        The file is not IFC, is truncated, names an unknown schema, or ifcopenshell cannot read it.
    LoaderFailure
        The worker crashed, hung past ``timeout_s`` or ran out of ``memory_mb``.
    """
    path = Path(path)
    # a model the manifest places is in its own local coordinates: its map conversion must not apply
    mode = str(options.get("georeference") or ("local" if options.get("placed") else "auto"))
    if mode not in MODES:
        raise InputError(path, f"option georeference must be one of {', '.join(MODES)}, not {mode!r}")
    info = header.check(path)
    folder = cache.folder(options)
    entry = folder / f"{cache.key(path, options)}.npz" if folder else None
    arrays = cache.read(entry) if entry is not None and entry.exists() and not options.get("_fault") else None
    cached = arrays is not None
    processes = 0
    if arrays is None:
        warm_up()  # what follows overlaps the workers' warm-up
        processes = _processes(options, path, info.size)
        _import_assembly()
        arrays = convert(path, info, options, processes)
        if entry is not None:
            try:
                cache.write(entry, arrays)
            except OSError:
                pass  # a read-only cache costs speed, never the load
    return assemble(path, info, arrays, mode, cached, processes)


def convert(path: Path, info: header.Header, options: Mapping[str, Any], processes: int) -> dict[str, np.ndarray]:
    """Run the workers on the file (or its schema-fallback copy) and merge their arrays.

    One job does everything, or ``processes`` workers share the geometry chunk by chunk, the
    first of them also reading the meaning of the elements.
    """
    memory_mb = int(options.get("memory_mb") or half_the_memory_mb())
    timeout_s = float(options.get("timeout_s") or DEFAULT_TIMEOUT_S)
    with tempfile.TemporaryDirectory(prefix="cim-twin-ifc-") as tmp:
        folder = Path(tmp)
        readable = header.fallback_copy(path, info, folder / path.name) if info.needs_fallback else path
        geometry_options = {k: options[k] for k in cache.GEOMETRY_OPTIONS if k in options}
        base = {
            "path": str(readable.resolve()),
            "options": geometry_options,
            "threads": int(options.get("threads", 1)),
            "memory_mb": memory_mb,
            "fallback": info.needs_fallback,
            "fault": options.get("_fault"),
        }
        claims = folder / "claims"
        claims.mkdir()
        workers = {**base, "role": "worker", "workers": processes, "claims": str(claims)}
        requests = (
            [{**base, "role": "all"}] if processes == 1 else [{**workers, "meta": i == 0} for i in range(processes)]
        )
        files = runner.run_workers(path, requests, folder, timeout_s, memory_mb)
        results = []
        for file in files:
            with np.load(file, allow_pickle=False) as data:
                results.append({name: data[name] for name in data.files})
    return merge(results)


def assemble(
    path: Path, info: header.Header, arrays: dict[str, np.ndarray], mode: str, cached: bool, processes: int
) -> LoadedSource:
    """Layer parts, assets, skipped elements, spatial tree and the ``twin info`` details."""
    from loaders.ifc import build  # pyvista: imported while the workers run, not before they start
    from twin.source import LoadedSource

    started = time.perf_counter()
    meta = json.loads(str(arrays["meta"]))
    georef, warnings = resolve(meta["declared"], mode)
    joined = build.Elements.join(arrays)
    parts = build.parts(joined, georef)
    skipped = _skipped(arrays, meta["log"])
    if info.needs_fallback:
        dropped = ", ".join(f"{name} x{n}" for name, n in meta["dropped"].items()) or "nothing"
        warnings.insert(
            0, f"schema {info.schema} is not supported by ifcopenshell; read as {info.read_as} (dropped: {dropped})"
        )
    if skipped:
        warnings.append(f"{len(skipped)} elements without geometry (see skipped)")
    classes = joined.column("ifc_class")
    names, counts = np.unique(classes.astype(str), return_counts=True)
    assets = dict(zip(joined.column("guid").tolist(), classes.tolist()))
    tree = spatial_tree.finish(meta.get("spatial_tree"), assets)
    details = {
        "schema": info.schema,
        "read_as": info.read_as,
        "length_unit": meta["declared"]["length_unit"],
        "georeference": georef.report,
        "elements": int(len(joined.index)),
        "classes": {str(n): int(c) for n, c in zip(names, counts)},
        "spatial": spatial_tree.node_counts(tree),
        "connections": len(meta["connections"]),
        "skipped": len(skipped),
        "cached": cached,
        "processes": processes,
        "worker_peak_mb": meta.get("peak_mb"),
        "worker_seconds": meta.get("seconds"),
        "dropped_entities": meta.get("dropped", {}),
        "assemble_seconds": round(time.perf_counter() - started, 4),
    }
    return LoadedSource(
        path=path,
        kind="ifc",
        parts=parts,
        crs=georef.crs,
        warnings=warnings,
        skipped=skipped,
        details=details,
        extras={"spatial_tree": tree, "connections": meta["connections"]},
    )


def _skipped(arrays: dict[str, np.ndarray], log: dict[str, str]) -> list[dict[str, str]]:
    """Products with a body representation that the kernel gave no shape, with its reason."""
    missing = np.setdiff1d(arrays["r_step"][arrays["r_body"]], arrays["e_step"])
    rows = np.searchsorted(arrays["r_step"], missing)
    return [
        {
            "id": str(arrays["r_guid"][r]),
            "class": str(arrays["r_ifc_class"][r]),
            "entity": f"#{step}",
            "reason": log.get(str(step), "the geometry kernel produced no shape"),
        }
        for step, r in zip(missing.tolist(), rows.tolist())
    ]
