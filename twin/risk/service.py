"""The live risk service: the runtime over the engine state, the alert lifecycle and the history.

One object runs them; the HTTP routes (:mod:`twin.faces.api`), the simulator and the trame app
all call it (typed by :mod:`twin.risk.interface`).  It is thread-safe: ingest is serialised (one
DuckDB writer), reads take a short lock (or, on an event loop that must never block, read the
last :class:`Snapshot`), and change callbacks run on the thread that made the change (the app
hands them to its event loop with ``loop.call_soon_threadsafe``).
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
from twin.resources import writable_location
from twin.risk import describe
from twin.risk.alerting import Alerting
from twin.risk.flood import FloodGuard
from twin.risk.gridlayers import roll_up
from twin.risk.history import History
from twin.risk.ingest import Batch, SensorNames, check, check_table
from twin.risk.levels import CODES
from twin.risk.response import Response
from twin.risk.rules import RuleSet, read_rules
from twin.risk.sensors import SensorTable, read_sensors
from twin.risk.state import RiskState
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
    """Live four-colour risk of every asset of a twin: the runtime that owns the parts and the threads.

    The parts, one job each: :attr:`state` (readings and levels per sensor and asset,
    :class:`~twin.risk.state.RiskState`), :attr:`alerting` (raise, acknowledge, clear,
    :class:`~twin.risk.alerting.Alerting`) and :attr:`history` (the store,
    :class:`~twin.risk.history.History`).  This class serialises ingest and evaluation, persists
    what changed, takes snapshots for event loops, runs the clock tick, the stall watchdog and
    retention on daemon threads, and reports health.

    Building one does nothing else: :meth:`open` (or ``with``) connects the store, seeds the state
    and runs the first evaluation; :meth:`start` also starts the threads; :meth:`close` stops them
    and closes the store.

    :meth:`levels` gives one int8 code per asset row (:mod:`twin.risk.levels`): 0 none, 1 no data,
    2 blue, 3 yellow, 4 orange, 5 red; ordered so that the highest code is the most urgent.

    Parameters
    ----------
    assets
        The twin's asset table; :meth:`levels` has one entry per row.
    store
        The store (not yet open: :meth:`open` opens it).
    clock
        Epoch seconds; injectable so tests run rules on a fake clock.
    neighbours
        ``asset_id -> [asset_id]``: the other segments of a pipe segment's isolation section.
    record_levels
        Record every level change for playback (False: a report reads the store, it is no screen).
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
        record_levels: bool = True,
    ) -> None:
        self.rules, self.clock, self.record_levels = rules, clock, record_levels
        self.state = RiskState(
            assets, sensors, rules, clock, neighbours=neighbours, risk_sources=risk_sources, grids=grids
        )
        self.alerting = Alerting(self.state, rules.alerts)
        self.history = History(store, sensors.ids.tolist(), assets["id"].tolist())
        #: incidents, plans and resources (from_twin gives the scene's plans, resources and networks)
        self.response = Response(self.state, self.alerting, store)
        self.watchdog = Watchdog(rules.stall_s)
        self.flood = FloodGuard(sensors.period_s, rules.flood_factor, rules.flood_burst_s)
        self._names = SensorNames(sensors)  # sensor rows of the gateways' name columns, remembered
        self._lock = threading.RLock()
        self._ingest_lock = threading.Lock()
        self.accepted_total = 0  # readings committed since start (health: the feed's rate)
        self._level_callbacks: list[LevelsCallback] = []
        self._version = 0
        self._snapshot: Snapshot | None = None
        self._opened = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._feeds: dict[str, Callable[[], dict[str, Any]]] = {}  # name -> its health (MQTT, ...)

    @classmethod
    def from_twin(
        cls,
        twin: Any,
        *,
        clock: Callable[[], float] = time.time,
        store_path: Path | None = None,
        neighbours: Callable[[str], list[str]] | None = None,
        record_levels: bool = True,
    ) -> RiskService:
        """Build (not open) from a loaded twin's ``[live]`` table (sensors and rules are required).

        Without ``neighbours``, isolation sections come from the twin's pipe networks
        (:func:`isolation_neighbours`).
        """
        live = twin.live
        for key in ("sensors", "rules"):
            if key not in live:
                raise ManifestError(twin.path, f"missing: the scene has no [live] {key} file", where=f"key live.{key}")
        path = store_path or writable_location(live.get("store") or Path(twin.path).with_suffix(".risk.duckdb"))
        sensors = read_sensors(live["sensors"], twin.assets)
        twin.warnings.extend(sensors.warnings)
        neighbours = neighbours or isolation_neighbours(twin)
        service = cls(
            twin.assets,
            sensors,
            read_rules(live["rules"]),
            Store(path),
            clock=clock,
            neighbours=neighbours,
            risk_sources=read_features(live["risk_sources"], True) if "risk_sources" in live else None,
            grids=read_features(live["grids"], False) if "grids" in live else None,
            record_levels=record_levels,
        )
        service.response = Response.from_twin(twin, service.state, service.alerting, service.history.store)
        return service

    # -- life cycle -----------------------------------------------------------------------------
    def open(self) -> RiskService:
        """Connect the store, take back the latest readings and open alerts, evaluate once.

        Once only (later calls do nothing); returns the service.
        """
        if self._opened:
            return self
        self.history.open()
        store = self.history.store
        if self.rules.archive_after_s and store.path is not None and store.archive is None:
            store.attach_archive()
        names, ts, value = self.history.latest()
        self.state.seed(names, ts, value, self.clock())
        self.alerting.restore(self.history.open_alerts(), self.history.next_alert_id())
        self.response.open()
        if store.set_aside:
            names_aside = ", ".join(p.name for p in store.set_aside)
            self.alerting.system(
                "store",
                f"the store could not be opened ({store.open_error}); set aside as {names_aside}; data may be lost",
                self.clock(),
            )
        self._opened = True
        self.evaluate()
        self.snapshot()
        return self

    def start(self, tick_s: float = 1.0) -> None:
        """Open (if not yet) and start the clock tick, the stall watchdog and retention (daemon threads)."""
        self.open()

        def loop(fn: Callable[[], Any], period: float) -> None:
            while not self._stop.wait(period):
                try:
                    fn()
                except Exception as exc:  # a failing tick must not kill the thread: report it
                    self.watchdog.degraded = f"{fn.__name__} failed: {exc}"

        self._threads = [
            threading.Thread(target=loop, args=(self.tick, tick_s), daemon=True, name="risk-tick"),
            threading.Thread(target=loop, args=(self.check_stall, 1.0), daemon=True, name="risk-watchdog"),
            threading.Thread(target=loop, args=(self.retain, RETAIN_EVERY_S), daemon=True, name="risk-retention"),
        ]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        """Stop the threads (the store stays open: :meth:`close` closes it)."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []

    def close(self) -> None:
        """Stop the threads and close the store."""
        self.stop()
        self.history.close()

    def __enter__(self) -> RiskService:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the parts' tables, for the screens -----------------------------------------------------
    @property
    def assets(self) -> AssetTable:
        return self.state.assets

    @property
    def sensors(self) -> SensorTable:
        return self.state.sensors

    @property
    def grids(self) -> Grids:
        return self.state.grids

    @property
    def sources(self) -> RiskSources:
        return self.state.sources

    @property
    def degraded(self) -> str:
        """Why the service is degraded now ("" when it is not)."""
        return self.watchdog.degraded

    # -- hooks ----------------------------------------------------------------------------
    def on_levels_changed(self, callback: LevelsCallback) -> None:
        """Call ``callback(changed_asset_indices)`` after every evaluation that changed a level."""
        self._level_callbacks.append(callback)

    def on_status_changed(self, callback: StatusCallback) -> None:
        """Call ``callback(health_dict)`` when the service becomes degraded or recovers."""
        self.watchdog.callbacks.append(callback)

    def add_feed(self, name: str, report: Callable[[], dict[str, Any]]) -> None:
        """Show a feed's own health (an MQTT subscriber's counts) under ``feeds.<name>`` in :meth:`health`."""
        self._feeds[name] = report

    # -- ingest and evaluation ---------------------------------------------------------------
    def ingest(self, items: list[Any] | pa.Table, *, rate_limit: bool = True) -> dict[str, Any]:
        """Check, commit and evaluate a batch of ``{sensor, ts, value}`` readings (dicts, or an Arrow
        table with columns sensor, ts in epoch ms, value, as :func:`~twin.risk.ingest.parse_body` gives).

        ``rate_limit=False`` is for the twin's own simulator, whose load test floods on purpose.

        Returns the counts of accepted, duplicate and rejected readings with a reason per
        rejection.  The readings are committed to the store before this returns.
        """
        with self._ingest_lock:
            now = self.clock()
            window = (now, self.rules.max_age_s, self.rules.max_future_s)
            if isinstance(items, pa.Table):
                batch = check_table(items, self._names, *window)
            else:
                batch = check(items, self.state.sensors, *window)
            limited = self._throttle(batch, now) if rate_limit else 0
            inserted, conflicts = self.history.commit(batch.sensor, batch.ts, batch.value)
            self.accepted_total += inserted
            with self._lock:
                touched = self.state.apply(batch.sensor, batch.ts, batch.value, now)
            if len(touched):
                self.evaluate(touched)
        return {
            "accepted": inserted,
            "duplicate": batch.duplicate_in_batch + len(batch.sensor) - inserted,
            "conflicting": conflicts,
            "rejected": batch.rejected,
            "rejections": batch.rejections,
            "rejections_truncated": batch.rejected > len(batch.rejections),
            "rate_limited": limited,
        }

    def _throttle(self, batch: Batch, now: float) -> int:
        """Drop the readings of sensors past their rate limit (:class:`FloodGuard`); how many."""
        keep = self.flood.admit(batch.sensor, batch.ts, now)
        limited = int(len(keep) - keep.sum())
        if limited:
            batch.sensor, batch.ts, batch.value = batch.sensor[keep], batch.ts[keep], batch.value[keep]
        return limited

    def flooding(self) -> list[str]:
        """Sensors throttled lately for reporting far faster than their declared period."""
        return self.state.sensors.ids[self.flood.flooding(self.clock())].tolist()

    def evaluate(self, touched: np.ndarray | None = None) -> None:
        """Re-grade sensors (``touched`` or all), re-combine asset levels, update alerts, persist, notify."""
        with self._lock:
            self.watchdog.begin()
            now = self.clock()
            changed = self.state.evaluate(touched, now)
            self.response.check_deadlines(now)  # overdue plan steps raise alerts, stored below
            dirty, events = self.alerting.update(now, touched)
            self.response.update(now, dirty)
            self.watchdog.end()
            final = self.state.levels
            # the first evaluation records every asset: a playback's picture begins complete
            record = (changed if self._version else np.arange(len(final))) if self.record_levels else changed[:0]
            # under the lock, so saves stay in order; one commit for the alerts and the levels
            self.history.record(dirty, events, record, now, final[record])
            self._version += 1
        if len(changed):
            for callback in list(self._level_callbacks):
                callback(changed)

    def set_external(self, name: str, levels: dict[str, tuple[str, str]]) -> None:
        """Replace the levels model ``name`` forecasts (asset id -> (level name, reason);
        :mod:`twin.risk.external`) and re-evaluate; unknown asset ids are passed over."""
        rows = {}
        for asset_id, (level, reason) in levels.items():
            row = self.state.assets.index_of(asset_id)
            if row is not None:
                rows[row] = (CODES[level], reason)
        with self._lock:
            self.state.external.set(name, rows)
        self.evaluate()

    def tick(self) -> None:
        """Re-evaluate everything on the clock: minimum durations, staleness, alert timers."""
        self.evaluate()

    # -- queries ----------------------------------------------------------------------------
    def levels(self) -> np.ndarray:
        """int8 level code per asset (see :mod:`twin.risk.levels`); a copy safe to keep."""
        with self._lock:
            return self.state.levels.copy()

    def last_values(self) -> np.ndarray:
        """The latest value of every sensor (NaN where none); a copy safe to keep.

        Without the lock, as an event loop reads it (one array copy; a value being replaced by an
        ingest is either the old or the new)."""
        return self.state.last_values()

    def asset(self, asset_id: str) -> dict[str, Any] | None:
        """One asset with its level, the reason for it, its sensors and open alerts (None: no such asset)."""
        index = self.state.assets.index_of(asset_id)
        if index is None:
            return None
        with self._lock:
            return describe.asset(self.state, index, self.alerting.open())

    def sensor_list(self) -> list[dict[str, Any]]:
        """Each sensor with the direction and entry values of the threshold rule that applies."""
        return describe.sensor_list(self.state)

    def readings(
        self, asset_id: str, since: float | None = None, until: float | None = None, limit: int = 10_000
    ) -> list[dict[str, Any]] | None:
        """The stored readings of an asset's sensors, oldest first (None: no such asset or sensor)."""
        sensors = self.state.sensors
        index = self.state.assets.index_of(asset_id)
        mine = sensors.asset == asset_id
        if index is None and not mine.any():
            return None
        return self.history.readings(sensors.ids[mine].tolist(), since, until, limit)

    def alerts(self, include_resolved: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return self.alerting.listing(include_resolved)

    def alert(self, alert_id: int) -> dict[str, Any] | None:
        """One alert (open, or resolved and still remembered) with its stored history."""
        with self._lock:
            out = self.alerting.get(alert_id)
        if out is None:
            return None
        out["history"] = self.history.alert_history(alert_id)
        return out

    def ack(self, alert_id: int, by: str = "") -> dict[str, Any] | None:
        """Acknowledge an open alert at its current level (None: no such alert)."""
        with self._lock:
            alert, dirty, events = self.alerting.ack(alert_id, self.clock(), by)
            self.history.save_alerts(dirty, events)
            self._version += 1
        return None if alert is None else alert.to_json()

    # -- incidents (twin.risk.response) -------------------------------------------------------------
    def incidents(self, include_closed: bool = False) -> list[dict[str, Any]]:
        """Open incidents, most severe then oldest (``include_closed``: resolved and merged too)."""
        with self._lock:
            return self.response.listing(self.clock(), include_closed)

    def incident(self, incident_id: int) -> dict[str, Any] | None:
        """One incident with its alerts, timeline, plan checklist and nearest resources (None: none such)."""
        with self._lock:
            return self.response.detail(incident_id, self.clock())

    def check_off(self, incident_id: int, step: str, by: str, note: str = "") -> dict[str, Any]:
        """Check a plan step off (once, by a named operator; :class:`~twin.risk.response.Refused` else)."""
        with self._lock:
            done, dirty, events = self.response.check_off(incident_id, step, by, note, self.clock())
            self.history.save_alerts(dirty, events)
            self._version += 1
        return done

    def submit_report(self, body: Any, client: str) -> dict[str, Any]:
        """Take a citizen's hazard report (a parsed JSON body) from ``client`` (rate-limited)."""
        with self._lock:
            return self.response.submit_report(body, client, self.clock())

    def decide_report(self, report_id: int, body: Any) -> dict[str, Any]:
        """Verify or reject a report, once (:class:`~twin.risk.reports.ReportRefused` else)."""
        with self._lock:
            report, dirty, events = self.response.decide_report(report_id, body, self.clock())
            self.history.save_alerts(dirty, events)
            self._version += 1
        return report

    def report_layer(self) -> dict[str, Any]:
        """The citizen reports as GeoJSON points with their status, for the map."""
        with self._lock:
            return self.response.report_layer()

    def report_photo(self, report_id: int) -> tuple[bytes, str] | None:
        """A report's photo and its media type (None: no such report or no photo)."""
        return self.response.report_photo(report_id)

    def grid_layer_levels(self) -> list[dict[str, Any]]:
        """Each grid system's cells with their level, from the last snapshot (never blocks long)."""
        return roll_up(self.response.grid_layers, self.snapshot().levels)

    def resource_list(self) -> list[dict[str, Any]]:
        """The emergency resources layer (teams, depots, shelters, experts)."""
        res = self.response.resources
        return [] if res is None else [res.row(i) for i in range(len(res))]

    def act(self, incident_id: int, by: str, text: str) -> dict[str, Any]:
        """Note an action taken on an incident's timeline."""
        with self._lock:
            return self.response.act(incident_id, by, text, self.clock())

    def grid_levels(self, levels: np.ndarray | None = None) -> list[dict[str, Any]]:
        """Each grid cell's level, from the asset ``levels`` given (a snapshot's) or the live ones."""
        if levels is None:
            levels = self.levels()
        return self.state.grid_levels(levels)

    def snapshot(self, wait_s: float = SNAPSHOT_WAIT_S) -> Snapshot:
        """Levels, counts and open alerts as of the last evaluation, for an event loop.

        Waits at most ``wait_s`` for a running evaluation; when rule evaluation is stuck (the
        watchdog then reports the service degraded) the last snapshot comes back instead, so
        the screens keep showing what was known and say that it may be out of date.
        """
        if self._lock.acquire(timeout=wait_s):
            try:
                if self._snapshot is None or self._snapshot.version != self._version:
                    levels = self.state.levels.copy()
                    levels.flags.writeable = False
                    counts = self.state.counts()
                    summary = {
                        "levels": counts["levels"],
                        "alerts": self.alerting.counts(),
                        "sensors": counts["sensors"],
                    }
                    self._snapshot = Snapshot(
                        self._version, levels, summary, self.alerting.listing(), self.state.last_reading()
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
        degraded = self.watchdog.degraded
        return {**snap.summary, "degraded": bool(degraded), "degraded_reason": degraded}

    def health(self) -> dict[str, Any]:
        """Runs a real store query: a broken DuckDB instance turns health red."""
        self.check_stall()
        path = self.history.path
        store: dict[str, Any] = {"ok": True, "path": str(path) if path else ":memory:"}
        try:
            self.history.check()
        except Exception as exc:  # any DuckDB failure is what health must report
            store.update(ok=False, error=str(exc).splitlines()[0])
        degraded = self.watchdog.degraded
        if self.history.set_aside:  # running, but on a fresh store: what the old one held is not here
            store["set_aside"] = [str(p) for p in self.history.set_aside]
            set_aside = f"the damaged store was set aside as {', '.join(p.name for p in self.history.set_aside)}"
            degraded = f"{degraded}; {set_aside}" if degraded else set_aside
        status = "error" if not store["ok"] else "degraded" if degraded else "ok"
        return {
            "status": status,
            "store": store,
            "degraded": bool(degraded),
            "degraded_reason": degraded,
            "last_evaluation_s_ago": round(self.watchdog.since_last(), 3),
            "sensors": len(self.state.sensors),
            "assets": len(self.state.assets),
            "readings_accepted": self.accepted_total,
            "readings_rate_limited": self.flood.dropped,
            "flooding_sensors": self.flooding()[:20],
            **({"feeds": {name: report() for name, report in self._feeds.items()}} if self._feeds else {}),
        }

    # -- background ----------------------------------------------------------------------------
    def check_stall(self) -> bool:
        """Mark the service degraded if rule evaluation is stuck; notify on every change."""
        return self.watchdog.check(running=bool(self._threads))

    def retain(self) -> int:
        """Keep the raw table small: with an archive, move whole days older than ``archive_after_s``
        to Parquet (rolled up hourly as they go) and drop archived days past ``keep_days``; without
        one, roll raw readings older than ``keep_days`` up into hourly summaries.  Returns the raw
        rows that left the table."""
        now, keep_s = self.clock(), self.rules.keep_days * 86400.0
        store = self.history.store
        if store.archive is not None:
            moved = store.move_to_archive(now - self.rules.archive_after_s)
            if keep_s:
                store.archive.drop_before(now - keep_s)
            return moved
        return self.history.roll_up(now - keep_s) if keep_s else 0


class Watchdog:
    """Whether rule evaluation is stuck: one running too long, or none for too long while the
    tick runs.  ``limit_s`` is the rules' ``stall_s``; ``callbacks`` hear every flip."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.started: float | None = None  # monotonic start of the running evaluation
        self.last = time.monotonic()  # monotonic end of the last one
        self.degraded = ""
        self.callbacks: list[StatusCallback] = []

    def begin(self) -> None:
        self.started = time.monotonic()

    def end(self) -> None:
        self.last, self.started = time.monotonic(), None

    def since_last(self) -> float:
        return time.monotonic() - self.last

    def check(self, running: bool) -> bool:
        """Update :attr:`degraded` (``running``: the tick thread is meant to evaluate); True if stuck."""
        started, limit = self.started, self.limit_s
        now = time.monotonic()
        if started is not None and now - started > limit:
            reason = f"rule evaluation has been running for {now - started:.0f} s"
        elif running and now - self.last > limit:
            reason = f"no rule evaluation for {now - self.last:.0f} s"
        else:
            reason = ""
        flipped = bool(reason) != bool(self.degraded)
        self.degraded = reason
        if flipped:
            status = {"degraded": bool(reason), "degraded_reason": reason}
            for callback in list(self.callbacks):
                callback(status)
        return bool(reason)


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
