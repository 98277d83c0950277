"""An inspector and alerts people can read: own data first, rounded readings with units,
durations in words, one row per alert, and the briefing tour showing a new red alert next."""

from __future__ import annotations

import pytest
from conftest import DEMO

from twin import networks
from twin.faces.app import asset_details
from twin.faces.app.risk_actions import next_stop
from twin.loading import load
from twin.risk.levels import ORANGE, RED


@pytest.fixture(scope="module")
def twin():
    return load(DEMO)


def test_readings_are_rounded_to_their_sensors_precision_with_units():
    assert asset_details.reading_text(268.61879028642267, "kPa") == "268.6 kPa"
    assert asset_details.reading_text(268.61879028642267, "kPa", precision=0.5) == "268.5 kPa"
    assert asset_details.reading_text(12.3456, "%LEL") == "12 %LEL"
    assert asset_details.reading_text(1.23456, "m", precision=0.001) == "1.235 m"
    assert asset_details.reading_text(12345.678, "L/s", lang="zh") == "12,345.7 L/s"
    assert asset_details.reading_text(None, "kPa") == "—"
    assert asset_details.number(268.61879028642267) == "268.6" and asset_details.number(12345.6) == "12,346"


def test_durations_are_said_in_words_in_both_languages():
    assert asset_details.duration_words(7500, "en") == "2 hours 5 minutes"
    assert asset_details.duration_words(7200, "en") == "2 hours"
    assert asset_details.duration_words(45, "en") == "45 seconds"
    assert asset_details.duration_words(90061, "en") == "1 day 1 hour"
    assert asset_details.duration_words(7500, "zh") == "2小时5分钟"
    assert asset_details.duration_words(-3, "en") == "0 seconds"


def test_an_alert_reopened_again_and_again_is_one_history_row():
    rows = [
        {"id": 7, "opened": 100.0, "updated": 400.0, "level": "red", "state": "firing", "resolved": None},
        {"id": 7, "opened": 100.0, "updated": 200.0, "level": "orange", "state": "resolved", "resolved": 200.0},
        {"id": 7, "opened": 100.0, "updated": 300.0, "level": "orange", "state": "resolved", "resolved": 300.0},
        {"id": 3, "opened": 10.0, "updated": 70.0, "level": "yellow", "state": "resolved", "resolved": 70.0},
    ]
    history = asset_details.alert_history(rows, now=700.0, lang="en")
    assert [(a["id"], a["state"]) for a in history] == [(7, "firing"), (3, "resolved")]
    assert history[0]["lasted"] == "10 minutes" and history[1]["lasted"] == "1 minute"


def test_the_asset_s_own_data_comes_first(twin):
    pipe = asset_details.describe(twin, twin.assets.index_of("W-P001"))
    assert pipe["sections"][0]["title"] == "Pipe segment" and pipe["own"] == 1
    assert [s["title"] for s in pipe["sections"][1:3]] == ["Identity", "Attributes"]
    building = asset_details.describe(twin, twin.assets.index_of("bldg-005"))
    assert [s["title"] for s in building["sections"][: building["own"]]] == ["Identity", "Attributes"]


def test_generic_attributes_are_rounded_for_people():
    assert asset_details.fmt("measuredHeight", 12.345678) == "12.35"
    assert asset_details.fmt("flow", 268.61879028642267) == "268.6"
    assert asset_details.fmt("area", 12345.678) == "12,346"
    assert asset_details.fmt("age_years", 34.0) == "34 years"


def test_the_inspector_s_valves_are_those_of_the_whole_layer_on_that_segment(twin):
    row = twin.assets.row(twin.assets.index_of("W-P002"))
    graph = asset_details.network_graph(twin, row)
    assert graph is not None
    strategy = networks.default_strategy(graph)
    expected = [v.id for v in networks.valve_layer(graph, strategy) if v.link == "W-P002"]
    assert expected and asset_details.valves_of(graph, row) == expected
    assert asset_details.valves_of(None, row) == []


def tour_stop(code: int, ident: int, opened: float) -> dict:
    return {"id": ident, "code": code, "opened": opened, "index": ident}


def test_a_new_red_alert_goes_to_the_front_of_the_tour():
    targets = [tour_stop(RED, i, 100.0 + i) for i in range(7)] + [tour_stop(ORANGE, 20, 50.0)]
    toured: set[int] = set()
    shown = [next_stop(targets, step, toured)["id"] for step in range(7)]
    assert shown == [6, 5, 4, 3, 2, 1, 0]  # every red once, the newest first
    assert next_stop(targets, 7, toured)["id"] == 20  # then the tour goes round in order
    targets.insert(3, tour_stop(RED, 30, 900.0))  # a new red alert, listed behind older ones
    assert next_stop(targets, 8, toured)["id"] == 30  # shown next, not after seven others
    assert next_stop(targets, 9, toured)["id"] == targets[9 % len(targets)]["id"]
