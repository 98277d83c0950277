"""The point cloud loader on real LAS/LAZ/COPC samples: every point as laspy reads it."""

from __future__ import annotations

import json

import laspy
import numpy as np
import pytest
from conftest import DATA, twin_cli

from loaders.pointcloud import BUDGET_SERVER, load
from twin.colours import point_classes as pointcolors

PC = DATA / "pointcloud"
GOOD = [
    "simple.las",
    "simple.laz",
    "simple1_1.las",
    "simple1_3.las",
    "simple1_4.las",
    "test1_4.las",
    "vegetation_1_3.las",
    "append-bug.laz",
    "autzen-utm.las",
    "1.2-with-color.copc.laz",
    "epsg_4326.las",
    "sample_c.las",
    "1.2_2.las",
]
CRS = {
    "autzen-utm.las": "EPSG:26910",
    "append-bug.laz": "EPSG:2154",
    "1.2_2.las": "EPSG:26915",
    "epsg_4326.las": "EPSG:4326",
    "simple.las": None,
    "simple1_4.las": None,
    "sample_c.las": None,
}


def assert_world(part, expected) -> None:
    """The part's points are ``expected`` world coordinates to within one float32 step of its
    local coordinates (the loader reads them as float32 relative to its origin)."""
    assert part.origin is not None and np.asarray(part.dataset.points).dtype == np.float32
    local = np.asarray(expected, dtype=np.float64) - part.origin
    step = np.spacing(np.float32(max(np.abs(local).max(initial=0), 1.0)))
    np.testing.assert_allclose(part.world_points(), expected, rtol=0, atol=float(step))


@pytest.fixture(autouse=True)
def preview_cache(tmp_path, monkeypatch):
    """Previews are kept in a folder of the test's own."""
    monkeypatch.setenv("CIM_TWIN_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module", params=GOOD, ids=GOOD)
def sample(request):
    path = PC / request.param
    return path, load(path, {}), laspy.read(path)


def test_every_point_as_laspy_reads_it(sample):
    path, loaded, las = sample
    part = loaded.parts[0]
    data = part.dataset.point_data
    assert loaded.details["points_total"] == las.header.point_count == len(las.points)
    assert loaded.details["points_shown"] == part.dataset.n_points == len(las.points)
    assert part.dataset.n_cells == part.dataset.n_points  # one vertex cell per point
    expected = np.column_stack([np.asarray(las.x), np.asarray(las.y), np.asarray(las.z)])
    assert_world(part, expected)
    np.testing.assert_array_equal(data["classification"], np.asarray(las.classification))
    np.testing.assert_array_equal(data["intensity"], np.asarray(las.intensity))
    np.testing.assert_array_equal(data["return_number"], np.asarray(las.return_number))
    if "gps_time" in las.point_format.dimension_names:
        np.testing.assert_array_equal(data["gps_time"], np.asarray(las.gps_time))
    for dim in las.point_format.extra_dimensions:
        np.testing.assert_array_equal(data[dim.name], np.asarray(las[dim.name]))


def test_header_facts_and_class_counts(sample):
    path, loaded, las = sample
    details = loaded.details
    assert details["version"] == str(las.header.version)
    assert details["point_format"] == las.header.point_format.id
    codes, counts = np.unique(np.asarray(las.classification), return_counts=True)
    assert {c: v["count"] for c, v in details["classes"].items()} == dict(zip(codes.tolist(), counts.tolist()))
    assert all(v["name"] == pointcolors.class_name(c) for c, v in details["classes"].items())
    # bounds are the points' (exactly as laspy scales them), whatever the header says
    xyz = [np.asarray(las.x), np.asarray(las.y), np.asarray(las.z)]
    assert details["bounds_from"] == "points"
    assert details["bounds"][0::2] == [float(v.min()) for v in xyz]
    assert details["bounds"][1::2] == [float(v.max()) for v in xyz]
    np.testing.assert_array_equal(details["header_bounds"][0::2], las.header.mins)
    np.testing.assert_array_equal(details["header_bounds"][1::2], las.header.maxs)


def test_classes_are_the_assets(sample):
    path, loaded, las = sample
    part = loaded.parts[0]
    assert part.association == "point"
    stem = path.name.split(".la")[0].removesuffix(".copc")
    codes = part.assets["class_code"].astype(int)
    assert list(part.assets["id"]) == [f"{stem}/class-{c}" for c in codes]
    assert list(part.assets["name"]) == [pointcolors.class_name(c) for c in codes]
    np.testing.assert_array_equal(codes[part.asset_index], part.dataset.point_data["classification"])


