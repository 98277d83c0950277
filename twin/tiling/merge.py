"""Asset rows across sources and chunks: every id once in the index.

Every chunk of a cloud has the cloud's classes as its assets (``<stem>/class-2``, ...); the
index keeps each id once, in order of first appearance, with the union of the chunks' bounds,
and each chunk's local rows map to those rows.  Two sources may also share ids (one DEM loaded
as terrain and again draped as a flood map): the later one's are qualified by its source name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

_LOW, _HIGH = ("xmin", "ymin", "zmin"), ("xmax", "ymax", "zmax")


def merge_chunks(paths: Sequence[Path], offset: int) -> tuple[pa.Table, list[int | np.ndarray] | None]:
    """The source's asset fragment and, for several chunks, each chunk's local-row -> row map
    (or the offset of its rows, where they run on contiguously)."""
    tables = [pq.read_table(p) for p in paths]
    if len(tables) == 1:
        return tables[0], None
    table = pa.concat_tables(tables, promote_options="permissive")
    ids = np.asarray(table["id"].to_numpy(zero_copy_only=False), dtype=object).astype(str)
    unique, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    rank = np.argsort(first, kind="stable")  # unique ids in order of first appearance
    position = np.empty(len(unique), dtype=np.int64)
    position[rank] = np.arange(len(unique))
    row = position[inverse]
    merged = table.take(pa.array(first[rank]))
    for names, reduce in ((_LOW, np.minimum), (_HIGH, np.maximum)):
        for name in names:
            values = table[name].to_numpy()
            out = np.full(len(unique), np.nan)
            out[:] = values[first[rank]]
            reduce.at(out, row, values)
            merged = merged.set_column(merged.schema.get_field_index(name), name, pa.array(out))
    bounds = np.cumsum([0, *(t.num_rows for t in tables)])
    return merged, [_compact(row[a:b] + offset) for a, b in zip(bounds[:-1], bounds[1:])]


def _compact(rows: np.ndarray) -> int | np.ndarray:
    """A chunk whose rows run on contiguously (parts of a CityJSONSeq: no id shared) as its offset."""
    if len(rows) and np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows))):
        return int(rows[0])
    return rows


class UniqueIds:
    """The ids the index holds so far; a source's ids already taken become ``<source>/<id>``."""

    def __init__(self) -> None:
        self.taken: list[pa.Array] = []

    def claim(self, fragment: pa.Table, source: str) -> tuple[pa.Table, tuple[int, ...]]:
        """The fragment with clashing ids qualified, and the source-local rows so renamed."""
        ids = fragment["id"].combine_chunks()
        clash = np.zeros(len(ids), dtype=bool)
        for taken in self.taken:
            clash |= pc.is_in(ids, value_set=taken).to_numpy(zero_copy_only=False)
        renamed = tuple(int(r) for r in np.flatnonzero(clash))
        if renamed:
            qualified = pc.if_else(pa.array(clash), pc.binary_join_element_wise(source, ids, "/"), ids)
            fragment = fragment.set_column(fragment.schema.get_field_index("id"), "id", qualified)
            ids = qualified
        self.taken.append(ids)
        return fragment, renamed
