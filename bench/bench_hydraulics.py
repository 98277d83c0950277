"""Hydraulic what-ifs on real networks, against the bare library in the same run.

* Re-planning with an inoperable valve on ky4 (mark it, isolate again: the valve-bounded areas
  are rebuilt), against WNTR's own ``valve_segments`` on the same valve layer (what computing
  the segments costs the reference library).  Target: <= 1 s per re-plan.
* Consequences of one burst on ky4 and BWSN_Network_2 (14,822 pipes): ours (isolation, the
  closure solved in a warm worker child, the comparison) against a bare WNTR run of the same
  closure (read the file, close the links, EPANET).  Targets: p95 <= 2 s on ky4, <= 10 s on
  BWSN_Network_2, and <= 1.25x the bare run.
* A 2 h flood nowcast on SWMM's user4 model (209 nodes) and on a generated 1,000-node storm
  network (no SWMM model of that size ships with pyswmm, swmm-toolkit or ../shared/data: a
  tree of 999 junctions on a 20 m grid, dynamic wave, one 0.2 ha subcatchment per junction,
  :func:`thousand_node_model`) in its worker, against a bare pyswmm run of the same storm in this
  process; and the run's share of real time (target <= 1/30).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import best_time, report

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from twin.hydraulics import ENGINE, HydraulicSettings, Model, closure_consequences  # noqa: E402
from twin.loading import load  # noqa: E402
from twin.networks import PipeNetwork, isolate, networks_of, set_valve_state, valve_table  # noqa: E402

PIPES = ROOT / "data_samples" / "pipes"
SETTINGS = HydraulicSettings()
BURSTS = 5


def network(path: Path) -> PipeNetwork:
    return networks_of(load(path))[0].graph


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def replanning(graph: PipeNetwork, path: Path, count: int = 20) -> None:
    """Seconds per re-plan (mark a closing valve inoperable, isolate again, mark it back)."""
    import pandas as pd
    import wntr

    rng = np.random.default_rng(4)
    times = []
    for row in rng.choice(graph.number_of_edges(), count, replace=False):
        segment = str(graph.segment_ids[row])
        valve = isolate(graph, segment, "N-1")["valves"][0]["id"]
        started = time.perf_counter()
        set_valve_state(graph, valve, operable=False, strategy="N-1")
        isolate(graph, segment, "N-1")
        times.append(time.perf_counter() - started)
        set_valve_state(graph, valve, operable=True, strategy="N-1")
    table = valve_table(graph, "N-1")
    layer = pd.DataFrame(
        {"link": graph.segment_ids[table.segment].tolist(), "node": graph.node_ids[table.node].tolist()}
    )
    g = wntr.network.WaterNetworkModel(str(path)).to_graph()
    raw, _ = best_time(lambda: wntr.metrics.valve_segments(g, layer), repeat=3)
    report(f"re-plan with an inoperable valve, {path.stem} p95 (target <= 1 s) vs WNTR valve_segments", p95(times), raw)


def bare(path: Path, links: list[str]) -> float:
    """A bare WNTR/EPANET run of the same closure: read, close, solve."""
    import wntr

    started = time.perf_counter()
    wn = wntr.network.WaterNetworkModel(str(path))
    wn.options.hydraulic.demand_model = "PDD"
    wn.options.hydraulic.required_pressure = SETTINGS.service_m
    wn.options.hydraulic.minimum_pressure = 0.0
    wn.options.time.duration = 0
    for name in links:
        wn.get_link(name).initial_status = wntr.network.LinkStatus.Closed
    with tempfile.TemporaryDirectory() as tmp:
        wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=str(Path(tmp) / "bare"))
    return time.perf_counter() - started


def bursts(graph: PipeNetwork, path: Path, target_s: float) -> None:
    model = Model(path, SETTINGS.service_m)
    rng = np.random.default_rng(7)
    pipes = np.flatnonzero(graph.segment_columns["kind"] == "pipe")
    closure_consequences(graph, str(graph.segment_ids[pipes[0]]), model, SETTINGS)  # warm the model's server
    ours, raw = [], []
    for row in rng.choice(pipes, BURSTS, replace=False):
        started = time.perf_counter()
        result = closure_consequences(graph, str(graph.segment_ids[row]), model, SETTINGS)
        ours.append(time.perf_counter() - started)
        assert result["hydraulic"]["status"] == "ok", result["hydraulic"]
        raw.append(bare(path, result["closed_links"]))
    report(f"consequences of one burst, {path.stem} p95 (target <= {target_s:g} s, <= 1.25x)", p95(ours), p95(raw))


def bare_swmm(path: Path, horizon_s: float, intensity: float) -> float:
    """A bare pyswmm run of the same storm (a private copy: SWMM writes beside its input)."""
    import shutil
    from datetime import timedelta

    import pyswmm

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        inp = shutil.copy(path, Path(tmp) / "model.inp")
        with pyswmm.Simulation(str(inp)) as sim:
            sim.end_time = sim.start_time + timedelta(seconds=horizon_s)
            sim.step_advance(300)
            gauges = list(pyswmm.RainGages(sim))
            for _ in sim:
                for gauge in gauges:
                    gauge.total_precip = intensity
    return time.perf_counter() - started


def thousand_node_model(path: Path, n: int = 1000) -> Path:
    """A SWMM storm network of ``n`` nodes (``n - 1`` junctions on a 20 m grid draining along
    their row, then down the first column, to one outfall), in metres; every junction takes a
    0.2 ha subcatchment under RG1."""
    side = int(np.ceil(np.sqrt(n - 1)))
    cells = {i: ((i - 1) % side, (i - 1) // side) for i in range(1, n)}  # junction -> (column, row)
    parent = {i: (i - 1 if x else (i - side if y else 0)) for i, (x, y) in cells.items()}
    depth = {i: 2.0 + 0.002 * (i - 1) for i in cells}
    rows = ["[OPTIONS]", "FLOW_UNITS LPS", "INFILTRATION HORTON", "FLOW_ROUTING DYNWAVE", "ROUTING_STEP 0:00:05"]
    rows += ["START_DATE 01/01/2026", "END_DATE 01/01/2026", "END_TIME 02:00:00", "REPORT_STEP 00:05:00"]
    rows += ["[RAINGAGES]", "RG1 INTENSITY 0:05 1.0 TIMESERIES RAIN", "[TIMESERIES]", "RAIN 0:00 0", "[JUNCTIONS]"]
    rows += [f"J{i} {10.0 - depth[i]:.3f} {depth[i]:.3f} 0 0 0" for i in cells]
    rows += ["[OUTFALLS]", f"J0 {10.0 - depth[1] - 0.1:.3f} FREE NO", "[CONDUITS]"]
    rows += [f"C{i} J{i} J{parent[i]} 20 0.013 0 0 0 0" for i in cells]
    rows += ["[XSECTIONS]"] + [f"C{i} CIRCULAR {0.4 + 0.6 * (x == 0):.1f} 0 0 0 1" for i, (x, _) in cells.items()]
    rows += ["[SUBCATCHMENTS]"] + [f"S{i} RG1 J{i} 0.2 80 40 0.5 0" for i in cells]
    rows += ["[SUBAREAS]"] + [f"S{i} 0.013 0.15 1.5 5 25 OUTLET" for i in cells]
    rows += ["[INFILTRATION]"] + [f"S{i} 75 5 4 7 0" for i in cells]
    rows += ["[COORDINATES]", "J0 -20.0 0.0"] + [f"J{i} {20.0 * x:.1f} {20.0 * y:.1f}" for i, (x, y) in cells.items()]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def flood_nowcast(path: Path, horizon_s: float = 7200.0, intensity: float = 2.0) -> None:
    """The nowcast of ``intensity`` (the model's rainfall units) held for ``horizon_s``, vs bare pyswmm."""
    from twin.hydraulics.nowcast import SWMM, nowcast

    twin = load(path)
    ref = networks_of(twin)[0]
    nowcast(twin, ref, [(0, intensity)], horizon_s)  # start the worker
    ours, result = best_time(lambda: nowcast(twin, ref, [(0, intensity)], horizon_s))
    raw, _ = best_time(lambda: bare_swmm(path, horizon_s, intensity))
    nodes = ref.graph.number_of_nodes()
    label = f"flood nowcast 2 h, {path.stem}: {nodes} nodes, {len(result['nodes'])} flood"
    report(f"{label} vs bare pyswmm", ours, raw)
    print(f"  nowcast share of real time: 1/{horizon_s / ours:.0f} (target <= 1/30)", flush=True)
    SWMM.stop()


def nowcast_only() -> None:
    """The 1,000-node nowcast alone (``bench_hydraulics.py nowcast``)."""
    with tempfile.TemporaryDirectory() as tmp:
        flood_nowcast(thousand_node_model(Path(tmp) / "storm1000.inp"), intensity=60.0)


def main() -> None:
    ky4 = network(PIPES / "ky4.inp")
    replanning(ky4, PIPES / "ky4.inp")
    bursts(ky4, PIPES / "ky4.inp", 2.0)
    bursts(network(PIPES / "BWSN_Network_2.inp"), PIPES / "BWSN_Network_2.inp", 10.0)
    ENGINE.stop()
    flood_nowcast(PIPES / "user4.inp")
    with tempfile.TemporaryDirectory() as tmp:
        flood_nowcast(thousand_node_model(Path(tmp) / "storm1000.inp"), intensity=60.0)


if __name__ == "__main__":
    nowcast_only() if sys.argv[1:] == ["nowcast"] else main()
