"""Triggers that pick, select, find and measure: what the inspector and the measure tool show."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from twin.faces.app import asset_details, picking, tree
from twin.faces.app.client_views import ClientView
from twin.faces.app.pool import ViewPool
from twin.faces.app.search import AssetSearch
from twin.faces.app.triggers import Triggers, camera_state, replies
from twin.layer import Layer
from twin.scene import Twin

Ray = tuple[np.ndarray, np.ndarray, float]  # start, end, the angle of one pixel


class SelectionActions(Triggers):
    """Selection and inspection; ``tree_paths`` opens the layer tree down to a selected asset."""

    def __init__(
        self,
        twin: Twin,
        pool: ViewPool,
        push: Callable[[str], None],
        scene_of: Callable[[str], dict],
        caller: Callable[[], str | None] = lambda: None,
        layer_groups: list[dict] | None = None,
    ) -> None:
        super().__init__(pool, push, scene_of, caller)
        self.twin = twin
        self.finder = AssetSearch(twin.assets)
        self.locators = picking.Locators()
        self.tree_paths = tree.ancestors(tree.layer_groups(twin) if layer_groups is None else layer_groups)
        #: an asset row's risk level label for the hover tooltip; the app sets it when risk is live
        self.level_of: Callable[[int], str | None] = lambda _row: None

    def hit_under(self, view: ClientView, event: Any, tool: str = "select") -> picking.Hit | None:
        """What a click or hover meets: in underground modes a pipe wins over the translucent
        ground and streets in front of it (not when measuring, which wants the nearest surface)."""
        ray = pick_ray(view, event)
        if ray is None:
            return None
        underground = view.config.get("underground", "off") != "off" and tool != "measure"
        return picking.pick(
            view.pickable(),
            *ray,
            self.locators,
            keep=view.keeps,
            shown=view.shown_points,
            prefer=is_underground if underground else None,
        )

    @replies
    def twin_pick(self, view_id: str, event: Any, tool: str = "select", camera: dict | None = None) -> dict:
        """A click in the view: select what is under it, or (``tool`` "measure") add a measured point."""
        view = self.view(view_id, camera)
        hit = self.hit_under(view, event, tool)
        if tool == "measure":
            return {"measure": self.measure(view_id, view, hit)}
        if hit is None:
            view.clear()
            self.show(view_id)
            return {"inspector": None}
        point = None
        if hit.point_id is not None:
            origin_z = 0.0 if self.twin.origin is None else float(self.twin.origin[2])
            point = asset_details.point_values(self.twin.layer(hit.layer), hit.point_id, origin_z)
            view.markers("selection", hit.local[None, :], radius=view.marker_radius())
        return self.select(view_id, view, hit.asset, fly=False, point=point)

    @replies
    def twin_hover(self, view_id: str, event: Any, camera: dict | None = None) -> dict:
        """The mouse rests over the view: highlight what is under it and name it for the tooltip.

        Sent by the browser at most a few times a second when the pointer stops (both rendering
        modes send the same event as a click); the highlight is redrawn only when the asset changed.
        """
        view = self.view(view_id, camera)
        hit = self.hit_under(view, event)
        row = None if hit is None else hit.asset
        drawn = view.config.get("_hover") if any(key.startswith("hover:") for key in view.overlays) else None
        if drawn != row:
            view.config["_hover"] = row
            view.highlight("hover", [] if row is None else [row])
            self.show(view_id)
        return {"hover": None if row is None else self.tooltip(row)}

    def tooltip(self, row: int) -> dict:
        """Name, kind and risk level of an asset row: what the hover tooltip shows."""
        a = self.twin.assets
        name, ident = str(a["name"][row]), str(a["id"][row])
        return {
            "index": row,
            "id": ident,
            "name": name or ident,
            "kind": str(a["kind"][row]),
            "network": str(a["network"][row]),
            "level": self.level_of(row),
        }

    @replies
    def twin_select(self, view_id: str, index: int, fly: bool = False, camera: dict | None = None) -> dict:
        """Select an asset by row (from the tree or a search); a negative row clears the selection."""
        view = self.view(view_id, camera)
        view.clear()
        if index is None or int(index) < 0:
            self.show(view_id)
            return {"inspector": None}
        return self.select(view_id, view, int(index), fly=fly)

    @replies
    def twin_search(self, text: str) -> dict:
        return {"suggestions": self.finder.suggest(str(text or ""))}

    @replies
    def twin_fly_to(self, view_id: str, index: int, camera: dict | None = None) -> dict:
        view = self.view(view_id, camera)
        view.fly_to(int(index))
        return self.camera_reply(view_id, view)

    def select(self, view_id: str, view: ClientView, index: int, fly: bool, point: dict | None = None) -> dict:
        """Highlight one asset (and fly to it) and describe it for the inspector."""
        for analysis in ("valves", "lost", "nearby"):  # the last asset's analysis goes with it
            view.clear(analysis)
        view.highlight("selection", [index])
        if fly:
            view.fly_to(index)
        self.show(view_id)  # one picture for the selection and the flight
        reply = camera_state(view) if fly else {}
        return {
            **reply,
            "inspector": asset_details.describe(self.twin, index, point),
            "tree_open": self.tree_paths.get(index, []),
        }

    @replies
    def twin_measure_off(self, view_id: str, camera: dict | None = None) -> dict:
        """The measure tool is put away: its points, line and label leave the view with it."""
        view = self.view(view_id, camera)
        view.config.pop("_measure", None)
        view.clear("measure")
        self.show(view_id)
        return {"measure": None}

    def measure(self, view_id: str, view: ClientView, hit: picking.Hit | None) -> dict | None:
        """Add a measured point (a third starts over); two give the distances between them."""
        if hit is None:
            return None
        points = (
            [*view.config.get("_measure", [])[-1:], hit.local.tolist()]
            if len(view.config.get("_measure", [])) < 2
            else [hit.local.tolist()]
        )
        view.config["_measure"] = points
        view.markers("measure", np.array(points), radius=view.marker_radius())
        if len(points) == 2:
            view.line("measure", np.array(points))
            middle = (np.array(points[0]) + np.array(points[1])) / 2
            length = float(np.linalg.norm(np.array(points[1]) - np.array(points[0])))
            view.label("measure", f"{length:.2f} m", middle, height=view.marker_radius() * 2)
        self.show(view_id)
        world = [self.twin.to_world(np.array(p)).tolist() for p in points]
        out: dict[str, Any] = {"points": world}
        if len(points) == 2:
            d = np.array(points[1]) - np.array(points[0])
            out.update(horizontal=float(np.hypot(d[0], d[1])), vertical=float(d[2]), distance=float(np.linalg.norm(d)))
        return out


def is_underground(layer: Layer) -> bool:
    """The layers an engineer reaches for in underground modes: pipes and their nodes."""
    return layer.kind == "pipes"


def pick_ray(view: ClientView, event: Any) -> Ray | None:
    """The pick ray from a remote click (display position) or a local one (vtk.js selection)."""
    if isinstance(event, list):
        event = event[0] if event else None
    if not event:  # vtk.js found nothing under the cursor
        return None
    if event.get("mode") == "local":
        if not event.get("ray"):
            return None
        start, end = (np.asarray(p, dtype=float) for p in event["ray"])
        height = view.window.GetSize()[1]
        angle = math.radians(view.plotter.camera.view_angle) / max(height, 1)
    else:
        position = event.get("position", {})
        start, end, angle = view.ray(float(position.get("x", 0)), float(position.get("y", 0)), event.get("size"))
    camera = view.plotter.camera
    if not camera.parallel_projection:  # from the eye, not the near plane: tolerances grow from there
        start = np.array(camera.position, dtype=float)
    return start, end, angle
