"""Network analyses: isolation checked independently, tracing, nearby assets, and the commands."""

from __future__ import annotations

import itertools
import json
from collections import deque

import numpy as np
import pytest
from conftest import DATA, SCENES

import twin
from twin.errors import InputError
from twin.faces.cli import main
from twin.networks import isolate, segment_index, set_valve_state, sources, trace, valve_layer, valves_on

PIPES = DATA / "pipes"


@pytest.fixture(scope="module")
def demo() -> twin.Twin:
    return twin.load(SCENES / "demo.toml")


def graph_of(name: str, network: str | None = None):
    loaded = twin.load(PIPES / name)
    graphs = loaded.sources[0].extras["networks"]
    return graphs[network] if network else next(iter(graphs.values()))


def fed_segments(graph, closed: set[tuple[str, str]]) -> set[str]:
    """Independently: segments reachable from a source when these (link, node) valves are shut."""
    touching: dict[str, list[str]] = {}
    for u, v, key in graph.edges(keys=True):
        for end in {u, v}:
            if (key, end) not in closed:
                touching.setdefault(end, []).append(key)
    ends = {key: (u, v) for u, v, key in graph.edges(keys=True)}
    seen_nodes, seen_links = set(sources(graph)), set()
    queue = deque(seen_nodes)
    while queue:
        for key in touching.get(queue.popleft(), []):
            if key in seen_links:
                continue
            seen_links.add(key)
            for end in ends[key]:
                if (key, end) not in closed and end not in seen_nodes:
                    seen_nodes.add(end)
                    queue.append(end)
    return seen_links


def closed_pairs(valves) -> set[tuple[str, str]]:
    return {(v["link"], v["node"]) for v in valves}


def check_isolation(graph, segment: str, strategy: str, subsets: bool) -> dict:
    result = isolate(graph, segment, strategy)
    valves = result["valves"]
    if result["contains_source"]:
        return result
    closed = closed_pairs(valves)
    fed = fed_segments(graph, closed)
    assert segment not in fed, "closing the valves must cut the segment off"
    assert set(result["segments"]) == set(segment_index(graph)) - fed
    for valve in valves:  # leave any one open and the segment is fed again
        assert segment in fed_segments(graph, closed - {(valve["link"], valve["node"])})
    if subsets:
        for size in range(len(valves)):
            for subset in itertools.combinations(valves, size):
                assert segment in fed_segments(graph, closed_pairs(subset))
    return result


@pytest.mark.parametrize("strategy", ["N", "N-1"])
@pytest.mark.parametrize("name", ["Net1.inp", "Anytown.inp"])
def test_isolation_on_small_networks_is_minimal(name, strategy):
    graph = graph_of(name)
    for _, _, key in sorted(graph.edges(keys=True), key=lambda e: e[2]):
        result = check_isolation(graph, key, strategy, subsets=True)
        assert result["valves_assumed"] and all(v["assumed"] for v in result["valves"])


@pytest.mark.parametrize("strategy", ["N", "N-1"])
def test_isolation_on_ky4(strategy):
    graph = graph_of("ky4.inp")
    keys = sorted(k for _, _, k in graph.edges(keys=True))
    for key in keys[::37]:
        check_isolation(graph, key, strategy, subsets=False)


def test_valve_layers_count():
    graph = graph_of("Net3.inp")
    degree_sum = sum(d for _, d in graph.degree())
    assert len(valve_layer(graph, "N")) == degree_sum
    assert len(valve_layer(graph, "N-1")) == degree_sum - sum(1 for _, d in graph.degree() if d > 0)


def test_isolation_with_data_valves_in_the_demo(demo):
    graph = demo.sources[[s.name for s in demo.sources].index("water")].extras["networks"]["water"]
    result = check_isolation(graph, "W-P002", None, subsets=True)
    assert result["strategy"] == "data" and not result["valves_assumed"]
    assert sorted(v["id"] for v in result["valves"]) == ["W-V001", "W-V002"]
    assert result["segments"] == ["W-P002"]


def test_isolating_the_feed_takes_out_the_district(demo):
    graph = demo.sources[[s.name for s in demo.sources].index("water")].extras["networks"]["water"]
    result = isolate(graph, "W-P000")
    assert result["contains_source"]
    assert len(result["segments"]) == graph.number_of_edges()


def test_isolation_needs_a_source():
    with pytest.raises(twin.InputError, match="no source"):
        isolate(graph_of("Example1.inp"), "1")


