"""Hydraulic consequences of a closure (twin.hydraulics), checked against WNTR on real networks.

Ground truth: the valve-bounded areas of our N and N-1 valve layers equal WNTR's own
``valve_segments`` on the same layers for every segment of Net3, ky4 and BWSN_Network_2, and
the pressures after a closure equal a bare WNTR/EPANET run of the same closure (0.1 m).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import DATA, SCENES, twin_cli

from twin.hydraulics import Engine, HydraulicSettings, closure_consequences, consequences
from twin.hydraulics.engine import Model
from twin.hydraulics.service import node_positions
from twin.hydraulics.whatif import what_if
from twin.loading import load
from twin.networks import PipeNetwork, isolate, networks_of, trace, valve_areas, valve_table

wntr = pytest.importorskip("wntr")

PIPES = DATA / "pipes"
NET3, KY4, BWSN2 = PIPES / "Net3.inp", PIPES / "ky4.inp", PIPES / "BWSN_Network_2.inp"
SETTINGS = HydraulicSettings()
#: ky4's P-408 with its valve at J-1 seized: the isolation grows to cut off J-1, J-2 and J-34
BURST, SEIZED = "P-408", "V-P-408-J-1"


def network(path: Path) -> PipeNetwork:
    return networks_of(load(path))[0].graph


@pytest.fixture(scope="module")
def ky4() -> Any:
    return load(SCENES / "ky4.toml")


# -- ground truth: valve segments -------------------------------------------------------------


def wntr_partition(path: Path, graph: PipeNetwork, strategy: str) -> tuple[np.ndarray, np.ndarray]:
    """WNTR's segment number of each of our nodes and segments, on our valve layer."""
    import pandas as pd

    table = valve_table(graph, strategy)
    layer = pd.DataFrame(
        {"link": graph.segment_ids[table.segment].tolist(), "node": graph.node_ids[table.node].tolist()}
    )
    wn = wntr.network.WaterNetworkModel(str(path))
    node_seg, link_seg, _ = wntr.metrics.valve_segments(wn.to_graph(), layer)
    return node_seg[graph.node_ids.tolist()].to_numpy(), link_seg[graph.segment_ids.tolist()].to_numpy()


def same_partition(ours: np.ndarray, theirs: np.ndarray) -> int:
    """Elements whose group differs between two labellings (0: the same partition)."""
    pairs = np.unique(np.c_[ours, theirs], axis=0)
    one_to_one = len(pairs) == len(np.unique(ours)) == len(np.unique(theirs))
    return 0 if one_to_one else len(pairs) - len(np.unique(ours))


