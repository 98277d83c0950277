"""The incidents' record in the store: incidents (upserted), the alerts that joined them, their
timeline and the plan steps checked off (both append-only: a check-off is never rewritten).

Four tables in the service's DuckDB store, created on open.  ``plan_steps`` has one row per
(incident, step) as its primary key, so a second check-off of a step fails in the database
as well as in :meth:`CaseFile.check_off`.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from twin.risk.alerts import Alert
from twin.risk.incidents import Incident, IncidentEvent
from twin.risk.plans import CheckOff
from twin.risk.reports import Report
from twin.risk.store import ALERT_COLUMNS, Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (id BIGINT PRIMARY KEY, hazard VARCHAR, state VARCHAR, level TINYINT,
    peak TINYINT, opened DOUBLE, updated DOUBLE, resolved DOUBLE, merged_into BIGINT, reached VARCHAR);
CREATE TABLE IF NOT EXISTS incident_alerts (incident BIGINT NOT NULL, alert BIGINT NOT NULL, ts DOUBLE);
CREATE TABLE IF NOT EXISTS incident_events (incident BIGINT NOT NULL, ts DOUBLE NOT NULL, event VARCHAR,
    operator VARCHAR, note VARCHAR, alert BIGINT);
CREATE TABLE IF NOT EXISTS plan_steps (incident BIGINT NOT NULL, plan VARCHAR NOT NULL, step VARCHAR NOT NULL,
    ts DOUBLE NOT NULL, operator VARCHAR NOT NULL, note VARCHAR, PRIMARY KEY (incident, step));
CREATE TABLE IF NOT EXISTS reports (id BIGINT PRIMARY KEY, ts DOUBLE, client VARCHAR, category VARCHAR,
    text VARCHAR, x DOUBLE, y DOUBLE, asset VARCHAR, address VARCHAR, photo_type VARCHAR, photo_sha256 VARCHAR,
    photo BLOB);
CREATE TABLE IF NOT EXISTS report_decisions (report BIGINT PRIMARY KEY, ts DOUBLE NOT NULL, status VARCHAR NOT NULL,
    level VARCHAR, operator VARCHAR NOT NULL, reason VARCHAR, alert_rule VARCHAR);
"""
REPORT_COLUMNS = ("id", "ts", "client", "category", "text", "x", "y", "asset", "address", "photo_type", "photo_sha256")
INCIDENT_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("hazard", pa.string()),
        ("state", pa.string()),
        ("level", pa.int8()),
        ("peak", pa.int8()),
        ("opened", pa.float64()),
        ("updated", pa.float64()),
        ("resolved", pa.float64()),
        ("merged_into", pa.int64()),
        ("reached", pa.string()),
    ]
)


