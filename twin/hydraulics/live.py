"""The flood nowcast in the live loop: SWMM every few minutes on the rain gauge, into the risk levels.

``twin serve`` on a scene whose ``[hydraulics.nowcast]`` binds a SWMM model runs
:func:`twin.hydraulics.nowcast.scene_nowcast` every ``every_s`` (default 300 s) on a thread of
its own (never the event loop), one run at a time; the run itself is in the SWMM worker child,
so a crash or a hang (past the run's time limit) is a failed nowcast, reported, and the next one
runs as usual.  The rain is the gauge's latest live reading (the sensor whose id is the
``rain_gauge``, in the model's rainfall units) held for the horizon (a persistence forecast),
or a forecast series given by the caller.

Each nowcast hands the risk service (:meth:`twin.risk.service.RiskService.set_external`, under
the name ``nowcast``) the level of every node expected to flood and of the buildings and
underground entrances in its pond (or, without a terrain, within reach), with the reason
"forecast flooding at J12 in 40 min": orange when the flooding starts within 30 minutes, else
yellow; a way underground one level higher.  The next nowcast replaces them all, so levels fall
back when it no longer floods them.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from twin.hydraulics.nowcast import scene_nowcast
from twin.hydraulics.settings import scene_hydraulics

if TYPE_CHECKING:
    from twin.scene import Twin

log = logging.getLogger("twin.hydraulics")
SOON_S = 1800.0  #: flooding that starts this soon is orange, later yellow
LEVELS = ("yellow", "orange", "red")
Rain = Sequence[tuple[float, float]]


class LiveRisk(Protocol):
    """What the loop needs of the live risk (:class:`twin.risk.service.RiskService`; the core
    imports no risk module)."""

    @property
    def sensors(self) -> Any: ...

    def last_values(self) -> Any: ...

    def set_external(self, name: str, levels: dict[str, tuple[str, str]]) -> None: ...


def risk_levels(result: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Asset id -> (level name, reason) of a nowcast's flooding nodes and what stands in their water."""
    out: dict[str, tuple[str, str]] = {}

    def raise_to(asset: str, step: int, reason: str) -> None:
        if asset not in out or LEVELS.index(out[asset][0]) < step:
            out[asset] = (LEVELS[step], reason)

    for node in result.get("nodes", []):
        step = 1 if node["first_flood_s"] <= SOON_S else 0
        raise_to(node["id"], step, node["reason"])
        flooded = node.get("flooded")
        if flooded is None:  # no terrain: the buildings within reach
            flooded = [{"id": b, "underground": False} for b in node.get("buildings", [])]
        for hit in flooded:
            raise_to(hit["id"], step + int(hit["underground"]), node["reason"])
    return out


class NowcastLoop:
    """The scene's nowcast, run on a clock and fed into the live risk.

    Parameters
    ----------
    twin
        The scene (its ``[hydraulics.nowcast]`` binds the model and the gauge).
    risk
        The live-risk service the levels go to and the gauge's readings come from (None: the
        nowcast runs, nothing is raised; the rain must then come from ``forecast``).
    forecast
        A rainfall forecast series ((seconds from now, intensity) steps) to use instead of the
        gauge's reading; called before each run.
    every_s
        Seconds between the starts of two runs (default: the scene's ``every_s``).
    """

    def __init__(
        self,
        twin: Twin,
        risk: LiveRisk | None = None,
        forecast: Callable[[], Rain] | None = None,
        every_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        bound = scene_hydraulics(twin).nowcast
        if bound is None:
            raise ValueError("the scene binds no SWMM model ([hydraulics.nowcast])")
        self.twin, self.risk, self.forecast, self.clock = twin, risk, forecast, clock
        self.gauge = bound.rain_gauge
        self.every_s = float(every_s if every_s is not None else bound.every_s)
        self.latest: dict[str, Any] = {"status": "pending", "message": "no nowcast has run yet", "nodes": []}
        self.runs = 0
        #: called with each run's result, on the loop's thread (the app draws its ponds from it)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self._run_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def rain(self) -> list[tuple[float, float]]:
        """The rain the next run takes: the forecast series, else the gauge's latest reading held."""
        if self.forecast is not None:
            return [(float(t), float(v)) for t, v in self.forecast()]
        if self.risk is None or self.gauge is None:
            return [(0.0, 0.0)]
        row = self.risk.sensors.lookup([self.gauge])[0]
        value = float(self.risk.last_values()[row]) if row >= 0 else math.nan
        return [(0.0, value if math.isfinite(value) and value > 0 else 0.0)]

    def run_once(self) -> dict[str, Any]:
        """One nowcast now (a run already going is waited for, not doubled), its levels raised."""
        with self._run_lock:
            started, rain = self.clock(), self.rain()
            clock = time.perf_counter()
            try:
                result = scene_nowcast(self.twin, rain)
            except Exception as exc:  # a bad model or a broken worker: reported, the next run tries again
                result = {"status": "failed", "message": f"the flood nowcast failed: {exc}", "nodes": []}
            result = {**result, "at": started, "rain": rain, "elapsed_s": round(time.perf_counter() - clock, 3)}
            if self.risk is not None and result["status"] in ("ok", "unavailable"):
                self.risk.set_external("nowcast", risk_levels(result))
            self.latest = result
            self.runs += 1
            for listener in list(self.listeners):
                try:
                    listener(result)
                except Exception:  # noqa: BLE001 - a listener's failure must not stop the nowcast
                    log.exception("a nowcast listener failed")
            return result

    def start(self) -> NowcastLoop:
        """Run now and then every ``every_s`` on a daemon thread, until :meth:`stop`."""

        def loop() -> None:
            while True:
                self.run_once()
                if self._stop.wait(self.every_s):
                    return

        self._thread = threading.Thread(target=loop, name="nowcast", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
