"""Parsing and checking a batch of readings: JSON array or NDJSON of ``{sensor, ts, value}``.

Checks are done per column with numpy masks; what cannot be (pulling fields out of JSON objects,
parsing an ISO-8601 string) is a single comprehension per column.  Every rejected reading gets
its index in the batch and a reason; the rest of the batch goes on.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json

from twin.errors import InputError
from twin.risk.highwater import in_order
from twin.risk.sensors import SensorTable

REASONS = (
    "",
    "wrong type: a reading must be an object",
    "missing sensor",
    "unknown sensor",
    "missing value",
    "wrong type: value must be a number",
    "not a number",
    "NaN/inf",
    "missing ts",
    "bad timestamp",
    "timestamp too far in the future",
    "timestamp too old",
    "not valid JSON",
)
WRONG_OBJECT, NO_SENSOR, UNKNOWN, NO_VALUE, VALUE_TYPE, NOT_NUMBER, NOT_FINITE, NO_TS, BAD_TS, FUTURE, OLD, BAD_JSON = (
    range(1, 13)
)
MAX_REPORTED = 1000


@dataclass
class Batch:
    """The accepted readings (sensor row, epoch seconds, value; in sensor, then time order) and why
    the others were rejected (by their index in the batch as sent)."""

    sensor: np.ndarray
    ts: np.ndarray
    value: np.ndarray
    total: int
    rejections: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    duplicate_in_batch: int = 0


UTF8_BOM = b"\xef\xbb\xbf"
NDJSON_SCHEMA = pa.schema([("sensor", pa.string()), ("ts", pa.int64()), ("value", pa.float64())])


def parse_body(body: bytes) -> list[Any] | pa.Table:
    """A JSON array (or ``{"readings": [...]}``) or NDJSON; an unreadable NDJSON line stays as an error marker.

    Clean NDJSON with epoch-millisecond times (the fast format for high rates) is read by Arrow's
    JSON reader straight into columns; anything else takes the general path.  A UTF-8 byte order
    mark is dropped; integers are read as floats, so a 400-digit number is one reading rejected
    as not finite rather than a batch that cannot be stored; a body nested too deeply for the
    parser is a client error (:class:`InputError`).
    """
    body = body.removeprefix(UTF8_BOM)
    table = _ndjson_columns(body)
    if table is not None:
        return table
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return []
    if text[0] == "[" or (text[0] == "{" and "\n" not in text):
        try:
            data = _loads(text)
        except json.JSONDecodeError as exc:
            if exc.msg != "Extra data" or "\n" not in text:  # else: NDJSON whose first line is an array
                raise InputError(None, f"body is not valid JSON ({exc.msg} at line {exc.lineno})") from None
        except RecursionError:
            raise InputError(None, "body is not valid JSON (nested too deeply: readings are flat objects)") from None
        else:
            return _readings_of(data)
    items: list[Any] = []
    for line in text.splitlines():
        if line.strip():
            try:
                items.append(_loads(line))
            except (json.JSONDecodeError, RecursionError):
                items.append(_BadLine)
    return items


def _readings_of(data: Any) -> list[Any]:
    """The readings of one JSON document: an array, ``{"readings": [...]}`` or one reading."""
    if isinstance(data, dict):
        data = data.get("readings", [data]) if "sensor" not in data else [data]
    if not isinstance(data, list):
        raise InputError(None, "body must be a JSON array of readings or NDJSON")
    return data


def _loads(text: str) -> Any:
    """JSON with every number a float: no integer is too large to convert, none too long to parse."""
    return json.loads(text, parse_int=float)


def _ndjson_columns(body: bytes) -> pa.Table | None:
    head = body[:64].lstrip()
    if not head.startswith(b"{") or b"\n" not in body.strip():
        return None
    try:
        table = pa_json.read_json(
            io.BytesIO(body),
            parse_options=pa_json.ParseOptions(explicit_schema=NDJSON_SCHEMA, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if any(table[c].null_count for c in NDJSON_SCHEMA.names):
        return None
    return table


class _BadLine:
    """Marker for an NDJSON line that is not JSON."""


def check(items: list[Any], sensors: SensorTable, now: float, max_age_s: float, max_future_s: float) -> Batch:
    """Validate readings against the sensor table and the plausible time window around ``now``."""
    n = len(items)
    code = np.zeros(n, dtype=np.int8)
    if _only(items, dict):
        names = [it.get("sensor") for it in items]
        raw_ts = [it.get("ts") for it in items]
        raw_values = [it.get("value", _Missing) for it in items]
    else:
        is_obj = np.fromiter((type(it) is dict for it in items), bool, n)
        code[~is_obj] = WRONG_OBJECT
        code[np.fromiter((it is _BadLine for it in items), bool, n)] = BAD_JSON
        names = [it.get("sensor") if type(it) is dict else None for it in items]
        raw_ts = [it.get("ts") if type(it) is dict else 0 for it in items]
        raw_values = [it.get("value", _Missing) if type(it) is dict else None for it in items]
    sensor = sensors.lookup(names)
    if not _only(names, str):
        _mark(code, np.fromiter((x is None for x in names), bool, n), NO_SENSOR)
    value = _values(raw_values, code)
    ts = _times(raw_ts, code)
    return _finish(code, sensor, ts, value, names, now, max_age_s, max_future_s)


class SensorNames:
    """Sensor rows of Arrow columns of sensor names, remembered per chunk of names.

    Looking names up hashes every sensor id into a set first: at 85,000 sensors that costs more
    than the rest of checking a batch.  A gateway sends the same sensors in the same order every
    time, and its message is one chunk of the column (batches are concatenated, not copied), so
    a chunk's exact bytes are the key to its rows: a chunk seen before costs one dict lookup.
    Only chunks of up to ``max_names`` names are kept, at most ``max_chunks`` (then forgotten
    all at once): the memory stays bounded whatever clients send.
    """

    def __init__(self, sensors: SensorTable, max_chunks: int = 1024, max_names: int = 4096) -> None:
        self.sensors, self.max_chunks, self.max_names = sensors, max_chunks, max_names
        self._rows: dict[bytes, np.ndarray] = {}

    def rows(self, names: pa.ChunkedArray) -> np.ndarray:
        """The sensor row of each name, -1 for unknown names (the chunks not seen before in one lookup)."""
        chunks = names.chunks
        keys = [self._key(chunk) for chunk in chunks]
        found = [None if key is None else self._rows.get(key) for key in keys]
        missing = [i for i, rows in enumerate(found) if rows is None]
        if missing:
            looked_up = self.sensors.lookup_arrow(pa.chunked_array([chunks[i] for i in missing], names.type))
            bounds = np.cumsum([len(chunks[i]) for i in missing])[:-1]
            for i, rows in zip(missing, np.split(looked_up, bounds), strict=True):
                found[i] = rows
                key = keys[i]
                if key is not None:
                    if len(self._rows) >= self.max_chunks:
                        self._rows.clear()
                    self._rows[key] = rows
        done = [rows for rows in found if rows is not None]  # every one by now
        return np.concatenate(done) if done else np.zeros(0, np.int64)

    def _key(self, chunk: pa.Array) -> bytes | None:
        """The chunk's name lengths and bytes (None: not a plain string array worth keeping)."""
        if chunk.type != pa.string() or chunk.null_count or not 0 < len(chunk) <= self.max_names:
            return None
        offsets_buffer, data = chunk.buffers()[1:3]
        if offsets_buffer is None or data is None:
            return None
        offsets = np.frombuffer(offsets_buffer, np.int32, len(chunk) + 1, chunk.offset * 4)
        return np.diff(offsets).tobytes() + memoryview(data)[offsets[0] : offsets[-1]].tobytes()


