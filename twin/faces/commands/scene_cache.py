"""The network commands' scene cache: a loaded scene kept on disk, keyed by the content of its files.

``twin isolate``, ``trace`` and ``nearby`` each answer one question about a scene (and
``twin serve`` starts on one), and loading
the demo district (ten sources, a tube mesh for every pipe) costs seconds each time.  The first
question loads the scene and keeps it (a pickle of the loaded :class:`~twin.scene.Twin`) in the
user's cache folder (``$CIM_TWIN_CACHE/scenes``, else ``~/.cache/cim-twin/scenes``); the next
ones read it in tens of milliseconds as long as every file the scene reads has the same bytes
(SHA-256 of each: the manifest, its sources, the files their options and ``[live]`` /
``[hydraulics]`` name) and the code that loaded it is the same (CIM Twin's version and the
size and time of the core's modules and every loader, :data:`CODE`).  Anything else loads afresh.

A pickle runs code when read, so an entry is read only from a folder and file this user owns
and nobody else may write; ``TWIN_SCENE_CACHE=off`` turns the cache off.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import pickle
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twin import __version__
from twin.resources import cache_dir

if TYPE_CHECKING:
    from twin.scene import Twin

log = logging.getLogger("twin.commands")
SWITCH_ENV = "TWIN_SCENE_CACHE"
FORMAT = "scene-cache-1"  #: bump when what an entry holds changes meaning
#: the code a loaded scene depends on: the core's modules (the scene model, loading, manifests,
#: networks), its colours and every loader; not the faces, the risk engine or the hydraulics
CODE = (("twin", "*.py"), ("twin", "colours/**/*.py"), ("loaders", "**/*.py"))


def folder() -> Path:
    return cache_dir("scenes")


def enabled() -> bool:
    return os.environ.get(SWITCH_ENV, "").lower() not in ("off", "0", "false", "no")


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def code_fingerprint() -> str:
    """CIM Twin's version and the size and time of each module a loaded scene depends on
    (:data:`CODE`): new code, new entries."""
    parts: list[str] = [__version__, sys.version, FORMAT]
    for name, pattern in CODE:
        module = sys.modules.get(name) or __import__(name)
        for base in getattr(module, "__path__", []):
            for file in sorted(Path(base).glob(pattern)):
                info = file.stat()
                parts.append(f"{name}/{file.relative_to(base)}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _named_files(value: Any, base: Path) -> Iterator[Path]:
    """Files that a manifest value names (a drape, a model), relative to ``base``."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _named_files(item, base)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _named_files(item, base)
    elif isinstance(value, (str, Path)) and str(value):
        candidate = base / value
        if candidate.is_file():
            yield candidate.resolve()


def scene_files(path: Path, kind: str | None) -> list[Path]:
    """Every file loading ``path`` reads: a data file itself, or a manifest and what it names."""
    from twin.loading import MANIFEST_SUFFIXES
    from twin.manifest import read_manifest

    files = [path.resolve()]
    if kind in (None, "scene") and path.suffix.lower() in MANIFEST_SUFFIXES:
        manifest = read_manifest(path)
        here = manifest.path.parent
        for entry in manifest.sources:
            files.append(Path(entry.path).resolve())
            files.extend(_named_files(entry.options, Path(entry.path).resolve().parent))
        files.extend(_named_files([str(p) for p in manifest.live.values()], here))
        files.extend(_named_files(manifest.hydraulics, here))
    return sorted({f for f in files if f.is_file()})


def entry_key(path: Path, kind: str | None, options: dict[str, Any]) -> str:
    """The entry's name: the scene as asked (its path, kind and loader options), not yet its content."""
    asked = json.dumps([str(path.resolve()), kind, options], sort_keys=True, default=str)
    return hashlib.sha256(asked.encode()).hexdigest()[:40]


def content_key(files: list[Path]) -> str:
    """What the entry must match: the code and every file's content."""
    parts = [code_fingerprint(), *(f"{file}:{_digest(file)}" for file in files)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _private(file: Path) -> bool:
    """Owned by this user and writable by nobody else (folder and file): safe to unpickle."""
    try:
        for item in (file.parent, file):
            info = item.stat()
            if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return False
    except OSError:
        return False
    return True


def read(path: Path, kind: str | None, options: dict[str, Any]) -> Twin | None:
    """The kept scene for this question, or None (no entry, changed files or code, unreadable)."""
    if not enabled():
        return None
    entry = folder() / f"{entry_key(path, kind, options)}.pickle"
    if not entry.is_file() or not _private(entry):
        return None
    try:
        with open(entry, "rb") as handle:
            kept = pickle.load(handle)
        files = [Path(f) for f in kept["files"]]
        if kept["format"] != FORMAT or kept["key"] != content_key(files):
            return None
        twin: Twin = kept["twin"]
        return twin
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError, AttributeError, ImportError) as exc:
        log.debug("scene cache entry %s unusable: %s", entry, exc)
        return None


def write(path: Path, kind: str | None, options: dict[str, Any], twin: Twin) -> None:
    """Keep ``twin`` for the next question; a cache that cannot be written is skipped, never an error."""
    if not enabled():
        return
    target = folder()
    try:
        files = scene_files(path, kind)
        blob = pickle.dumps(
            {"format": FORMAT, "key": content_key(files), "files": [str(f) for f in files], "twin": twin},
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        entry = target / f"{entry_key(path, kind, options)}.pickle"
        partial = entry.with_name(f".{entry.stem}.{os.getpid()}.partial")
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            handle.write(blob)
        os.replace(partial, entry)
    except Exception as exc:  # noqa: BLE001 - a scene that cannot be kept (an open handle, a full disk) just loads again
        log.debug("scene not kept in the cache: %s", exc)


def load(path: Path, kind: str | None = None, options: dict[str, Any] | None = None, progress=None) -> Twin:
    """``path`` from the cache when its files are unchanged, else loaded (with ``progress``) and kept."""
    from twin.loading import load as load_afresh

    options = dict(options or {})
    twin = read(path, kind, options)
    if twin is None:
        twin = load_afresh(path, kind=kind, options=options, progress=progress)
        write(path, kind, options, twin)
    elif progress:
        progress(len(twin.sources), len(twin.sources), "")
    return twin


def load_cached(args: argparse.Namespace) -> Twin:
    """PATH as the network commands need it (see :func:`load`)."""
    from twin.faces.commands.common import loader_options

    return load(Path(args.path), args.kind, loader_options(args))
