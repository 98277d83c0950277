"""Alert lifecycle: pending -> firing -> acknowledged -> resolved, one alert per asset and rule.

Anchored on Prometheus (pending/firing, ``keep_firing_for``) with what Alertmanager lacks:
acknowledgement.  Rules of the book:

* one open alert per (asset, rule); a new level updates it, never a second alert;
* an alert resolves only after its level has stayed below ``min_level`` for ``keep_firing_s``
  (silence holds a level, so a silent sensor never resolves an alert);
* re-firing within ``flap_window_s`` of resolving reopens the same alert (flapping); once it
  has flapped ``flap_max`` times it needs ``flap_window_s`` of quiet to resolve;
* an acknowledgement holds only for the level acknowledged: a higher level fires again;
* the reading that fired an alert (and the one that raised it to a new peak) is kept with it
  (``trigger_*``), so a list can say what triggered it apart from what the sensor reads now.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from twin.risk.levels import NAMES, RED
from twin.risk.rules import AlertPolicy

Key = tuple[str, str]


@dataclass
class Alert:
    id: int
    asset: str
    rule: str
    state: str  # pending, firing, acknowledged, resolved
    level: int
    peak: int
    opened: float
    updated: float
    message: str = ""
    fired: float | None = None
    acked: float | None = None
    acked_level: int = 0
    acked_by: str = ""
    resolved: float | None = None
    clear_since: float | None = None
    flaps: int = 0
    flapping: bool = False
    # the reading that fired the alert or raised it to its peak (None: a rule without one reading,
    # such as a multivariable rule or a citizen report); last, so older stores' rows line up
    trigger_sensor: str = ""
    trigger_value: float | None = None
    trigger_unit: str = ""
    trigger_ts: float | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["level"], out["peak"] = NAMES[self.level], NAMES[self.peak]
        out["acked_level"] = NAMES[self.acked_level] if self.acked is not None else None
        del out["clear_since"]
        return out


@dataclass(frozen=True)
class Trigger:
    """One sensor's reading as it stood when it moved an alert: its value, unit and time (epoch s)."""

    sensor: str
    value: float
    unit: str
    ts: float


@dataclass
class Event:
    alert: int
    ts: float
    event: str
    state: str
    level: int
    note: str = ""


class AlertBook:
    """Open alerts keyed by (asset, rule), with the events that changed them since the last drain."""

    def __init__(self, policy: AlertPolicy, first_id: int = 1) -> None:
        self.policy = policy
        self.open: dict[Key, Alert] = {}
        self.by_id: dict[int, Alert] = {}
        self.recent: deque[Alert] = deque(maxlen=500)
        self._last_resolved: dict[Key, Alert] = {}
        self._ids = itertools.count(first_id)
        self.events: list[Event] = []
        self.dirty: dict[int, Alert] = {}

    def restore(self, alerts: list[Alert], next_id: int) -> None:
        """Take back the alerts that were open when the store was last written; new alerts get ids
        from ``next_id`` on (past the store's highest, so an id is never given twice)."""
        self._ids = itertools.count(next_id)
        for a in alerts:
            self.open[(a.asset, a.rule)] = a
            self.by_id[a.id] = a

    def _event(self, a: Alert, now: float, event: str, note: str = "") -> None:
        a.updated = now
        self.events.append(Event(a.id, now, event, a.state, a.level, note))
        self.dirty[a.id] = a

    def update(
        self, key: Key, level: int, target: int, now: float, message: str = "", trigger: Trigger | None = None
    ) -> None:
        """Feed the current (debounced) level and the pending target of one (asset, rule), with the
        reading behind that level (kept when it fires the alert or raises its peak)."""
        low = self.policy.min_level
        a = self.open.get(key)
        if a is None:
            if max(level, target) < low:
                return
            a = self._open(key, max(level, target), now, message)
        if message:
            a.message = message
        if level >= low:
            self._raise(a, level, now, trigger)
        elif a.state == "pending":
            if target < low:
                self._close(key, a, now, "cancelled before firing")
            else:
                a.level = target
        else:
            a.clear_since = now if a.clear_since is None else a.clear_since
            hold = self.policy.flap_window_s if a.flapping else self.policy.keep_firing_s
            if now - a.clear_since >= hold:
                self._close(key, a, now, "level back to normal")

    def _open(self, key: Key, level: int, now: float, message: str) -> Alert:
        prev = self._last_resolved.get(key)
        if prev is not None and prev.resolved is not None and now - prev.resolved <= self.policy.flap_window_s:
            a = prev
            a.flaps += 1
            a.flapping = a.flapping or a.flaps >= self.policy.flap_max
            a.state, a.resolved, a.level = "firing", None, level
            a.trigger_sensor, a.trigger_value, a.trigger_unit, a.trigger_ts = "", None, "", None  # a new firing
            self._event(a, now, "reopened", f"flapping ({a.flaps} reopenings)" if a.flapping else "")
        else:
            a = Alert(
                id=next(self._ids),
                asset=key[0],
                rule=key[1],
                state="pending",
                level=level,
                peak=level,
                opened=now,
                updated=now,
                message=message,
            )
            self._event(a, now, "pending")
        self.open[key] = a
        self.by_id[a.id] = a
        return a

    def _raise(self, a: Alert, level: int, now: float, trigger: Trigger | None = None) -> None:
        a.clear_since = None
        before = a.level
        if trigger is not None and (a.state == "pending" or a.trigger_ts is None or level > a.peak):
            a.trigger_sensor, a.trigger_value = trigger.sensor, trigger.value
            a.trigger_unit, a.trigger_ts = trigger.unit, trigger.ts
        a.level, a.peak = level, max(a.peak, level)
        if a.state == "pending":
            a.state, a.fired = "firing", now
            self._event(a, now, "firing")
        elif a.state == "acknowledged" and level > a.acked_level:
            a.state = "firing"
            self._event(a, now, "escalated", f"{NAMES[a.acked_level]} acknowledged, now {NAMES[level]}")
        elif level != before:
            self._event(a, now, "escalated" if level > before else "eased", f"{NAMES[before]} -> {NAMES[level]}")

    def _close(self, key: Key, a: Alert, now: float, note: str) -> None:
        a.state, a.resolved, a.clear_since = "resolved", now, None
        self._event(a, now, "resolved", note)
        del self.open[key]
        self._last_resolved[key] = a
        self.recent.appendleft(a)

    def ack(self, alert_id: int, now: float, by: str = "") -> Alert | None:
        """Acknowledge an open alert at its current level; ``None`` if there is no such alert."""
        a = self.by_id.get(alert_id)
        if a is None:
            return None
        if a.state in ("firing", "pending"):
            a.state, a.acked, a.acked_level, a.acked_by = "acknowledged", now, a.level, by
            self._event(a, now, "acknowledged", by)
        return a

    def system(self, rule: str, message: str, now: float, level: int = RED) -> Alert:
        """An operator-visible alert about the platform itself (e.g. a store set aside)."""
        a = self._open(("system", rule), level, now, message)
        self._raise(a, level, now)
        return a

    def drain(self) -> tuple[list[Alert], list[Event]]:
        """The alerts changed and the events since the last drain (for the store)."""
        dirty, events = list(self.dirty.values()), self.events
        self.dirty, self.events = {}, []
        return dirty, events

    def listing(self, include_resolved: bool = False) -> list[Alert]:
        alerts = sorted(self.open.values(), key=lambda a: (-a.level, a.opened))
        return alerts + list(self.recent) if include_resolved else alerts