def check_table(table: pa.Table, names: SensorNames, now: float, max_age_s: float, max_future_s: float) -> Batch:
    """The columnar twin of :func:`check` for NDJSON read by Arrow (no nulls, numeric ts and value)."""
    code = np.zeros(table.num_rows, dtype=np.int8)
    value = table["value"].to_numpy()
    _mark(code, ~np.isfinite(value), NOT_FINITE)
    ts = table["ts"].to_numpy() / 1000.0
    return _finish(code, names.rows(table["sensor"]), ts, value, table["sensor"], now, max_age_s, max_future_s)


def _finish(
    code: np.ndarray,
    sensor: np.ndarray,
    ts: np.ndarray,
    value: np.ndarray,
    names: Any,
    now: float,
    max_age_s: float,
    max_future_s: float,
) -> Batch:
    """Checks common to both paths, then the accepted readings and the reasons for the rest."""
    n = len(code)
    _mark(code, sensor < 0, UNKNOWN)
    _mark(code, ts > now + max_future_s, FUTURE)
    _mark(code, ts < now - max_age_s, OLD)
    ok = code == 0
    batch = Batch(sensor=sensor[ok], ts=ts[ok], value=value[ok], total=n, rejected=int(n - ok.sum()))
    for i in np.flatnonzero(~ok)[:MAX_REPORTED].tolist():
        name = names[i]
        name = name.as_py() if isinstance(name, pa.Scalar) else name
        batch.rejections.append(
            {"index": i, "sensor": name if isinstance(name, str) else None, "reason": REASONS[code[i]]}
        )
    _sort(batch)
    return batch


