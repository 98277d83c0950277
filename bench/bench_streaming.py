"""City streaming (twin.streaming, ``twin serve DIR``) on a generated city, each figure beside a raw
baseline measured in the same run:

* reading a tile: ours (``read_content``) vs pygltflib's parse of the same GLB (plus its positions);
* frame time of the streamed city at the overview vs the demo district, same window size;
* p95 time after a jump across the city until the new view's first tiles are merged (vs one merge);
* recolouring 1,000,000 assets on the merged meshes vs a bare numpy fancy-index write of the same size;
* with ``--browser``: ``twin serve DIR`` start to first frame in headless Chromium (vs the demo
  district's), and the serving process's memory at the overview and at street level.

Usage: ``python bench/bench_streaming.py [--side 200] [--levels 6] [--browser]``.  Generated data
(tests/tileset_builder.py) is for scale only; the figures are ratios.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from common import best_time, report  # noqa: E402
from tileset_builder import build_city  # noqa: E402

from twin.streaming import Budget, Camera, CityStream, read_content, read_tileset  # noqa: E402
from twin.streaming.merge import colour_by_rows  # noqa: E402

DEMO = ROOT / "scenes" / "demo.toml"
SIZE = (1280, 800)
JUMPS = 20


def bench_reader(folder: Path) -> None:
    import pygltflib

    tiles = sorted((folder / "tiles").glob("b_*.glb"), key=lambda p: -p.stat().st_size)[:20]

    def ours() -> int:
        return sum(len(read_content(t, np.eye(4))[0].points) for t in tiles)

    def raw() -> int:
        n = 0
        for t in tiles:
            gltf = pygltflib.GLTF2.load_binary(str(t))
            blob = gltf.binary_blob()
            accessor = gltf.accessors[gltf.meshes[0].primitives[0].attributes.POSITION]
            view = gltf.bufferViews[accessor.bufferView]
            n += len(np.frombuffer(blob, np.float32, accessor.count * 3, view.byteOffset).reshape(-1, 3))
        return n

    t_ours, _ = best_time(ours)
    t_raw, _ = best_time(raw)
    report(f"read {len(tiles)} tiles (ours: positions, indices, features, rows) vs pygltflib parse", t_ours, t_raw)


def overview_camera(stream: CityStream) -> Camera:
    lo, hi = stream.tileset.box[0, :3], stream.tileset.box[0, 3:]
    centre, size = (lo + hi) / 2, float(np.linalg.norm(hi - lo))
    return Camera(tuple(centre + np.array([-0.5, -0.65, 0.55]) * size), tuple(centre), width=SIZE[0], height=SIZE[1])


def settle(stream: CityStream) -> None:
    for _ in range(12):
        stream.plan()
        if not stream.cache.busy and not stream.selections["v"].missing:
            return
        stream.cache.wait()


def frame_seconds(twin, camera: Camera | None, cull: bool = True) -> float:
    """Seconds per offscreen frame while the camera turns a little (llvmpipe, no AA); ``cull`` False
    draws back faces too, as the views did before single-sided tiles."""
    from twin.faces.rendering import build_view

    scene = build_view(twin, off_screen=True, size=SIZE)
    if not cull:
        for actor in scene.actors.values():
            actor.GetProperty().SetBackfaceCulling(False)
    if camera is not None:
        scene.plotter.camera.position, scene.plotter.camera.focal_point = camera.position, camera.focal_point
        scene.plotter.reset_camera_clipping_range()
    scene.plotter.render()

    def orbit() -> None:
        for _ in range(10):
            scene.plotter.camera.Azimuth(2)
            scene.plotter.ren_win.Render()

    seconds, _ = best_time(orbit, repeat=2)
    scene.plotter.close()
    return seconds / 10


def bench_frames_and_jumps(folder: Path, budget: Budget) -> None:
    from twin.loading import load

    stream = CityStream(folder, budget=budget)
    camera = overview_camera(stream)
    stream.set_camera("v", camera)
    settle(stream)
    twin = stream.twin()
    for layer, mesh in zip(twin.layers, stream.assemble()):
        layer.dataset.ShallowCopy(mesh)
    status = stream.status([layer.dataset for layer in twin.layers])
    print(f"   overview: {status.text()}; cache {stream.cache.nbytes / 2**20:.0f} MiB", flush=True)
    city_frame = frame_seconds(twin, camera)
    demo_frame = frame_seconds(load(DEMO), None)
    report(
        f"frame at the overview ({status.triangles:,} triangles) vs the demo district, {SIZE[0]}x{SIZE[1]}",
        city_frame,
        demo_frame,
    )
    report("the same overview frame, back faces culled vs drawn", city_frame, frame_seconds(twin, camera, cull=False))

    rng = np.random.default_rng(3)
    lo, hi = stream.tileset.box[0, :2], stream.tileset.box[0, 3:5]
    waits, merges = [], []
    for _ in range(JUMPS):
        x, y = lo + rng.random(2) * (hi - lo)
        jump = Camera((x - 60, y - 60, 40.0), (x, y, 5.0), width=SIZE[0], height=SIZE[1])
        before = set(stream.drawn)
        started = time.perf_counter()
        stream.set_camera("v", jump)
        while True:
            stream.plan()
            if set(stream.drawn) - before or not stream.selections["v"].missing:
                break
            time.sleep(0.002)
        merged = time.perf_counter()
        stream.assemble()
        waits.append(time.perf_counter() - started)
        merges.append(time.perf_counter() - merged)
        settle(stream)
    report(
        f"jump across the city -> new tiles merged, p95 of {JUMPS}",
        float(np.percentile(waits, 95)),
        float(np.median(merges)),
    )
    print(f"   (p50 {np.median(waits) * 1000:.0f} ms; the app adds up to one poll, 250 ms, and one render)", flush=True)
    stream.close()


def bench_recolour(n_assets: int = 1_000_000, n_cells: int = 2_000_000) -> None:
    import pyvista as pv

    from twin.risk.colours import level_colors

    rng = np.random.default_rng(5)
    index = rng.integers(0, n_assets, n_cells).astype(np.int32)
    mesh = pv.PolyData(np.zeros((n_cells, 3), np.float32))  # vertex cells: n_cells cells to colour
    mesh.point_data["asset_index"] = index
    levels = rng.integers(0, 5, n_assets).astype(np.int8)
    per_asset = level_colors(levels, np.array([200, 200, 200], np.uint8))
    out = np.zeros((n_cells, 3), np.uint8)
    colour_by_rows(mesh, "risk_rgb", per_asset, np.zeros(3, np.uint8))

    def ours() -> None:
        per = level_colors(levels, np.array([200, 200, 200], np.uint8))  # 1 M assets' colours
        colour_by_rows(mesh, "risk_rgb", per, np.zeros(3, np.uint8))  # ... onto 2 M elements

    def raw() -> None:
        out[:] = per_asset[index]

    t_ours, _ = best_time(ours, repeat=5)
    t_raw, _ = best_time(raw, repeat=5)
    report(
        f"recolour {n_assets:,} assets on {n_cells:,} cells (goal <= 100 ms: "
        f"{'met' if t_ours <= 0.1 else 'NOT met'}) vs a bare fancy-index write",
        t_ours,
        t_raw,
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def first_frame(args: tuple[str, ...], street: str | None = None) -> dict[str, float]:
    """``twin serve ARGS`` in headless Chromium: seconds from the start to the "serving" line and to a
    drawn view, and the serving process's RSS (MB) at the serving line, at the overview (3 s after the
    first frame) and at street level (8 s after flying to ``street``, an asset id)."""
    from browser_support import browser, drawn_share, serve, view_pixels

    shot = Path(tempfile.gettempdir()) / "bench_streaming_view.png"
    out = {"serving": float("nan"), "rss_serving": float("nan"), "street": float("nan")}
    started = time.perf_counter()
    with serve(*args) as served, browser() as chromium:
        page = chromium.new_page(viewport={"width": SIZE[0], "height": SIZE[1]})
        page.goto(served.url)
        while not any("serving" in line for line in served.log) and time.perf_counter() - started < 180:
            time.sleep(0.02)
        out["serving"], out["rss_serving"] = time.perf_counter() - started, rss_mb(served.process.pid)
        page.get_by_test_id("scene-name").wait_for(timeout=120_000)
        deadline = time.monotonic() + 180
        # a city's budget-limited overview may cover little of the view: any drawing counts
        while drawn_share(view_pixels(page, shot)) < 0.005 and time.monotonic() < deadline:
            time.sleep(0.05)
        out["first"] = time.perf_counter() - started
        time.sleep(3)
        out["overview"] = rss_mb(served.process.pid)
        if street:
            page.get_by_test_id("search").locator("input").fill(street)
            page.get_by_role("option").first.click(timeout=30_000)
            page.keyboard.press("Escape")
            time.sleep(8)
            print(f"   street level: {page.get_by_test_id('status-city').inner_text()}", flush=True)
            out["street"] = rss_mb(served.process.pid)
        return out


def bench_serving(folder: Path, street: str) -> None:
    city = first_frame((str(folder),), street=street)
    demo = first_frame((str(DEMO),))
    report("twin serve DIR start -> first frame in Chromium vs the demo district", city["first"], demo["first"])
    report("twin serve DIR start -> the 'serving' line vs the demo district", city["serving"], demo["serving"])
    print(
        f"   serving process memory: at the serving line {city['rss_serving']:.0f} MB, overview {city['overview']:.0f}"
        f" MB, street level {city['street']:.0f} MB (demo district {demo['overview']:.0f} MB)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=200, help="buildings per side of the generated city")
    parser.add_argument("--levels", type=int, default=6)
    parser.add_argument("--browser", action="store_true", help="also time twin serve in headless Chromium")
    parser.add_argument("--folder", type=Path, help="reuse (or write) the generated city here")
    parser.add_argument("--street", default="B00000", help="an asset id to fly to for street level")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench-city-"))
    if not (folder / "tileset.json").exists():
        started = time.perf_counter()
        info = build_city(folder, side=args.side, levels=args.levels, spacing=25.0)
        print(
            f"   generated {info['buildings']:,} buildings, {info['tiles']:,} tiles, {info['triangles']:,} leaf"
            f" triangles in {time.perf_counter() - started:.0f} s ({folder})",
            flush=True,
        )
    print(f"   {len(read_tileset(folder)):,} tiles in the tileset", flush=True)
    bench_reader(folder)
    bench_frames_and_jumps(folder, Budget())
    bench_recolour()
    if args.browser:
        bench_serving(folder, args.street)


if __name__ == "__main__":
    main()
