"""The OGC SensorThings API subset a city's IoT platform uses, on the twin's own sensors and readings.

Mapping: a **Thing** is a monitored asset (``@iot.id`` = asset id), a **Datastream** one of its
sensors (``@iot.id`` = sensor id, unit and quantity from the sensors file), an **Observation** one
stored reading (``@iot.id`` = ``<sensor>@<epoch ms>``, ``phenomenonTime`` its time, ``result`` its
value).  Under ``/api/sta/v1.1``::

    GET  /Things  /Things(id)  /Things(id)/Datastreams
    GET  /Datastreams  /Datastreams(id)  /Datastreams(id)/Thing  /Datastreams(id)/Observations
         $filter=phenomenonTime ge|gt|le|lt|eq <ISO-8601> [and ...]  $top (default 100, at most
         10,000)  $skip  $orderby=phenomenonTime [asc|desc] (default asc)
    POST /Observations  /Datastreams(id)/Observations   {"phenomenonTime", "result", "Datastream"}
    POST /CreateObservations                             the dataArray extension (bulk)
    POST /Things  /Datastreams                           register against the sensors file

Observations go through the same path as ``POST /api/readings``: the body cap and encodings of
:func:`~twin.faces.api.read_body`, the ingest thread and its bound, and the live service's checks
(:meth:`ingest`: unknown sensor, not a number, bad or implausible time, duplicates).  The twin's
sensors are declared by the scene's sensors file, so creating a Thing or Datastream succeeds for
one it declares (a platform syncing its registry) and is refused, with the reason, otherwise.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from twin.errors import InputError
from twin.faces.api import IngestGate, RequestRefused, _guard, _iso_seconds, _json, _Unavailable, read_body
from twin.risk.describe import iso
from twin.risk.ingest import UTF8_BOM
from twin.risk.interface import RiskRuntime

BASE = "/api/sta/v1.1"
TOP, MAX_TOP = 100, 10_000
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
#: one comparison of a $filter: ``phenomenonTime ge 2024-01-01T00:00:00Z`` (the time may be quoted)
CLAUSE = re.compile(r"^\s*(phenomenonTime|resultTime)\s+(eq|ge|gt|le|lt)\s+'?([^'\s]+)'?\s*$")
STEP_S = 0.001  # readings are kept to the millisecond: "gt t" is "ge t + 1 ms"


def _key(request: web.Request) -> str:
    """The id inside ``Things(...)``: quoted (``'bldg-006'``) as OData writes strings, or bare."""
    text = request.match_info["id"]
    return text[1:-1].replace("''", "'") if len(text) > 1 and text[0] == text[-1] == "'" else text


def _link(request: web.Request, path: str) -> str:
    return f"{request.scheme}://{request.host}{BASE}/{path}"


def _ref(entity: str, key: str) -> str:
    return f"{entity}('{quote(key.replace(chr(39), chr(39) * 2), safe='')}')"


def time_window(text: str | None) -> tuple[float | None, float | None]:
    """``since``/``until`` (epoch s, inclusive) of a ``$filter`` of time comparisons joined by ``and``."""
    since: float | None = None
    until: float | None = None
    if not text:
        return since, until
    for clause in re.split(r"\s+and\s+", text.strip()):
        match = CLAUSE.match(clause)
        if match is None:
            raise RequestRefused(
                400, f"$filter supports phenomenonTime ge|gt|le|lt|eq <ISO-8601> joined by 'and', not {clause[:80]!r}"
            )
        _, op, value = match.groups()
        t = _iso_seconds(value, "$filter")
        lo = t + STEP_S if op == "gt" else t if op in ("ge", "eq") else None
        hi = t - STEP_S if op == "lt" else t if op in ("le", "eq") else None
        since = lo if lo is not None and (since is None or lo > since) else since
        until = hi if hi is not None and (until is None or hi < until) else until
    return since, until


def _count(request: web.Request, name: str, default: int, most: int) -> int:
    text = request.query.get(name, str(default))
    if not (text.isascii() and text.isdigit()):
        raise RequestRefused(400, f"{name} must be a non-negative integer, not {text[:20]!r}")
    return min(int(text), most)


def _ascending(request: web.Request) -> bool:
    order = request.query.get("$orderby", "phenomenonTime asc").split()
    if not order or order[0] not in ("phenomenonTime", "resultTime") or order[1:] not in ([], ["asc"], ["desc"]):
        raise RequestRefused(400, "$orderby supports phenomenonTime [asc|desc]")
    return order[1:] != ["desc"]


class SensorThings:
    """The routes' view of one live service: Things, Datastreams and Observations as JSON."""

    def __init__(self, service: RiskRuntime, gate: IngestGate) -> None:
        self.service, self.gate = service, gate

    @cached_property
    def of_thing(self) -> dict[str, list[int]]:
        """Sensor rows by asset, read on the first request (mounting the routes reads nothing)."""
        rows: dict[str, list[int]] = {}
        for row, asset in enumerate(self.service.sensors.asset.tolist()):
            rows.setdefault(str(asset), []).append(row)
        return rows

    @cached_property
    def things(self) -> list[str]:
        return sorted(self.of_thing)

    # -- entities -----------------------------------------------------------------------------
    def thing(self, request: web.Request, key: str) -> dict[str, Any]:
        described = self.service.asset(key) or {}
        self_link = _link(request, _ref("Things", key))
        return {
            "@iot.id": key,
            "@iot.selfLink": self_link,
            "name": described.get("name") or key,
            "description": f"{described.get('kind') or 'asset'} {key} of the twin",
            "properties": {
                "kind": described.get("kind"),
                "network": described.get("network"),
                "level": (described.get("risk") or {}).get("level"),
            },
            "Datastreams@iot.navigationLink": f"{self_link}/Datastreams",
        }

    def datastream(self, request: web.Request, row: int) -> dict[str, Any]:
        sensors = self.service.sensors
        key, unit = str(sensors.ids[row]), str(sensors.unit[row])
        self_link = _link(request, _ref("Datastreams", key))
        return {
            "@iot.id": key,
            "@iot.selfLink": self_link,
            "name": key,
            "description": f"{sensors.quantity[row]} at {sensors.asset[row]}",
            "observationType": MEASUREMENT,
            "unitOfMeasurement": {"name": unit, "symbol": unit, "definition": ""},
            "properties": {"quantity": str(sensors.quantity[row]), "period_s": float(sensors.period_s[row])},
            "Thing@iot.navigationLink": f"{self_link}/Thing",
            "Observations@iot.navigationLink": f"{self_link}/Observations",
        }

    @staticmethod
    def observation(request: web.Request, reading: dict[str, Any]) -> dict[str, Any]:
        key = f"{reading['sensor']}@{round(reading['ts'] * 1000)}"
        return {
            "@iot.id": key,
            "@iot.selfLink": _link(request, _ref("Observations", key)),
            "phenomenonTime": iso(reading["ts"]),
            "resultTime": None,
            "result": reading["value"],
            "Datastream@iot.navigationLink": _link(request, _ref("Datastreams", str(reading["sensor"]))),
        }

    def row_of(self, key: str) -> int:
        row = self.service.sensors.index.get(key)
        if row is None:
            raise web.HTTPNotFound(
                text=json.dumps({"error": f"no Datastream {key!r}"}), content_type="application/json"
            )
        return row

    def rows_of_thing(self, key: str) -> list[int]:
        rows = self.of_thing.get(key)
        if rows is None:
            raise web.HTTPNotFound(text=json.dumps({"error": f"no Thing {key!r}"}), content_type="application/json")
        return rows

    # -- pages ----------------------------------------------------------------------------------
    @staticmethod
    def page(request: web.Request, items: list[Any], total: int | None = None) -> web.Response:
        """An OData collection of ``items`` after ``$skip``, at most ``$top``, with its next link."""
        top, skip = _count(request, "$top", TOP, MAX_TOP), _count(request, "$skip", 0, 10**9)
        shown = items[skip : skip + top]
        body: dict[str, Any] = {"value": shown}
        if total is not None:
            body["@iot.count"] = total
        if skip + top < len(items):
            query = {**request.query, "$skip": str(skip + top), "$top": str(top)}
            body["@iot.nextLink"] = f"{request.scheme}://{request.host}{request.path}?{urlencode(query)}"
        return _json(body)

    async def observations(self, request: web.Request, row: int) -> web.Response:
        since, until = time_window(request.query.get("$filter"))
        top, skip = _count(request, "$top", TOP, MAX_TOP), _count(request, "$skip", 0, 10**9)
        ascending = _ascending(request)
        readings = await asyncio.to_thread(
            self.service.history.store.readings,
            [str(self.service.sensors.ids[row])],
            since,
            until,
            skip + top + 1,  # one more: whether a next page exists
            ascending,
        )
        if not ascending:
            readings.reverse()
        return self.page(request, [self.observation(request, r) for r in readings[: skip + top + 1]])

    # -- creating -------------------------------------------------------------------------------
    async def ingest(self, request: web.Request, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Readings through the HTTP path's ingest thread and bound, and the service's checks."""
        size = request.content_length or 0
        if not self.gate.admit(size):
            raise _Unavailable("ingest overloaded: retry later")
        try:
            return await asyncio.get_running_loop().run_in_executor(self.gate.executor, self._ingest, items)
        finally:
            self.gate.release(size)

    def _ingest(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        try:
            return self.service.ingest(items)
        except Exception as exc:  # the store failed: nothing was acknowledged
            raise _Unavailable(f"readings not stored: {exc}") from exc


async def _body(request: web.Request, gate: IngestGate) -> Any:
    raw = await read_body(request, gate.executor)
    try:
        return json.loads(raw.removeprefix(UTF8_BOM) or b"null")
    except (ValueError, RecursionError):
        raise RequestRefused(400, "the body must be a SensorThings JSON entity") from None


def _reading(entity: Any, datastream: str | None) -> dict[str, Any]:
    """An Observation entity as a twin reading ``{sensor, ts, value}`` (checked by the service)."""
    if not isinstance(entity, dict):
        raise RequestRefused(400, "an Observation must be a JSON object")
    ref = entity.get("Datastream")
    sensor = datastream or (ref.get("@iot.id") if isinstance(ref, dict) else None)
    if not isinstance(sensor, str):
        raise RequestRefused(400, 'an Observation needs "Datastream": {"@iot.id": "<sensor id>"}')
    ts = entity.get("phenomenonTime") or entity.get("resultTime")
    if isinstance(ts, str) and "/" in ts:  # an interval: its start
        ts = ts.split("/")[0]
    return {"sensor": sensor, "ts": ts if ts is not None else _now_iso(), "value": entity.get("result")}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _created(request: web.Request, location: str, entity: dict[str, Any]) -> web.Response:
    response = _json(entity, status=201)
    response.headers["Location"] = location
    return response


def routes(service: RiskRuntime, gate: IngestGate) -> list[web.RouteDef]:
    """The SensorThings routes on one live service, sharing the REST API's ingest ``gate``."""
    sta = SensorThings(service, gate)

    async def root(request: web.Request) -> web.Response:
        names = ("Things", "Datastreams", "Observations")
        return _json(
            {
                "value": [{"name": n, "url": _link(request, n)} for n in names],
                "serverSettings": {"conformance": ["http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel"]},
            }
        )

    async def things(request: web.Request) -> web.Response:
        return sta.page(request, [sta.thing(request, k) for k in sta.things], total=len(sta.things))

    async def thing(request: web.Request) -> web.Response:
        key = _key(request)
        sta.rows_of_thing(key)
        return _json(sta.thing(request, key))

    async def thing_datastreams(request: web.Request) -> web.Response:
        rows = sta.rows_of_thing(_key(request))
        return sta.page(request, [sta.datastream(request, r) for r in rows], total=len(rows))

    async def datastreams(request: web.Request) -> web.Response:
        rows = range(len(service.sensors))
        return sta.page(request, [sta.datastream(request, r) for r in rows], total=len(rows))

    async def datastream(request: web.Request) -> web.Response:
        return _json(sta.datastream(request, sta.row_of(_key(request))))

    async def datastream_thing(request: web.Request) -> web.Response:
        return _json(sta.thing(request, str(service.sensors.asset[sta.row_of(_key(request))])))

    async def datastream_observations(request: web.Request) -> web.Response:
        return await sta.observations(request, sta.row_of(_key(request)))

    async def create_observation(request: web.Request) -> web.Response:
        datastream_id = _key(request) if "id" in request.match_info else None
        reading = _reading(await _body(request, gate), datastream_id)
        result = await sta.ingest(request, [reading])
        if result["rejected"]:
            raise RequestRefused(400, f"Observation refused: {result['rejections'][0]['reason']}")
        ts = _ms(reading["ts"]) / 1000.0  # accepted, so its time is readable
        entity = sta.observation(request, {"sensor": reading["sensor"], "ts": ts, "value": reading["value"]})
        entity["@iot.duplicate"] = bool(result["duplicate"])
        return _created(request, entity["@iot.selfLink"], entity)

    async def create_observations(request: web.Request) -> web.Response:
        body = await _body(request, gate)
        readings, owners = _data_arrays(body)
        result = await sta.ingest(request, readings)
        rejected = {r["index"]: r["reason"] for r in result["rejections"]}
        links = [
            f"error: {rejected[i]}" if i in rejected else _link(request, _ref("Observations", f"{s}@{t}"))
            for i, (s, t) in enumerate(owners)
        ]
        return _json(links, status=201)

    async def create_thing(request: web.Request) -> web.Response:
        body = await _body(request, gate)
        key = body.get("@iot.id") or body.get("name") if isinstance(body, dict) else None
        if not isinstance(key, str) or key not in sta.of_thing:
            raise RequestRefused(
                400, f"no monitored asset {key!r} in the twin: its sensors come from the scene's sensors file"
            )
        for ds in body.get("Datastreams") or []:
            _known_datastream(sta, ds, key)
        return _created(request, _link(request, _ref("Things", key)), sta.thing(request, key))

    async def create_datastream(request: web.Request) -> web.Response:
        body = await _body(request, gate)
        thing_ref = body.get("Thing") if isinstance(body, dict) else None
        owner = thing_ref.get("@iot.id") if isinstance(thing_ref, dict) else None
        row = _known_datastream(sta, body, owner)
        key = str(service.sensors.ids[row])
        return _created(request, _link(request, _ref("Datastreams", key)), sta.datastream(request, row))

    get = [
        ("", root),
        ("/Things", things),
        ("/Things({id})", thing),
        ("/Things({id})/Datastreams", thing_datastreams),
        ("/Datastreams", datastreams),
        ("/Datastreams({id})", datastream),
        ("/Datastreams({id})/Thing", datastream_thing),
        ("/Datastreams({id})/Observations", datastream_observations),
    ]
    post = [
        ("/Observations", create_observation),
        ("/Datastreams({id})/Observations", create_observation),
        ("/CreateObservations", create_observations),
        ("/Things", create_thing),
        ("/Datastreams", create_datastream),
    ]
    return [web.get(BASE + p, _guard(h)) for p, h in get] + [web.post(BASE + p, _guard(h)) for p, h in post]


def _known_datastream(sta: SensorThings, entity: Any, thing: str | None) -> int:
    """The sensor row a Datastream entity names (by ``@iot.id`` or ``name``), on ``thing`` if given."""
    key = entity.get("@iot.id") or entity.get("name") if isinstance(entity, dict) else None
    row = sta.service.sensors.index.get(key) if isinstance(key, str) else None
    if row is None:
        raise RequestRefused(400, f"no sensor {key!r} in the twin: add it to the scene's sensors file")
    if thing is not None and str(sta.service.sensors.asset[row]) != thing:
        raise RequestRefused(400, f"sensor {key!r} watches {sta.service.sensors.asset[row]!s}, not {thing!r}")
    return row


def _data_arrays(body: Any) -> tuple[list[dict[str, Any]], list[tuple[str, Any]]]:
    """The readings of a CreateObservations body: per Datastream, ``components`` naming
    ``phenomenonTime`` and ``result`` and a ``dataArray`` of rows."""
    if not isinstance(body, list):
        raise RequestRefused(400, "CreateObservations takes a JSON array of {Datastream, components, dataArray}")
    readings: list[dict[str, Any]] = []
    owners: list[tuple[str, Any]] = []
    for block in body:
        if not isinstance(block, dict):
            raise InputError(None, "each CreateObservations entry must be an object")
        ref = block.get("Datastream")
        sensor = ref.get("@iot.id") if isinstance(ref, dict) else None
        components = block.get("components")
        if not isinstance(sensor, str) or not isinstance(components, list) or "result" not in components:
            raise RequestRefused(400, 'each entry needs "Datastream": {"@iot.id"} and "components" with "result"')
        at = components.index("phenomenonTime") if "phenomenonTime" in components else None
        value_at = components.index("result")
        for row in block.get("dataArray") or []:
            ok = isinstance(row, list) and len(row) == len(components)
            ts = row[at] if ok and at is not None else _now_iso()
            readings.append({"sensor": sensor, "ts": ts, "value": row[value_at] if ok else None})
            owners.append((sensor, _ms(ts)))
    return readings, owners


def _ms(ts: Any) -> Any:
    """Epoch milliseconds of a reading's time (ISO-8601, or a number: epoch ms as the readings API
    takes), for an Observation's id; the value itself if it is no time."""
    try:
        return round(_iso_seconds(ts, "phenomenonTime") * 1000) if isinstance(ts, str) else ts
    except RequestRefused:
        return ts
