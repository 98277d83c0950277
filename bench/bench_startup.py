"""Start-up of the ``twin`` command, in fresh processes, against bare Python in the same run.

- ``python -c pass``: the floor every command pays;
- ``python -c "import pyvista"``: what the core's scene model costs to import;
- ``twin --version``: target <= 0.3 s (the ratio to the floor is printed too);
- ``twin info FILE.ifc --json`` served from the IFC cache: target wall time <= the load time it
  reports (``seconds``) + 0.5 s, i.e. imports and start-up <= 0.5 s.

Each figure is the best of ``REPEAT`` runs, alternated so a busy machine slows them alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import report

ROOT = Path(__file__).resolve().parent.parent
IFC = ROOT / "data_samples" / "ifc" / "IfcOpenHouse_IFC4.ifc"
REPEAT = int(os.environ.get("BENCH_REPEAT", 5))
CLI = (sys.executable, "-m", "twin.faces.cli")


def wall(argv: tuple[str, ...], env: dict[str, str]) -> tuple[float, str]:
    """Seconds one process takes from start to exit, and its standard output."""
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return seconds, done.stdout


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "CIM_TWIN_CACHE": cache, "PYTHONPATH": str(ROOT)}
        info = (*CLI, "info", str(IFC), "--json")
        wall(info, env)  # fills the cache
        runs: dict[str, list[float]] = {"pass": [], "pyvista": [], "version": [], "info": [], "load": []}
        for _ in range(REPEAT):
            runs["pass"].append(wall((sys.executable, "-c", "pass"), env)[0])
            runs["pyvista"].append(wall((sys.executable, "-c", "import pyvista"), env)[0])
            runs["version"].append(wall((*CLI, "--version"), env)[0])
            seconds, out = wall(info, env)
            runs["info"].append(seconds)
            runs["load"].append(float(json.loads(out)["seconds"]))
    best = {name: min(values) for name, values in runs.items()}
    print(f"python -c pass: {best['pass']:.3f} s; import pyvista: {best['pyvista']:.3f} s")
    report("twin --version vs python -c pass", best["version"], best["pass"])
    print(
        f"  twin --version: {best['version']:.3f} s  target <= 0.3 s: {'met' if best['version'] <= 0.3 else 'NOT met'}"
    )
    report("twin --version vs import pyvista", best["version"], best["pyvista"])
    overhead = min(i - s for i, s in zip(runs["info"], runs["load"], strict=True))
    report(f"twin info {IFC.name} (cached) vs its load time", best["info"], best["load"])
    print(f"  start-up beyond the load: {overhead:.3f} s  target <= 0.5 s: {'met' if overhead <= 0.5 else 'NOT met'}")


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    main()
