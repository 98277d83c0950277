"""Terrain loader on WNTR's KY4 DEM and on rasters made in tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import DATA
from rasterio.transform import from_origin

import twin
from loaders import terrain
from twin.errors import InputError

KY4 = DATA / "terrain" / "ky4_elevation.tif"
SURGE = DATA / "terrain" / "coastal_ky4_storm_surge.tif"


def _write(
    path: Path, values: np.ndarray, *, crs: str | None = "EPSG:4549", nodata: float | None = None, transform=None
) -> Path:
    values = np.atleast_3d(values).transpose(2, 0, 1) if values.ndim == 2 else values
    profile = {
        "driver": "GTiff",
        "width": values.shape[2],
        "height": values.shape[1],
        "count": values.shape[0],
        "dtype": values.dtype.name,
    }
    if crs:
        profile.update(crs=crs, transform=transform or from_origin(385000, 3548100, 2, 2))
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as out:
        out.write(values)
    return path


def test_ky4_dem_loads_with_crs_and_elevations() -> None:
    loaded = terrain.load(KY4, {})
    assert loaded.crs == "EPSG:3547"
    mesh = loaded.parts[0].dataset
    assert 0 < mesh.n_cells <= terrain.DEFAULT_TRIANGLES
    low, high = loaded.details["elevation"]
    assert low == pytest.approx(117.438, abs=1e-3) and high == pytest.approx(226.242, abs=1e-3)
    assert low - 1e-3 <= mesh.points[:, 2].min() and mesh.points[:, 2].max() <= high + 1e-3


def test_triangle_budget_and_full_resolution_box() -> None:
    coarse = terrain.load(KY4, {"triangles": 20_000})
    assert coarse.parts[0].dataset.n_cells <= 20_000
    x0, y0 = 4_960_000.0, 3_900_000.0
    boxed = terrain.load(KY4, {"triangles": 20_000, "box": [x0, y0, x0 + 5000, y0 + 5000]})
    points = boxed.parts[0].dataset.points
    inside = (points[:, 0] > x0) & (points[:, 0] < x0 + 5000) & (points[:, 1] > y0) & (points[:, 1] < y0 + 5000)
    pixel = boxed.details["pixel"][0]
    assert inside.sum() >= (5000 / pixel - 2) ** 2  # every pixel centre in the box is a vertex


def test_ground_sampler_matches_the_pixels() -> None:
    loaded = terrain.load(KY4, {})
    ground = loaded.extras["ground"]
    with rasterio.open(KY4) as dataset:
        band = dataset.read(1)
        rows, cols = np.array([10, 200, 401]), np.array([5, 300, 586])
        xs, ys = rasterio.transform.xy(dataset.transform, rows, cols)
    np.testing.assert_allclose(ground(np.asarray(xs), np.asarray(ys)), band[rows, cols], rtol=1e-6)
    np.testing.assert_allclose(terrain.sample(KY4, np.column_stack([xs, ys])), band[rows, cols], rtol=1e-6)
    assert np.isnan(ground(np.array([0.0]), np.array([0.0])))[0]


def test_nodata_leaves_holes(tmp_path: Path) -> None:
    values = np.full((20, 20), 10.0, dtype=np.float32)
    values[5:10, 5:10] = -9999
    loaded = terrain.load(_write(tmp_path / "holes.tif", values, nodata=-9999), {})
    mesh = loaded.parts[0].dataset
    # the 6 x 6 quads touching the 5 x 5 nodata pixels go, but for two corner triangles
    # (split along the other diagonal) that touch no nodata pixel
    assert mesh.n_cells == 2 * 19 * 19 - (2 * 6 * 6 - 2)
    assert np.all(mesh.points[:, 2] == 10.0)


def test_a_hazard_drape_colours_wet_points(tmp_path: Path) -> None:
    dem = _write(tmp_path / "dem.tif", np.full((20, 20), 10.0, dtype=np.float32))
    depth = np.zeros((20, 20), dtype=np.float32)
    depth[:, :10] = 0.8
    _write(tmp_path / "flood.tif", depth)
    loaded = terrain.load(dem, {"drape": "flood.tif"})
    part = loaded.parts[0]
    assert part.style.rgb_array == "rgb"
    rgb = np.asarray(part.dataset.point_data["rgb"])
    wet = np.asarray(part.dataset.point_data["drape"]) > 0
    assert wet.any() and (~wet).any()
    assert np.all(rgb[~wet] == terrain.GROUND_RGB) and np.all(rgb[wet, 2] > rgb[wet, 0])


def test_raster_without_georeferencing_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "plain.tif", np.ones((4, 4), dtype=np.float32), crs=None)
    with pytest.raises(InputError, match="plain.tif: GeoTIFF keys: the raster has no georeferencing"):
        twin.load(path)


def test_garbage_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.tif"
    path.write_bytes(b"II*\x00garbage" * 10)
    with pytest.raises(InputError, match="junk.tif: cannot read the raster"):
        terrain.load(path, {})


def test_storm_surge_grid_keeps_its_nodata_holes() -> None:
    """NOAA SLOSH surge categories (1-5, nodata 255) over the sea and land: only the flooded pixels mesh."""
    loaded = terrain.load(SURGE, {"triangles": 50_000})
    assert loaded.crs == "EPSG:4269"
    assert loaded.details["nodata_pixels"] == 537_917
    z = loaded.parts[0].dataset.points[:, 2]
    assert z.min() >= 1 and z.max() <= 5


DEMO_DEM = DATA / "demo" / "district_dem.tif"


def test_demo_ground_stays_near_10_m_under_the_streets() -> None:
    """The pipe networks of the demo assume ground at 10 m near the streets: keep within 1.5 m."""
    along = np.linspace(0, 380, 96)
    xy = []
    for k in range(4):
        for offset in (0.0, 10.0, 20.0):
            street = k * 120 + offset
            xy += [
                np.column_stack([385_000 + along, np.full_like(along, 3_548_000 + street)]),
                np.column_stack([np.full_like(along, 385_000 + street), 3_548_000 + along]),
            ]
    z = terrain.sample(DEMO_DEM, np.concatenate(xy))
    assert np.all(np.abs(z - 10.0) <= 1.5)


def test_sample_in_another_crs() -> None:
    """Pipe loaders may ask in their own CRS: points in WGS 84 are moved to the DEM's first."""
    from pyproj import Transformer

    lon, lat = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True).transform(385_190.0, 3_548_190.0)
    here = terrain.sample(DEMO_DEM, [[385_190.0, 3_548_190.0]])
    assert terrain.sample(DEMO_DEM, [[lon, lat]], crs="EPSG:4326")[0] == pytest.approx(here[0], abs=1e-6)


