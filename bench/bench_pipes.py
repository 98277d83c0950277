"""Pipes: parsing and building networks of 10k/100k/300k segments, and the tube mesh, each
against the raw floor of the same work measured in the same run.

* tube mesh of 100,000 segments vs numpy's cost of the same vertex arrays (target <= 2x), and
  VTK's tube filter for reference;
* the whole builder (heights, tubes, glyphs, assets, graph) from parsed columns vs the numpy
  floor of the same output (target <= 3x, and <= 2 s at 100,000 segments): link ends found
  among the node ids, the tube's ring points and quads, and the node glyphs (``raw_builder``;
  until #20 the floor was the tube arrays alone, still printed), measured in interleaved rounds;
* loading a generated EPANET file vs ``numpy.loadtxt`` of its pipe table, and the same network
  as CSV tables vs the standard library's ``csv.reader`` of both;
* growth curves: each figure at 10k, 100k and 300k segments, so a super-linear step shows.

Isolation and tracing are in bench_networks.py.  ``--sizes 100000 --only builder`` runs one figure.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyvista as pv
from common import best_time, peak_rss_mb, report

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loaders.pipes import csv as pipes_csv  # noqa: E402
from loaders.pipes import epanet  # noqa: E402
from loaders.pipes.build import build  # noqa: E402
from loaders.pipes.model import STR, LinkTable, NetworkData, NodeTable, Problems  # noqa: E402
from loaders.pipes.tubes import SHAPES, SIDES, tube_mesh  # noqa: E402

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


def bench_tubes(n: int, folder: Path) -> None:
    points, offsets, radius = polylines(n)
    raw, (rings, quads) = best_time(lambda: raw_arrays(points, offsets, radius))
    ours, (mesh, _) = best_time(lambda: tube_mesh(points, offsets, radius))
    assert mesh.n_points == len(rings) and mesh.n_cells == len(quads)
    report(f"tube mesh, {n:,} segments ({mesh.n_cells:,} quads) vs numpy arrays", ours, raw, target=2.0)
    if n == 100_000:
        vtk, _ = best_time(lambda: vtk_tube_filter(points, offsets), repeat=1)
        report(f"tube mesh, {n:,} segments vs one vtkTubeFilter call", ours, vtk)


def raw_builder(data: NetworkData) -> tuple[np.ndarray, ...]:
    """numpy's floor of the builder's arrays, from the same parsed columns.

    The builder's output is the tube mesh, the node glyphs and the link ends as node rows (the
    asset and graph columns are those arrays or the parsed ones): here the ends are found by
    packing the ids into 64-bit integers (one sort, one binary search), each link's polyline is
    its start node, its one bend and its end node at a fixed height, the tube is ``raw_arrays``
    (a fixed ring, no frames), and every node is one octahedron.  No checks, heights, frames,
    lengths or asset columns: a floor.
    """
    nodes, links = data.tables()
    assert int(np.strings.str_len(nodes["id"]).max()) <= 8  # the generated ids pack into one word
    codes = nodes["id"].astype("S8").view(np.uint64)
    order = np.argsort(codes)
    known = codes[order]

    def rows(names: np.ndarray) -> np.ndarray:
        return order[np.searchsorted(known, names.astype("S8").view(np.uint64))]

    start, end = rows(links["start"]), rows(links["end"])
    xy = np.column_stack([nodes["x"], nodes["y"]])
    line = np.stack([xy[start], links.vertex_xy, xy[end]], axis=1).reshape(-1, 2)
    points = np.column_stack([line, np.full(len(line), 8.0)])
    radius = links["diameter"] / 2
    rings, quads = raw_arrays(points, np.arange(0, len(points) + 1, VERTICES), radius)
    template, faces = SHAPES["octahedron"]
    centres = np.column_stack([xy, np.full(len(xy), 8.0)])
    glyph_points = template[None] * 0.16 + centres[:, None, :]
    glyph_faces = faces[None] + (np.arange(len(xy)) * len(template))[:, None, None]
    return start, end, rings, quads, glyph_points, glyph_faces


def interleaved(calls: dict[str, Callable[[], Any]], repeat: int = 5) -> dict[str, tuple[float, Any]]:
    """Best wall time of each call over ``repeat`` rounds that run them one after another, and its
    last result: on a shared machine the load then changes for all of them alike."""
    best = {name: (float("inf"), None) for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            seconds, result = best_time(call, repeat=1)
            best[name] = (min(best[name][0], seconds), result)
    return best


def bench_builder(n: int, folder: Path) -> None:
    data = parsed_columns(n)
    points, offsets, radius = polylines(n)
    times = interleaved(
        {
            "floor": lambda: raw_builder(data),
            "tubes": lambda: raw_arrays(points, offsets, radius),
            "ours": lambda: build(data, {}, Problems(data, {}, strict_default=True)),
        }
    )
    (raw, floor), (tubes_alone, _), (ours, loaded) = times["floor"], times["tubes"], times["ours"]
    tubes, glyphs = loaded.parts[0], loaded.parts[1]
    assert len(tubes.assets) == n and tubes.dataset.n_cells == len(floor[3])
    assert glyphs.dataset.n_points == floor[4].size // 3
    name = f"builder (heights, tubes, glyphs, assets, graph), {n:,} links"
    report(f"{name} vs numpy floor of the same arrays", ours, raw, target=3.0)
    report(f"{name} vs numpy tube arrays alone (part of its output)", ours, tubes_alone)
    print(f"  builder, {n:,} links: {ours:.2f} s (target <= 2 s at 100,000)", flush=True)


def bench_parse(n: int, folder: Path) -> None:
    path = folder / f"grid{n}.inp"
    path.write_text(epanet_text(n))
    times = interleaved({"raw": lambda: raw_pipe_table(path, n), "ours": lambda: epanet.load(path, {})}, repeat=2)
    (raw, _), (ours, loaded) = times["raw"], times["ours"]
    assert len(loaded.parts[0].assets) == n
    report(f"EPANET load (parse + build), {n:,} pipes vs numpy.loadtxt of the pipe table", ours, raw)


def bench_csv(n: int, folder: Path) -> None:
    path = csv_tables(n, folder)
    options = {"network": "water", "diameter_unit": "mm"}
    times = interleaved({"raw": lambda: raw_csv(path), "ours": lambda: pipes_csv.load(path, options)}, repeat=2)
    (raw, _), (ours, loaded) = times["raw"], times["ours"]
    assert len(loaded.parts[0].assets) == n
    report(f"CSV load (parse + build), {n:,} segments vs csv.reader of both tables", ours, raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="segment counts, comma-separated")
    parser.add_argument("--only", default=",".join(BENCHES), help=f"benches to run, of {', '.join(BENCHES)}")
    args = parser.parse_args()
    only = args.only.split(",")
    with tempfile.TemporaryDirectory() as folder:
        for n in (int(size) for size in args.sizes.split(",")):
            for name in only:
                BENCHES[name](n, Path(folder))
    print(f"peak RSS {peak_rss_mb():.0f} MB", flush=True)


BENCHES = {"tubes": bench_tubes, "builder": bench_builder, "parse": bench_parse, "csv": bench_csv}


if __name__ == "__main__":
    main()
