"""``twin tile``: the city as 3D Tiles 1.1 built on Dask distributed (twin.tiling).

The demo district (CityJSON buildings and roads, a GeoTIFF terrain, a LAZ survey, four pipe
networks, two IFC houses) and real CityJSON / CityGML samples are tiled; the tileset is checked
against the city tileset contract, every GLB by the Khronos glTF validator (npm
``gltf-validator``, installed by ``tasks.py``), and the build's robustness by changing a source,
killing a build and killing a Dask worker in the middle of one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import DATA, DEMO, ROOT, USER_CWD, twin_cli

from twin.tiling import BuildOptions, build_tileset
from twin.tiling.grid import TileGrid, node_uri, parent

NODE_MODULES = ROOT / ".npm-tools" / "node_modules"
VALIDATE = ROOT / "tests" / "interop" / "validate_glb.js"


# -- helpers -----------------------------------------------------------------------------------
def read_glb(path: Path) -> tuple[dict, bytes]:
    """A GLB's JSON document and binary chunk."""
    data = path.read_bytes()
    magic, version, total = struct.unpack_from("<4sII", data)
    assert (magic, version, total) == (b"glTF", 2, len(data))
    json_length, _ = struct.unpack_from("<I4s", data, 12)
    document = json.loads(data[20 : 20 + json_length])
    bin_length, kind = struct.unpack_from("<I4s", data, 20 + json_length)
    assert kind == b"BIN\0"
    return document, data[28 + json_length : 28 + json_length + bin_length]


def glb_features(path: Path) -> dict[str, list]:
    """The property table of a GLB (``asset_row`` and the string columns) and its vertices' feature ids."""
    document, binary = read_glb(path)

    def view(index: int) -> bytes:
        v = document["bufferViews"][index]
        return binary[v["byteOffset"] : v["byteOffset"] + v["byteLength"]]

    table = document["extensions"]["EXT_structural_metadata"]["propertyTables"][0]
    out: dict[str, list] = {
        "asset_row": np.frombuffer(view(table["properties"]["asset_row"]["values"]), "<u4").tolist()
    }
    for name in ("id", "kind", "name", "risk_level", "risk_grade"):
        prop = table["properties"][name]
        offsets = np.frombuffer(view(prop["stringOffsets"]), "<u4")
        values = view(prop["values"])
        out[name] = [values[a:b].decode() for a, b in zip(offsets[:-1], offsets[1:])]
    primitive = document["meshes"][0]["primitives"][0]
    accessor = document["accessors"][primitive["attributes"]["_FEATURE_ID_0"]]
    feature_ids = np.frombuffer(view(accessor["bufferView"]), "<f4")
    out["feature_ids"] = np.unique(feature_ids).astype(int).tolist()
    out["count"] = [primitive["extensions"]["EXT_mesh_features"]["featureIds"][0]["featureCount"]]
    return out


def walk(tile: dict, parent_tile: dict | None = None):
    """Every (tile, its parent) of a tileset's tree."""
    yield tile, parent_tile
    for child in tile.get("children", []):
        yield from walk(child, tile)


def box_range(box: list[float]) -> tuple[np.ndarray, np.ndarray]:
    centre, half = np.array(box[:3]), np.abs(np.array(box[3:]).reshape(3, 3)).sum(axis=0)
    return centre - half, centre + half