def test_the_sampler_agrees_with_surveyed_junction_elevations() -> None:
    """KY4's junction elevations (metres, WNTR's GIS export) against the DEM under them."""
    import json

    features = json.loads((DATA / "terrain" / "ky4_junctions.geojson").read_text())["features"]
    xy = np.array([f["geometry"]["coordinates"][:2] for f in features])
    surveyed = np.array([f["properties"]["elevation"] for f in features])
    ground = terrain.load(KY4, {"triangles": 1000}).extras["ground"]
    difference = ground(xy[:, 0], xy[:, 1]) - surveyed
    assert len(features) == 959 and not np.isnan(difference).any()
    assert abs(np.median(difference)) < 1.0 and np.percentile(np.abs(difference), 90) < 5.0


def test_z_scale_converts_elevation_units() -> None:
    loaded = terrain.load(KY4, {"triangles": 1000, "z_scale": 3.280833})
    assert loaded.details["elevation"][1] == pytest.approx(226.242 * 3.280833, abs=0.01)
    with pytest.raises(InputError, match="options.z_scale: z_scale must be a number"):
        terrain.load(KY4, {"z_scale": "feet"})


def test_an_orthophoto_drape_gives_its_colours(tmp_path: Path) -> None:
    dem = _write(tmp_path / "dem.tif", np.full((10, 10), 10.0, dtype=np.float32))
    image = np.zeros((3, 10, 10), dtype=np.uint8)
    image[0, :, :5], image[2, :, 5:] = 200, 180  # red west half, blue east half
    _write(tmp_path / "ortho.tif", image)
    loaded = terrain.load(dem, {"drape": str(tmp_path / "ortho.tif")})
    mesh = loaded.parts[0].dataset
    rgb = np.asarray(mesh.point_data["rgb"])
    west = mesh.points[:, 0] < 385_010
    assert loaded.details["drape"]["kind"] == "image"
    assert np.all(rgb[west] == [200, 0, 0]) and np.all(rgb[~west] == [0, 0, 180])


def test_a_scene_hands_out_its_ground() -> None:
    from conftest import DEMO

    ground = terrain.ground_of(twin.load(DEMO))
    assert ground is not None and ground.crs == "EPSG:4549"
    assert ground(np.array([385_190.0]), np.array([3_548_010.0]))[0] == pytest.approx(10.0, abs=1.5)


def test_a_small_hole_survives_thinning(tmp_path: Path) -> None:
    """A 2 x 2 nodata hole between the kept vertices of a thinned grid still leaves a hole."""
    values = np.full((101, 101), 10.0, dtype=np.float32)
    values[51:53, 51:53] = -9999
    path = _write(tmp_path / "hole.tif", values, nodata=-9999)
    full = terrain.load(path, {"triangles": 10**6}).parts[0].dataset
    thin = terrain.load(path, {"triangles": 2000})
    assert thin.details["step"] > 2
    mesh = thin.parts[0].dataset
    step = thin.details["step"]
    assert mesh.n_cells < 2 * ((100 + step - 1) // step) ** 2  # some quads dropped around the hole
    centre = pv_point_in_mesh(mesh, (385_000 + 52 * 2 + 1, 3_548_100 - 52 * 2 - 1))
    assert not centre and full.n_cells < 2 * 100 * 100


def pv_point_in_mesh(mesh, xy) -> bool:
    """Whether a vertical line at xy meets the (flat) mesh."""
    hits, _ = mesh.ray_trace((xy[0], xy[1], 100.0), (xy[0], xy[1], -100.0))
    return len(hits) > 0


def test_a_large_dem_is_read_thinned_with_a_full_resolution_box() -> None:
    x0, y0 = 4_960_000.0, 3_900_000.0
    box = [x0, y0, x0 + 3000, y0 + 3000]
    loaded = terrain.load(KY4, {"max_pixels": 20_000, "triangles": 20_000, "box": box})
    assert loaded.details["read_step"] == 4 and loaded.details["size"] == [587, 402]
    assert "every 4th pixel read" in loaded.warnings[0]
    mesh = loaded.parts[0].dataset
    points = mesh.points
    inside = (points[:, 0] > x0) & (points[:, 0] < x0 + 3000) & (points[:, 1] > y0) & (points[:, 1] < y0 + 3000)
    assert inside.sum() >= (3000 / 90.9752 - 2) ** 2  # the file's own pixels in the box
    assert loaded.extras["ground"].decimation == 4
    with rasterio.open(KY4) as dataset:
        band = dataset.read(1)
        rows, cols = rasterio.transform.rowcol(dataset.transform, points[:, 0], points[:, 1])
    # every vertex, thinned or not, sits on a pixel centre of the file with that pixel's value
    np.testing.assert_allclose(points[:, 2], band[rows, cols], rtol=1e-6)
