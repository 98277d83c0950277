"""Digital emergency plans: the plans file, an incident's checklist, the audit of check-offs (a
named operator, a time, never rewritten, kept across restarts) and alerts for overdue steps."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import call_api
from incident_support import DEMO, T0, Clock, demo_scene, play

from twin.errors import InputError
from twin.risk.plans import parse_plans, read_plans
from twin.risk.response import Refused

STEP = {"id": "s", "title": "Do it", "department": "Dept", "within_min": 5}


def plan(**extra):
    return {"plan": [{"id": "p", "hazard": "gas", "name": "P", "step": [dict(STEP)], **extra}]}


def test_sample_plans():
    book = read_plans(DEMO / "plans.toml")
    assert {p.hazard: p.id for p in book.plans} == {
        "gas": "gas-leak",
        "water": "water-main-burst",
        "flood": "waterlogging",
        "structure": "bridge-overload",
    }
    assert book.grouping.within_m == 100 and book.grouping.window_s == 1800
    gas = book.for_hazard("gas", 5)
    assert gas is not None and gas.name_zh and all(s.department and s.within_s > 0 for s in gas.steps)
    assert book.for_hazard("fire", 5) is None


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (
            {"plan": [{"id": "p", "hazard": "gas", "name": "P", "step": [{**STEP, "colour": 1}]}]},
            "plan[0].step[0].colour",
        ),
        (plan(level="purple"), "plan[0].level"),
        ({"plan": [{"id": "p", "hazard": "gas", "name": "P", "step": [{**STEP, "within_min": -1}]}]}, "within_min"),
        ({"plan": [{"id": "p", "hazard": "gas", "name": "P", "step": []}]}, "plan[0].step"),
        ({"plan": [{"hazard": "gas", "name": "P", "step": [STEP]}]}, "plan[0].id"),
        ({"incidents": {"within": 3}}, "incidents.within"),
        ({"plans": []}, "plans"),
    ],
)
def test_plan_mistakes_name_the_key(data, where):
    with pytest.raises(InputError) as err:
        parse_plans(data, Path("plans.toml"))
    assert where in str(err.value)


def test_bad_plans_files(tmp_path):
    bad = tmp_path / "plans.toml"
    bad.write_text("[[plan]\n")
    with pytest.raises(InputError, match="not valid TOML"):
        read_plans(bad)
    with pytest.raises(InputError, match="cannot read"):
        read_plans(tmp_path / "missing.toml")


@pytest.fixture(scope="module")
def demo():
    return demo_scene()


@pytest.fixture
def gas(demo, tmp_path):
    """A gas leak played to red (the incident reached every level), its store and clock."""
    clock = Clock(T0 - 300)
    store = tmp_path / "s.duckdb"
    svc = play(demo, store, ("gas_leak",), until=T0 + 240, clock=clock)
    yield svc, store, clock
    svc.close()


def test_check_off_audit(demo, gas):
    svc, store, clock = gas
    inc = next(i for i in svc.incidents() if i["hazard"] == "gas")
    done = svc.check_off(inc["id"], "verify", "Li Ming", "detector reads 30 %LEL at the door")
    assert done["state"] == "done" and done["done_by"] == "Li Ming" and done["done_at"] == clock.t
    with pytest.raises(Refused) as twice:
        svc.check_off(inc["id"], "verify", "Someone Else")
    assert twice.value.status == 409 and "Li Ming" in twice.value.problem
    with pytest.raises(Refused) as nameless:
        svc.check_off(inc["id"], "cordon", "  ")
    assert nameless.value.status == 400
    with pytest.raises(Refused) as unknown:
        svc.check_off(inc["id"], "no-such-step", "Li Ming")
    assert unknown.value.status == 404
    with pytest.raises(Refused) as missing:
        svc.check_off(999, "verify", "Li Ming")
    assert missing.value.status == 404
    svc.act(inc["id"], "Li Ming", "asked the gas company for a second detector")
    timeline = svc.incident(inc["id"])["timeline"]
    step = [e for e in timeline if e["event"] == "step done"]
    assert len(step) == 1 and step[0]["by"] == "Li Ming" and step[0]["note"].startswith("verify")
    assert any(e["event"] == "action" and e["by"] == "Li Ming" for e in timeline)
    svc.close()

    # a restart keeps the record and still refuses to rewrite it
    from twin.risk.service import RiskService

    again = RiskService.from_twin(demo, clock=clock, store_path=store, record_levels=False).open()
    try:
        steps = {s["id"]: s for s in again.incident(inc["id"])["plan"]["steps"]}
        assert steps["verify"]["done_by"] == "Li Ming" and steps["verify"]["done_at"] == done["done_at"]
        with pytest.raises(Refused):
            again.check_off(inc["id"], "verify", "Li Ming")
        rows = again.history.store.query("SELECT incident, step, operator, ts FROM plan_steps")
        assert rows == [(inc["id"], "verify", "Li Ming", done["done_at"])]
    finally:
        again.close()


def test_overdue_step_raises_an_alert_and_check_off_acknowledges_it(demo, gas):
    svc, _, clock = gas
    inc = next(i for i in svc.incidents() if i["hazard"] == "gas")
    steps = {s["id"]: s for s in svc.incident(inc["id"])["plan"]["steps"]}
    notify = steps["notify"]  # red: due 5 minutes after the incident reached red
    assert notify["state"] == "open" and notify["due"] > clock.t
    clock.t = notify["due"] + 1
    svc.tick()
    overdue = [a for a in svc.alerts() if a["rule"] == f"overdue:{inc['id']}:notify"]
    assert len(overdue) == 1 and overdue[0]["level"] == "orange" and overdue[0]["state"] == "firing"
    svc.tick()
    assert len([a for a in svc.alerts() if a["rule"].startswith("overdue:")]) == len(
        {s for s, v in steps.items() if v["due"] is not None and v["due"] < clock.t}
    )  # one alert per overdue step, raised once
    detail = svc.incident(inc["id"])
    assert any(e["event"] == "overdue" for e in detail["timeline"])
    done = svc.check_off(inc["id"], "notify", "Wang Fang")
    assert done["late"] is True
    acked = next(a for a in svc.alerts() if a["id"] == overdue[0]["id"])
    assert acked["state"] == "acknowledged" and acked["acked_by"] == "Wang Fang"


def test_step_api_bodies(gas):
    svc, _, _ = gas
    inc = next(i for i in svc.incidents() if i["hazard"] == "gas")
    url = f"/api/incidents/{inc['id']}/steps/verify"

    async def body(http):
        out = []
        for data in (b"not json", b"[1]", b'{"by": 5}', b"{}", b'{"by": "' + b"x" * 101 + b'"}'):
            async with http.post(url, data=data) as r:
                out.append(r.status)
        async with http.post(url, json={"by": "Li Ming", "note": "ok"}) as r:
            out.append((r.status, (await r.json())["done_by"]))
        async with http.post(url, json={"by": "Li Ming"}) as r:
            out.append(r.status)
        async with http.post(f"/api/incidents/{inc['id']}/steps/{'s' * 101}", json={"by": "x"}) as r:
            out.append(r.status)
        async with http.post(f"/api/incidents/{inc['id']}/actions", json={"by": "Li Ming", "text": "called"}) as r:
            out.append(r.status)
        async with http.post(f"/api/incidents/{inc['id']}/actions", json={"by": "Li Ming"}) as r:
            out.append(r.status)
        return out

    assert call_api(svc, body) == [400, 400, 400, 400, 400, (200, "Li Ming"), 409, 400, 200, 400]
