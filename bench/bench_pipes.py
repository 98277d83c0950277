"""Pipes: merged tube geometry for 100,000 generated segments against numpy's cost of the same
vertex arrays (target: within 3x), VTK's tube filter for reference, the whole builder from parsed
rows, and the isolation query on the largest real network (ky4.inp)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pyvista as pv
from common import best_time, peak_rss_mb, report

import twin
from loaders.pipes.build import build
from loaders.pipes.model import Link, NetworkData, Node, Problems
from loaders.pipes.tubes import SIDES, tube_mesh
from twin.networks import isolate

N = 100_000
VERTICES = 3  # per segment: two ends and one bend
ROOT = Path(__file__).resolve().parent.parent


def polylines(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n random three-vertex polylines in a 5 km square, 1-3 m deep, DN100-DN600."""
    rng = np.random.default_rng(7)
    start = rng.uniform(0, 5000, (n, 3)) * [1, 1, 0] + [385_000, 3_548_000, 8.0]
    steps = rng.normal(0, 30, (n, VERTICES - 1, 3)) * [1, 1, 0.01]
    points = np.concatenate([start[:, None], start[:, None] + np.cumsum(steps, axis=1)], axis=1).reshape(-1, 3)
    return points, np.arange(0, n * VERTICES + 1, VERTICES), rng.uniform(0.05, 0.3, n)


def raw_arrays(points: np.ndarray, offsets: np.ndarray, radius: np.ndarray):
    """numpy's floor: the same ring points and quads, with one fixed ring and no frames."""
    angle = np.linspace(0, 2 * np.pi, SIDES, endpoint=False)
    ring = np.column_stack([np.cos(angle), np.sin(angle), np.zeros(SIDES)])
    r = np.repeat(radius, np.diff(offsets))
    rings = (points[:, None, :] + r[:, None, None] * ring[None]).reshape(-1, 3)
    starts = np.zeros(len(points), dtype=bool)
    starts[offsets[:-1]] = True
    edge = np.flatnonzero(~starts[1:])
    k = np.arange(SIDES)
    base = (edge * SIDES)[:, None]
    quads = np.stack([base + k, base + (k + 1) % SIDES, base + SIDES + (k + 1) % SIDES, base + SIDES + k], axis=-1)
    return rings, quads.reshape(-1, 4)


def vtk_tube_filter(points: np.ndarray, offsets: np.ndarray) -> pv.PolyData:
    """One vtkTubeFilter call over all the lines (constant radius): VTK's own way, for reference."""
    lines = np.insert(np.arange(len(points)).reshape(-1, VERTICES), 0, VERTICES, axis=1).ravel()
    mesh = pv.PolyData(points, lines=lines)
    return mesh.tube(radius=0.1, n_sides=SIDES, capping=False)


def parsed_rows(n: int) -> NetworkData:
    """What a parser hands the builder: n links over a grid of nodes."""
    side = int(math.sqrt(n)) + 2
    data = NetworkData(path=Path("generated"), format="bench", network="water")
    for i in range(side * side):
        data.nodes[f"J{i}"] = Node(f"J{i}", 385_000 + (i % side) * 50.0, 3_548_000 + (i // side) * 50.0, ground=10.0)
    for k in range(n):
        a = k % (side * (side - 1))
        data.links.append(
            Link(
                f"P{k}",
                f"J{a}",
                f"J{a + side if k % 2 else a + 1}",
                diameter=0.2,
                length=50.0,
                vertices=[(385_010.0 + (a % side) * 50.0, 3_548_010.0 + (a // side) * 50.0)],
            )
        )
    return data


def bench_tubes() -> None:
    points, offsets, radius = polylines(N)
    raw, (rings, quads) = best_time(lambda: raw_arrays(points, offsets, radius))
    ours, (mesh, owner) = best_time(lambda: tube_mesh(points, offsets, radius))
    assert mesh.n_points == len(rings) and mesh.n_cells == len(quads)
    report(f"tube mesh, {N:,} segments ({mesh.n_cells:,} quads) vs numpy arrays", ours, raw, target=3.0)
    vtk, _ = best_time(lambda: vtk_tube_filter(points, offsets), repeat=1)
    report(f"tube mesh, {N:,} segments vs one vtkTubeFilter call", ours, vtk)


def bench_builder() -> None:
    data = parsed_rows(N)
    points, offsets, radius = polylines(N)
    raw, _ = best_time(lambda: raw_arrays(points, offsets, radius), repeat=1)
    started = time.perf_counter()
    loaded = build(data, {}, Problems(data, {}, strict_default=True))
    ours = time.perf_counter() - started
    assert len(loaded.parts[0].assets) == N
    report(f"builder (heights, tubes, glyphs, assets, graph), {N:,} links vs numpy arrays", ours, raw)


def bench_isolation() -> None:
    path = ROOT / "data_samples" / "pipes" / "ky4.inp"
    graph = twin.load(path).sources[0].extras["networks"]["water"]
    keys = sorted(k for _, _, k in graph.edges(keys=True))[::58]
    raw, _ = best_time(lambda: list(nx.connected_components(nx.Graph(graph))))
    cold, _ = best_time(lambda: (graph.graph.pop("_areas", None), isolate(graph, keys[0], "N-1")))
    report(
        f"isolation on ky4 ({graph.number_of_edges():,} pipes), first query (valve areas built) "
        "vs one networkx connected-components pass",
        cold,
        raw,
    )
    warm, _ = best_time(lambda: [isolate(graph, key, "N-1") for key in keys])
    report(
        f"isolation on ky4, each further query ({warm / len(keys) * 1000:.1f} ms) vs the same pass",
        warm / len(keys),
        raw,
    )


def main() -> None:
    bench_tubes()
    bench_builder()
    bench_isolation()
    print(f"peak RSS {peak_rss_mb():.0f} MB", flush=True)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    main()