def test_rgb_is_8_bit_and_styled(sample):
    path, loaded, las = sample
    part = loaded.parts[0]
    if "red" not in las.point_format.dimension_names:
        assert part.style.rgb_array is None and "rgb" not in part.dataset.point_data
        return
    rgb16 = np.column_stack([las.red, las.green, las.blue])
    expected = rgb16 if rgb16.max() <= 255 else rgb16 >> 8
    assert part.style.rgb_array == "rgb"
    rgb = part.dataset.point_data["rgb"]
    assert rgb.dtype == np.uint8 and rgb.shape == (len(las.points), 3)
    np.testing.assert_array_equal(rgb, expected)


@pytest.mark.parametrize("name", sorted(CRS), ids=sorted(CRS))
def test_crs_carried_or_distrusted(name):
    loaded = load(PC / name, {})
    assert loaded.crs == CRS[name]
    if name == "simple1_4.las":  # GeoTIFF keys say EPSG:4326 over coordinates 1..226
        assert any("cannot be degrees" in w for w in loaded.warnings)


@pytest.mark.parametrize("stream", [False, True], ids=["in-memory", "streamed"])
def test_budget_decimates_evenly_over_the_whole_extent(monkeypatch, stream):
    import loaders.pointcloud.reading as reading

    if stream:
        monkeypatch.setattr(reading, "STREAM_ABOVE_BYTES", {"las": 0, "laz": 0})
    path = PC / "sample_c.las"
    full = load(path, {})
    loaded = load(path, {"budget": 2000})
    xyz = np.asarray(loaded.parts[0].dataset.points)
    all_xyz = np.asarray(full.parts[0].dataset.points)
    assert 1800 <= len(xyz) <= 2000
    assert loaded.details["points_shown"] == len(xyz) and loaded.details["points_total"] == 14408
    assert loaded.details["classes"] == full.details["classes"]  # counts are of every point
    assert loaded.warnings[0].startswith(f"showing {len(xyz):,} of 14,408 points")
    # the extent is kept, and every well-filled cell of a coarse 8 x 8 grid keeps points
    lo, hi = all_xyz.min(axis=0), all_xyz.max(axis=0)
    extent = hi - lo
    assert np.all(np.abs(xyz.min(axis=0) - lo) < 0.05 * extent + 1e-9)
    assert np.all(np.abs(xyz.max(axis=0) - hi) < 0.05 * extent + 1e-9)

    def cell_counts(p):
        cell = np.minimum(((p[:, :2] - lo[:2]) / extent[:2] * 8).astype(int), 7)
        return np.bincount(cell[:, 0] * 8 + cell[:, 1], minlength=64)

    full_counts, kept = cell_counts(all_xyz), cell_counts(xyz)
    assert np.all(kept[full_counts >= 20] > 0)
    # dense cells are thinned more than sparse ones: the density evens out
    dense, sparse = (
        full_counts >= np.percentile(full_counts[full_counts > 0], 75),
        (full_counts > 0) & (full_counts <= np.percentile(full_counts[full_counts > 0], 25)),
    )
    assert (kept[dense] / full_counts[dense]).mean() < (kept[sparse] / full_counts[sparse]).mean()
    # not the first N points: the sample reaches the end of the file
    assert (xyz[:, None, :] == all_xyz[-200:][None]).all(axis=2).any()


def test_render_mode_picks_the_budget():
    loaded = load(PC / "sample_c.las", {"render": "server"})
    assert loaded.details["budget"] == BUDGET_SERVER


@pytest.mark.parametrize("stream", [False, True], ids=["in-memory", "streamed"])
def test_box_reloads_a_region_at_full_density(monkeypatch, stream):
    import loaders.pointcloud.reading as reading

    if stream:
        monkeypatch.setattr(reading, "STREAM_ABOVE_BYTES", {"las": 0, "laz": 0})
    path = PC / "sample_c.las"
    las = laspy.read(path)
    x, y = np.asarray(las.x), np.asarray(las.y)
    box = [674540.0, 674570.0, 1206750.0, 1206790.0]
    inside = (x >= box[0]) & (x <= box[1]) & (y >= box[2]) & (y <= box[3])
    big = load(path, {"box": box})
    assert big.details["points_shown"] == big.details["points_read"] == int(inside.sum())
    np.testing.assert_allclose(big.parts[0].world_points()[:, 0], x[inside], rtol=0, atol=1e-4)
    small = load(path, {"box": box, "budget": 100})
    assert 80 <= small.details["points_shown"] <= 100 and small.details["points_read"] == int(inside.sum())
    xyz = small.parts[0].world_points()  # within the box, to float32 precision near the origin
    assert np.all(
        (xyz[:, 0] >= box[0] - 1e-4)
        & (xyz[:, 0] <= box[1] + 1e-4)
        & (xyz[:, 1] >= box[2] - 1e-4)
        & (xyz[:, 1] <= box[3] + 1e-4)
    )
    counted = {c: v["count"] for c, v in small.details["classes"].items()}
    codes, counts = np.unique(np.asarray(las.classification)[inside], return_counts=True)
    assert counted == dict(zip(codes.tolist(), counts.tolist()))


