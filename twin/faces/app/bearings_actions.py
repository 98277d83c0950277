"""Triggers that keep a browser oriented: its bearings (north, scale, axes), the coordinates under
its mouse, the home view and north-up (:mod:`twin.faces.app.bearings` has the math)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from twin.faces.app import bearings, picking
from twin.faces.app.client_views import ClientView
from twin.faces.app.pool import ViewPool
from twin.faces.app.triggers import Triggers, replies
from twin.scene import Twin

HitUnder = Callable[[ClientView, Any, str], picking.Hit | None]


class BearingsActions(Triggers):
    """``hit_under`` finds the surface under a pointer (:meth:`SelectionActions.hit_under`)."""

    def __init__(
        self,
        twin: Twin,
        pool: ViewPool,
        push: Callable[[str], None],
        scene_of: Callable[[str], dict],
        caller: Callable[[], str | None] = lambda: None,
        hit_under: HitUnder | None = None,
    ) -> None:
        super().__init__(pool, push, scene_of, caller)
        self.twin = twin
        self.hit_under = hit_under

    @replies
    def twin_bearings(self, view_id: str, height_px: float, camera: dict | None = None) -> dict:
        """North arrow, scale bar and orientation axes for the view as the browser shows it,
        ``height_px`` CSS pixels high (asked after the camera moved; nothing is drawn)."""
        view = self.view(view_id, camera)
        return {"bearings": bearings.view_bearings(view.plotter.camera, float(height_px or 1))}

    @replies
    def twin_probe(self, view_id: str, event: Any, camera: dict | None = None) -> dict:
        """The point under the mouse in the scene CRS and in longitude / latitude (``None`` off the scene).

        The nearest surface, as the measure tool takes it: a ray test on the shared locators, a
        millisecond or so, so it runs on the event loop without holding it.
        """
        view = self.view(view_id, camera)
        hit = self.hit_under(view, event, "measure") if self.hit_under else None
        if hit is None:
            return {"probe": None}
        world = self.twin.to_world(np.asarray(hit.local, dtype=np.float64))
        probe: dict[str, Any] = {"x": round(float(world[0]), 2), "y": round(float(world[1]), 2)}
        probe["z"] = round(float(world[2]), 2)
        found = bearings.lon_lat(self.twin.crs, world)
        if found is not None:
            probe["lon"], probe["lat"] = round(found[0], 7), round(found[1], 7)
        return {"probe": probe}

    @replies
    def twin_home(self, view_id: str, camera: dict | None = None) -> dict:
        """Back to the camera the view started with (the scene's home view)."""
        view = self.view(view_id, camera)
        view.plotter.camera.DeepCopy(view.home)
        view.plotter.reset_camera_clipping_range()
        return self.camera_reply(view_id, view)

    @replies
    def twin_north_up(self, view_id: str, camera: dict | None = None) -> dict:
        """Turn the view about the vertical through its focal point until north is up, tilt and distance kept."""
        view = self.view(view_id, camera)
        cam = view.plotter.camera
        cam.position, cam.up = bearings.north_up(cam.position, cam.focal_point, cam.up)
        view.plotter.reset_camera_clipping_range()
        return self.camera_reply(view_id, view)
