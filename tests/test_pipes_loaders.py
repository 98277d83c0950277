"""Pipe loaders on the real EPANET, SWMM, GeoJSON and LandXML samples (data_samples/pipes)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, SCENES

import twin
from loaders.pipes.tubes import tube_mesh
from twin.colours.utilities import legend, network_color, network_kind
from twin.nearby import ring_centres

PIPES = DATA / "pipes"
EPANET = ["Net1.inp", "Net3.inp", "Anytown.inp", "ky4.inp"]
SWMM = ["Example1.inp", "site_drainage_model.inp", "user4.inp"]
EPANET_NODES, EPANET_LINKS = ("JUNCTIONS", "RESERVOIRS", "TANKS"), ("PIPES", "PUMPS", "VALVES")
SWMM_NODES = ("JUNCTIONS", "OUTFALLS", "STORAGE", "DIVIDERS")
SWMM_LINKS = ("CONDUITS", "PUMPS", "ORIFICES", "WEIRS", "OUTLETS")


def section_rows(path: Path) -> dict[str, list[list[str]]]:
    """An independent, minimal reading of an .inp file: data rows per section."""
    out: dict[str, list[list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.split(";")[0].strip()
        if not line:
            continue
        match = re.match(r"^\[(.+)\]$", line)
        if match:
            current = match.group(1).upper()
            out.setdefault(current, [])
        elif current:
            out[current].append(line.split())
    return out


def layers(t: twin.Twin):
    segments = next(layer for layer in t.layers if not layer.name.endswith(" nodes"))
    nodes = next(layer for layer in t.layers if layer.name.endswith(" nodes"))
    return segments, nodes


def rows_of(t: twin.Twin, layer) -> slice:
    return slice(layer.asset_start, layer.asset_stop)


@pytest.mark.parametrize(
    "name,node_sections,link_sections",
    [(n, EPANET_NODES, EPANET_LINKS) for n in EPANET] + [(n, SWMM_NODES, SWMM_LINKS) for n in SWMM],
    ids=EPANET + SWMM,
)
def test_counts_equal_the_file(name, node_sections, link_sections):
    rows = section_rows(PIPES / name)
    t = twin.load(PIPES / name)
    segments, nodes = layers(t)
    graph = next(iter(t.sources[0].extras["networks"].values()))
    n_nodes = sum(len(rows.get(s, [])) for s in node_sections)
    n_links = sum(len(rows.get(s, [])) for s in link_sections)
    assert (nodes.n_assets, segments.n_assets) == (n_nodes, n_links)
    assert (graph.number_of_nodes(), graph.number_of_edges()) == (n_nodes, n_links)
    assert t.sources[0].details["networks"][graph.graph["name"]]["segments"] == n_links


@pytest.mark.parametrize("name", EPANET + SWMM)
def test_every_segment_lies_below_its_ground(name):
    t = twin.load(PIPES / name)
    segments, _ = layers(t)
    a, rows = t.assets, rows_of(t, segments)
    top = a.bounds[rows, 5]
    ground = np.fmax(a["ground_start_m"][rows], a["ground_end_m"][rows])
    known = np.isfinite(ground)
    assert known.mean() > 0.9
    assert np.all(top[known] <= ground[known] + 1e-3)


@pytest.mark.parametrize("name", EPANET)
def test_epanet_ground_is_junction_elevation_in_metres(name):
    rows = section_rows(PIPES / name)
    t = twin.load(PIPES / name)
    _, nodes = layers(t)
    a = t.assets
    elevation = {r[0]: float(r[1]) * 0.3048 for r in rows["JUNCTIONS"]}  # the samples are GPM: feet
    ids = a["id"][rows_of(t, nodes)].tolist()
    ground = a["ground_m"][rows_of(t, nodes)]
    for node_id, g in zip(ids, ground):
        if node_id in elevation:
            assert g == pytest.approx(elevation[node_id])


@pytest.mark.parametrize(
    "name,section,column", [(n, "PIPES", 3) for n in EPANET] + [(n, "CONDUITS", 3) for n in SWMM], ids=EPANET + SWMM
)
def test_lengths_match_the_file(name, section, column):
    rows = section_rows(PIPES / name)
    t = twin.load(PIPES / name)
    segments, _ = layers(t)
    stated = {r[0]: float(r[column]) * 0.3048 for r in rows[section]}
    ids = t.assets["id"][rows_of(t, segments)].tolist()
    lengths = dict(zip(ids, t.assets["length_m"][rows_of(t, segments)]))
    for link_id, metres in stated.items():
        assert lengths[link_id] == pytest.approx(metres, rel=0.01)


def test_geojson_export_of_ky4_matches_the_inp():
    inp = twin.load(PIPES / "ky4.inp")
    gis = twin.load(PIPES / "ky4_pipes.geojson", options={"nodes": "ky4_junctions.geojson", "network": "water"})
    a, b = inp.assets, gis.assets
    for link in ("P-1", "P-1000", "P-101"):
        i, j = a.index_of(link), b.index_of(link)
        assert b["diameter_m"][j] == pytest.approx(a["diameter_m"][i], rel=1e-6)
        assert b["length_m"][j] == pytest.approx(a["length_m"][i], rel=0.01)
    assert gis.crs == "EPSG:3547"
    assert gis.sources[0].extras["networks"]["water"].number_of_edges() == 1156


def test_epanet_units_inches_and_feet():
    t = twin.load(PIPES / "Net1.inp")
    i = t.assets.index_of("10")  # pipe 10: 10530 ft, 18 in
    assert t.assets["kind"][i] == "pipe"
    assert t.assets["diameter_m"][i] == pytest.approx(18 * 0.0254)
    assert t.assets["length_m"][i] == pytest.approx(10530 * 0.3048)
    assert t.sources[0].details["units"]["diameter"] == "in"
    assert bool(t.assets["depth_assumed"][i])
    assert t.assets["depth_start_m"][i] == pytest.approx(1.2)


def test_swmm_inverts_offsets_and_slope():
    t = twin.load(PIPES / "Example1.inp")
    a = t.assets
    i = a.index_of("7")  # conduit 7: 21 -> 22, offsets 1 ft at both ends, 2 ft circular, 300 ft
    assert a["invert_start_m"][i] == pytest.approx((990 + 1) * 0.3048)
    assert a["invert_end_m"][i] == pytest.approx((987 + 1) * 0.3048)
    assert a["slope"][i] == pytest.approx(3 / 300)
    assert a["diameter_m"][i] == pytest.approx(0.6096)
    assert not bool(a["depth_assumed"][i])
    # junction 21: invert 990 ft, max depth 3 ft -> rim 993 ft
    assert a["ground_start_m"][i] == pytest.approx(993 * 0.3048)


def test_landxml_northing_first_inverts_and_crs():
    t = twin.load(PIPES / "DrainageSystem-1-1.xml")
    a = t.assets
    assert t.crs == "EPSG:3878"
    manhole = a.index_of("10")
    x, y, _ = a.centres[manhole]
    assert x == pytest.approx(24525622.894716, abs=0.01) and y == pytest.approx(6876920.244796, abs=0.01)
    pipe = a.index_of("8")
    assert a["invert_start_m"][pipe] == pytest.approx(124.984735)
    assert a["invert_end_m"][pipe] == pytest.approx(124.927521)
    assert a["diameter_m"][pipe] == pytest.approx(0.4)
    details = t.sources[0].details["networks"]["storm"]
    assert (details["nodes"], details["segments"]) == (7, 6)


def test_demo_scene_networks_at_realistic_depths():
    t = twin.load(SCENES / "demo.toml")
    assert not [s.error for s in t.sources if s.error]
    names = {r.name for r in t.sources for r in [r] if r.extras.get("networks")}
    assert {"water", "gas", "drainage", "power"} <= names
    a = t.assets
    water = a["network"] == "water"
    pipes = water & (a["kind"] == "pipe")
    assert np.allclose(a["depth_start_m"][pipes], 1.2)
    gas = (a["network"] == "gas") & (a["kind"] == "pipe")
    assert np.allclose(a["depth_start_m"][gas], 0.9)
    assert set(a["material"][gas].tolist()) == {"PE"}
    assert np.all(a["install_year"][gas] >= 1995) and "中压A" in a["pressure_class"][gas].tolist()
    drains = (a["network"] == "drainage") & (a["kind"] == "pipe")
    depth = 10.0 - a["invert_start_m"][drains]
    assert depth.min() >= 2.0 - 1e-9 and depth.max() <= 4.3
    assert np.all(a["slope"][drains] > 0)  # every drain falls in its direction of flow
    assert np.all(a.bounds[a["kind"] == "pipe", 5] <= 10.0)
    colours = {layer.name: layer.style.color for layer in t.layers}
    assert colours["water/water"] == network_color("water", "china")
    assert colours["gas/gas"] == "#ff69b4"


def test_tube_mesh_is_vectorised_and_recovers_its_centre_lines():
    points = np.array([[0, 0, 0], [10, 0, 0], [10, 10, -1], [0, 0, 5], [0, 5, 5.0]])
    offsets = np.array([0, 3, 5])
    mesh, owner = tube_mesh(points, offsets, np.array([0.5, 1.0]), sides=8)
    assert mesh.n_cells == 8 * (len(points) - 2)
    assert owner.tolist() == [0] * 16 + [1] * 8
    centres, ring_owner = ring_centres(mesh)
    assert np.allclose(centres, points, atol=1e-9)
    assert ring_owner.tolist() == [0, 0, 0, 1, 1]
    radii = np.linalg.norm(np.asarray(mesh.points).reshape(5, 8, 3) - points[:, None], axis=2)
    assert np.allclose(radii[3:], 1.0)


def test_palettes_and_kinds():
    assert network_kind("燃气") == "gas" and network_kind("Storm water main") == "storm"
    assert network_kind("给水") == "water" and network_kind("wastewater") == "sewer"
    assert network_color("gas", "apwa") == "#ffff00" and network_color("sewer", "china") == "#8b4513"
    rows = legend("apwa", ["water", "gas"])
    assert rows == [
        {"kind": "water", "label": "Water supply", "color": "#0000ff"},
        {"kind": "gas", "label": "Gas", "color": "#ffff00"},
    ]


def test_display_scale_is_applied_and_reported():
    t = twin.load(PIPES / "Net1.inp", options={"display_scale": 10})
    segments, _ = layers(t)
    i = t.assets.index_of("10")
    b = t.assets.bounds[i]
    assert b[5] - b[4] == pytest.approx(10 * 18 * 0.0254, rel=0.01)
    assert t.sources[0].details["display_scale"] == 10


def test_gbk_geojson_with_a_citys_own_field_names(tmp_path):
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "EPSG:4549"}},
        "features": [
            {
                "type": "Feature",
                "properties": {"编号": "Q1", "类型": "调压站", "地面高程": 9.5},
                "geometry": {"type": "Point", "coordinates": [385000.0, 3548000.0]},
            },
            {
                "type": "Feature",
                "properties": {"编号": "Q2", "类型": "阀门", "地面高程": 9.5},
                "geometry": {"type": "Point", "coordinates": [385050.0, 3548000.0]},
            },
            {
                "type": "Feature",
                "properties": {"编号": "GX1", "管径": 150, "材质": "钢", "埋设日期": "2003年5月", "埋深": 1.1},
                "geometry": {"type": "LineString", "coordinates": [[385000.0, 3548000.0], [385050.0, 3548000.0]]},
            },
        ],
    }
    path = tmp_path / "燃气.geojson"
    path.write_bytes(json.dumps(doc, ensure_ascii=False).encode("gb18030"))
    options = {
        "network": "燃气",
        "diameter_unit": "mm",
        "fields": {
            "id": "编号",
            "kind": "类型",
            "elevation": "地面高程",
            "diameter": "管径",
            "material": "材质",
            "install_year": "埋设日期",
            "depth": "埋深",
        },
    }
    t = twin.load(path, options=options)
    a = t.assets
    i = a.index_of("GX1")
    assert (a["diameter_m"][i], a["material"][i], a["install_year"][i]) == (0.15, "钢", 2003.0)
    assert a["depth_start_m"][i] == pytest.approx(1.1) and not bool(a["depth_assumed"][i])
    assert a.bounds[i, 5] == pytest.approx(9.5 - 1.1)
    assert a["kind"][a.index_of("Q1")] == "source" and a["kind"][a.index_of("Q2")] == "valve"
    assert t.layers[0].style.color == network_color("gas")
    assert any("GB18030" in w for w in t.sources[0].warnings)


def test_csv_tables_with_wkt(tmp_path):
    (tmp_path / "mains.nodes.csv").write_text("id,x,y,kind,elevation\nR,0,0,reservoir,20\nA,100,0,,19\nB,100,100,,18\n")
    (tmp_path / "mains.csv").write_text(
        "id,from_node,to_node,diameter,install_year,wkt\n"
        'm1,R,A,300,1999,"LINESTRING (0 0, 50 10, 100 0)"\nm2,A,B,200,2010,\n'
    )
    t = twin.load(tmp_path / "mains.csv", options={"network": "water", "diameter_unit": "mm"})
    a = t.assets
    m1 = a.index_of("m1")
    assert a["length_m"][m1] == pytest.approx(2 * np.hypot(50, 10), rel=1e-3)
    assert a["age_years"][m1] > 20
    assert t.sources[0].details["networks"]["water"] == {
        "kind": "water",
        "nodes": 3,
        "segments": 2,
        "valves": 0,
        "sources": 1,
        "total_length_m": pytest.approx(2 * np.hypot(50, 10) + 100, rel=1e-3),
        "depth_assumed": 2,
    }


def test_info_json_has_the_networks_block(capsys):
    from twin.faces.cli import main

    assert main(["info", str(PIPES / "Net3.inp"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    water = info["pipes"]["networks"]["water"]
    assert (water["nodes"], water["segments"], water["sources"]) == (97, 119, 5)
    assert water["total_length_m"] > 0 and info["pipes"]["units"]["diameter"] == "in"


def test_one_file_several_networks_sharing_a_node(tmp_path):
    def line(ident, net, coords):
        return {
            "type": "Feature",
            "properties": {"id": ident, "network": net, "diameter": 0.1},
            "geometry": {"type": "LineString", "coordinates": coords},
        }

    doc = {
        "type": "FeatureCollection",
        "features": [line("h1", "heat", [[1000, 0], [1010, 0]]), line("t1", "telecom", [[1010, 0], [1020, 5]])],
    }
    (tmp_path / "mixed.geojson").write_text(json.dumps(doc))
    t = twin.load(tmp_path / "mixed.geojson", options={"ground": 5})
    graphs = t.sources[0].extras["networks"]
    assert set(graphs) == {"heat", "telecom"}
    assert set(graphs["heat"].nodes) & set(graphs["telecom"].nodes)
    assert {layer.name.split("/")[1] for layer in t.layers} == {"heat", "heat nodes", "telecom", "telecom nodes"}
    assert t.assets["from_kind"][t.assets.index_of("h1")] == "junction"


def test_csv_bends_from_vertices_and_wkt_in_one_table(tmp_path):
    """Both bend columns in one table, kept in row order, wkt winning; a row with a bad point is
    skipped by name while the others keep their bends (the column is then read row by row)."""
    (tmp_path / "bent.nodes.csv").write_text("id,x,y,elevation\nA,0,0,10\nB,100,0,10\nC,100,100,10\n")
    rows = [
        'p1,A,B,200,"10 5; 20\t6 ;",',  # tab-separated, a trailing empty item
        'p2,B,C,200,,"LINESTRING Z (100 0 1, 110 50 2, 105 60 3, 100 100 4)"',
        'p3,A,C,200,"1 1","LINESTRING (0 0, 40 40, 100 100)"',  # wkt wins over vertices
        "p4,A,B,200,,",
    ]
    expected = {
        "p1": np.hypot(10, 5) + np.hypot(10, 1) + np.hypot(80, 6),
        "p2": np.hypot(10, 50) + np.hypot(5, 10) + np.hypot(5, 40),
        "p3": np.hypot(100, 100),
        "p4": 100.0,
    }
    options = {"network": "water", "diameter_unit": "mm"}
    header = "id,from_node,to_node,diameter,vertices,wkt\n"
    for extra in ([], ['p5,A,B,200,"10 x",']):
        (tmp_path / "bent.csv").write_text(header + "\n".join(rows + extra) + "\n")
        loaded = twin.load(tmp_path / "bent.csv", options=options)
        a = loaded.assets
        for name, length in expected.items():
            assert float(a["length_m"][a.index_of(name)]) == pytest.approx(length, rel=1e-9)
        assert [s["id"] for s in loaded.sources[0].skipped] == [e.split(",")[0] for e in extra]


def test_csv_rows_keep_their_lines_with_blank_lines_and_quoted_line_breaks(tmp_path):
    """Every record on one line is read in one pass; a quoted line break makes the reader go
    record by record: either way a skipped row names the line csv.reader ends it on."""
    (tmp_path / "l.nodes.csv").write_text("id,x,y\nA,0,0\nB,100,0\n")
    for body, line in (("s1,A,B,200,,one\n\ns2,A,B,200,x,\n", 4), ('s1,A,B,200,,"one\ntwo"\n\ns2,A,B,200,x,\n', 5)):
        (tmp_path / "l.csv").write_text("id,from_node,to_node,diameter,length,note\n" + body)
        loaded = twin.load(tmp_path / "l.csv", options={"network": "water", "diameter_unit": "mm"})
        (skipped,) = loaded.sources[0].skipped
        assert skipped["id"] == "s2" and skipped["reason"].startswith(f"line {line}:")
