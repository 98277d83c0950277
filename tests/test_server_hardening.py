"""The live server against hostile or unlucky clients: a real ``twin serve`` on loopback, real
HTTP and websocket clients (aiohttp), and the store and staleness rules under them.

Nothing here is decided by a clock: "the event loop kept answering while a gzip bomb was read"
is checked by ordering (a health probe answered while the bomb's request is still open), and
"no memory reserved" by the server's resident memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import aiohttp
import msgpack
import pytest
from aiohttp.test_utils import make_mocked_request
from browser_support import serve
from conftest import USER_CWD

import twin
from twin.errors import InputError
from twin.faces.api import MAX_BODY, MAX_NAME, inflate
from twin.faces.security import COOKIE, SESSION_S, AccessPolicy
from twin.risk.levels import NAMES
from twin.risk.service import RiskService

ROOT = Path(__file__).resolve().parent.parent
TOKEN = secrets.token_urlsafe(32)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PUBLIC = {"secret": "wslink-secret"}  # wslink's default secret: any local process knows it


@pytest.fixture(scope="module")
def served():
    """One ``twin serve`` of the demo district on loopback, guarded by a token."""
    with serve(env={"TWIN_TOKEN": TOKEN}) as running:
        yield running


def run(coro):
    return asyncio.run(coro)


def gzip_bomb(inflated: int = 1 << 30) -> bytes:
    """About 1 MB of gzip that inflates to ``inflated`` bytes of zeros."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    return b"".join([packer.compress(zeros) for _ in range(inflated >> 20)] + [packer.flush()])


def rss_mb(pid: int) -> int:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS"))
    return int(line.split()[1]) // 1024


# -- bodies: inflated off the loop, capped, never before authentication ----------------------------
def test_a_gzip_bomb_is_refused_at_the_cap_and_the_loop_answers_while_it_arrives(served):
    bomb = gzip_bomb()

    async def scenario():
        async with aiohttp.ClientSession(served.url) as http, aiohttp.ClientSession(served.url) as probe:
            order: list[str] = []

            async def upload():
                yield bomb  # all of it sent; the request stays open until a probe got its answer
                async with probe.get("/api/health", headers=AUTH) as r:
                    order.append(f"probe {r.status}")
                yield b""

            answers = []
            for headers in ({}, AUTH, {}, AUTH):  # without a token first: refused before any inflating
                async with http.post(
                    "/api/readings", data=upload(), headers={"Content-Encoding": "gzip", **headers}
                ) as r:
                    order.append(f"bomb {r.status}")
                    answers.append((r.status, await r.text()))
            async with http.get("/api/health", headers=AUTH) as r:
                health = r.status
            return order, answers, health

    order, answers, health = run(scenario())
    assert [status for status, _ in answers] == [401, 413, 401, 413]
    assert f"{MAX_BODY} bytes" in answers[1][1]
    # a bomb with a token: the probe was answered while its body was still arriving, before its answer
    assert order[order.index("bomb 401") + 1 :][:2] == ["probe 200", "bomb 413"]
    assert order.count("probe 200") >= 2 and health == 200


def test_inflating_stops_at_the_cap():
    with pytest.raises(Exception, match="body larger than"):
        inflate(gzip_bomb(64 << 20), 31, limit=1 << 20)
    small = zlib.compress(b"[]")
    assert inflate(small, 47) == b"[]" and inflate(gzip_bomb(1 << 20) + gzip_bomb(1 << 20), 31) == bytes(2 << 20)


