"""Write the demo district's terrain (deterministic): a DEM and a flood-depth grid as GeoTIFFs.

Gentle ground around z = 10 m (a slope of 0.3 %, a long undulation and a shallow hollow in the
south-east where rain water gathers), in EPSG:4549 at 2 m pixels, 20 m beyond the district on
every side.  The flood grid is the water depth of a pond filling the hollow up to 9.6 m.
``make_demo.py`` puts the buildings and streets on :func:`ground`.  Run it again after changing
it: ``python data_samples/demo/make_dem.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
ORIGIN = np.array([385_000.0, 3_548_000.0])  # south-west corner of the district
EXTENT = 380.0
MARGIN, PIXEL = 20.0, 2.0
POND_LEVEL = 9.6
HOLLOW = (300.0, 70.0)  # centre of the hollow, metres east and north of ORIGIN
CRS = "EPSG:4549"


def ground(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Ground elevation (m) at world x, y: within 10 +- 1.3 m over the whole district."""
    u, v = np.asarray(x, dtype=np.float64) - ORIGIN[0], np.asarray(y, dtype=np.float64) - ORIGIN[1]
    slope = 0.003 * (u - EXTENT / 2)
    wave = 0.45 * np.sin(2 * np.pi * u / 420) * np.sin(2 * np.pi * (v + 60) / 520)
    hollow = -0.9 * np.exp(-((u - HOLLOW[0]) ** 2 + (v - HOLLOW[1]) ** 2) / (2 * 35.0**2))
    return 10.0 + slope + wave + hollow


def grids() -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """DEM and flood depth on the same pixels (rows north to south), and the north-west corner."""
    west, north = ORIGIN[0] - MARGIN, ORIGIN[1] + EXTENT + MARGIN
    n = int(round((EXTENT + 2 * MARGIN) / PIXEL))
    centres = (np.arange(n) + 0.5) * PIXEL
    x, y = np.meshgrid(west + centres, north - centres)
    dem = ground(x, y).astype(np.float32)
    in_hollow = np.hypot(x - ORIGIN[0] - HOLLOW[0], y - ORIGIN[1] - HOLLOW[1]) < 90.0
    depth = np.where(in_hollow, np.clip(POND_LEVEL - dem, 0, None), 0).astype(np.float32)
    return np.round(dem, 3), np.round(depth, 3), (west, north)


def write(path: Path, values: np.ndarray, corner: tuple[float, float], nodata: float | None = None) -> None:
    import rasterio
    from rasterio.transform import from_origin

    profile = {"driver": "GTiff", "width": values.shape[1], "height": values.shape[0], "count": 1,
               "dtype": "float32", "crs": CRS, "transform": from_origin(corner[0], corner[1], PIXEL, PIXEL),
               "compress": "deflate", "predictor": 3, "nodata": nodata}
    with rasterio.open(path, "w", **profile) as out:
        out.write(values, 1)


if __name__ == "__main__":
    dem, depth, corner = grids()
    write(HERE / "district_dem.tif", dem, corner)
    write(HERE / "district_flood.tif", np.where(depth > 0, depth, -9999).astype(np.float32), corner, nodata=-9999)
    print(f"wrote district_dem.tif ({dem.min():.2f} .. {dem.max():.2f} m) and district_flood.tif "
          f"(max depth {depth.max():.2f} m, {int((depth > 0).sum())} wet pixels)")
