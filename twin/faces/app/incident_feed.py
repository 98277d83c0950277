"""The open incidents every browser lists, kept in one server-written state key (``incidents``).

The live service groups alerts into incidents (:mod:`twin.risk.response`); this feed asks it
for the open ones after each live-risk flush and every status refresh, off the event loop (the
service's lock is held through a rule evaluation), and writes the shared key only when what a
screen shows has changed: a new incident, a level, an alert more, a plan step done.  Each row
is the incident in summary; a browser that opens one asks for the rest through a trigger
(:mod:`twin.faces.app.incident_actions`).  The briefing tour's stops are these rows.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from twin.faces.incident_api import IncidentDesk
from twin.risk.levels import CODES
from twin.scene import Twin

log = logging.getLogger("twin.app")
KEY = "incidents"
WAIT_S = 0.5  #: how long a refresh off the event loop waits for the answer


class IncidentFeed:
    """The shared ``incidents`` key: ``{"list": [row, ...], "version": n}``, most severe first."""

    def __init__(self, server: Any, desk: IncidentDesk, twin: Twin) -> None:
        self.server, self.desk, self.twin = server, desk, twin
        self.rows: list[dict[str, Any]] = []
        self.version = 0
        self._fetching = False
        server.state[KEY] = {"list": [], "version": 0}

    def refresh(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Ask the service again, on a thread: the service's lock may be held by a stuck evaluation,
        which must never hold the caller.  Serving (``loop``), the answer is stored on the loop;
        otherwise (tests, scripts) it is waited for up to ``WAIT_S``, then stored when it comes."""
        if self._fetching:
            return
        self._fetching = True
        if loop is not None:
            loop.create_task(self._fetch())
            return
        worker = threading.Thread(target=self._fetch_now, daemon=True, name="incident-feed")
        worker.start()
        worker.join(WAIT_S)

    async def _fetch(self) -> None:
        try:
            self._store(await asyncio.to_thread(self.desk.incidents))
        except Exception:  # noqa: BLE001 - a refresh must never stop the live screens
            log.exception("incident listing failed")
        finally:
            self._fetching = False

    def _fetch_now(self) -> None:
        try:
            self._store(self.desk.incidents())
        except Exception:  # noqa: BLE001 - as above
            log.exception("incident listing failed")
        finally:
            self._fetching = False

    def _store(self, listing: list[dict[str, Any]]) -> None:
        rows = [self.row(inc) for inc in listing]
        if rows == self.rows:
            return
        self.rows = rows
        self.version += 1
        with self.server.state:
            self.server.state[KEY] = {"list": rows, "version": self.version}

    def row(self, inc: dict[str, Any]) -> dict[str, Any]:
        """What the list shows of one incident (no timestamps that move without news)."""
        where = inc.get("location") or {}
        index = self.twin.assets.index_of(where["asset"]) if where.get("asset") else None
        name = str(self.twin.assets["name"][index]) if index is not None else ""
        return {
            "id": inc["id"],
            "level": inc["level"],
            "peak": inc["peak"],
            "code": CODES.get(inc["level"], 0),
            "hazard": inc["hazard"],
            "asset": where.get("asset", ""),
            "index": -1 if index is None else int(index),
            "place": name or where.get("asset", ""),
            "alerts": len(inc.get("alerts", [])),
            "assets": len(inc.get("assets", [])),
            "opened": inc["opened"],
            "plan_id": inc.get("plan_id"),
            "progress": inc.get("progress"),
        }

    def stops(self) -> list[dict[str, Any]]:
        """The briefing tour's stops: every open incident with a place, most severe then oldest."""
        return [{**r, "incident": True} for r in self.rows if r["index"] >= 0]
