"""From alert to resolution: incidents, the plan each one opens, and the resources to send.

The :class:`Response` desk sits beside the alert book in a :class:`~twin.risk.service.RiskService`:
after each evaluation it groups the changed alerts into incidents (:mod:`twin.risk.incidents`),
raises an alert for a plan step past its due time, and answers the operator's questions (the
incidents, one incident's timeline, checklist and nearest resources) and actions (check a step
off, note an action).  The service serialises the calls; the desk persists through its
:class:`~twin.risk.casefile.CaseFile`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twin.errors import InputError
from twin.risk.alerting import Alerting
from twin.risk.alerts import Alert, Event
from twin.risk.casefile import CaseFile
from twin.risk.gridlayers import GridLayer, cells_of, read_grid_layers
from twin.risk.grouping import hazard_of
from twin.risk.incidents import Incident, IncidentBook
from twin.risk.levels import NAMES, ORANGE
from twin.risk.plans import CheckOff, Plan, PlanBook, checklist, read_plans
from twin.risk.reports import CATEGORIES, REPORT, ReportDesk, level_code
from twin.risk.resources import Resources, Streets, nearest, read_resources, read_streets
from twin.risk.state import RiskState
from twin.risk.store import Store
from twin.risk.topology import NetworkTopology

OVERDUE = "overdue"  #: rule prefix of an overdue step's alert: ``overdue:<incident>:<step>``
MAX_TEXT = 2000  #: characters of an operator's note or action


class Refused(InputError):
    """An operator action that cannot be done as asked, with the HTTP status that says why."""

    def __init__(self, status: int, problem: str) -> None:
        super().__init__(None, problem)
        self.status = status


class Response:
    """Incidents, their plans and the resources for them, over one live service's alerts."""

    def __init__(
        self,
        state: RiskState,
        alerting: Alerting,
        store: Store,
        plans: PlanBook | None = None,
        *,
        topology: NetworkTopology | None = None,
        resources: Resources | None = None,
        streets: Streets | None = None,
        grid_layers: list[GridLayer] | None = None,
    ) -> None:
        self.state, self.alerting = state, alerting
        self.grid_layers = grid_layers or []
        self.plans = plans or PlanBook()
        self.topology, self.resources, self.streets = topology, resources, streets
        self.casefile = CaseFile(store)
        rules = state.rules
        self._quantity = {r.name: r.quantity for r in rules.rules}
        self._quantity.update(
            {c.name: next((t.quantity or "" for t in c.terms if t.quantity), "") for c in rules.combines}
        )
        assets = state.assets
        self._network = (assets["network_kind"] if "network_kind" in assets else assets["network"]).tolist()
        related = topology.related if topology is not None else None
        self.book = IncidentBook(assets, self.hazard, self.plans.grouping, related)
        self._checks: dict[int, dict[str, CheckOff]] = {}
        self._overdue: dict[tuple[int, str], int] = {}  # (incident, step) -> its alert id
        self.reports = ReportDesk(assets)
        self._next_report: int | None = None

    @classmethod
    def from_twin(cls, twin: Any, state: RiskState, alerting: Alerting, store: Store) -> Response:
        """The desk of a loaded twin: its ``[live]`` plans, resources, streets and grid layers
        (each optional) and its pipe networks."""
        live = twin.live
        return cls(
            state,
            alerting,
            store,
            read_plans(live["plans"]) if "plans" in live else None,
            topology=NetworkTopology.from_twin(twin),
            resources=read_resources(live["resources"]) if "resources" in live else None,
            streets=read_streets(live["streets"]) if "streets" in live else None,
            grid_layers=read_grid_layers(live["grid_layers"], state.assets.centres) if "grid_layers" in live else None,
        )

    def hazard(self, alert: Alert) -> str:
        """The hazard of an alert: its rule's quantity, else its asset's network kind (a citizen
        report's: its category)."""
        if alert.rule.startswith(REPORT):  # a verified citizen report: its category says
            return CATEGORIES.get(alert.rule.rsplit(":", 1)[-1], "other")
        row = self.state.assets.index_of(alert.asset)
        return hazard_of(self._quantity.get(alert.rule, ""), str(self._network[row]) if row is not None else "")

    # -- life cycle -----------------------------------------------------------------------------
    def open(self) -> None:
        """Create the tables and take back the open incidents with their alerts."""
        self.casefile.open()
        incidents = self.casefile.open_incidents()
        ids = [a for inc in incidents for a in inc.alerts]
        known = {i: self.alerting.book.by_id[i] for i in ids if i in self.alerting.book.by_id}
        stored = self.casefile.alerts([i for i in ids if i not in known])
        self.book.restore(incidents, [*known.values(), *stored], self.casefile.next_id())
        for a in self.alerting.open():
            parts = a.rule.split(":", 2)
            if a.asset == "system" and parts[0] == OVERDUE and len(parts) == 3 and parts[1].isdigit():
                self._overdue[(int(parts[1]), parts[2])] = a.id

    def update(self, now: float, changed: list[Alert]) -> None:
        """Group the alerts an evaluation or an acknowledgement changed; persist what changed."""
        if changed:
            self.book.update(now, changed)
        self._save()

    def _save(self) -> None:
        incidents, events, joined = self.book.drain()
        self.casefile.save(incidents, events, joined)

    def check_deadlines(self, now: float) -> None:
        """Raise an alert (orange) for each needed plan step still open past its due time."""
        for inc in self.book.listing():
            plan = self.plans.for_hazard(inc.hazard, inc.peak)
            if plan is None:
                continue
            for step in checklist(plan, inc.reached, self._done(inc.id), now):
                key = (inc.id, step["id"])
                if step["state"] == "overdue" and key not in self._overdue:
                    message = (
                        f"incident {inc.id}: step {step['id']!r} of plan {plan.id!r} ({step['department']}) "
                        f"is overdue: {step['title']}"
                    )
                    alert = self.alerting.book.system(f"{OVERDUE}:{inc.id}:{step['id']}", message, now, level=ORANGE)
                    self._overdue[key] = alert.id
                    self.book.note(inc.id, now, "overdue", note=message)
        self._save()

    def _done(self, inc_id: int) -> dict[str, CheckOff]:
        if inc_id not in self._checks:
            self._checks[inc_id] = self.casefile.checks(inc_id)
        return self._checks[inc_id]

    # -- operator actions -------------------------------------------------------------------------
    def check_off(
        self, inc_id: int, step_id: str, by: str, note: str, now: float
    ) -> tuple[dict[str, Any], list[Alert], list[Event]]:
        """Check a plan step off as done by ``by`` at ``now``; once only (409 after).

        Returns the step as the checklist shows it now, and the alerts an acknowledgement of
        the step's overdue alert changed (for the service to store).
        """
        inc = self._incident(inc_id)
        plan = self._plan(inc)
        if not by.strip():
            raise Refused(400, "a step is checked off by a named operator: give 'by'")
        if step_id not in {s.id for s in plan.steps}:
            raise Refused(404, f"plan {plan.id!r} has no step {step_id!r}")
        done = self._done(inc_id)
        if step_id in done:
            first = done[step_id]
            raise Refused(409, f"step {step_id!r} was checked off by {first.by} at {first.ts:.0f}; it is not rewritten")
        check = CheckOff(inc_id, plan.id, step_id, now, by.strip(), note.strip()[:MAX_TEXT])
        self.casefile.check_off(check)
        done[step_id] = check
        self.book.note(inc_id, now, "step", by=check.by, note=f"{step_id} done")
        self._save()
        dirty: list[Alert] = []
        events: list[Event] = []
        alert_id = self._overdue.get((inc_id, step_id))
        if alert_id is not None:
            _, dirty, events = self.alerting.ack(alert_id, now, check.by)
        steps = checklist(plan, inc.reached, done, now)
        return next(s for s in steps if s["id"] == step_id), dirty, events

    def act(self, inc_id: int, by: str, text: str, now: float) -> dict[str, Any]:
        """An action taken on an incident, on its timeline (who, what, when)."""
        if not by.strip() or not text.strip():
            raise Refused(400, "an action needs 'by' (the operator) and 'text'")
        self._incident(inc_id)
        self.book.note(inc_id, now, "action", by=by.strip(), note=text.strip()[:MAX_TEXT])
        self._save()
        return {"incident": inc_id, "ts": now, "by": by.strip(), "text": text.strip()[:MAX_TEXT]}

    def _incident(self, inc_id: int) -> Incident:
        inc = self.book.incidents.get(inc_id) or self.casefile.incident(inc_id)
        if inc is None:
            raise Refused(404, f"no incident {inc_id}")
        return inc

    def _plan(self, inc: Incident) -> Plan:
        plan = self.plans.for_hazard(inc.hazard, inc.peak)
        if plan is None:
            raise Refused(404, f"no plan for a {inc.hazard} incident at level {NAMES[inc.peak]}")
        return plan

    # -- citizen reports ------------------------------------------------------------------------------
    def submit_report(self, body: Any, client: str, now: float) -> dict[str, Any]:
        """Check and keep a citizen's hazard report (unverified until an operator decides)."""
        if self._next_report is None:
            self._next_report = self.casefile.next_report_id()
        report, photo = self.reports.take(body, client, self._next_report, now)
        self.casefile.add_report(report, photo)
        self._next_report += 1
        return report.to_json()

    def decide_report(self, report_id: int, body: Any, now: float) -> tuple[dict[str, Any], list[Alert], list[Event]]:
        """Verify (with a level) or reject (with a reason) a report, once; a verified report on an
        asset raises an alert there, which joins that place's incident.  Returns the report and
        the alerts changed (for the service to store)."""
        found = self.casefile.reports(report_id)
        if not found:
            raise Refused(404, f"no report {report_id}")
        report = ReportDesk.decide(found[0], body, now)
        self.casefile.decide_report(report)
        dirty: list[Alert] = []
        events: list[Event] = []
        if report.status == "verified" and report.asset:
            message = f"citizen report {report.id} ({report.category}), verified by {report.decided_by}: {report.text}"
            book = self.alerting.book
            book.update((report.asset, report.alert_rule), level_code(report), level_code(report), now, message[:500])
            dirty, events = book.drain()
            self.update(now, dirty)
        return report.to_json(), dirty, events

    def report_layer(self) -> dict[str, Any]:
        """Every report as a GeoJSON point (scene CRS) with its status and level, for the map."""
        features = [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [r.x, r.y]}, "properties": r.to_json()}
            for r in self.casefile.reports()
        ]
        return {"type": "FeatureCollection", "features": features}

    def report_photo(self, report_id: int) -> tuple[bytes, str] | None:
        return self.casefile.photo(report_id)

    # -- questions ----------------------------------------------------------------------------------
    def listing(self, now: float, include_closed: bool = False) -> list[dict[str, Any]]:
        """Incidents, open ones first, most severe then oldest, each in summary."""
        return [self._summary(inc, now) for inc in self.book.listing(include_closed)]

    def detail(self, inc_id: int, now: float) -> dict[str, Any] | None:
        """One incident: summary, alerts, what it touches, timeline, checklist, nearest resources."""
        try:
            inc = self._incident(inc_id)
        except Refused:
            return None
        out = self._summary(inc, now)
        alerts = self._members(inc)
        out["alert_list"] = [a.to_json() for a in alerts]
        out["affected"] = self._affected(alerts)
        timeline = self.casefile.timeline(inc.id)
        if alerts:  # the reading that opened the first alert, in the words of the moment it joined
            first = min(alerts, key=lambda a: a.opened)
            said = next((e["note"] for e in timeline if e["event"] == "alert" and e["alert"] == first.id), "")
            entry = {"ts": first.opened, "event": "first abnormal reading", "by": "", "note": said or first.message}
            timeline.insert(0, {**entry, "alert": first.id, "source": "alert"})
        out["timeline"] = timeline
        plan = self.plans.for_hazard(inc.hazard, inc.peak)
        out["plan"] = None
        out["resources"] = []
        if plan is not None:
            steps = checklist(plan, inc.reached, self._done(inc.id), now)
            out["plan"] = {"id": plan.id, "name": plan.name, "name_zh": plan.name_zh, "steps": steps}
            needs = [r for s in steps if s["state"] != "not needed" for r in s["resources"]]
            if self.resources is not None and out["location"] is not None:
                xy = np.array([out["location"]["x"], out["location"]["y"]])
                out["resources"] = nearest(self.resources, self.streets, xy, needs)
        return out

    def _summary(self, inc: Incident, now: float) -> dict[str, Any]:
        alerts = self._members(inc)
        assets = self.state.assets
        rows = [r for r in (assets.index_of(a.asset) for a in alerts) if r is not None]
        out = inc.to_json()
        out["location"] = self._location(alerts)
        out["assets"] = sorted({str(assets["id"][r]) for r in rows})
        grids = self.state.grids
        cells = sorted({int(grids.asset_grid[r]) for r in rows if grids.asset_grid[r] >= 0})
        out["grids"] = [{"id": grids.features[c].id, "name": grids.features[c].name} for c in cells]
        out["grid_layers"] = cells_of(self.grid_layers, rows, now)  # each grid system's cells, who is on duty
        plan = self.plans.for_hazard(inc.hazard, inc.peak)
        out["plan_id"] = plan.id if plan else None
        place = out["location"]["asset"] if out["location"] else "?"
        out["title"] = f"{plan.name if plan else inc.hazard} at {place}"
        if plan is not None:
            states = [s["state"] for s in checklist(plan, inc.reached, self._done(inc.id), now)]
            out["progress"] = {k: states.count(k) for k in ("done", "open", "overdue", "not needed")}
        return out

    def _members(self, inc: Incident) -> list[Alert]:
        known = self.alerting.book.by_id
        found = {i: self.book.alerts.get(i) or known.get(i) for i in inc.alerts}
        missing = [i for i, a in found.items() if a is None]
        stored = {a.id: a for a in self.casefile.alerts(missing)}
        return [a for a in (found[i] or stored.get(i) for i in inc.alerts) if a is not None]

    def _location(self, alerts: list[Alert]) -> dict[str, Any] | None:
        """The centre of the asset of the most severe, then the first, alert (the epicentre); assets
        without geometry (a sensor with no position) are passed over, so it is never NaN."""
        assets = self.state.assets
        ranked = sorted(alerts, key=lambda a: (-a.peak, a.opened))
        rows = (assets.index_of(a.asset) for a in ranked)
        row = next((r for r in rows if r is not None and np.isfinite(assets.centres[r]).all()), None)
        if row is None:
            return None
        x, y, z = (float(v) for v in assets.centres[row])
        return {"x": x, "y": y, "z": z, "asset": str(assets["id"][row])}

    def _affected(self, alerts: list[Alert]) -> dict[str, Any]:
        """Valves to close and who loses supply, over the incident's pipe segments."""
        valves: set[str] = set()
        segments: set[str] = set()
        customers: set[str] = set()
        if self.topology is not None:
            rows = {self.state.assets.index_of(a.asset) for a in alerts}
            for row in sorted(r for r in rows if r is not None):
                iso = self.topology.isolation(row)
                valves.update(v["id"] for v in iso.get("valves", []))
                segments.update(iso.get("isolated_segments", []))
                customers.update(iso.get("customers", []))
        return {
            "valves": sorted(valves),
            "isolated_segments": sorted(segments),
            "customers": sorted(customers),
        }
