"""A cloud read straight into float32 relative to the scene origin comes back to the world
within a millimetre: single files, manifests with a fixed origin or an earlier source,
placement and reprojection (the twin then goes through world coordinates)."""

from __future__ import annotations

from pathlib import Path

import laspy
import numpy as np
import pytest
from conftest import DATA

from loaders.pointcloud import load
from twin.geo import reproject
from twin.loading import load as load_twin
from twin.scene import Twin

PC = DATA / "pointcloud"
FAR = np.array([385_000.0, 3_548_000.0, 12.0])  # real projected coordinates (EPSG:4549)
MM = 1e-3


def far_cloud(folder: Path, name: str = "far.las", shift: float = 0.0) -> tuple[Path, np.ndarray]:
    """simple.las moved to E 385,000 / N 3,548,000 (plus ``shift`` metres east), at mm scale."""
    las = laspy.read(PC / "simple.las")
    xyz = np.column_stack([las.x, las.y, las.z])
    xyz = xyz - xyz.min(axis=0) + FAR + [shift, 0, 0]
    las.x, las.y, las.z = xyz[:, 0], xyz[:, 1], xyz[:, 2]  # fits simple.las' cm scale; then to mm
    las.change_scaling(scales=[0.001] * 3, offsets=[385_000.0, 3_548_000.0, 0.0])
    path = folder / name
    las.write(path)
    back = laspy.read(path)
    return path, np.column_stack([back.x, back.y, back.z])


def world_of(scene: Twin, index: int = 0) -> np.ndarray:
    layer = scene.layers[index]
    local = np.asarray(layer.dataset.points)
    assert local.dtype == np.float32 and np.abs(local).max() < 10_000
    return scene.to_world(local)


def manifest(folder: Path, body: str) -> Path:
    path = folder / "scene.toml"
    path.write_text('name = "origin test"\ncrs = "EPSG:4549"\n' + body)
    return path


def test_single_file_round_trips_within_a_millimetre(tmp_path):
    path, xyz = far_cloud(tmp_path)
    scene = load_twin(path)
    part = load(path, {}).parts[0]
    np.testing.assert_array_equal(scene.origin, part.origin)  # the loader's choice is the scene's
    np.testing.assert_allclose(world_of(scene), xyz, rtol=0, atol=MM)
    bounds = scene.assets.bounds
    assert np.all(bounds[:, 0::2] >= xyz.min(axis=0) - MM) and np.all(bounds[:, 1::2] <= xyz.max(axis=0) + MM)


def test_origin_fixed_by_the_manifest(tmp_path):
    path, xyz = far_cloud(tmp_path)
    scene = load_twin(manifest(tmp_path, f'origin = [385100.0, 3548050.0, 0.0]\n\n[[sources]]\npath = "{path}"\n'))
    np.testing.assert_array_equal(scene.origin, [385_100.0, 3_548_050.0, 0.0])
    np.testing.assert_allclose(world_of(scene), xyz, rtol=0, atol=MM)


def test_origin_fixed_by_an_earlier_source(tmp_path):
    first, _ = far_cloud(tmp_path, "first.las", shift=2_000.0)
    path, xyz = far_cloud(tmp_path)
    scene = load_twin(manifest(tmp_path, f'[[sources]]\npath = "{first}"\n\n[[sources]]\npath = "{path}"\n'))
    np.testing.assert_array_equal(scene.origin, load(first, {}).parts[0].origin)
    assert scene.sources[1].details["points_shown"] == len(xyz)
    np.testing.assert_allclose(world_of(scene, 1), xyz, rtol=0, atol=MM)


def test_a_part_local_to_another_origin_is_shifted(tmp_path):
    path, xyz = far_cloud(tmp_path)
    scene = Twin(origin=FAR + [-1234.5, 678.25, 3.0])
    scene.add_source(load(path, {}))  # the loader chose its own origin
    np.testing.assert_allclose(world_of(scene), xyz, rtol=0, atol=MM)
    bounds = scene.assets.bounds  # world, as the loader measured them
    np.testing.assert_allclose(bounds[:, 0::2].min(axis=0), xyz.min(axis=0), rtol=0, atol=MM)
    np.testing.assert_allclose(bounds[:, 1::2].max(axis=0), xyz.max(axis=0), rtol=0, atol=MM)


def test_placed_cloud(tmp_path):
    path, xyz = far_cloud(tmp_path)
    scene = load_twin(
        manifest(tmp_path, f'[[sources]]\npath = "{path}"\nplacement = {{ offset = [10.0, -20.0, 1.5] }}\n')
    )
    expected = xyz + [10.0, -20.0, 1.5]
    np.testing.assert_allclose(world_of(scene), expected, rtol=0, atol=MM)
    assert np.all(scene.assets.bounds[:, 0] >= expected[:, 0].min() - MM)


@pytest.mark.parametrize("fixed", [False, True], ids=["chosen", "fixed"])
def test_reprojected_cloud(tmp_path, fixed):
    path = PC / "autzen-utm.las"  # EPSG:26910 (NAD83 / UTM 10N) into WGS 84 / UTM 10N
    las = laspy.read(path)
    expected = reproject(np.column_stack([las.x, las.y, las.z]), "EPSG:26910", "EPSG:32610")
    scene_origin = np.round(expected.mean(axis=0)) + [120.0, -80.0, 0.0]
    body = (f"origin = {scene_origin.tolist()}\n" if fixed else "") + f'\n[[sources]]\npath = "{path}"\n'
    toml = tmp_path / "scene.toml"
    toml.write_text('name = "reprojected"\ncrs = "EPSG:32610"\n' + body)
    scene = load_twin(toml)
    assert scene.sources[0].crs == "EPSG:26910" and scene.crs == "EPSG:32610"
    np.testing.assert_allclose(world_of(scene), expected, rtol=0, atol=MM)


def test_decimated_and_boxed_clouds_keep_their_origin(tmp_path):
    path, xyz = far_cloud(tmp_path)
    box = [FAR[0] + 50, FAR[0] + 400, FAR[1], FAR[1] + 400]
    for options in ({"budget": 300}, {"box": box}, {"box": box, "budget": 100}):
        part = load(path, {**options, "origin": FAR}).parts[0]
        np.testing.assert_array_equal(part.origin, FAR)
        world = part.world_points()
        # every point shown is one of the file's points, to within a millimetre
        nearest = np.abs(world[:, None, :2] - xyz[None, :, :2]).max(axis=2).min(axis=1)
        assert len(world) and nearest.max() < MM


def test_a_scene_origin_far_from_the_cloud_is_not_used(tmp_path):
    # e.g. a scene in another CRS: float32 relative to it would lose precision
    path, xyz = far_cloud(tmp_path)
    part = load(path, {"origin": FAR - [0.0, 1_000_000.0, 0.0]}).parts[0]
    np.testing.assert_array_equal(part.origin, load(path, {}).parts[0].origin)
    np.testing.assert_allclose(part.world_points(), xyz, rtol=0, atol=MM)


def test_bad_origin_option_is_an_input_error(tmp_path):
    from twin.errors import InputError

    with pytest.raises(InputError, match="origin"):
        load(PC / "simple.las", {"origin": [1.0, 2.0]})
