"""Point cloud loading against raw laspy / lazrs in the same run, as a growth curve over sizes.

For each size in ``BENCH_SIZES`` (millions of points, default ``1,10,30``) a city-like cloud
(500 m x 500 m, point format 3 with RGB and GPS time, written tile by tile as surveys are, so
the classes' bounds grow chunk after chunk) is generated once as LAS and LAZ into
``$CIM_TWIN_BENCH_CACHE`` (default ``~/.cache/cim-twin/bench``; never committed) and measured:

- full LAS load vs ``laspy.read``: target <= 1.1 (the median ratio of interleaved pairs; at
  1 M points also the instructions of a single-threaded load, counted by valgrind's callgrind,
  which a busy machine does not change);
- full LAZ load vs ``laspy.read`` with the parallel lazrs backend (raw parallel decode): <= 1.05;
- the same loads placed in a scene (``Twin.add_source``) vs the raw read;
- preview of the cloud at the server budget (150,000 points): LAS vs the full LAS load; LAZ,
  first and later, vs the raw full decode: time <= 0.5x (first), <= 0.05x (later), peak memory
  (fresh processes) <= 0.3x;
- throughput lines per size, so a super-linear step shows.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import laspy
import numpy as np
from common import best_time, report

ROOT = Path(__file__).resolve().parent.parent
SIZES = [int(float(v) * 1_000_000) for v in os.environ.get("BENCH_SIZES", "1,10,30").split(",")]
CACHE = Path(os.environ.get("CIM_TWIN_BENCH_CACHE", Path.home() / ".cache" / "cim-twin" / "bench"))
PREVIEW = 150_000
#: bump when the generated clouds change
GENERATOR = "tiles-1"
TILES = 10  # per side: 100 tiles of 50 m
PARALLEL = laspy.LazBackend.LazrsParallel


def cloud(n: int) -> tuple[Path, Path]:
    """The LAS and LAZ of ``n`` points, generated once into the cache folder."""
    las_path, laz_path = CACHE / f"{GENERATOR}-{n}.las", CACHE / f"{GENERATOR}-{n}.laz"
    if not (las_path.exists() and laz_path.exists()):
        CACHE.mkdir(parents=True, exist_ok=True)
        _write(las_path, n, None)
        _write(laz_path, n, PARALLEL)
    return las_path, laz_path


def _write(path: Path, n: int, backend: laspy.LazBackend | None) -> None:
    """Tile after tile (as surveys are stored), classes and RGB; written through a partial file."""
    rng = np.random.default_rng(1)
    header = laspy.LasHeader(point_format=3, version="1.2")
    header.scales, header.offsets = [0.001] * 3, [385_000.0, 3_548_000.0, 0.0]
    partial = path.with_suffix(".partial" + path.suffix)
    per_tile = np.full(TILES * TILES, n // (TILES * TILES))
    per_tile[: n % (TILES * TILES)] += 1
    with laspy.open(partial, mode="w", header=header, laz_backend=backend) as writer:
        for tile, k in enumerate(per_tile):
            ix, iy = divmod(tile, TILES)
            points = laspy.ScaleAwarePointRecord.zeros(int(k), header=header)
            points.x = 385_000 + 50.0 * ix + rng.uniform(0, 50, k)
            points.y = 3_548_000 + 50.0 * iy + rng.uniform(0, 50, k)
            points.z = 10 + rng.gamma(1.5, 6.0, k)
            points.intensity = rng.integers(0, 65535, k, dtype=np.uint16)
            points.classification = rng.choice(np.array([2, 5, 6, 11], dtype=np.uint8), k)
            for name in ("red", "green", "blue"):
                points[name] = rng.integers(0, 65535, k, dtype=np.uint16)
            points.gps_time = np.sort(rng.uniform(0, 1e5, k)) + 1e5 * tile
            writer.write_points(points)
    partial.replace(path)


def ours(path: Path, budget: int | None = None, cache_dir: str | None = None):
    """Our load; a preview (``budget``) kept in ``cache_dir``, or made afresh without one."""
    from loaders.pointcloud import load

    options = {"cache_dir": cache_dir} if cache_dir else {"cache": False}
    return load(path, {"budget": budget or 10**12, **options})


def into_scene(path: Path):
    from twin.scene import Twin

    twin = Twin()
    twin.add_source(ours(path), name="cloud")
    return twin


def raw(path: Path):
    return laspy.read(path, laz_backend=PARALLEL)


PEAK_SCRIPT = """
import sys
sys.path[:0] = [{root!r}, {bench!r}]
import bench_pointcloud as b
import loaders.pointcloud.reading, twin.scene  # imported before the measure: it is of the read alone
def rss(key):
    for line in open('/proc/self/status'):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
path, which = {path!r}, {which!r}
start = rss('VmRSS:')
result = b.raw(path) if which == 'raw' else b.ours(path, b.PREVIEW if which == 'preview' else None)
print(rss('VmHWM:') - start)
"""


def paired(raw_fn, ours_fn, repeat: int) -> tuple[float, float, float, object]:
    """Two functions run alternately (raw, ours, raw, ours...), so a busy shared machine slows
    both alike: the median of the paired ratios, both best times and ours' last result."""
    raws, ourses, result = [], [], None
    for _ in range(repeat):
        raws.append(best_time(raw_fn, repeat=1)[0])
        seconds, result = best_time(ours_fn, repeat=1)
        ourses.append(seconds)
    median = statistics.median(o / r for o, r in zip(ourses, raws, strict=True))
    return median, min(raws), min(ourses), result


