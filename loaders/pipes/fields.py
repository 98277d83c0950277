"""Attribute tables of GIS pipe data (GeoJSON properties, CSV columns) mapped to our fields.

Every city names its columns differently (``DN_mm``, ``CZ`` for 材质, ``MSRQ`` for 埋设日期...).
The scene manifest maps them: ``options = { fields = { diameter = "DN_mm", material = "CZ" } }``;
a field not mapped is looked up under the common names listed in :data:`ALIASES`.  Units of the
mapped values come from the options ``diameter_unit`` (default m), ``length_unit`` (m) and
``elevation_unit`` (m, also for depths and inverts).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from loaders.pipes.model import STR, Attr, Link, Node, number, unit_factor

ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "name", "gid", "fid", "objectid", "code"),
    "from_node": ("from_node", "start_node_name", "start_node", "from", "node1", "fnode"),
    "to_node": ("to_node", "end_node_name", "end_node", "to", "node2", "tnode"),
    "diameter": ("diameter", "diameter_m", "dn", "diam"),
    "material": ("material", "mat"),
    "install_year": ("install_year", "year", "installed", "install_date", "build_year"),
    "network": ("network", "utility", "system"),
    "kind": ("kind", "type", "node_type", "feature_type"),
    "elevation": ("elevation", "ground", "ground_elevation", "ground_m", "elev"),
    "invert": ("invert", "invert_elevation", "sump"),
    "depth": ("depth", "cover", "cover_depth", "burial_depth"),
    "depth_start": ("depth_start", "cover_start", "start_depth"),
    "depth_end": ("depth_end", "cover_end", "end_depth"),
    "invert_start": ("invert_start", "start_invert", "us_invert"),
    "invert_end": ("invert_end", "end_invert", "ds_invert"),
    "pressure_class": ("pressure_class", "pressure", "pn"),
    "owner": ("owner", "operator"),
    "address": ("address", "standard_address"),
    "length": ("length", "length_m"),
    "demand": ("demand", "base_demand"),
    "structure_diameter": ("structure_diameter", "manhole_diameter"),
}
#: node kinds by the words used for them (English and Chinese survey terms)
NODE_WORDS = {
    "valve": ("valve", "阀"),
    "manhole": ("manhole", "chamber", "inspection", "井"),
    "reservoir": ("reservoir", "水库", "清水池"),
    "tank": ("tank", "tower", "水塔", "水箱"),
    "source": ("source", "supply", "plant", "station", "regulator", "水厂", "水源", "门站", "调压", "气源"),
    "outfall": ("outfall", "outlet", "排放口", "出水口"),
    "hydrant": ("hydrant", "消火栓"),
    "storage": ("storage", "调蓄"),
    "meter": ("meter", "水表", "表"),
    "customer": ("customer", "用户"),
}
_YEAR = re.compile(r"(1[89]\d\d|20\d\d)")


def node_kind(text: Any) -> str:
    word = str(text or "").strip().lower()
    for kind, words in NODE_WORDS.items():
        if any(w in word for w in words):
            return kind
    return "junction"


def year(value: Any) -> float:
    """Install year from a number or a date string ("2008", "2008-05-01", "2008年")."""
    if value is None or value == "":
        return math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _YEAR.search(str(value))
    return float(match.group(1)) if match else math.nan


def _per_value(values: np.ndarray, read: Any) -> np.ndarray:
    """``read`` of every value, calling it once per distinct value."""
    items = values.tolist()
    table = {v: read(v) for v in set(items)}
    return np.array([table[v] for v in items] if items else [], dtype=object)


class FieldMap:
    """Resolves our field names to the file's, once per file, and converts units."""

    def __init__(self, path: Path, options: Mapping[str, Any], keys: Iterable[str]) -> None:
        mapping = options.get("fields") or {}
        if not isinstance(mapping, Mapping):
            raise ValueError('option fields must be a table of field = "column"')
        present = list(dict.fromkeys(keys))
        lower = {k.lower(): k for k in present}
        self.column: dict[str, str | None] = {}
        for field, aliases in ALIASES.items():
            if field in mapping:
                self.column[field] = str(mapping[field])
            else:
                self.column[field] = next((lower[a] for a in aliases if a in lower), None)
        self.used = {c for c in self.column.values() if c}
        self.diameter = unit_factor(options.get("diameter_unit"), path, "diameter_unit")
        self.length = unit_factor(options.get("length_unit"), path, "length_unit")
        self.elevation = unit_factor(options.get("elevation_unit"), path, "elevation_unit")
        self.units = {key: str(options.get(f"{key}_unit") or "m") for key in ("diameter", "length", "elevation")}

    def get(self, row: Mapping[str, Any], field: str) -> Any:
        column = self.column.get(field)
        return None if column is None else row.get(column)

    def text(self, row: Mapping[str, Any], field: str) -> str:
        value = self.get(row, field)
        return "" if value is None else str(value).strip()

    def metres(self, row: Mapping[str, Any], field: str, factor: float) -> float:
        """A length field in metres; raises ValueError naming the field when it is not a number."""
        value = self.get(row, field)
        try:
            return number(value) * factor
        except (TypeError, ValueError) as exc:
            problem = str(exc) if "finite" in str(exc) else f"not a number: {value!r}"
            raise ValueError(f"{field} ({self.column[field]}) is {problem}") from None

    # -- whole columns (CSV): one conversion per column ----------------------------------------
    def texts(self, columns: Mapping[str, np.ndarray], field: str, n: int) -> np.ndarray:
        column = self.column.get(field)
        return columns[column] if column is not None and column in columns else np.empty(n, dtype=STR)

    def numbers(
        self, columns: Mapping[str, np.ndarray], field: str, factor: float, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """A length field in metres over all rows (NaN where empty), and the rows that hold no
        finite number (the per-row :meth:`metres` then says why)."""
        values, bad = np.full(n, math.nan), np.zeros(n, dtype=bool)
        column = self.column.get(field)
        if column is None or column not in columns:
            return values, bad
        text = columns[column]
        given = np.flatnonzero(np.strings.str_len(text) > 0)
        try:
            values[given] = text[given].astype(np.float64)
        except ValueError:
            for i, item in zip(given.tolist(), text[given].tolist()):
                try:
                    values[i] = float(item)
                except ValueError:
                    bad[i] = True
        bad |= np.isinf(values)
        return values * factor, bad

    def kinds(self, columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """Node kinds, each distinct word read once (a survey has a handful of them)."""
        return _per_value(self.texts(columns, "kind", n), node_kind).astype(STR)

    def years(self, columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        return _per_value(self.texts(columns, "install_year", n), year).astype(np.float64)

    def free_attrs(self, columns: Mapping[str, np.ndarray], rows: np.ndarray) -> dict[str, Attr]:
        """Unmapped columns, kept as text attributes of these rows."""
        return {k: Attr.of(v[rows]) for k, v in columns.items() if k not in self.used}

    # -- one row (GeoJSON features; a CSV row that failed) ---------------------------------------
    def extras(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Unmapped scalar attributes, kept as free asset columns."""
        return {
            k: v
            for k, v in row.items()
            if k not in self.used and isinstance(v, (str, int, float)) and not isinstance(v, bool)
        }

    def node(self, row: Mapping[str, Any], node_id: str, x: float, y: float, where: str) -> Node:
        attrs = self.extras(row)
        attrs["demand"] = self.metres(row, "demand", 1.0) if self.get(row, "demand") is not None else 0.0
        attrs["address"] = self.text(row, "address")
        size = self.metres(row, "structure_diameter", self.diameter)
        if math.isfinite(size):
            attrs["structure_diameter_m"] = size
        return Node(
            node_id,
            x,
            y,
            kind=node_kind(self.get(row, "kind")),
            network=self.text(row, "network"),
            ground=self.metres(row, "elevation", self.elevation),
            invert=self.metres(row, "invert", self.elevation),
            cover=self.metres(row, "depth", self.elevation),
            where=where,
            attrs=attrs,
        )

    def link(self, row: Mapping[str, Any], link_id: str, start: str, end: str, where: str) -> Link:
        cover = self.metres(row, "depth", self.elevation)
        start_cover, end_cover = (
            self.metres(row, "depth_start", self.elevation),
            self.metres(row, "depth_end", self.elevation),
        )
        return Link(
            link_id,
            start,
            end,
            kind="pipe",
            network=self.text(row, "network"),
            diameter=self.metres(row, "diameter", self.diameter),
            length=self.metres(row, "length", self.length),
            invert_start=self.metres(row, "invert_start", self.elevation),
            invert_end=self.metres(row, "invert_end", self.elevation),
            cover_start=start_cover if math.isfinite(start_cover) else cover,
            cover_end=end_cover if math.isfinite(end_cover) else cover,
            material=self.text(row, "material"),
            install_year=year(self.get(row, "install_year")),
            pressure_class=self.text(row, "pressure_class"),
            owner=self.text(row, "owner"),
            address=self.text(row, "address"),
            where=where,
            attrs=self.extras(row),
        )
