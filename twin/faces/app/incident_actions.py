"""Triggers of the incidents panel: open an incident, check a plan step off, note an action, print
the situation report, close it again.

Opening an incident (``twin_incident``) answers its caller alone, like every trigger of the app
(:mod:`twin.faces.app.actions`): that browser's view selects the incident's assets, draws the
street route of each listed resource (one merged polyline mesh, :mod:`~.incident_routes`) and
a marker at each resource, and flies there; the reply is what the panel shows (timeline, plan
checklist, grids with the workers on duty, nearest resources).  The browser asks again when the
shared list (:mod:`~.incident_feed`) changes, so an open incident follows its alerts live; the
view is redrawn only when its assets or resources changed.  Check-offs and actions go through
the service like ``POST /api/incidents/{id}/steps/{step}``, in the operator's name.
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from twin.errors import TwinError
from twin.faces.app import asset_details
from twin.faces.app.client_views import ClientView
from twin.faces.app.incident_feed import IncidentFeed
from twin.faces.app.incident_routes import Ground, resource_points, route_mesh
from twin.faces.app.live_risk import LiveRisk
from twin.faces.app.triggers import Triggers, camera_state, replies
from twin.faces.app.view_actions import file_stem
from twin.faces.i18n import _
from twin.faces.sitrep import incident_report

MAX_TIMELINE = 80  #: the newest entries the panel lists (the report and the API have them all)
MIN_FRAME_M = 120.0  #: an incident is framed at least this wide (its resources come from further)
#: what the panel's timeline shows of an alert's own events (its level changes are in the incident's)
ALERT_EVENTS = ("first abnormal reading", "acknowledged")
OVERLAYS = ("selection", "valves", "lost", "nearby", "routes", "resources")


class IncidentActions(Triggers):
    """Triggers named ``twin_*``, bound beside the live-risk ones when the service keeps incidents."""

    def __init__(
        self,
        live: LiveRisk,
        feed: IncidentFeed,
        push: Callable[[str], None],
        scene_of: Callable[[str], dict],
        caller: Callable[[], str | None] = lambda: None,
    ) -> None:
        super().__init__(live.pool, push, scene_of, caller)
        self.live, self.feed, self.desk, self.twin = live, feed, feed.desk, live.twin
        self.ground = Ground(self.twin)
        self.drawn: dict[str, tuple] = {}  # view id -> what its incident overlays show
        self.pool.on_release.append(self._forget)

    def _forget(self, view_id: str) -> None:
        """A released view (its browser closed) shows no incident."""
        self.drawn.pop(view_id, None)

    async def _detail(self, incident_id: int) -> dict[str, Any]:
        found = await asyncio.to_thread(self.desk.incident, int(incident_id))
        if found is None:
            raise TwinError(_("Incident {id} is not known", id=incident_id))
        return found

    # -- open, follow, close -----------------------------------------------------------------
    @replies
    async def twin_incident(
        self, view_id: str, incident_id: int, fly: bool = False, camera: dict | None = None
    ) -> dict:
        """One incident for the panel; its assets selected and its resources' routes drawn in the
        caller's view, and (``fly``) the camera framing it and the inspector on its epicentre."""
        detail = await self._detail(incident_id)
        view = self.view(view_id, camera)
        rows = [r for r in (self.twin.assets.index_of(a) for a in detail["assets"]) if r is not None]
        drawn = (detail["id"], tuple(rows), tuple((r["id"], r["need"]) for r in detail["resources"]))
        summary = self.feed.row(detail)
        reply: dict[str, Any] = {"incident": panel(detail, summary)}
        if fly or self.drawn.get(view_id) != drawn:
            self._draw(view, rows, detail)
            self.drawn[view_id] = drawn
            if fly:
                self._frame(view, rows)
            self.show(view_id)
        if fly:
            reply |= camera_state(view)
            if summary["index"] >= 0:
                reply["inspector"] = asset_details.describe(self.twin, summary["index"])
        return reply

    @replies
    def twin_incident_close(self, view_id: str, camera: dict | None = None) -> dict:
        """The incident is deselected: its selection, routes and markers go."""
        view = self.view(view_id, camera)
        for name in OVERLAYS:
            view.clear(name)
        self.drawn.pop(view_id, None)
        self.show(view_id)
        return {"incident": None, "inspector": None}

    def _draw(self, view: ClientView, rows: list[int], detail: dict[str, Any]) -> None:
        for name in OVERLAYS:
            view.clear(name)
        view.highlight("selection", rows)
        resources = detail["resources"]
        where = detail.get("location") or {}
        otherwise = float(self.twin.to_local(np.array([0.0, 0.0, where.get("z", 0.0)]))[2])
        view.polylines("routes", route_mesh(resources, self.ground, otherwise))
        if resources:
            view.markers("resources", resource_points(resources, self.ground, otherwise), radius=3.0)

    def _frame(self, view: ClientView, rows: list[int]) -> None:
        """Frame the incident's assets (keeping the viewing direction), at least MIN_FRAME_M across."""
        boxes = self.twin.assets.bounds[rows] if rows else np.zeros((0, 6))
        boxes = boxes[np.isfinite(boxes).all(axis=1)]
        if not len(boxes):
            return
        lo = self.twin.to_local(boxes[:, [0, 2, 4]].min(axis=0))
        hi = self.twin.to_local(boxes[:, [1, 3, 5]].max(axis=0))
        centre, half = (lo + hi) / 2, np.maximum((hi - lo) / 2, MIN_FRAME_M / 2)
        bounds = np.column_stack([centre - half, centre + half]).ravel()
        view.plotter.renderer.ResetCamera(*bounds.tolist())
        view.plotter.reset_camera_clipping_range()

    # -- the operator's actions ------------------------------------------------------------------
    @replies
    async def twin_check_step(self, incident_id: int, step: str, by: str, note: str = "") -> dict:
        """Check a plan step off in the operator's name (once: a second check-off is refused)."""
        name = str(by or "").strip()[:80]
        done = await asyncio.to_thread(
            self.desk.check_off, int(incident_id), str(step)[:100], name, str(note or "")[:2000]
        )
        self.live.flush()  # an overdue step's alert is acknowledged with it; the list's progress moves
        return {"step": done, "message": _("Step checked off by {by}", by=name)}

    @replies
    async def twin_incident_act(self, incident_id: int, by: str, text: str) -> dict:
        """Note an action on the incident's timeline (who, what, when)."""
        action = await asyncio.to_thread(
            self.desk.act, int(incident_id), str(by or "").strip()[:80], str(text or "")[:2000]
        )
        return {"action": action, "message": _("Action noted")}

    @replies
    async def twin_sitrep(self, view_id: str, incident_id: int, camera: dict | None = None) -> dict:
        """The incident's situation report as a PDF (:mod:`twin.faces.sitrep`), the view as its map."""
        detail = await self._detail(incident_id)
        png = self.view(view_id, camera).screenshot()
        pdf = await asyncio.to_thread(situation_report, detail, png)
        stamp = datetime.fromtimestamp(time.time(), tz=UTC).strftime("%Y%m%d-%H%M%S")
        filename = f"{file_stem(self.twin)}-incident-{detail['id']}-{stamp}.pdf"
        return {"pdf": base64.b64encode(pdf).decode("ascii"), "filename": filename}


