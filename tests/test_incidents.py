"""Incidents: alerts grouped by network, space and time; the simulator's independent failures at
once give exactly one incident each, holding every alert its failure caused; the API."""

from __future__ import annotations

import numpy as np
import pytest
from api_support import call_api
from incident_support import PLAY_S, T0, WARM_S, Clock, demo_scene, play

from twin.risk.grouping import Grouping, group, hazard_of
from twin.risk.simulator import SCENARIOS


@pytest.fixture(scope="module")
def demo():
    return demo_scene()


def failure_alerts(svc) -> dict[int, tuple[str, str]]:
    """(asset, rule) of every alert the failures touched (not the platform's own alerts)."""
    return {a["id"]: (a["asset"], a["rule"]) for a in svc.alerts(True) if a["updated"] >= T0 and a["asset"] != "system"}


def incident_sets(svc) -> list[frozenset[tuple[str, str]]]:
    keys = failure_alerts(svc)
    sets = [frozenset(keys[a] for a in inc["alerts"] if a in keys) for inc in svc.incidents(True)]
    return sorted((s for s in sets if s), key=sorted)


@pytest.fixture(scope="module")
def caused(demo, tmp_path_factory):
    """What each failure causes when it happens alone."""
    out = {}
    for name in SCENARIOS:
        svc = play(demo, tmp_path_factory.mktemp(name) / "s.duckdb", (name,))
        sets = incident_sets(svc)
        svc.close()
        assert len(sets) == 1, f"{name} alone gave {len(sets)} incidents: {sets}"
        out[name] = sets[0]
    return out


@pytest.mark.slow
def test_independent_failures_at_once_give_one_incident_each(demo, caused, tmp_path):
    svc = play(demo, tmp_path / "s.duckdb", SCENARIOS)
    try:
        sets = incident_sets(svc)
        assert len(sets) == len(SCENARIOS)
        assert sets == sorted(caused.values(), key=sorted)  # each holds all, and only, its failure's alerts
        by_hazard = {inc["hazard"]: inc for inc in svc.incidents(True) if inc["peak"] == "red"}
        assert set(by_hazard) == {"gas", "water", "flood", "structure"}
        gas = by_hazard["gas"]
        assert {"bldg-013", "G-P029", "G-P023"} <= set(gas["assets"])
        assert gas["location"]["asset"] in gas["assets"]
        assert all(len(s) >= 3 for s in sets)  # a failure is many alerts, one incident
    finally:
        svc.close()


def test_incident_detail_timeline_and_affected(demo, tmp_path):
    svc = play(demo, tmp_path / "s.duckdb", ("water_main_burst",), until=T0 + 200)
    try:
        water = next(i for i in svc.incidents() if i["hazard"] == "water")
        detail = svc.incident(water["id"])
        events = [e["event"] for e in detail["timeline"]]
        assert events[0] == "first abnormal reading"
        assert {"opened", "alert", "pending", "firing"} <= set(events)
        times = [e["ts"] for e in detail["timeline"]]
        assert times == sorted(times)
        assert detail["affected"]["valves"] and detail["affected"]["isolated_segments"]
        assert detail["plan"]["id"] == "water-main-burst"
        assert detail["level"] == max(
            (a["level"] for a in detail["alert_list"]), key=["blue", "yellow", "orange", "red"].index
        )
        first = svc.alerts()[0]
        svc.ack(first["id"], "Zhao Min")
        acked = [e for e in svc.incident(water["id"])["timeline"] if e["event"] == "acknowledged"]
        assert acked == [] or acked[0]["note"] == "Zhao Min"
    finally:
        svc.close()


@pytest.mark.slow
def test_incidents_survive_a_restart(demo, tmp_path):
    store = tmp_path / "s.duckdb"
    clock = Clock(T0 - WARM_S)
    svc = play(demo, store, SCENARIOS, until=T0 + 150, clock=clock)
    before = {i["id"]: set(i["alerts"]) for i in svc.incidents()}
    svc.close()
    svc = play(demo, store, SCENARIOS, until=T0 + PLAY_S, clock=clock)
    try:
        after = {i["id"]: set(i["alerts"]) for i in svc.incidents(True) if i["id"] in before}
        assert all(before[k] <= after[k] for k in before)  # the same incidents, grown
        assert len(incident_sets(svc)) == len(SCENARIOS)
    finally:
        svc.close()


