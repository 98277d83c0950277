"""The alert lifecycle of a live service: which (asset, rule) keys the rules raise alerts on, and
the book that raises, acknowledges and clears them.

:mod:`twin.risk.alerts` holds the rules of one alert's life (the book); this module feeds the
book from the engine state after each evaluation (:class:`AlertKeys`) and answers the service's
alert questions (:class:`Alerting`).  No lock and no store: the service serialises and persists.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twin.risk.alerts import Alert, AlertBook, Event, Trigger
from twin.risk.describe import reading
from twin.risk.levels import LEVEL_DTYPE
from twin.risk.rules import AlertPolicy
from twin.risk.state import RiskState


class AlertKeys:
    """Maps sensors' graded rules and multivariable rules to alert keys (asset, rule) and feeds the book."""

    def __init__(self, svc: RiskState, book: AlertBook) -> None:
        self.svc, self.book = svc, book
        self.names: list[tuple[str, str]] = []
        self.index: dict[tuple[str, str], int] = {}
        self.of_sensor: dict[str, np.ndarray] = {}
        self.sensors_of: list[list[int]] = []
        assets = svc.sensors.asset.tolist()
        for signal, channel in svc.engine.channels.items():
            rules = svc.engine.signal_rules[signal]
            keys = np.full(len(svc.sensors), -1, np.int64)
            for s in np.flatnonzero(channel.rule >= 0).tolist():
                k = self.index.setdefault((assets[s], rules[channel.rule[s]].name), len(self.index))
                if k == len(self.sensors_of):
                    self.sensors_of.append([])
                self.sensors_of[k].append(s)
                keys[s] = k
            self.of_sensor[signal] = keys
        self.names = list(self.index)
        self.combine_index = {
            (str(svc.assets["id"][a]), rule.rule.name): (r, slot)
            for r, rule in enumerate(svc.combines)
            for slot, a in enumerate(rule.assets.tolist())
        }
        self.level = np.zeros(len(self.names), LEVEL_DTYPE)
        self.target = np.zeros(len(self.names), LEVEL_DTYPE)
        self.combine_prev = [np.zeros(len(c.assets), LEVEL_DTYPE) for c in svc.combines]
        self.external_prev: dict[tuple[str, str], int] = {}

    def update(self, now: float, touched: np.ndarray | None = None) -> None:
        """Feed the alert book the keys whose level changed, and the open ones: all of them on a
        full tick (``touched`` None), else those of the touched sensors."""
        full = touched is None
        level, target = np.zeros_like(self.level), np.zeros_like(self.target)
        for signal, channel in self.svc.engine.channels.items():
            keys = self.of_sensor[signal]
            m = keys >= 0
            np.maximum.at(level, keys[m], channel.level[m])
            np.maximum.at(target, keys[m], np.maximum(channel.level, channel.pending)[m])
        changed = np.flatnonzero((level != self.level) | (target != self.target)).tolist()
        todo = dict.fromkeys(changed, True)
        open_combine = set()
        low = self.svc.rules.alerts.min_level
        # only the clearing open ones of the touched sensors need a look between ticks
        look = np.ones(len(self.names), bool) if touched is None else self._clearing(touched, level < low)
        for key in self.book.open:
            k = self.index.get(key)
            if k is not None and look[k]:
                todo.setdefault(k, False)
            elif key in self.combine_index:
                r, slot = self.combine_index[key]
                if full or self.svc.causes.combine_slots[r][slot] < low:  # clearing ones need a tick
                    open_combine.add((r, slot))
        self.level, self.target = level, target
        for k, moved in todo.items():
            message = self._message(k) if moved or full else ""
            trigger = self._trigger(k) if moved else None
            self.book.update(self.names[k], int(level[k]), int(target[k]), now, message, trigger)
        for r, rule in enumerate(self.svc.combines):
            now_lv = self.svc.causes.combine_slots[r]
            slots = set(np.flatnonzero(now_lv != self.combine_prev[r]).tolist())
            slots |= {slot for rr, slot in open_combine if rr == r}
            for slot in sorted(slots):
                asset = str(self.svc.assets["id"][rule.assets[slot]])
                lv = int(now_lv[slot])
                self.book.update((asset, rule.rule.name), lv, lv, now, f"multivariable rule {rule.rule.name}")
            self.combine_prev[r] = now_lv.copy()
        self._external(now, full)

    def _external(self, now: float, full: bool) -> None:
        """Feed the book the (asset, model) keys of the levels other models set, and those they
        no longer set (their alerts clear through the book's hold like any other)."""
        ids = self.svc.assets["id"]
        external = self.svc.external.by_name
        current = {(str(ids[row]), name): entry for name, rows in external.items() for row, entry in rows.items()}
        for key, (lv, reason) in current.items():
            if full or self.external_prev.get(key) != lv:
                self.book.update(key, lv, lv, now, reason)
        for key in [k for k in self.book.open if k[1] in external and k not in current]:
            self.book.update(key, 0, 0, now)
        self.external_prev = {key: lv for key, (lv, _) in current.items()}

    def _clearing(self, touched: np.ndarray, below: np.ndarray) -> np.ndarray:
        """Mask of the keys of the ``touched`` sensors that are ``below`` the alerting level."""
        mine = np.zeros(len(self.names), bool)
        if self.book.open:
            for keys in self.of_sensor.values():
                k = keys[touched]
                mine[k[k >= 0]] = True
        return mine & below

    def _trigger(self, k: int) -> Trigger | None:
        """The reading behind key ``k``'s level: its most severe sensor's value (or rate of change,
        when the rate rule grades it higher); None while no sensor of it has reported."""
        eng, sensors = self.svc.engine, self.svc.sensors
        value, rate = eng.channels["value"].level, eng.channels["rate"].level
        s = max(self.sensors_of[k], key=lambda i: (max(int(value[i]), int(rate[i])), np.isfinite(eng.last_ts[i])))
        if not np.isfinite(eng.last_ts[s]):
            return None
        if rate[s] > value[s] and np.isfinite(eng.rate[s]):
            return Trigger(str(sensors.ids[s]), float(eng.rate[s]), f"{sensors.unit[s]}/min", float(eng.last_ts[s]))
        return Trigger(str(sensors.ids[s]), float(eng.last_value[s]), str(sensors.unit[s]), float(eng.last_ts[s]))

    def _message(self, k: int) -> str:
        return f"{self.names[k][1]}: " + "; ".join(reading(self.svc, s) for s in self.sensors_of[k])


