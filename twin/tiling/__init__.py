"""City-scale 3D Tiles 1.1: a scene's sources tiled in parallel on Dask distributed.

The output folder follows the city tileset contract (README, "3D Tiles"): ``tileset.json``,
GLB content under ``tiles/``, the asset index ``assets.parquet`` and the tiler's own state
``build.json``.  :func:`build_tileset` is the one entry point; the CLI's ``twin tile`` calls it.
"""

from twin.tiling.driver import BuildOptions, BuildReport, build_tileset

__all__ = ["BuildOptions", "BuildReport", "build_tileset"]
