"""Pipes: parsing and building networks of 10k/100k/300k segments, and the tube mesh, each
against the raw floor of the same work measured in the same run.

* tube mesh of 100,000 segments vs numpy's cost of the same vertex arrays (target <= 2x), and
  VTK's tube filter for reference;
* the whole builder (heights, tubes, glyphs, assets, graph) from parsed columns vs the numpy
  floor of its arrays (target <= 3x, and <= 2 s at 100,000 segments);
* loading a generated EPANET file vs ``numpy.loadtxt`` of its pipe table, and the same network
  as CSV tables vs the standard library's ``csv.reader`` of both;
* growth curves: each figure at 10k, 100k and 300k segments, so a super-linear step shows.

Isolation and tracing are in bench_networks.py.
"""

from __future__ import annotations

import csv
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyvista as pv
from common import best_time, peak_rss_mb, report

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loaders.pipes import csv as pipes_csv  # noqa: E402
from loaders.pipes import epanet  # noqa: E402
from loaders.pipes.build import build  # noqa: E402
from loaders.pipes.model import STR, LinkTable, NetworkData, NodeTable, Problems  # noqa: E402
from loaders.pipes.tubes import SIDES, tube_mesh  # noqa: E402

SIZES = (10_000, 100_000, 300_000)
VERTICES = 3  # per segment: two ends and one bend


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


def grid(n: int) -> tuple[int, np.ndarray, np.ndarray]:
    """n links over a square grid of nodes: the side, and each link's end node numbers."""
    side = int(math.sqrt(n)) + 2
    k = np.arange(n)
    a = k % (side * (side - 1))
    return side, a, np.where(k % 2 == 1, a + side, a + 1)


