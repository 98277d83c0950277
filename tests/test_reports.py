"""Citizen hazard reports: POST /api/reports with good, malformed and hostile bodies; photos
checked by type and size; a rate limit per client; decisions kept once; a verified report
joins the incident at its place."""

from __future__ import annotations

import base64

import pytest
from api_support import call_api
from incident_support import T0, Clock, demo_scene, play

from twin.risk.reports import MAX_PHOTO, RateLimit, ReportRefused, clean_text, photo_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
BLDG_013 = {"x": 385164.0, "y": 3548164.3}  # the demo's gas-leak building


@pytest.fixture(scope="module")
def demo():
    return demo_scene()


def test_text_is_cleaned():
    assert clean_text("  gas smell\u202e at the door\x00\x07 ", "text") == "gas smell at the door"
    assert clean_text("燃气味道很重\n楼道里", "text") == "燃气味道很重\n楼道里"
    with pytest.raises(ReportRefused, match="required"):
        clean_text("\u200b\u200e", "text")
    with pytest.raises(ReportRefused, match="longer"):
        clean_text("x" * 2001, "text")


def test_photos_are_checked_by_magic_and_size():
    assert photo_of(base64.b64encode(PNG).decode())[1] == "image/png"
    assert photo_of(base64.b64encode(b"\xff\xd8\xff\xe0" + b"1" * 10).decode())[1] == "image/jpeg"
    assert photo_of(base64.b64encode(b"RIFF\x00\x00\x00\x00WEBPVP8 ").decode())[1] == "image/webp"
    for bad, status in (
        (base64.b64encode(b"<svg onload=alert(1)>").decode(), 415),
        (base64.b64encode(b"GIF89a").decode(), 415),
        ("not base64!!", 400),
        (base64.b64encode(PNG + b"0" * MAX_PHOTO).decode(), 413),
        (5, 400),
    ):
        with pytest.raises(ReportRefused) as err:
            photo_of(bad)
        assert err.value.status == status


def test_rate_limit_per_client():
    limit = RateLimit(per_minute=2)
    limit.admit("a", 0.0)
    limit.admit("a", 1.0)
    limit.admit("b", 1.0)
    with pytest.raises(ReportRefused) as err:
        limit.admit("a", 2.0)
    assert err.value.status == 429
    limit.admit("a", 61.0)  # a minute later


def test_reports_api(demo, tmp_path):
    clock = Clock(T0 - 300)
    svc = play(demo, tmp_path / "s.duckdb", ("gas_leak",), until=T0 + 120, clock=clock)
    photo = base64.b64encode(PNG).decode()

    async def body(http):
        statuses = []
        hostile = [
            b"not json",
            b"[1, 2]",
            b'{"category": "aliens", "text": "x", "x": 1, "y": 2}',
            b'{"category": "gas", "text": "", "x": 1, "y": 2}',
            b'{"category": "gas", "text": "x"}',
            b'{"category": "gas", "text": "x", "x": "1e400", "y": 2}',
            b'{"category": "gas", "text": "x", "x": 1e400, "y": 2}',
            b'{"category": "gas", "text": "x", "address": "../../etc/passwd"}',
            b'{"category": "gas", "text": "x", "address": "99999"}',
            b'{"category": "gas", "text": "x", "x": 1, "y": 2, "photo_path": "/etc/passwd"}',
            b'{"category": "gas", "text": "x", "x": 1, "y": 2, "photo": "PHN2Zz4="}',
            b"[" * 100_000 + b"]" * 100_000,
        ]
        for data in hostile:
            async with http.post("/api/reports", data=data) as r:
                statuses.append(r.status)
        good = {"category": "gas", "text": "Strong gas smell <b>in</b> the stairwell", **BLDG_013, "photo": photo}
        async with http.post("/api/reports", json=good) as r:
            created = (r.status, await r.json())
        async with http.post(
            "/api/reports", json={"category": "flood", "text": "水很深", "address": "3201020110013"}
        ) as r:
            by_address = (r.status, (await r.json()).get("asset"))
        async with http.get(f"/api/reports/{created[1]['id']}/photo") as r:
            got_photo = (r.status, r.content_type, await r.read())
        async with http.get("/api/reports") as r:
            layer = await r.json()
        decision = f"/api/reports/{created[1]['id']}/decision"
        async with http.post(decision, json={"by": "Zhou Jie", "verify": "purple"}) as r:
            bad_level = r.status
        async with http.post(decision, json={"by": "Zhou Jie"}) as r:
            neither = r.status
        async with http.post(decision, json={"by": "Zhou Jie", "verify": "orange"}) as r:
            verified = (r.status, await r.json())
        async with http.post(decision, json={"by": "Someone", "reject": "duplicate"}) as r:
            again = r.status
        async with http.post("/api/reports/999/decision", json={"by": "x", "reject": "y"}) as r:
            missing = r.status
        return statuses, created, by_address, got_photo, layer, bad_level, neither, verified, again, missing

    try:
        statuses, created, by_address, got_photo, layer, bad_level, neither, verified, again, missing = call_api(
            svc, body
        )
        assert statuses == [400, 400, 400, 400, 400, 400, 400, 400, 404, 400, 415, 400]
        assert created[0] == 201 and created[1]["status"] == "unverified" and created[1]["asset"] == "bldg-013"
        assert created[1]["photo"] is True and "client" not in created[1]
        assert by_address == (201, "bldg-013")  # the standard address code of the building
        assert got_photo == (200, "image/png", PNG)
        assert [f["properties"]["status"] for f in layer["features"]][:1] == ["unverified"]
        assert (bad_level, neither, again, missing) == (400, 400, 409, 404)
        assert verified[0] == 200 and verified[1]["status"] == "verified" and verified[1]["decided_by"] == "Zhou Jie"
        # the verified report raised an alert at bldg-013, which joined the gas leak's incident
        report_alert = next(a for a in svc.alerts() if a["rule"].startswith(f"report:{created[1]['id']}:"))
        gas = next(i for i in svc.incidents() if i["hazard"] == "gas")
        assert report_alert["id"] in gas["alerts"] and report_alert["level"] == "orange"
    finally:
        svc.close()


def test_reports_are_rate_limited(demo, tmp_path):
    svc = play(demo, tmp_path / "s.duckdb", (), until=T0 - 290)

    async def body(http):
        out = []
        for _ in range(7):
            async with http.post("/api/reports", json={"category": "other", "text": "x", "x": 1.0, "y": 2.0}) as r:
                out.append(r.status)
        return out

    try:
        assert call_api(svc, body) == [201] * 5 + [429, 429]
    finally:
        svc.close()
