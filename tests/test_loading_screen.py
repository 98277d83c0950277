"""CIM Twin's loading screen while the scene loads, and a quiet log when a browser leaves."""

import json
import logging
import socket
import urllib.request

import pytest

from twin.faces.app.closing import BrowserGone
from twin.faces.app.loading import PROGRESS_PATH, LoadingServer, connecting_fragment, progress_page
from twin.faces.security import AccessPolicy


def get(url: str, **headers: str) -> tuple[int, str]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
        return response.status, response.read().decode()


def test_the_port_shows_the_progress_while_the_scene_loads_and_is_given_back():
    screen = LoadingServer(AccessPolicy(host="127.0.0.1"), "demo", lang=None)
    port = screen.start(0)
    try:
        status, page = get(f"http://127.0.0.1:{port}/any/path?lang=zh")
        assert status == 200 and 'data-testid="loading-screen"' in page and "<svg" in page
        assert "已加载 {done} / {total} 个数据源" in page  # both languages travel; the page picks one
        screen.progress(3, 10, "gas")
        for asked in (PROGRESS_PATH, "/any" + PROGRESS_PATH):  # the page asks relative to its own path
            status, body = get(f"http://127.0.0.1:{port}{asked}")
            assert json.loads(body) == {"done": 3, "total": 10, "what": "gas", "app": False}
    finally:
        screen.stop()
    with socket.socket() as probe:  # the app takes the same port next (aiohttp, as it, reuses the address:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed connection may linger in TIME_WAIT)
        probe.bind(("127.0.0.1", port))


def test_the_loading_screen_is_guarded_like_the_app():
    screen = LoadingServer(AccessPolicy(host="127.0.0.1"), "demo")
    port = screen.start(0)
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            get(f"http://127.0.0.1:{port}/", Host="evil.example")
        assert refused.value.code == 421
    finally:
        screen.stop()


def test_the_connecting_fragment_speaks_the_language_and_runs_no_script():
    zh, en = connecting_fragment("zh"), connecting_fragment("en")
    assert "正在连接" in zh and "Connecting" in en and "CIM 城市数字孪生" in zh
    assert "<script" not in zh  # trame puts it in the page as HTML: a script would not run
    assert "</script>" not in progress_page("a</script><b>", None).split("<script>", 1)[1].split("</script>")[0]


def record(exc: BaseException | None) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error handling request", (), info)


def test_a_browser_gone_is_dropped_from_the_log_and_real_errors_are_kept():
    gone = BrowserGone()
    reset = ConnectionResetError("Cannot write to closing transport")
    try:
        try:
            raise reset
        except ConnectionResetError:
            raise RuntimeError("while sending the error") from None
    except RuntimeError as later:  # raised while handling the reset (its __context__)
        later.__context__ = reset
        assert not gone.filter(record(later))
    assert not gone.filter(record(reset))
    assert gone.filter(record(ValueError("a real bug")))
    assert gone.filter(record(None))
    try:
        raise reset
    except ConnectionResetError:  # wslink logs inside its except block, without exc_info
        assert not gone.filter(record(None))