def test_the_one_body_cap_holds_inside_twin_serve(served):
    """Between the old 1 MiB inside ``twin serve`` and the documented 16 MiB: 16 MiB, as sent or inflated."""
    now = int(time.time() * 1000)
    line = json.dumps({"sensor": "GAS-B006", "ts": now, "value": 1.0}).encode() + b"\n"
    two_mib = line * ((2 << 20) // len(line))

    async def scenario():
        async with aiohttp.ClientSession(served.url, headers=AUTH) as http:
            async with http.post("/api/readings", data=two_mib) as r:
                fits = (r.status, await r.json())
            async with http.post("/api/readings", data=bytes(MAX_BODY + 1)) as r:
                over = r.status
            async with http.post("/api/readings", data=b"[]", headers={"Content-Encoding": "br"}) as r:
                brotli = r.status
            return fits, over, brotli

    (status, result), over, brotli = run(scenario())
    assert status == 200 and result["accepted"] + result["duplicate"] == two_mib.count(b"\n")
    assert over == 413 and brotli == 415


# -- websocket: sizes refused before memory is reserved ------------------------------------------
def wslink_chunk(message: int, payload: bytes, total: int | None = None) -> bytes:
    """A wslink chunk: message id, offset, declared total size (uint32 little-endian), payload."""
    return struct.pack("<III", message, 0, len(payload) if total is None else total) + payload


def test_a_websocket_message_declaring_a_gigabyte_reserves_nothing(served):
    pid = served.process.pid

    async def scenario():
        async with aiohttp.ClientSession() as http:
            origin = served.url.rstrip("/")
            before = rss_mb(pid)
            closed = []
            for declared in (1 << 30, 1 << 30):
                async with http.ws_connect(served.url + "ws", headers={"Origin": origin, **AUTH}) as ws:
                    hello = {"wslink": "1.0", "id": "system:c0:0", "method": "wslink.hello", "kwargs": {}}
                    await ws.send_bytes(
                        wslink_chunk(1, msgpack.packb({**hello, "args": [{"secret": "wslink-secret"}]}))
                    )
                    assert (await ws.receive(timeout=60)).type == aiohttp.WSMsgType.BINARY
                    await ws.send_bytes(wslink_chunk(7, b"\x93\x00\x00\x00\x00\x00\x00", declared))  # 19 bytes
                    closed.append((await ws.receive(timeout=60)).type)
            # many small declarations add up too: their sum is capped per connection
            async with http.ws_connect(served.url + "ws", headers={"Origin": origin, **AUTH}) as ws:
                await ws.send_bytes(wslink_chunk(1, msgpack.packb({**hello, "args": [PUBLIC]})))
                await ws.receive(timeout=60)
                with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                    for message in range(100, 2100):
                        await ws.send_bytes(wslink_chunk(message, b"\x00", 1 << 20))
            async with http.get(served.url + "api/health", headers=AUTH) as r:
                health = r.status
            return before, rss_mb(pid), closed, health

    before, after, closed, health = run(scenario())
    ends = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR)
    assert all(kind in ends for kind in closed), closed
    assert after - before < 200, f"the server grew from {before} to {after} MB"
    assert health == 200


# -- answers: permanent client errors are 4xx with the reason -------------------------------------
def test_client_errors_are_4xx_with_their_reason(served):
    now = int(time.time() * 1000)
    valid = json.dumps([{"sensor": "GAS-B006", "ts": now, "value": 1.0}]).encode()
    cases = {
        "deep": b"[" * 100_000 + b"]" * 100_000,
        "digits": b'[{"sensor": "GAS-B006", "ts": %d, "value": %s}]' % (now, b"9" * 400),
        "long int ts": b'[{"sensor": "GAS-B006", "ts": %s, "value": 1}]' % (b"1" * 5000),
        "bom": b"\xef\xbb\xbf" + valid,
    }

    async def scenario():
        async with aiohttp.ClientSession(served.url, headers=AUTH) as http:
            out = {}
            for name, body in cases.items():
                async with http.post("/api/readings", data=body) as r:
                    out[name] = (r.status, await r.json())
            for value in ("nan", "inf", "-inf", "1e308", "0001-01-01T00:00:00+14:00"):
                async with http.get("/api/assets/bldg-006/readings", params={"since": value}) as r:
                    out[f"since {value}"] = (r.status, await r.json())
            async with http.get("/api/assets/bldg-006/readings", params={"until": "1e308"}) as r:
                out["until"] = (r.status, await r.json())
            async with http.post("/api/alerts/1/ack", json={"by": "x" * (MAX_NAME + 1)}) as r:
                out["long name"] = (r.status, await r.json())
            async with http.post("/api/alerts/1/ack", json={"by": ["not", "a", "name"]}) as r:
                out["name type"] = (r.status, await r.json())
            async with http.post("/api/alerts/" + "9" * 400 + "/ack") as r:
                out["alert id"] = (r.status, await r.json())
            return out

    out = run(scenario())
    assert out["deep"][0] == 400 and "nested too deeply" in out["deep"][1]["error"]
    assert out["digits"][0] == 200 and out["digits"][1]["rejections"][0]["reason"] == "NaN/inf"
    assert out["long int ts"][0] == 200 and out["long int ts"][1]["rejected"] == 1
    assert out["bom"][0] == 200 and out["bom"][1]["accepted"] + out["bom"][1]["duplicate"] == 1
    for key in ("since nan", "since inf", "since -inf", "since 1e308", "since 0001-01-01T00:00:00+14:00", "until"):
        assert out[key][0] == 400 and "since" in out[key][1]["error"] or "until" in out[key][1]["error"], key
    assert out["long name"][0] == 400 and str(MAX_NAME) in out["long name"][1]["error"]
    assert out["name type"][0] == 400 and out["alert id"][0] == 400