def test_trace_drainage_follows_the_inverts():
    graph = graph_of("Example1.inp")
    up = trace(graph, "18", "upstream", "node")
    assert len(up["segments"]) == graph.number_of_edges()  # everything drains to the one outfall
    down = trace(graph, "9", "downstream", "node")
    assert down["ends"] == ["18"] and down["basis"] == "inverts"
    for key in down["segments"]:
        u, v = segment_index(graph)[key]
        data = graph.edges[u, v, key]
        assert data["invert_start"] >= data["invert_end"]


def test_trace_supply_away_from_the_sources():
    graph = graph_of("Net1.inp")
    down = trace(graph, "9", "downstream", "node")
    assert {"9", "10"} <= set(down["segments"]) and down["basis"] == "distance from sources"
    up = trace(graph, "31", "upstream", "node")
    assert set(up["ends"]) & {"9", "2"}


def test_trace_demo_drainage_reaches_the_outfall(demo):
    graph = demo.sources[[s.name for s in demo.sources].index("drainage")].extras["networks"]["drainage"]
    down = trace(graph, "D-M01", "downstream", "node")
    assert down["ends"] == ["D-OUT"]
    assert len(trace(graph, "D-OUT", "upstream", "node")["segments"]) == graph.number_of_edges()


def run_json(capsys, *args) -> dict:
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_isolate_command_lists_buildings(capsys):
    result = run_json(capsys, "isolate", str(SCENES / "demo.toml"), "W-P002", "--json")
    assert [v["id"] for v in result["valves"]] == ["W-V001", "W-V002"]
    assert result["buildings"] and all(b["segment"] == "W-P002" for b in result["buildings"])
    assumed = run_json(capsys, "isolate", str(SCENES / "demo.toml"), "W-P002", "--valves", "N", "--json")
    assert assumed["valves_assumed"] and len(assumed["valves"]) == 2


def test_trace_command(capsys):
    result = run_json(capsys, "trace", str(PIPES / "Example1.inp"), "9", "--downstream", "--node", "--json")
    assert result["ends"] == ["18"]


def test_nearby_finds_the_gas_power_crossing(capsys, demo):
    result = run_json(capsys, "nearby", str(SCENES / "demo.toml"), "E-C1", "--radius", "0.6", "--json")
    violation = {v["id"]: v for v in result["violations"]}
    assert "G-P006" in violation and violation["G-P006"]["required_m"] == 0.5
    # independently: the duct (DN150, 0.7 m cover) crosses the DN150 gas main (0.9 m cover) 0.2 m above it
    a = demo.assets
    gas, power = a.index_of("G-P006"), a.index_of("E-C1")
    gap = a.bounds[power, 4] - a.bounds[gas, 5]  # duct bottom minus main top
    assert violation["G-P006"]["clearance_m"] == pytest.approx(gap, abs=0.01)
    assert all(p["network"] != "power" or p["id"] == "E-C2" for p in result["pipes"])


def test_nearby_buildings_by_box_distance(capsys, demo):
    result = run_json(capsys, "nearby", str(SCENES / "demo.toml"), "W-P002", "--radius", "30", "--json")
    buildings = [x for x in result["assets"] if x["kind"] == "Building"]
    assert buildings
    a = demo.assets
    pipe = a.bounds[a.index_of("W-P002")]
    for item in buildings:
        box = a.bounds[a.index_of(item["id"])]
        gap = np.maximum(np.maximum(box[0::2] - pipe[1::2], pipe[0::2] - box[1::2]), 0)
        assert item["distance_m"] >= np.linalg.norm(gap) - 0.2  # the pipe's box bounds its centre line


def test_unknown_id_is_a_clear_error(capsys):
    assert main(["isolate", str(PIPES / "Net1.inp"), "nope"]) == 2
    assert "no segment or node with id 'nope'" in capsys.readouterr().err


def test_a_valve_that_cannot_close_moves_the_isolation_outwards(demo):
    graph = demo.sources[[s.name for s in demo.sources].index("water")].extras["networks"]["water"]
    segment = "W-P002"
    before = isolate(graph, segment)
    stuck = before["valves"][0]["id"]
    set_valve_state(graph, stuck, operable=False)
    try:
        after = isolate(graph, segment)
        assert stuck not in {v["id"] for v in after["valves"]}
        assert set(before["isolated_segments"]) < set(after["isolated_segments"])
        check_isolation(graph, segment, "data", subsets=False)
    finally:
        set_valve_state(graph, stuck, operable=True)
    assert isolate(graph, segment) == before
    assert [v.id for v in valves_on(graph, segment)] == [v.id for v in valve_layer(graph) if v.link == segment]
    with pytest.raises(InputError, match="no valve 'nope'"):
        set_valve_state(graph, "nope", operable=False)
