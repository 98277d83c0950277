"""The Twin: origin shift without jitter, CRS handling, placement, failed sources."""

import numpy as np
import pytest
from conftest import DEMO

import twin
from twin.geo import Placement
from twin.scene import Twin
from twin.synthetic import box_source

FAR = np.array([385_000.0, 3_548_000.0, 12.0])  # real projected coordinates (EPSG:4549)


def test_far_coordinates_render_small_and_round_trip_without_jitter():
    offsets = np.array([[0, 0, 0], [0.001, 0.002, 0.003], [250.25, -130.5, 40.0]])
    scene = Twin(crs="EPSG:4549")
    scene.add_source(box_source(FAR + offsets, sizes=np.full((3, 3), 0.5)))
    layer = scene.layers[0]
    local = np.asarray(layer.dataset.points)
    assert local.dtype == np.float32
    assert np.abs(local).max() < 1000
    # centres come back in world coordinates to better than a millimetre
    assert np.allclose(scene.assets.centres, FAR + offsets, atol=1e-3, rtol=0)
    world = scene.to_world(local)
    assert np.allclose(world.reshape(3, 8, 3).mean(axis=1), FAR + offsets, atol=1e-3, rtol=0)
    # two boxes 1-3 mm apart stay apart in float32 (no jitter collapses them)
    assert not np.allclose(local[:8], local[8:16], atol=1e-4)


def test_asset_index_is_offset_into_the_shared_table():
    scene = Twin()
    scene.add_source(box_source(FAR + np.zeros((2, 3)), name="a"))
    scene.add_source(box_source(FAR + np.ones((3, 3)), name="b"))
    assert len(scene.assets) == 5
    second = scene.layers[1]
    assert (second.asset_start, second.asset_stop) == (2, 5)
    assert set(np.unique(second.asset_index)) == {2, 3, 4}
    assert list(scene.assets["layer"]) == ["generated/a"] * 2 + ["generated/b"] * 3


def test_a_source_in_another_crs_is_reprojected():
    lon_lat = np.array([[118.8, 32.05, 10.0]])  # Nanjing, WGS 84
    scene = Twin(crs="EPSG:4549")
    scene.add_source(box_source(lon_lat, sizes=np.full((1, 3), 1e-6), crs="EPSG:4326"))
    x, y, _ = scene.assets.centres[0]
    assert 380_000 < x < 390_000 and 3_540_000 < y < 3_560_000


def test_placement_scales_rotates_and_offsets():
    placed = Placement(offset=(100.0, 200.0, 5.0), rotation_deg=90.0, scale=0.001).apply(np.array([[1000.0, 0, 0]]))
    assert np.allclose(placed, [[100.0, 201.0, 5.0]])


def test_the_scene_crs_comes_from_the_first_source_when_unset():
    scene = Twin()
    scene.add_source(box_source(FAR[None, :], crs="EPSG:4549"))
    assert scene.crs == "EPSG:4549"


def test_a_failing_source_is_listed_and_the_rest_loads(tmp_path):
    bad = tmp_path / "broken.city.json"
    bad.write_text("{not json")
    manifest = tmp_path / "scene.toml"
    manifest.write_text(
        f'name = "mixed"\n[[sources]]\npath = "{bad.name}"\n'
        f'[[sources]]\npath = "{DEMO.parent.parent / "data_samples/demo/district.city.json"}"\n'
    )
    scene = twin.load(manifest)
    assert [s.error is not None for s in scene.sources] == [True, False]
    assert "broken.city.json: line 1: invalid JSON" in scene.sources[0].error
    assert len(scene.assets) > 20


def test_the_demo_district_is_a_real_district():
    scene = twin.load(DEMO)
    assert scene.crs == "EPSG:4549"
    kinds = list(scene.assets["kind"])
    assert kinds.count("Building") >= 20 and kinds.count("Road") >= 4
    xmin, xmax, ymin, ymax, _, _ = scene.bounds
    assert 384_000 < xmin < xmax < 386_000 and 3_547_000 < ymin < ymax < 3_549_000
    for layer in scene.layers:
        assert "asset_index" in layer.dataset.array_names


def test_loading_a_missing_file_raises_input_error(tmp_path):
    with pytest.raises(twin.InputError, match="no such file"):
        twin.load(tmp_path / "nothing.ifc")


def test_asset_bounds_are_right_when_assets_share_points():
    import pyvista as pv

    from twin.assets import AssetTable
    from twin.layer import LayerPart, part_asset_bounds

    points = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 5, 5]], dtype=float)
    mesh = pv.PolyData(points, faces=[3, 0, 1, 2, 3, 1, 3, 2])  # the two triangles share points 1 and 2
    part = LayerPart("t", mesh, AssetTable.build(["a", "b"], kind="k"), np.array([1, 0]))
    bounds = part_asset_bounds(part)
    assert bounds[1].tolist() == [0, 1, 0, 1, 0, 0]
    assert bounds[0].tolist() == [0, 5, 0, 5, 0, 5]
