"""Shared by the incident, plan and resource tests: the demo scene with its plans, resources and
streets, a settable clock, and the simulator played on it (failures at once from :data:`T0`)."""

from __future__ import annotations

from pathlib import Path

import twin
from twin.risk.service import RiskService
from twin.risk.simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data_samples" / "demo"
T0 = 1_800_000_000.0  # failures start here, on a cycle boundary (the simulator's phase is now % cycle)
WARM_S, PLAY_S, STEP_S = 300.0, 600.0, 2.0


def demo_scene() -> twin.Twin:
    """The demo district with its [live] plans, resources, streets and grid layers."""
    scene = twin.load(ROOT / "scenes" / "demo.toml")
    scene.live.update(
        plans=DEMO / "plans.toml",
        resources=DEMO / "resources.csv",
        streets=DEMO / "streets.geojson",
        grid_layers=DEMO / "grid_layers.toml",
    )
    return scene


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def play(
    scene: twin.Twin, store: Path, scenarios: tuple[str, ...], until: float = T0 + PLAY_S, clock: Clock | None = None
) -> RiskService:
    """A quiet warm-up (the rate windows fill), then ``scenarios`` at once from T0 until ``until``."""
    clock = clock or Clock(T0 - WARM_S)
    svc = RiskService.from_twin(scene, clock=clock, store_path=store, record_levels=False).open()
    sim = Simulator(svc, clock=clock, cycle_s=PLAY_S, scenarios=(), together=True)
    sim.noise[:] = 0.0  # every alert is a failure's: noise would add alerts of its own
    while clock.t < until:
        sim.scenarios = scenarios if clock.t >= T0 else ()
        sim.step(clock.t)
        svc.tick()
        clock.t += STEP_S
    return svc
