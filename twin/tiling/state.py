"""The tiler's own state: content hashes, ``build.json`` and a journal that survives a kill.

``build.json`` records per source its hash, status, rows and tiles, and per tile its hash,
source and status.  While a build runs, every finished tile is appended (and flushed) to
``.build/journal.jsonl``, so a killed run loses nothing it had written: the next run reads
``build.json`` and the journal, and skips every tile whose GLB is there with the same hash.
Files are written to a temporary name and renamed, so a tile is either whole or absent.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

#: bumped when the output changes for the same input, so that every tile is rebuilt
TILER_VERSION = 2  # 2: closed solids wound outward, their tiles single-sided
WORK = ".build"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (same-folder temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def remove_partial_writes(folder: Path) -> int:
    """Delete the temporary files of writes a killed run left half done (see :func:`atomic_write`);
    how many.  Run before a build starts, when no writer of this folder can be alive."""
    leftovers = [p for p in folder.rglob(".*.tmp") if p.is_file()] if folder.is_dir() else []
    for path in leftovers:
        path.unlink(missing_ok=True)
    return len(leftovers)


def digest(*parts: bytes | str) -> str:
    """SHA-256 of the parts, each length-prefixed (so ``("ab", "c")`` differs from ``("a", "bc")``)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class BuildState:
    """What earlier runs finished: ``build.json`` plus the journal of an interrupted run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.journal_path = folder / WORK / "journal.jsonl"
        previous = _read_json(folder / "build.json")
        self.tiles: dict[str, dict[str, Any]] = dict(previous.get("tiles", {}))
        self.sources: dict[str, dict[str, Any]] = dict(previous.get("sources", {}))
        for entry in _read_journal(self.journal_path):
            self.tiles[entry["uri"]] = entry
        self._journal: IO[str] | None = None

    def is_done(self, uri: str, tile_hash: str) -> bool:
        """Whether the tile was written with this hash by an earlier (or interrupted) run."""
        entry = self.tiles.get(uri)
        return bool(entry and entry.get("hash") == tile_hash and entry.get("status") == "ok")

    def record(self, entries: Iterable[dict[str, Any]]) -> None:
        """Remember finished tiles, in memory and in the journal (flushed: a kill keeps them)."""
        if self._journal is None:
            self.journal_path.parent.mkdir(parents=True, exist_ok=True)
            self._journal = open(self.journal_path, "a", encoding="utf-8")  # closed in save()
        for entry in entries:
            self.tiles[entry["uri"]] = entry
            self._journal.write(json.dumps(entry) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def save(self, document: dict[str, Any]) -> None:
        """Write ``build.json`` and drop the journal it now contains."""
        atomic_write(self.folder / "build.json", json.dumps(document, indent=1).encode("utf-8"))
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self.journal_path.unlink(missing_ok=True)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("version") == TILER_VERSION else {}


def _read_journal(path: Path) -> list[dict[str, Any]]:
    """Entries of an interrupted run's journal; a line cut short by the kill is ignored."""
    entries = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "uri" in entry:
            entries.append(entry)
    return entries
