"""Core: the asset table and one merged layer for 100,000 box assets, against numpy's own
cost of concatenating the same per-asset arrays (target: within 3x); and memory per asset."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pyvista as pv
from common import best_time, report

from twin.assets import STR, AssetTable
from twin.layer import LayerPart
from twin.scene import Twin
from twin.source import LoadedSource
from twin.synthetic import box_arrays

N = 100_000
FAR = np.array([385_000.0, 3_548_000.0, 10.0])


def per_asset_inputs(n: int) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """What a loader typically holds before merging: one small points and faces array per asset."""
    rng = np.random.default_rng(1)
    centres = FAR + rng.uniform(0, 2000, (n, 3)) * [1, 1, 0.01]
    points, faces = box_arrays(centres, np.full((n, 3), 10.0))
    local_faces = box_arrays(np.zeros((1, 3)), np.ones((1, 3)))[1]
    return list(points.reshape(n, 8, 3)), [local_faces] * n, np.char.add("box-", np.arange(n).astype(str))


def raw(points, faces, ids):
    """numpy alone: concatenate the arrays, offset the face indices, keep the ids."""
    merged_points = np.concatenate(points)
    offsets = np.repeat(np.arange(len(faces)) * 8, 30)
    connectivity = np.concatenate(faces)
    mask = np.ones(30, dtype=bool)
    mask[::5] = False
    connectivity[np.tile(mask, len(faces))] += offsets.reshape(-1, 30)[:, mask].ravel()
    return merged_points, connectivity, ids.astype(STR)


def ours(points, faces, ids):
    merged_points, connectivity, id_column = raw(points, faces, ids)
    mesh = pv.PolyData(merged_points, faces=connectivity)
    assets = AssetTable.build(id_column, kind="box")
    part = LayerPart(name="boxes", dataset=mesh, assets=assets, asset_index=np.repeat(np.arange(len(ids)), 6))
    scene = Twin(crs="EPSG:4549")
    scene.add_source(LoadedSource(path=Path("generated"), kind="city", parts=[part]))
    return scene


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20


def memory_per_asset(n: int = 1_000_000) -> float:
    """Resident bytes per asset of a million-row table with the core columns and two attributes."""
    gc.collect()
    before = rss_mb()
    ids = np.char.add("segment-", np.arange(n).astype(str)).astype(STR)
    table = AssetTable.build(
        ids, kind="pipe", name=ids, network="water", attrs={"diameter_m": np.full(n, 0.3), "length_m": np.full(n, 50.0)}
    )
    table.bounds[:] = 0.0
    used = rss_mb() - before
    assert len(table) == n
    return used * 2**20 / n


def main() -> None:
    per_asset = memory_per_asset()  # first, before other work leaves freed memory to reuse
    inputs = per_asset_inputs(N)
    raw_s, _ = best_time(lambda: raw(*inputs))
    ours_s, scene = best_time(lambda: ours(*inputs))
    report(f"asset table + merged layer, {N:,} boxes", ours_s, raw_s, target=3.0)
    print(f"  {len(scene.assets):,} assets, {scene.layers[0].dataset.n_cells:,} cells, {N / ours_s:,.0f} assets/s")
    print(f"memory per asset (1,000,000 rows, core columns + 2 numbers + bounds): {per_asset:.0f} bytes")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