CALLGRIND_SCRIPT = """
import sys
sys.path[:0] = [{root!r}]
import laspy
import loaders.pointcloud.read as read
import loaders.pointcloud.reading
from loaders.pointcloud import load
read.MOST_THREADS = 1
if {which!r} == "raw":
    laspy.read({path!r})
elif {which!r} == "ours":
    load({path!r}, {{"budget": 10**12, "cache": False}})
"""


def instructions(path: Path, which: str) -> int:
    """Instructions (valgrind callgrind) of a fresh process that imports everything and then reads
    ``path`` (``raw``, ``ours`` single-threaded, or ``none``: the imports alone)."""
    script = CALLGRIND_SCRIPT.format(root=str(ROOT), path=str(path), which=which)
    with tempfile.TemporaryDirectory() as folder:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/out", sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
        )
    return int(out.stderr.rsplit("refs:", 1)[1].split()[0].replace(",", ""))


def instruction_ratio(path: Path, n: int) -> None:
    """A load-independent ratio of the single-threaded work of a LAS load and of ``laspy.read``."""
    if not shutil.which("valgrind"):
        print("valgrind not installed: no instruction counts")
        return
    none = instructions(path, "none")
    raw_ir, ours_ir = instructions(path, "raw") - none, instructions(path, "ours") - none
    report(f"LAS {n / 1e6:g} M full load vs laspy.read, instructions (1 thread)", ours_ir / 1e6, raw_ir / 1e6, 1.1, "M")


def peak_mb(path: Path, which: str) -> float:
    """Peak resident memory added by one read, measured in a fresh process."""
    script = PEAK_SCRIPT.format(root=str(ROOT), bench=str(ROOT / "bench"), path=str(path), which=which)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def full_loads(n: int, las_path: Path, laz_path: Path, repeat: int) -> dict[str, float]:
    """Full LAS and LAZ loads against the raw reads, interleaved; the ratio printed is the median
    of the paired runs' (the best times beside it); returns the best seconds of each raw read."""
    raws = {}
    for label, path, target in (("LAS", las_path, 1.1), ("LAZ", laz_path, 1.05)):
        median, raw_s, ours_s, loaded = paired(lambda path=path: raw(path), lambda path=path: ours(path), repeat)
        assert loaded.details["points_shown"] == n
        raws[label] = raw_s
        met = "met" if median <= target else "NOT met"
        print(
            f"{label} {n / 1e6:g} M full load vs laspy.read: median paired ratio {median:.2f} of {repeat}  "
            f"target <= {target:g}: {met}; best ours {ours_s:.3f} s vs raw {raw_s:.3f} s (ratio {ours_s / raw_s:.2f})"
        )
        print(f"  throughput: ours {n / ours_s / 1e6:.1f} M points/s, raw {n / raw_s / 1e6:.1f} M points/s")
        median, scene_raw_s, scene_s, _ = paired(
            lambda path=path: raw(path), lambda path=path: into_scene(path), max(1, repeat // 2)
        )
        report(f"{label} {n / 1e6:g} M load + Twin.add_source vs laspy.read (best)", scene_s, scene_raw_s, target)
    return raws


def previews(n: int, las_path: Path, laz_path: Path, raws: dict[str, float], repeat: int) -> None:
    """Previews at the server budget against the full reads measured in the same run."""
    with tempfile.TemporaryDirectory() as kept:
        first_s, loaded = best_time(lambda: ours(laz_path, PREVIEW), repeat=repeat)
        print(f"  {loaded.warnings[0]}; {loaded.details['points_read']:,} points decoded")
        report(f"LAZ {n / 1e6:g} M first preview ({PREVIEW:,}) vs raw full decode", first_s, raws["LAZ"], 0.5)
        ours(laz_path, PREVIEW, kept)
        again_s, loaded = best_time(lambda: ours(laz_path, PREVIEW, kept), repeat=repeat)
        assert loaded.details["preview"] == "cache"
        report(f"LAZ {n / 1e6:g} M later preview (cached) vs raw full decode", again_s, raws["LAZ"], 0.05)
    report(
        f"LAZ {n / 1e6:g} M preview peak memory vs laspy.read",
        peak_mb(laz_path, "preview"),
        peak_mb(laz_path, "raw"),
        0.3,
        unit="MB",
    )
    las_s, _ = best_time(lambda: ours(las_path, PREVIEW), repeat=repeat)
    report(f"LAS {n / 1e6:g} M preview ({PREVIEW:,}) vs laspy.read", las_s, raws["LAS"])
    report(
        f"LAS {n / 1e6:g} M preview peak memory vs laspy.read",
        peak_mb(las_path, "preview"),
        peak_mb(las_path, "raw"),
        unit="MB",
    )


def main() -> None:
    for n in SIZES:
        las_path, laz_path = cloud(n)
        print(
            f"cloud: {n:,} points, point format 3 (RGB, GPS time), {TILES * TILES} tiles; "
            f"LAS {las_path.stat().st_size / 1e6:.0f} MB, LAZ {laz_path.stat().st_size / 1e6:.0f} MB",
            flush=True,
        )
        repeat = 7 if n <= 1_000_000 else 5 if n <= 10_000_000 else 3
        if n == 1_000_000:
            instruction_ratio(las_path, n)
        raws = full_loads(n, las_path, laz_path, repeat)
        report(
            f"LAS {n / 1e6:g} M full load peak memory vs laspy.read",
            peak_mb(las_path, "ours"),
            peak_mb(las_path, "raw"),
            1.5,
            unit="MB",
        )
        previews(n, las_path, laz_path, raws, repeat)


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    main()
