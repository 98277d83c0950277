"""Georeferenced rasters (GeoTIFF DEMs, orthophotos, hazard grids) read with rasterio.

:class:`Grid` holds one band as float64 with NaN for nodata, its affine transform and CRS,
and samples it at world points.  It is also the terrain's ground-elevation sampler that the
pipe loaders use (``LoadedSource.extras["ground"]``, or :func:`loaders.terrain.sample`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from twin.errors import InputError
from twin.geo import normalise_crs, reproject, same_crs

if TYPE_CHECKING:
    from rasterio.io import DatasetReader
    from rasterio.windows import Window


@dataclass
class Grid:
    """One raster band: ``values[row, col]`` (float32, NaN = nodata), pixel-corner affine ``(a, b, c, d, e, f)``.

    float32 halves the memory of a large DEM; every computation on it runs in float64.

    World ``x = a*col + b*row + c``, ``y = d*col + e*row + f`` at pixel corners (GDAL convention).
    """

    values: np.ndarray
    affine: tuple[float, float, float, float, float, float]
    crs: str | None
    bands: np.ndarray | None = None  # (k, rows, cols) uint8 for a colour raster
    #: file pixels per grid pixel along each axis (> 1 when a large raster was read thinned)
    decimation: int = 1
    #: rows, columns of the file (or window) read
    source_shape: tuple[int, int] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape

    def pixel_centres(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World x, y of pixel centres for every (row, col) pair given (broadcast)."""
        a, b, c, d, e, f = self.affine
        cc, rr = cols + 0.5, rows + 0.5
        return a * cc + b * rr + c, d * cc + e * rr + f

    def fractional_pixel(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row, column (pixel-centre based, fractional) of world points."""
        a, b, c, d, e, f = self.affine
        det = a * e - b * d
        dx, dy = np.asarray(x, dtype=np.float64) - c, np.asarray(y, dtype=np.float64) - f
        col = (e * dx - b * dy) / det - 0.5
        row = (-d * dx + a * dy) / det - 0.5
        return row, col

    def __call__(self, x: np.ndarray, y: np.ndarray, crs: str | None = None) -> np.ndarray:
        """Bilinear value at world points (NaN outside or on nodata), ``crs`` of x, y if not the grid's."""
        row, col = self.fractional_pixel(*self.own_xy(x, y, crs))
        return self.bilinear(row, col)

    def own_xy(self, x: np.ndarray, y: np.ndarray, crs: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """x, y in the grid's CRS (reprojected when ``crs`` is another)."""
        x, y = np.atleast_1d(np.asarray(x, dtype=np.float64)), np.atleast_1d(np.asarray(y, dtype=np.float64))
        source = normalise_crs(crs)
        if source and self.crs and not same_crs(source, self.crs):
            moved = reproject(np.column_stack([x, y, np.zeros_like(x)]), source, self.crs)
            x, y = moved[:, 0], moved[:, 1]
        return x, y

    def bilinear(self, row: np.ndarray, col: np.ndarray) -> np.ndarray:
        """Bilinear interpolation between pixel centres; the nearest pixel where a neighbour is nodata."""
        rows, cols = self.shape
        inside = (row >= -0.5) & (row <= rows - 0.5) & (col >= -0.5) & (col <= cols - 0.5)
        r = np.clip(row, 0, rows - 1)
        c = np.clip(col, 0, cols - 1)
        r0 = np.minimum(np.floor(r).astype(np.int64), max(rows - 2, 0))
        c0 = np.minimum(np.floor(c).astype(np.int64), max(cols - 2, 0))
        r1, c1 = np.minimum(r0 + 1, rows - 1), np.minimum(c0 + 1, cols - 1)
        fr, fc = r - r0, c - c0
        v = self.values.astype(np.float64, copy=False) if self.values.size < 4_000_000 else self.values
        out = (v[r0, c0] * (1 - fc) + v[r0, c1] * fc) * (1 - fr) + (v[r1, c0] * (1 - fc) + v[r1, c1] * fc) * fr
        nearest = v[np.rint(r).astype(np.int64), np.rint(c).astype(np.int64)]
        out = np.where(np.isnan(out), nearest, out)
        return np.where(inside, out, np.nan)


def read_grid(
    path: Path,
    *,
    colour: bool = False,
    max_pixels: int | None = None,
    bounds: tuple[float, float, float, float] | None = None,
) -> Grid:
    """Read band 1 (and, for ``colour``, the first three bands) of a georeferenced raster.

    ``bounds`` (xmin, ymin, xmax, ymax) reads only that window; a raster (or window) of more than
    ``max_pixels`` is read thinned by a whole factor (nearest pixel), so a city-wide DEM never has
    to fit in memory at full resolution.  Raises InputError for a file rasterio cannot open or
    one without georeferencing.
    """
    import rasterio
    from affine import Affine
    from rasterio.errors import RasterioIOError
    from rasterio.windows import Window, from_bounds

    path = Path(path)
    try:
        with rasterio.open(path) as dataset:
            if dataset.crs is None or dataset.transform.is_identity:
                raise InputError(
                    path,
                    "the raster has no georeferencing (no CRS or geotransform)",
                    where="GeoTIFF keys",
                    hint="give it a CRS and geotransform (gdal_edit.py -a_srs ...)",
                )
            window = Window(0, 0, dataset.width, dataset.height)
            if bounds is not None:
                wanted = from_bounds(*bounds, transform=dataset.transform).round_offsets().round_lengths()
                window = wanted.intersection(window)
            h, w = int(window.height), int(window.width)
            factor = 1 if not max_pixels or h * w <= max_pixels else math.ceil(math.sqrt(h * w / max_pixels))
            values = _every_nth(dataset, window, factor)
            bands = None
            if colour and dataset.count >= 3:
                bands = dataset.read([1, 2, 3], window=window)[:, ::factor, ::factor]
            # grid pixel k sits on file pixel k * factor: its centre, not the thinned block's centre
            t = (
                dataset.window_transform(window)
                * Affine.translation(0.5 - 0.5 * factor, 0.5 - 0.5 * factor)
                * Affine.scale(factor)
            )
            crs = normalise_crs(dataset.crs.to_string())
    except RasterioIOError as exc:
        raise InputError(path, f"cannot read the raster ({exc})") from None
    except rasterio.errors.WindowError:
        raise InputError(path, f"the box {bounds} does not overlap the raster", where="options.box") from None
    return Grid(values, (t.a, t.b, t.c, t.d, t.e, t.f), crs, bands, factor, (h, w))


def _every_nth(dataset: DatasetReader, window: Window, factor: int, strip_pixels: int = 8_000_000) -> np.ndarray:
    """Every ``factor``-th pixel of every ``factor``-th row of a window (NaN for nodata), read in strips."""
    from rasterio.windows import Window

    rows = max(factor, strip_pixels // max(int(window.width), 1) // factor * factor)
    strips = []
    for top in range(0, int(window.height), rows):
        strip = Window(window.col_off, window.row_off + top, window.width, min(rows, int(window.height) - top))
        band = dataset.read(1, window=strip, masked=True)[::factor, ::factor]
        strips.append(np.ma.filled(band.astype(np.float32), np.nan))
    return np.concatenate(strips) if strips else np.empty((0, 0), dtype=np.float32)