def test_grouping_links_space_time_and_network():
    # five assets on a line 60 m apart, unit boxes; asset 4 far away but related in the network
    xs = np.array([0.0, 60.0, 120.0, 180.0, 5000.0])
    bounds = np.column_stack([xs - 0.5, xs + 0.5, -0.5 + 0 * xs, 0.5 + 0 * xs, 0 * xs, 0 * xs])
    rows = np.array([0, 1, 2, 3, 4, 0])
    hazard = np.array([0, 0, 1, 0, 0, 0])
    opened = np.array([0.0, 10.0, 20.0, 30.0, 40.0, 9000.0])
    policy = Grouping(within_m=70.0, window_s=600.0, topology_m=10_000.0)
    labels = group(rows, hazard, opened, bounds, policy)
    # 0-1 near; 2 is another hazard; 3 is 120 m from 1 (and 2 does not bridge it); 4 far; the last too late
    assert labels.tolist() == [0, 0, 1, 2, 3, 4]
    related = {0: np.array([4]), 4: np.array([0])}
    labels = group(rows, hazard, opened, bounds, policy, lambda r: related.get(r, np.zeros(0, np.int64)))
    assert labels[4] == labels[0]  # the same section / path joins them at any distance within topology_m
    assert labels[5] != labels[0]


def test_grouping_chains_along_a_spreading_failure():
    # one burst seen by 20 sensors along a main, each 50 m and 5 minutes after the last: one incident
    n = 20
    xs = np.arange(n) * 50.0
    bounds = np.column_stack([xs, xs, 0 * xs, 0 * xs, 0 * xs, 0 * xs])
    labels = group(
        np.arange(n), np.zeros(n, np.int64), np.arange(n) * 300.0, bounds, Grouping(within_m=60, window_s=400)
    )
    assert set(labels.tolist()) == {0}


def test_hazards():
    assert hazard_of("gas", "") == "gas"
    assert hazard_of("pressure", "gas") == "gas"
    assert hazard_of("pressure", "water") == "water"
    assert hazard_of("water_level", "drainage") == hazard_of("water_depth", "") == "flood"
    assert hazard_of("strain", "") == "structure"
    assert hazard_of("ph", "") == "ph"


def test_incidents_api(demo, tmp_path):
    svc = play(demo, tmp_path / "s.duckdb", ("gas_leak",), until=T0 + 120)

    async def body(http):
        async with http.get("/api/incidents") as r:
            listing = await r.json()
        inc = listing[0]
        async with http.get(f"/api/incidents/{inc['id']}") as r:
            one = await r.json()
        async with http.get("/api/incidents/999") as r:
            missing = r.status
        async with http.get("/api/incidents/abc") as r:
            bad = r.status
        async with http.get("/api/resources") as r:
            resources = await r.json()
        return listing, one, missing, bad, resources

    try:
        listing, one, missing, bad, resources = call_api(svc, body)
    finally:
        svc.close()
    assert [i["hazard"] for i in listing] == ["gas"]
    assert one["id"] == listing[0]["id"] and one["plan"]["id"] == "gas-leak" and one["timeline"]
    assert {"location", "assets", "grids", "affected", "resources", "alert_list"} <= set(one)
    assert (missing, bad) == (404, 400)
    assert len(resources) == 15 and {r["kind"] for r in resources} == {"team", "depot", "shelter", "expert"}


def test_an_asset_without_geometry_groups_by_asset_only():
    """NaN bounds (an asset known by id, its geometry never measured) must not stop the grouping
    inside an ingest: its alerts join each other and no neighbour by distance."""
    from twin.assets import AssetTable
    from twin.risk.alerts import Alert
    from twin.risk.incidents import IncidentBook

    bounds = np.array([[0, 1, 0, 1, 0, 1], [np.nan] * 6, [5, 6, 5, 6, 0, 1]], dtype=np.float64)
    labels = group(np.array([0, 1, 2, 1]), np.zeros(4, np.int64), np.array([0.0, 1, 2, 3]), bounds, Grouping())
    assert labels.tolist() == [0, 1, 0, 1]
    unrelated = group(
        np.array([0, 1, 2, 1]), np.zeros(4, np.int64), np.arange(4.0), bounds, Grouping(), lambda r: np.arange(3)
    )
    assert unrelated[1] == unrelated[3] != unrelated[0]  # no distance, so no network link either
    assets = AssetTable.build(["a", "ghost", "c"], "Building", network="gas")
    assets.bounds = bounds
    book = IncidentBook(assets, lambda alert: "gas", Grouping())
    on = ["a", "ghost", "c", "ghost"]
    alerts = [Alert(i + 1, asset, f"r{i}", "firing", 4, 4, 10.0 + i, 10.0 + i) for i, asset in enumerate(on)]
    book.update(20.0, alerts)
    assert sorted(sorted(inc.alerts) for inc in book.listing()) == [[1, 3], [2, 4]]
