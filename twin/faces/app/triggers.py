"""What every browser trigger shares: an answer to its caller alone, errors as replies, owned views.

Each trigger receives the caller's view id and returns a JSON reply; no trigger writes shared
trame state, so browsers never see each other's selection, search or camera.  Errors become
``{"error": message}`` replies that the browser shows in a snackbar (trame would only log them).
The triggers themselves live in one module per feature (:mod:`twin.faces.app.actions` lists them).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

from twin.errors import TwinError
from twin.faces.app.client_views import ClientView
from twin.faces.app.pool import ViewPool

log = logging.getLogger("twin.app")


def replies(method: Callable) -> Callable:
    """Turn an exception into an error reply the browser shows, instead of a lost log line.

    A coroutine method (one that waits for the risk service on a thread, so the event loop never
    does) gets the same treatment: trame awaits what a trigger returns.  A method whose first
    argument is ``view_id`` runs only for the browser that claimed that view (view ids are small
    numbers another browser could guess).
    """
    takes_view = list(inspect.signature(method).parameters)[1:2] == ["view_id"]

    def check(self: Triggers, args: tuple, kwargs: dict) -> None:
        if takes_view:
            self.check_owner(str(args[0] if args else kwargs.get("view_id")))

    def failed(exc: Exception) -> dict:
        if isinstance(exc, TwinError):
            return {"error": str(exc)}
        log.exception("%s failed", method.__name__)
        if isinstance(exc, KeyError):
            return {"error": f"Not found: {exc}. Reload the page if the server restarted."}
        return {"error": f"{method.__name__.removeprefix('twin_').replace('_', ' ').capitalize()} failed: {exc}"}

    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def waiting(self: Triggers, *args: Any, **kwargs: Any) -> dict:
            try:
                check(self, args, kwargs)
                return self.finish(await method(self, *args, **kwargs))
            except Exception as exc:  # noqa: BLE001 - every failure must reach the user
                return failed(exc)
            finally:
                self.forget_scenes()

        return waiting

    @functools.wraps(method)
    def wrapper(self: Triggers, *args: Any, **kwargs: Any) -> dict:
        try:
            check(self, args, kwargs)
            return self.finish(method(self, *args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - every failure must reach the user
            return failed(exc)
        finally:
            self.forget_scenes()

    return wrapper


class Triggers:
    """What every set of ``twin_*`` triggers shares, and what :func:`replies` relies on.

    A browser rendering server-side gets its new picture through ``push(view_id)`` (the image
    stream); one rendering client-side (vtk.js) sends its camera with each call (``camera``, ``{}``
    before its view exists) and gets the view's new scene in the reply (``scene_of(view_id)``).
    """

    def __init__(
        self,
        pool: ViewPool,
        push: Callable[[str], None],
        scene_of: Callable[[str], dict],
        caller: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.pool, self.push, self.scene_of = pool, push, scene_of
        self.caller = caller  # the connection of the browser whose trigger runs now
        self._dirty: set[str] = set()  # client-side views whose scene goes with the reply

    def triggers(self) -> dict[str, Callable]:
        """The ``twin_*`` methods by name, for ``server.trigger(name)``."""
        return {name: getattr(self, name) for name in dir(self) if name.startswith("twin_")}

    def check_owner(self, view_id: str) -> None:
        """Refuse a call about a view another browser claimed."""
        owner, caller = self.pool.owners.get(view_id), self.caller()
        if owner is not None and caller is not None and owner != caller:
            raise TwinError("This view now belongs to another browser: reload the page to get your own.")

    def finish(self, reply: dict) -> dict:
        """The reply, with the new scene of a client-side (vtk.js) view that changed, for that browser alone."""
        if self._dirty:
            reply = {**reply, "scene": self.scene_of(self._dirty.pop())}
        return reply

    def forget_scenes(self) -> None:
        self._dirty.clear()

    def show(self, view_id: str) -> None:
        """Send the view's new state: an image now, or its scene with the reply (client-side)."""
        if self.pool.get(view_id).client_side:
            self._dirty.add(view_id)
        else:
            self.push(view_id)

    def view(self, view_id: str, camera: dict | None = None) -> ClientView:
        """The caller's view, with the browser's camera when it renders client-side (it owns the camera)."""
        view = self.pool.get(view_id)
        view.client_side = camera is not None
        if camera:
            cam = view.plotter.camera
            cam.position, cam.focal_point, cam.up = camera["position"], camera["focalPoint"], camera["viewUp"]
            if camera.get("viewAngle"):
                cam.view_angle = camera["viewAngle"]
        return view

    def camera_reply(self, view_id: str, view: ClientView) -> dict:
        """After a camera move: a new image (server-side), or the camera for vtk.js to take."""
        if not view.client_side:
            self.push(view_id)
        return camera_state(view)


def camera_state(view: ClientView) -> dict:
    """The reply's camera part: the frame time (server-side), or the camera for vtk.js."""
    if not view.client_side:
        return {"frame_ms": view.frame_ms}
    cam = view.plotter.camera
    return {
        "camera_local": {"position": list(cam.position), "focalPoint": list(cam.focal_point), "viewUp": list(cam.up)}
    }