def situation_report(detail: dict[str, Any], map_png: bytes) -> bytes:
    """The PDF bytes of an incident's situation report with ``map_png`` as its map."""
    with tempfile.TemporaryDirectory(prefix="twin-sitrep-") as folder:
        snapshot, out = Path(folder) / "map.png", Path(folder) / "report.pdf"
        snapshot.write_bytes(map_png)
        try:
            incident_report(detail, out, snapshot)
        except FileNotFoundError as exc:  # no CJK font on this server
            raise TwinError(_("Cannot write the report: {problem}", problem=exc)) from None
        return out.read_bytes()


def panel(detail: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """What the incidents panel shows of one incident (routes stay on the server: it draws them)."""
    plan = detail.get("plan")
    affected = detail.get("affected", {})
    timeline = [
        e
        for e in detail.get("timeline", [])
        if (e["source"] == "incident" and e["event"] != "step") or e["source"] == "plan" or e["event"] in ALERT_EVENTS
    ]
    return {
        **summary,
        "state": detail["state"],
        "resolved": detail.get("resolved"),
        "plan": None
        if plan is None
        else {key: plan[key] for key in ("id", "name", "name_zh")} | {"steps": [dict(s) for s in plan["steps"]]},
        "timeline": timeline[-MAX_TIMELINE:],
        "grid_layers": detail.get("grid_layers", []),
        "resources": [
            {key: r[key] for key in ("id", "name", "kind", "need", "distance_m", "minutes", "phone")}
            for r in detail.get("resources", [])
        ],
        "affected": {key: len(affected.get(key, [])) for key in ("valves", "isolated_segments", "customers")},
    }
