"""The columnar asset table: one row per asset, one numpy array per column.

A city holds millions of assets, so a row is never a Python object: every column is a
numpy array (strings use numpy's variable-width ``StringDType``, which stores them in one
arena).  Layers point into the table with an integer ``asset_index`` array.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

import numpy as np

STR = np.dtypes.StringDType()

#: The core columns every asset has, in the order ``twin assets`` writes them.
CORE_COLUMNS: tuple[str, ...] = ("id", "kind", "name", "layer", "network", "address")

ColumnValue = Any  # a scalar broadcast to every row, or a sequence / array of one per row


def _as_column(value: ColumnValue, n: int) -> np.ndarray:
    """Broadcast a scalar, or convert a sequence, to a column of length ``n``."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
        column = value
    elif isinstance(value, (str, bytes)) or value is None or np.isscalar(value):
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            return np.full(n, value, dtype=np.float64)
        column = np.empty(n, dtype=STR)  # empty strings; np.full is ~20x slower for StringDType
        if value:
            column[:] = str(value)
        return column
    else:
        column = np.asarray(value)
        if column.dtype.kind in "OUS":
            column = column.astype(STR)
    if len(column) != n:
        raise ValueError(f"column has {len(column)} values for {n} assets")
    return column


def _empty_like(column: np.ndarray, n: int) -> np.ndarray:
    """A column of ``n`` missing values of the same family (NaN for numbers, '' for text)."""
    if column.dtype.kind in "fiu":
        return np.full(n, np.nan)
    if column.dtype.kind == "b":
        return np.zeros(n, dtype=bool)
    return np.empty(n, dtype=STR)


class AssetTable:
    """Columns of equal length; the core columns always exist.

    ``bounds`` holds each asset's world bounding box ``[xmin, xmax, ymin, ymax, zmin, zmax]``
    (float64, NaN until the twin measures the asset's geometry).
    """

    def __init__(self, columns: Mapping[str, np.ndarray], bounds: np.ndarray | None = None) -> None:
        lengths = {len(c) for c in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"asset columns differ in length: {sorted(lengths)}")
        n = lengths.pop() if lengths else 0
        self._columns: dict[str, np.ndarray] = {
            name: columns[name] if name in columns else _as_column("", n) for name in CORE_COLUMNS
        }
        self._columns.update(columns)
        self.bounds = np.full((n, 6), np.nan) if bounds is None else np.asarray(bounds, dtype=np.float64)
        self._sorted_ids: np.ndarray | None = None
        self._order: np.ndarray | None = None

    @classmethod
    def build(
        cls,
        ids: Sequence[str] | np.ndarray,
        kind: ColumnValue,
        name: ColumnValue = "",
        network: ColumnValue = "",
        address: ColumnValue = "",
        attrs: Mapping[str, ColumnValue] | None = None,
    ) -> AssetTable:
        """Make a table from per-asset sequences or scalars broadcast to every row."""
        n = len(ids)
        columns = {
            "id": _as_column(ids, n),
            "kind": _as_column(kind, n),
            "name": _as_column(name, n),
            "layer": _as_column("", n),
            "network": _as_column(network, n),
            "address": _as_column(address, n),
        }
        for key, value in (attrs or {}).items():
            columns[key] = _as_column(value, n)
        return cls(columns)

    @classmethod
    def empty(cls) -> AssetTable:
        return cls({})

    def __len__(self) -> int:
        return len(self.bounds)

    @property
    def columns(self) -> list[str]:
        """Column names: the core ones first, then the free attributes."""
        return list(self._columns)

    @property
    def attribute_columns(self) -> list[str]:
        return [c for c in self._columns if c not in CORE_COLUMNS]

    def __getitem__(self, name: str) -> np.ndarray:
        return self._columns[name]

    def __contains__(self, name: str) -> bool:
        return name in self._columns

    def set_column(self, name: str, value: ColumnValue) -> None:
        self._columns[name] = _as_column(value, len(self))
        if name == "id":
            self._sorted_ids = None

    @property
    def centres(self) -> np.ndarray:
        """Centre of each asset's bounding box, world coordinates, shape ``(n, 3)``."""
        return _centres(self.bounds)

    def centre(self, index: int) -> np.ndarray:
        """One asset's centre, without computing the whole table's."""
        centre: np.ndarray = _centres(self.bounds[index : index + 1])[0]
        return centre

    def index_of(self, asset_id: str) -> int | None:
        """Row of an asset id, by binary search over a lazily sorted copy of the ids.

        The copy is UTF-8 bytes (fixed width, no Python object per id): numpy 2.4's
        ``searchsorted`` on StringDType fails ("Failed to load string in string comparison")
        once ids longer than 15 bytes, such as IFC GlobalIds, are compared.
        """
        if self._sorted_ids is None or self._order is None:
            encoded = np.strings.encode(self._columns["id"], "utf-8")
            self._order = np.argsort(encoded, kind="stable")
            self._sorted_ids = encoded[self._order]
        sorted_ids, order = self._sorted_ids, self._order
        key = asset_id.encode("utf-8")
        pos = int(np.searchsorted(sorted_ids, key))
        if pos < len(sorted_ids) and sorted_ids[pos] == key:
            return int(order[pos])
        return None

    def row(self, index: int) -> dict[str, Any]:
        """One asset as a plain dict (for the inspector and the API, never for bulk work)."""
        out: dict[str, Any] = {}
        for name, column in self._columns.items():
            value = column[index]
            out[name] = value.item() if isinstance(value, np.generic) else str(value)
        x, y, z = self.centre(index)
        out.update(x=float(x), y=float(y), z=float(z))
        return out

    @staticmethod
    def concat(tables: Iterable[AssetTable]) -> AssetTable:
        """Stack tables; a free attribute missing from some table is filled with missing values."""
        tables = [t for t in tables if len(t)]
        if not tables:
            return AssetTable.empty()
        names: dict[str, np.ndarray] = {}
        for t in tables:
            for name in t.columns:
                names.setdefault(name, t[name])
        columns = {}
        for name, prototype in names.items():
            parts = [t[name] if name in t else _empty_like(prototype, len(t)) for t in tables]
            if any(p.dtype == STR for p in parts) and not all(p.dtype == STR for p in parts):
                parts = [p.astype(STR) for p in parts]
            columns[name] = np.concatenate(parts)
        return AssetTable(columns, np.concatenate([t.bounds for t in tables]))

    def write_csv(self, stream: IO[str], extra: Sequence[str] | None = None) -> None:
        """Write the inventory: core columns, ``x, y, z`` centres, then the free attributes."""
        extra = list(self.attribute_columns if extra is None else extra)
        header = [*CORE_COLUMNS, "x", "y", "z", *extra]
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        centres = self.centres
        chunk = 50_000
        for start in range(0, len(self), chunk):
            stop = min(start + chunk, len(self))
            cols = [_format(self[c][start:stop]) for c in CORE_COLUMNS]
            cols += [np.char.mod("%.3f", centres[start:stop, i]).tolist() for i in range(3)]
            cols += [_format(self[c][start:stop]) for c in extra]
            writer.writerows(zip(*cols))


def _centres(bounds: np.ndarray) -> np.ndarray:
    centres: np.ndarray = (bounds[:, 0::2] + bounds[:, 1::2]) / 2
    return centres


def _format(column: np.ndarray) -> list[Any]:
    """A column chunk as CSV cell values; NaN becomes an empty cell."""
    if column.dtype.kind == "f":
        column = np.where(np.isnan(column), "", np.char.mod("%.6g", column))
    cells: list[Any] = column.tolist()
    return cells
