"""A built-in simulator: plausible readings for every sensor, with incidents that escalate and recover.

Used by ``twin serve --simulate`` and the demo.  Readings go through :meth:`RiskService.ingest`,
the same path as HTTP ingest.  One cycle (``cycle_s``, ten minutes by default) plays four
incidents in turn, each rising through blue, yellow, orange and red and then recovering:

* ``gas_leak``: combustible gas builds up in a building (the first gas sensor of the file) while the
  pressure of the gas network's sensors sags;
* ``water_main_burst``: pressure falls along the water-supply sensors one after another;
* ``storm``: rain at the gauges (up to 60 mm/h), drain water levels and the underpass water depth
  rise, then drain away;
* ``bridge``: displacement, strain and vibration of the bridge climb and settle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from twin.risk.service import RiskService

#: Quiet value and noise per quantity.
BASELINE = {
    "gas": (1.0, 0.3),
    "pressure": (320.0, 2.0),
    "flow": (120.0, 4.0),
    "water_level": (0.3, 0.02),
    "water_depth": (0.0, 0.004),
    "displacement": (1.0, 0.2),
    "strain": (300.0, 8.0),
    "vibration": (1.0, 0.2),
    "temperature": (22.0, 0.4),
    "rainfall": (0.0, 0.0),
}
SCENARIOS = ("gas_leak", "water_main_burst", "storm", "bridge")


def envelope(phase: np.ndarray) -> np.ndarray:
    """0 -> 1 -> 0 over a scenario window: ramp up 40 %, hold 20 %, ramp down 40 %."""
    phase = np.clip(phase, 0.0, 1.0)
    return np.clip(np.minimum(phase / 0.4, (1.0 - phase) / 0.4), 0.0, 1.0)


class Simulator:
    """Readings for a service's sensors on a clock.

    Parameters
    ----------
    service
        The :class:`~twin.risk.service.RiskService` to feed.
    cycle_s
        Length of one cycle of the four incidents.
    rate
        Readings per second in all (a load test: every sensor reports in rounds that often);
        None: each sensor once per its own period, as in the field.
    scenarios
        The incidents to play (default all four, in turn).
    together
        Play them at once, each over the whole cycle: independent failures at the same time
        (how incident grouping is measured).
    """

    def __init__(
        self,
        service: RiskService,
        *,
        clock: Callable[[], float] = time.time,
        cycle_s: float = 600.0,
        seed: int = 0,
        rate: float | None = None,
        scenarios: tuple[str, ...] = SCENARIOS,
        together: bool = False,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"the simulator's rate must be positive, not {rate}")
        unknown = sorted(set(scenarios) - set(SCENARIOS))
        if unknown:
            raise ValueError(f"unknown scenarios {unknown}: choose from {', '.join(SCENARIOS)}")
        self.scenarios, self.together = scenarios, together
        self.service, self.clock, self.cycle_s, self.rate = service, clock, cycle_s, rate
        self._round_t: float | None = None
        self.rng = np.random.default_rng(seed)
        s = service.sensors
        self.ids = s.ids.tolist()
        self.quantity = s.quantity.tolist()
        asset = [a.lower() for a in s.asset.tolist()]
        networks = service.assets["network"].tolist()
        network = [networks[i].lower() if i >= 0 else "" for i in s.asset_index.tolist()]
        self.period = s.period_s
        self.next_due = np.zeros(len(self.ids))
        q = np.array(self.quantity, dtype=object)
        self.base = np.array([BASELINE.get(x, (0.0, 0.0))[0] for x in self.quantity])
        self.noise = np.array([BASELINE.get(x, (0.0, 0.0))[1] for x in self.quantity])
        gas_main = np.array(["gas" in (n or a) for a, n in zip(asset, network)]) & (q == "pressure")
        gas_sensors = np.flatnonzero(q == "gas")
        self.gas_target = gas_sensors[:1]
        self.gas_main = np.flatnonzero(gas_main)
        self.water_mains = np.flatnonzero((q == "pressure") & ~gas_main)
        self.drains = np.flatnonzero(q == "water_level")
        self.underpass = np.flatnonzero(q == "water_depth")
        self.rain = np.flatnonzero(q == "rainfall")  # mm/h at the gauges (the flood nowcast's input)
        self.bridge = {name: np.flatnonzero(q == name) for name in ("displacement", "strain", "vibration")}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def values(self, now: float) -> np.ndarray:
        """Every sensor's value at ``now``: baseline, noise and the incident playing in the cycle."""
        v = self.base + self.rng.normal(0.0, 1.0, len(self.base)) * self.noise
        window = self.cycle_s if self.together else self.cycle_s / len(SCENARIOS)
        t = now % self.cycle_s

        def env(name: str, delay: float = 0.0) -> float:
            if name not in self.scenarios:
                return 0.0
            k = 0 if self.together else SCENARIOS.index(name)
            return float(envelope(np.array((t - k * window - delay) / (window * 0.9)))[()])

        v[self.gas_target] += 32.0 * env("gas_leak")
        v[self.gas_main] -= 40.0 * env("gas_leak")
        for j, s in enumerate(self.water_mains):
            v[s] -= 200.0 * env("water_main_burst", delay=8.0 * j)
        v[self.drains] += 2.0 * env("storm")
        v[self.rain] = 60.0 * env("storm")
        v[self.underpass] = np.maximum(v[self.underpass] + 0.5 * env("storm", delay=10.0), 0.0)
        v[self.bridge["displacement"]] += 34.0 * env("bridge")
        v[self.bridge["strain"]] += 1000.0 * env("bridge")
        v[self.bridge["vibration"]] += 22.0 * env("bridge")
        return v

    def readings(self, now: float | None = None) -> list[dict[str, Any]]:
        """Readings of the sensors due at ``now`` (each reports once per its period)."""
        now = self.clock() if now is None else now
        due = np.flatnonzero(self.next_due <= now)
        self.next_due[due] = now + self.period[due]
        values = self.values(now)
        ms = int(now * 1000)
        return [{"sensor": self.ids[i], "ts": ms, "value": float(values[i])} for i in due.tolist()]

    def rounds(self, now: float | None = None) -> pa.Table:
        """Load-test readings: whole rounds (every sensor once) at ``self.rate`` readings/s in all.

        The rounds due since the last call are spread evenly in time, each with its own values,
        so the incidents play as usual and the rate rules (windowed) see a dense but sane signal.
        """
        if self.rate is None:
            raise ValueError("load-test rounds need a simulator built with a rate")
        now = self.clock() if now is None else now
        gap = len(self.ids) / self.rate
        if self._round_t is None:
            self._round_t = now - gap
        due = int(np.floor((now - self._round_t) / gap + 1e-6))  # epoch seconds: no arange end tricks
        times = self._round_t + gap * np.arange(1, due + 1)
        if len(times):
            self._round_t = float(times[-1])
        n = len(self.ids)
        values = np.concatenate([self.values(t) for t in times]) if len(times) else np.zeros(0)
        return pa.table(
            {
                "sensor": pa.array(self.ids * len(times), pa.string()),
                "ts": pa.array(np.repeat(np.round(times * 1000), n).astype(np.int64)),
                "value": pa.array(values, pa.float64()),
            }
        )

    def step(self, now: float | None = None) -> dict[str, Any]:
        # a load test (rate set) floods on purpose: the sensors' rate limits are for outside feeds
        return self.service.ingest(self.readings(now) if self.rate is None else self.rounds(now), rate_limit=False)

    def start(self, period_s: float = 1.0) -> None:
        """Feed the service from a daemon thread every ``period_s`` (0.1 s when a rate is set)."""
        if self.rate is not None:
            period_s = min(period_s, 0.1)

        def run() -> None:
            while not self._stop.wait(period_s):
                self.step()

        self._thread = threading.Thread(target=run, daemon=True, name="risk-simulator")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
