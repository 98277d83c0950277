"""Triggers of the live-risk UI: acknowledge, the live inspector, the briefing tour, snapshot, playback.

Like the app's other features (:mod:`twin.faces.app.actions`) each trigger answers its caller
only.  Acknowledging goes through the service (the same path as ``POST /api/alerts/{id}/ack``)
and then flushes, so every browser sees the new alert state at once.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

from twin.errors import TwinError
from twin.faces.app import asset_details, chart, snapshot
from twin.faces.app.live_risk import LiveRisk
from twin.faces.app.triggers import Triggers, camera_state, replies
from twin.faces.app.view_actions import file_stem
from twin.faces.i18n import _
from twin.risk.colours import LEVEL_LABELS
from twin.risk.levels import CODES, RED
from twin.risk.playback import Playback

CHART_S = 3600.0  # the inspector's charts show the last hour
CHART_POINTS = 400
PLAYBACK_DEFAULT_S = 3600.0


class RiskActions(Triggers):
    """Triggers named ``twin_*``, registered beside the app's other features (:mod:`twin.faces.app.actions`)."""

    def __init__(
        self,
        live: LiveRisk,
        push: Callable[[str], None],
        scene_of: Callable[[str], dict],
        caller: Callable[[], str | None] = lambda: None,
    ) -> None:
        super().__init__(live.pool, push, scene_of, caller)
        self.live, self.service, self.twin = live, live.service, live.twin
        self.playbacks: dict[str, Playback] = {}
        self.toured: dict[str, set[int]] = {}  # per view: the red alerts its tour has shown
        self.pool.on_release.append(self._forget)

    def _forget(self, view_id: str) -> None:
        """A released view (its browser closed) ends its playback and its tour."""
        self.toured.pop(view_id, None)
        if self.playbacks.pop(view_id, None) is not None:
            self.live.views.override.pop(id(self.pool.views[view_id]), None)

    def _reply_camera(self, view_id: str) -> dict:
        view = self.pool.get(view_id)
        self.show(view_id)
        return {"camera": view.camera(), **(camera_state(view) if view.client_side else {})}

    def twin_ping(self) -> dict:
        """Every live screen's heartbeat; a late answer means a busy server, not a lost one (``risk.js``)."""
        return {"ok": True}

    # -- alerts ----------------------------------------------------------------------------
    # The service's lock is held through a rule evaluation: these wait for it on a thread, so a
    # stuck evaluation leaves the event loop (every other browser, the degraded banner) running.
    @replies
    async def twin_ack(self, alert_id: int, by: str = "") -> dict:
        found = await asyncio.to_thread(self.service.ack, int(alert_id), str(by or "browser")[:80])
        if found is None:
            raise TwinError(_("alert {id} is not open", id=alert_id))
        self.live.flush()
        return {"alert": found, "message": _("Alert {id} acknowledged", id=alert_id)}

    # -- the live inspector -----------------------------------------------------------------
    @replies
    async def twin_risk_asset(self, index: int) -> dict:
        return await asyncio.to_thread(self._risk_asset, int(index))

    def _risk_asset(self, index: int) -> dict:
        asset_id = str(self.twin.assets["id"][int(index)])
        info = self.service.asset(asset_id) or {}
        risk = info.get("risk") or {}
        level = risk.get("level", "none")
        rows = self.service.readings(asset_id, since=time.time() - CHART_S, limit=CHART_POINTS * 8) or []
        by_sensor: dict[str, list] = defaultdict(list)
        for r in rows:
            by_sensor[r["sensor"]].append(r)
        described = {s["id"]: s for s in self.service.sensor_list() if s["asset"] == asset_id}
        sensors = []
        for s in info.get("sensors", []):
            meta = described.get(s["id"], {})
            series = by_sensor.get(s["id"], [])[-CHART_POINTS:]
            sensors.append(
                {
                    "id": s["id"],
                    "quantity": s["quantity"],
                    "unit": s["unit"],
                    "level": s["level"],
                    "stale": s["stale"],
                    "latest": s.get("latest"),
                    "latest_text": asset_details.reading_text(
                        (s.get("latest") or {}).get("value"), s["unit"], meta.get("precision")
                    ),
                    "svg": chart.sparkline(series, meta.get("thresholds"), meta.get("direction"), s["unit"]),
                }
            )
        history = [a for a in self.service.alerts(include_resolved=True) if a["asset"] == asset_id]
        return {
            "risk": {
                "index": int(index),
                "id": asset_id,
                "level": level,
                "label": LEVEL_LABELS[CODES.get(level, 0)],
                "reason": risk.get("reason", ""),
                "since": risk.get("since"),
                "sensors": sensors,
                "grid": info.get("grid"),
                "alerts": asset_details.alert_history(history, time.time())[:20],
            }
        }

    # -- the briefing tour ---------------------------------------------------------------------
    @replies
    def twin_tour(self, view_id: str, step: int) -> dict:
        """Fly to the ``step``-th active red or orange alert; an overview when there is none."""
        view = self.pool.get(view_id)
        targets = self.live.tour_targets()
        view.clear("selection")
        if not targets:
            overview = [b for b in self.twin.bookmarks if b.name.lower() == "overview"]
            if overview:
                view.set_camera(overview[0].position, overview[0].focal_point, overview[0].view_up)
            else:
                view.look("iso")
            return {**self._reply_camera(view_id), "target": None}
        target = next_stop(targets, int(step), self.toured.setdefault(view_id, set()))
        view.look("iso")
        view.fly_to(target["index"])  # no selection overlay: it would hide the level's colour
        return {**self._reply_camera(view_id), "target": target, "of": len(targets)}

    # -- snapshot for situation reports ---------------------------------------------------------
    @replies
    def twin_snapshot(self, view_id: str, playback_t: float | None = None) -> dict:
        view = self.pool.get(view_id)
        state = self.live.risk_state()
        counts, alerts, note = state["summary"]["levels"], state["alerts"], ""
        when = time.time()
        if view_id in self.playbacks and playback_t is not None:
            shown = self.playbacks[view_id].snapshot()
            counts, alerts = shown["summary"]["levels"], self.live.alert_rows(shown["alerts"])
            when, note = shown["t"], _("PLAYBACK (recorded history)")
        png = snapshot.compose(view.screenshot(), self.twin.name or "CIM Twin", counts, alerts, when, note)
        stamp = datetime.fromtimestamp(when, tz=UTC).strftime("%Y%m%d-%H%M%S")
        filename = f"{file_stem(self.twin)}-situation-{stamp}.png"
        return {"png": base64.b64encode(png).decode("ascii"), "filename": filename}

    # -- playback -----------------------------------------------------------------------------------
    @replies
    def twin_playback_open(self, view_id: str, seconds: float = PLAYBACK_DEFAULT_S) -> dict:
        span = self.service.history.level_range()
        if span is None:
            raise TwinError(_("no recorded history to play back yet"))
        end = max(span[1], time.time())
        start = max(span[0], end - float(seconds or PLAYBACK_DEFAULT_S))
        self.twin_playback_close(view_id)
        self.playbacks[view_id] = Playback(self.service.history, start, end)
        return {"playback": {"start": start, "end": end, "first": span[0]}, **self._seek(view_id, start)}

    @replies
    def twin_playback_seek(self, view_id: str, t: float) -> dict:
        if view_id not in self.playbacks:
            raise TwinError(_("the playback was closed; open it again"))
        return self._seek(view_id, float(t))

    def _seek(self, view_id: str, t: float) -> dict:
        playback = self.playbacks[view_id]
        levels = playback.seek(t)
        name = f"risk_playback_{abs(hash(view_id)) % 10**8}"
        self.live.paint.write(name, levels)
        self.live.views.show(self.pool.get(view_id), name)
        self.show(view_id)
        shown = playback.snapshot()
        return {
            "playback_state": {
                "t": shown["t"],
                "levels": shown["summary"]["levels"],
                "alerts": self.live.alert_rows(shown["alerts"]),
            }
        }

    @replies
    def twin_playback_close(self, view_id: str) -> dict:
        playback = self.playbacks.pop(view_id, None)
        if playback is not None:
            self.live.views.show(self.pool.get(view_id), None)
            self.show(view_id)
        return {"playback": None}


def next_stop(targets: list[dict], step: int, toured: set[int]) -> dict:
    """The tour's next alert: a red one it has not shown yet (the newest first), else the
    ``step``-th in order; ``toured`` collects the red alerts shown."""
    fresh = [t for t in targets if t["code"] >= RED and t["id"] not in toured]
    target = max(fresh, key=lambda t: t.get("opened", 0)) if fresh else targets[step % len(targets)]
    if target["code"] >= RED:
        toured.add(target["id"])
    return target