class Alerting:
    """Raise, acknowledge and clear the alerts of one :class:`~twin.risk.state.RiskState`."""

    def __init__(self, state: RiskState, policy: AlertPolicy) -> None:
        self.book = AlertBook(policy)
        self.keys = AlertKeys(state, self.book)

    def restore(self, alerts: list[Alert], next_id: int) -> None:
        """Take back the alerts open when the store was last written (new ids from ``next_id``)."""
        self.book.restore(alerts, next_id)

    def system(self, rule: str, message: str, now: float) -> None:
        """An operator-visible alert about the platform itself (e.g. a store set aside)."""
        self.book.system(rule, message, now)

    def update(self, now: float, touched: np.ndarray | None = None) -> tuple[list[Alert], list[Event]]:
        """Feed the book after an evaluation; return the alerts changed and the events (to store)."""
        self.keys.update(now, touched)
        return self.book.drain()

    def ack(self, alert_id: int, now: float, by: str = "") -> tuple[Alert | None, list[Alert], list[Event]]:
        """Acknowledge an alert; return it (None: no such alert) and what changed (to store)."""
        alert = self.book.ack(alert_id, now, by)
        dirty, events = self.book.drain()
        return alert, dirty, events

    def listing(self, include_resolved: bool = False) -> list[dict[str, Any]]:
        """Open alerts, most severe then oldest first (and the recently resolved ones)."""
        return [a.to_json() for a in self.book.listing(include_resolved)]

    def get(self, alert_id: int) -> dict[str, Any] | None:
        """One alert, open or resolved and still remembered."""
        found = self.book.by_id.get(alert_id)
        return None if found is None else found.to_json()

    def open(self) -> list[Alert]:
        return list(self.book.open.values())

    def counts(self) -> dict[str, int]:
        """Open alerts, all and per state."""
        states: dict[str, int] = {}
        for a in self.book.open.values():
            states[a.state] = states.get(a.state, 0) + 1
        return {"active": sum(states.values()), **states}
