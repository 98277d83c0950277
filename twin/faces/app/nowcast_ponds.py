"""The flood nowcast in the 3D view: its ponds as one translucent water surface, its flooding
manholes marked.

Each result of the scene's :class:`twin.hydraulics.live.NowcastLoop` (on the nowcast's own
thread) becomes one water-surface mesh (:func:`twin.hydraulics.pond_surface.pond_surface`: every
pond's wet cells at its water level) and one point set of the flooding manholes, both built on
that thread and swapped into two meshes shared by every view on the trame event loop
(``ShallowCopy``): each view has one actor per mesh, so a new nowcast is two copies, not new
actors.  The views are then redrawn and the shared state ``nowcast`` (how many nodes flood, the
soonest with when and why) goes to every browser.  The same reasons reach the alerts and the
inspector through the live risk (:mod:`twin.risk.external`), each page showing them in its own
language (``window.twinI18n.reason``: "预报 40 分钟后 J12 溢流积水").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pyvista as pv

from twin.faces.app.client_views import ClientView
from twin.hydraulics.pond_surface import WATER_OPACITY, WATER_RGB, pond_surface
from twin.scene import Twin

log = logging.getLogger("twin.app")
#: the flooding manholes' marker colour (teal: neither a risk colour, the water, nor a highlight)
MANHOLE_RGB = (29, 233, 182)
MANHOLE_PX = 18
WATER, MANHOLES = "nowcast:water", "nowcast:manholes"
#: the reasons the ``nowcast`` state lists (the counts cover every node)
LISTED = 10


def _nothing() -> pv.PolyData:
    """A mesh that draws nothing yet can be added to a view: one point, no cells."""
    mesh = pv.PolyData()
    mesh.points = np.zeros((1, 3), dtype=np.float32)
    return mesh


def _or_nothing(mesh: pv.PolyData) -> pv.PolyData:
    return mesh if mesh.n_cells else _nothing()


def manhole_points(twin: Twin, result: dict[str, Any]) -> np.ndarray:
    """Local (x, y, z) float32 just above each flooding node: the top of its asset, else its spill point."""
    out = []
    for node in result.get("nodes", []):
        row = twin.assets.index_of(node["id"])
        bounds = twin.assets.bounds[row] if row is not None else np.full(6, np.nan)
        if np.isfinite(bounds).all():
            out.append([(bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2, bounds[5] + 1.0])
        elif node.get("ponding"):
            where = node["ponding"]
            out.append([where["x"], where["y"], where["level_m"] + 1.0])
    if not out:
        return np.zeros((0, 3), dtype=np.float32)
    local: np.ndarray = twin.to_local(np.asarray(out, dtype=np.float64)).astype(np.float32)
    return local


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The ``nowcast`` state: status, when, how many nodes flood and the first ones with their reasons."""
    nodes = result.get("nodes", [])
    return {
        "status": result.get("status", "pending"),
        "message": result.get("message", ""),
        "at": result.get("at"),
        "flooding": len(nodes),
        "ponds": sum(1 for n in nodes if n.get("ponding")),
        "nodes": [
            {
                "id": n["id"],
                "reason": n["reason"],
                "minutes": round(n["first_flood_s"] / 60),
                "volume_m3": round(float(n.get("volume_m3", 0.0)), 1),
                "depth_m": (n.get("ponding") or {}).get("max_depth_m"),
            }
            for n in sorted(nodes, key=lambda n: n["first_flood_s"])[:LISTED]
        ],
    }


class NowcastPonds:
    """Draws the latest nowcast of ``loop`` in every view of ``pool``; ``show(view_id)`` redraws one."""

    def __init__(self, server, loop, pool, show: Callable[[str], None]) -> None:
        self.server, self.pool, self.show, self.twin = server, pool, show, pool.twin
        self.water = _nothing()
        self.manholes = _nothing()
        self.event_loop: asyncio.AbstractEventLoop | None = None
        self.drawn = 0  #: nowcasts drawn so far
        self._pending: tuple | None = None  # a result that came before the server was up
        pool.hooks.append(self.attach)
        for view in pool.views.values():
            self.attach(view)
        self.server.state["nowcast"] = summary(loop.latest)  # the shared key (server-written)
        loop.listeners.append(self.arrived)
        if loop.runs:  # a run that ended before the app was built: drawn once the server is up
            self.arrived(loop.latest)
        server.controller.on_server_ready.add(self._started)

    def attach(self, view: ClientView) -> None:
        """Give a view its two actors (a hook after every :meth:`ClientView.apply`; a reset view
        loses its overlays and gets them back here)."""
        if WATER in view.overlays:
            return
        water = view.plotter.add_mesh(
            self.water,
            color=WATER_RGB,
            opacity=WATER_OPACITY,
            name=WATER,
            pickable=False,
            reset_camera=False,
            show_scalar_bar=False,
            ambient=0.3,
            specular=0.4,
        )
        marks = view.plotter.add_mesh(
            self.manholes,
            color=MANHOLE_RGB,
            name=MANHOLES,
            style="points",
            point_size=MANHOLE_PX,
            render_points_as_spheres=True,
            pickable=False,
            reset_camera=False,
            show_scalar_bar=False,
            lighting=False,
        )
        for key, actor in ((WATER, water), (MANHOLES, marks)):
            view.overlays[key] = actor
            if view.section is not None:
                actor.GetMapper().AddClippingPlane(view.section)

    # -- the nowcast's thread to the event loop ------------------------------------------------
    def arrived(self, result: dict[str, Any]) -> None:
        """A nowcast ended (its thread): build the meshes here, swap them in on the event loop.
        A failed run keeps the last water drawn (like the levels it raised)."""
        if result.get("status") == "failed":
            meshes = None
        else:
            marks = manhole_points(self.twin, result)
            meshes = (_or_nothing(pond_surface(self.twin, result)), pv.PolyData(marks) if len(marks) else _nothing())
        loop = self.event_loop
        if loop is None or loop.is_closed():
            self._pending = (result, meshes)
            return
        loop.call_soon_threadsafe(self.apply, result, meshes)

    def _started(self, **_: Any) -> None:
        self.event_loop = asyncio.get_event_loop()
        if self._pending is not None:
            self.apply(*self._pending)
            self._pending = None

    def apply(self, result: dict[str, Any], meshes: tuple | None) -> None:
        """Show a nowcast: the new water and markers in every view, the state to every browser."""
        try:
            if meshes is not None:
                self.water.ShallowCopy(meshes[0])
                self.manholes.ShallowCopy(meshes[1])
                self.drawn += 1
            with self.server.state:
                self.server.state["nowcast"] = summary(result)
            if meshes is not None:
                for view_id in [v for v in self.pool.views if v not in self.pool.spares]:
                    self.show(view_id)
        except Exception:  # noqa: BLE001 - trame would swallow it; keep the log
            log.exception("drawing the flood nowcast failed")
