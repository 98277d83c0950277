"""Incidents: the alerts of one failure together, with a level, a place, what they touch and a
timeline, kept as alerts come, escalate and resolve.

:func:`twin.risk.grouping.group` decides which alerts belong together; the :class:`IncidentBook`
keeps incidents stable across evaluations.  Its working set is the alerts of the open incidents
plus the new ones; grouping only ever joins (the links are fixed by assets and opening times),
so an incident never loses an alert: when a group holds several incidents the oldest takes in
the others (they become ``merged`` into it).  An incident resolves when all its alerts have.
No lock and no store: the service serialises and :mod:`twin.risk.response` persists.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twin.assets import AssetTable
from twin.risk.alerts import Alert
from twin.risk.grouping import Grouping, Related, group
from twin.risk.levels import NAMES, NONE


@dataclass
class Incident:
    id: int
    opened: float
    updated: float
    hazard: str
    state: str = "open"  # open, resolved, merged
    level: int = NONE  # highest current level of its open alerts (its peak once resolved)
    peak: int = NONE
    alerts: list[int] = field(default_factory=list)
    resolved: float | None = None
    merged_into: int | None = None
    #: level code -> epoch s the incident first reached it (plan steps of a level start then)
    reached: dict[int, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hazard": self.hazard,
            "state": self.state,
            "level": NAMES[self.level],
            "peak": NAMES[self.peak],
            "opened": self.opened,
            "updated": self.updated,
            "resolved": self.resolved,
            "merged_into": self.merged_into,
            "alerts": list(self.alerts),
            "reached": {NAMES[k]: v for k, v in sorted(self.reached.items())},
        }


@dataclass
class IncidentEvent:
    incident: int
    ts: float
    event: str  # opened, alert, escalated, merged, resolved, reopened, step, overdue, action
    by: str = ""
    note: str = ""
    alert: int | None = None


class IncidentBook:
    """Open incidents and the alerts in them, updated from the alerts an evaluation changed.

    Parameters
    ----------
    assets
        The twin's asset table (alert assets are its ids; others, such as "system", are left out).
    hazard
        ``alert -> hazard name`` (from its rule's quantity and its asset's network).
    policy
        How close in space and time alerts must be.
    related
        Network relations of an asset row.
    """

    def __init__(
        self,
        assets: AssetTable,
        hazard: Callable[[Alert], str],
        policy: Grouping,
        related: Related | None = None,
    ) -> None:
        self.assets, self.hazard, self.policy, self.related = assets, hazard, policy, related
        self.incidents: dict[int, Incident] = {}
        self.of_alert: dict[int, int] = {}
        self.alerts: dict[int, Alert] = {}  # the working set: alerts of open incidents and new ones
        self.events: list[IncidentEvent] = []
        self.dirty: dict[int, Incident] = {}
        self.joined: list[tuple[int, int, float]] = []  # (incident, alert, ts) since the last drain
        self._ids = itertools.count(1)

    def restore(self, incidents: list[Incident], alerts: list[Alert], next_id: int) -> None:
        """Take back the open incidents and their alerts as stored; new ids from ``next_id``."""
        self._ids = itertools.count(next_id)
        for inc in incidents:
            self.incidents[inc.id] = inc
            self.of_alert.update(dict.fromkeys(inc.alerts, inc.id))
        self.alerts.update({a.id: a for a in alerts})

    def _event(self, inc: Incident, now: float, event: str, note: str = "", alert: int | None = None) -> None:
        inc.updated = now
        self.events.append(IncidentEvent(inc.id, now, event, note=note, alert=alert))
        self.dirty[inc.id] = inc

    def update(self, now: float, changed: list[Alert]) -> None:
        """Take the alerts an evaluation (or an acknowledgement) changed; group and reconcile."""
        fresh = False
        for a in changed:
            if self.assets.index_of(a.asset) is None:
                continue  # platform alerts (the store, overdue plan steps) belong to no failure
            known = self.of_alert.get(a.id)
            if known is not None and self.incidents[known].state == "resolved" and a.state != "resolved":
                self._reopen(self.incidents[known], now)
            fresh |= a.id not in self.alerts
            self.alerts[a.id] = a
        if fresh:
            self._regroup(now)
        for inc_id in {self.of_alert[a.id] for a in changed if a.id in self.of_alert}:
            self._refresh(self._root(inc_id), now)

    def _root(self, inc_id: int) -> Incident:
        inc = self.incidents[inc_id]
        while inc.merged_into is not None:
            inc = self.incidents[inc.merged_into]
        return inc

    def _regroup(self, now: float) -> None:
        ids = list(self.alerts)
        alerts = [self.alerts[i] for i in ids]
        rows = np.array([self.assets.index_of(a.asset) for a in alerts], dtype=np.int64)
        names = [self.hazard(a) for a in alerts]
        codes = np.unique(np.array(names, dtype=object), return_inverse=True)[1].ravel()
        opened = np.array([a.opened for a in alerts], dtype=np.float64)
        labels = group(rows, codes, opened, self.assets.bounds, self.policy, self.related)
        for label in np.unique(labels).tolist():
            members = [ids[k] for k in np.flatnonzero(labels == label).tolist()]
            self._settle(members, names[int(np.flatnonzero(labels == label)[0])], now)

    def _settle(self, members: list[int], hazard: str, now: float) -> None:
        """One group: its alerts go to its oldest incident (a new one if none), others merge in."""
        held = sorted({self.of_alert[m] for m in members if m in self.of_alert})
        if held:
            inc = self.incidents[held[0]]
        else:
            opened = min(self.alerts[m].opened for m in members)
            inc = Incident(next(self._ids), opened, now, hazard)
            self.incidents[inc.id] = inc
            self._event(inc, now, "opened", f"{hazard}")
        for other in held[1:]:
            gone = self.incidents[other]
            gone.state, gone.merged_into = "merged", inc.id
            gone.alerts = []  # they are the root's now; the merged one keeps its timeline
            self._event(gone, now, "merged", f"into incident {inc.id}")
            self._event(inc, now, "merged", f"incident {other} joined")
        for m in members:
            if self.of_alert.get(m) != inc.id:
                self.of_alert[m] = inc.id
                inc.alerts.append(m)
                self.joined.append((inc.id, m, now))
                self._event(inc, now, "alert", self.alerts[m].message, alert=m)
        inc.opened = min(inc.opened, *(self.alerts[m].opened for m in members))

    def _refresh(self, inc: Incident, now: float) -> None:
        """Level, peak and state from the incident's alerts; resolve when they all have."""
        alerts = [self.alerts[m] for m in inc.alerts if m in self.alerts]
        active = [a for a in alerts if a.state != "resolved"]
        peak = max((a.peak for a in alerts), default=inc.peak)
        level = max((a.level for a in active), default=peak)
        if peak > inc.peak:
            for code in range(inc.peak + 1, peak + 1):
                inc.reached.setdefault(code, now)
            if inc.peak != NONE:
                self._event(inc, now, "escalated", f"{NAMES[inc.peak]} -> {NAMES[peak]}")
        if (level, peak) != (inc.level, inc.peak):
            inc.level, inc.peak = level, peak
            self.dirty[inc.id] = inc
        if not active and inc.state == "open":
            inc.state, inc.resolved, inc.level = "resolved", now, peak
            self._event(inc, now, "resolved", "all its alerts resolved")
            for m in inc.alerts:  # out of the working set: a later alert here is a new incident
                self.alerts.pop(m, None)

    def _reopen(self, inc: Incident, now: float) -> None:
        inc.state, inc.resolved = "open", None
        self._event(inc, now, "reopened", "an alert fired again")

    def note(self, inc_id: int, now: float, event: str, by: str = "", note: str = "") -> Incident | None:
        """An operator's or the plan's entry on an incident's timeline (None: no such incident)."""
        inc = self.incidents.get(inc_id)
        if inc is None:
            return None
        inc.updated = now
        self.events.append(IncidentEvent(inc.id, now, event, by=by, note=note))
        self.dirty[inc.id] = inc
        return inc

    def drain(self) -> tuple[list[Incident], list[IncidentEvent], list[tuple[int, int, float]]]:
        """The incidents changed, their events and the alerts that joined since the last drain."""
        out = list(self.dirty.values()), self.events, self.joined
        self.dirty, self.events, self.joined = {}, [], []
        return out

    def listing(self, include_closed: bool = False) -> list[Incident]:
        """Open incidents, most severe then oldest (and the resolved and merged ones)."""
        shown = [i for i in self.incidents.values() if include_closed or i.state == "open"]
        return sorted(shown, key=lambda i: (i.state != "open", -i.level, i.opened))

    def members(self, inc: Incident) -> list[Alert]:
        return [self.alerts[m] for m in inc.alerts if m in self.alerts]
