"""``twin replay FILE.csv|.parquet --speed N [--url URL]``: play recorded readings into a running server.

The file has columns ``sensor``, ``ts`` (ISO-8601 or epoch milliseconds) and ``value``.  Readings are
sent in time order through ``POST /api/readings``, the same path as live sensors, ``N`` times faster
than recorded.  Timestamps are re-based so the first reading is "now" (the server rejects readings
older than its time window); ``--speed 0`` sends everything at once, ending at "now".  A 429/503
answer is retried after its ``Retry-After``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from twin.errors import InputError


def register(subparsers) -> None:
    parser = subparsers.add_parser("replay", help="replay recorded readings into a running server")
    parser.add_argument("file", help="readings: .csv or .parquet with columns sensor, ts, value")
    parser.add_argument("--speed", type=float, default=1.0, help="times faster than recorded (0: all at once)")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the server (default %(default)s)")
    parser.add_argument(
        "--token",
        default=os.environ.get("TWIN_TOKEN"),
        help="access token of a server bound off loopback (default: $TWIN_TOKEN)",
    )
    parser.add_argument("--batch", type=float, default=0.5, help="seconds of wall time per POST (default 0.5)")
    parser.set_defaults(func=run)


def read_readings(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Sensor ids, epoch milliseconds and values, sorted by time."""
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        else:
            import pyarrow.csv as pcsv

            table = pcsv.read_csv(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(path, f"cannot read readings ({exc})") from None
    missing = [c for c in ("sensor", "ts", "value") if c not in table.column_names]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}", hint="columns: sensor, ts, value")
    ts = table["ts"]
    if pa.types.is_timestamp(ts.type):
        ms = pc.cast(pc.cast(ts, pa.timestamp("ms", tz=ts.type.tz)), pa.int64()).to_numpy()
    elif pa.types.is_integer(ts.type) or pa.types.is_floating(ts.type):
        ms = ts.to_numpy().astype(np.int64)
    else:
        ms = np.array([_iso_ms(path, t, i) for i, t in enumerate(ts.to_pylist())], dtype=np.int64)
    try:
        values = pc.cast(table["value"], pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        raise InputError(path, "column value holds something that is not a number") from None
    order = np.argsort(ms, kind="stable")
    sensors = table["sensor"].to_pylist()
    return [str(sensors[i]) for i in order], ms[order], values[order]


def _iso_ms(path: Path, text: object, i: int) -> int:
    """Epoch milliseconds of one cell: a number of milliseconds or an ISO-8601 time (UTC if naive)."""
    try:
        return int(float(str(text)))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        raise InputError(path, f"bad timestamp {text!r}", where=f"row {i + 1}") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def post(url: str, batch: list[dict], token: str | None = None) -> dict:
    """POST one batch, waiting out 429/503 answers as their Retry-After says."""
    data = json.dumps(batch).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    while True:
        request = urllib.request.Request(f"{url}/api/readings", data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as exc:
            if exc.code in (429, 503):
                time.sleep(float(exc.headers.get("Retry-After", "1")))
                continue
            raise InputError(None, f"{url} answered {exc.code}: {exc.read().decode(errors='replace')[:200]}") from None
        except urllib.error.URLError as exc:
            raise InputError(None, f"cannot reach {url} ({exc.reason})", hint="is `twin serve` running?") from None


def run(args: argparse.Namespace) -> int:
    sensors, ms, values = read_readings(Path(args.file))
    if not len(ms):
        print("no readings")
        return 0
    speed = max(args.speed, 0.0)
    start_wall = time.time()
    if speed:
        offset = (ms - ms[0]) / 1000.0 / speed  # wall seconds after the start
        sent_ts = (start_wall * 1000 + (ms - ms[0]) / speed).astype(np.int64)
    else:
        offset = np.zeros(len(ms))
        sent_ts = (start_wall * 1000 - (ms[-1] - ms)).astype(np.int64)
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
    reasons: dict[str, int] = {}
    i, last_post = 0, 0.0
    while i < len(ms):
        time.sleep(max(0.0, offset[i] - (time.time() - start_wall), last_post + args.batch - time.time()))
        j = min(int(np.searchsorted(offset, time.time() - start_wall, side="right")), i + 10_000)  # ~0.5 MB a POST
        j = max(j, i + 1)
        last_post = time.time()
        batch = [{"sensor": sensors[k], "ts": int(sent_ts[k]), "value": float(values[k])} for k in range(i, j)]
        result = post(args.url, batch, args.token)
        for key in totals:
            totals[key] += result.get(key, 0)
        for r in result.get("rejections", []):
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
        i = j
    print(
        f"replayed {len(ms)} readings: {totals['accepted']} accepted, {totals['duplicate']} duplicate, "
        f"{totals['rejected']} rejected"
        + (f" ({', '.join(f'{k}: {v}' for k, v in reasons.items())})" if reasons else "")
    )
    return 0