def parsed_columns(n: int) -> NetworkData:
    """What a table parser hands the builder: n links over a grid of nodes, one bend each."""
    side, a, b = grid(n)
    nodes = np.arange(side * side)
    data = NetworkData(path=Path("generated"), format="bench", network="water")
    names = np.strings.add("J", nodes.astype(STR))
    data.node_table = NodeTable.make(
        len(nodes),
        id=names,
        x=385_000 + (nodes % side) * 50.0,
        y=3_548_000 + (nodes // side) * 50.0,
        ground=np.full(len(nodes), 10.0),
    )
    bend = np.column_stack([385_010.0 + (a % side) * 50.0, 3_548_010.0 + (a // side) * 50.0])
    data.link_table = LinkTable.make(
        n,
        np.arange(n + 1),
        bend,
        id=np.strings.add("P", np.arange(n).astype(STR)),
        start=names[a],
        end=names[b],
        diameter=np.full(n, 0.2),
        length=np.full(n, 50.0),
    )
    return data


def epanet_text(n: int) -> str:
    """An EPANET file of n pipes over a grid fed by one reservoir, with one vertex per pipe."""
    side, a, b = grid(n)
    nodes = np.arange(side * side)
    lines = ["[TITLE]", "generated", "[JUNCTIONS]"]
    lines += [f" J{i}\t{10 + i % 7}\t{i % 3}" for i in nodes[1:].tolist()]
    lines += ["[RESERVOIRS]", " J0\t50", "[PIPES]"]
    lines += [f" P{k}\tJ{s}\tJ{e}\t164\t8\t100\t0\tOpen" for k, s, e in zip(range(n), a.tolist(), b.tolist())]
    lines += ["[COORDINATES]"] + [f" J{i}\t{(i % side) * 50.0}\t{(i // side) * 50.0}" for i in nodes.tolist()]
    lines += ["[VERTICES]"] + [
        f" P{k}\t{(s % side) * 50.0 + 10}\t{(s // side) * 50.0 + 10}" for k, s in enumerate(a.tolist())
    ]
    lines += ["[OPTIONS]", " Units GPM", "[END]", ""]
    return "\n".join(lines)


def csv_tables(n: int, folder: Path) -> Path:
    """The same grid as segment and node CSV tables (one bend per segment in ``vertices``)."""
    side, a, b = grid(n)
    nodes = np.arange(side * side)
    rows = [f"J{i},{(i % side) * 50.0},{(i // side) * 50.0},,{10 + i % 7}" for i in nodes.tolist()]
    (folder / f"grid{n}.nodes.csv").write_text("id,x,y,kind,elevation\n" + "\n".join(rows) + "\n")
    bends = [f"{(s % side) * 50.0 + 10} {(s // side) * 50.0 + 10}" for s in a.tolist()]
    rows = [f"P{k},J{s},J{e},200,PE,2005,{v}" for k, s, e, v in zip(range(n), a.tolist(), b.tolist(), bends)]
    path = folder / f"grid{n}.csv"
    path.write_text("id,from_node,to_node,diameter,material,install_year,vertices\n" + "\n".join(rows) + "\n")
    return path


def raw_csv(path: Path) -> int:
    """The raw floor of a CSV load: the standard library reading both tables into rows."""
    with path.open(newline="") as links, path.with_name(path.stem + ".nodes.csv").open(newline="") as nodes:
        return len(list(csv.reader(links))) + len(list(csv.reader(nodes)))


def raw_pipe_table(path: Path, n: int) -> np.ndarray:
    """The raw floor of parsing: numpy.loadtxt of the pipe table's numbers alone."""
    with path.open() as handle:
        lines = handle.read().split("[PIPES]\n", 1)[1].split("[", 1)[0]
    return np.loadtxt(lines.splitlines(), usecols=(3, 4, 5), dtype=np.float64)


def bench_tubes(n: int) -> None:
    points, offsets, radius = polylines(n)
    raw, (rings, quads) = best_time(lambda: raw_arrays(points, offsets, radius))
    ours, (mesh, _) = best_time(lambda: tube_mesh(points, offsets, radius))
    assert mesh.n_points == len(rings) and mesh.n_cells == len(quads)
    report(f"tube mesh, {n:,} segments ({mesh.n_cells:,} quads) vs numpy arrays", ours, raw, target=2.0)
    if n == 100_000:
        vtk, _ = best_time(lambda: vtk_tube_filter(points, offsets), repeat=1)
        report(f"tube mesh, {n:,} segments vs one vtkTubeFilter call", ours, vtk)


def bench_builder(n: int) -> None:
    points, offsets, radius = polylines(n)
    raw, _ = best_time(lambda: raw_arrays(points, offsets, radius))

    def run():
        data = parsed_columns(n)
        return build(data, {}, Problems(data, {}, strict_default=True))

    ours, loaded = best_time(run, repeat=2)
    assert len(loaded.parts[0].assets) == n
    report(f"builder (heights, tubes, glyphs, assets, graph), {n:,} links vs numpy arrays", ours, raw, target=3.0)
    print(f"  builder, {n:,} links: {ours:.2f} s (target <= 2 s at 100,000)", flush=True)


def bench_parse(n: int, folder: Path) -> None:
    path = folder / f"grid{n}.inp"
    path.write_text(epanet_text(n))
    raw, _ = best_time(lambda: raw_pipe_table(path, n), repeat=2)
    started = time.perf_counter()
    loaded = epanet.load(path, {})
    ours = time.perf_counter() - started
    assert len(loaded.parts[0].assets) == n
    report(f"EPANET load (parse + build), {n:,} pipes vs numpy.loadtxt of the pipe table", ours, raw)


def bench_csv(n: int, folder: Path) -> None:
    path = csv_tables(n, folder)
    raw, _ = best_time(lambda: raw_csv(path), repeat=2)
    started = time.perf_counter()
    loaded = pipes_csv.load(path, {"network": "water", "diameter_unit": "mm"})
    ours = time.perf_counter() - started
    assert len(loaded.parts[0].assets) == n
    report(f"CSV load (parse + build), {n:,} segments vs csv.reader of both tables", ours, raw)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        for n in SIZES:
            bench_tubes(n)
            bench_builder(n)
            bench_parse(n, Path(folder))
            bench_csv(n, Path(folder))
    print(f"peak RSS {peak_rss_mb():.0f} MB", flush=True)


if __name__ == "__main__":
    main()