@pytest.mark.parametrize("strategy", ["N", "N-1"])
@pytest.mark.parametrize(
    "path", [NET3, KY4, pytest.param(BWSN2, marks=pytest.mark.slow)], ids=lambda p: getattr(p, "stem", p)
)
def test_valve_segments_equal_wntrs(path: Path, strategy: str) -> None:
    graph = network(path)
    wn = wntr.network.WaterNetworkModel(str(path))
    assert (graph.number_of_nodes(), graph.number_of_edges()) == (wn.num_nodes, wn.num_links)
    areas = valve_areas(graph, strategy)
    node_seg, link_seg = wntr_partition(path, graph, strategy)
    ours = np.r_[areas.node_area, areas.segment_area]
    theirs = np.r_[node_seg, link_seg]
    assert same_partition(ours, theirs) == 0
    # and each isolation's own section is exactly WNTR's segment of that pipe
    for row in range(0, graph.number_of_edges(), max(1, graph.number_of_edges() // 200)):
        segment = str(graph.segment_ids[row])
        result = isolate(graph, segment, strategy)
        expected = graph.segment_ids[link_seg == link_seg[row]]
        assert sorted(result["isolated_segments"]) == sorted(expected.tolist()), segment


# -- ground truth: pressures -----------------------------------------------------------------


def bare_pressures(path: Path, closed: list[str], tmp: Path) -> dict[str, float]:
    """WNTR's EPANET run of the same closure, written out by hand."""
    wn = wntr.network.WaterNetworkModel(str(path))
    opts = wn.options
    opts.hydraulic.demand_model = "PDD"
    opts.hydraulic.required_pressure = SETTINGS.service_m
    opts.hydraulic.minimum_pressure = 0.0
    opts.time.duration = 0
    for name in closed:
        wn.get_link(name).initial_status = wntr.network.LinkStatus.Closed
    for name, control in list(wn.controls()):  # a closed valve stays closed: no pump control reopens it
        if any(isinstance(o, wntr.network.Link) and o.name in closed for o in control.requires()):
            wn.remove_control(name)
    results = wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=str(tmp / "bare"))
    pressure = results.node["pressure"].iloc[0]
    return {j: float(pressure[j]) for j in wn.junction_name_list}


@pytest.mark.parametrize(("path", "segment"), [(NET3, "101"), (NET3, "329"), (KY4, BURST), (KY4, "P-900")])
def test_pressures_after_a_closure_equal_a_bare_wntr_run(path: Path, segment: str, tmp_path: Path) -> None:
    graph = network(path)
    model = Model(path, SETTINGS.service_m)
    result = closure_consequences(graph, segment, model, SETTINGS)
    assert result["hydraulic"]["status"] == "ok", result["hydraulic"]
    assert result["closed_links"]
    bare = bare_pressures(path, result["closed_links"], tmp_path)
    ours = result["hydraulic"]["pressure_m"]
    assert ours.keys() == bare.keys()
    isolated = set(result["nodes"])
    diff = max(abs(ours[j] - bare[j]) for j in bare if j not in isolated)
    assert diff <= 0.1


# -- the consequences ------------------------------------------------------------------------


def test_a_closure_reports_pressure_unserved_demand_and_pipes(ky4: Any) -> None:
    ref = networks_of(ky4)[0]
    result = what_if(ky4, BURST, inoperable=[SEIZED])
    h = result["hydraulic"]
    assert h["status"] == "ok"
    assert result["inoperable"] == [SEIZED]
    cut = {j["id"] for j in h["junctions_below"] if j["isolated"]}
    assert cut == {"J-1", "J-2", "J-34"} == set(result["nodes"])
    assert h["unserved_lps"] > 0 and set(h["customers_affected"]) >= cut
    assert all(j["deficit_m"] > 0 for j in h["junctions_below"])
    assert all(p["reversed"] or p["ratio"] is None or p["ratio"] > 2 for p in h["pipes"])
    assert not {p["id"] for p in h["pipes"]} & set(result["segments"])
    # the seized valve was marked for that question only
    assert isolate(ref.graph, BURST)["valves"] != result["valves"]


def test_an_inoperable_valve_grows_the_isolation_to_the_next_ring(ky4: Any) -> None:
    plain = what_if(ky4, BURST, hydraulic=False)
    seized = what_if(ky4, BURST, hydraulic=False, inoperable=[SEIZED])
    assert SEIZED in {v["id"] for v in plain["valves"]}
    assert SEIZED not in {v["id"] for v in seized["valves"]}
    assert set(plain["segments"]) < set(seized["segments"])
    assert seized["length_m"] > plain["length_m"]


def buildings_near(tmp_path: Path, places: dict[str, dict[str, str]]) -> Path:
    """ky4's scene plus a CityJSON of small boxes, one per entry, 5 m east of the named junction."""
    ky4 = load(SCENES / "ky4.toml")
    ref = networks_of(ky4)[0]
    xy = node_positions(ky4, ref)
    objects, vertices = {}, []
    for i, (node, attributes) in enumerate(places.items()):
        x, y = xy[ref.graph.node_row(node)] + (5.0, 0.0)
        base = len(vertices)
        vertices += [[x + dx, y + dy, z] for z in (0.0, 10.0) for dx, dy in ((0, 0), (4, 0), (4, 4), (0, 4))]
        b, t = [base + k for k in range(4)], [base + 4 + k for k in range(4)]
        faces = [[b[::-1]], [t], *[[[b[k], b[(k + 1) % 4], t[(k + 1) % 4], t[k]]] for k in range(4)]]
        solid = {"type": "Solid", "lod": "1", "boundaries": [faces]}
        objects[f"B{i}"] = {"type": "Building", "attributes": attributes, "geometry": [solid]}
    doc = {
        "type": "CityJSON",
        "version": "1.1",
        "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/32616"},
        "transform": {"scale": [0.001, 0.001, 0.001], "translate": [0.0, 0.0, 0.0]},
        "CityObjects": objects,
        "vertices": [[round(c * 1000) for c in v] for v in vertices],
    }
    (tmp_path / "b.city.json").write_text(json.dumps(doc), encoding="utf-8")
    scene = tmp_path / "scene.toml"
    source = (SCENES / "ky4.toml").read_text(encoding="utf-8").replace("../data_samples", str(DATA))
    scene.write_text(f'{source}\n[[sources]]\nname = "buildings"\npath = "{tmp_path / "b.city.json"}"\n', "utf-8")
    return scene


def test_buildings_without_water_list_critical_facilities_first(tmp_path: Path) -> None:
    places = {"J-500": {"function": "office"}, "J-1": {"function": "residential"}, "J-2": {"function": "Hospital"}}
    twin = load(buildings_near(tmp_path, places))
    result = what_if(twin, BURST, inoperable=[SEIZED], settings=HydraulicSettings(reach_m=30.0))
    h = result["hydraulic"]
    assert [b["node"] for b in h["buildings"]] == ["J-2", "J-1"]
    assert h["buildings"][0]["critical"] == "hospital" and all(b["assumed"] for b in h["buildings"])
    assert h["headline"].startswith("2 buildings /") and h["headline"].endswith("1 critical")