def small_scene(folder: Path, extra_sources: str = "") -> Path:
    """A scene of copies of demo files (so a test may change one): buildings, two networks, extras."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("district.city.json", "pipes_water.geojson", "pipes_power.geojson"):
        shutil.copy(DATA / "demo" / name, folder / name)
    manifest = folder / "scene.toml"
    manifest.write_text(
        'name = "Small"\ncrs = "EPSG:4549"\norigin = [385190.0, 3548190.0, 10.0]\n'
        '[[sources]]\nname = "district"\npath = "district.city.json"\n'
        '[[sources]]\nname = "water"\npath = "pipes_water.geojson"\n'
        'options = { network = "water", diameter_unit = "mm", '
        'fields = { diameter = "diameter_mm", depth = "cover" } }\n'
        '[[sources]]\nname = "power"\npath = "pipes_power.geojson"\noptions = { network = "power" }\n' + extra_sources,
        encoding="utf-8",
    )
    return manifest


@pytest.fixture(scope="module")
def demo_tiles(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("demo-tiles")
    report = build_tileset(DEMO, out, BuildOptions(workers=2))
    return out, report


# -- partitioning ------------------------------------------------------------------------------
def test_grid_keys_do_not_depend_on_the_scene_extent():
    grid = TileGrid(100.0)
    leaves = grid.leaf_indices(np.array([[-0.5, 0.5], [150.0, -250.0], [99.9, 100.0]]))
    assert leaves.tolist() == [[-1, 0], [1, -3], [0, 1]]
    assert grid.top_level(np.array([-50, 50, -50, 50])) == 0  # leaves -1 and 0 sit right under the root
    assert grid.top_level(np.array([-150, 150, -10, 10])) == 1
    assert grid.top_level(np.array([-1000, 5000, -10, 10])) == 6
    assert parent((0, -3, 5)) == (1, -2, 2)  # floor division, also below the origin
    assert grid.geometric_error(0) == 0 and grid.geometric_error(1) < grid.geometric_error(2)
    assert node_uri((2, -1, 0), "district/Building") == "tiles/2/-1_0/district-Building.glb"


# -- the contract on the demo district -------------------------------------------------------------
def test_demo_tileset_follows_the_contract(demo_tiles):
    from pyproj import Transformer

    out, report = demo_tiles
    assert report.ok, report.failures
    tileset = json.loads((out / "tileset.json").read_text())
    assert tileset["asset"]["version"] == "1.1"
    extras = tileset["extras"]["cim_twin"]
    assert extras["version"] == 1 and extras["crs"] == "EPSG:4549" and extras["origin"] == [385190.0, 3548190.0, 10.0]
    assert extras["assets"] == "assets.parquet"
    layers = [layer["name"] for layer in extras["layers"]]
    assert {"district/Building", "terrain/Terrain", "survey/points", "gas/gas", "FZK-Haus/elements"} <= set(layers)
    assert [g["properties"]["name"] for g in tileset["groups"]] == layers
    assert tileset["schema"]["classes"]["layer"]["properties"].keys() == {"name", "kind"}
    # the root transform: column-major ENU -> ECEF at the origin
    matrix = np.array(tileset["root"]["transform"]).reshape(4, 4).T
    ecef = Transformer.from_crs("EPSG:4549", "EPSG:4978", always_xy=True).transform(385190.0, 3548190.0, 10.0)
    np.testing.assert_allclose(matrix[:3, 3], ecef, atol=0.01)
    np.testing.assert_allclose(matrix[:3, :3].T @ matrix[:3, :3], np.eye(3), atol=1e-9)
    up = matrix[:3, 2]
    np.testing.assert_allclose(up, np.array(ecef) / np.linalg.norm(ecef), atol=0.01)  # about the radial direction
    uris = [c["uri"] for t, _ in walk(tileset["root"]) for c in t.get("contents", [])]
    assert len(uris) == len(set(uris)) == extras["counts"]["tiles"] == report.counts["tiles"]
    assert all((out / uri).is_file() for uri in uris)
    assert extras["counts"]["points"] == 284032  # every point of the survey, each in one tile (refine ADD)
    assert (out / "build.json").is_file()


def test_lod_hierarchy_invariants(demo_tiles):
    out, _ = demo_tiles
    tileset = json.loads((out / "tileset.json").read_text())
    refines, leaves = set(), 0
    for tile, parent_tile in walk(tileset["root"]):
        low, high = box_range(tile["boundingVolume"]["box"])
        if parent_tile is not None:
            plow, phigh = box_range(parent_tile["boundingVolume"]["box"])
            assert (low >= plow - 1e-6).all() and (high <= phigh + 1e-6).all(), "a child box leaves its parent's"
            assert tile["geometricError"] < parent_tile["geometricError"]
            refines.add((tile["refine"], "points" in json.dumps(tile.get("contents", []))))
        if not tile.get("children"):
            leaves += 1
            assert tile["geometricError"] == 0
    assert leaves > 4 and tileset["geometricError"] > tileset["root"]["geometricError"] > 0
    assert ("REPLACE", False) in refines and ("ADD", True) in refines and ("REPLACE", True) not in refines
    # coarse nodes hold boxes: a coarse building tile has far fewer triangles than its leaves together
    coarse = read_glb(next((out / "tiles" / "1").glob("*/district-Building.glb")))[0]
    assert coarse["accessors"][0]["count"] % 36 == 0  # whole boxes of 12 triangles
    assert coarse["materials"][0]["doubleSided"] is False  # closed and outward: viewers cull back faces
    road = read_glb(next((out / "tiles" / "0").rglob("district-Road.glb")))[0]
    assert road["materials"][0]["doubleSided"] is True  # an open surface is seen from both sides


def test_feature_ids_match_the_asset_index(demo_tiles):
    out, _ = demo_tiles
    assets = pq.read_table(out / "assets.parquet").to_pydict()
    n = len(assets["row"])
    assert assets["row"] == list(range(n)) and len(set(assets["id"])) == n == 541
    for column in ("xmin", "ymin", "zmin", "xmax", "ymax", "zmax", "layer", "network", "address", "tile"):
        assert column in assets
    tileset = json.loads((out / "tileset.json").read_text())
    tileset_layers = {
        Path(node_uri((0, 0, 0), g["name"])).stem: g["name"] for g in tileset["extras"]["cim_twin"]["layers"]
    }
    seen: set[int] = set()
    for glb in (out / "tiles").rglob("*.glb"):
        table = glb_features(glb)
        assert table["feature_ids"] == list(range(table["count"][0])) == list(range(len(table["asset_row"])))
        layer = tileset_layers[glb.stem]
        for row, asset_id, kind in zip(table["asset_row"], table["id"], table["kind"]):
            assert assets["id"][row] == asset_id and assets["kind"][row] == kind and assets["layer"][row] == layer
        assert set(table["risk_level"]) <= {"red", "orange", "yellow", "blue", "none"}
        seen.update(table["asset_row"])
    # every asset with geometry has a leaf tile, and that GLB holds it
    for row in range(n):
        uri = assets["tile"][row]
        if uri is None:
            continue
        assert uri.startswith("tiles/0/") and row in glb_features(out / uri)["asset_row"]
    building = assets["id"].index("bldg-005")
    assert assets["kind"][building] == "Building" and building in seen
    assert assets["id"].count("district_dem") == 1 and "flood/district_dem" in assets["id"]  # one DEM, two sources


@pytest.mark.skipif(not (NODE_MODULES / "gltf-validator").exists(), reason="python3 tasks.py test installs npm tools")
def test_every_glb_passes_the_khronos_validator(demo_tiles):
    out, _ = demo_tiles
    run = subprocess.run(["node", VALIDATE, NODE_MODULES, out / "tiles"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    assert len(results) == len(list((out / "tiles").rglob("*.glb"))) > 100
    bad = [r for r in results if r["errors"]]
    assert not bad, bad[:3]


# -- real city models -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sample", ["delft.json", "Building_LOD2-EPSG25832.gml"], ids=["cityjson-delft", "citygml-lod2"]
)
def test_real_city_samples_tile_on_an_existing_scheduler(tmp_path, sample):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        report = build_tileset(DATA / "city" / sample, tmp_path, BuildOptions(scheduler=cluster.scheduler_address))
    assert report.ok, report.failures
    tileset = json.loads((tmp_path / "tileset.json").read_text())
    assets = pq.read_table(tmp_path / "assets.parquet")
    assert tileset["extras"]["cim_twin"]["counts"]["assets"] == assets.num_rows > 0
    buildings = [g for g in tileset["extras"]["cim_twin"]["layers"] if g["name"].endswith("/Building")]
    assert buildings and any((tmp_path / "tiles").rglob("*Building.glb"))


# -- point clouds by spatial chunk ---------------------------------------------------------------------
def test_point_cloud_in_chunks_keeps_each_point_and_class_once(tmp_path):
    manifest = tmp_path / "cloud.toml"
    survey = DATA / "demo" / "survey.laz"
    manifest.write_text(f'name = "Cloud"\ncrs = "EPSG:4549"\n[[sources]]\nname = "survey"\npath = "{survey}"\n')
    report = build_tileset(manifest, tmp_path / "out", BuildOptions(workers=2, chunk_points=80_000))
    assert report.ok, report.failures
    assert report.sources[0]["chunks"] >= 4
    assert report.counts["points"] == 284032
    ids = pq.read_table(tmp_path / "out" / "assets.parquet")["id"].to_pylist()
    assert len(ids) == len(set(ids)) == 7  # one row per ASPRS class, whatever chunks hold it


# -- robustness -----------------------------------------------------------------------------------------
def test_incremental_rebuild_touches_only_the_changed_source(tmp_path):
    manifest = small_scene(tmp_path / "scene")
    out = tmp_path / "out"
    first = build_tileset(manifest, out, BuildOptions(workers=2))
    assert first.ok and first.skipped == 0 and first.written == first.counts["tiles"]
    untouched = {p: p.stat().st_mtime_ns for p in (out / "tiles").rglob("*.glb") if "power" not in p.name}
    power = tmp_path / "scene" / "pipes_power.geojson"
    data = json.loads(power.read_text())
    line = next(f for f in data["features"] if f["geometry"]["type"] == "LineString")
    line["properties"]["diameter"] *= 2  # a thicker duct: its tube changes
    power.write_text(json.dumps(data))
    second = build_tileset(manifest, out, BuildOptions(workers=2))
    assert second.ok
    statuses = {s["name"]: s["status"] for s in second.sources}
    assert statuses == {"district": "reused", "water": "reused", "power": "ok"}
    assert second.rebuilt and all("/power-" in uri for uri in second.rebuilt)
    assert second.written + second.skipped == first.counts["tiles"]
    assert all(p.stat().st_mtime_ns == t for p, t in untouched.items())
    third = build_tileset(manifest, out, BuildOptions(workers=1))
    assert third.written == 0 and third.skipped == first.counts["tiles"]


def test_a_failing_source_is_reported_and_the_rest_completes(tmp_path):
    shutil.copy(DATA / "pipes" / "bad_syntax.inp", tmp_path / "bad_syntax.inp")
    manifest = small_scene(tmp_path, '[[sources]]\nname = "broken"\npath = "bad_syntax.inp"\n')
    run = twin_cli("tile", manifest, "-o", tmp_path / "out", "--workers", "2", "--json")
    assert run.returncode == 1, run.stderr
    result = json.loads(run.stdout)
    assert not result["ok"]
    (failure,) = result["failures"]
    assert failure["source"] == "broken" and "bad_syntax.inp" in failure["error"]
    statuses = {s["name"]: s["status"] for s in result["sources"]}
    assert statuses == {"district": "ok", "water": "ok", "power": "ok", "broken": "failed"}
    tileset = json.loads((tmp_path / "out" / "tileset.json").read_text())
    assert tileset["extras"]["cim_twin"]["counts"]["tiles"] == result["counts"]["tiles"] > 0


@pytest.mark.slow
def test_a_killed_build_resumes_with_the_tiles_it_had(tmp_path):
    ifc = DATA / "ifc" / "AC20-FZK-Haus.ifc"
    manifest = small_scene(
        tmp_path / "scene",
        f'[[sources]]\nname = "house"\npath = "{ifc}"\nplacement = {{ offset = [385165.0, 3548212.0, 10.03] }}\n',
    )
    out = tmp_path / "out"
    journal = out / ".build" / "journal.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "twin.faces.cli", "tile", manifest, "-o", out, "--workers", "1", "--json"],
        cwd=USER_CWD,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its Dask scheduler and workers die with it
    )
    try:
        deadline = time.monotonic() + 300
        while not (journal.exists() and journal.read_text().count("\n") >= 1):
            assert process.poll() is None and time.monotonic() < deadline, "the build ended before it was killed"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not (out / "build.json").exists(), "the build had finished"
    journalled = {json.loads(line)["uri"] for line in journal.read_text().splitlines() if line.endswith("}")}
    resumed = build_tileset(manifest, out, BuildOptions(workers=1))
    assert resumed.ok, resumed.failures
    assert resumed.skipped >= len(journalled) > 0
    assert resumed.written + resumed.skipped == resumed.counts["tiles"]
    for glb in (out / "tiles").rglob("*.glb"):
        read_glb(glb)  # whole: tiles are written atomically
    assert not list((out / "tiles").rglob("*.tmp"))


@pytest.mark.slow
def test_a_killed_dask_worker_is_retried_and_the_build_completes(tmp_path, demo_tiles):
    from distributed import Client, LocalCluster

    _, reference = demo_tiles
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        pids = client.run(os.getpid)
        result: dict = {}
        build = threading.Thread(
            target=lambda: result.update(report=build_tileset(DEMO, tmp_path, BuildOptions(client=client)))
        )
        build.start()
        killed = None
        deadline = time.monotonic() + 300
        while killed is None and time.monotonic() < deadline and build.is_alive():
            for worker, keys in client.processing().items():
                if any(str(key).startswith("cut-") for key in keys):
                    os.kill(pids[worker], signal.SIGKILL)
                    killed = worker
                    break
            time.sleep(0.01)
        build.join(600)
    assert killed is not None, "no cut task was seen running"
    report = result["report"]
    assert report.ok, report.failures
    assert report.counts == reference.counts


MEGACITY = ROOT / "scenes" / "megacity_sample.toml"


@pytest.mark.slow
@pytest.mark.skipif(not MEGACITY.exists(), reason="the megacity sample is not in this checkout")
def test_megacity_sample_tiles_in_parts_with_each_building_in_one_leaf(tmp_path):
    report = build_tileset(MEGACITY, tmp_path, BuildOptions(workers=2, chunk_bytes=400_000, tile_size=256.0))
    assert report.ok, report.failures
    buildings = next(s for s in report.sources if s["name"] == "buildings")
    assert buildings["chunks"] >= 4  # the CityJSONSeq file, cut in parts loaded in parallel
    assets = pq.read_table(tmp_path / "assets.parquet").to_pydict()
    rows = [r for r, layer in enumerate(assets["layer"]) if layer == "buildings/Building"]
    assert len(rows) == 2000 and len(set(assets["id"])) == len(assets["id"])
    leaf_rows: list[int] = []
    for glb in (tmp_path / "tiles" / "0").rglob("buildings-Building.glb"):
        leaf_rows += glb_features(glb)["asset_row"]
    assert sorted(leaf_rows) == rows  # parts that reach one tile were joined: each building once
    assert {assets["tile"][r] for r in rows} <= {
        str(p.relative_to(tmp_path)) for p in (tmp_path / "tiles" / "0").rglob("buildings-Building.glb")
    }
    _single_sided_and_outward(sorted((tmp_path / "tiles" / "0").rglob("buildings-Building.glb")))


def _single_sided_and_outward(leaves: list[Path]) -> None:
    """The generated LoD1/LoD2 buildings are closed shells: their leaf tiles may be culled too, and
    every building's triangles enclose a positive volume (glTF's frame is a proper rotation of ENU)."""
    from twin.streaming import read_content

    assert leaves and all(read_glb(glb)[0]["materials"][0]["doubleSided"] is False for glb in leaves)
    content = read_content(leaves[0], np.eye(4))[0]
    assert content.single_sided
    xyz = content.points[content.triangles].astype(np.float64)
    xyz -= xyz.reshape(-1, 3).mean(axis=0)
    volume = np.einsum("ij,ij->i", xyz[:, 0], np.cross(xyz[:, 1], xyz[:, 2]))
    per_building = np.bincount(content.features[content.triangles[:, 0]], weights=volume)
    assert (per_building[per_building != 0] > 0).all()


def test_a_killed_runs_half_written_tiles_are_removed_before_a_build(tmp_path):
    from twin.tiling.state import atomic_write, remove_partial_writes

    atomic_write(tmp_path / "tiles" / "0" / "a.glb", b"whole")
    (tmp_path / "tiles" / "0" / ".b.glb.4242.tmp").write_bytes(b"half")  # a writer killed mid-write
    assert remove_partial_writes(tmp_path) == 1
    assert [p.name for p in (tmp_path / "tiles").rglob("*")] == ["0", "a.glb"]


# -- risk baked at export ------------------------------------------------------------------------
def _risk_of_features(out: Path) -> dict[str, set[tuple[str, str]]]:
    """Asset id -> the (risk_level, risk_grade) pairs its features carry across every GLB."""
    seen: dict[str, set[tuple[str, str]]] = {}
    for glb in (out / "tiles").rglob("*.glb"):
        table = glb_features(glb)
        for asset, level, grade in zip(table["id"], table["risk_level"], table["risk_grade"], strict=True):
            seen.setdefault(asset, set()).add((level, grade))
    return seen


def test_risk_levels_are_baked_into_the_features_and_a_change_rewrites_only_that_sources_tiles(tmp_path):
    manifest = small_scene(tmp_path / "scene")
    out = tmp_path / "out"
    risk = {"bldg-006": "red", "bldg-011": "orange", "no-such-asset": "red"}
    first = build_tileset(manifest, out, BuildOptions(workers=2, risk=risk))
    assert first.ok, first.failures
    seen = _risk_of_features(out)
    assert seen["bldg-006"] == {("red", "I")} and seen["bldg-011"] == {("orange", "II")}  # at every level of detail
    assert all(pairs == {("none", "")} for asset, pairs in seen.items() if asset not in risk)
    untouched = {p: p.stat().st_mtime_ns for p in (out / "tiles").rglob("*.glb") if "/district-" not in str(p)}
    second = build_tileset(manifest, out, BuildOptions(workers=2, risk={"bldg-006": "yellow"}))
    assert second.ok and second.rebuilt and all("/district-" in uri for uri in second.rebuilt)
    assert all(p.stat().st_mtime_ns == t for p, t in untouched.items())  # the networks' tiles: no level changed
    seen = _risk_of_features(out)
    assert seen["bldg-006"] == {("yellow", "III")} and seen["bldg-011"] == {("none", "")}


def test_twin_tile_risk_from_a_live_store(tmp_path):
    from twin.loading import load
    from twin.risk.service import RiskService

    store = tmp_path / "risk.duckdb"
    service = RiskService.from_twin(load(DEMO), store_path=store).open()
    try:
        service.ingest([{"sensor": "GAS-B006", "ts": int(time.time() * 1000), "value": 30.0}])  # red at bldg-006
        assert service.asset("bldg-006")["risk"]["level"] == "red"
    finally:
        service.close()
    manifest = small_scene(tmp_path / "scene")
    run = twin_cli("tile", manifest, "-o", tmp_path / "out", "--workers", "1", "--risk-from", store, "--json")
    assert run.returncode == 0, run.stderr
    assert _risk_of_features(tmp_path / "out")["bldg-006"] == {("red", "I")}
    missing = twin_cli("tile", manifest, "-o", tmp_path / "out2", "--risk-from", tmp_path / "nope.duckdb")
    assert missing.returncode == 2 and "nope.duckdb" in missing.stderr and "no such risk store" in missing.stderr
