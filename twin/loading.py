"""``twin.load``: any supported data file, or a scene manifest, into a :class:`Twin`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from twin.errors import InputError, TwinError
from twin.manifest import Manifest, SourceEntry, file_problem, read_manifest
from twin.registry import check_options, installed
from twin.replace import hide_replaced
from twin.scene import SourceRecord, Twin

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
MANIFEST_SUFFIXES = (".toml",)


def load(
    path: str | Path,
    *,
    kind: str | None = None,
    options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> Twin:
    """Load a data file or a scene manifest.

    A single data file that cannot be read raises :class:`InputError`.  In a manifest, a
    source that fails is recorded with its error (``twin.sources[i].error``) and the rest of
    the scene loads.
    """
    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise InputError(path, problem)
    if kind in (None, "scene") and path.suffix.lower() in MANIFEST_SUFFIXES:
        return load_manifest(read_manifest(path), progress=progress)
    twin = Twin(name=path.stem)
    twin.path, twin.kind = path, ""
    entry = SourceEntry(path=path.resolve(), kind=kind, options=dict(options or {}))
    if progress:
        progress(0, 1, path.name)
    record = _load_entry(twin, entry, styles={})
    twin.kind = record.kind
    if progress:
        progress(1, 1, path.name)
    return twin


def load_manifest(manifest: Manifest, progress: Progress | None = None) -> Twin:
    twin = Twin(name=manifest.name, crs=manifest.crs, origin=manifest.origin)
    twin.path, twin.bookmarks, twin.live, twin.palette = (
        manifest.path,
        manifest.bookmarks,
        manifest.live,
        manifest.palette,
    )
    for i, entry in enumerate(manifest.sources):
        if progress:
            progress(i, len(manifest.sources), entry.path.name)
        try:
            _load_entry(twin, entry, manifest.styles)
        except TwinError as exc:
            twin.add_failed_source(entry.path, entry.kind or "", entry.name or entry.path.stem, str(exc))
        except Exception as exc:  # a loader bug must not take the rest of the scene down
            log.exception("loader failed on %s", entry.path)
            twin.add_failed_source(
                entry.path,
                entry.kind or "",
                entry.name or entry.path.stem,
                f"{entry.path}: internal error in the loader: {exc!r}",
            )
    hide_replaced(
        twin,
        {
            _source_name(e): e.options["replaces"]
            for e in manifest.sources
            if isinstance(e.options.get("replaces"), list)
        },
    )
    if progress:
        progress(len(manifest.sources), len(manifest.sources), "done")
    return twin


def _source_name(entry: SourceEntry) -> str:
    return entry.name or entry.path.stem.split(".")[0]


def _load_entry(twin: Twin, entry: SourceEntry, styles: dict[str, dict[str, Any]]) -> SourceRecord:
    loader = installed().find(entry.path, entry.kind)
    check_options(loader, entry.path, entry.options)
    started = time.perf_counter()
    # context loaders may use (others ignore the keys): the scene's palette (pipes colour by it),
    # whether the manifest places the source (then its own georeferencing must not apply), and
    # the scene origin once fixed, for a source left in place (a point cloud reads straight into
    # float32 relative to it; a placed one is moved in world coordinates first)
    placed = not entry.placement.is_identity
    context = {
        "palette": twin.palette,
        "placed": placed,
        "origin": None if twin.origin is None or placed else twin.origin.copy(),
    }
    try:
        loaded = loader.load(entry.path, {**context, **entry.options})
    except MemoryError:  # the last net: a size the file declares should have been refused by its loader
        raise InputError(entry.path, "ran out of memory reading it (does it declare a wrong size?)") from None
    except RecursionError:
        raise InputError(entry.path, "nested too deeply to read") from None
    seconds = time.perf_counter() - started
    name = _source_name(entry)
    layer_styles = {
        f"{name}/{part.name}": {**entry.style, **styles.get(f"{name}/{part.name}", {})} for part in loaded.parts
    }
    return twin.add_source(
        loaded, name=name, crs=entry.crs, placement=entry.placement, styles=layer_styles, seconds=seconds
    )