class CaseFile:
    """The incident tables of one store (:meth:`open` after the store is open)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def open(self) -> None:
        self.store.create(SCHEMA)

    def save(
        self, incidents: list[Incident], events: list[IncidentEvent], joined: list[tuple[int, int, float]]
    ) -> None:
        """What the book changed since the last save, in one transaction."""
        writes: list[tuple[str, pa.Table, str]] = []
        if incidents:
            writes.append(("incidents", _incident_rows(incidents), "INSERT OR REPLACE"))
        if joined:
            incident, alert, ts = zip(*joined, strict=True)
            rows = pa.table(
                {
                    "incident": pa.array(incident, pa.int64()),
                    "alert": pa.array(alert, pa.int64()),
                    "ts": pa.array(ts, pa.float64()),
                }
            )
            writes.append(("incident_alerts", rows, "INSERT"))
        if events:
            writes.append(("incident_events", _event_rows(events), "INSERT"))
        self.store.append(writes)

    def check_off(self, check: CheckOff) -> None:
        """Record a step as done (the caller has made sure it was not done before)."""
        rows = pa.table(
            {
                "incident": pa.array([check.incident], pa.int64()),
                "plan": [check.plan],
                "step": [check.step],
                "ts": pa.array([check.ts], pa.float64()),
                "operator": [check.by],
                "note": [check.note],
            }
        )
        self.store.append([("plan_steps", rows, "INSERT")])

    def add_report(self, report: Report, photo: bytes) -> None:
        """Keep a new report and its photo (in the store: no file is named after the client's input)."""
        columns: dict[str, Any] = {c: [getattr(report, c)] for c in REPORT_COLUMNS}
        columns["photo"] = pa.array([photo or None], pa.binary())
        types = {"id": pa.int64(), "ts": pa.float64(), "x": pa.float64(), "y": pa.float64()}
        rows = pa.table({c: pa.array(v, types.get(c, pa.string())) if c != "photo" else v for c, v in columns.items()})
        self.store.append([("reports", rows, "INSERT")])

    def decide_report(self, report: Report) -> None:
        """Keep an operator's decision on a report (once: the primary key refuses a second)."""
        rows = pa.table(
            {
                "report": pa.array([report.id], pa.int64()),
                "ts": pa.array([report.decided], pa.float64()),
                "status": [report.status],
                "level": [report.level],
                "operator": [report.decided_by],
                "reason": [report.reason],
                "alert_rule": [report.alert_rule],
            }
        )
        self.store.append([("report_decisions", rows, "INSERT")])

    def reports(self, report_id: int | None = None) -> list[Report]:
        """Stored reports with their decisions (all, or one), oldest first."""
        where = "" if report_id is None else "WHERE r.id = $1"
        rows = self.store.query(
            f"SELECT {', '.join('r.' + c for c in REPORT_COLUMNS)}, coalesce(d.status, 'unverified'), "
            "coalesce(d.level, ''), d.ts, coalesce(d.operator, ''), coalesce(d.reason, ''), "
            f"coalesce(d.alert_rule, '') FROM reports r LEFT JOIN report_decisions d ON d.report = r.id {where} "
            "ORDER BY r.id",
            None if report_id is None else [report_id],
        )
        return [Report(*r) for r in rows]

    def photo(self, report_id: int) -> tuple[bytes, str] | None:
        rows = self.store.query(
            "SELECT photo, photo_type FROM reports WHERE id = $1 AND photo IS NOT NULL", [report_id]
        )
        return (bytes(rows[0][0]), rows[0][1]) if rows else None

    def next_report_id(self) -> int:
        return int(self.store.query("SELECT coalesce(max(id), 0) + 1 FROM reports")[0][0])

    # -- reads ------------------------------------------------------------------------------
    def open_incidents(self) -> list[Incident]:
        """The incidents not resolved nor merged, with their alert ids (to restore the book)."""
        rows = self.store.query(
            "SELECT i.id, i.hazard, i.state, i.level, i.peak, i.opened, i.updated, i.resolved, i.merged_into, "
            "i.reached, list(a.alert ORDER BY a.ts, a.alert) FROM incidents i "
            "LEFT JOIN incident_alerts a ON a.incident = i.id WHERE i.state = 'open' GROUP BY ALL ORDER BY i.id"
        )
        return [_incident(r) for r in rows]

    def next_id(self) -> int:
        return int(self.store.query("SELECT coalesce(max(id), 0) + 1 FROM incidents")[0][0])

    def alerts(self, ids: list[int]) -> list[Alert]:
        """Stored alerts by id (members of restored incidents that are resolved already)."""
        if not ids:
            return []
        rows = self.store.query(f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts WHERE list_contains($1, id)", [ids])
        return [Alert(**dict(zip(ALERT_COLUMNS, r))) for r in rows]

    def incident(self, inc_id: int) -> Incident | None:
        rows = self.store.query(
            "SELECT i.id, i.hazard, i.state, i.level, i.peak, i.opened, i.updated, i.resolved, i.merged_into, "
            "i.reached, list(a.alert ORDER BY a.ts, a.alert) FROM incidents i "
            "LEFT JOIN incident_alerts a ON a.incident = i.id WHERE i.id = $1 GROUP BY ALL",
            [inc_id],
        )
        return _incident(rows[0]) if rows else None

    def checks(self, inc_id: int) -> dict[str, CheckOff]:
        rows = self.store.query(
            "SELECT incident, plan, step, ts, operator, note FROM plan_steps WHERE incident = $1", [inc_id]
        )
        return {r[2]: CheckOff(*r) for r in rows}

    def timeline(self, inc_id: int) -> list[dict[str, Any]]:
        """The incident's own events and every event of its alerts, in time order."""
        rows = self.store.query(
            "SELECT ts, event, operator, note, alert, 'incident' AS source FROM incident_events WHERE incident = $1 "
            "UNION ALL SELECT e.ts, e.event, '', e.note, e.alert, 'alert' FROM alert_events e "
            "JOIN incident_alerts a ON a.alert = e.alert WHERE a.incident = $1 "
            "UNION ALL SELECT ts, 'step done', operator, step || coalesce(': ' || nullif(note, ''), ''), NULL, "
            "'plan' FROM plan_steps WHERE incident = $1 ORDER BY 1, 6",
            [inc_id],
        )
        names = ("ts", "event", "by", "note", "alert", "source")
        return [dict(zip(names, r, strict=True)) for r in rows]


def _incident_rows(incidents: list[Incident]) -> pa.Table:
    return pa.table(
        {
            "id": [i.id for i in incidents],
            "hazard": [i.hazard for i in incidents],
            "state": [i.state for i in incidents],
            "level": [i.level for i in incidents],
            "peak": [i.peak for i in incidents],
            "opened": [i.opened for i in incidents],
            "updated": [i.updated for i in incidents],
            "resolved": [i.resolved for i in incidents],
            "merged_into": [i.merged_into for i in incidents],
            "reached": [json.dumps({str(k): v for k, v in i.reached.items()}) for i in incidents],
        },
        schema=INCIDENT_SCHEMA,
    )


def _event_rows(events: list[IncidentEvent]) -> pa.Table:
    return pa.table(
        {
            "incident": pa.array([e.incident for e in events], pa.int64()),
            "ts": pa.array([e.ts for e in events], pa.float64()),
            "event": pa.array([e.event for e in events], pa.string()),
            "operator": pa.array([e.by for e in events], pa.string()),
            "note": pa.array([e.note for e in events], pa.string()),
            "alert": pa.array([e.alert for e in events], pa.int64()),
        }
    )


def _incident(r: tuple[Any, ...]) -> Incident:
    reached = {int(k): float(v) for k, v in json.loads(r[9] or "{}").items()}
    return Incident(
        id=r[0],
        hazard=r[1],
        state=r[2],
        level=r[3],
        peak=r[4],
        opened=r[5],
        updated=r[6],
        resolved=r[7],
        merged_into=r[8],
        reached=reached,
        alerts=[a for a in (r[10] or []) if a is not None],
    )
