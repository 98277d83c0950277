"""Terrain: a GeoTIFF DEM as a ground surface mesh, optionally draped with an image or a hazard grid.

The mesh joins pixel centres in a regular grid, two triangles per cell; a triangle touching a
nodata pixel is left out, so holes stay holes.  The grid is thinned by a whole step so the
mesh stays under ``options["triangles"]`` (default 400,000); inside ``options["box"]``
(``[xmin, ymin, xmax, ymax]`` in the DEM's CRS) it keeps full resolution.  A DEM of more than
``options["max_pixels"]`` (default 64 million) is read thinned, and its box from a window at
full resolution, so that a city-wide DEM never sits in memory whole.

``options["drape"]`` names a raster (relative to the DEM's folder or absolute) sampled at the
mesh points: a 3-band image is used as colour, a 1-band grid (e.g. flood depth in metres) is
shaded light to dark blue (``drape_range = [low, high]``, default its own range) and kept as
the point array ``drape``.  Both set ``rgb`` and ``LayerStyle(rgb_array="rgb")``.

``options["z_scale"]`` multiplies the elevations, for a DEM whose heights are in other units
than its CRS (KY4's DEM: metres under US survey feet, ``z_scale = 3.280833``).

The DEM itself is handed to others as ``extras["ground"]``: a :class:`loaders.raster.Grid`,
callable as ``ground(x, y, crs=None) -> z``; :func:`sample` does the same from a path, and
:func:`ground_of` finds it in a loaded scene.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyvista as pv

from loaders.raster import Grid, read_grid
from twin.assets import AssetTable
from twin.errors import InputError
from twin.layer import LayerPart, LayerStyle
from twin.manifest import file_problem
from twin.source import LoadedSource

DEFAULT_TRIANGLES = 400_000
#: a DEM of more pixels is read thinned (its box, if any, at full resolution): 256 MB of float32
DEFAULT_MAX_PIXELS = 64_000_000
#: rasters larger than these are header lies or beyond a city (a 1 m DEM 1,000 km wide, or
#: 200 km square): refused before a single strip is allocated
MAX_SIDE = 1_000_000
MAX_RASTER_PIXELS = 40_000_000_000
#: hyperspectral images have a few hundred bands; a DEM, a hazard grid or an orthophoto one to four
MAX_BANDS = 1024
GROUND_RGB = (167, 181, 154)
#: light to dark blue, for hazard depths
HAZARD_RAMP = np.array([[198, 225, 250], [30, 110, 255], [8, 40, 130]], dtype=np.float64)


def load(path: Path, options: Mapping[str, Any]) -> LoadedSource:
    path = Path(path)
    z_scale = _number(path, options, "z_scale", 1.0)
    budget = int(_number(path, options, "triangles", DEFAULT_TRIANGLES))
    max_pixels = int(_number(path, options, "max_pixels", DEFAULT_MAX_PIXELS))
    box = _box(path, options.get("box"))
    header_warnings: list[str] = []
    grid = _scaled(_read(path, max_pixels=max_pixels, warn=header_warnings), z_scale)
    if grid.decimation > 1 and box is not None:
        mesh, step = _with_detail(path, grid, budget, box, max_pixels, z_scale)
    else:
        rows, cols, step = _sample_lines(grid, budget, box)
        mesh = _grid_mesh(grid, rows, cols, _nodata_near(grid.values, step))
    rows_read, cols_read = grid.source_shape or grid.shape
    details: dict[str, Any] = {
        "size": [cols_read, rows_read],
        "pixel": [abs(grid.affine[0]) / grid.decimation, abs(grid.affine[4]) / grid.decimation],
        "step": step * grid.decimation,
        "read_step": grid.decimation,
        "triangles": int(mesh.n_cells),
        "nodata_pixels": int(np.isnan(grid.values).sum()) * grid.decimation**2,
        "elevation": _range(grid.values),
    }
    style = LayerStyle(color="#a7b59a")
    warn = header_warnings + (
        [f"a DEM of {rows_read * cols_read:,} pixels: every {grid.decimation}th pixel read (max_pixels)"]
        if grid.decimation > 1
        else []
    )
    if options.get("drape"):
        drape_path = _resolve(path, str(options["drape"]))
        details["drape"] = _drape(mesh, drape_path, grid.crs, options.get("drape_range"))
        style = LayerStyle(color="#a7b59a", rgb_array="rgb")
    if not mesh.n_cells:
        warn.append("the DEM has no valid pixels: nothing to draw")
    assets = AssetTable.build(
        [path.stem],
        kind="Terrain",
        name=path.stem,
        attrs={"min_z": details["elevation"][0], "max_z": details["elevation"][1]},
    )
    part = LayerPart(
        name="Terrain", dataset=mesh, assets=assets, asset_index=np.zeros(mesh.n_cells, dtype=np.int64), style=style
    )
    mesh.cell_data["asset_index"] = part.asset_index
    return LoadedSource(
        path=path, kind="terrain", parts=[part], crs=grid.crs, warnings=warn, details=details, extras={"ground": grid}
    )


def _number(path: Path, options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(path, f"{key} must be a number, not {value!r}", where=f"options.{key}")
    return float(value)


def sample(path: Path, xy: np.ndarray, crs: str | None = None, z_scale: float = 1.0) -> np.ndarray:
    """Ground elevation of a DEM at points ``xy`` (n, 2), in ``crs`` if not the DEM's; NaN off the DEM.

    ``z_scale`` multiplies the heights, as the loader's option of the same name does.

    The DEM is read once and kept (a few, keyed by path and modification time), so a loader may
    call this per network or per batch of nodes.
    """
    path = Path(path).resolve()
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    ground = _cached(str(path), path.stat().st_mtime_ns)
    return ground(xy[:, 0], xy[:, 1], crs=crs).astype(np.float64) * z_scale


@lru_cache(maxsize=4)
def _cached(path: str, mtime_ns: int) -> Grid:
    return _read(Path(path))


def ground_of(scene: Any) -> Grid | None:
    """The ground sampler of a loaded scene's first terrain source (for analyses after loading)."""
    for record in scene.sources:
        if record.kind == "terrain" and isinstance(record.extras.get("ground"), Grid):
            result: Grid | None = record.extras["ground"]
            return result
    return None


