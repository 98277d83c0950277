"""Georeferenced rasters (GeoTIFF DEMs, orthophotos, hazard grids) read with rasterio.

:class:`Grid` holds one band as float64 with NaN for nodata, its affine transform and CRS,
and samples it at world points.  It is also the terrain's ground-elevation sampler that the
pipe loaders use (``LoadedSource.extras["ground"]``, or :func:`loaders.terrain.sample`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twin.errors import InputError
from twin.geo import normalise_crs, reproject, same_crs


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
        x, y = np.atleast_1d(np.asarray(x, dtype=np.float64)), np.atleast_1d(np.asarray(y, dtype=np.float64))
        if crs and self.crs and not same_crs(normalise_crs(crs), self.crs):
            moved = reproject(np.column_stack([x, y, np.zeros_like(x)]), normalise_crs(crs), self.crs)
            x, y = moved[:, 0], moved[:, 1]
        row, col = self.fractional_pixel(x, y)
        return self.bilinear(row, col)

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
        out = ((v[r0, c0] * (1 - fc) + v[r0, c1] * fc) * (1 - fr) + (v[r1, c0] * (1 - fc) + v[r1, c1] * fc) * fr)
        nearest = v[np.rint(r).astype(np.int64), np.rint(c).astype(np.int64)]
        out = np.where(np.isnan(out), nearest, out)
        return np.where(inside, out, np.nan)


def read_grid(path: Path, *, colour: bool = False) -> Grid:
    """Read band 1 (and, for ``colour``, the first three bands) of a georeferenced raster.

    Raises InputError for a file rasterio cannot open or one without georeferencing.
    """
    import rasterio
    from rasterio.errors import RasterioIOError

    path = Path(path)
    try:
        with rasterio.open(path) as dataset:
            if dataset.crs is None or dataset.transform.is_identity:
                raise InputError(path, "the raster has no georeferencing (no CRS or geotransform)",
                                 where="GeoTIFF keys", hint="give it a CRS and geotransform (gdal_edit.py -a_srs ...)")
            band = dataset.read(1, masked=True)
            values = np.ma.filled(band.astype(np.float32), np.nan)
            bands = dataset.read(list(range(1, min(dataset.count, 3) + 1))) if colour and dataset.count >= 3 else None
            t = dataset.transform
            crs = normalise_crs(dataset.crs.to_string())
    except RasterioIOError as exc:
        raise InputError(path, f"cannot read the raster ({exc})") from None
    return Grid(values, (t.a, t.b, t.c, t.d, t.e, t.f), crs, bands)
