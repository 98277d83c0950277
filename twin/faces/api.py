"""The REST API of the live risk service, as aiohttp routes.

trame's server is wslink on aiohttp, so the app mounts these with
``app.add_routes(routes(service))``; :func:`serve_api` runs them alone (tests, ingest-only
deployments).  A bad request is answered with a JSON error and never stops the server; under
overload ingest answers 503 with ``Retry-After`` instead of queueing without bound; a request
that can never succeed as sent (too large, not JSON, nested too deeply, a time out of range) is
answered 4xx with the reason, so gateways do not retry it.

A body is read only once the access guard has admitted its request, as sent (the guard stops
aiohttp inflating bodies on the event loop), and inflated off the loop with a streaming cap:
:data:`MAX_BODY` is the one limit, before and after inflating.

Routes::

    GET  /api/health                 store checked with a real query; 503 when broken
    GET  /api/sensors                sensors with direction and thresholds
    POST /api/readings               JSON array or NDJSON of {sensor, ts, value}
    GET  /api/assets/{id}            attributes, risk {level, reason, since}, sensors, alerts
    GET  /api/assets/{id}/readings   ?since=&until=&limit= (ISO-8601 or epoch ms)
    GET  /api/alerts                 open alerts (?all=1 adds recently resolved ones)
    GET  /api/alerts/{id}            one alert with its history (events)
    POST /api/alerts/{id}/ack        body {"by": "name"} optional
    GET  /api/risk/summary           counts per level, alerts, sensors online/stale
    GET  /api/risk/grids             level per management grid cell
    /api/incidents, /api/resources   incidents, plan checklists, resources (:mod:`twin.faces.incident_api`)
    /api/sta/v1.1/...                OGC SensorThings: Things, Datastreams, Observations
    GET  /api/networks/isolate/{segment}   ?network=&valves=&inoperable=V1,V2&hydraulic=0|1 (default 1):
                                     valves to close and, from the EPANET model, who loses water
                                     (:func:`network_routes`, mounted with the twin)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from twin.errors import InputError, TwinError
from twin.faces import i18n
from twin.faces.security import TOKEN_ENV, AccessPolicy
from twin.risk.ingest import UTF8_BOM, parse_body
from twin.risk.interface import RiskRuntime

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY = 16 * 1024 * 1024  #: the one cap on a request body, as sent and once inflated (413 beyond)
MAX_NAME = 100  #: characters of an acknowledging operator's name (it goes to every screen)
INFLATE_STEP = 1 << 20  # bytes inflated per step, so inflating stops at the cap
#: Content-Encoding -> zlib window bits (None: as sent); 47 reads gzip or zlib by its header
INFLATE = {"identity": None, "": None, "gzip": 31, "x-gzip": 31, "deflate": 47}
#: the times a query may name: the years 1 to 9999 (what a timestamp can hold)
TIME_RANGE_S = (-62_135_596_800.0, 253_402_300_799.0)


class RequestRefused(InputError):
    """A request that can never succeed as sent, with the HTTP status that says why (4xx)."""

    def __init__(self, status: int, problem: str) -> None:
        super().__init__(None, problem)
        self.status = status


class IngestGate:
    """Bounds the bytes of readings waiting to be committed; past the bound, ingest says 503."""

    def __init__(self, max_pending_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_pending = max_pending_bytes
        self.pending = 0
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="risk-ingest")

    def admit(self, size: int) -> bool:
        if self.pending and self.pending + size > self.max_pending:
            return False
        self.pending += size
        return True

    def release(self, size: int) -> None:
        self.pending -= size


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        _finite(data), status=status, headers=headers, dumps=lambda d: json.dumps(d, default=str, allow_nan=False)
    )


def _finite(value: Any) -> Any:
    """NaN and infinities (missing attributes) as null: JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _guard(handler: Handler) -> Handler:
    """Turn any failure into a JSON error answer: a bad request never stops the server."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except _Unavailable as exc:
            return _json({"error": str(exc)}, status=503, headers={"Retry-After": "5"})
        except InputError as exc:
            return _json({"error": exc.problem}, status=getattr(exc, "status", 400))
        except Exception as exc:  # the server must keep serving whatever one request did
            return _json({"error": f"{type(exc).__name__}: {exc}"}, status=500)

    wrapped.__name__ = handler.__name__
    return wrapped


def _time_param(request: web.Request, name: str) -> float | None:
    """``since``/``until`` in epoch seconds: epoch milliseconds or ISO-8601, years 1 to 9999."""
    text = request.query.get(name)
    if text is None or text == "":
        return None
    try:
        seconds = float(text) / 1000.0
    except ValueError:
        seconds = _iso_seconds(text, name)
    if not TIME_RANGE_S[0] <= seconds <= TIME_RANGE_S[1]:  # also refuses nan and inf
        raise RequestRefused(400, f"{name} must be a time between the years 1 and 9999, not {text[:40]!r}")
    return seconds


def _iso_seconds(text: str, name: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    except (ValueError, OverflowError):
        raise RequestRefused(400, f"{name} must be ISO-8601 or epoch milliseconds, not {text[:40]!r}") from None


async def read_body(request: web.Request, executor: Executor | None = None) -> bytes:
    """The request's body, inflated (gzip or deflate) off the event loop; at most :data:`MAX_BODY`
    bytes both as sent and inflated (:class:`RequestRefused` 413 past it, 415 for another encoding).

    Read only by a handler, so never before the access guard has admitted the request.
    """
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in INFLATE:
        raise RequestRefused(415, f"Content-Encoding {encoding!r} is not accepted: send gzip, deflate or none")
    if (request.content_length or 0) > MAX_BODY:
        raise _too_large()
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > MAX_BODY:
            raise _too_large()
        chunks.append(chunk)
    raw = b"".join(chunks)
    wbits = INFLATE[encoding]
    inflated_already = getattr(request.content, "total_compressed_bytes", None) is not None  # a server that inflates
    if wbits is None or not raw or inflated_already:
        return raw
    return await asyncio.get_running_loop().run_in_executor(executor, inflate, raw, wbits)


def inflate(data: bytes, wbits: int, limit: int = MAX_BODY) -> bytes:
    """Inflate gzip/zlib ``data`` (members one after another) a step at a time, stopping past ``limit``."""
    out, size = [], 0
    if wbits == INFLATE["deflate"] and data and data[0] & 0x0F != 8:  # raw deflate, without the zlib header
        wbits = -15
    while data:
        stream = zlib.decompressobj(wbits)
        try:
            while True:
                piece = stream.decompress(data, INFLATE_STEP)
                data = stream.unconsumed_tail
                size += len(piece)
                if size > limit:
                    raise _too_large()
                out.append(piece)
                if not data and len(piece) < INFLATE_STEP:
                    break
        except zlib.error as exc:
            raise RequestRefused(400, f"the body is not valid {'gzip' if wbits == 31 else 'deflate'} ({exc})") from None
        if not stream.eof:
            raise RequestRefused(400, "the compressed body is truncated")
        data = stream.unused_data
    return b"".join(out)


def _too_large() -> RequestRefused:
    return RequestRefused(413, f"body larger than {MAX_BODY} bytes (as sent or inflated): send smaller batches")


def _ingest(service: RiskRuntime, body: bytes) -> dict[str, Any]:
    """Parse and store a batch (on the ingest thread): a body that cannot be read is the client's
    error (400); only a failure to store is transient (503, retry later)."""
    items = parse_body(body)
    try:
        return service.ingest(items)
    except Exception as exc:  # the store failed: nothing was acknowledged
        raise _Unavailable(f"readings not stored: {exc}") from exc


class _Unavailable(TwinError):
    """A transient failure: answered 503 with ``Retry-After``."""


def _alert_id(request: web.Request) -> int:
    text = request.match_info["id"]
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise RequestRefused(400, "alert ids are integers")
    return int(text)


def _operator(body: bytes) -> str:
    """The acknowledging operator's name from ``{"by": "name"}`` (an empty body: no name)."""
    try:
        data = json.loads(body.removeprefix(UTF8_BOM) or b"{}")
    except (ValueError, RecursionError):  # ValueError: not JSON, or not UTF-8
        raise RequestRefused(400, 'body must be JSON like {"by": "name"}') from None
    by = data.get("by", "") if isinstance(data, dict) else None
    if not isinstance(by, str):
        raise RequestRefused(400, 'body must be JSON like {"by": "name"}, the name a string')
    by = by.strip()
    if len(by) > MAX_NAME:
        raise RequestRefused(400, f"the name in 'by' is longer than {MAX_NAME} characters")
    return by


