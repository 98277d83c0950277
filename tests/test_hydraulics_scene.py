"""A scene's ``[hydraulics]`` table, the loader's placing of real networks' unplaced nodes, and
the app's account of an isolation (deficit colours, inspector lines), on real data: the demo
district's water supply with its EPANET model (``data_samples/demo/water.inp``), EPANET and
WNTR's own networks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, SCENES

from loaders.pipes.layout import fill_positions
from twin.errors import ManifestError
from twin.hydraulics.settings import SceneHydraulics, scene_hydraulics
from twin.hydraulics.whatif import what_if
from twin.loading import load
from twin.manifest import read_manifest
from twin.networks import networks_of

pytest.importorskip("wntr")

WATER_MODEL = DATA / "demo" / "water.inp"
BURST = "W-P001"  # the ring main by the supply point: the far corner falls below 0.14 MPa


def demo_with(tmp_path: Path, table: str) -> Path:
    """The demo manifest with its own ``[hydraulics]`` table replaced by ``table``."""
    text = (SCENES / "demo.toml").read_text(encoding="utf-8").replace("../data_samples", str(DATA))
    text = text.split("\n[hydraulics]\n")[0]
    path = tmp_path / "demo.toml"
    path.write_text(f"{text}\n[hydraulics]\n{table}\n", encoding="utf-8")
    return path


MODEL = f'models = {{ water = "{WATER_MODEL}" }}'


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> object:
    scene = demo_with(
        tmp_path_factory.mktemp("demo"),
        f'{MODEL}\nreach_m = 100\nvelocity_factor = 3\nservice_nodes = {{ "bldg-003" = "W-J33" }}',
    )
    return load(scene)


# -- the manifest's [hydraulics] table --------------------------------------------------------


def test_a_hydraulics_table_is_read_into_the_scene_settings(tmp_path: Path) -> None:
    swmm = DATA / "pipes" / "Example1.inp"
    scene = demo_with(
        tmp_path,
        f'service_pressure_mpa = 0.2\nreach_m = 30\ninoperable_valves = ["W-V001"]\n{MODEL}\n'
        f'nowcast = {{ model = "{swmm}", rain_gauge = "RG1", horizon_s = 3600 }}',
    )
    hydraulics = SceneHydraulics.from_manifest(read_manifest(scene).hydraulics)
    assert hydraulics.settings.service_pressure_mpa == 0.2 and hydraulics.settings.reach_m == 30
    assert hydraulics.settings.service_m == pytest.approx(20.394, abs=1e-3)
    assert hydraulics.inoperable == ("W-V001",) and hydraulics.models == {"water": WATER_MODEL.resolve()}
    assert hydraulics.nowcast is not None and hydraulics.nowcast.rain_gauge == "RG1"
    assert (hydraulics.nowcast.model, hydraulics.nowcast.horizon_s) == (swmm.resolve(), 3600.0)


@pytest.mark.parametrize(
    ("table", "key", "problem"),
    [
        ("service_pressure_mpa = -1", "hydraulics.service_pressure_mpa", "at least 0"),
        ("service_pressure_mpa = 'high'", "hydraulics.service_pressure_mpa", "must be a number"),
        ("minimum_pressure_mpa = 0.2", "hydraulics.minimum_pressure_mpa", "below the service pressure"),
        ("velocity_factor = 0.5", "hydraulics.velocity_factor", "at least 1"),
        ("pressure = 1.0", "hydraulics", "pressure"),
        ("inoperable_valves = 'W-V001'", "hydraulics.inoperable_valves", "list of valve ids"),
        ("inoperable_valves = [3]", "hydraulics.inoperable_valves[0]", "string"),
        ("service_nodes = { b1 = 7 }", "hydraulics.service_nodes.b1", "string"),
        ("models = { water = 'no-such.inp' }", "hydraulics.models.water", "no-such.inp"),
        ("nowcast = { rain_gauge = 'RG1' }", "hydraulics.nowcast.model", "missing"),
        ("nowcast = { model = 'x.inp', every = 3 }", "hydraulics.nowcast", "every"),
    ],
)
def test_a_bad_hydraulics_value_is_a_manifest_error_naming_its_key(
    tmp_path: Path, table: str, key: str, problem: str
) -> None:
    with pytest.raises(ManifestError, match=problem) as error:
        read_manifest(demo_with(tmp_path, table))
    assert f"key {key}" in str(error.value)


# -- what the table does ------------------------------------------------------------------


def test_a_gis_network_is_solved_with_the_model_the_scene_names(demo) -> None:
    h = what_if(demo, BURST, "water")["hydraulic"]
    assert h["status"] == "ok" and h["engine"].startswith("EPANET")
    below = {j["id"]: j for j in h["junctions_below"]}
    assert {"W-J00", "W-V001", "W-V003"} <= {i for i, j in below.items() if j["isolated"]}
    assert any(not j["isolated"] and 0 < j["deficit_m"] < 1 for j in below.values())  # the far corner, just short
    assert h["pipes"] and all(p["reversed"] or p["ratio"] is None or p["ratio"] > 3 for p in h["pipes"])
    assert h["headline"] == (
        f"{len(h['buildings'])} buildings / {len(h['customers_affected'])} customers without water, "
        f"{sum(1 for b in h['buildings'] if b['critical'])} critical"
    )


def test_a_building_named_in_the_scene_takes_its_stated_node(demo) -> None:
    h = what_if(demo, "W-P070", "water")["hydraulic"]  # next to W-J33, which serves bldg-003 by the table
    stated = [b for b in what_if(demo, BURST, "water")["hydraulic"]["buildings"] if b["id"] == "bldg-003"]
    assert all(not b["assumed"] and b["node"] == "W-J33" for b in stated)
    assert h["status"] == "ok"


def test_valves_the_scene_lists_as_seized_grow_every_isolation(tmp_path: Path) -> None:
    plain = load(demo_with(tmp_path, MODEL))
    seized_dir = tmp_path / "seized"
    seized_dir.mkdir()
    seized = load(demo_with(seized_dir, f'{MODEL}\ninoperable_valves = ["W-V001", "NOT-IN-THIS-NETWORK"]'))
    assert scene_hydraulics(seized).inoperable == ("W-V001", "NOT-IN-THIS-NETWORK")
    before, after = what_if(plain, BURST, "water"), what_if(seized, BURST, "water")
    assert "W-V001" in {v["id"] for v in before["valves"]} and "W-V001" not in {v["id"] for v in after["valves"]}
    assert after["inoperable"] == ["W-V001"] and len(after["segments"]) > len(before["segments"])
    assert after["length_m"] > before["length_m"]


# -- real networks whose nodes the drawing leaves out ------------------------------------


def test_unplaced_nodes_are_interpolated_between_their_placed_neighbours() -> None:
    xy = np.array([[0.0, 0.0], [np.nan, np.nan], [np.nan, np.nan], [30.0, 0.0], [np.nan, np.nan]])
    start, end = np.array([0, 1, 2, 3]), np.array([1, 2, 3, 4])  # a chain 0-1-2-3 and a dead end 3-4
    out = fill_positions(xy, start, end)
    assert np.allclose(out[:4], [[0, 0], [10, 0], [20, 0], [30, 0]])
    assert np.isfinite(out).all() and np.linalg.norm(out[4] - out[3]) > 0  # fanned off its one neighbour


def test_a_network_without_any_coordinates_is_laid_out_apart() -> None:
    xy = np.full((5, 2), np.nan)
    out = fill_positions(xy, np.array([0, 1, 1, 3]), np.array([1, 2, 3, 4]))
    assert np.isfinite(out).all() and len(np.unique(out, axis=0)) == 5
    assert np.allclose(out[1] - out[0], [100.0, 0.0])  # a hop from the first node, at the default spacing


def test_a_drawing_in_millimetres_is_read_in_metres(tmp_path: Path) -> None:
    inp = tmp_path / "mm.inp"
    inp.write_text(
        "[JUNCTIONS]\nJ1 10 1\nJ2 12 1\n[RESERVOIRS]\nR1 50\n[PIPES]\nP1 R1 J1 100 200 100\nP2 J1 J2 100 200 100\n"
        "[COORDINATES]\nR1 417433000 501468000\nJ1 417533000 501468000\nJ2 417633000 501468000\n"
        "[VERTICES]\nP2 417583000 501470000\n[OPTIONS]\nUnits LPS\n[END]\n",
        encoding="utf-8",
    )
    twin = load(inp)
    graph = networks_of(twin)[0].graph
    assert np.allclose(graph.node_columns["x"], [417533.0, 417633.0, 417433.0])
    assert any("read as millimetres" in w for w in twin.warnings + [w for s in twin.sources for w in s.warnings])


def test_the_node_net3_nh2cl_leaves_out_lies_between_its_neighbours() -> None:
    epyt = pytest.importorskip("epyt")
    [path] = Path(epyt.__file__).parent.rglob("Net3-NH2CL.inp")
    twin = load(path)
    graph = networks_of(twin)[0].graph
    x, y = (np.asarray(graph.node_columns[k], float) for k in ("x", "y"))
    row = graph.node_row("177")
    start, end = (np.asarray(graph.segment_columns[k]) for k in ("start", "end"))  # node rows
    neighbours = np.r_[end[start == row], start[end == row]]
    assert sorted(graph.node_ids[neighbours].tolist()) == ["179", "181"]  # pipes 195 and 197
    assert math.isfinite(x[row]) and min(x[neighbours]) <= x[row] <= max(x[neighbours])
    assert min(y[neighbours]) <= y[row] <= max(y[neighbours])


# -- the app's account ---------------------------------------------------------------------


def test_the_deficit_ramp_runs_from_pale_cyan_to_deep_purple() -> None:
    from twin.faces.app.hydraulic_paint import RAMP, legend, ramp_rgb

    rgb = ramp_rgb(np.array([0.0, 0.5, 1.0, 7.0, -1.0]))
    assert rgb.dtype == np.uint8 and (rgb[[0, 1, 2]] == RAMP).all()
    assert (rgb[3] == RAMP[-1]).all() and (rgb[4] == RAMP[0]).all()  # clipped
    assert legend(14.28)["high_m"] == 14.28 and legend(14.28)["gradient"].startswith("linear-gradient")


def test_the_inspector_lists_critical_buildings_first_and_the_water_line(demo) -> None:
    from twin.faces.app.isolation_analysis import analysis
    from twin.faces.i18n import use

    result = what_if(demo, BURST, "water")
    with use("zh"):
        card = analysis(BURST, result, 14.28)
    water = card["water"]
    h = result["hydraulic"]
    assert water == {
        "buildings": len(h["buildings"]),
        "customers": len(h["customers_affected"]),
        "critical": sum(1 for b in h["buildings"] if b["critical"]),
        "hydraulic": True,
    }
    critical = [b["critical"] != "" for b in card["buildings"]]
    assert critical == sorted(critical, reverse=True) and critical[0]  # critical facilities first
    assert card["buildings"][0]["critical"] in ("医院", "学校", "养老院")
    assert card["title"] == f"关阀隔离 {BURST}" and card["valves"] == [v["id"] for v in result["valves"]]
    assert any(p["change"] == "流向反转" for p in card["pipes"]) and card["legend"]["high_m"] == 14.28


# -- ponding of a forecast overflow on the scene's terrain -------------------------------------


def test_an_overflow_ponds_in_the_hollow_and_keeps_its_volume(demo) -> None:
    from twin.hydraulics.ponding import pond, terrain_points

    ground = terrain_points(demo)
    assert ground is not None
    low = ground[np.argmin(ground[:, 2])]  # the south-east hollow of the demo DEM
    water = pond(ground, low[0] + 20.0, low[1] + 20.0, 300.0)
    assert water is not None
    assert water.depth.sum() * water.cell_m**2 == pytest.approx(300.0, rel=1e-6)
    deepest = np.unravel_index(np.argmax(water.depth), water.depth.shape)
    at = np.array([water.x0 + deepest[1] * water.cell_m, water.y0 + deepest[0] * water.cell_m])
    assert np.linalg.norm(at - low[:2]) < 10.0  # water runs to the lowest ground, not where it spilt
    assert water.level > low[2] and water.at(low[None, :2])[0] == pytest.approx(water.level - low[2], abs=0.05)
    assert pond(ground, low[0] + 1e6, low[1], 300.0) is None  # off the terrain: no pond


def test_buildings_standing_in_the_pond_are_listed_deepest_first_with_the_reason(demo) -> None:
    from twin.hydraulics.ponding import ponding, terrain_points

    ground = terrain_points(demo)
    low = ground[np.argmin(ground[:, 2])]
    reason = "forecast flooding at D-M40 in 40 min"
    nodes = [{"id": "D-M40", "volume_m3": 60_000.0, "reason": reason}, {"id": "dry", "volume_m3": 0.0, "reason": ""}]
    ponding(demo, nodes, np.array([low[:2], low[:2]]))
    flooded = nodes[0]["flooded"]
    assert flooded and all(f["reason"] == reason and f["depth_m"] >= 0.05 for f in flooded)
    assert [f["depth_m"] for f in flooded] == sorted((f["depth_m"] for f in flooded), reverse=True)
    assert nodes[0]["ponding"]["area_m2"] > 0 and nodes[0]["ponding"]["max_depth_m"] > flooded[0]["depth_m"] - 1e-9
    assert "ponding" not in nodes[1]


def test_the_scene_binds_the_nowcast_to_its_swmm_model_and_gauge(tmp_path: Path) -> None:
    from twin.hydraulics.nowcast import scene_nowcast

    model = DATA / "pipes" / "Example1.inp"
    scene = tmp_path / "storm.toml"
    body = f'name = "storm"\n[[sources]]\npath = "{model}"\noptions = {{ network = "storm" }}\n'
    scene.write_text(f'{body}[hydraulics]\nnowcast = {{ model = "{model}", rain_gauge = "RG1" }}\n', "utf-8")
    storm = scene_nowcast(load(scene), [(0, 3.0)])
    assert storm["status"] == "ok" and storm["nodes"] and storm["horizon_s"] == 7200.0
    scene.write_text(f'{body}[hydraulics]\nnowcast = {{ model = "{model}", rain_gauge = "NO-SUCH" }}\n', "utf-8")
    failed = scene_nowcast(load(scene), [(0, 3.0)])
    assert failed["status"] == "failed" and "no rain gauge 'NO-SUCH'" in failed["message"]
    scene.write_text(body, "utf-8")
    assert scene_nowcast(load(scene), [(0, 3.0)])["status"] == "unavailable"
