"""Clearances of GB 50289 both ways (side by side and crossing) and what "nearby" lists.

The pipes are written as small GeoJSON networks in a temporary scene, so every distance is known
by construction; the demo district checks that ground, roads and point classes are never listed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SCENES

import twin
from twin import nearby

E, N = 385000.0, 3548000.0  # somewhere in EPSG:4549
FIELDS = 'fields = { diameter = "diameter_mm", depth = "cover" }'


def network(name: str, pipes: list[tuple[str, list[tuple[float, float]], float, float]]) -> dict:
    """A GeoJSON network: pipes as (id, plan vertices, diameter mm, cover m), nodes at their ends."""
    features = []
    for pid, line, diameter, cover in pipes:
        ends = [f"{pid}-a", f"{pid}-b"]
        for node, (x, y) in zip(ends, (line[0], line[-1])):
            features.append(
                {
                    "type": "Feature",
                    "properties": {"id": node, "kind": "junction", "elevation": 10.0},
                    "geometry": {"type": "Point", "coordinates": [E + x, N + y]},
                }
            )
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "id": pid,
                    "from_node": ends[0],
                    "to_node": ends[1],
                    "diameter_mm": diameter,
                    "cover": cover,
                },
                "geometry": {"type": "LineString", "coordinates": [[E + x, N + y] for x, y in line]},
            }
        )
    return {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}},
        "features": features,
    }


def scene(tmp_path: Path, networks: dict[str, list]) -> twin.Twin:
    lines = ['name = "clearances"', 'crs = "EPSG:4549"']
    for name, pipes in networks.items():
        (tmp_path / f"{name}.geojson").write_text(json.dumps(network(name, pipes)))
        lines += [
            "[[sources]]",
            f'name = "{name}"',
            f'path = "{name}.geojson"',
            f'options = {{ network = "{name}", diameter_unit = "mm", {FIELDS} }}',
        ]
    (tmp_path / "scene.toml").write_text("\n".join(lines) + "\n")
    return twin.load(tmp_path / "scene.toml")


def test_gas_0_20_m_beside_water_is_a_parallel_violation(tmp_path):
    # DN100 water along x; DN100 gas 0.30 m north of it, same cover: 0.20 m between outer walls
    t = scene(
        tmp_path,
        {
            "water": [("W1", [(0, 0), (20, 0)], 100, 1.0)],
            "gas": [("G1", [(0, 0.30), (20, 0.30)], 100, 1.0)],
        },
    )
    result = nearby.nearby(t, t.assets.index_of("W1"), 2.0)
    (violation,) = result["violations"]
    assert violation["id"] == "G1" and violation["lay"] == "parallel"
    assert violation["required_m"] == nearby.PARALLEL_CLEARANCE_M[frozenset(("gas", "water"))] == 0.5
    assert violation["clearance_m"] == pytest.approx(0.20, abs=0.03)  # horizontal, wall to wall
    # the crossing table alone (0.15 m) would have let it pass: the old behaviour
    assert nearby.CLEARANCE_M[frozenset(("gas", "water"))] < 0.20


def test_a_crossing_is_judged_by_the_crossing_clearance(tmp_path):
    # DN100 gas crossing a DN100 water main at right angles, 0.30 m higher: 0.20 m wall to wall
    t = scene(
        tmp_path,
        {
            "water": [("W1", [(0, 0), (20, 0)], 100, 1.0)],
            "gas": [("G1", [(10, -10), (10, 10)], 100, 0.7)],
        },
    )
    (pipe,) = nearby.nearby(t, t.assets.index_of("W1"), 2.0)["pipes"]
    assert pipe["lay"] == "crossing" and pipe["clearance_m"] == pytest.approx(0.20, abs=0.03)
    assert nearby.nearby(t, t.assets.index_of("W1"), 2.0)["violations"] == []  # 0.20 >= 0.15
    strict = {frozenset(("gas", "water")): 0.25}
    (violation,) = nearby.nearby(t, t.assets.index_of("W1"), 2.0, rules=strict)["violations"]
    assert violation["lay"] == "crossing" and violation["required_m"] == 0.25


def test_parallel_pipes_far_enough_apart_pass(tmp_path):
    t = scene(
        tmp_path,
        {
            "water": [("W1", [(0, 0), (20, 0)], 100, 1.0)],
            "gas": [("G1", [(0, 0.70), (20, 0.70)], 100, 1.0)],  # 0.60 m wall to wall >= 0.5
        },
    )
    result = nearby.nearby(t, t.assets.index_of("G1"), 2.0)
    assert [p["lay"] for p in result["pipes"]] == ["parallel"] and result["violations"] == []


@pytest.fixture(scope="module")
def demo() -> twin.Twin:
    return twin.load(SCENES / "demo.toml")


def test_nearby_lists_only_assets_that_matter(demo):
    a = demo.assets
    result = nearby.nearby(demo, a.index_of("W-P002"), 30.0)
    kinds = {item["kind"] for item in result["assets"]}
    assert "Building" in kinds
    assert not kinds & {"Terrain", "Road", "point class", "IfcSite"}
    layer_kind = {layer.name: layer.kind for layer in demo.layers}
    assert {layer_kind[item["layer"]] for item in result["assets"]} <= {"city", "pipes", "ifc"}


def test_tangents_follow_each_centre_line(demo):
    samples = nearby.samples_of(demo)
    norms = np.linalg.norm(samples.tangents, axis=1)
    assert len(samples.tangents) == len(samples.points)
    assert np.allclose(norms[norms > 0], 1.0) and (norms > 0).mean() > 0.99
