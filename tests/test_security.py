"""Access control: loopback by default, a strong token elsewhere, Origin checked, token never logged."""

import secrets
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from browser_support import browser, serve
from conftest import USER_CWD

from twin.faces.security import AccessPolicy, TokenError, check_token, token_bits

STRONG = secrets.token_urlsafe(32)


@pytest.mark.parametrize(
    "token, problem",
    [
        (None, "needs an access token"),
        ("wslink-secret", "public default secret"),
        ("short", "too weak"),
        ("a" * 40, "too weak"),
        ("wslink-secretwslink-secret", "too weak"),  # a public default, twice
        ("012345678901234567890123", "too weak"),  # runs of digits
        ("passwordpassword12345678", "too weak"),
        ("Tr0ub4dor&3-Tr0ub4dor&3-", "too weak"),  # one unit repeated
        ("é" * 30, "printable ASCII"),  # could never be compared with an HTTP header
    ],
)
def test_weak_or_missing_tokens_are_refused(token, problem):
    with pytest.raises(TokenError, match=problem):
        check_token(token)
    with pytest.raises(TokenError):
        AccessPolicy(host="0.0.0.0", token=token)


def test_random_tokens_are_strong_enough():
    for _ in range(200):
        for token in (secrets.token_urlsafe(18), secrets.token_hex(16), secrets.token_urlsafe(32)):
            assert check_token(token) == token
    assert token_bits(secrets.token_urlsafe(32)) > 2 * token_bits("wslink-secret" * 3)


def test_loopback_needs_no_token_but_other_binds_do():
    assert AccessPolicy(host="127.0.0.1").token is None
    assert AccessPolicy(host="::1").loopback
    assert check_token(STRONG) == STRONG


def test_serve_refuses_to_start_on_a_network_address_without_a_token():
    result = subprocess.run(
        [sys.executable, "-m", "twin.faces.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=USER_CWD,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert result.stderr.startswith("twin: error: a non-loopback bind needs an access token")


def status(url: str, headers: dict | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        return opener.open(request, timeout=30).status
    except urllib.error.HTTPError as error:
        return error.code


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


WS_HEADERS = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


@pytest.mark.browser
def test_a_network_bind_refuses_clients_without_the_token_and_never_logs_it(artifacts):
    with serve("--host", "0.0.0.0", env={"TWIN_TOKEN": STRONG}) as served:
        url = served.url
        assert status(url + "index.html") == 401
        assert status(url + "index.html", {"Authorization": f"Bearer {STRONG}"}) == 200
        assert status(url + "index.html?token=wrong-" + STRONG) == 401
        assert status(url + f"index.html?token={STRONG}") == 302  # sets the cookie, drops the token
        assert (
            status(url + "ws", {**WS_HEADERS, "Origin": "http://evil.example", "Authorization": f"Bearer {STRONG}"})
            == 403
        )
        with browser() as chromium:
            page = chromium.new_page()
            refused = page.goto(url)
            assert refused.status == 401
            page.screenshot(path=str(artifacts / "security_refused.png"))
            page.goto(url + f"?token={STRONG}")
            page.get_by_test_id("scene-name").wait_for(timeout=60_000)
            assert "token" not in page.url
        log = "".join(served.log)
    assert STRONG not in log


def test_websocket_from_another_origin_is_refused_on_loopback_too():
    with serve() as served:
        assert status(served.url + "ws", {**WS_HEADERS, "Origin": "http://evil.example"}) == 403
        assert status(served.url.replace("127.0.0.1", "localhost") + "index.html") == 200
        assert status(served.url + "index.html", {"Host": "rebound.example"}) == 421  # DNS rebinding


def test_a_page_of_another_origin_cannot_post_to_the_api():
    import asyncio

    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    async def scenario():
        app = web.Application()
        AccessPolicy(host="127.0.0.1").install(app)

        async def readings(request):
            return web.json_response({"accepted": 1})

        app.router.add_post("/api/readings", readings)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            evil = await client.post("/api/readings", data="[]", headers={"Origin": "http://evil.example"})
            tool = await client.post("/api/readings", data="[]")  # curl, twin replay: no Origin
            own = await client.post("/api/readings", data="[]", headers={"Origin": f"http://127.0.0.1:{client.port}"})
            return evil.status, tool.status, own.status

    assert asyncio.run(scenario()) == (403, 200, 200)
