"""MQTT ingest: the server subscribes to the city's broker and takes readings as ``POST /api/readings`` does.

Topic scheme (under a root, ``twin`` by default)::

    twin/<network>/<sensor>   one sensor's readings: {"ts": ..., "value": ...}, a JSON array of
                              them, or compact text lines "ts,value" (ts epoch ms or ISO-8601);
                              <sensor> may itself contain "/"
    twin/batch[/<anything>]   a batch exactly as the HTTP body: JSON array or NDJSON of
                              {"sensor", "ts", "value"} (the fast path for gateways)

``<network>`` is the sensor's network (``gas``, ``water``, ...) for the broker's ACLs and for
shared subscriptions; the sensor id alone decides which sensor a reading is for.

Durability is the HTTP path's: readings go through :meth:`RiskRuntime.ingest` (the same parsing
and checks, one commit) and a message is acknowledged (PUBACK, QoS 1, manual acknowledgement)
only once that commit has returned.  Messages waiting are bounded by the MQTT 5 *Receive
Maximum* the client announces, so the backlog stays on the broker, never in this process.  A
store failure acknowledges nothing and retries the same messages; the broker redelivers whatever
was in flight after a reconnect (a persistent session), which the store's idempotence on
(sensor, ts) makes harmless.  A payload that can never succeed (too large, not JSON) is counted,
logged with its topic and acknowledged (dropped), as HTTP answers it 4xx.
"""

from __future__ import annotations

import bisect
import logging
import os
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as paho
import pyarrow as pa
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from twin.errors import InputError
from twin.risk.ingest import UTF8_BOM, parse_body

LOG = logging.getLogger("twin.mqtt")
DEFAULT_ROOT = "twin"
BATCH_LEVEL = "batch"
#: messages in flight to this client (MQTT 5 Receive Maximum): the bound on the local backlog
RECEIVE_MAXIMUM = 2000
#: readings gathered into one commit at most (each commit is one fsync)
COMMIT_READINGS = 200_000
SESSION_EXPIRY_S = 24 * 3600  # the broker keeps our subscription and queue this long while we are away
RETRY_S = 1.0


class Ingestor(Protocol):
    """What the MQTT client needs of the live service."""

    def ingest(self, items: list[Any] | pa.Table) -> dict[str, Any]: ...


@dataclass(frozen=True)
class BrokerUrl:
    """``mqtt://[user:password@]host[:port][/root][?share=GROUP&client_id=ID]`` (``mqtts://`` for TLS).

    ``share`` subscribes as ``$share/GROUP/<root>/#``: the broker hands each message to one of
    the group's members, so several processes share one feed."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    root: str = DEFAULT_ROOT
    share: str | None = None
    client_id: str = "cim-twin"

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise InputError(None, f"--mqtt must be a URL like mqtt://host:1883/twin, not {url!r}")
        tls = parts.scheme in ("mqtts", "ssl")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        root = parts.path.strip("/") or DEFAULT_ROOT
        if any(c in root for c in "#+"):
            raise InputError(None, f"the MQTT topic root must not contain wildcards: {root!r}")
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise InputError(None, f"--mqtt has a bad port: {url!r}") from None
        return cls(
            host=parts.hostname,
            port=port,
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            root=root,
            share=query.get("share"),
            client_id=query.get("client_id") or _default_client_id(query.get("share")),
        )

    @property
    def subscription(self) -> str:
        """The topic filter: every topic under the root (``$share/GROUP/...`` when shared)."""
        topic = f"{self.root}/#"
        return f"$share/{self.share}/{topic}" if self.share else topic


def _default_client_id(share: str | None) -> str:
    """``cim-twin``; a member of a shared subscription needs its own id (one per process here:
    give ``client_id=`` in the URL for one that is stable across restarts, so the broker keeps its
    session and redelivers what was in flight)."""
    return "cim-twin" if share is None else f"cim-twin-{share}-{os.getpid()}"


def readings_of(topic: str, payload: bytes, root: str = DEFAULT_ROOT) -> list[Any] | pa.Table:
    """The readings of one message, in the form :func:`~twin.risk.ingest.parse_body` gives, so they
    go through the same checks as an HTTP body (:class:`InputError` for one that can never be read)."""
    levels = topic.split("/")
    depth = root.count("/") + 1
    rest = levels[depth:]
    if rest and rest[0] == BATCH_LEVEL:
        return parse_body(payload)
    if len(rest) < 2 or not all(rest[1:]):
        raise InputError(None, f"topic {topic!r} is not {root}/<network>/<sensor> or {root}/batch")
    sensor = "/".join(rest[1:])
    text = payload.removeprefix(UTF8_BOM).strip()
    if text[:1] in (b"{", b"["):
        items = parse_body(text)
        rows = items.to_pylist() if isinstance(items, pa.Table) else items
    else:
        rows = [_compact(line) for line in text.decode("utf-8", errors="replace").splitlines() if line.strip()]
    return [{**r, "sensor": sensor} if isinstance(r, dict) else r for r in rows]


def _compact(line: str) -> Any:
    """``ts,value``: ts in epoch ms (a number) or ISO-8601; a line that is not two fields stays as
    given, so the checks reject it ("wrong type") with its index."""
    fields = line.split(",")
    if len(fields) != 2:
        return line
    return {"ts": _number(fields[0].strip()), "value": _number(fields[1].strip())}


def _number(text: str) -> float | str:
    """A number where the text is one; else the text, for the checks to reject with a reason."""
    try:
        return float(text)
    except ValueError:
        return text


@dataclass
class Message:
    """One received message waiting for its commit (mid and qos to acknowledge it by)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    received: float = field(default_factory=time.monotonic)


