"""Rule evaluation spread over several evaluator processes, partitioned by management grid cell.

Why cell-keyed topics and not a plain shared subscription: a ``$share/<group>/twin/#`` group hands
each message to *one* member chosen by the broker, whatever sensor it carries, so a sensor's
readings would land on different evaluators from one message to the next and no evaluator would
hold a sensor's history (durations, rates, hysteresis) nor its neighbours'.  The partition must be
in the topic.  So readings travel on ::

    twin-cell/<bucket>/batch            NDJSON {"sensor", "ts", "value"} as on twin/batch
    twin-cell/<bucket>/<network>/<sensor>   one sensor's readings as on twin/<network>/<sensor>

where ``<bucket>`` (0..255) is a fixed hash of the sensor's management grid cell id
(:func:`bucket_of`; an asset outside every cell is keyed by its own id).  Buckets, not evaluators,
are in the topic, so the topics never change when evaluators come and go: evaluator ``K`` of
``N`` subscribes ``twin-cell/<b>/#`` for the buckets it owns by rendezvous hashing
(:func:`owner`), and going from ``N`` to ``N + 1`` evaluators moves only the buckets the new one
wins, about ``1/(N + 1)`` of the cells.

Devices keep publishing ``twin/<network>/<sensor>`` (they do not know the city's grid, which is
redrawn by the city, not by the devices): a :class:`Router` takes those (its members share the
plain feed through ``$share/router/twin/#``, right here since routing needs no per-sensor state)
and republishes each reading into the bucket of its own cell and into the buckets of every cell
it can raise through propagation or a multivariable rule: the **halo** (:class:`CellMap`).  A
router acknowledges a message only after the broker acknowledged its republished copies (QoS 1
both ways), and an evaluator acknowledges only after its commit, so the chain of custody of the
single-server path holds.  A gateway that knows its cell may publish on ``twin-cell/...`` itself.

Each evaluator runs a whole :class:`~twin.risk.service.RiskService` on its own store, fed only
the readings of its cells and their halo (the halo's are stored there too: a few sensors along
the cell borders).  Its levels and alerts count only for the assets of its own cells; the halo is
context.  :func:`merge_levels` and :func:`merge_alerts` put the partitions' results together: for
every asset, the result of the evaluator that owns the asset's cell.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as paho
import pyarrow as pa
from paho.mqtt.enums import CallbackAPIVersion

from twin.errors import InputError
from twin.risk.levels import LEVEL_DTYPE
from twin.risk.mqtt import BrokerUrl, MqttIngest
from twin.risk.service import RiskService
from twin.risk.state import RiskState
from twin.risk.store import Store

#: fixed for the life of a deployment: it is in the topics (a power of two, well above any N)
BUCKETS = 256
CELL_ROOT = "twin-cell"
PUBLISH_TIMEOUT_S = 30.0


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def bucket_of(key: str) -> int:
    """The bucket of a cell id (or ``asset:<id>`` for an asset outside every cell)."""
    return _hash(key) % BUCKETS


def owner(bucket: int, count: int) -> int:
    """The evaluator (0..count-1) owning ``bucket``: highest random weight (rendezvous) hashing, so
    adding an evaluator moves only the buckets it wins."""
    return max(range(count), key=lambda k: _hash(f"{bucket}/{k}"))


@dataclass(frozen=True)
class Partition:
    """Evaluator ``index`` of ``count`` (``K/N`` on the command line)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Partition:
        try:
            k, n = (int(p) for p in text.split("/"))
        except ValueError:
            raise InputError(None, f"--partition must be K/N (e.g. 0/2), not {text!r}") from None
        if not 0 <= k < n:
            raise InputError(None, f"--partition {text}: K must be 0..N-1")
        return cls(k, n)

    @property
    def buckets(self) -> list[int]:
        return [b for b in range(BUCKETS) if owner(b, self.count) == self.index]

    @property
    def filters(self) -> list[str]:
        """The topic filters this evaluator subscribes."""
        return [f"{CELL_ROOT}/{b}/#" for b in self.buckets]


