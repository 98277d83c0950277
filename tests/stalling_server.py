"""``twin serve`` whose rule evaluation can be made to hang: the harness of the degraded-banner test.

``POST /test/stall`` with ``{"on": true}`` makes every rule evaluation wait (holding the service's
lock, as a real hang would) until ``{"on": false}``.  The watchdog's limit is 3 s here instead of
the rules file's, so the test does not wait for it.  Only the tests run this.
"""

from __future__ import annotations

import sys
import threading
import time

from aiohttp import web

import twin.faces.api
import twin.faces.commands.serve as serve_command
from twin.faces.cli import main

STALL = threading.Event()
_start_live_risk, _routes = serve_command.start_live_risk, twin.faces.api.routes


def start_live_risk(*args, **kwargs):
    service = _start_live_risk(*args, **kwargs)
    service.watchdog.limit_s = 3.0  # ticks come every 1 s
    evaluate = service.state.evaluate

    def hanging(*a, **k):
        while STALL.is_set():
            time.sleep(0.05)
        return evaluate(*a, **k)

    service.state.evaluate = hanging
    return service


def routes(service, *args, **kwargs):
    async def stall(request: web.Request) -> web.Response:
        (STALL.set if (await request.json()).get("on") else STALL.clear)()
        return web.json_response({"stalled": STALL.is_set()})

    return [*_routes(service, *args, **kwargs), web.post("/test/stall", stall)]


serve_command.start_live_risk, twin.faces.api.routes = start_live_risk, routes

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
