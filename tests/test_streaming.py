"""City streaming (twin.streaming): tileset reading, screen-space-error selection within a budget,
the LRU tile cache, bad tiles, merged meshes by asset row, recolouring, and the tileset loader.

Our tilesets come from tests/tileset_builder.py (the contract ``twin tile`` writes); foreign ones
are the CesiumGS 3d-tiles-samples in data_samples/tilesets/ (b3dm with batch tables, glb 1.1).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, DEMO, twin_cli
from tileset_builder import build_city

from loaders.catalog import TILESET
from loaders.tileset import load as load_tileset
from twin.errors import InputError
from twin.scene import Twin
from twin.streaming import Budget, Camera, CityStream, TileCache, read_content, read_tileset, select
from twin.streaming.merge import colour_by_rows, merge

CITY_B3DM = DATA / "tilesets" / "city_b3dm" / "tileset.json"
MULTIPLE_CONTENTS = DATA / "tilesets" / "multiple_contents" / "tileset.json"
FAR = Camera((0.0, -3000.0, 2500.0), (0.0, 0.0, 0.0))
STREET = Camera((-100.0, -100.0, 15.0), (-100.0, -60.0, 5.0))


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("city")
    build_city(folder, side=8, levels=3, points_per_asset=40)
    return folder


def fresh(city: Path, tmp_path: Path) -> Path:
    """A copy of the city a test may damage."""
    return Path(shutil.copytree(city, tmp_path / "city"))


def loaded_stream(folder: Path, camera: Camera, **kwargs) -> CityStream:
    """A stream whose one view has everything it wants loaded."""
    stream = CityStream(folder, **kwargs)
    stream.set_camera("v", camera)
    for _ in range(6):  # each round loads what the last selection asked for
        stream.plan()
        stream.cache.wait()
    stream.plan()
    return stream


# -- the tileset ------------------------------------------------------------------------------
def test_our_tileset_reads_in_the_local_frame(city):
    tileset = read_tileset(city)
    assert [layer["name"] for layer in tileset.layers] == ["buildings", "lidar"]
    assert tileset.city is not None and tileset.city["crs"] == "EPSG:32650"
    # the root transform is ENU->ECEF at the origin: local boxes come back as written (metres)
    assert np.allclose(tileset.box[1, [0, 1]], [-132.0, -132.0], atol=1e-3)
    assert np.allclose(tileset.content_matrix[1][:3, :3], [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-9)
    assert tileset.replace[1] and not tileset.replace[tileset.parent == 0][-1]  # buildings REPLACE, points ADD
    assert np.all(tileset.error[tileset.parent >= 0] <= tileset.error[tileset.parent[tileset.parent >= 0]])


def test_foreign_b3dm_with_batch_table_and_regions():
    tileset = read_tileset(CITY_B3DM)
    assert len(tileset) == 5 and not tileset.replace[0]  # refine ADD
    leaf = tileset.children[0][0]
    (content,) = read_content(tileset.contents[leaf][0].path, tileset.content_matrix[leaf])
    assert content.n_triangles == 120 and set(np.unique(content.features)) == set(range(10))
    assert {"id", "Longitude", "Latitude", "Height"} <= set(content.properties)
    # placed by RTC_CENTER in the ENU frame at the tileset's centre: inside the leaf's region box
    lo, hi = tileset.box[leaf, :3], tileset.box[leaf, 3:]
    assert np.all(content.points[:, :2] >= lo[:2] - 1) and np.all(content.points[:, :2] <= hi[:2] + 1)


def test_foreign_glb_with_triangles_and_points_contents():
    tileset = read_tileset(MULTIPLE_CONTENTS)
    parts = [c for content in tileset.contents[0] for c in read_content(content.path, tileset.content_matrix[0])]
    assert sorted((p.is_points, p.n_triangles, len(p.points)) for p in parts) == [(False, 2048, 1089), (True, 0, 16641)]


@pytest.mark.parametrize(
    ("suffix", "reason"), [(".pnts", "pnts"), (".i3dm", "i3dm"), (".cmpt", "cmpt"), (".xyz", "unknown kind")]
)
def test_unsupported_content_is_refused_with_the_file_and_reason(tmp_path, suffix, reason):
    document = json.loads(MULTIPLE_CONTENTS.read_text())
    document["root"]["contents"][1]["uri"] = f"cloud{suffix}"
    path = tmp_path / "tileset.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match=reason) as error:
        read_tileset(path)
    assert error.value.path == path and f"cloud{suffix}" in str(error.value)


def test_unknown_required_extensions_are_refused(tmp_path):
    document = json.loads(MULTIPLE_CONTENTS.read_text())
    document["extensionsRequired"] = ["3DTILES_bounding_volume_S2"]
    (tmp_path / "tileset.json").write_text(json.dumps(document))
    with pytest.raises(InputError, match="3DTILES_bounding_volume_S2"):
        read_tileset(tmp_path)


def test_draco_content_is_refused(tmp_path, city):
    glb = next((city / "tiles").glob("b_2_*.glb"))
    data = bytearray(glb.read_bytes())
    length = int.from_bytes(data[12:16], "little")
    gltf = json.loads(data[20 : 20 + length])
    gltf["extensionsRequired"] = ["KHR_draco_mesh_compression"]
    text = json.dumps(gltf).encode().ljust(length + 64, b" ")
    text += b" " * ((-len(text)) % 4)
    rest = data[20 + length :]
    out = bytearray(data[:12]) + len(text).to_bytes(4, "little") + data[16:20] + text + rest
    out[8:12] = len(out).to_bytes(4, "little")
    (tmp_path / "draco.glb").write_bytes(out)
    with pytest.raises(InputError, match="KHR_draco_mesh_compression"):
        read_content(tmp_path / "draco.glb", np.eye(4))


# -- selection --------------------------------------------------------------------------------
def test_far_camera_selects_coarse_tiles_and_street_level_the_leaves_in_view(city):
    tileset = read_tileset(city)
    depth = tileset.depth
    always = lambda tile: True  # noqa: E731
    cost = lambda tile: (100, 0)  # noqa: E731
    far = select(tileset, FAR, Budget(), cost, always)
    street = select(tileset, STREET, Budget(), cost, always)
    buildings = lambda tiles: [t for t in tiles if tileset.contents[t] and tileset.contents[t][0].layer == 0]  # noqa: E731
    assert max(depth[buildings(far.wanted)]) < max(depth[buildings(street.wanted)])
    assert set(depth[buildings(street.wanted)]) == {depth.max()}  # the building leaves
    # leaves the street camera looks away from are not wanted
    leaves = [t for t in range(len(tileset)) if not tileset.children[t] and tileset.contents[t][0].layer == 0]
    assert 0 < len(buildings(street.wanted)) < len(leaves)


def test_selection_refines_biggest_error_first_within_the_budget(city):
    tileset = read_tileset(city)
    always = lambda tile: True  # noqa: E731
    layer = lambda tile: tileset.contents[tile][0].layer if tileset.contents[tile] else -1  # noqa: E731
    cost = lambda tile: {0: (100, 0), 1: (0, 50)}.get(layer(tile), (0, 0))  # noqa: E731
    for triangles in (150, 400, 1000):
        selection = select(tileset, STREET, Budget(triangles=triangles, points=10_000), cost, always)
        assert selection.triangles <= max(triangles, 100)  # the overview tile is always shown
        assert selection.triangles == 100 * sum(1 for t in selection.wanted if layer(t) == 0)
    tight = select(tileset, STREET, Budget(triangles=150), cost, always)
    assert tight.skipped  # refinement stopped at the budget


def test_unloaded_replace_children_keep_their_parent_on_screen(city):
    tileset = read_tileset(city)
    coarse = {t for t in range(len(tileset)) if tileset.parent[t] in (-1, 0)}
    selection = select(tileset, STREET, Budget(), lambda t: (100, 0), lambda t: t in coarse)
    assert selection.missing and set(selection.drawn) <= coarse
    assert 1 in selection.drawn  # the coarse buildings until the finer tiles are in


def test_stream_respects_the_budget_with_real_counts(city):
    stream = loaded_stream(city, STREET, budget=Budget(triangles=200))
    meshes = stream.assemble()
    overview = sum(stream.cache.cost(t)[0] for t in stream.overview())
    assert meshes[0].n_cells <= max(200, overview)
    assert stream.status(meshes).triangles == meshes[0].n_cells


# -- the cache --------------------------------------------------------------------------------
def test_lru_eviction_under_the_memory_cap(city):
    tileset = read_tileset(city)
    leaves = [t for t in range(len(tileset)) if not tileset.children[t] and tileset.contents[t]][:8]
    sizes = []
    for tile in leaves[:4]:
        probe = TileCache(tileset)
        probe.load_now([tile])
        sizes.append(probe.nbytes)
    cache = TileCache(tileset, cap=sizes[0] + sizes[2] + sizes[3] + min(sizes) // 2)
    cache.load_now(leaves[:3])
    cache.get(leaves[0])  # used: the second one is now the least recently used
    cache.load_now(leaves[3:4])
    assert cache.nbytes <= cache.cap and cache.evictions == 1
    assert cache.loaded(leaves[0]) and not cache.loaded(leaves[1])
    cache.pinned = set(leaves[:4])  # drawn tiles stay even above the cap
    cache.load_now(leaves[4:6])
    assert all(cache.loaded(t) for t in leaves[2:4]) and cache.loaded(leaves[0])
    cache.close()


def test_tiles_load_on_the_pool_not_the_caller(city):
    stream = CityStream(city)
    stream.set_camera("v", STREET)
    stream.plan()
    assert stream.cache.busy or stream.cache.loads  # queued, not read inline
    stream.cache.wait()
    assert stream.cache.loads > 0 and not stream.cache.busy
    stream.close()


def test_corrupt_and_missing_tiles_are_skipped_with_a_warning(city, tmp_path, caplog):
    folder = fresh(city, tmp_path)
    tiles = sorted((folder / "tiles").glob("b_2_*.glb"))
    tiles[0].write_bytes(tiles[0].read_bytes()[:100])  # truncated
    tiles[1].unlink()  # missing
    caplog.set_level(logging.WARNING, "twin.streaming")
    stream = loaded_stream(folder, FAR, budget=Budget(max_error_px=0.0))
    assert len(stream.cache.failed) == 2
    assert sum("skipped" in r.getMessage() for r in caplog.records) == 2
    assert "2 tiles skipped" in stream.status().text()
    lost = sum(read_content(city / "tiles" / t.name, np.eye(4))[0].n_triangles for t in tiles[:2])
    assert stream.assemble()[0].n_cells == 768 - lost  # every other leaf is drawn


# -- merged meshes and colours ----------------------------------------------------------------
def test_merged_mesh_carries_the_asset_row_of_every_cell(city):
    stream = loaded_stream(city, FAR, budget=Budget(max_error_px=0.0))
    twin = stream.twin()
    buildings, lidar = stream.assemble()
    assert buildings.n_cells == 768 and lidar.n_points == 64 * 40
    rows = np.asarray(buildings.cell_data["asset_index"])
    centres = np.asarray(buildings.cell_centers().points) + twin.origin
    b = twin.assets.bounds[rows]
    inside = (centres >= b[:, 0::2] - 1e-3) & (centres <= b[:, 1::2] + 1e-3)
    assert inside.all()
    assert set(np.unique(rows)) == set(range(64))
    points = np.asarray(lidar.point_data["asset_index"])
    assert set(np.unique(points)) == set(range(64, 128))
    assert str(twin.assets["kind"][points[0]]) == "point_cloud"


def test_recolouring_is_one_write_by_asset_row(city):
    stream = loaded_stream(city, FAR, budget=Budget(max_error_px=0.0))
    mesh = stream.assemble()[0]
    per_asset = np.random.default_rng(1).integers(0, 255, (128, 3), dtype=np.uint8)
    out = colour_by_rows(mesh, "risk_rgb", per_asset, np.zeros(3, np.uint8))
    rows = np.asarray(mesh.cell_data["asset_index"])
    assert np.array_equal(out, per_asset[rows])
    per_asset[7] = [255, 0, 0]
    colour_by_rows(mesh, "risk_rgb", per_asset, np.zeros(3, np.uint8))
    assert np.all(np.asarray(mesh.cell_data["risk_rgb"])[rows == 7] == [255, 0, 0])


def test_empty_layers_merge_to_an_empty_mesh_with_the_index():
    mesh = merge([], points=False)
    assert mesh.n_cells == 0 and "asset_index" in mesh.cell_data.keys()


def test_the_twin_holds_the_whole_city_loaded_or_not(city):
    stream = CityStream(city)
    stream.load_coarse()
    twin = stream.twin()
    assert len(twin.assets) == 128 and twin.crs == "EPSG:32650"
    assert np.allclose(twin.origin, [500000.0, 3500000.0, 0.0])
    row = twin.assets.index_of("B00063")
    assert row == 63 and np.isfinite(twin.assets.bounds[row]).all()
    assert [layer.geometry for layer in twin.layers] == ["mesh", "points"]


# -- the loader -------------------------------------------------------------------------------
def test_loader_reads_a_foreign_b3dm_tileset_as_a_source():
    assert TILESET.sniff(CITY_B3DM.read_bytes()[:4096])
    twin = Twin("t")
    twin.add_source(load_tileset(CITY_B3DM, {}))
    assert len(twin.assets) == 40 and twin.layers[0].dataset.n_cells == 480
    assert {"Longitude", "Latitude", "Height", "batch_id"} <= set(twin.assets.attribute_columns)
    assert str(twin.assets["id"][0]) == "ll/0"


def test_loader_reads_our_city_with_its_asset_rows_and_stays_in_budget(city):
    source = load_tileset(city / "tileset.json", {"triangles": 300})
    assert any("coarser level of detail" in w for w in source.warnings)
    full = load_tileset(city / "tileset.json", {})
    twin = Twin("t")
    twin.add_source(full)
    assert sorted(np.unique(twin.assets["id"]).tolist())[:2] == ["B00000", "B00001"] and len(twin.assets) == 128
    assert twin.layers[0].dataset.n_cells == 768 and twin.crs == "EPSG:32650"


def test_a_big_city_source_in_a_scene_is_handed_over_to_streaming(city):
    from twin.faces.app.city_stream import hand_over

    twin = Twin("scene")
    twin.add_source(load_tileset(city / "tileset.json", {"triangles": 300}), name="city")
    assert twin.sources[0].details["streamed"]
    stream, layers = hand_over(twin)
    assert [layer.name for layer in layers] == ["city/buildings", "city/lidar"]
    stream.set_camera("v", STREET)  # the scene's frame: the loader's origin is not the tileset's
    for _ in range(6):
        stream.plan()
        stream.cache.wait()
    stream.plan()
    buildings, lidar = stream.assemble()
    rows = np.asarray(buildings.cell_data["asset_index"])
    assert rows.min() >= layers[0].asset_start and rows.max() < layers[0].asset_stop
    # a streamed cell's asset is the same building in the scene's table, and sits inside its bounds
    centres = np.asarray(buildings.cell_centers().points)
    bounds = twin.assets.bounds[rows]
    world = twin.to_world(centres)
    assert np.all((world >= bounds[:, 0::2] - 1e-3) & (world <= bounds[:, 1::2] + 1e-3))
    assert str(twin.assets["id"][rows[0]]).startswith("B")
    points = np.asarray(lidar.point_data["asset_index"])
    assert points.min() >= layers[1].asset_start and str(twin.assets["kind"][points[0]]) == "point_cloud"
    stream.close()


def test_a_streamed_city_searches_its_asset_index(city):
    from twin.asset_index import AssetIndex
    from twin.faces.app.search import IndexSearch

    found = IndexSearch(AssetIndex.open(city)).suggest("B00063")
    assert found[0]["index"] == 63 and found[0]["title"] == "Building 63"
    assert [s["index"] for s in IndexSearch(AssetIndex.open(city)).suggest("Lidar 5", limit=1)] == [69]


def test_an_overview_over_the_budget_still_refines_to_what_a_close_view_sees(city):
    tileset = read_tileset(city)
    depth = tileset.depth
    layer = lambda tile: tileset.contents[tile][0].layer if tileset.contents[tile] else -1  # noqa: E731
    cost = lambda tile: {0: (1000 // 4 ** max(depth[tile] - 1, 0), 0), 1: (0, 10)}.get(layer(tile), (0, 0))  # noqa: E731
    selection = select(tileset, STREET, Budget(triangles=100), cost, lambda tile: True)
    buildings = [t for t in selection.wanted if layer(t) == 0]
    assert 1 not in buildings and max(depth[buildings]) > 1  # refined past the 1000-triangle overview
    assert selection.triangles <= 1000  # ... without ever growing past it


@pytest.mark.slow
def test_the_tilers_demo_district_streams_with_each_layers_own_assets(tmp_path):
    """``twin tile scenes/demo.toml -o DIR`` (the real tiler), read back by the streaming viewer."""
    done = twin_cli("tile", DEMO, "-o", tmp_path / "demo", "--workers", "1", timeout=900)
    assert done.returncode == 0, done.stderr
    stream = loaded_stream(tmp_path / "demo", FAR, budget=Budget(max_error_px=0.0))
    twin = stream.twin()
    assert len(twin.assets) == stream.counts["assets"] and not stream.cache.failed
    for layer, mesh in zip(twin.layers, stream.assemble()):
        data = mesh.point_data if layer.geometry == "points" else mesh.cell_data
        rows = np.asarray(data["asset_index"])
        if len(rows):
            assert set(twin.assets["layer"][np.unique(rows)].tolist()) == {layer.name}
    assert str(twin.assets["id"][twin.assets.index_of("bldg-005")]) == "bldg-005"


def test_risk_colours_reach_tiles_as_they_load(city):
    """A level set before a tile loads colours it when it is swapped in (the app's swap, no server)."""
    from types import SimpleNamespace

    from twin.faces.app.city_stream import CityStreaming
    from twin.faces.app.risk_paint import RiskPaint
    from twin.risk.colours import LEVEL_RGB
    from twin.risk.levels import RED

    stream = CityStream(city)
    stream.load_coarse()
    twin = stream.twin()
    paint = RiskPaint(twin)
    levels = np.zeros(len(twin.assets), dtype=np.int8)
    levels[63] = RED
    paint.paint(levels)
    server = SimpleNamespace(
        state={},
        enable_module=lambda _: None,
        controller=SimpleNamespace(on_server_ready=SimpleNamespace(add=lambda _: None)),
    )
    app = SimpleNamespace(
        pool=SimpleNamespace(views={}, spares=[]),
        push=None,
        scene_of=None,
        _caller=lambda: None,
        twin=twin,
        server=server,
        live=SimpleNamespace(paint=paint),
        actions=SimpleNamespace(selection=SimpleNamespace(finder=None)),
        show=lambda view: None,
    )
    streaming = CityStreaming(app, stream)
    stream.set_camera("v", FAR)
    for _ in range(6):
        stream.plan()
        stream.cache.wait()
    stream.plan()
    streaming.swap(stream.assemble())
    mesh = twin.layers[0].dataset
    rows = np.asarray(mesh.cell_data["asset_index"])
    colours = np.asarray(mesh.cell_data["risk_rgb"])
    assert (rows == 63).any() and np.all(colours[rows == 63] == LEVEL_RGB[RED])
    assert not np.any(np.all(colours[rows != 63] == LEVEL_RGB[RED], axis=1))
    assert "tiles" in server.state["city_status"]
    stream.close()


# -- start-up: the asset index by column, the overview within the budget -----------------------
def test_the_asset_index_reads_a_column_the_first_time_it_is_asked_for(city):
    from twin.streaming.assets import CityAssets

    assets = CityAssets(city / "assets.parquet")
    assert len(assets) == 128 and np.isfinite(assets.bounds).all()
    assert assets.loaded_columns == []  # only the bounds at start
    assert "kind" in assets and "kind" not in assets.loaded_columns
    row = assets.row(63)  # the inspector: one row group, no whole column
    assert row["id"] == "B00063" and assets.loaded_columns == []
    assert assets.index_of("B00063") == 63 and assets.loaded_columns == ["id"]
    assert str(assets["kind"][64]) == "point_cloud"
    assert assets.row(64)["kind"] == "point_cloud"  # a loaded column answers from memory the same


def test_a_heavy_overview_is_cut_to_the_budget(city):
    """Every top tile is wanted only while the budget holds (the first always): a tileset whose
    coarse level alone is over the budget no longer draws all of it."""
    from twin.streaming.select import admitted, top_tiles

    tileset = read_tileset(city)
    tops = top_tiles(tileset)
    heavy = lambda tile: (50_000, 0) if tileset.contents[tile][0].layer == 0 else (0, 5_000)  # noqa: E731
    assert admitted(tileset, tops, heavy, Budget()) == tops  # fits: all of it
    cut = admitted(tileset, tops, heavy, Budget(triangles=60_000, points=5_000))
    assert sum(heavy(t)[0] for t in cut) <= 60_000 and sum(heavy(t)[1] for t in cut) <= 5_000
    assert any(heavy(t)[0] for t in cut) and any(heavy(t)[1] for t in cut)  # a first tile of each kind


def test_a_malformed_tile_is_named_by_its_place(tmp_path):
    document = json.loads(CITY_B3DM.read_text())
    del document["root"]["children"][1]["boundingVolume"]
    path = tmp_path / "tileset.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match="bounding volume") as error:
        read_tileset(path)
    assert "root.children[1]" in str(error.value)
