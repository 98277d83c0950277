"""The incidents panel's server side without a browser: the shared list, opening an incident (its
assets selected, its resources' routes as one polyline mesh, markers), checking a plan step off
in the operator's name, the situation report, closing it, and the briefing tour by incident."""

import asyncio
import base64
import time

import pytest
from test_risk_view import live_app, red_reading

from twin.faces.app.incident_actions import IncidentActions
from twin.loading import load
from twin.risk.service import RiskService


@pytest.fixture(scope="module")
def twin():
    from conftest import SCENES

    return load(SCENES / "demo.toml")


@pytest.fixture
def app(twin, tmp_path):
    service = RiskService.from_twin(twin, store_path=tmp_path / "risk.duckdb").open()
    live, tours, pool, shown = live_app(twin, service)
    actions = IncidentActions(live, live.incidents, shown.append, lambda view_id: {})
    yield service, live, tours, actions, pool.add()
    service.close()


def test_two_failures_are_two_incidents_in_the_shared_list_and_two_tour_stops(app):
    service, live, tours, _, view_id = app
    assert live.server.state["incidents"]["list"] == []
    red_reading(service)  # red in building 6 ...
    red_reading(service, "GAS-B013", 22.0)  # ... and orange 60 m away: the same leak
    red_reading(service, "GAS-B021", 22.0)  # orange 200 m away: another
    live.flush()
    shown = live.server.state["incidents"]
    assert [(i["level"], i["place"], i["alerts"]) for i in shown["list"]] == [
        ("red", "Building 6", 2),
        ("orange", "Building 21", 1),
    ]
    assert shown["list"][0]["progress"] == {"done": 0, "open": 5, "overdue": 0, "not needed": 0}
    version = shown["version"]
    live.flush()  # nothing new: the key is not written again
    assert live.server.state["incidents"]["version"] == version
    stops = [tours.twin_tour(view_id, step)["target"] for step in range(3)]
    assert [s["place"] for s in stops] == ["Building 6", "Building 21", "Building 6"]
    red_reading(service, "GAS-B021", 30.0)  # the other incident turns red: to the front of the tour
    live.flush()
    assert tours.twin_tour(view_id, 4)["target"]["place"] == "Building 21"  # step 4 alone would be Building 6


def test_opening_an_incident_selects_it_and_draws_its_routes_in_one_mesh(app, twin):
    service, live, _, actions, view_id = app
    red_reading(service)
    live.flush()
    incident = live.server.state["incidents"]["list"][0]
    reply = asyncio.run(actions.twin_incident(view_id, incident["id"], True))
    shown = reply["incident"]
    assert reply["inspector"]["id"] == "bldg-006" and "frame_ms" in reply
    assert shown["plan"]["id"] == "gas-leak" and shown["grid_layers"] and shown["resources"]
    assert shown["timeline"][0]["event"] == "first abnormal reading"
    assert all("route" not in r for r in shown["resources"])  # the server draws them
    view = actions.pool.get(view_id)
    routes = [k for k in view.overlays if k.startswith("routes:")]
    assert routes == ["routes:0"]  # one actor however many routes
    mesh = view.overlays["routes:0"].GetMapper().GetInput()
    assert mesh.GetNumberOfCells() == len(shown["resources"]) > 1
    assert {"selection:0", "resources:0"} <= set(view.overlays)
    # a route follows the streets just above the ground (the demo's ground is 10 +- 1.5 m)
    z = twin.to_world([0, 0, mesh.GetBounds()[4]])[2], twin.to_world([0, 0, mesh.GetBounds()[5]])[2]
    assert 9.0 < z[0] < z[1] < 14.0
    again = asyncio.run(actions.twin_incident(view_id, incident["id"], False))
    assert "inspector" not in again and view.overlays["routes:0"].GetMapper().GetInput() is mesh  # not redrawn
    assert actions.twin_incident_close(view_id) == {"incident": None, "inspector": None}
    assert not [k for k in view.overlays if k.split(":")[0] in ("routes", "resources", "selection")]
    assert "error" in asyncio.run(actions.twin_incident(view_id, 999, True))


def test_a_step_is_checked_off_once_in_the_operators_name_and_the_report_is_a_pdf(app):
    service, live, _, actions, view_id = app
    red_reading(service)
    live.flush()
    incident = live.server.state["incidents"]["list"][0]["id"]
    before = time.time()
    done = asyncio.run(actions.twin_check_step(incident, "verify", "Li Na"))
    assert done["step"]["state"] == "done" and done["step"]["done_by"] == "Li Na"
    assert done["step"]["done_at"] >= before - 1 and "Li Na" in done["message"]
    assert "not rewritten" in asyncio.run(actions.twin_check_step(incident, "verify", "Wang Wu"))["error"]
    assert "named operator" in asyncio.run(actions.twin_check_step(incident, "cordon", " "))["error"]
    assert live.server.state["incidents"]["list"][0]["progress"]["done"] == 1  # every browser's list
    assert asyncio.run(actions.twin_incident_act(incident, "Li Na", "road closed"))["action"]["by"] == "Li Na"
    shown = asyncio.run(actions.twin_incident(view_id, incident, False))["incident"]
    events = [(e["event"], e["by"]) for e in shown["timeline"]]
    assert ("step done", "Li Na") in events and ("action", "Li Na") in events
    report = asyncio.run(actions.twin_sitrep(view_id, incident))
    pdf = base64.b64decode(report["pdf"])
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000 and report["filename"].endswith(".pdf")
