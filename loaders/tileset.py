"""A published 3D Tiles tileset (b3dm or glb content) as a scene source.

The tiles an overview of the whole tileset would draw within ``options["triangles"]`` and
``options["points"]`` are loaded (for a small tileset: all of it, leaves included) and merged
into one layer per tileset layer (3D Tiles 1.1 groups).  A bigger tileset is shown at the level
of detail the budget allows, and says so in its warnings; a CIM Twin city tileset (``twin tile``)
is best served by ``twin serve DIR``, which streams it by view (:mod:`twin.streaming`).

Assets: a CIM Twin tileset names each feature's row of its ``assets.parquet`` (``asset_row``),
which becomes the asset table; a foreign tileset's features (b3dm batch ids, glTF feature ids)
become one asset each, ``<tile>/<feature>``, with the batch table's columns as attributes.
Geometry comes in the tileset's local frame: a CIM Twin tileset's scene CRS (local ENU metres
plus its origin), a foreign one's east-north-up metres at its centre (no CRS: place it in the
manifest).  Unsupported content (i3dm, pnts, cmpt, Draco) is refused with the file and the reason;
a corrupt or missing tile is skipped with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from twin.assets import STR, AssetTable
from twin.errors import InputError
from twin.layer import LayerPart, LayerStyle
from twin.source import LoadedSource
from twin.streaming.cache import POINT_KINDS, TileCache
from twin.streaming.city import read_assets
from twin.streaming.content import TileContent
from twin.streaming.merge import merge
from twin.streaming.select import Budget, Camera, select
from twin.streaming.tileset import Tileset, read_tileset

DEFAULT_TRIANGLES, DEFAULT_POINTS = 2_000_000, 2_000_000


def load(path: Path, options: Mapping[str, Any]) -> LoadedSource:
    path = Path(path)
    tileset = read_tileset(path)
    budget = Budget(
        triangles=int(options.get("triangles", DEFAULT_TRIANGLES)),
        points=int(options.get("points", DEFAULT_POINTS)),
        max_error_px=0.0,  # as fine as the budget allows
    )
    cache = TileCache(tileset, cap=1 << 62, workers=1)
    try:
        chosen = _overview(tileset, budget, cache)
    finally:
        cache.close()
    city = tileset.city
    rows: dict[str, np.ndarray] = {}
    if city is None:
        parts = _foreign_parts(tileset, chosen, cache)
    else:
        parts, rows = _city_parts(tileset, chosen, cache, read_assets(path.parent), np.asarray(city["origin"], float))
    warnings = [f"{path.name}: tile {t} skipped: {reason}" for t, reason in cache.failed.items()]
    leaves = [t for t in range(len(tileset)) if not tileset.children[t] and tileset.contents[t]]
    streamed = city is not None and not set(leaves) <= set(chosen)
    if not set(leaves) <= set(chosen):
        warnings.append(
            f"{path.name}: shown at a coarser level of detail ({len(chosen)} of {len(tileset)} tiles) to stay within"
            f" {budget.triangles:,} triangles and {budget.points:,} points"
            + ("; `twin serve` streams it by view" if streamed else "")
        )
    return LoadedSource(
        path=path,
        kind="city",
        parts=parts,
        crs=(city or {}).get("crs"),
        warnings=warnings,
        skipped=[{"id": f"tile {t}", "reason": r} for t, r in cache.failed.items()],
        details={
            "tiles": len(tileset),
            "tiles_loaded": len(chosen),
            "tiles_failed": len(cache.failed),
            "version": "cim_twin" if city else "foreign",
            "layers": [str(layer["name"]) for layer in tileset.layers],
            "streamed": streamed,
        },
        # for the app's hand-over to streaming (twin.faces.app.city_stream): the tileset, and for each
        # of its layers (by part name) the asset index rows its part holds, in the part's order
        extras={"tileset": path, "asset_rows": rows},
    )


def _foreign_parts(tileset: Tileset, chosen: list[int], cache: TileCache) -> list[LayerPart]:
    """A foreign tileset's layers: one part per layer and primitive kind that has content."""
    parts = []
    for index, layer in enumerate(tileset.layers):
        contents = [c for tile in chosen for c in cache.get(tile) if c.layer == index]
        for points in (False, True):  # a foreign layer may hold both triangles and points
            mine = [c for c in contents if c.is_points == points]
            if mine:
                name = str(layer["name"]) + (" points" if points and len(mine) < len(contents) else "")
                parts.append(_part(name, points, mine, _foreign_assets(mine), np.zeros(3)))
    return parts


