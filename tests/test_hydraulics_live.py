"""The flood nowcast in the live loop: the demo's SWMM model on its rain gauge, raising the live
risk of the flooding manholes and what stands in their water, and letting it fall back."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DEMO

from twin.faces import i18n
from twin.hydraulics.live import NowcastLoop, risk_levels
from twin.loading import load
from twin.risk.service import RiskService

pytest.importorskip("pyswmm")

STORM = [(0.0, 60.0)]  # mm/h for the whole horizon: a 1-in-5-year cloudburst
DRY = [(0.0, 0.0)]


@pytest.fixture(scope="module")
def demo() -> object:
    return load(DEMO)


@pytest.fixture
def service(demo, tmp_path: Path):
    svc = RiskService.from_twin(demo, store_path=tmp_path / "s.duckdb").open()
    yield svc
    svc.close()


def test_the_demo_binds_its_drainage_model_and_rain_gauge(demo, service) -> None:
    from twin.hydraulics.settings import scene_hydraulics

    bound = scene_hydraulics(demo).nowcast
    assert bound is not None and bound.rain_gauge == "RG1" and bound.every_s == 30.0
    assert bound.model.name == "drainage.inp"
    assert "RG1" in service.sensors.ids.tolist()


def test_a_storm_raises_the_flooding_manholes_with_the_reason_and_a_dry_forecast_lowers_them(demo, service) -> None:
    rain = [STORM]
    loop = NowcastLoop(demo, service, forecast=lambda: rain[0])
    result = loop.run_once()
    assert result["status"] == "ok", result
    first = result["nodes"][0]
    assert first["id"].startswith("D-M") and 0 < first["first_flood_s"] <= 7200
    assert first["reason"] == f"forecast flooding at {first['id']} in {round(first['first_flood_s'] / 60)} min"
    minutes = round(first["first_flood_s"] / 60)
    assert i18n.reason(first["reason"], "zh") == f"预报 {minutes} 分钟后 {first['id']} 溢流积水"  # the pages' words
    raised = risk_levels(result)
    assert first["id"] in raised
    asset = service.asset(first["id"])
    assert asset is not None
    assert asset["risk"]["level"] == raised[first["id"]][0]
    assert asset["risk"]["reason"] == first["reason"] and asset["risk"]["rule"] == "forecast"
    alerts = [a for a in service.alerts() if a["asset"] == first["id"] and a["rule"] == "nowcast"]
    assert alerts and alerts[0]["message"] == first["reason"]
    # what stands in the pond (or near the manhole) is raised too
    others = set(raised) - {n["id"] for n in result["nodes"]}
    assert others, "no building is raised by the storm"
    assert all(service.asset(a)["risk"]["reason"].startswith("forecast flooding at") for a in others)
    rain[0] = DRY
    assert loop.run_once()["nodes"] == []
    assert service.asset(first["id"])["risk"]["level"] == "none"
    assert loop.runs == 2


def test_the_gauge_reading_is_the_rain_of_the_next_run(demo, service) -> None:
    loop = NowcastLoop(demo, service)
    assert loop.rain() == [(0.0, 0.0)]
    service.ingest([{"sensor": "RG1", "ts": int(service.clock() * 1000), "value": 45.0}], rate_limit=False)
    assert loop.rain() == [(0.0, 45.0)]


def test_a_failing_nowcast_is_reported_and_the_next_one_works(demo, service, monkeypatch) -> None:
    import twin.hydraulics.live as live

    real = live.scene_nowcast
    loop = NowcastLoop(demo, service, forecast=lambda: STORM)

    def broken(*_args, **_kwargs):
        raise RuntimeError("SWMM segfault")

    monkeypatch.setattr(live, "scene_nowcast", broken)
    failed = loop.run_once()
    assert failed["status"] == "failed" and "SWMM segfault" in failed["message"]
    monkeypatch.setattr(live, "scene_nowcast", real)
    assert loop.run_once()["status"] == "ok"


def test_the_loop_runs_on_its_own_thread_and_stops(demo) -> None:
    loop = NowcastLoop(demo, None, forecast=lambda: DRY, every_s=3600).start()
    try:
        for _ in range(600):
            if loop.runs:
                break
            import time

            time.sleep(0.1)
        assert loop.runs == 1 and loop.latest["status"] == "ok"
    finally:
        loop.stop()


def test_get_api_nowcast_answers_the_latest_run(demo) -> None:
    import asyncio

    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from twin.faces.api import nowcast_routes

    loop = NowcastLoop(demo, None, forecast=lambda: STORM)
    loop.run_once()

    async def ask() -> dict:
        app = web.Application()
        app.add_routes(nowcast_routes(loop))
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/api/nowcast")
            assert response.status == 200
            return await response.json()

    body = asyncio.run(ask())
    assert body["status"] == "ok" and body["nodes"] and body["runs"] == 1 and body["every_s"] == 30.0
    assert all(node["reason_zh"].startswith("预报 ") and node["id"] in node["reason_zh"] for node in body["nodes"])
    assert nowcast_routes(None) == []


def test_the_ponds_of_a_storm_are_one_water_mesh_at_their_levels(demo) -> None:
    import numpy as np

    from twin.hydraulics.pond_surface import pond_surface

    result = NowcastLoop(demo, None, forecast=lambda: STORM).run_once()
    ponded = [n for n in result["nodes"] if "ponding" in n]
    assert ponded, "the demo storm ponds nowhere"
    mesh = pond_surface(demo, result)
    assert mesh.n_cells and mesh.points.dtype == np.float32
    area = mesh.n_cells * 4.0  # 2 m cells
    assert area == pytest.approx(sum(n["ponding"]["area_m2"] for n in ponded), rel=1e-6)
    top = mesh.points[:, 2].max() + demo.origin[2]
    assert top == pytest.approx(max(n["ponding"]["level_m"] for n in ponded), abs=1e-3)
    assert pond_surface(demo, {"nodes": []}).n_cells == 0
