"""Emergency resources: the layer from CSV or GeoJSON, distances along the street centre lines
(not as the crow flies), travel times, and the nearest suitable resources of an incident."""

from __future__ import annotations

import json

import numpy as np
import pytest
from incident_support import DEMO, T0, demo_scene, play

from twin.errors import InputError
from twin.risk.resources import Streets, nearest, read_resources, read_streets

CROSSING = (385010.0, 3548010.0)  # the south-west crossing of the demo's street grid


def test_sample_resources_and_streets():
    res = read_resources(DEMO / "resources.csv")
    assert len(res) == 15 and set(res.kinds) == {"team", "depot", "shelter", "expert"}
    assert res.suits("gas-repair").sum() >= 2 and res.suits("shelter").sum() == 2
    streets = read_streets(DEMO / "streets.geojson")
    assert len(streets) > 16  # densified: a vertex every 10 m at most


def test_geojson_resources_match_csv(tmp_path):
    res = read_resources(DEMO / "resources.csv")
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
            "properties": {"id": i, "name": n, "kind": k, "skills": sorted(s), "phone": p},
        }
        for i, n, k, s, (x, y), p in zip(res.ids, res.names, res.kinds, res.skills, res.xy, res.phone)
    ]
    path = tmp_path / "resources.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    again = read_resources(path)
    assert again.ids == res.ids and again.skills == res.skills and np.array_equal(again.xy, res.xy)


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("id,kind,x,y\nA,tank,1,2\n", "line 2", "kind must be one of"),
        ("id,kind,x,y\nA,team,east,2\n", "line 2", "x must be a number"),
        ("id,kind,x,y\nA,team,1,nan\n", "line 2", "finite"),
        ("id,kind,x,y\nA,team,1,2\nB,team,,2\n", "line 3", "missing x"),
        ("id,kind,x,y\nA,team,1,2\nA,team,1,2\n", None, "two resources have the id 'A'"),
    ],
)
def test_bad_resources_name_the_row(tmp_path, text, where, problem):
    path = tmp_path / "r.csv"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_resources(path)
    assert problem in str(err.value) and (where is None or where in str(err.value))


def test_bad_streets(tmp_path):
    path = tmp_path / "s.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{"geometry": {"type": "Point"}}]}))
    with pytest.raises(InputError, match="feature 0"):
        read_streets(path)


def test_distance_follows_the_streets():
    streets = read_streets(DEMO / "streets.geojson")
    target = np.array([[385250.0, 3548250.0]])  # two blocks east and two north
    trips = streets.trips(np.array(CROSSING), target)
    assert trips.along[0] == pytest.approx(480.0)  # round the blocks, not 339 m across them
    assert trips.off_start[0] == pytest.approx(0.0) and trips.off_end[0] == pytest.approx(0.0)
    route = np.array(trips.route(0))
    assert route[0].tolist() == target[0].tolist() and route[-1].tolist() == list(CROSSING)
    assert np.hypot(*np.diff(route, axis=0).T).sum() == pytest.approx(480.0)  # the route is the trip


def test_nearest_by_road_not_by_air(tmp_path):
    # a river between two parallel streets joined only by a bridge 1 km away
    banks = [np.array([[0.0, 0.0], [1000.0, 0.0]]), np.array([[0.0, 50.0], [1000.0, 50.0]])]
    streets = Streets([*banks, np.array([[1000.0, 0.0], [1000.0, 50.0]])])
    path = tmp_path / "r.csv"
    path.write_text(
        "id,kind,skills,x,y\n"
        "ACROSS,team,pump,0,50\n"  # 50 m away across the river
        "SAME-SIDE,team,pump,300,0\n"  # 300 m along the same bank
        "NO-SKILL,team,medical,1,0\n"
    )
    res = read_resources(path)
    found = nearest(res, streets, np.array([0.0, 0.0]), ["pump"])
    assert [r["id"] for r in found] == ["SAME-SIDE", "ACROSS"]
    assert found[0]["street_m"] == pytest.approx(300.0) and found[1]["street_m"] == pytest.approx(2050.0)
    assert found[0]["minutes"] == pytest.approx(300 / 1000 / 30 * 60, abs=0.05)  # a team at 30 km/h
    assert any(x == 1000.0 for x, _ in found[1]["route"])  # across the river: by the bridge at x = 1000


def test_unreachable_resource_is_left_out(tmp_path):
    streets = Streets([np.array([[0.0, 0.0], [100.0, 0.0]]), np.array([[500.0, 500.0], [600.0, 500.0]])])
    path = tmp_path / "r.csv"
    path.write_text("id,kind,skills,x,y\nISLAND,team,pump,600,500\nNEAR,team,pump,100,0\n")
    found = nearest(read_resources(path), streets, np.array([0.0, 0.0]), ["pump"])
    assert [r["id"] for r in found] == ["NEAR"]


def test_incident_lists_nearest_suitable_resources(tmp_path):
    scene = demo_scene()
    svc = play(scene, tmp_path / "s.duckdb", ("storm",), until=T0 + 300)
    try:
        flood = next(i for i in svc.incidents() if i["hazard"] == "flood")
        detail = svc.incident(flood["id"])
        needs = {r for s in detail["plan"]["steps"] if s["state"] != "not needed" for r in s["resources"]}
        listed = detail["resources"]
        assert needs and {r["need"] for r in listed} <= needs
        assert {"drainage-pump", "traffic-control"} <= {r["need"] for r in listed}
        pumps = [r for r in listed if r["need"] == "drainage-pump"]
        assert [r["minutes"] for r in pumps] == sorted(r["minutes"] for r in pumps)
        assert all(r["need"] in r["skills"] or r["need"] == r["kind"] for r in listed)
    finally:
        svc.close()
