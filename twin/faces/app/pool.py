"""The pool of per-browser views: a new browser takes a fresh view, or the stalest one when full."""

from __future__ import annotations

import time
from collections.abc import Callable

from twin.faces.app.client_views import ClientView, default_config
from twin.faces.rendering import SceneView, build_view
from twin.scene import Twin


class ViewPool:
    """Client views by id; a new browser takes a fresh one until ``capacity``, then the stalest."""

    def __init__(
        self, twin: Twin, id_of: Callable[[object], str], capacity: int = 6, size: tuple[int, int] = (1280, 800)
    ) -> None:
        self.twin, self.id_of, self.capacity, self.size = twin, id_of, capacity, size
        self.views: dict[str, ClientView] = {}
        self.spares: list[str] = []
        self.hooks: list[Callable[[ClientView], None]] = []  # given to every view (see ClientView.apply)
        self.owners: dict[str, str] = {}  # view id -> the connection that claimed it
        self.on_release: list[Callable[[str], None]] = []  # called with a view id before it is reset

    def warm(self) -> None:
        """Build and draw one view ahead of time, so the first browser gets its picture at once."""
        view_id = self.add()
        self.views[view_id].window.Render()
        self.spares.append(view_id)

    def add(self, scene: SceneView | None = None) -> str:
        view = ClientView(self.twin, scene or build_view(self.twin, off_screen=True, size=self.size))
        view.hooks = self.hooks
        interactor = view.window.GetInteractor()
        if interactor is not None:  # mouse events only move the camera; the image stream renders (once)
            interactor.EnableRenderOff()
        view_id = self.id_of(view.window)
        self.views[view_id] = view
        return view_id

    def claim(self, owner: str | None = None) -> str:
        """A view for a new browser: a new one while there is room, else the least recently used.

        ``owner`` (the browser's connection) gets the view back to the pool when it closes
        (:meth:`release`); a view taken from another browser is no longer that one's.
        """
        if self.spares:
            view_id = self.spares.pop()
        elif len(self.views) < self.capacity:
            view_id = self.add()
        else:
            view_id = min(self.views, key=lambda k: self.views[k].last_used)
            self.reset(self.views[view_id])
        self.views[view_id].last_used = time.monotonic()
        self.owners.pop(view_id, None)
        if owner is not None:
            self.owners[view_id] = owner
        return view_id

    def release(self, owner: str) -> list[str]:
        """The views of a closed connection: reset and first in line for the next browser."""
        released = [view_id for view_id, who in self.owners.items() if who == owner]
        for view_id in released:
            del self.owners[view_id]
            for hook in self.on_release:
                hook(view_id)
            self.reset(self.views[view_id])
            self.spares.append(view_id)
        return released

    def reset(self, view: ClientView) -> None:
        view.clear()
        view.client_side = False
        view.config.pop("_measure", None)
        view.apply(default_config(self.twin))
        view.plotter.camera.DeepCopy(view.home)
        view.plotter.reset_camera_clipping_range()

    def get(self, view_id: str) -> ClientView:
        view = self.views[str(view_id)]
        view.last_used = time.monotonic()
        return view
