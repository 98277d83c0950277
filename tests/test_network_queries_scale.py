"""Network queries: the same answers as before they were made proportional to their answer, and
correct at city scale.

``expected/network_queries.json`` holds, per real network (data_samples/pipes and the demo),
one digest per query kind over every segment (``isolate`` with each valve strategy, ``trace``
both ways) and every third node (``trace --node``), as the networkx implementation answered
them before the array rewrite.  ``length_m`` is compared as a total, to 1 mm per answer: the
old trace summed its lengths in the iteration order of a set of strings, so its last decimal
changed with ``PYTHONHASHSEED``.  The scale test checks a generated 300,000-segment network
against an independent breadth-first search (timings are in bench/bench_networks.py).
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, SCENES

import twin
from twin.errors import InputError
from twin.networks import PipeNetwork, default_strategy, isolate, networks_of, trace

EXPECTED = json.loads((Path(__file__).parent / "expected" / "network_queries.json").read_text())
FILES = {
    "Net1.inp": DATA / "pipes" / "Net1.inp",
    "Net3.inp": DATA / "pipes" / "Net3.inp",
    "Anytown.inp": DATA / "pipes" / "Anytown.inp",
    "ky4.inp": DATA / "pipes" / "ky4.inp",
    "Example1.inp": DATA / "pipes" / "Example1.inp",
    "site_drainage_model.inp": DATA / "pipes" / "site_drainage_model.inp",
    "user4.inp": DATA / "pipes" / "user4.inp",
    "DrainageSystem-1-1.xml": DATA / "pipes" / "DrainageSystem-1-1.xml",
    "ky4_pipes.geojson": DATA / "pipes" / "ky4_pipes.geojson",
    "demo.toml": SCENES / "demo.toml",
}


def answer(fn):
    try:
        return fn()
    except InputError as exc:
        return {"error": exc.problem}


def summary(results: list[dict]) -> dict:
    """Digest of the answers without their lengths, their number and the total length."""
    lengths = [r.pop("length_m") for r in results if "length_m" in r]
    text = json.dumps(results, sort_keys=True)
    return {"digest": hashlib.sha256(text.encode()).hexdigest()[:16], "count": len(results), "length_m": sum(lengths)}


def queries(graph: PipeNetwork) -> dict[str, list]:
    keys = sorted(graph.segment_ids.tolist())
    nodes = sorted(graph.node_ids.tolist())[::3]
    out = {}
    strategies = ["N", "N-1"] + (["data"] if default_strategy(graph) == "data" else [])
    for s in strategies:
        out[f"isolate {s}"] = [answer(lambda k=k, s=s: isolate(graph, k, s)) for k in keys]
    for d in ("upstream", "downstream"):
        out[f"trace {d}"] = [answer(lambda k=k, d=d: trace(graph, k, d)) for k in keys]
        out[f"trace node {d}"] = [answer(lambda n=n, d=d: trace(graph, n, d, "node")) for n in nodes]
    return out


@pytest.mark.parametrize("name", list(FILES))
def test_answers_unchanged_on_real_networks(name):
    loaded = twin.load(FILES[name])
    refs = networks_of(loaded)
    assert sorted(f"{name}/{r.name}" for r in refs) == sorted(k for k in EXPECTED if k.startswith(f"{name}/"))
    for ref in refs:
        expected = EXPECTED[f"{name}/{ref.name}"]
        got = {k: summary(v) for k, v in queries(ref.graph).items()}
        assert set(got) == set(expected)
        for kind, mine in got.items():
            before = expected[kind]
            assert (mine["count"], mine["digest"]) == (before["count"], before["digest"]), f"{ref.name}: {kind}"
            assert mine["length_m"] == pytest.approx(before["length_m"], abs=0.001 * mine["count"] + 1e-9)


def grid_network(side: int, valves_every: int = 0) -> PipeNetwork:
    """A side x side street grid fed from one corner (2 * side * (side - 1) segments)."""
    n = side * side
    ids = np.array([f"J{i}" for i in range(n)], dtype=np.dtypes.StringDType())
    kind = np.full(n, "junction", dtype=object)
    kind[0] = "reservoir"
    if valves_every:
        kind[1::valves_every] = "valve"
    i = np.arange(n).reshape(side, side)
    start = np.r_[i[:, :-1].ravel(), i[:-1, :].ravel()]
    end = np.r_[i[:, 1:].ravel(), i[1:, :].ravel()]
    s = len(start)
    nodes = {
        "id": ids,
        "kind": kind.astype(np.dtypes.StringDType()),
        "x": (np.arange(n) % side) * 50.0,
        "y": (np.arange(n) // side) * 50.0,
        "z": np.zeros(n),
        "ground": np.zeros(n),
        "demand": np.ones(n),
        "address": np.empty(n, dtype=np.dtypes.StringDType()),
    }
    segments = {
        "id": np.array([f"P{k}" for k in range(s)], dtype=np.dtypes.StringDType()),
        "kind": np.full(s, "pipe", dtype=np.dtypes.StringDType()),
        "start": start,
        "end": end,
        "length": np.full(s, 50.0),
        "diameter": np.full(s, 0.2),
        "invert_start": np.full(s, np.nan),
        "invert_end": np.full(s, np.nan),
    }
    return PipeNetwork({"name": "water", "kind": "water"}, nodes, segments)


def downstream_by_bfs(graph: PipeNetwork, node: str) -> set[str]:
    """Independently: nodes reachable from ``node`` walking away from the reservoir (grid distance)."""
    side = int(np.sqrt(len(graph.node_ids)))
    start = int(node[1:])
    seen, queue = {start}, deque([start])
    while queue:
        v = queue.popleft()
        r, c = divmod(v, side)
        for w in ((r + 1) * side + c if r + 1 < side else -1, r * side + c + 1 if c + 1 < side else -1):
            if w >= 0 and w not in seen:
                seen.add(w)
                queue.append(w)
    return {f"J{v}" for v in seen}


@pytest.mark.slow
def test_queries_at_city_scale():
    graph = grid_network(388)  # 300,312 segments
    assert graph.number_of_edges() > 300_000
    result = trace(graph, "J100000", "downstream", "node")
    assert set(result["nodes"]) == downstream_by_bfs(graph, "J100000")
    iso = isolate(graph, "P5", "N-1")
    assert "P5" in iso["isolated_segments"] and not iso["contains_source"]
    again = isolate(graph, "P150000", "N")
    assert again["isolated_segments"] == ["P150000"] and len(again["valves"]) == 2
