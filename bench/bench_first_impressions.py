"""First impressions on the demo district, in fresh processes, each against its raw baseline in the same run.

- ``twin isolate`` / ``trace`` / ``nearby`` after the first question (the scene read from the
  scene cache, :mod:`twin.faces.commands.scene_cache`) against the same command loading the
  scene afresh (``TWIN_SCENE_CACHE=off``); target <= 1 s each on a quiet machine;
- ``twin serve`` to its "serving" line, the scene cached against loaded afresh;
- ``twin serve`` to its loading screen (the port answers with the progress page) against the
  "serving" line of the same run: what a browser waits before it sees CIM Twin at all.

Each figure is the best of ``REPEAT`` runs, alternated so a busy machine slows them alike.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import report

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scenes" / "demo.toml"
REPEAT = int(os.environ.get("BENCH_REPEAT", 3))
CLI = (sys.executable, "-m", "twin.faces.cli")
QUERIES = {
    "isolate": ("isolate", str(DEMO), "W-P020"),
    "trace": ("trace", str(DEMO), "W-P020", "--downstream"),
    "nearby": ("nearby", str(DEMO), "W-P020", "--radius", "5"),
}


def wall(argv: tuple[str, ...], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([*CLI, *argv], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def serve(env: dict[str, str]) -> tuple[float, float]:
    """Seconds to the loading screen answering and to the "serving" line of one ``twin serve``."""
    store = Path(tempfile.mkdtemp(prefix="bench-store-")) / "risk.duckdb"
    started = time.perf_counter()
    process = subprocess.Popen(
        [*CLI, "serve", "--port", "0", "--store", str(store)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    screen = serving = float("nan")
    try:
        for line in process.stdout:
            loading = re.search(r"loading \S+: (\S+) shows the progress", line)
            if loading:
                with urllib.request.urlopen(f"http://{loading.group(1)}/", timeout=60) as page:
                    page.read()
                screen = time.perf_counter() - started
            if "serving" in line:
                serving = time.perf_counter() - started
                break
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    return screen, serving


def main() -> None:
    cache = tempfile.mkdtemp(prefix="bench-scene-cache-")
    cached = {**os.environ, "CIM_TWIN_CACHE": cache}
    afresh = {**cached, "TWIN_SCENE_CACHE": "off"}
    wall(QUERIES["isolate"], cached)  # the first question keeps the scene
    best: dict[str, list[float]] = {}
    for _ in range(REPEAT):
        for name, argv in QUERIES.items():
            best.setdefault(f"{name} cached", []).append(wall(argv, cached))
            best.setdefault(f"{name} afresh", []).append(wall(argv, afresh))
        screen, serving = serve(cached)
        best.setdefault("serve screen", []).append(screen)
        best.setdefault("serve cached", []).append(serving)
        best.setdefault("serve afresh", []).append(serve(afresh)[1])
    low = {name: min(times) for name, times in best.items()}
    for name in QUERIES:
        report(f"twin {name} after the first question vs loading afresh", low[f"{name} cached"], low[f"{name} afresh"])
    report("twin serve to 'serving', scene cached vs loaded afresh", low["serve cached"], low["serve afresh"])
    report("twin serve to its loading screen vs to 'serving'", low["serve screen"], low["serve cached"])


if __name__ == "__main__":
    main()
