"""The preview cache: the records a preview kept, so the next preview of an unchanged file reads
a few megabytes instead of decoding the cloud again.

The key is the file's resolved path, size and modification time (hashing a multi-gigabyte LAZ
would cost more than the preview it saves), the budget and ``PREVIEW_VERSION``: an edited file,
another budget or a new sampler never hits a stale entry.  Entries are plain arrays (``.npz``,
no pickles), written atomically; an unreadable entry is simply rebuilt.  Option ``cache =
false`` turns it off, ``cache_dir`` moves it (default ``$CIM_TWIN_CACHE/pointcloud``, else
``~/.cache/cim-twin/pointcloud``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from loaders.pointcloud.preview import OVERSAMPLE, Preview

#: bump when what a preview keeps changes
PREVIEW_VERSION = f"pointcloud-preview-1-x{OVERSAMPLE}"


def entry(path: Path, budget: int, options: Mapping[str, Any]) -> Path | None:
    """Where the preview of ``path`` at ``budget`` is kept, None with the cache off."""
    if options.get("cache", True) is False:
        return None
    if options.get("cache_dir"):
        folder = Path(options["cache_dir"])
    else:
        root = os.environ.get("CIM_TWIN_CACHE")
        folder = Path(root) / "pointcloud" if root else Path.home() / ".cache" / "cim-twin" / "pointcloud"
    stat = path.stat()
    identity = [str(path.resolve()), stat.st_size, stat.st_mtime_ns, budget, PREVIEW_VERSION]
    return folder / f"{hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:40]}.npz"


def read(file: Path, dtype: np.dtype) -> Preview | None:
    """The preview kept in ``file`` (records of ``dtype``), None if missing or unusable."""
    try:
        with np.load(file, allow_pickle=False) as data:
            raw, counts, bounds, points = data["records"], data["class_counts"], data["bounds"], data["points"]
    except (OSError, ValueError, KeyError, EOFError):
        return None
    if raw.dtype != np.uint8 or len(raw) % dtype.itemsize or counts.shape != (256,) or bounds.shape != (6,):
        return None
    return Preview(raw.view(dtype), int(points), counts, None if np.isnan(bounds).any() else bounds)


def write(file: Path, preview: Preview) -> None:
    """Keep ``preview`` in ``file``; a cache that cannot be written is skipped, never an error."""
    arrays = {
        "records": np.ascontiguousarray(preview.records).view(np.uint8),
        "class_counts": preview.class_counts,
        "bounds": np.full(6, np.nan) if preview.bounds is None else preview.bounds,
        "points": np.array(preview.points),
    }
    partial = file.with_name(f".{file.stem}.{os.getpid()}.partial.npz")
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        np.savez(partial, **arrays)  # type: ignore[arg-type]  # numpy's stub takes **kwds for allow_pickle
        os.replace(partial, file)
    except OSError:
        partial.unlink(missing_ok=True)
