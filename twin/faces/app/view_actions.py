"""Triggers about a browser's own view: claim it, apply its settings, move its camera, bookmark it, grab it."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime

from twin.faces.app import bookmarks
from twin.faces.app.pool import ViewPool
from twin.faces.app.triggers import Triggers, replies
from twin.manifest import Bookmark
from twin.scene import Twin


class ViewActions(Triggers):
    """The view and camera triggers; ``bookmarks`` are the scene's and the saved ones (shared state)."""

    def __init__(
        self,
        twin: Twin,
        pool: ViewPool,
        push: Callable[[str], None],
        scene_of: Callable[[str], dict],
        caller: Callable[[], str | None] = lambda: None,
    ) -> None:
        super().__init__(pool, push, scene_of, caller)
        self.twin = twin
        self.bookmarks = list(twin.bookmarks) + bookmarks.load(twin.path)

    @replies
    def twin_claim(self) -> dict:
        return {"view": self.pool.claim(owner=self.caller())}

    @replies
    def twin_apply(self, view_id: str, config: dict, camera: dict | None = None) -> dict:
        view = self.view(view_id, camera)
        view.apply(config)
        self.show(view_id)
        return {"frame_ms": view.frame_ms}

    @replies
    def twin_frame(self, view_id: str, seconds: float = 5.0) -> dict:
        return self.pool.get(view_id).frame_stats(float(seconds))

    @replies
    def twin_look(self, view_id: str, name: str, camera: dict | None = None) -> dict:
        """A standard view (``top``, ``iso`` ...) or a bookmark by name."""
        view = self.view(view_id, camera)
        match = [b for b in self.bookmarks if b.name == name]
        if match:
            view.set_camera(match[0].position, match[0].focal_point, match[0].view_up)
        else:
            view.look(name)
        return self.camera_reply(view_id, view)

    @replies
    def twin_save_bookmark(self, view_id: str, name: str, camera: dict | None = None) -> dict:
        name = (name or "").strip() or datetime.now(UTC).strftime("View %Y-%m-%d %H:%M")
        cam = self.view(view_id, camera).camera()
        bookmark = Bookmark(name, tuple(cam["position"]), tuple(cam["focal_point"]), tuple(cam["view_up"]))
        path = bookmarks.save(self.twin.path, bookmark)
        self.bookmarks.append(bookmark)
        return {"bookmarks": [b.name for b in self.bookmarks], "message": f"Bookmark '{name}' saved to {path.name}"}

    @replies
    def twin_screenshot(self, view_id: str, camera: dict | None = None) -> dict:
        png = self.view(view_id, camera).screenshot()
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return {"png": base64.b64encode(png).decode("ascii"), "filename": f"{file_stem(self.twin)}-{stamp}.png"}


def file_stem(twin: Twin) -> str:
    """The scene's name as a file name stem (screenshots, situation snapshots)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", twin.name or "scene").strip("-").lower()
