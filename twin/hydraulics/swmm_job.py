"""The drainage job a worker runs: SWMM (through pyswmm) over a rainfall forecast.

Run by :mod:`twin.workers` by module name from this folder, never imported by the twin: the
SWMM engine is global to its process (one model at a time) and native, so each nowcast runs
in a forked child.  The model is copied into a private folder first (SWMM writes its report
and output beside the input).  Arguments and results are plain JSON.
"""

from __future__ import annotations

import bisect
import importlib
import os
import shutil
import tempfile
from datetime import timedelta
from typing import Any

#: cubic metres per cubic foot: SWMM reports volumes in ft³ for US flow units
M3_PER_FT3 = 0.028316846592
US_UNITS = ("CFS", "GPM", "MGD")


def warm() -> None:
    """Import the engine once in the fork server, so children start with it loaded."""
    importlib.import_module("pyswmm")


def rain_at(series: list[list[float]], t: float) -> float:
    """The forecast intensity in force at ``t`` seconds (a step series; 0 before its start)."""
    i = bisect.bisect_right([row[0] for row in series], t) - 1
    return float(series[i][1]) if i >= 0 else 0.0


def nowcast(model: dict[str, Any]) -> dict[str, Any]:
    """Run ``model["inp"]`` for ``horizon_s`` with the rain gauge ``gauge`` (every gauge when
    none is named) following ``rain`` and report, per node that floods: the first time it floods,
    the volume and the duration."""
    pyswmm = importlib.import_module("pyswmm")
    with tempfile.TemporaryDirectory(prefix="cim-twin-swmm-") as tmp:
        inp = os.path.join(tmp, "model.inp")
        shutil.copyfile(model["inp"], inp)
        with pyswmm.Simulation(inp) as sim:
            if model.get("hotstart"):
                sim.use_hotstart(model["hotstart"])
            sim.end_time = sim.start_time + timedelta(seconds=float(model["horizon_s"]))
            sim.step_advance(int(model["step_s"]))
            gauges, nodes = list(pyswmm.RainGages(sim)), list(pyswmm.Nodes(sim))
            if model.get("gauge"):
                gauges = [g for g in gauges if g.raingageid == model["gauge"]]
                if not gauges:
                    raise ValueError(f"the SWMM model has no rain gauge {model['gauge']!r}")
            first: dict[str, float] = {}
            for _ in sim:
                t = (sim.current_time - sim.start_time).total_seconds()
                for gauge in gauges:
                    gauge.total_precip = rain_at(model["rain"], t)
                for node in nodes:
                    if node.flooding > 0 and node.nodeid not in first:
                        first[node.nodeid] = t
            scale = M3_PER_FT3 if str(sim.flow_units).upper() in US_UNITS else 1.0
            stats = {n.nodeid: n.statistics for n in nodes if n.nodeid in first}
    return {
        "nodes": [
            {
                "id": node,
                "first_flood_s": t,
                "volume_m3": round(float(stats[node]["flooding_volume"]) * scale, 3),
                "duration_s": round(float(stats[node]["flooding_duration"]) * 3600.0, 1),
            }
            for node, t in sorted(first.items(), key=lambda item: item[1])
        ]
    }
