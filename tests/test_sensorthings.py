"""The OGC SensorThings subset: Things, Datastreams and Observations over the twin's sensors and
readings, created and read with $filter on time, $top, $skip and $orderby, checked as the readings API is."""

from __future__ import annotations

import asyncio
import csv
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import numpy as np

from twin.assets import AssetTable
from twin.faces.api import start_api
from twin.risk.rules import read_rules
from twin.risk.sensors import read_sensors
from twin.risk.service import RiskService
from twin.risk.store import Store

DEMO = Path(__file__).resolve().parent.parent / "data_samples" / "demo"
STA = "/api/sta/v1.1"


def demo_service() -> RiskService:
    with (DEMO / "sensors.csv").open() as f:
        ids = sorted({row["asset"] for row in csv.DictReader(f)})
    assets = AssetTable.build(ids, kind="Building")
    x = np.arange(len(ids)) * 50.0  # placed apart: an asset table without bounds has NaN centres
    assets.bounds = np.column_stack([x, x + 10, x * 0, x * 0 + 10, x * 0, x * 0 + 10])
    sensors = read_sensors(DEMO / "sensors.csv", assets)
    return RiskService(assets, sensors, read_rules(DEMO / "rules.toml"), Store(None)).open()


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def served(body):
    async def run():
        svc = demo_service()
        runner, port = await start_api(svc, "127.0.0.1", 0)
        try:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
                return await body(http, svc)
        finally:
            await runner.cleanup()
            svc.close()

    return asyncio.run(run())


def test_things_and_datastreams_are_the_twins_assets_and_sensors() -> None:
    async def body(http, svc):
        async with http.get(f"{STA}/Things", params={"$top": "3"}) as r:
            things = await r.json()
        async with http.get(f"{STA}/Things('W-P023')/Datastreams") as r:
            streams = await r.json()
        async with http.get(f"{STA}/Datastreams('WF-01')") as r:
            one = await r.json()
        async with http.get(f"{STA}/Datastreams('WF-01')/Thing") as r:
            owner = await r.json()
        async with http.get(f"{STA}/Datastreams('NOPE')") as r:
            missing = r.status
        async with http.get(f"{STA}/Things") as r:
            every = await r.json()
        return things, streams, one, owner, missing, every, len(svc.sensors)

    things, streams, one, owner, missing, every, n_sensors = served(body)
    assert len(things["value"]) == 3 and "@iot.nextLink" in things and things["@iot.count"] == every["@iot.count"]
    assert sorted(d["@iot.id"] for d in streams["value"]) == ["WF-01", "WP-01"]
    assert one["unitOfMeasurement"]["symbol"] == "m3/h" and one["properties"]["quantity"] == "flow"
    assert one["Observations@iot.navigationLink"].endswith("/Datastreams('WF-01')/Observations")
    assert owner["@iot.id"] == "W-P023" and missing == 404
    assert sum(1 for _ in every["value"]) == every["@iot.count"] < n_sensors  # some assets carry several


def test_observations_created_and_read_with_time_filters_and_top() -> None:
    now = int(time.time() * 1000) // 1000 * 1000

    async def body(http, svc):
        created = []
        for k in range(5):
            entity = {"phenomenonTime": iso(now - k * 10_000), "result": 300 + k, "Datastream": {"@iot.id": "WP-01"}}
            async with http.post(f"{STA}/Observations", json=entity) as r:
                created.append((r.status, r.headers.get("Location"), await r.json()))
        again = {"phenomenonTime": iso(now), "result": 9}
        async with http.post(f"{STA}/Datastreams('WP-01')/Observations", json=again) as r:
            repeat = await r.json()  # the first value stored wins, as over /api/readings
        bulk = [
            {
                "Datastream": {"@iot.id": "WP-02"},
                "components": ["phenomenonTime", "result"],
                "dataArray": [[iso(now), 1.0], [iso(now - 1000), 2.0], [iso(now), "high"]],
            }
        ]
        async with http.post(f"{STA}/CreateObservations", json=bulk) as r:
            links = await r.json()
        refused = []
        for entity in (
            {"phenomenonTime": iso(now), "result": 1, "Datastream": {"@iot.id": "NOPE"}},
            {"phenomenonTime": iso(now + 86_400_000), "result": 1, "Datastream": {"@iot.id": "WP-01"}},
            {"phenomenonTime": iso(now), "result": 1},
        ):
            async with http.post(f"{STA}/Observations", json=entity) as r:
                refused.append((r.status, (await r.json())["error"]))
        path = f"{STA}/Datastreams('WP-01')/Observations"
        window = {"$filter": f"phenomenonTime ge {iso(now - 30_000)} and phenomenonTime lt {iso(now)}"}
        async with http.get(path, params=window) as r:
            filtered = await r.json()
        async with http.get(path, params={"$top": "2", "$orderby": "phenomenonTime desc"}) as r:
            newest = await r.json()
        async with http.get(path, params={"$top": "2", "$skip": "2"}) as r:
            second_page = await r.json()
        async with http.get(path, params={"$filter": "result gt 3"}) as r:
            unsupported = r.status
        return created, repeat, links, refused, filtered, newest, second_page, unsupported, svc.history.store.count()

    created, repeat, links, refused, filtered, newest, second, unsupported, stored = served(body)
    for k, (status, location, _) in enumerate(created):
        assert status == 201 and location.endswith(f"%40{now - k * 10_000}')")
    assert repeat["@iot.duplicate"] is True
    assert isinstance(links, list), links
    assert links[0].endswith(f"WP-02%40{now}')") and links[2] == "error: not a number"
    assert [s for s, _ in refused] == [400, 400, 400]
    assert "unknown sensor" in refused[0][1] and "future" in refused[1][1] and "Datastream" in refused[2][1]
    assert [o["result"] for o in filtered["value"]] == [303, 302, 301]  # ge now-30 s, lt now: oldest first
    assert [o["result"] for o in newest["value"]] == [300, 301] and "@iot.nextLink" in newest
    assert [o["result"] for o in second["value"]] == [302, 301]  # oldest first: 304, 303 | 302, 301 | 300
    assert unsupported == 400
    assert stored == 5 + 2  # the twin's own store holds them


def test_registering_things_and_datastreams_against_the_sensors_file() -> None:
    async def body(http, svc):
        out = []
        for path, entity in (
            ("/Things", {"name": "W-P023", "Datastreams": [{"name": "WF-01"}]}),
            ("/Things", {"name": "somewhere-else"}),
            ("/Datastreams", {"name": "WP-01", "Thing": {"@iot.id": "W-P023"}}),
            ("/Datastreams", {"name": "WP-01", "Thing": {"@iot.id": "W-P029"}}),
        ):
            async with http.post(STA + path, json=entity) as r:
                out.append((r.status, r.headers.get("Location"), await r.json()))
        return out

    results = served(body)
    assert [s for s, _, _ in results] == [201, 400, 201, 400]
    assert results[0][1].endswith("/Things('W-P023')") and results[2][2]["@iot.id"] == "WP-01"
    assert "sensors file" in results[1][2]["error"] and "watches W-P023" in results[3][2]["error"]
