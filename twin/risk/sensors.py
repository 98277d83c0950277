"""The sensors file: which sensors exist, what each watches, and how often it should report.

A CSV with a header row, a TOML file of ``[[sensor]]`` tables, or a JSON list of objects, all
with the same fields: ``id``, ``asset``, ``quantity``, ``unit``, ``period_s``.  A bad entry is an
:class:`~twin.errors.InputError` naming the file, the entry and the problem; a sensor on an
asset the scene does not have is only a warning (its readings are stored, it colours nothing).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from twin.assets import STR, AssetTable
from twin.errors import InputError

FIELDS = ("id", "asset", "quantity", "unit", "period_s")


@dataclass
class SensorTable:
    """Sensors as columns; ``asset_index`` is the row in the twin's asset table, -1 if unknown."""

    ids: np.ndarray
    asset: np.ndarray
    quantity: np.ndarray
    unit: np.ndarray
    period_s: np.ndarray
    asset_index: np.ndarray
    warnings: list[str] = field(default_factory=list)
    path: Path | None = None

    def __post_init__(self) -> None:
        self.index = {str(s): i for i, s in enumerate(self.ids)}
        self._arrow_ids: pa.Array | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_rows(
        cls, rows: list[dict[str, Any]], assets: AssetTable | None = None, path: Path | None = None
    ) -> SensorTable:
        """Validate plain rows (from any file format) and resolve their assets."""
        seen: set[str] = set()
        clean = [_row(r, i, path, seen) for i, r in enumerate(rows)]
        asset_ids = [r["asset"] for r in clean]
        index = np.array([_index_of(assets, a) for a in asset_ids], dtype=np.int64)
        unknown = sorted({a for a, i in zip(asset_ids, index) if i < 0})
        warnings = []
        if unknown and assets is not None:
            shown = ", ".join(unknown[:8]) + (" ..." if len(unknown) > 8 else "")
            warnings.append(f"{path}: {len(unknown)} sensor asset(s) not in the scene: {shown}")
        return cls(
            ids=np.array([r["id"] for r in clean], dtype=STR),
            asset=np.array(asset_ids, dtype=STR),
            quantity=np.array([r["quantity"] for r in clean], dtype=STR),
            unit=np.array([r["unit"] for r in clean], dtype=STR),
            period_s=np.array([r["period_s"] for r in clean], dtype=np.float64),
            asset_index=index,
            warnings=warnings,
            path=path,
        )

    def row(self, i: int) -> dict[str, Any]:
        return {
            "id": str(self.ids[i]),
            "asset": str(self.asset[i]),
            "quantity": str(self.quantity[i]),
            "unit": str(self.unit[i]),
            "period_s": float(self.period_s[i]),
        }

    def lookup_arrow(self, names: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """Sensor row per name of an Arrow string column, by Arrow's hash lookup (-1 for unknown)."""
        if self._arrow_ids is None:
            self._arrow_ids = pa.array(self.ids.tolist(), pa.string())
        found = pc.index_in(names, value_set=self._arrow_ids)
        return pc.fill_null(found, -1).to_numpy().astype(np.int64)

    def lookup(self, names: list[Any]) -> np.ndarray:
        """Sensor row per name, -1 for unknown names (and for anything that is not a string)."""
        get = self.index.get
        if set(map(type, names)) <= {str}:
            return np.fromiter(map(get, names, itertools.repeat(-1)), dtype=np.int64, count=len(names))
        return np.fromiter((get(n, -1) if isinstance(n, str) else -1 for n in names), dtype=np.int64, count=len(names))


def _index_of(assets: AssetTable | None, asset_id: str) -> int:
    if assets is None:
        return -1
    found = assets.index_of(asset_id)
    return -1 if found is None else found


def read_sensors(path: Path, assets: AssetTable | None = None) -> SensorTable:
    """Read a sensors file (.csv, .toml or .json)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(path, f"cannot read the sensors file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, "not UTF-8 text", where=f"byte {exc.start}") from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path, text)
    elif suffix == ".toml":
        rows = _toml_rows(path, text)
    elif suffix == ".json":
        rows = _json_rows(path, text)
    else:
        raise InputError(path, f"unknown sensors file type {suffix!r}", hint="use .csv, .toml or .json")
    if not rows:
        raise InputError(path, "no sensors in the file")
    return SensorTable.from_rows(rows, assets, path)


def _csv_rows(path: Path, text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [f for f in FIELDS if f not in (reader.fieldnames or [])]
    if missing:
        raise InputError(
            path,
            f"the header lacks column(s) {', '.join(missing)}",
            where="line 1",
            hint=f"the header must name {', '.join(FIELDS)}",
        )
    rows = []
    for row in reader:
        row["_where"] = f"line {reader.line_num}"
        rows.append(row)
    return rows


def _toml_rows(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML ({exc})") from None
    rows = data.get("sensor", [])
    if not isinstance(rows, list):
        raise InputError(path, "sensor must be an array of tables ([[sensor]])")
    return [dict(r, _where=f"sensor[{i}]") if isinstance(r, dict) else r for i, r in enumerate(rows)]


def _json_rows(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON ({exc.msg})", where=f"line {exc.lineno}") from None
    if isinstance(data, dict):
        data = data.get("sensors")
    if not isinstance(data, list):
        raise InputError(path, 'expected a list of sensor objects (or {"sensors": [...]})')
    return [dict(r, _where=f"entry {i}") if isinstance(r, dict) else r for i, r in enumerate(data)]


def _row(row: Any, i: int, path: Path | None, seen: set[str]) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise InputError(path, f"a sensor must be a table/object, not {type(row).__name__}", where=f"entry {i}")
    where = row.get("_where", f"entry {i}")
    out: dict[str, Any] = {}
    for key in ("id", "asset", "quantity"):
        value = row.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InputError(path, f"{key} must be a non-empty string, not {value!r}", where=where)
        out[key] = value.strip()
    out["quantity"] = out["quantity"].lower()
    out["unit"] = str(row.get("unit") or "").strip()
    period: Any = row.get("period_s")
    try:
        period = float(period)
    except (TypeError, ValueError):
        raise InputError(path, f"period_s must be a number of seconds, not {period!r}", where=where) from None
    if not math.isfinite(period) or period <= 0:
        raise InputError(path, f"period_s must be a positive number of seconds, not {period}", where=where)
    out["period_s"] = period
    if out["id"] in seen:
        raise InputError(path, f"duplicate sensor id {out['id']!r}", where=where)
    seen.add(out["id"])
    return out
