"""Files CIM Twin ships and places it may write: the bundled demo scene and the per-user state folder.

An installed wheel carries the demo district under ``twin/bundled/`` (``scenes/demo.toml`` and the
``data_samples/`` files it names, at the same relative places, so the manifest's ``../data_samples/...``
paths hold); a checkout keeps them at the repository root.  Either way the folder beside the scene
may not be writable (site-packages, a shared read-only mount), so the files a scene writes by
default (its risk history store, its saved bookmarks) move to a per-user state folder there.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from twin.errors import InputError

#: Environment variable naming the state folder (else ``$XDG_STATE_HOME/cim-twin``, else ``~/.local/state/cim-twin``).
STATE_ENV = "TWIN_STATE_DIR"
#: Environment variable naming the cache folder (else ``~/.cache/cim-twin``).
CACHE_ENV = "CIM_TWIN_CACHE"


def bundled_root() -> Path | None:
    """The installed package's ``twin/bundled`` folder, or None when running from a checkout."""
    root = files("twin") / "bundled"
    return root if isinstance(root, Path) and root.is_dir() else None


def demo_scene() -> Path:
    """The demo district's manifest: the wheel's bundled copy, else the checkout's ``scenes/demo.toml``."""
    root = bundled_root()
    scene = root / "scenes" / "demo.toml" if root else Path(__file__).resolve().parents[1] / "scenes" / "demo.toml"
    if not scene.is_file():
        raise InputError(scene, "the demo scene is missing from this installation", hint="reinstall cim-twin")
    return scene


def state_dir() -> Path:
    """The per-user folder for files CIM Twin cannot keep beside a scene (not created here)."""
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV])
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "cim-twin"


def cache_dir(kind: str) -> Path:
    """The per-user folder of one kind of cache (``scenes``, ``tilesets``; not created here).

    Caches live there, not beside their sources: a published scene or tileset may be read-only or shared.
    """
    root = os.environ.get(CACHE_ENV)
    return (Path(root) if root else Path.home() / ".cache" / "cim-twin") / kind


def writable_location(path: str | Path) -> Path:
    """``path`` where it may be written, else the same file name in :func:`state_dir` (created).

    A file beside a bundled scene (inside the installed package) or in an existing folder this user
    cannot write moves; any other path stays as it is, so a checkout's scene keeps its files beside it.
    """
    path = Path(path)
    root = bundled_root()
    bundled = root is not None and path.resolve().is_relative_to(root.resolve())
    if not bundled and not (path.parent.is_dir() and not os.access(path.parent, os.W_OK)):
        return path
    folder = state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / path.name
