"""Network queries at 10k/100k/300k segments: isolation and tracing, the first question (which
builds what is kept per network) and every further one, against one whole-network pass of
scipy's connected components in the same run (what any per-question algorithm that walks the
whole network pays at least; the networkx implementation before this one paid several).

Target: after the first question, ``isolate`` and ``trace`` on 300,000 segments <= 50 ms each.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from common import best_time, peak_rss_mb, report

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from twin.networks import STR, PipeNetwork, isolate, trace  # noqa: E402

SIZES = (10_000, 100_000, 300_000)
QUERIES = 20
GOAL = " (target <= 50 ms at 300k) vs one pass"


def street_grid(segments: int) -> PipeNetwork:
    """A square street grid of about ``segments`` pipes fed by a reservoir in one corner, with a
    valve node on every seventh junction (so both valve layers, data and assumed, have work)."""
    side = int(np.sqrt(segments / 2)) + 1
    n = side * side
    i = np.arange(n).reshape(side, side)
    start = np.r_[i[:, :-1].ravel(), i[:-1, :].ravel()]
    end = np.r_[i[:, 1:].ravel(), i[1:, :].ravel()]
    kind = np.full(n, "junction", dtype=object)
    kind[3::7] = "valve"
    kind[0] = "reservoir"
    s = len(start)
    nodes = {
        "id": np.strings.add("J", np.arange(n).astype(STR)),
        "kind": kind.astype(STR),
        "x": (np.arange(n) % side) * 50.0,
        "y": (np.arange(n) // side) * 50.0,
        "z": np.zeros(n),
        "ground": np.zeros(n),
        "demand": np.ones(n),
        "address": np.empty(n, dtype=STR),
    }
    segments_ = {
        "id": np.strings.add("P", np.arange(s).astype(STR)),
        "kind": np.full(s, "pipe", dtype=STR),
        "start": start,
        "end": end,
        "length": np.random.default_rng(1).uniform(20, 80, s),
        "diameter": np.full(s, 0.2),
        "invert_start": np.full(s, np.nan),
        "invert_end": np.full(s, np.nan),
    }
    return PipeNetwork({"name": "water", "kind": "water"}, nodes, segments_)


def one_pass(graph: PipeNetwork) -> int:
    """The raw floor: connected components of the whole network, once."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    n = graph.number_of_nodes()
    matrix = coo_array((np.ones(len(graph.start)), (graph.start, graph.end)), shape=(n, n)).tocsr()
    return int(connected_components(matrix, directed=False)[0])


def per_query(fn, ids: list[str]) -> float:
    started = time.perf_counter()
    for element in ids:
        fn(element)
    return (time.perf_counter() - started) / len(ids)


def bench(size: int) -> None:
    graph = street_grid(size)
    s = graph.number_of_edges()
    raw, _ = best_time(lambda: one_pass(graph))
    picks = np.random.default_rng(size).choice(s, QUERIES + 1, replace=False)
    ids = graph.segment_ids[picks].tolist()
    for strategy in ("N", "N-1"):
        started = time.perf_counter()
        isolate(graph, ids[0], strategy)
        first = time.perf_counter() - started
        report(f"isolate ({strategy}), {s:,} segments, first question (valve areas built) vs one pass", first, raw)
        each = per_query(lambda k, strategy=strategy: isolate(graph, k, strategy), ids[1:])
        report(
            f"isolate ({strategy}), {s:,} segments, each further question ({each * 1000:.1f} ms){GOAL}",
            each,
            raw,
        )
    started = time.perf_counter()
    trace(graph, ids[0], "downstream")
    first = time.perf_counter() - started
    report(f"trace, {s:,} segments, first question (flow directions built) vs one pass", first, raw)
    for direction in ("downstream", "upstream"):
        each = per_query(lambda k, direction=direction: trace(graph, k, direction), ids[1:])
        report(
            f"trace {direction}, {s:,} segments, each further question ({each * 1000:.1f} ms){GOAL}",
            each,
            raw,
        )


def main() -> None:
    for size in SIZES:
        bench(size)
    print(f"peak RSS {peak_rss_mb():.0f} MB", flush=True)


if __name__ == "__main__":
    main()
