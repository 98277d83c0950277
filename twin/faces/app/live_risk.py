"""Live risk in the app: level changes recolour the views and reach every browser without reload.

The service calls back on its ingest or tick thread; :class:`LiveRisk` hands the call to the
trame event loop (``call_soon_threadsafe``) and coalesces a burst of changes into one flush:
one array write on the shared meshes and one state push (``risk``) for every browser.  The views
showing risk are then redrawn one at a time, the view drawn longest ago first, each at most every
``VIEW_GAP_S``, with the loop handed back between two renders (a software render takes 100-200 ms):
every browser's state, clicks and images go out in between, and a view still waiting when the
next change comes simply draws the newest colours.  After a quiet spell a view first gets a fast
picture (a quarter of the pixels) and, once no view waits for one, its full picture; in a burst of
changes it is drawn in full each time (no flicker between coarse and sharp).  A vtk.js view gets a scene
delta instead.

The ``risk`` state key is written by the server only: a browser that writes it is overruled at
once (a wall screen cannot be talked into a quiet picture).  Browsers act on the risk state only
through triggers (acknowledge), which go through the service like ``POST /api/alerts/{id}/ack``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from twin.faces.app.incident_feed import IncidentFeed
from twin.faces.app.panels.risk import LEVEL_STATE
from twin.faces.app.risk_paint import RiskPaint, ViewRisk, alert_rows
from twin.faces.incident_api import IncidentDesk
from twin.risk.interface import RiskView
from twin.risk.levels import ORANGE
from twin.risk.service import Snapshot

log = logging.getLogger("twin.app")
FLUSH_S = 0.05  # changes closer together than this share one flush
MIN_GAP_S = 0.1  # ... and flushes are at least this far apart under a heavy feed
STATE_FIRST_S = 0.005  # the websocket write of the new state runs before the first render
YIELD_S = 0.02  # the loop's turn between two renders: the last picture goes out meanwhile
FAST_AFTER_S = 1.0  # a view quiet this long gets a fast, coarse picture first
VIEW_GAP_S = 0.25  # a view redraws for live changes at most this often (the CPU is shared)
STATUS_S = 2.0  # summary, health and "last reading" refresh even without level changes
MAX_ALERTS = 50


class LiveRisk:
    """Wires a :class:`~twin.risk.service.RiskService` to the views and the shared trame state."""

    def __init__(self, server, service: RiskView, pool, show: Callable[[str, bool], None]) -> None:
        self.server, self.service, self.pool, self.show = server, service, pool, show
        twin = pool.twin
        self.twin = twin
        self.paint = RiskPaint(twin, service.grids.features, service.sources.features)
        self.views = ViewRisk(self.paint)
        pool.hooks.append(self.views)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._due = False
        self._last_flush = 0.0
        self._dirty: set[str] = set()  # views to redraw with the new colours
        self._coarse: set[str] = set()  # views showing a fast, coarse picture of them
        self._drawn_at: dict[str, float] = {}  # when each view was last redrawn for a change
        self._pump_due = False
        self._truth: dict[str, Any] = {}
        self.flushes = 0
        snap = service.snapshot()
        self._paint(snap)
        self.server.state["risk"] = self._truth = self.risk_state(snap)
        self.server.state["risk_levels"] = LEVEL_STATE
        # the open incidents (a service that groups alerts into them): the list and the tour's stops
        self.incidents = IncidentFeed(server, service, twin) if isinstance(service, IncidentDesk) else None
        if self.incidents is not None:
            self.incidents.refresh()
        self.server.state.change("risk")(self._guard)
        service.on_levels_changed(self._from_thread)
        service.on_status_changed(lambda _health: self._from_thread(None))
        self.server.controller.on_server_ready.add(self._started)

    # -- threads to the loop --------------------------------------------------------------
    def _started(self, **_: Any) -> None:
        self.loop = asyncio.get_event_loop()
        self.loop.create_task(self._status_loop())

    def _from_thread(self, _changed) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.schedule)

    def schedule(self) -> None:
        """Flush soon (on the loop); a burst of calls makes one flush."""
        if self._due or self.loop is None:
            return
        self._due = True
        wait = max(FLUSH_S, MIN_GAP_S - (time.monotonic() - self._last_flush))
        self.loop.call_later(wait, self.flush)

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(STATUS_S)
            try:
                self._push_state()
            except Exception:  # noqa: BLE001 - a status refresh must never stop the loop
                log.exception("risk status refresh failed")

    # -- the flush --------------------------------------------------------------------------
    def _paint(self, snap: Snapshot) -> bool:
        return self.paint.paint(snap.levels, self.service.grids.levels(snap.levels))

    def flush(self) -> None:
        """Recolour the shared meshes, push the new risk state, redraw the views that show risk."""
        self._due = False
        self._last_flush = time.monotonic()
        changed = False
        try:
            snap = self.service.snapshot()  # one per flush: the picture and the state agree
            changed = self._paint(snap)
            self._push_state(snap)
            self.flushes += 1
        except Exception:  # noqa: BLE001 - trame would swallow it; keep the log
            log.exception("live risk flush failed")
        if changed:
            self.redraw()

    def redraw(self) -> None:
        """Queue a new picture (or vtk.js scene delta) for every view drawing risk colours."""
        for view_id, view in list(self.pool.views.items()):
            self.views.refresh(view)  # markers and areas: shared arrays, per-view visibility
            if view_id not in self.pool.spares and self.views.shows_risk(view):
                self._dirty.add(view_id)  # a view in its own colours has nothing new to draw
        if self.loop is None:  # not serving (tests, scripts): draw them all now
            while self._dirty:
                self._draw(self._dirty.pop(), fast=False)
        else:
            self._pump_soon(STATE_FIRST_S)  # let the state go out first

    def _pump_soon(self, delay: float) -> None:
        if (self._dirty or self._coarse) and not self._pump_due and self.loop is not None:
            self._pump_due = True
            self.loop.call_later(delay, self._pump)

    def _pump(self) -> None:
        """One render, then the loop is handed back: first a fast picture for the queued view drawn
        longest ago, else a full picture for a view still showing a fast one."""
        self._pump_due = False
        serving = set(self.pool.views) - set(self.pool.spares)  # released views drop out
        self._dirty &= serving
        self._coarse &= serving
        wait = None
        if self._dirty:
            view_id = min(self._dirty, key=lambda v: self._drawn_at.get(v, 0.0))
            wait = self._drawn_at.get(view_id, 0.0) + VIEW_GAP_S - time.monotonic()
            if wait <= 0:
                self._dirty.discard(view_id)
                # fast after a quiet spell; in a burst the view stays sharp rather than flicker
                fast = time.monotonic() - self._drawn_at.get(view_id, 0.0) > FAST_AFTER_S
                self._draw(view_id, fast=fast)
                if fast and not self.pool.views[view_id].client_side:  # vtk.js has the exact colours
                    self._coarse.add(view_id)
                self._pump_soon(YIELD_S)
                return
        if self._coarse:
            self._draw(self._coarse.pop(), fast=False)
            self._pump_soon(YIELD_S)
        elif wait is not None:
            self._pump_soon(wait)

    def _draw(self, view_id: str, fast: bool) -> None:
        try:
            self.show(view_id, fast)
        except Exception:  # noqa: BLE001 - one view's failure must not stop the others
            log.exception("live risk redraw of view %s failed", view_id)
        self._drawn_at[view_id] = time.monotonic()

    def _push_state(self, snap: Snapshot | None = None) -> None:
        self._truth = self.risk_state(snap)
        with self.server.state:
            self.server.state["risk"] = self._truth
        if self.incidents is not None:
            self.incidents.refresh(self.loop)

    def _guard(self, risk=None, **_: Any) -> None:
        """Overrule a browser that wrote the server-owned risk state."""
        if risk is not self._truth and risk != self._truth:
            log.warning("a browser wrote the read-only risk state; restored")
            self.server.state["risk"] = self._truth
            self.server.state.flush()

    # -- what every browser sees --------------------------------------------------------------
    def risk_state(self, snap: Snapshot | None = None) -> dict[str, Any]:
        """What every browser shows, from the service's last snapshot: this runs on the event loop,
        which a stuck rule evaluation must never hold (the screens then say "degraded")."""
        svc = self.service
        snap = snap or svc.snapshot()
        summary = svc.summary(snap)
        return {
            "summary": summary,
            "alerts": self.alert_rows(snap.alerts),
            "grids": svc.grid_levels(snap.levels),
            "last_reading": snap.last_reading,
            "server_time": time.time(),
            "degraded": summary["degraded"],
            "degraded_reason": summary["degraded_reason"],
            "version": self.flushes,
        }

    def alert_rows(self, alerts: list[dict]) -> list[dict]:
        return alert_rows(self.twin, self.service, alerts)

    def tour_targets(self) -> list[dict]:
        """What the briefing tour visits, most severe first: the open incidents (one stop each, the
        alerts of one failure together), or without incidents the active red and orange alerts."""
        if self.incidents is not None:
            return self.incidents.stops()
        return [a for a in self._truth.get("alerts", []) if a["code"] >= ORANGE and a["index"] >= 0]