class CellMap:
    """Where every asset belongs (its bucket) and which buckets each sensor's readings must reach.

    A sensor's reading raises its own asset, the assets of every multivariable rule pairing the
    sensor, and the assets propagation reaches from any of these (buildings within ``within_m`` of a
    risky segment, the segment's isolation section); propagation never chains, so that is all.  The
    buckets of those assets are the sensor's: its own and its halo.
    """

    def __init__(self, state: RiskState) -> None:
        assets, sensors = state.assets, state.sensors
        ids = assets["id"].tolist()
        features, grid = state.grids.features, state.grids.asset_grid
        keys = [features[g].id if g >= 0 else f"asset:{a}" for a, g in zip(ids, grid.tolist())]
        memo: dict[str, int] = {}
        self.asset_bucket = np.array([memo.setdefault(k, bucket_of(k)) for k in keys], dtype=np.int64)
        reached: list[set[int]] = [set() if a < 0 else {int(a)} for a in sensors.asset_index.tolist()]
        for rule in state.combines:
            for term in rule.terms:
                for slot, s in zip(term.slot.tolist(), term.sensor.tolist()):
                    reached[s].add(int(rule.assets[slot]))
        prop = state.propagator
        self.sensor_buckets: list[np.ndarray] = []
        for s, direct in enumerate(reached):
            rows = set(direct)
            for a in direct:
                if prop.is_source[a]:
                    rows.update(prop.near(a).tolist())
                    rows.update(prop.section(a).tolist())
            home = [bucket_of(f"sensor:{sensors.ids[s]}")] if not rows else []
            self.sensor_buckets.append(np.unique(np.r_[self.asset_bucket[sorted(rows)], home]).astype(np.int64))
        self.sensor_index = sensors.index

    def owned(self, partition: Partition) -> np.ndarray:
        """Which assets the partition answers for (bool per asset row)."""
        return np.array([owner(b, partition.count) == partition.index for b in range(BUCKETS)])[self.asset_bucket]

    def buckets_of(self, sensor: str) -> np.ndarray | None:
        """The buckets a sensor's readings go to (None: not a sensor of the scene)."""
        i = self.sensor_index.get(sensor)
        return None if i is None else self.sensor_buckets[i]


class Router:
    """An :class:`~twin.risk.mqtt.Ingestor` that republishes readings into their cell buckets.

    Fed by an :class:`MqttIngest` on the devices' topics (``$share/router/twin/#`` to run several),
    it returns from :meth:`ingest` (and so lets that message be acknowledged) only once the broker
    has acknowledged every republished copy.
    """

    def __init__(self, cells: CellMap, url: str | BrokerUrl) -> None:
        self.cells = cells
        self.url = url if isinstance(url, BrokerUrl) else BrokerUrl.parse(url)
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        if self.url.username:
            self.client.username_pw_set(self.url.username, self.url.password)
        if self.url.tls:
            self.client.tls_set()
        self.client.connect(self.url.host, self.url.port)
        self.client.loop_start()
        self.copies = 0  # readings published (a reading goes to each of its buckets)

    def ingest(self, items: list[Any] | pa.Table) -> dict[str, Any]:
        rows = items.to_pylist() if isinstance(items, pa.Table) else items
        out: dict[int, list[str]] = {}
        rejections = []
        for i, r in enumerate(rows):
            buckets = self.cells.buckets_of(str(r.get("sensor"))) if isinstance(r, dict) else None
            if buckets is None:
                rejections.append({"index": i, "reason": "unknown sensor" if isinstance(r, dict) else "wrong type"})
                continue
            line = json.dumps({"sensor": r["sensor"], "ts": r.get("ts"), "value": r.get("value")})
            for b in buckets.tolist():
                out.setdefault(b, []).append(line)
        sent = [self.client.publish(f"{CELL_ROOT}/{b}/batch", "\n".join(lines), qos=1) for b, lines in out.items()]
        for info in sent:
            info.wait_for_publish(PUBLISH_TIMEOUT_S)
            if not info.is_published():
                raise OSError(f"the broker did not acknowledge a copy to {CELL_ROOT}/... in time")
        self.copies += sum(len(lines) for lines in out.values())
        accepted = len(rows) - len(rejections)
        return {"accepted": accepted, "duplicate": 0, "rejected": len(rejections), "rejections": rejections}

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def evaluator(service: RiskService, partition: Partition, url: str) -> MqttIngest:
    """The subscriber feeding one partition's service from its cell buckets (not started)."""
    parsed = BrokerUrl.parse(url)
    if "client_id=" not in url:  # stable across restarts: the broker keeps the session and redelivers
        parsed = BrokerUrl(**{**asdict(parsed), "client_id": f"cim-twin-eval-{partition.index}-of-{partition.count}"})
    return MqttIngest(service, parsed, filters=partition.filters, parse_root=f"{CELL_ROOT}/+")