def routes(service: RiskRuntime, gate: IngestGate | None = None) -> list[web.RouteDef]:
    """The API's routes bound to one :class:`~twin.risk.service.RiskService`."""
    gate = gate or IngestGate()

    async def health(request: web.Request) -> web.Response:
        report = await asyncio.get_running_loop().run_in_executor(None, service.health)
        return _json(report, status=503 if report["status"] == "error" else 200)

    async def sensors(request: web.Request) -> web.Response:
        return _json(await asyncio.to_thread(service.sensor_list))

    async def readings(request: web.Request) -> web.Response:
        body = await read_body(request, gate.executor)
        if not gate.admit(len(body)):
            return _json({"error": "ingest overloaded: retry later"}, status=503, headers={"Retry-After": "1"})
        try:  # parsing up to 16 MB is work too: off the loop, with the ingest
            result = await asyncio.get_running_loop().run_in_executor(gate.executor, _ingest, service, body)
        finally:
            gate.release(len(body))
        return _json(result)

    async def asset(request: web.Request) -> web.Response:
        found = await asyncio.to_thread(service.asset, request.match_info["id"])
        return _json(found) if found is not None else _json({"error": "no such asset"}, status=404)

    async def asset_readings(request: web.Request) -> web.Response:
        since, until = _time_param(request, "since"), _time_param(request, "until")
        try:
            limit = int(request.query.get("limit", "10000"))
        except ValueError:
            raise InputError(None, "limit must be an integer") from None
        rows = await asyncio.get_running_loop().run_in_executor(
            None, service.readings, request.match_info["id"], since, until, max(1, min(limit, 1_000_000))
        )
        if rows is None:
            return _json({"error": "no such asset"}, status=404)
        return _json(
            {
                "asset": request.match_info["id"],
                "readings": [
                    {
                        **r,
                        "ts": datetime.fromtimestamp(r["ts"], tz=UTC)
                        .isoformat(timespec="milliseconds")
                        .replace("+00:00", "Z"),
                    }
                    for r in rows
                ],
            }
        )

    async def alerts(request: web.Request) -> web.Response:
        return _json(await asyncio.to_thread(service.alerts, request.query.get("all") in ("1", "true")))

    async def alert(request: web.Request) -> web.Response:
        found = await asyncio.get_running_loop().run_in_executor(None, service.alert, _alert_id(request))
        return _json(found) if found is not None else _json({"error": "no such alert"}, status=404)

    async def ack(request: web.Request) -> web.Response:
        alert_id = _alert_id(request)
        by = _operator(await read_body(request)) if request.can_read_body else ""
        result = await asyncio.get_running_loop().run_in_executor(gate.executor, service.ack, alert_id, by)
        return _json(result) if result is not None else _json({"error": "no such alert"}, status=404)

    async def summary(request: web.Request) -> web.Response:
        return _json(service.summary())  # from the snapshot: never holds the loop, even if evaluation is stuck

    async def grids(request: web.Request) -> web.Response:
        return _json(service.grid_levels(service.snapshot().levels))

    return [
        web.get("/api/health", _guard(health)),
        web.get("/api/sensors", _guard(sensors)),
        web.post("/api/readings", _guard(readings)),
        web.get("/api/assets/{id}", _guard(asset)),
        web.get("/api/assets/{id}/readings", _guard(asset_readings)),
        web.get("/api/alerts", _guard(alerts)),
        web.get("/api/alerts/{id}", _guard(alert)),
        web.post("/api/alerts/{id}/ack", _guard(ack)),
        web.get("/api/risk/summary", _guard(summary)),
        web.get("/api/risk/grids", _guard(grids)),
        *_sensorthings_routes(service, gate),
        *_incident_routes(service),
    ]


