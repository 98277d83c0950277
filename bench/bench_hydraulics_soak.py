"""Soak: 1,000 consecutive what-if runs on the demo (isolation with hydraulics in the EPANET worker,
every tenth a flood nowcast in the SWMM worker raising the live risk), with the memory (RSS) and
open file handles (/proc/PID/fd) of this process and of its workers at the start and the end.

Target (issue #15 item 7): no growth: RSS end/start about 1, open handles end - start 0.  Figures
after a warm-up of 20 runs (the workers start, the models are read, caches fill).  Linux only.

    .venv/bin/python bench/bench_hydraulics_soak.py [RUNS]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from twin.hydraulics.live import NowcastLoop  # noqa: E402
from twin.hydraulics.whatif import what_if  # noqa: E402
from twin.loading import load  # noqa: E402
from twin.networks import networks_of  # noqa: E402

WARM_UP = 20
STORM = [(0.0, 60.0)]


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it (the worker servers and their children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:  # it ended meanwhile
            continue
    return out


def usage() -> dict[str, Any]:
    """RSS (MiB) and open file handles of this process and of its workers (summed over them)."""
    me = os.getpid()
    rss = {"self": 0.0, "workers": 0.0}
    fds = {"self": 0, "workers": 0}
    for p in tree(me):
        part = "self" if p == me else "workers"
        try:
            with open(f"/proc/{p}/statm", encoding="ascii") as f:
                rss[part] += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
            fds[part] += len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            continue
    return {"rss_mb": rss, "fds": fds}


def soak(runs: int, every_nowcast: int = 10) -> dict[str, Any]:
    """Run ``runs`` what-ifs (every ``every_nowcast``-th a nowcast) after the warm-up; usage before and after."""
    from twin.risk.service import RiskService

    twin = load(ROOT / "scenes" / "demo.toml")
    water = next(r for r in networks_of(twin) if r.name == "water")
    pipes = [str(s) for s, k in zip(water.graph.segment_ids, water.graph.segment_columns["kind"]) if k == "pipe"]
    with tempfile.TemporaryDirectory() as tmp:
        risk = RiskService.from_twin(twin, store_path=Path(tmp) / "soak.duckdb").open()
        loop = NowcastLoop(twin, risk, forecast=lambda: STORM)
        statuses: dict[str, int] = {}

        def one(i: int) -> None:
            if i % every_nowcast == every_nowcast - 1:
                status = loop.run_once()["status"]
            else:
                result = what_if(twin, pipes[i % len(pipes)], network="water", hydraulic=True)
                status = result.get("hydraulic", {}).get("status", "topological")
            statuses[status] = statuses.get(status, 0) + 1

        for i in range(WARM_UP):
            one(i)
        before, started = usage(), time.perf_counter()
        statuses.clear()
        for i in range(runs):
            one(i)
        elapsed = time.perf_counter() - started
        after = usage()
        risk.close()
    return {"runs": runs, "seconds": elapsed, "before": before, "after": after, "statuses": statuses}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    out = soak(runs)
    b, a = out["before"], out["after"]
    print(f"soak: {runs} what-ifs (1 in 10 a nowcast) in {out['seconds']:.1f} s", flush=True)
    print(f"  {out['runs'] / out['seconds']:.1f} runs/s; answers {out['statuses']}")
    for part in ("self", "workers"):
        ratio = a["rss_mb"][part] / b["rss_mb"][part] if b["rss_mb"][part] else float("nan")
        print(
            f"  {part:8s} RSS {b['rss_mb'][part]:8.1f} -> {a['rss_mb'][part]:8.1f} MiB (end/start {ratio:.3f});"
            f" open handles {b['fds'][part]} -> {a['fds'][part]} ({a['fds'][part] - b['fds'][part]:+d})"
        )


if __name__ == "__main__":
    main()