def partition_result(store: Path, asset_ids: list[str]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """A stopped evaluator's levels (per asset row, from its recorded level history) and open alerts."""
    st = Store(store).open()
    try:
        keys, levels = st.levels_at(float("inf"))
        row_of = {int(k): i for i, k in enumerate(st.asset_keys(asset_ids).tolist())}
        alerts = [asdict(a) for a in st.open_alerts()]
    finally:
        st.close()
    out = np.zeros(len(asset_ids), LEVEL_DTYPE)
    rows = np.array([row_of.get(int(k), -1) for k in keys.tolist()], dtype=np.int64)
    out[rows[rows >= 0]] = levels[rows >= 0]
    return out, alerts


def merge_levels(levels: list[np.ndarray], cells: CellMap) -> np.ndarray:
    """Per asset, the level its owning evaluator gave (``levels[k]`` from evaluator ``k`` of ``len(levels)``)."""
    owners = np.array([owner(b, len(levels)) for b in range(BUCKETS)])[cells.asset_bucket]
    return np.choose(owners, levels).astype(LEVEL_DTYPE) if len(owners) else np.zeros(0, LEVEL_DTYPE)


def merge_alerts(alerts: list[list[dict[str, Any]]], cells: CellMap, asset_ids: list[str]) -> list[dict[str, Any]]:
    """The open alerts on the assets each evaluator owns (alert ids are each store's own)."""
    row = {a: i for i, a in enumerate(asset_ids)}
    bucket_owner = [owner(b, len(alerts)) for b in range(BUCKETS)]
    out = []
    for k, mine in enumerate(alerts):
        for a in mine:
            i = row.get(a["asset"])
            if i is not None and bucket_owner[int(cells.asset_bucket[i])] == k:
                out.append(a)
    return out


# -- the processes ---------------------------------------------------------------------------------
def _factory(args: argparse.Namespace) -> Callable[[Path], RiskService]:
    """``--scene SCENE`` (its ``[live]`` table) or ``--service module:function`` (store path -> service)."""
    if args.service:
        module, _, name = args.service.partition(":")
        return getattr(importlib.import_module(module), name)
    if not args.scene:
        raise InputError(None, "give --scene SCENE or --service module:function")
    from twin.loading import load

    twin = load(Path(args.scene))
    return lambda store: RiskService.from_twin(twin, store_path=store)


def _write_status(path: Path | None, feed: MqttIngest) -> None:
    if path is not None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(feed.health()))
        tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    """``python -m twin.risk.partition evaluate|route ...``: one evaluator, or one router, until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m twin.risk.partition")
    parser.add_argument("role", choices=("evaluate", "route"))
    parser.add_argument("--scene", help="scene manifest with a [live] table")
    parser.add_argument("--service", help="module:function building the service from a store path (tests)")
    parser.add_argument("--partition", default="0/1", help="K/N: this evaluator of N (evaluate)")
    parser.add_argument("--mqtt", required=True, help="broker URL, e.g. mqtt://broker:1883/twin")
    parser.add_argument("--store", help="this evaluator's DuckDB file (evaluate)")
    parser.add_argument("--status", type=Path, help="a JSON file rewritten every 0.2 s with the feed's counts")
    args = parser.parse_args(argv)
    build = _factory(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.role == "evaluate":
        if not args.store:
            raise InputError(None, "evaluate needs --store FILE.duckdb")
        service = build(Path(args.store))
        service.start()
        feed = evaluator(service, Partition.parse(args.partition), args.mqtt).start()
        closing: list[Any] = [feed, service]
    else:
        service = build(Path(":memory:"))  # the scene's cells and halo only: no readings kept
        router = Router(CellMap(service.state), args.mqtt)
        root = BrokerUrl.parse(args.mqtt)
        share = root.share or "router"
        shared = BrokerUrl(**{**asdict(root), "share": share, "client_id": f"cim-twin-{share}-{os.getpid()}"})
        feed = MqttIngest(router, shared).start()
        closing = [feed, router]
    while not stop.wait(0.2):
        _write_status(args.status, feed)
    _write_status(args.status, feed)
    for part in closing:
        part.stop() if isinstance(part, MqttIngest) else part.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
