"""The city's asset index, ``assets.parquet``: one row per asset, ``row`` = the GLBs' ``asset_row``.

Each source's cut writes its own fragment (source-local rows); the driver stacks the fragments
in source order, numbers the rows and writes the index with :func:`write_asset_index`, the
one place the file is written, so that the shared asset-index module can take its place.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from twin.assets import CORE_COLUMNS, AssetTable

ASSET_INDEX = "assets.parquet"
_NULLABLE = ("network", "address", "address_text")
_BOUNDS = ("xmin", "xmax", "ymin", "ymax", "zmin", "zmax")  # the order of AssetTable.bounds


def asset_fragment(assets: AssetTable, tiles: np.ndarray) -> pa.Table:
    """A source's assets as Arrow columns: the contract's columns, then its free attributes."""
    columns: dict[str, pa.Array] = {}
    for name in (*CORE_COLUMNS, *(["address_text"] if "address_text" in assets else [])):
        values = pa.array(assets[name].astype(object), type=pa.string())
        columns[name] = _null_if_empty(values) if name in _NULLABLE else values
    if "address_text" not in columns:
        columns["address_text"] = pa.nulls(len(assets), type=pa.string())
    for i, name in enumerate(_BOUNDS):
        columns[name] = pa.array(assets.bounds[:, i], type=pa.float64())
    columns["tile"] = _null_if_empty(pa.array(tiles, type=pa.string()))
    for name in assets.attribute_columns:
        if name in columns or name == "address_text":
            continue
        column = assets[name]
        columns[name] = (
            pa.array(column) if column.dtype.kind in "fiub" else pa.array(column.astype(object), pa.string())
        )
    return pa.table(columns)


def _null_if_empty(values: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def write_table(table: pa.Table, path: Path) -> None:
    """A Parquet file written whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, temporary)
    temporary.replace(path)


def stack(fragments: Sequence[pa.Table]) -> pa.Table:
    """Fragments in order, numbered ``row`` 0..N-1 (uint32) in front; missing columns are null."""
    table = pa.concat_tables(fragments, promote_options="permissive") if fragments else _empty()
    rows = pa.array(np.arange(len(table), dtype=np.uint32))
    return table.add_column(0, "row", rows)


def _empty() -> pa.Table:
    strings = {name: pa.array([], pa.string()) for name in (*CORE_COLUMNS, "address_text")}
    return pa.table({**strings, **{n: pa.array([], pa.float64()) for n in _BOUNDS}, "tile": pa.array([], pa.string())})


def write_asset_index(table: pa.Table, folder: Path) -> None:
    """``folder/assets.parquet`` through ``twin.asset_index`` where that module exists, else here."""
    try:
        shared = importlib.import_module("twin.asset_index")
    except ImportError:
        write_table(table, Path(folder) / ASSET_INDEX)
        return
    shared.write_asset_index(table, folder)
