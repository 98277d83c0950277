"""Overlaid grid systems (comprehensive management, emergency, safety supervision), each cell
with its level roll-up and its grid workers, and who is on duty there now.

A TOML file (``[live] grid_layers``) lists the layers, ``[[layer]]`` with ``name``, ``name_zh``
and ``path`` (a GeoJSON of Polygons in the scene CRS, relative to the TOML).  A cell's
properties: ``id``, ``name``, ``workers = [{name, phone, duty}]`` where ``duty`` is ``day``
(08:00-20:00 China time), ``night`` or ``24h``.  A cell's level is the highest of the assets
inside (:class:`~twin.risk.static.Grids`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twin.errors import InputError
from twin.risk.levels import NAMES
from twin.risk.static import Grids, read_features
from twin.tomltables import TableReader, read_toml

LAYER_KEYS = {"name", "name_zh", "path"}
DUTIES = ("day", "night", "24h")
CHINA_UTC_OFFSET_H = 8
DAY_HOURS = (8, 20)


@dataclass
class GridLayer:
    name: str
    name_zh: str
    grids: Grids
    workers: list[list[dict[str, str]]]  # per cell


def read_grid_layers(path: Path, centres: np.ndarray) -> list[GridLayer]:
    """The layers a grid-layers TOML names, placed over the asset centres."""
    path = Path(path)
    data = read_toml(path, "grid layers")
    r = TableReader(path)
    r.table(data, "", {"layer"})
    layers = data.get("layer", [])
    if not isinstance(layers, list) or not layers:
        raise r.fail("layer", "give at least one [[layer]] with name and path")
    out = []
    for i, value in enumerate(layers):
        t = r.table(value, f"layer[{i}]", LAYER_KEYS)
        for key in ("name", "path"):
            if not isinstance(t.get(key), str) or not t[key].strip():
                raise r.fail(f"layer[{i}].{key}", "missing: a non-empty string")
        features = read_features(path.parent / t["path"], False)
        workers = [
            _workers(path.parent / t["path"], f.properties.get("workers", []), k) for k, f in enumerate(features)
        ]
        out.append(GridLayer(t["name"], str(t.get("name_zh", "")), Grids(features, centres), workers))
    return out


def _workers(path: Path, value: Any, k: int) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise InputError(path, "workers must be a list of {name, phone, duty}", where=f"feature {k}")
    out = []
    for w in value:
        if not isinstance(w, dict) or not isinstance(w.get("name"), str) or w.get("duty", "24h") not in DUTIES:
            raise InputError(path, f"a worker needs a name and a duty of {', '.join(DUTIES)}", where=f"feature {k}")
        out.append({"name": w["name"], "phone": str(w.get("phone", "")), "duty": str(w.get("duty", "24h"))})
    return out


def on_duty(workers: list[dict[str, str]], now: float) -> list[dict[str, str]]:
    """The workers on duty at ``now`` (epoch s) by China time."""
    hour = int((now / 3600.0 + CHINA_UTC_OFFSET_H) % 24)
    shift = "day" if DAY_HOURS[0] <= hour < DAY_HOURS[1] else "night"
    return [w for w in workers if w["duty"] in (shift, "24h")]


def roll_up(layers: list[GridLayer], levels: np.ndarray) -> list[dict[str, Any]]:
    """Each layer's cells with their level (the highest inside) and the count per level."""
    out = []
    for layer in layers:
        cell_levels = layer.grids.levels(levels)
        counts = np.bincount(cell_levels, minlength=len(NAMES))
        out.append(
            {
                "layer": layer.name,
                "name_zh": layer.name_zh,
                "counts": {NAMES[i]: int(c) for i, c in enumerate(counts)},
                "cells": [
                    {"id": f.id, "name": f.name, "level": NAMES[int(lv)]}
                    for f, lv in zip(layer.grids.features, cell_levels)
                ],
            }
        )
    return out


def cells_of(layers: list[GridLayer], rows: list[int], now: float) -> list[dict[str, Any]]:
    """The cells of every layer holding any of the asset ``rows``, with the workers on duty there."""
    out = []
    for layer in layers:
        for c in sorted({int(layer.grids.asset_grid[r]) for r in rows} - {-1}):
            f = layer.grids.features[c]
            out.append({"layer": layer.name, "id": f.id, "name": f.name, "on_duty": on_duty(layer.workers[c], now)})
    return out