@dataclass
class Stats:
    """Counts since start, for health and the benchmarks."""

    messages: int = 0
    readings: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    rate_limited: int = 0
    malformed: int = 0
    oversized: int = 0
    commits: int = 0
    store_failures: int = 0
    connects: int = 0
    connected: bool = False


class MqttIngest:
    """A subscriber on one broker feeding one live service; :meth:`start` and :meth:`stop`.

    Two threads: paho's network loop (which reconnects and, in :meth:`_on_connect`, resubscribes)
    only queues messages; the commit thread gathers what is waiting into one ingest, then
    acknowledges each message of it.
    """

    def __init__(
        self,
        service: Ingestor,
        url: str | BrokerUrl,
        *,
        max_payload: int = 16 * 1024 * 1024,
        receive_maximum: int = RECEIVE_MAXIMUM,
        commit_readings: int = COMMIT_READINGS,
        filters: list[str] | None = None,
        parse_root: str | None = None,
    ) -> None:
        self.service = service
        self.url = url if isinstance(url, BrokerUrl) else BrokerUrl.parse(url)
        #: topic filters subscribed (default the URL's one); an evaluator of a partition names its
        #: cell buckets (:mod:`twin.risk.partition`), read with ``parse_root`` (``twin-cell/+``)
        self.filters = filters or [self.url.subscription]
        self.parse_root = parse_root or self.url.root
        self.max_payload, self.commit_readings = max_payload, commit_readings
        self.stats = Stats()
        self._queue: queue.Queue[Message | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.client = self._client(receive_maximum)

    def _client(self, receive_maximum: int) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.url.client_id,
            protocol=paho.MQTTv5,
            manual_ack=True,
        )
        if self.url.username:
            client.username_pw_set(self.url.username, self.url.password)
        if self.url.tls:
            client.tls_set()
        client.reconnect_delay_set(1, 30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._connect_properties = Properties(PacketTypes.CONNECT)
        self._connect_properties.ReceiveMaximum = receive_maximum
        self._connect_properties.SessionExpiryInterval = SESSION_EXPIRY_S
        return client

    # -- life cycle -----------------------------------------------------------------------------
    def start(self) -> MqttIngest:
        """Connect (retried in the background until the broker is there) and start committing."""
        self._thread = threading.Thread(target=self._commit_loop, daemon=True, name="mqtt-commit")
        self._thread.start()
        self.client.connect_async(
            self.url.host, self.url.port, keepalive=30, clean_start=False, properties=self._connect_properties
        )
        self.client.loop_start()
        return self

    def stop(self) -> None:
        """Disconnect; what is not yet committed stays unacknowledged on the broker."""
        self._stop.set()
        self._queue.put(None)
        self.client.disconnect()
        self.client.loop_stop()
        if self._thread is not None:
            self._thread.join(10)

    def health(self) -> dict[str, Any]:
        """The broker, the subscription and the counts since start (``/api/health`` → ``feeds.mqtt``)."""
        return {
            "broker": f"{self.url.host}:{self.url.port}",
            "subscription": self.url.subscription if len(self.filters) == 1 else f"{len(self.filters)} filters",
            "waiting": self._queue.qsize(),
            **asdict(self.stats),
        }

    def wait_connected(self, timeout_s: float = 10.0) -> bool:
        """Whether the subscription is in place within ``timeout_s`` (tests, the drill)."""
        deadline = time.monotonic() + timeout_s
        while not self.stats.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.stats.connected

    # -- paho's thread --------------------------------------------------------------------------
    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            LOG.warning("mqtt: %s:%s refused the connection: %s", self.url.host, self.url.port, reason)
            return
        client.subscribe([(f, 1) for f in self.filters])
        self.stats.connects += 1
        self.stats.connected = True
        LOG.info("mqtt: subscribed to %s on %s:%s", self.health()["subscription"], self.url.host, self.url.port)

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.stats.connected = False
        if not self._stop.is_set():
            LOG.warning("mqtt: lost the broker (%s); reconnecting", reason)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self.stats.messages += 1
        size = len(message.payload)
        if size > self.max_payload:
            self.stats.oversized += 1
            LOG.warning(
                "mqtt: %s: payload of %d bytes over %d dropped", message.topic, len(message.payload), self.max_payload
            )
            self._ack([Message(message.topic, b"", message.mid, message.qos)])
            return
        self._queue.put(Message(message.topic, bytes(message.payload), message.mid, message.qos))

    # -- the commit thread ----------------------------------------------------------------------
    def _commit_loop(self) -> None:
        while not self._stop.is_set():
            first = self._queue.get()
            if first is None:
                return
            self._commit(self._gather(first))

    def _gather(self, first: Message) -> list[Message]:
        """The first message and whatever else is waiting, up to :attr:`commit_readings` bytes-ish."""
        taken, size = [first], len(first.payload)
        budget = self.commit_readings * 40  # bytes: ~40 bytes a reading in JSON
        while size < budget:
            try:
                message = self._queue.get_nowait()
            except queue.Empty:
                break
            if message is None:
                self._queue.put(None)
                break
            taken.append(message)
            size += len(message.payload)
        return taken

    def _commit(self, messages: list[Message]) -> None:
        """Parse each message, ingest them together (one commit per form), then acknowledge them."""
        tables: list[pa.Table] = []
        items: list[Any] = []
        owners: list[tuple[int, str]] = []  # (offset in items, topic): rejections name their topic
        for m in messages:
            try:
                readings = readings_of(m.topic, m.payload, self.parse_root)
            except InputError as exc:
                self.stats.malformed += 1
                LOG.warning("mqtt: %s: payload dropped: %s", m.topic, exc.problem)
                continue
            if isinstance(readings, pa.Table):
                tables.append(readings)
            else:
                owners.append((len(items), m.topic))
                items.extend(readings)
        for batch in ([pa.concat_tables(tables)] if tables else []) + ([items] if items else []):
            result = self._ingest_durably(batch)
            if result is None:
                return  # stopping: nothing acknowledged, the broker redelivers
            self._count(result, owners if batch is items else [])
        self._ack(messages)

    def _ingest_durably(self, batch: list[Any] | pa.Table) -> dict[str, Any] | None:
        """Ingest, retrying while the store fails (nothing is acknowledged meanwhile)."""
        while not self._stop.is_set():
            try:
                return self.service.ingest(batch)
            except Exception as exc:  # the store failed: keep the messages, try again
                self.stats.store_failures += 1
                LOG.error("mqtt: readings not stored (%s); retrying in %g s", exc, RETRY_S)
                self._stop.wait(RETRY_S)
        return None

    def _count(self, result: dict[str, Any], owners: list[tuple[int, str]]) -> None:
        self.stats.commits += 1
        self.stats.accepted += result["accepted"]
        self.stats.duplicate += result["duplicate"]
        self.stats.rejected += result["rejected"]
        self.stats.rate_limited += result.get("rate_limited", 0)
        self.stats.readings += result["accepted"] + result["duplicate"] + result["rejected"]
        offsets = [o for o, _ in owners]
        for r in result["rejections"][:20]:
            topic = owners[bisect.bisect_right(offsets, r["index"]) - 1][1] if owners else "batch"
            LOG.warning("mqtt: %s: reading rejected (%s)", topic, r["reason"])

    def _ack(self, messages: list[Message]) -> None:
        for m in messages:
            if m.qos:
                self.client.ack(m.mid, m.qos)
