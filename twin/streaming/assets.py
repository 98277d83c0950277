"""The city's asset index (``assets.parquet``) as the twin's asset table, read a column at a time.

A city of a million buildings has some fifty columns; turning every one into numpy at start took
~10 s and ~1 GB before the first frame, though a view needs only a few of them (bounds, then
whatever search, risk or the inspector touch).  :class:`CityAssets` reads the bounds at once and
any other column the first time it is asked for; :meth:`CityAssets.row` (the inspector, one
asset) reads the one row group that holds the asset instead of whole columns.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from twin.assets import CORE_COLUMNS, STR, AssetTable, ColumnValue
from twin.errors import InputError

BOUNDS_COLUMNS = ("xmin", "xmax", "ymin", "ymax", "zmin", "zmax")
TEXT_COLUMNS = ("id", "kind", "name", "layer", "network", "address", "address_text", "tile")


class CityAssets(AssetTable):
    """An :class:`~twin.assets.AssetTable` over ``assets.parquet`` whose columns load on first use.

    Rows are the index's ``row`` column (the ``asset_row`` of every tile feature); a file written
    out of order is read through the permutation that sorts it.
    """

    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(path)
            names = self._file.schema_arrow.names
            missing = [c for c in ("row", "id", *BOUNDS_COLUMNS) if c not in names]
            if missing:
                raise InputError(path, f"the asset index lacks column(s) {missing}", hint="rebuild it with `twin tile`")
            head = self._file.read(columns=["row", *BOUNDS_COLUMNS])
        except (OSError, ValueError) as exc:
            raise InputError(path, f"cannot read the city's asset index: {exc}") from None
        self.path = path
        rows = head["row"].to_numpy(zero_copy_only=False)
        self._order: np.ndarray | None = None if np.array_equal(rows, np.arange(len(rows))) else np.argsort(rows)
        bounds = np.column_stack([head[c].to_numpy(zero_copy_only=False).astype(np.float64) for c in BOUNDS_COLUMNS])
        if self._order is not None:
            bounds = bounds[self._order]
        super().__init__({}, bounds)
        self._columns = {}  # loaded so far
        present = [n for n in names if n not in BOUNDS_COLUMNS and n != "row"]
        self._names = [*CORE_COLUMNS, *(n for n in present if n not in CORE_COLUMNS)]
        self._in_file = set(present)
        self._lock = threading.Lock()
        groups = [self._file.metadata.row_group(i).num_rows for i in range(self._file.num_row_groups)]
        self._group_starts = np.cumsum([0, *groups])

    # -- columns on demand --------------------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        return list(self._names)

    @property
    def attribute_columns(self) -> list[str]:
        return [c for c in self._names if c not in CORE_COLUMNS]

    @property
    def loaded_columns(self) -> list[str]:
        """The columns read so far (what the serving process holds of the index)."""
        return list(self._columns)

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def __getitem__(self, name: str) -> np.ndarray:
        column = self._columns.get(name)
        if column is None:
            with self._lock:
                column = self._columns.get(name)
                if column is None:
                    column = self._columns[name] = self._read(name)
        return column

    def set_column(self, name: str, value: ColumnValue) -> None:
        with self._lock:
            super().set_column(name, value)
            if name not in self._names:
                self._names.append(name)

    def index_of(self, asset_id: str) -> int | None:
        self["id"]  # the ids in memory before the base class sorts a copy of them
        return super().index_of(asset_id)

    def row(self, index: int) -> dict[str, Any]:
        """One asset: the loaded columns from memory, the others from the one row group that holds it."""
        position = int(index if self._order is None else self._order[index])
        group = int(np.searchsorted(self._group_starts, position, side="right") - 1)
        unread = [n for n in self._names if n not in self._columns and n in self._in_file]
        table = self._file.read_row_group(group, columns=unread) if unread else None
        out: dict[str, Any] = {}
        for name in self._names:
            if name in self._columns:
                value = self._columns[name][index]
                out[name] = value.item() if isinstance(value, np.generic) else str(value)
            elif table is not None and name in unread:
                value = table[name][position - int(self._group_starts[group])].as_py()
                out[name] = "" if value is None and _text(name, table[name].type) else _plain(value)
            else:
                out[name] = ""
        x, y, z = self.centre(index)
        out.update(x=float(x), y=float(y), z=float(z))
        return out

    def _read(self, name: str) -> np.ndarray:
        """One column as numpy: text as StringDType ('' for null), numbers as float64 (NaN for null)."""
        if name not in self._in_file:
            if name in CORE_COLUMNS:
                return np.empty(len(self), dtype=STR)  # empty strings
            raise KeyError(name)
        column = self._file.read(columns=[name])[name]
        values: np.ndarray
        if _text(name, column.type):
            values = column.cast("string").fill_null("").to_numpy(zero_copy_only=False).astype(STR)
        else:
            values = column.to_numpy(zero_copy_only=False).astype(np.float64)
        return values if self._order is None else values[self._order]


def _text(name: str, arrow_type: Any) -> bool:
    import pyarrow as pa

    numeric = arrow_type.num_fields == 0 and (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type))
    return name in TEXT_COLUMNS or not numeric


def _plain(value: Any) -> Any:
    """A Parquet cell as the inspector shows it (numbers as float, the rest as text)."""
    if value is None:
        return float("nan")
    if isinstance(value, bool):
        return str(value).lower()  # as arrow casts it to text
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return str(value)