def _city_parts(
    tileset: Tileset, chosen: list[int], cache: TileCache, assets: AssetTable, origin: np.ndarray
) -> tuple[list[LayerPart], dict[str, np.ndarray]]:
    """A CIM Twin city's layers, each with every asset of its layer in the index (loaded or not)."""
    parts, rows = [], {}
    for index, layer in enumerate(tileset.layers):
        name = str(layer["name"])
        contents = [c for tile in chosen for c in cache.get(tile) if c.layer == index]
        table, rows[name] = _city_assets(name, contents, assets)
        part = _part(name, str(layer.get("kind")) in POINT_KINDS, contents, table, origin)
        part.bounds = table.bounds  # from the index: assets not loaded have their place too
        parts.append(part)
    return parts, rows


def _overview(tileset: Tileset, budget: Budget, cache: TileCache) -> list[int]:
    """The tiles a camera over the whole tileset draws within the budget, loaded here and now."""
    lo, hi = tileset.box[0, :3], tileset.box[0, 3:]
    centre, size = (lo + hi) / 2, float(np.linalg.norm(hi - lo)) or 1.0
    camera = Camera(tuple(centre + np.array([-0.6, -0.8, 1.0]) * size), tuple(centre))
    # refine level by level: each round measures the tiles it loaded, so the budget holds on real counts
    chosen: list[int] = []
    while True:
        wanted = select(tileset, camera, budget, cache.cost, cache.loaded).wanted
        cache.load_now(wanted)
        if wanted == chosen:
            return [t for t in wanted if tileset.contents[t] and t not in cache.failed]
        chosen = wanted


def _part(name: str, points: bool, contents: list[TileContent], table: AssetTable, origin: np.ndarray) -> LayerPart:
    mesh = merge(contents, points)
    mesh.points = np.asarray(mesh.points, dtype=np.float64) + origin
    data = mesh.point_data if points else mesh.cell_data
    return LayerPart(
        name=name,
        dataset=mesh,
        assets=table,
        asset_index=np.asarray(data["asset_index"]),
        association="point" if points else "cell",
        style=LayerStyle(),
    )


def _city_assets(layer: str, contents: list[TileContent], assets: AssetTable) -> tuple[AssetTable, np.ndarray]:
    """The index rows of this layer (those its tiles draw, and those the index files under it) as its
    asset table, and its contents renumbered to them; returns the table and the rows it holds."""
    drawn = [c.vertex_rows for c in contents]
    used = np.union1d(np.flatnonzero(assets["layer"] == layer), np.concatenate(drawn) if drawn else [])
    used = used[(used >= 0) & (used < len(assets))].astype(np.int64)
    local = np.full(len(assets) + 1, -1, dtype=np.int64)  # index -1 (no asset): stays -1
    local[used] = np.arange(len(used))
    for content in contents:
        content.rows = local[np.clip(content.vertex_rows, -1, len(assets))]
        content.features = np.arange(len(content.rows))
    if any((c.rows < 0).any() for c in contents if c.rows is not None):
        raise InputError(contents[0].uri, "an element names no asset row", hint="every feature needs asset_row")
    return AssetTable({c: assets[c][used] for c in assets.columns}, assets.bounds[used]), used


def _foreign_assets(contents: list[TileContent]) -> AssetTable:
    """One asset per (content file, feature) of a foreign tileset, with its batch table's columns.

    Elements without a feature id make one more asset per file, ``<file>/all``.
    """
    ids: list[np.ndarray] = []
    properties: dict[str, list[np.ndarray]] = {}
    start = 0
    for content in contents:
        lengths = [len(v) for v in content.properties.values()]
        count = max([int(content.features.max(initial=-1)) + 1, *lengths])
        n = count + int(bool((content.features < 0).any()))
        label = Path(content.uri).stem
        ids.append(np.array([f"{label}/{i}" for i in range(count)] + [f"{label}/all"] * (n - count), dtype=STR))
        for key, values in content.properties.items():
            properties.setdefault(key, []).append(_padded(np.asarray(values), n))
        content.rows = np.arange(start, start + n)
        content.features = np.where(content.features >= 0, content.features, n - 1)
        start += n
    attrs = {k: np.concatenate(v) for k, v in properties.items() if sum(map(len, v)) == start}
    attrs = {f"batch_{k}" if k in ("id", "kind", "name", "layer") else k: v for k, v in attrs.items()}
    return AssetTable.build(np.concatenate(ids), kind="feature", attrs=attrs)


def _padded(column: np.ndarray, n: int) -> np.ndarray:
    """A batch table column to ``n`` rows: numbers as float64 (NaN after its end), anything else as text."""
    if column.dtype.kind in "fiu":
        numbers: np.ndarray = np.r_[column.astype(np.float64), np.full(n - len(column), np.nan)]
        return numbers
    out: np.ndarray = np.empty(n, dtype=STR)
    out[: len(column)] = column.astype(STR)
    return out
