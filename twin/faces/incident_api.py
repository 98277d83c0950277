"""The REST routes of incidents, their plans and emergency resources (mounted by :func:`twin.faces.api.routes`).

Routes::

    GET  /api/incidents                     open incidents (?all=1 adds resolved and merged ones)
    GET  /api/incidents/{id}                one incident: alerts, affected, timeline, plan, resources
    POST /api/incidents/{id}/steps/{step}   check a plan step off: {"by": "name", "note": "..."}
    POST /api/incidents/{id}/actions        note an action: {"by": "name", "text": "..."}
    GET  /api/resources                     the emergency resources layer
    GET  /api/risk/grid_layers              each grid system's cells with their level
    POST /api/reports                       a citizen's report: {category, text, x, y | address, photo?}
    GET  /api/reports                       every report as GeoJSON (status unverified/verified/rejected)
    POST /api/reports/{id}/decision         {"by", "verify": level} or {"by", "reject": reason}
    GET  /api/reports/{id}/photo            the photo (JPEG, PNG or WebP; checked on the way in)

A check-off needs a named operator and happens once (409 after: the record is never rewritten).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from twin.faces.api import MAX_NAME, Handler, RequestRefused, _guard, _json, read_body
from twin.risk.ingest import UTF8_BOM

MAX_TEXT = 2000  #: characters of a note or an action
MAX_STEP = 100  #: characters of a step id in a path


@runtime_checkable
class IncidentDesk(Protocol):
    """What the routes need of the live service (:class:`~twin.risk.service.RiskService` is one)."""

    def incidents(self, include_closed: bool = False) -> list[dict[str, Any]]: ...
    def incident(self, incident_id: int) -> dict[str, Any] | None: ...
    def check_off(self, incident_id: int, step: str, by: str, note: str = "") -> dict[str, Any]: ...
    def act(self, incident_id: int, by: str, text: str) -> dict[str, Any]: ...
    def resource_list(self) -> list[dict[str, Any]]: ...
    def grid_layer_levels(self) -> list[dict[str, Any]]: ...
    def submit_report(self, body: Any, client: str) -> dict[str, Any]: ...
    def decide_report(self, report_id: int, body: Any) -> dict[str, Any]: ...
    def report_layer(self) -> dict[str, Any]: ...
    def report_photo(self, report_id: int) -> tuple[bytes, str] | None: ...


def _int_id(request: web.Request, what: str = "incident") -> int:
    text = request.match_info["id"]
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise RequestRefused(400, f"{what} ids are integers")
    return int(text)


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body.removeprefix(UTF8_BOM) or b"{}")
    except (ValueError, RecursionError):
        raise RequestRefused(400, "body must be a JSON object") from None


def _fields(body: bytes, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, str]:
    """String fields of a small JSON object, stripped, with their length limits."""
    example = json.dumps({k: "..." for k in required})
    try:
        data = json.loads(body.removeprefix(UTF8_BOM) or b"{}")
    except (ValueError, RecursionError):
        raise RequestRefused(400, f"body must be JSON like {example}") from None
    if not isinstance(data, dict):
        raise RequestRefused(400, f"body must be a JSON object like {example}")
    out = {}
    for key in (*required, *optional):
        value = data.get(key, "")
        if not isinstance(value, str):
            raise RequestRefused(400, f"'{key}' must be a string")
        value = value.strip()
        limit = MAX_NAME if key == "by" else MAX_TEXT
        if len(value) > limit:
            raise RequestRefused(400, f"'{key}' is longer than {limit} characters")
        if key in required and not value:
            raise RequestRefused(400, f"'{key}' is required")
        out[key] = value
    return out


def incident_routes(service: IncidentDesk) -> list[web.RouteDef]:
    """The incident routes bound to one live service."""

    async def listing(request: web.Request) -> web.Response:
        return _json(await asyncio.to_thread(service.incidents, request.query.get("all") in ("1", "true")))

    async def one(request: web.Request) -> web.Response:
        found = await asyncio.to_thread(service.incident, _int_id(request))
        return _json(found) if found is not None else _json({"error": "no such incident"}, status=404)

    async def step(request: web.Request) -> web.Response:
        incident_id, step_id = _int_id(request), request.match_info["step"]
        if len(step_id) > MAX_STEP:
            raise RequestRefused(400, f"step ids are at most {MAX_STEP} characters")
        body = _fields(await read_body(request), ("by",), ("note",))
        return _json(await asyncio.to_thread(service.check_off, incident_id, step_id, body["by"], body["note"]))

    async def action(request: web.Request) -> web.Response:
        incident_id = _int_id(request)
        body = _fields(await read_body(request), ("by", "text"))
        return _json(await asyncio.to_thread(service.act, incident_id, body["by"], body["text"]))

    async def resources(request: web.Request) -> web.Response:
        return _json(await asyncio.to_thread(service.resource_list))

    async def grid_layers(request: web.Request) -> web.Response:
        return _json(service.grid_layer_levels())  # from the snapshot: never holds the loop

    async def report(request: web.Request) -> web.Response:
        body = _json_body(await read_body(request))
        client = request.remote or "unknown"  # the rate limit's key: never a path, never stored as one
        return _json(await asyncio.to_thread(service.submit_report, body, client), status=201)

    async def decide(request: web.Request) -> web.Response:
        report_id = _int_id(request, "report")
        body = _json_body(await read_body(request))
        return _json(await asyncio.to_thread(service.decide_report, report_id, body))

    async def report_layer(request: web.Request) -> web.Response:
        return _json(await asyncio.to_thread(service.report_layer))

    async def photo(request: web.Request) -> web.Response:
        found = await asyncio.to_thread(service.report_photo, _int_id(request, "report"))
        if found is None:
            return _json({"error": "no such report photo"}, status=404)
        data, kind = found
        return web.Response(body=data, content_type=kind, headers={"X-Content-Type-Options": "nosniff"})

    handlers: list[tuple[str, str, Handler]] = [
        ("POST", "/api/reports", report),
        ("GET", "/api/reports", report_layer),
        ("POST", "/api/reports/{id}/decision", decide),
        ("GET", "/api/reports/{id}/photo", photo),
        ("GET", "/api/incidents", listing),
        ("GET", "/api/incidents/{id}", one),
        ("POST", "/api/incidents/{id}/steps/{step}", step),
        ("POST", "/api/incidents/{id}/actions", action),
        ("GET", "/api/resources", resources),
        ("GET", "/api/risk/grid_layers", grid_layers),
    ]
    return [web.route(method, path, _guard(handler)) for method, path, handler in handlers]