def test_a_network_without_a_model_keeps_the_topological_answer(tmp_path: Path) -> None:
    text = (
        (SCENES / "demo.toml")
        .read_text(encoding="utf-8")
        .replace("../data_samples", str(SCENES.parent / "data_samples"))
    )
    bare = tmp_path / "demo.toml"  # the demo without the models of its [hydraulics]
    bare.write_text(text.split("\n[hydraulics]\n")[0], encoding="utf-8")
    twin = load(bare)
    ref = networks_of(twin)[0]
    segment = str(ref.graph.segment_ids[0])
    result = consequences(twin, ref, segment)
    assert result["hydraulic"]["status"] == "unavailable"
    assert result["hydraulic"]["message"].endswith("the result is topological only")
    assert result["valves"] == isolate(ref.graph, segment)["valves"]


class NotConverging(Engine):
    def closure(self, model: Model, links: list[str], timeout_s: float, memory_mb: int | None) -> dict[str, Any]:
        solution = super().closure(model, links, timeout_s, memory_mb)
        solution["closed"]["converged"] = False
        return solution


def test_no_convergence_or_a_failed_run_is_an_answer_and_the_next_run_works() -> None:
    graph = network(KY4)
    model = Model(KY4, SETTINGS.service_m)
    engine = NotConverging()
    try:
        result = closure_consequences(graph, BURST, model, SETTINGS, engine=engine)
        assert result["hydraulic"]["message"] == "hydraulics did not converge; the result is topological only"
        hung = HydraulicSettings(timeout_s=0.001)
        assert closure_consequences(graph, BURST, model, hung, engine=engine)["hydraulic"]["status"] == "failed"
        unreadable = Model(PIPES / "bad_syntax.inp", SETTINGS.service_m)  # WNTR refuses its [FOO] section
        failed = closure_consequences(graph, BURST, unreadable, SETTINGS, engine=engine)["hydraulic"]
        assert failed["status"] == "failed" and failed["message"].startswith("hydraulics failed: ")
        assert closure_consequences(graph, BURST, model, SETTINGS)["hydraulic"]["status"] == "ok"
    finally:
        engine.stop()


def test_the_cli_answers_with_hydraulics() -> None:
    scene = SCENES / "ky4.toml"
    out = twin_cli("isolate", scene, BURST, "--hydraulic", "--json", "--inoperable", SEIZED)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["hydraulic"]["status"] == "ok"
    assert result["hydraulic"]["headline"].endswith("customers without water, 0 critical")
    text = twin_cli("isolate", scene, BURST, "--hydraulic")
    assert "service pressure 0.14 MPa" in text.stdout and "low pressure" in text.stdout


def test_settings_from_a_manifest_table() -> None:
    settings = HydraulicSettings.from_table({"service_pressure_mpa": 0.2, "reach_m": 30})
    assert settings.service_m == pytest.approx(20.394, abs=1e-3)
    from twin.errors import InputError

    with pytest.raises(InputError, match="hydraulics.pressure"):
        HydraulicSettings.from_table({"pressure": 1.0})
    with pytest.raises(InputError, match="must be a float"):
        HydraulicSettings.from_table({"velocity_factor": "fast"})


# -- drainage and the API --------------------------------------------------------------------


def test_a_gravity_segment_is_isolated_by_plugs_with_its_upstream_bypassed() -> None:
    twin = load(SCENES / "swmm_example1.toml")
    result = what_if(twin, "8")
    assert [(v["kind"], v["node"], v["end"]) for v in result["valves"]] == [
        ("plug", "22", "upstream"),
        ("plug", "16", "downstream"),
    ]
    bypass = result["bypass"]
    upstream = trace(networks_of(twin)[0].graph, "8", "upstream")
    assert set(bypass["segments"]) == set(upstream["segments"]) - {"8"}
    assert bypass["length_m"] == pytest.approx(upstream["length_m"] - result["length_m"], abs=1e-3)
    out = twin_cli("isolate", SCENES / "swmm_example1.toml", "8")
    assert out.returncode == 0, out.stderr
    assert "PLUG-8-22 (upstream)" in out.stdout and "pump from manhole 22 to 16" in out.stdout


