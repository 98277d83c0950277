"""A city's tile tree kept on disk as flat binary arrays, so a restart does not parse ``tileset.json`` again.

``tileset.json`` of a million-building city is ~100 MB of JSON for 132,000 tiles: parsing and
walking it costs ~4-5 s on every ``twin serve`` start, most of the time before the first frame.
The flat arrays :func:`~twin.streaming.tileset.read_tileset` makes from it are ~30 MB and read
back in a fraction of a second.  They are kept in the user's cache folder
(``$CIM_TWIN_CACHE/tilesets``, else ``~/.cache/cim-twin/tilesets``), not beside the tileset: a
published tileset may be read-only or shared.  An entry is keyed by the tileset's real path and
holds the size and modification time of every JSON file the tree was read from (the root and
each external tileset); any change there, or a new :data:`FORMAT`, reads the JSON afresh.

The entry is a NumPy ``.npz`` read with ``allow_pickle=False``: reading one runs no code.
``TWIN_TILESET_CACHE=off`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from twin.resources import cache_dir

if TYPE_CHECKING:
    from twin.streaming.tileset import Content, Tileset

log = logging.getLogger("twin.streaming")
SWITCH_ENV = "TWIN_TILESET_CACHE"
FORMAT = "tile-tree-1"  #: bump when what an entry holds changes meaning
ARRAYS = ("centre", "radius", "box", "error", "replace", "parent", "content_matrix", "to_ecef")


def folder() -> Path:
    return cache_dir("tilesets")


def enabled() -> bool:
    return os.environ.get(SWITCH_ENV, "").lower() not in ("off", "0", "false", "no")


def entry(path: Path) -> Path:
    """The cache file of the tileset at ``path`` (its real path decides: a moved tileset is another entry)."""
    digest = hashlib.sha256(os.path.realpath(path).encode()).hexdigest()[:24]
    return folder() / f"{digest}.npz"


def stamps(files: list[str]) -> list[list[Any]]:
    """Each file's (real path, size, modification time in ns): what must not have changed."""
    out = []
    for file in files:
        info = os.stat(file)
        out.append([os.path.realpath(file), info.st_size, info.st_mtime_ns])
    return out


def load(path: Path) -> Tileset | None:
    """The kept tree of ``path``, or None when there is none, it is stale, or it cannot be read."""
    from twin.streaming.tileset import Tileset

    if not enabled():
        return None
    try:
        with np.load(entry(path), allow_pickle=False) as kept:
            meta = json.loads(kept["meta"].tobytes())
            if meta.get("format") != FORMAT or meta.get("sources") != stamps([s[0] for s in meta["sources"]]):
                return None
            arrays = {name: kept[name] for name in ARRAYS}
            files = kept["files"].tobytes().decode().split("\0") if len(kept["files"]) else []
            layer_of, starts = kept["content_layer"].tolist(), kept["content_start"].tolist()
    except (OSError, EOFError, zipfile.BadZipFile, ValueError, KeyError, TypeError):
        return None  # none kept, empty, half-written, an older layout, a file gone: read the JSON
    contents = KeptContents(files, layer_of, starts)
    parent = arrays["parent"]
    children: list[list[int]] = [[] for _ in range(len(parent))]
    for i, p in enumerate(parent.tolist()):
        if p >= 0:
            children[p].append(i)
    return Tileset(
        path=Path(meta["path"]),
        contents=contents,
        children=children,
        layers=meta["layers"],
        extras=meta["extras"],
        root_error=float(meta["root_error"]),
        **arrays,
    )


def save(tileset: Tileset, sources: list[str]) -> None:
    """Keep ``tileset`` (read from the JSON ``sources``) for the next start; a failure only logs."""
    if not enabled():
        return
    target = entry(tileset.path)
    files = [c.file for tile in tileset.contents for c in tile]
    meta = {
        "format": FORMAT,
        "path": str(tileset.path),
        "sources": stamps(sources),
        "layers": tileset.layers,
        "extras": tileset.extras,
        "root_error": tileset.root_error,
    }
    temporary: str | None = None
    try:
        blob = "\0".join(files).encode()  # NUL: the one character no path holds
        arrays = {name: getattr(tileset, name) for name in ARRAYS}
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".npz.part")
        with os.fdopen(handle, "wb") as out:
            np.savez(
                out,
                meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                files=np.frombuffer(blob, dtype=np.uint8),
                content_layer=np.fromiter((c.layer for t in tileset.contents for c in t), np.int32, len(files)),
                content_start=np.cumsum([0, *map(len, tileset.contents)], dtype=np.int64),
                **arrays,
            )
        os.replace(temporary, target)
    except (OSError, TypeError, ValueError) as exc:  # a read-only home, a full disk, extras JSON cannot hold
        log.info("the tile tree of %s is not kept for the next start: %s", tileset.path, exc)
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


class KeptContents(Sequence["list[Content]"]):
    """Each tile's content files, made into :class:`~twin.streaming.tileset.Content` lists when a
    tile is first asked for (a view touches a few thousand of a city's 132,000 tiles; building all
    280,000 objects at start cost 0.6 s before the first frame)."""

    def __init__(self, files: list[str], layers: list[int], starts: list[int]) -> None:
        self._files, self._layers, self._starts = files, layers, starts
        self._made: dict[int, list[Content]] = {}

    def __len__(self) -> int:
        return len(self._starts) - 1

    @overload
    def __getitem__(self, tile: int) -> list[Content]: ...
    @overload
    def __getitem__(self, tile: slice) -> list[list[Content]]: ...
    def __getitem__(self, tile: int | slice) -> list[Content] | list[list[Content]]:
        if isinstance(tile, slice):
            return [self[i] for i in range(*tile.indices(len(self)))]
        made = self._made.get(tile)
        if made is None:
            from twin.streaming.tileset import Content

            if tile < 0:
                tile += len(self)
            if not 0 <= tile < len(self):
                raise IndexError(tile)
            start, stop = self._starts[tile], self._starts[tile + 1]
            made = self._made[tile] = [Content(self._files[k], self._layers[k]) for k in range(start, stop)]
        return made

    def __iter__(self) -> Iterator[list[Content]]:
        return (self[i] for i in range(len(self)))