def test_copc_reads_by_level_and_box():
    path = PC / "1.2-with-color.copc.laz"
    full = laspy.read(path)
    level0 = load(path, {"level": 0})
    per_level = level0.details["copc_points_per_level"]
    assert sum(per_level) == len(full.points) == level0.details["points_total"]
    assert level0.details["points_shown"] == per_level[0]
    fitted = load(path, {"budget": 300})
    assert fitted.details["copc_level_read"] == 2 and fitted.details["points_shown"] == sum(per_level[:3])
    x, y = np.asarray(full.x), np.asarray(full.y)
    box = [636000.0, 637500.0, 849500.0, 852000.0]
    boxed = load(path, {"box": box})
    inside = (x >= box[0]) & (x <= box[1]) & (y >= box[2]) & (y <= box[3])
    assert boxed.details["points_shown"] == int(inside.sum())
    assert load(path, {}).details["points_shown"] == len(full.points)


def test_twin_info_reports_the_cloud():
    run = twin_cli("info", PC / "sample_c.las", "--json", "--budget", "5000")
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    block = info["pointcloud"]
    assert {"points_total", "points_shown", "version", "point_format", "classes"} <= set(block)
    assert block["points_total"] == 14408 and block["points_shown"] <= 5000
    assert block["classes"]["6"] == {
        "name": "Building",
        "count": int(np.sum(np.asarray(laspy.read(PC / "sample_c.las").classification) == 6)),
    }
    assert any(w.startswith("showing ") and "of 14,408 points" in w for w in info["warnings"])
    assert info["layers"][0]["geometry"] == "points"


def test_8_bit_colour_stored_in_16_bit_fields_is_detected(tmp_path):
    las = laspy.read(PC / "simple.las")
    expected = np.column_stack([las.red, las.green, las.blue]) >> 8
    las.red, las.green, las.blue = (np.asarray(c) >> 8 for c in (las.red, las.green, las.blue))
    path = tmp_path / "eight_bit.las"
    las.write(path)
    loaded = load(path, {})
    np.testing.assert_array_equal(loaded.parts[0].dataset.point_data["rgb"], expected)


def test_scene_layer_keeps_per_point_assets():
    from twin.loading import load as load_twin

    twin = load_twin(PC / "sample_c.las", options={"budget": 3000})
    layer = twin.layers[0]
    assert layer.geometry == "points" and layer.association == "point"
    index = layer.asset_index
    names = twin.assets["name"][index]
    classes = layer.dataset.point_data["classification"]
    assert all(names[classes == c][0] == pointcolors.class_name(c) for c in np.unique(classes))
    building = twin.assets.index_of("sample_c/class-6")
    assert np.isfinite(twin.assets.bounds[building]).all()


@pytest.mark.parametrize("version,point_format", [("1.3", 5), ("1.4", 9), ("1.4", 10)])
def test_formats_the_samples_lack(tmp_path, version, point_format):
    # the real samples hold formats 0-4 and 6-8; laspy writes the waveform formats for us
    rng = np.random.default_rng(3)
    las = laspy.LasData(laspy.LasHeader(point_format=point_format, version=version))
    las.x, las.y, las.z = (rng.uniform(0, 100, 500) for _ in range(3))
    las.classification = rng.integers(0, 20, 500).astype(np.uint8)
    if "red" in las.point_format.dimension_names:
        las.red = rng.integers(0, 65535, 500).astype(np.uint16)
    las.write(tmp_path / "f.las")
    loaded = load(tmp_path / "f.las", {})
    np.testing.assert_array_equal(loaded.parts[0].dataset.point_data["classification"], las.classification)
    assert_world(loaded.parts[0], np.column_stack([las.x, las.y, las.z]))
    assert loaded.details["point_format"] == point_format


def test_las_1_0_which_laspy_does_not_open(tmp_path):
    path = tmp_path / "v10.las"
    data = bytearray((PC / "simple1_1.las").read_bytes())
    data[25] = 0  # LAS 1.0 differs from 1.1 only in two reserved fields
    path.write_bytes(bytes(data))
    loaded = load(path, {})
    assert loaded.details["version"] == "1.0" and loaded.details["points_shown"] == 1065


def test_empty_box_is_an_empty_layer_with_a_warning():
    loaded = load(PC / "simple.las", {"box": [0, 1, 0, 1]})
    assert loaded.details["points_shown"] == 0
    assert loaded.warnings == ["showing 0 of 1,065 points (inside the box)"]


