"""The IFC geometry stays what it was: vertex and cell counts, per-element ids and bounds.

``tests/expected/ifc_geometry.json`` was written by the loader before its workers were split
and started early (``python tests/test_ifc_geometry.py`` writes it again); any change to the
processes, the sharding or the shape reuse must give the same model to 1e-6 m, however many
worker processes it runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "data_samples" / "ifc").glob("*.ifc")) + [
    ROOT / "data_samples" / "ifc" / "broken" / "skipped_geometry.ifc"
]
EXPECTED = ROOT / "tests" / "expected" / "ifc_geometry.json"
TOLERANCE_M = 1e-6


def describe(path: Path, options: dict[str, Any]) -> dict[str, Any]:
    """What must not change about one load: per part, its counts, ids, cells and bounds per element."""
    from loaders.ifc import load
    from twin.layer import part_asset_bounds

    source = load(path, {"cache": False, **options})
    return {
        part.name: {
            "points": int(part.dataset.n_points),
            "cells": int(part.dataset.n_cells),
            "ids": [str(i) for i in part.assets["id"]],
            "cells_per_element": np.bincount(np.asarray(part.asset_index), minlength=len(part.assets)).tolist(),
            "bounds": part_asset_bounds(part).tolist(),
        }
        for part in source.parts
    }


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(EXPECTED.read_text(encoding="utf-8"))
    return result


def by_id(part: dict[str, Any]) -> tuple[list[str], list[int], np.ndarray]:
    """A part's elements in id order: the order of the rows may follow the workers, the rows may not."""
    order = np.argsort(part["ids"], kind="stable")
    cells = np.asarray(part["cells_per_element"])[order].tolist()
    return np.asarray(part["ids"])[order].tolist(), cells, np.asarray(part["bounds"]).reshape(-1, 6)[order]


def check(ours: dict[str, Any], stored: dict[str, Any]) -> None:
    assert sorted(ours) == sorted(stored)
    for name, part in stored.items():
        mine = ours[name]
        assert (mine["points"], mine["cells"]) == (part["points"], part["cells"]), name
        (ids, cells, bounds), (want_ids, want_cells, want_bounds) = by_id(mine), by_id(part)
        assert ids == want_ids and cells == want_cells, name
        assert np.allclose(bounds, want_bounds, atol=TOLERANCE_M, rtol=0), name


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_geometry_is_as_stored(path, expected):
    check(describe(path, {}), expected[path.name])


@pytest.mark.parametrize(
    "name, processes",
    [
        pytest.param(name, processes, marks=[pytest.mark.slow] if big else [], id=f"{name}-{processes}")
        for name, big in [("IfcOpenHouse_IFC4.ifc", False), ("AC20-FZK-Haus.ifc", True), ("duplex.ifc", True)]
        for processes in (2, 3)
    ]
    + [pytest.param("basic.ifc", 3, id="more-workers-than-chunks")],
)
def test_geometry_is_as_stored_with_several_processes(name, processes, expected):
    check(describe(ROOT / "data_samples" / "ifc" / name, {"processes": processes}), expected[name])


def write() -> None:
    """Store the current loader's answer for every sample (run only when the geometry is meant to change)."""
    EXPECTED.write_text(json.dumps({p.name: describe(p, {}) for p in SAMPLES}, indent=None) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    write()