def _only(values: list[Any], *types: type) -> bool:
    """Whether every value is exactly of one of ``types`` (one C-level pass; bool is not int)."""
    return set(map(type, values)) <= set(types)


def _mark(code: np.ndarray, mask: np.ndarray, reason: int) -> None:
    """Give ``reason`` to readings that have no reason yet (the first problem found is reported)."""
    code[(code == 0) & mask] = reason


def _values(raw: list[Any], code: np.ndarray) -> np.ndarray:
    if _only(raw, int, float):
        value = np.array(raw, dtype=np.float64)
        kind = np.zeros(len(raw), np.int8)
    else:
        kind = np.fromiter((_value_kind(v) for v in raw), np.int8, len(raw))
        _mark(code, kind == 1, NO_VALUE)
        _mark(code, kind == 2, VALUE_TYPE)
        _mark(code, kind == 3, NOT_NUMBER)
        value = np.fromiter((v if k == 0 else math.nan for v, k in zip(raw, kind.tolist())), np.float64, len(raw))
    _mark(code, (kind == 0) & ~np.isfinite(value), NOT_FINITE)
    return value


class _Missing:
    """Marker for a reading without a value field."""


def _value_kind(v: Any) -> int:
    t = type(v)
    if t is float or t is int:
        return 0
    if v is _Missing:
        return 1
    return 3 if t is str else 2


def _times(raw: list[Any], code: np.ndarray) -> np.ndarray:
    """Epoch seconds; numbers are epoch milliseconds, strings ISO-8601 (UTC when no offset)."""
    if _only(raw, int, float):
        out = np.array(raw, dtype=np.float64) / 1000.0
        _mark(code, ~np.isfinite(out), BAD_TS)
        return out
    out = np.empty(len(raw))
    missing = np.zeros(len(raw), bool)
    for i, v in enumerate(raw):
        t = type(v)
        if t is int or t is float:
            out[i] = v / 1000.0
        elif t is str:
            out[i] = _iso(v)
        else:
            out[i] = math.nan
            missing[i] = v is None
    _mark(code, missing, NO_TS)
    _mark(code, ~np.isfinite(out), BAD_TS)
    return out


def _iso(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    except (ValueError, OverflowError):  # OverflowError: year 1 with an offset east of UTC
        return math.nan


def _sort(batch: Batch) -> None:
    """Put the readings in (sensor, ts) order, keeping the first of readings repeating one (sensor,
    ts) inside the batch; the rest count as duplicates.  Sorted once here, the batch is cheap to
    sort again for every later step (see :func:`~twin.risk.highwater.in_order`)."""
    order, repeat = in_order(batch.sensor, np.round(batch.ts * 1000.0).astype(np.int64))
    keep = order[~repeat]
    batch.duplicate_in_batch = int(repeat.sum())
    batch.sensor, batch.ts, batch.value = batch.sensor[keep], batch.ts[keep], batch.value[keep]
