"""``twin tile`` on Dask: a generated megacity tiled on 1 and 2 worker processes.

Raw baseline: the same scene loaded by the project's loaders alone in one process (``twin.load``),
the least any tiler of it must do.  Prints the tiler's time against it, buildings per second on
1 and 2 workers, the parallel efficiency from 1 to 2 workers (target >= 0.8), the peak memory of
any worker (target <= 4 GB at a million buildings) and the time extrapolated to 1,000,000
buildings (target <= 20 minutes on 2 cores).

    python bench/bench_tiling.py [BUILDINGS]     (default 20,000; 100,000 for the issue's figure)
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import report

ROOT = Path(__file__).resolve().parent.parent
MAKE_CITY = ROOT / "data_samples" / "megacity" / "make_city.py"
TILE_SIZE = 256.0


def make_scene(folder: Path, buildings: int) -> Path:
    """A megacity of ``buildings`` buildings and a pipe network per utility, and its manifest."""
    subprocess.run(
        [sys.executable, MAKE_CITY, folder, "--buildings", str(buildings), "--pipes", str(max(400, buildings // 10)),
         "--addresses", "1000", "--sensors", "10", "--risk-sources", "10", "--grids", "10"],
        check=True, capture_output=True,
    )  # fmt: skip
    city = json.loads((folder / "city.json").read_text())
    x, y, z = city["centre"]
    sources = [("buildings", "buildings.city.jsonl", ""), ("water", "pipes_water.geojson", "water")]
    sources.append(("gas", "pipes_gas.geojson", "gas"))
    text = "".join(
        f'[[sources]]\nname = "{name}"\npath = "{folder / file}"\n'
        + (f'options = {{ network = "{net}" }}\n' if net else "")
        for name, file, net in sources
    )
    manifest = folder / "city.toml"
    manifest.write_text(f'name = "Bench city"\ncrs = "EPSG:4549"\norigin = [{x}, {y}, {z}]\n{text}', encoding="utf-8")
    return manifest


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tile(manifest: Path, out: Path, workers: int) -> tuple[float, dict, float]:
    """Seconds of a fresh build on ``workers`` processes, its counts and the largest worker peak (MB)."""
    from distributed import Client, LocalCluster

    from twin.tiling import BuildOptions, build_tileset

    shutil.rmtree(out, ignore_errors=True)
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: None)  # workers up before the clock starts
        started = time.perf_counter()
        result = build_tileset(manifest, out, BuildOptions(client=client, tile_size=TILE_SIZE))
        seconds = time.perf_counter() - started
        peak = max(client.run(_peak_mb).values())
    assert result.ok, result.failures
    return seconds, result.counts, peak


def main() -> None:
    buildings = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 20_000
    import twin

    with tempfile.TemporaryDirectory(prefix="bench-tiling-") as temp:
        folder = Path(temp)
        started = time.perf_counter()
        manifest = make_scene(folder / "city", buildings)
        print(f"generated {buildings:,} buildings in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        twin.load(manifest)
        raw = time.perf_counter() - started
        one, counts, peak_one = tile(manifest, folder / "one", 1)
        two, _, peak_two = tile(manifest, folder / "two", 2)
    print(f"counts: {counts}", flush=True)
    report("tiling on 1 worker vs the loaders alone (1 process)", one, raw)
    report("tiling on 2 workers vs the loaders alone (1 process)", two, raw)
    efficiency = one / two / 2
    print(f"throughput: {buildings / one:,.0f} buildings/s on 1 worker, {buildings / two:,.0f} on 2", flush=True)
    met = "met" if efficiency >= 0.8 else "NOT met"
    print(f"parallel efficiency 1 -> 2 workers: {efficiency:.2f}  target >= 0.8: {met}", flush=True)
    print(f"peak worker memory: {peak_one:,.0f} MB (1 worker), {peak_two:,.0f} MB (2 workers)")
    million = two * 1_000_000 / buildings
    print(f"1,000,000 buildings extrapolated (linear, 2 workers): {million / 60:.1f} min  target <= 20: "
          f"{'met' if million <= 1200 else 'NOT met'}", flush=True)  # fmt: skip


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    main()