def _read(path: Path, colour: bool = False, warn: list[str] | None = None, **window: Any) -> Grid:
    """The raster's grid, after its header is checked (``warn`` collects what the check says)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio's NotGeoreferencedWarning: we raise our own error
        said = _check_header(path)
        if warn is not None:
            warn.extend(said)
        try:
            return read_grid(path, colour=colour, **window)
        except MemoryError:
            raise InputError(path, "ran out of memory reading the raster (is its declared size right?)") from None


def _check_header(path: Path) -> list[str]:
    """Refuse a raster whose header is a lie past any real file; warn of one whose values may be.

    A declared size past MAX_SIDE or MAX_RASTER_PIXELS, or more bands than MAX_BANDS, is refused
    before a single strip is allocated.  A sample size that is not whole bytes (TIFF BitsPerSample,
    GDAL's NBITS) is legal but, on an elevation or hazard grid, almost always a broken header that
    reads as garbage in a plausible range, so the load says so instead of drawing it silently.
    """
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(path) as dataset:
            width, height, bands = dataset.width, dataset.height, dataset.count
            nbits = dataset.tags(1, ns="IMAGE_STRUCTURE").get("NBITS") if bands else None
            dtype = dataset.dtypes[0] if bands else None
    except RasterioIOError:
        return []  # read_grid says why, in its words
    if max(width, height) > MAX_SIDE or width * height > MAX_RASTER_PIXELS:
        raise InputError(
            path,
            f"the raster declares {width:,} x {height:,} pixels, past the limit of {MAX_SIDE:,} a side "
            f"and {MAX_RASTER_PIXELS:,} in all",
            where="TIFF header (ImageWidth, ImageLength)",
        )
    if bands > MAX_BANDS:
        raise InputError(
            path,
            f"the raster declares {bands:,} bands, past the limit of {MAX_BANDS:,}",
            where="TIFF header (SamplesPerPixel)",
        )
    if nbits is not None and int(nbits) % 8:
        return [
            f"TIFF header (BitsPerSample): {nbits} bits per sample, not whole bytes: band 1 is read as "
            f"{nbits}-bit {dtype} values (0 to {2 ** int(nbits) - 1:,}); check the file if these are elevations"
        ]
    return []


def _resolve(dem: Path, name: str) -> Path:
    candidate = Path(name)
    if not candidate.is_absolute():
        candidate = dem.parent / candidate
    problem = file_problem(candidate)
    if problem:
        raise InputError(dem, f"drape raster {candidate}: {problem}", where="options.drape")
    return candidate


def _range(values: np.ndarray) -> list[float]:
    if np.isnan(values).all():
        return [math.nan, math.nan]
    return [round(float(np.nanmin(values)), 3), round(float(np.nanmax(values)), 3)]


def _box(path: Path, box: Any) -> tuple[float, float, float, float] | None:
    if box is None:
        return None
    try:
        xmin, ymin, xmax, ymax = (float(v) for v in box)
    except (TypeError, ValueError):
        raise InputError(path, f"box must be [xmin, ymin, xmax, ymax], not {box!r}", where="options.box") from None
    return xmin, ymin, xmax, ymax


def _scaled(grid: Grid, z_scale: float) -> Grid:
    if z_scale != 1.0:
        grid.values *= np.float32(z_scale)
    return grid


def _sample_lines(
    grid: Grid,
    budget: int,
    box: tuple[float, float, float, float] | None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows and columns kept: every ``step``-th (and the last), all of them inside the box."""
    n_rows, n_cols = grid.shape
    cells = max((n_rows - 1) * (n_cols - 1), 1)
    step = max(1, math.ceil(math.sqrt(2 * cells / max(budget, 2))))
    rows = np.union1d(np.arange(0, n_rows, step), [n_rows - 1])
    cols = np.union1d(np.arange(0, n_cols, step), [n_cols - 1])
    if box is None or step == 1:
        return rows, cols, step
    xmin, ymin, xmax, ymax = box
    r, c = grid.fractional_pixel(np.array([xmin, xmax, xmin, xmax]), np.array([ymin, ymin, ymax, ymax]))
    r_lo, r_hi = _snap(r, step, n_rows)
    c_lo, c_hi = _snap(c, step, n_cols)
    return np.union1d(rows, np.arange(r_lo, r_hi + 1)), np.union1d(cols, np.arange(c_lo, c_hi + 1)), step


def _with_detail(
    path: Path, grid: Grid, budget: int, box: tuple[float, float, float, float], max_pixels: int, z_scale: float
) -> tuple[pv.PolyData, int]:
    """A thinned DEM's mesh with the box cut out and filled from a full-resolution window read."""
    rows, cols, step = _sample_lines(grid, budget, None)
    coarse = _grid_mesh(grid, rows, cols, _nodata_near(grid.values, step))
    detail_grid = _scaled(_read(path, max_pixels=max_pixels, bounds=box), z_scale)
    detail_rows, detail_cols = np.arange(detail_grid.shape[0]), np.arange(detail_grid.shape[1])
    detail = _grid_mesh(detail_grid, detail_rows, detail_cols, np.isnan(detail_grid.values))
    if coarse.n_cells:
        centre = coarse.cell_centers().points
        inside = (centre[:, 0] > box[0]) & (centre[:, 0] < box[2]) & (centre[:, 1] > box[1]) & (centre[:, 1] < box[3])
        coarse = coarse.remove_cells(inside, inplace=False) if inside.any() else coarse
    return _merge(coarse, detail), step


def _merge(a: pv.PolyData, b: pv.PolyData) -> pv.PolyData:
    """Two triangle meshes as one (no point welding: the seam is where detail meets coarse)."""
    if not a.n_cells or not b.n_cells:
        return a if a.n_cells else b
    faces = np.concatenate([a.regular_faces, np.asarray(b.regular_faces) + a.n_points])
    result: pv.PolyData = pv.PolyData.from_regular_faces(np.concatenate([a.points, b.points]), faces)
    return result


def _snap(pixels: np.ndarray, step: int, n: int) -> tuple[int, int]:
    """The box's pixel span widened to whole coarse cells, so fine and coarse grids meet at shared lines."""
    lo = int(np.clip(math.floor(pixels.min() / step) * step, 0, n - 1))
    hi = int(np.clip(math.ceil(pixels.max() / step) * step, 0, n - 1))
    return lo, hi


def _nodata_near(values: np.ndarray, step: int) -> np.ndarray:
    """Pixels with nodata within half a step: a thinned vertex there would bridge a hole."""
    missing: np.ndarray = np.isnan(values)
    if step == 1 or not missing.any():
        return missing
    from scipy.ndimage import maximum_filter

    result: np.ndarray = maximum_filter(missing, size=step, mode="nearest")
    return result


def _dense(lines: np.ndarray) -> np.ndarray:
    """Kept lines with a kept neighbour one pixel away (full resolution there)."""
    gap = np.diff(lines) == 1
    result: np.ndarray = np.r_[gap, False] | np.r_[False, gap]
    return result


def _grid_mesh(grid: Grid, rows: np.ndarray, cols: np.ndarray, unusable: np.ndarray) -> pv.PolyData:
    """Triangles over the kept rows x columns; none touching an ``unusable`` pixel.

    Where the grid keeps every pixel (in the box), only the nodata pixels themselves are unusable.
    """
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    x, y = grid.pixel_centres(rr, cc)
    z = grid.values[rr, cc]
    dense = _dense(rows)[:, None] & _dense(cols)[None, :]
    bad = np.where(dense, np.isnan(z), unusable[rr, cc] | np.isnan(z))
    n_r, n_c = len(rows), len(cols)
    ids = np.arange(n_r * n_c).reshape(n_r, n_c)
    a, b = ids[:-1, :-1].ravel(), ids[:-1, 1:].ravel()
    c, d = ids[1:, 1:].ravel(), ids[1:, :-1].ravel()
    triangles = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    valid = ~bad.ravel()
    triangles = triangles[valid[triangles].all(axis=1)]
    points = np.column_stack([x.ravel(), y.ravel(), np.nan_to_num(z.ravel())])
    used, inverse = np.unique(triangles, return_inverse=True)
    if not len(used):
        return pv.PolyData()
    result: pv.PolyData = pv.PolyData.from_regular_faces(points[used], inverse.reshape(-1, 3))  # type: ignore[arg-type]  # pyvista's stub wants dtype[int], any integer array works
    return result


def _drape(mesh: pv.PolyData, path: Path, dem_crs: str | None, value_range: Any) -> dict[str, Any]:
    """Colour the mesh points from a raster: its RGB, or a blue ramp of its single band."""
    grid = _read(path, colour=True)
    points = np.asarray(mesh.points)
    rgb = np.tile(np.asarray(GROUND_RGB, dtype=np.uint8), (len(points), 1))
    if grid.bands is not None:
        row, col = grid.fractional_pixel(*grid.own_xy(points[:, 0], points[:, 1], dem_crs))
        r, c = np.rint(row).astype(np.int64), np.rint(col).astype(np.int64)
        inside = (r >= 0) & (r < grid.shape[0]) & (c >= 0) & (c < grid.shape[1])
        rgb[inside] = grid.bands[:, r[inside], c[inside]].T.astype(np.uint8)
        mesh.point_data["rgb"] = rgb
        return {"path": str(path), "kind": "image", "covered_points": int(inside.sum())}
    values = grid(points[:, 0], points[:, 1], dem_crs)
    wet = ~np.isnan(values) & (values > 0)
    low, high = (float(v) for v in value_range) if value_range else tuple(_range(values[wet]) if wet.any() else (0, 1))
    rgb[wet] = ramp(values[wet], low, high)
    mesh.point_data["rgb"] = rgb
    mesh.point_data["drape"] = values
    return {"path": str(path), "kind": "grid", "covered_points": int(wet.sum()), "range": [low, high]}


def ramp(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """uint8 RGB of values along :data:`HAZARD_RAMP` from ``low`` to ``high`` (clipped)."""
    t = np.clip((values - low) / (high - low if high > low else 1.0), 0, 1) * (len(HAZARD_RAMP) - 1)
    i = np.minimum(t.astype(np.int64), len(HAZARD_RAMP) - 2)
    f = (t - i)[:, None]
    result: np.ndarray = np.rint(HAZARD_RAMP[i] * (1 - f) + HAZARD_RAMP[i + 1] * f).astype(np.uint8)
    return result
