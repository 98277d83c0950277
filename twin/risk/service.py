"""The live risk service: store + engine + alerts + the per-asset level array the view colours.

One object owns the state; the HTTP routes (:mod:`twin.faces.api`), the simulator and the trame app
all call it.  It is thread-safe: ingest is serialised (one DuckDB writer), reads take a short
lock (or, on an event loop that must never block, read the last :class:`Snapshot`), and change callbacks run on the thread that made the change (the app hands them to its
event loop with ``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from twin.assets import AssetTable
from twin.errors import InputError, ManifestError
from twin.risk import describe
from twin.risk.alerts import AlertBook
from twin.risk.combine import CombinedRule
from twin.risk.engine import SensorEngine
from twin.risk.ingest import Batch, check, check_table
from twin.risk.levels import LEVEL_DTYPE, NAMES
from twin.risk.propagation import Propagator
from twin.risk.rules import RuleSet, read_rules
from twin.risk.sensors import SensorTable, read_sensors
from twin.risk.static import Feature, Grids, RiskSources, read_features
from twin.risk.store import Store

LevelsCallback = Callable[[np.ndarray], None]
StatusCallback = Callable[[dict[str, Any]], None]
#: how long a reader on an event loop waits for a running evaluation before it takes the last snapshot
SNAPSHOT_WAIT_S = 0.05
RETAIN_EVERY_S = 3600.0  # old readings are rolled up hourly


@dataclass(frozen=True)
class Snapshot:
    """The service's picture as of one evaluation: what a screen shows, read without blocking.

    ``summary`` leaves out ``degraded``: that is read live (:attr:`RiskService.degraded`), because
    the moment it matters is when evaluations have stopped making snapshots.
    """

    version: int
    levels: np.ndarray  # int8 per asset row (read-only)
    summary: dict[str, Any]
    alerts: list[dict[str, Any]]
    last_reading: float | None  # epoch seconds of the newest reading of any sensor


class RiskService:
    """Live four-colour risk of every asset of a twin.

    :meth:`levels` gives one int8 code per asset row (:mod:`twin.risk.levels`): 0 none, 1 no data,
    2 blue, 3 yellow, 4 orange, 5 red; ordered so that the highest code is the most urgent.

    Parameters
    ----------
    assets
        The twin's asset table; :meth:`levels` has one entry per row.
    clock
        Epoch seconds; injectable so tests run rules on a fake clock.
    neighbours
        ``asset_id -> [asset_id]``: the other segments of a pipe segment's isolation section.
    """

    def __init__(
        self,
        assets: AssetTable,
        sensors: SensorTable,
        rules: RuleSet,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        neighbours: Callable[[str], list[str]] | None = None,
        risk_sources: list[Feature] | None = None,
        grids: list[Feature] | None = None,
        history: bool = True,
    ) -> None:
        self.assets, self.sensors, self.rules, self.store, self.clock = assets, sensors, rules, store, clock
        self.history = history  # record levels for replay (False: a report reads the store, it is no screen)
        n = len(assets)
        all_kinds = assets["kind"].tolist()
        kinds = np.array([all_kinds[a] if a >= 0 else "" for a in sensors.asset_index.tolist()], dtype=object)
        self.engine = SensorEngine(sensors, rules, kinds, clock)
        self.sources = RiskSources(risk_sources or [], assets.centres)
        self.grids = Grids(grids or [], assets.centres)
        self.combines = [CombinedRule(r, assets, sensors, self.sources) for r in rules.combines]
        self.propagator = Propagator(assets, rules.propagation, neighbours)
        self._sensor_keys = store.sensor_keys(sensors.ids.tolist())
        self.asset_keys = store.asset_keys(assets["id"].tolist())
        self._lock = threading.RLock()
        self._ingest_lock = threading.Lock()
        self.accepted_total = 0  # readings committed since start (health: the feed's rate)
        self._level_callbacks: list[LevelsCallback] = []
        self._status_callbacks: list[StatusCallback] = []
        self.layers = describe.Layers.empty(n, len(self.combines))
        self.levels_array = np.zeros(n, LEVEL_DTYPE)
        self.since = np.full(n, clock())
        self.keys = describe.AlertKeys(self)
        self.book = AlertBook(rules.alerts, first_id=store.max_alert_id() + 1)
        self.book.restore(store.open_alerts())
        self.degraded = ""
        self._eval_started: float | None = None
        self._last_eval = time.monotonic()
        self._version = 0
        self._snapshot: Snapshot | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._seed()
        if store.set_aside:
            names = ", ".join(p.name for p in store.set_aside)
            self.book.system(
                "store",
                f"the store could not be opened ({store.open_error}); set aside as {names}; data may be lost",
                clock(),
            )
        self.evaluate()
        self.snapshot()

    @classmethod
    def from_twin(
        cls,
        twin: Any,
        *,
        clock: Callable[[], float] = time.time,
        store_path: Path | None = None,
        neighbours: Callable[[str], list[str]] | None = None,
        history: bool = True,
    ) -> RiskService:
        """Build from a loaded twin's ``[live]`` table (sensors and rules are required).

        Without ``neighbours``, isolation sections come from the twin's pipe networks
        (:func:`isolation_neighbours`).
        """
        live = twin.live
        for key in ("sensors", "rules"):
            if key not in live:
                raise ManifestError(twin.path, f"missing: the scene has no [live] {key} file", where=f"key live.{key}")
        path = store_path or live.get("store") or Path(twin.path).with_suffix(".risk.duckdb")
        sensors = read_sensors(live["sensors"], twin.assets)
        twin.warnings.extend(sensors.warnings)
        neighbours = neighbours or isolation_neighbours(twin)
        return cls(
            twin.assets,
            sensors,
            read_rules(live["rules"]),
            Store(path),
            clock=clock,
            neighbours=neighbours,
            risk_sources=read_features(live["risk_sources"], True) if "risk_sources" in live else None,
            grids=read_features(live["grids"], False) if "grids" in live else None,
            history=history,
        )

    def _seed(self) -> None:
        """Latest value per sensor from the store, so a restart does not start grey."""
        names, ts, value = self.store.latest()
        idx = self.sensors.lookup(names)
        ok = idx >= 0
        self.engine.apply(idx[ok], ts[ok], value[ok])
        self.engine.settle(self.clock())

    # -- hooks ----------------------------------------------------------------------------
    def on_levels_changed(self, callback: LevelsCallback) -> None:
        """Call ``callback(changed_asset_indices)`` after every evaluation that changed a level."""
        self._level_callbacks.append(callback)

    def on_status_changed(self, callback: StatusCallback) -> None:
        """Call ``callback(health_dict)`` when the service becomes degraded or recovers."""
        self._status_callbacks.append(callback)

    # -- ingest and evaluation ---------------------------------------------------------------
    def ingest(self, items: list[Any] | pa.Table) -> dict[str, Any]:
        """Check, commit and evaluate a batch of ``{sensor, ts, value}`` readings (dicts, or an Arrow
        table with columns sensor, ts in epoch ms, value, as :func:`~twin.risk.ingest.parse_body` gives).

        Returns the counts of accepted, duplicate and rejected readings with a reason per
        rejection.  The readings are committed to the store before this returns.
        """
        with self._ingest_lock:
            now = self.clock()
            checker = check_table if isinstance(items, pa.Table) else check
            batch = checker(items, self.sensors, now, self.rules.max_age_s, self.rules.max_future_s)
            inserted, conflicts = self._commit(batch)
            self.accepted_total += inserted
            with self._lock:
                touched = self.engine.apply(batch.sensor, batch.ts, batch.value)
            if len(touched):
                self.evaluate(touched)
        return {
            "accepted": inserted,
            "duplicate": batch.duplicate_in_batch + len(batch.sensor) - inserted,
            "conflicting": conflicts,
            "rejected": batch.rejected,
            "rejections": batch.rejections,
            "rejections_truncated": batch.rejected > len(batch.rejections),
        }

    def _commit(self, batch: Batch) -> tuple[int, int]:
        if not len(batch.sensor):
            return 0, 0
        return self.store.insert_readings(
            self._sensor_keys[batch.sensor], np.round(batch.ts * 1000.0).astype(np.int64), batch.value
        )

    def evaluate(self, touched: np.ndarray | None = None) -> None:
        """Re-grade sensors (``touched`` or all), re-combine asset levels, update alerts, notify."""
        with self._lock:
            self._eval_started = time.monotonic()
            now = self.clock()
            self.engine.evaluate(slice(None) if touched is None else touched, now)
            final = self.layers.compute(self, now)
            changed = np.flatnonzero(final != self.levels_array)
            self.levels_array = final
            self.since[changed] = now
            self.keys.update(now, touched)
            dirty, events = self.book.drain()
            self._last_eval, self._eval_started = time.monotonic(), None
            # the first evaluation records every asset: a replay's picture begins complete
            record = (changed if self._version else np.arange(len(final))) if self.history else changed[:0]
            # under the lock, so saves stay in order; one commit for the alerts and the levels
            self.store.save_evaluation(dirty, events, self.asset_keys[record], now, final[record])
            self._version += 1
        if len(changed):
            for callback in list(self._level_callbacks):
                callback(changed)

    def tick(self) -> None:
        """Re-evaluate everything on the clock: minimum durations, staleness, alert timers."""
        self.evaluate()

    # -- queries ----------------------------------------------------------------------------
    def levels(self) -> np.ndarray:
        """int8 level code per asset (see :mod:`twin.risk.levels`); a copy safe to keep."""
        with self._lock:
            return self.levels_array.copy()

    def asset(self, asset_id: str) -> dict[str, Any] | None:
        index = self.assets.index_of(asset_id)
        if index is None:
            return None
        with self._lock:
            return describe.asset(self, index)

    def sensor_list(self) -> list[dict[str, Any]]:
        return describe.sensor_list(self)

    def readings(
        self, asset_id: str, since: float | None = None, until: float | None = None, limit: int = 10_000
    ) -> list[dict[str, Any]] | None:
        index = self.assets.index_of(asset_id)
        mine = self.sensors.asset == asset_id
        if index is None and not mine.any():
            return None
        return self.store.readings(self.sensors.ids[mine].tolist(), since, until, limit)

    def alerts(self, include_resolved: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return [a.to_json() for a in self.book.listing(include_resolved)]

    def alert(self, alert_id: int) -> dict[str, Any] | None:
        """One alert (open, or resolved and still remembered) with its stored history."""
        with self._lock:
            found = self.book.by_id.get(alert_id)
            out = None if found is None else found.to_json()
        if out is None:
            return None
        out["history"] = self.store.alert_history(alert_id)
        return out

    def ack(self, alert_id: int, by: str = "") -> dict[str, Any] | None:
        with self._lock:
            alert = self.book.ack(alert_id, self.clock(), by)
            dirty, events = self.book.drain()
            self.store.save_alerts(dirty, events)
            self._version += 1
        return None if alert is None else alert.to_json()

    def grid_levels(self, levels: np.ndarray | None = None) -> list[dict[str, Any]]:
        """Each grid cell's level, from the asset ``levels`` given (a snapshot's) or the live ones."""
        if levels is None:
            with self._lock:
                levels = self.levels_array.copy()
        cells = self.grids.levels(levels)
        return [{"id": f.id, "name": f.name, "level": NAMES[int(lv)]} for f, lv in zip(self.grids.features, cells)]

    def snapshot(self, wait_s: float = SNAPSHOT_WAIT_S) -> Snapshot:
        """Levels, counts and open alerts as of the last evaluation, for an event loop.

        Waits at most ``wait_s`` for a running evaluation; when rule evaluation is stuck (the
        watchdog then reports the service degraded) the last snapshot comes back instead, so
        the screens keep showing what was known and say that it may be out of date.
        """
        if self._lock.acquire(timeout=wait_s):
            try:
                if self._snapshot is None or self._snapshot.version != self._version:
                    last = self.engine.last_ts[np.isfinite(self.engine.last_ts)]
                    levels = self.levels_array.copy()
                    levels.flags.writeable = False
                    self._snapshot = Snapshot(
                        self._version, levels, self._counts(), self.alerts(), float(last.max()) if len(last) else None
                    )
            finally:
                self._lock.release()
        if self._snapshot is None:  # stuck before the first snapshot: nothing known yet
            raise RuntimeError("rule evaluation is stuck and no snapshot was taken yet")
        return self._snapshot

    def summary(self, snap: Snapshot | None = None) -> dict[str, Any]:
        """Counts per level, of alerts and of sensors as of the last evaluation (``snap``, else the
        latest snapshot: this never blocks for long), and whether the service is degraded now."""
        snap = snap or self.snapshot()
        return {**snap.summary, "degraded": bool(self.degraded), "degraded_reason": self.degraded}

    def _counts(self) -> dict[str, Any]:
        with self._lock:
            counts = np.bincount(self.levels_array, minlength=len(NAMES))
            seen = np.isfinite(self.engine.last_ts)
            stale = self.engine.stale
            states: dict[str, int] = {}
            for a in self.book.open.values():
                states[a.state] = states.get(a.state, 0) + 1
        return {
            "levels": {NAMES[i]: int(c) for i, c in enumerate(counts)},
            "alerts": {"active": sum(states.values()), **states},
            "sensors": {
                "total": len(self.sensors),
                "online": int((~stale).sum()),
                "stale": int((stale & seen).sum()),
                "never_reported": int((~seen).sum()),
            },
        }

    def health(self) -> dict[str, Any]:
        """Runs a real store query: a broken DuckDB instance turns health red."""
        self.check_stall()
        store: dict[str, Any] = {"ok": True, "path": str(self.store.path) if self.store.path else ":memory:"}
        try:
            self.store.check()
        except Exception as exc:  # any DuckDB failure is what health must report
            store.update(ok=False, error=str(exc).splitlines()[0])
        if self.store.set_aside:
            store["set_aside"] = [str(p) for p in self.store.set_aside]
        status = "error" if not store["ok"] else "degraded" if self.degraded else "ok"
        return {
            "status": status,
            "store": store,
            "degraded": bool(self.degraded),
            "degraded_reason": self.degraded,
            "last_evaluation_s_ago": round(time.monotonic() - self._last_eval, 3),
            "sensors": len(self.sensors),
            "assets": len(self.assets),
            "readings_accepted": self.accepted_total,
        }

    # -- background ----------------------------------------------------------------------------
    def check_stall(self) -> bool:
        """Mark the service degraded if rule evaluation is stuck; notify on every change."""
        started, limit = self._eval_started, self.rules.stall_s
        now = time.monotonic()
        if started is not None and now - started > limit:
            reason = f"rule evaluation has been running for {now - started:.0f} s"
        elif self._threads and now - self._last_eval > limit:
            reason = f"no rule evaluation for {now - self._last_eval:.0f} s"
        else:
            reason = ""
        flipped = bool(reason) != bool(self.degraded)
        self.degraded = reason
        if flipped:
            status = {"degraded": bool(reason), "degraded_reason": reason}
            for callback in list(self._status_callbacks):
                callback(status)
        return bool(reason)

    def retain(self) -> int:
        """Roll raw readings older than the rules' ``keep_days`` up into hourly summaries."""
        if not self.rules.keep_days:
            return 0
        return self.store.roll_up(self.clock() - self.rules.keep_days * 86400.0)

    def start(self, tick_s: float = 1.0) -> None:
        """Start the clock tick and the stall watchdog (daemon threads)."""

        def loop(fn: Callable[[], Any], period: float) -> None:
            while not self._stop.wait(period):
                try:
                    fn()
                except Exception as exc:  # a failing tick must not kill the thread: report it
                    self.degraded = f"{fn.__name__} failed: {exc}"

        self._threads = [
            threading.Thread(target=loop, args=(self.tick, tick_s), daemon=True, name="risk-tick"),
            threading.Thread(target=loop, args=(self.check_stall, 1.0), daemon=True, name="risk-watchdog"),
            threading.Thread(target=loop, args=(self.retain, RETAIN_EVERY_S), daemon=True, name="risk-retention"),
        ]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []


def isolation_neighbours(twin: Any) -> Callable[[str], list[str]] | None:
    """``segment id -> segments of its valve-isolation section`` over the twin's pipe networks.

    ``None`` when the twin has no networks; a segment of a network without a source (where
    isolation means nothing) has an empty section.
    """
    from twin.networks import isolate, networks_of, segment_index

    refs = networks_of(twin)
    if not refs:
        return None
    owner = {segment: ref.graph for ref in refs for segment in segment_index(ref.graph)}

    def neighbours(asset_id: str) -> list[str]:
        graph = owner.get(asset_id)
        if graph is None:
            return []
        try:
            return list(isolate(graph, asset_id)["isolated_segments"])
        except InputError:
            return []

    return neighbours