# -- access: tokens, sessions, framing, assets -----------------------------------------------------
def test_non_ascii_tokens_are_refused_not_crashed_on(served):
    async def scenario():
        async with aiohttp.ClientSession(served.url) as http:
            statuses = []
            for kwargs in (
                {"params": {"token": "é" * 40}},
                {"headers": {"Authorization": "Bearer " + "é" * 40}},
                {"headers": {"Cookie": f"{COOKIE}=é.1.é"}},
                {"headers": {"Authorization": "Bearer \udcff".encode("utf-8", "surrogateescape").decode("latin-1")}},
            ):
                async with http.get("/api/health", allow_redirects=False, **kwargs) as r:
                    statuses.append(r.status)
            return statuses

    assert run(scenario()) == [401, 401, 401, 401]


def test_a_non_ascii_twin_token_is_refused_at_start():
    result = subprocess.run(
        [sys.executable, "-m", "twin.faces.cli", "serve", "--port", "0"],
        cwd=USER_CWD,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "TWIN_TOKEN": "€" * 30 + secrets.token_urlsafe(8)},
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "printable ASCII" in result.stderr


def test_each_browser_gets_its_own_expiring_session_and_no_site_can_frame_the_app(served):
    async def login(http):
        async with http.get("/index.html", params={"token": TOKEN}, allow_redirects=False) as r:
            return r.status, r.headers.getall("Set-Cookie")[0], r.cookies[COOKIE].value

    async def scenario():
        async with (  # unsafe: keep the cookies of an IP address
            aiohttp.ClientSession(served.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as one,
            aiohttp.ClientSession(served.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as two,
            aiohttp.ClientSession(served.url, cookie_jar=aiohttp.DummyCookieJar()) as bare,
        ):
            first, second = await login(one), await login(two)
            async with one.get("/index.html") as r:  # the session alone admits it
                page = (r.status, dict(r.headers))
            tampered = first[2][:-1] + ("0" if first[2][-1] != "0" else "1")
            async with bare.get("/api/health", headers={"Cookie": f"{COOKIE}={tampered}"}) as r:
                forged = r.status
            async with one.get("/twin_ui/client.js") as r:
                script = r.status
            statuses = {}
            for path in ("/twin_ui/application.py", "/twin_ui/panels/risk.py", "/twin_ui/__pycache__/x.pyc"):
                async with one.get(path) as r:
                    statuses[path] = r.status
            async with bare.get("/api/health") as r:
                refused = (r.status, r.headers.get("X-Frame-Options"))
            return first, second, page, forged, script, statuses, refused

    first, second, page, forged, script, statuses, refused = run(scenario())
    assert first[0] == second[0] == 302 and first[2] != second[2]
    cookie = first[1].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and f"max-age={SESSION_S}" in cookie
    assert "secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    assert page[0] == 200 and page[1]["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page[1]["Content-Security-Policy"]
    assert forged == 401 and script == 200 and set(statuses.values()) == {404}
    assert refused == (401, "DENY")


def test_sessions_expire_and_are_secure_over_tls():
    policy = AccessPolicy("127.0.0.1", TOKEN)
    cookie = policy.new_session(now=1_000_000)
    assert policy.session_expiry(cookie, now=1_000_000 + SESSION_S - 1) == 1_000_000 + SESSION_S
    assert policy.session_expiry(cookie, now=1_000_000 + SESSION_S + 1) is None
    assert AccessPolicy("127.0.0.1", secrets.token_urlsafe(32)).session_expiry(cookie, now=1_000_000) is None

    async def over_tls():
        import ssl

        request = make_mocked_request(
            "GET",
            f"/index.html?token={TOKEN}",
            headers={"Host": "127.0.0.1:8080"},
            sslcontext=ssl.create_default_context(),
        )
        return await policy.middleware()(request, lambda r: None)

    response = run(over_tls())
    assert response.status == 302 and response.cookies[COOKIE]["secure"]


# -- the store and staleness ----------------------------------------------------------------------
def test_serve_refuses_a_store_that_is_not_one_and_leaves_it_alone(tmp_path):
    notes = tmp_path / "readings.csv"
    notes.write_text("sensor,ts,value\nGAS-B006,0,1\n")
    result = subprocess.run(
        [sys.executable, "-m", "twin.faces.cli", "serve", "--port", "0", "--store", str(notes)],
        cwd=USER_CWD,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert str(notes) in result.stderr and "not a DuckDB store" in result.stderr
    assert notes.read_text() == "sensor,ts,value\nGAS-B006,0,1\n" and sorted(tmp_path.iterdir()) == [notes]


@pytest.fixture(scope="module")
def demo():
    return twin.load(ROOT / "scenes" / "demo.toml")


def test_a_future_stamp_never_keeps_a_dead_sensor_alive(demo, tmp_path):
    clock = [1_800_000_000.0]
    svc = RiskService.from_twin(demo, store_path=tmp_path / "s.duckdb", clock=lambda: clock[0]).open()
    sensor = svc.sensors.lookup(["GAS-B006"])[0]
    stale_after = float(svc.state.engine.stale_after[sensor])
    svc.ingest([{"sensor": "GAS-B006", "ts": (clock[0] + 300) * 1000, "value": 0.0}])  # 5 min ahead
    svc.tick()
    assert not svc.state.engine.stale[sensor]
    clock[0] += stale_after + 1  # silent since it arrived, whatever its stamp says
    svc.tick()
    assert svc.state.engine.stale[sensor] and NAMES[svc.state.engine.levels()[sensor]] == "nodata"
    assert NAMES[svc.levels()[svc.assets.index_of("bldg-006")]] != "none"
    svc.close()


@pytest.mark.parametrize("content", [b"name = 'Demo'\n", b"DUCK", bytes(64), b"\x00" * 8 + b"DUCX" + b"\x00" * 100])
def test_only_a_recognisable_store_is_ever_set_aside(demo, tmp_path, content):
    path = tmp_path / "s.duckdb"
    path.write_bytes(content)
    with pytest.raises(InputError, match="not a DuckDB store"):
        RiskService.from_twin(demo, store_path=path).open()
    assert path.read_bytes() == content and sorted(tmp_path.iterdir()) == [path]
    folder = tmp_path / "folder.duckdb"
    folder.mkdir()
    with pytest.raises(InputError, match="not a regular file"):
        RiskService.from_twin(demo, store_path=folder).open()


def test_a_damaged_store_is_set_aside_and_health_says_degraded(demo, tmp_path):
    path = tmp_path / "s.duckdb"
    RiskService.from_twin(demo, store_path=path).open().close()
    whole = path.read_bytes()
    path.write_bytes(whole[:4096] + bytes(len(whole) - 4096))  # header kept, blocks zeroed
    svc = RiskService.from_twin(demo, store_path=path).open()
    health = svc.health()
    svc.close()
    assert health["status"] == "degraded" and health["store"]["set_aside"], health
    assert Path(health["store"]["set_aside"][0]).read_bytes()[8:12] == b"DUCK"
