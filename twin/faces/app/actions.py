"""The server half of every browser action: one trigger per action, answering only its caller.

Each trigger receives the caller's view id and returns a JSON reply; nothing here writes shared
trame state, so browsers never see each other's selection, search or camera.  Errors become
``{"error": message}`` replies that the browser shows in a snackbar (trame would only log them).
"""

from __future__ import annotations

import base64
import functools
import inspect
import logging
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from twin.errors import TwinError
from twin.faces.app import bookmarks, inspector, picking, share, tree
from twin.faces.app.client_views import ClientView, default_config
from twin.faces.app.pool import ViewPool
from twin.faces.app.search import AssetSearch
from twin.manifest import Bookmark
from twin.scene import Twin

log = logging.getLogger("twin.app")


def replies(method: Callable) -> Callable:
    """Turn an exception into an error reply the browser shows, instead of a lost log line.

    A coroutine method (one that waits for the risk service on a thread, so the event loop never
    does) gets the same treatment: trame awaits what a trigger returns.  A method whose first
    argument is ``view_id`` runs only for the browser that claimed that view (view ids are small
    numbers another browser could guess).
    """
    takes_view = list(inspect.signature(method).parameters)[1:2] == ["view_id"]

    def check(self, args: tuple, kwargs: dict) -> None:
        if not takes_view:
            return
        view_id = str(args[0] if args else kwargs.get("view_id"))
        owner, caller = self.pool.owners.get(view_id), self.caller()
        if owner is not None and caller is not None and owner != caller:
            raise TwinError("This view now belongs to another browser: reload the page to get your own.")

    def finish(self, reply: dict) -> dict:
        if self._dirty:  # a client-side (vtk.js) view changed: send its new scene to that browser alone
            reply = {**reply, "scene": self.scene_of(self._dirty.pop())}
        return reply

    def failed(exc: Exception) -> dict:
        if isinstance(exc, TwinError):
            return {"error": str(exc)}
        log.exception("%s failed", method.__name__)
        if isinstance(exc, KeyError):
            return {"error": f"Not found: {exc}. Reload the page if the server restarted."}
        return {"error": f"{method.__name__.removeprefix('twin_').replace('_', ' ').capitalize()} failed: {exc}"}

    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def waiting(self, *args, **kwargs):
            try:
                check(self, args, kwargs)
                return finish(self, await method(self, *args, **kwargs))
            except Exception as exc:  # noqa: BLE001 - every failure must reach the user
                return failed(exc)
            finally:
                self._dirty.clear()

        return waiting

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            check(self, args, kwargs)
            return finish(self, method(self, *args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - every failure must reach the user
            return failed(exc)
        finally:
            self._dirty.clear()

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
        return {name: getattr(self, name) for name in dir(self) if name.startswith("twin_")}

    def _show(self, view_id: str) -> None:
        """Send the view's new state: an image now, or its scene with the reply (client-side)."""
        if self.pool.get(view_id).client_side:
            self._dirty.add(view_id)
        else:
            self.push(view_id)


class Actions(Triggers):
    """Triggers named ``twin_*``, each about the caller's own view (see :class:`Triggers`)."""

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
        self.finder = AssetSearch(twin.assets)
        self.locators = picking.Locators()
        self.bookmarks = list(twin.bookmarks) + bookmarks.load(twin.path)
        self.layer_groups = tree.layer_groups(twin)  # the layer tree, also the page's initial state
        self.tree_paths = tree.ancestors(self.layer_groups)
        self._pipe_samples = None  # centre lines of the pipes for "nearby", sampled on first use

    def _view(self, view_id: str, camera: dict | None = None) -> ClientView:
        view = self.pool.get(view_id)
        view.client_side = camera is not None
        if camera:  # client-side rendering: the browser owns the camera
            cam = view.plotter.camera
            cam.position, cam.focal_point, cam.up = camera["position"], camera["focalPoint"], camera["viewUp"]
            if camera.get("viewAngle"):
                cam.view_angle = camera["viewAngle"]
        return view

    def _camera_reply(self, view_id: str, view: ClientView) -> dict:
        """After a camera move: a new image (server-side), or the camera for vtk.js to take."""
        if not view.client_side:
            self.push(view_id)
        return camera_state(view)

    # -- views -------------------------------------------------------------------------------
    @replies
    def twin_claim(self) -> dict:
        return {"view": self.pool.claim(owner=self.caller())}

    @replies
    def twin_apply(self, view_id: str, config: dict, camera: dict | None = None) -> dict:
        view = self._view(view_id, camera)
        view.apply(config)
        self._show(view_id)
        return {"frame_ms": view.frame_ms}

    @replies
    def twin_frame(self, view_id: str, seconds: float = 5.0) -> dict:
        return self.pool.get(view_id).frame_stats(float(seconds))

    @replies
    def twin_look(self, view_id: str, name: str, camera: dict | None = None) -> dict:
        view = self._view(view_id, camera)
        match = [b for b in self.bookmarks if b.name == name]
        if match:
            view.set_camera(match[0].position, match[0].focal_point, match[0].view_up)
        else:
            view.look(name)
        return self._camera_reply(view_id, view)

    @replies
    def twin_save_bookmark(self, view_id: str, name: str, camera: dict | None = None) -> dict:
        name = (name or "").strip() or datetime.now(UTC).strftime("View %Y-%m-%d %H:%M")
        cam = self._view(view_id, camera).camera()
        bookmark = Bookmark(name, tuple(cam["position"]), tuple(cam["focal_point"]), tuple(cam["view_up"]))
        path = bookmarks.save(self.twin.path, bookmark)
        self.bookmarks.append(bookmark)
        return {"bookmarks": [b.name for b in self.bookmarks], "message": f"Bookmark '{name}' saved to {path.name}"}

    @replies
    def twin_screenshot(self, view_id: str, camera: dict | None = None) -> dict:
        png = self._view(view_id, camera).screenshot()
        stem = re.sub(r"[^A-Za-z0-9]+", "-", self.twin.name or "scene").strip("-").lower()
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return {"png": base64.b64encode(png).decode("ascii"), "filename": f"{stem}-{stamp}.png"}

    # -- selection ---------------------------------------------------------------------------
    @replies
    def twin_pick(self, view_id: str, event, tool: str = "select", camera: dict | None = None) -> dict:
        view = self._view(view_id, camera)
        ray = self._ray(view, event)
        hit = (
            None
            if ray is None
            else picking.pick(view.pickable(), *ray, self.locators, keep=view.keeps, shown=view.shown_points)
        )
        if tool == "measure":
            return {"measure": self._measure(view_id, view, hit)}
        if hit is None:
            view.clear()
            self._show(view_id)
            return {"inspector": None}
        point = None
        if hit.point_id is not None:
            point = inspector.point_values(self.twin.layer(hit.layer), hit.point_id, float(self.twin.origin[2]))
            view.markers("selection", hit.local[None, :], radius=self._marker_size(view))
        return self._select(view_id, view, hit.asset, fly=False, point=point)

    def _ray(self, view: ClientView, event):
        """The pick ray from a remote click (display position) or a local one (vtk.js selection)."""
        if isinstance(event, list):
            event = event[0] if event else None
        if not event:  # vtk.js found nothing under the cursor
            return None
        if event.get("mode") == "local":
            if not event.get("ray"):
                return None
            start, end = (np.asarray(p, dtype=float) for p in event["ray"])
            height = view.plotter.ren_win.GetSize()[1]
            return start, end, math.radians(view.plotter.camera.view_angle) / max(height, 1)
        position = event.get("position", {})
        return view.ray(float(position.get("x", 0)), float(position.get("y", 0)), event.get("size"))

    def _marker_size(self, view: ClientView) -> float:
        cam = view.plotter.camera
        return max(0.15, float(np.linalg.norm(np.array(cam.position) - np.array(cam.focal_point))) * 0.006)

    def _measure(self, view_id: str, view: ClientView, hit) -> dict | None:
        if hit is None:
            return None
        points = (
            [*view.config.get("_measure", [])[-1:], hit.local.tolist()]
            if len(view.config.get("_measure", [])) < 2
            else [hit.local.tolist()]
        )
        view.config["_measure"] = points
        view.markers("measure", np.array(points), radius=self._marker_size(view))
        if len(points) == 2:
            view.line("measure", np.array(points))
        self._show(view_id)
        world = [self.twin.to_world(np.array(p)).tolist() for p in points]
        out = {"points": world}
        if len(points) == 2:
            d = np.array(points[1]) - np.array(points[0])
            out.update(horizontal=float(np.hypot(d[0], d[1])), vertical=float(d[2]), distance=float(np.linalg.norm(d)))
        return out

    @replies
    def twin_select(self, view_id: str, index: int, fly: bool = False, camera: dict | None = None) -> dict:
        view = self._view(view_id, camera)
        view.clear()
        if index is None or int(index) < 0:
            self._show(view_id)
            return {"inspector": None}
        return self._select(view_id, view, int(index), fly=fly)

    def _select(self, view_id: str, view: ClientView, index: int, fly: bool, point: dict | None = None) -> dict:
        view.clear("valves"), view.clear("lost"), view.clear("nearby")
        view.highlight("selection", [index])
        if fly:
            view.fly_to(index)
        self._show(view_id)  # one picture for the selection and the flight
        reply = camera_state(view) if fly else {}
        return {
            **reply,
            "inspector": inspector.describe(self.twin, index, point),
            "tree_open": self.tree_paths.get(index, []),
        }

    @replies
    def twin_search(self, text: str) -> dict:
        return {"suggestions": self.finder.suggest(str(text or ""))}

    @replies
    def twin_action(self, view_id: str, name: str, index: int, camera: dict | None = None) -> dict:
        view = self._view(view_id, camera)
        if name == "fly_to":
            view.fly_to(int(index))
            return self._camera_reply(view_id, view)
        if name == "isolate":
            return {"analysis": self._isolate(view_id, view, int(index))}
        if name == "nearby":
            return {"analysis": self._nearby(view_id, view, int(index))}
        raise TwinError(f"unknown action {name!r}")

    def _isolate(self, view_id: str, view: ClientView, index: int) -> dict:
        from twin import networks

        row = self.twin.assets.row(index)
        graph = inspector._network_graph(self.twin, row)
        if graph is None:
            raise TwinError(f"{row['id']} is not a segment of a pipe network")
        result = networks.isolate(graph, row["id"])
        rows = self._rows_of(row["network"], result["segments"])
        view.highlight("lost", [r for r in rows if r != index])
        nodes = [graph.nodes[v["node"]] for v in result["valves"]]
        xyz = np.array([[n.get("x", np.nan), n.get("y", np.nan), n.get("z", np.nan)] for n in nodes], dtype=float)
        xyz = self.twin.to_local(xyz.reshape(-1, 3))
        view.markers("valves", xyz[np.isfinite(xyz).all(axis=1)], radius=max(0.4, self._marker_size(view)))
        self._show(view_id)
        return {
            "kind": "isolate",
            "title": f"Isolating {row['id']}",
            "rows": [
                ["Valves to close", ", ".join(v["id"] for v in result["valves"]) or "none"],
                ["Valves assumed", "yes" if result["valves_assumed"] else "no (from the data)"],
                ["Segments out of supply", str(len(result["segments"]))],
                ["Length out of supply", f"{result['length_m']:,.1f} m"],
                ["Customers affected", str(len(result["customers"]))],
            ],
            "valves": [v["id"] for v in result["valves"]],
            "segments": result["segments"],
        }

    def _nearby(self, view_id: str, view: ClientView, index: int, radius: float = 5.0) -> dict:
        from twin import nearby

        if self._pipe_samples is None:  # every nearby query of this twin shares them
            self._pipe_samples = nearby.centre_lines(self.twin)
        result = nearby.nearby(self.twin, index, radius, samples=self._pipe_samples)
        found = [*result["pipes"], *result["assets"]]
        rows = [r for item in found for r in self._rows_of(item.get("network", ""), [item["id"]], item.get("layer"))]
        view.highlight("nearby", rows)
        self._show(view_id)
        return {
            "kind": "nearby",
            "title": f"Within {radius:g} m of {result['id']}",
            "rows": [[f"{item['id']} ({item.get('layer', '')})", _near_text(item)] for item in found[:30]]
            + [
                [f"Clearance violation: {v['id']}", f"{v['clearance_m']:.2f} m < {v['required_m']:.2f} m"]
                for v in result["violations"]
            ],
        }

    def _rows_of(self, network: str, ids: list[str], layer: str | None = None) -> list[int]:
        a = self.twin.assets
        mask = np.isin(a["id"], np.array(ids, dtype=a["id"].dtype)) & (a["network"] == network)
        if layer:
            mask &= a["layer"] == layer
        return np.flatnonzero(mask).tolist()

    # -- share links -------------------------------------------------------------------------
    @replies
    def twin_share(
        self, view_id: str, config: dict, selection: str | None, rendering: str, camera: dict | None = None
    ) -> dict:
        view = self._view(view_id, camera)
        return {"fragment": share.make_fragment(config, view.camera(), selection, rendering)}

    @replies
    def twin_restore(self, view_id: str, fragment: str) -> dict:
        wanted = share.parse_fragment(fragment, [layer.name for layer in self.twin.layers], default_config(self.twin))
        target = view_id
        view = self._view(view_id, {} if wanted["rendering"] == "client" else None)
        view.apply(wanted["config"])
        reply: dict = {"config": wanted["config"], "rendering": wanted["rendering"]}
        if wanted["camera"]:
            cam = wanted["camera"]
            view.set_camera(cam["position"], cam["focal_point"], cam["view_up"])
        index = self.twin.assets.index_of(wanted["selection"]) if wanted["selection"] else None
        if index is not None:
            view.highlight("selection", [index])
            reply["inspector"] = inspector.describe(self.twin, index)
        self._show(target)  # one picture for the camera, the layers and the selection
        if wanted["camera"]:
            reply.update(camera_state(view))
        if wanted["selection"] and index is None:
            reply["error"] = f"The shared selection {wanted['selection']!r} is not in this scene"
        return reply


def camera_state(view: ClientView) -> dict:
    """The reply's camera part: the frame time (server-side), or the camera for vtk.js."""
    if not view.client_side:
        return {"frame_ms": view.frame_ms}
    cam = view.plotter.camera
    return {
        "camera_local": {"position": list(cam.position), "focalPoint": list(cam.focal_point), "viewUp": list(cam.up)}
    }


def _near_text(item: dict) -> str:
    parts = [
        f"{item[k]:.2f} m {k.removesuffix('_m').replace('_', ' ')}"
        for k in ("clearance_m", "distance_m")
        if isinstance(item.get(k), (int, float))
    ]
    return ", ".join(parts) or item.get("kind", "")