def test_the_api_route_answers_a_what_if(ky4: Any) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from twin.faces.api import network_routes

    async def ask() -> tuple[dict[str, Any], int]:
        app = web.Application()
        app.add_routes(network_routes(ky4))
        async with TestClient(TestServer(app)) as client:
            good = await client.get(f"/api/networks/isolate/{BURST}", params={"inoperable": SEIZED})
            bad = await client.get("/api/networks/isolate/no-such-pipe")
            return await good.json(), bad.status

    answer, status = asyncio.run(ask())
    assert answer["hydraulic"]["status"] == "ok" and answer["inoperable"] == [SEIZED]
    assert status == 400


def test_many_what_ifs_leave_no_open_files_or_processes_behind() -> None:
    graph = network(NET3)
    model = Model(NET3, SETTINGS.service_m)
    engine = Engine()
    segments = [str(s) for s in graph.segment_ids[graph.segment_columns["kind"] == "pipe"]]
    try:
        closure_consequences(graph, segments[0], model, SETTINGS, engine=engine)
        fds = len(os.listdir("/proc/self/fd"))
        for segment in segments[:40]:
            assert closure_consequences(graph, segment, model, SETTINGS, engine=engine)["hydraulic"]["status"] == "ok"
        assert len(os.listdir("/proc/self/fd")) == fds
    finally:
        engine.stop()


# -- every network the engines' packages ship --------------------------------------------------

NODE_SECTIONS, LINK_SECTIONS = ("JUNCTIONS", "RESERVOIRS", "TANKS"), ("PIPES", "PUMPS", "VALVES")


def shipped_networks() -> list[Any]:
    """Every EPANET file the epyt and wntr packages ship as networks (the broken one apart)."""
    import importlib.util

    files = []
    for package, folder in (("epyt", "networks"), ("wntr", "library/networks")):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin:
            files += sorted((Path(spec.origin).parent / folder).rglob("*.inp"))
    return [pytest.param(p, id=f"{p.parent.name}/{p.name}") for p in files if p.name != "Net1broken.inp"]


def counted(path: Path) -> tuple[int, int]:
    """Nodes and links as the file's own sections count them (rows that are not comments)."""
    counts, section = dict.fromkeys(NODE_SECTIONS + LINK_SECTIONS, 0), ""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        text = line.split(";", 1)[0].strip()
        if text.startswith("["):
            section = text.strip("[]").upper()
        elif text and section in counts:
            counts[section] += 1
    return sum(counts[s] for s in NODE_SECTIONS), sum(counts[s] for s in LINK_SECTIONS)


@pytest.mark.slow
@pytest.mark.parametrize("path", shipped_networks())
def test_every_shipped_network_loads_with_the_files_counts(path: Path) -> None:
    graph = network(path)
    assert (graph.number_of_nodes(), graph.number_of_edges()) == counted(path)


def test_the_broken_network_is_one_clean_error_naming_the_file_and_line() -> None:
    epyt = pytest.importorskip("epyt")
    [broken] = Path(epyt.__file__).parent.rglob("Net1broken.inp")
    out = twin_cli("info", broken)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Net1broken.inp: line 24:" in out.stderr


# -- flood nowcast ---------------------------------------------------------------------------


def test_a_storm_forecast_names_the_manholes_that_will_flood_and_when() -> None:
    from twin.hydraulics.nowcast import nowcast

    twin = load(SCENES / "swmm_example1.toml")
    ref = networks_of(twin)[0]
    storm = nowcast(twin, ref, [(0, 3.0)], horizon_s=7200)  # 3 in/h from now (the model's US units)
    assert storm["status"] == "ok" and storm["nodes"]
    first = storm["nodes"][0]
    assert first["id"] in ref.graph and 0 < first["first_flood_s"] <= 7200
    assert first["volume_m3"] > 0 and first["duration_s"] > 0
    assert first["reason"] == f"forecast flooding at {first['id']} in {round(first['first_flood_s'] / 60)} min"
    times = [n["first_flood_s"] for n in storm["nodes"]]
    assert times == sorted(times)
    assert nowcast(twin, ref, [(0, 0.0)])["nodes"] == []
    # the storm arriving in 1.5 h (taken up at the gauge's next 1 h interval) floods an hour later
    later = nowcast(twin, ref, [(0, 0.0), (5400, 3.0)], horizon_s=4 * 3600)["nodes"][0]
    assert (later["id"], later["first_flood_s"]) == (first["id"], first["first_flood_s"] + 3600)


def test_the_snapshot_time_sets_the_demands_expected_and_delivered_alike() -> None:
    engine = Engine()
    try:
        for at_s in (0, 8 * 3600):
            base = engine.closure(Model(NET3, SETTINGS.service_m, at_s=at_s), ["101"], 60.0, 2048)["base"]
            pressure, expected = np.array(base["pressure"]), np.array(base["expected"])
            served = pressure > SETTINGS.service_m + 1
            assert np.abs(expected - np.array(base["delivered"]))[served].max() < 1e-6
    finally:
        engine.stop()
