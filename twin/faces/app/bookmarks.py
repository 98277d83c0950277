"""Camera bookmarks: the manifest's, plus the ones users save, kept in a sidecar file.

Saved bookmarks go to ``<scene>.bookmarks.toml`` next to the manifest (never into the manifest
itself, which people edit by hand and keep in version control), as ``[[bookmarks]]`` tables with
the manifest's keys: ``name``, ``position``, ``focal_point``, ``view_up`` in world coordinates.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from twin.errors import InputError
from twin.manifest import Bookmark
from twin.resources import writable_location

SUFFIX = ".bookmarks.toml"


def sidecar(scene_path: Path | None) -> Path | None:
    if scene_path is None:
        return None
    path = Path(scene_path)
    return writable_location(path.with_name(path.name.removesuffix(".toml") + SUFFIX))


def load(scene_path: Path | None) -> list[Bookmark]:
    """The saved bookmarks of a scene (none when the sidecar does not exist)."""
    path = sidecar(scene_path)
    if path is None or not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return [
            Bookmark(b["name"], tuple(b["position"]), tuple(b["focal_point"]), tuple(b.get("view_up", (0, 0, 1))))
            for b in data.get("bookmarks", [])
        ]
    except (tomllib.TOMLDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read saved bookmarks: {exc}") from None


def save(scene_path: Path | None, bookmark: Bookmark) -> Path:
    """Append one bookmark to the scene's sidecar file."""
    path = sidecar(scene_path)
    if path is None:
        raise InputError(None, "this scene has no file to save bookmarks next to")
    vector = lambda v: "[" + ", ".join(f"{float(x):.3f}" for x in v) + "]"  # noqa: E731
    text = (
        f"\n[[bookmarks]]\nname = {json.dumps(bookmark.name, ensure_ascii=False)}\n"
        f"position = {vector(bookmark.position)}\nfocal_point = {vector(bookmark.focal_point)}\n"
        f"view_up = {vector(bookmark.view_up)}\n"
    )
    try:
        with path.open("a", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as exc:
        raise InputError(path, f"cannot save the bookmark: {exc.strerror or exc}") from None
    return path