def _incident_routes(service: RiskRuntime) -> list[web.RouteDef]:
    """Incidents, plans and resources (:mod:`twin.faces.incident_api`) where the service keeps
    them; imported here as that module builds on this one."""
    from twin.faces.incident_api import IncidentDesk, incident_routes

    return incident_routes(service) if isinstance(service, IncidentDesk) else []


def _sensorthings_routes(service: RiskRuntime, gate: IngestGate) -> list[web.RouteDef]:
    """The OGC SensorThings subset under ``/api/sta/v1.1`` (:mod:`twin.faces.sensorthings`),
    sharing this API's ingest gate; imported here as that module builds on this one."""
    from twin.faces.sensorthings import routes as sensorthings

    return sensorthings(service, gate)


def network_routes(twin: Any) -> list[web.RouteDef]:
    """The what-if routes of a twin's pipe networks (:func:`twin.hydraulics.whatif.what_if`),
    answered in a thread: a hydraulic run takes its worker's time, never the event loop's."""

    async def isolate_segment(request: web.Request) -> web.Response:
        from twin.hydraulics.whatif import what_if

        query = request.query
        result = await asyncio.to_thread(
            what_if,
            twin,
            request.match_info["segment"],
            network=query.get("network"),
            hydraulic=query.get("hydraulic", "1").lower() in ("1", "true", "yes"),
            strategy=query.get("valves"),
            inoperable=[v for v in query.get("inoperable", "").split(",") if v],
        )
        return _json(result)

    return [web.get("/api/networks/isolate/{segment}", _guard(isolate_segment))]


