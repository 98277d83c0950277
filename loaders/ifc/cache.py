"""The on-disk cache of converted geometry: one ``.npz`` per file content and loader version.

The key is the SHA-256 of the file's bytes, the loader version and the options that change
the geometry, so an edited file, a new loader or other options never hit a stale entry.
Entries hold plain numpy arrays (no pickles), written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

#: bump when the worker's output changes meaning
LOADER_VERSION = "ifc-5"
#: options that change what the worker produces
GEOMETRY_OPTIONS = ("spaces", "deflection")


def folder(options: Mapping[str, Any]) -> Path | None:
    """The cache folder (option ``cache_dir``, ``$CIM_TWIN_CACHE/ifc``, ``~/.cache/cim-twin/ifc``), None if off."""
    if options.get("cache", True) is False:
        return None
    if options.get("cache_dir"):
        return Path(options["cache_dir"])
    root = os.environ.get("CIM_TWIN_CACHE")
    return Path(root) / "ifc" if root else Path.home() / ".cache" / "cim-twin" / "ifc"


def key(path: Path, options: Mapping[str, Any]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    settings = {name: options.get(name) for name in GEOMETRY_OPTIONS}
    tail = hashlib.sha256(json.dumps([LOADER_VERSION, settings], sort_keys=True).encode()).hexdigest()
    return f"{digest.hexdigest()[:40]}-{tail[:12]}"


def read(file: Path) -> dict[str, np.ndarray] | None:
    """An entry's arrays, or None if it is missing or unreadable (then it is rebuilt)."""
    try:
        with np.load(file, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, KeyError, EOFError):
        return None


def write(file: Path, arrays: Mapping[str, np.ndarray]) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(f".{file.stem}.{os.getpid()}.partial.npz")
    np.savez(partial, **arrays)  # type: ignore[arg-type]  # numpy's stub takes **kwds for allow_pickle
    os.replace(partial, file)