def test_cli_options_box_and_render():
    box = "674540,674570,1206750,1206790"
    run = twin_cli("info", PC / "sample_c.las", "--json", "-O", f"box={box}", "-O", "render=server")
    assert run.returncode == 0, run.stderr
    block = json.loads(run.stdout)["pointcloud"]
    assert block["box"][:4] == [float(v) for v in box.split(",")] and block["budget"] == BUDGET_SERVER
    assert 0 < block["points_shown"] == block["points_read"] < block["points_total"]


def test_scaled_and_multi_element_extra_bytes(tmp_path):
    las = laspy.read(PC / "simple.las")
    las.add_extra_dims(
        [
            laspy.ExtraBytesParams("height_above_ground", "int32", scales=np.array([0.01]), offsets=np.array([5.0])),
            laspy.ExtraBytesParams("normal", "3f4"),
        ]
    )
    rng = np.random.default_rng(5)
    las.height_above_ground = rng.uniform(5, 50, len(las.points))
    las.normal = rng.normal(size=(len(las.points), 3)).astype(np.float32)
    las.write(tmp_path / "extra.las")
    back = laspy.read(tmp_path / "extra.las")
    data = load(tmp_path / "extra.las", {}).parts[0].dataset.point_data
    np.testing.assert_allclose(data["height_above_ground"], np.asarray(back.height_above_ground))
    np.testing.assert_array_equal(data["normal"], np.asarray(back.normal))


@pytest.mark.parametrize("stream", [False, True], ids=["in-memory", "streamed"])
def test_budget_on_las_and_laz_alike(monkeypatch, stream):
    # a huge cloud is sampled while streaming (two reads), a smaller one from all its points in memory
    import loaders.pointcloud.reading as reading

    if stream:
        monkeypatch.setattr(reading, "STREAM_ABOVE_BYTES", {"las": 0, "laz": 0})
    las, laz = load(PC / "simple.las", {"budget": 300}), load(PC / "simple.laz", {"budget": 300})
    for loaded in (las, laz):
        assert 250 <= loaded.details["points_shown"] <= 300
        assert loaded.details["points_read"] == 1065
    assert las.details["classes"] == laz.details["classes"] == load(PC / "simple.las", {}).details["classes"]
    again = load(PC / "simple.las", {"budget": 300})  # the same sample on every run
    np.testing.assert_array_equal(np.asarray(again.parts[0].dataset.points), np.asarray(las.parts[0].dataset.points))
    if stream:  # the same seeded draw over the same records
        np.testing.assert_array_equal(np.asarray(laz.parts[0].dataset.points), np.asarray(las.parts[0].dataset.points))


def test_extra_bytes_named_like_our_arrays_are_renamed(tmp_path):
    las = laspy.read(PC / "simple.las")
    las.add_extra_dims([laspy.ExtraBytesParams("rgb", "uint8"), laspy.ExtraBytesParams("asset_index", "uint16")])
    las.rgb = np.full(len(las.points), 7, dtype=np.uint8)
    las.write(tmp_path / "clash.las")
    data = load(tmp_path / "clash.las", {}).parts[0].dataset.point_data
    assert (data["extra_rgb"] == 7).all() and data["rgb"].shape == (1065, 3) and "extra_asset_index" in data


def laspy_class_bounds(path) -> np.ndarray:
    """Per class present, ``[xmin, xmax, ...]`` of laspy's own float64 coordinates."""
    las = laspy.read(path)
    xyz = np.column_stack([las.x, las.y, las.z])
    classes = np.asarray(las.classification)
    rows = []
    for code in np.unique(classes):
        mine = xyz[classes == code]
        rows.append(np.ravel(np.column_stack([mine.min(axis=0), mine.max(axis=0)])))
    return np.array(rows)


@pytest.mark.parametrize("chunk", [None, 97], ids=["chunks of 65536", "chunks of 97"])
@pytest.mark.parametrize("name", ["sample_c.las", "autzen-utm.las", "simple.las", "simple.laz", "simple1_3.las"])
def test_class_bounds_are_exactly_laspys_coordinates(monkeypatch, name, chunk):
    # measured on the integer coordinates: bit for bit laspy's x/y/z, not the float32 layer's
    import loaders.pointcloud.read as read

    if chunk:
        monkeypatch.setattr(read, "CONVERT_CHUNK", chunk)
    part = load(PC / name, {}).parts[0]
    np.testing.assert_array_equal(part.bounds, laspy_class_bounds(PC / name))
    full = load(PC / name, {}).details["bounds"]
    boxed = load(PC / name, {"box": full[:4]}).parts[0]  # a box holding every point
    np.testing.assert_array_equal(boxed.bounds, part.bounds)