def nowcast_routes(loop: Any) -> list[web.RouteDef]:
    """``GET /api/nowcast``: the latest flood nowcast of a :class:`twin.hydraulics.live.NowcastLoop`
    (none without one)."""
    if loop is None:
        return []

    async def latest(request: web.Request) -> web.Response:
        result = loop.latest
        # each reason in Chinese too, from the catalogue the pages use (twin.faces.i18n.reason)
        nodes = [{**node, "reason_zh": i18n.reason(node["reason"], "zh")} for node in result.get("nodes", [])]
        return _json({**result, "nodes": nodes, "every_s": loop.every_s, "runs": loop.runs})

    return [web.get("/api/nowcast", _guard(latest))]


def make_app(service: RiskRuntime, host: str = "127.0.0.1", token: str | None = None) -> web.Application:
    """The routes alone, behind the same access guard as the app (a token is needed off loopback)."""
    app = web.Application(client_max_size=MAX_BODY)
    AccessPolicy(host, token if token is not None else os.environ.get(TOKEN_ENV)).install(app)
    app.add_routes(routes(service))
    return app


async def start_api(service: RiskRuntime, host: str = "127.0.0.1", port: int = 8080) -> tuple[web.AppRunner, int]:
    """Start the routes on an aiohttp server in the running loop; return the runner and the bound port."""
    runner = web.AppRunner(make_app(service, host), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, int(runner.addresses[0][1])


@contextlib.contextmanager
def api_in_thread(service: RiskRuntime, host: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """Serve the API on a background thread for the length of a ``with`` block; yields the port.

    For tests and benchmarks that drive the API over real HTTP from the same process.
    """
    ready, done, bound = threading.Event(), threading.Event(), [0]

    def run() -> None:
        async def serve() -> None:
            runner, bound[0] = await start_api(service, host, port)
            ready.set()
            while not done.is_set():
                await asyncio.sleep(0.02)
            await runner.cleanup()

        asyncio.run(serve())

    thread = threading.Thread(target=run, daemon=True, name="risk-api")
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the API did not start within 30 s")
    try:
        yield bound[0]
    finally:
        done.set()
        thread.join(10)


def serve_api(service: RiskRuntime, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve the API alone until interrupted (prints ``listening on http://host:port``)."""

    async def run() -> None:
        runner, bound = await start_api(service, host, port)
        print(f"listening on http://{host}:{bound}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    service.start()
    try:
        asyncio.run(run())
    finally:
        service.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m twin.faces.api SCENE [--store FILE] [--port N] [--simulate]``: the API without the 3D app."""
    import twin
    from twin.risk.service import RiskService

    parser = argparse.ArgumentParser(prog="python -m twin.faces.api")
    parser.add_argument("scene")
    parser.add_argument("--store")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--simulate", action="store_true", help="feed the built-in incident simulator")
    args = parser.parse_args(argv)
    service = RiskService.from_twin(twin.load(args.scene), store_path=args.store)
    if args.simulate:
        from twin.risk.simulator import Simulator

        Simulator(service).start()
    serve_api(service, args.host, args.port)


if __name__ == "__main__":
    main()
