"""MQTT ingest on a real Debian mosquitto broker started here: the topic scheme, duplicates and out of
order as over HTTP, acknowledgement only after the commit, bad payloads, the broker going away."""

from __future__ import annotations

import csv
import json
import logging
import threading
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from twin.assets import AssetTable
from twin.errors import InputError
from twin.risk.broker import Mosquitto, mosquitto_binary
from twin.risk.mqtt import BrokerUrl, MqttIngest, readings_of
from twin.risk.rules import read_rules
from twin.risk.sensors import read_sensors
from twin.risk.service import RiskService
from twin.risk.store import Store

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data_samples" / "demo"
needs_broker = pytest.mark.skipif(
    mosquitto_binary() is None, reason="mosquitto is not installed (apt-get install mosquitto; tasks.py does it)"
)


def demo_service(store: Path | None = None) -> RiskService:
    """The demo's real sensors and rules over a bare asset table (no scene load: the test is the feed)."""
    with (DEMO / "sensors.csv").open() as f:
        ids = sorted({row["asset"] for row in csv.DictReader(f)})
    assets = AssetTable.build(ids, kind="Building")
    x = np.arange(len(ids)) * 50.0  # placed apart: an asset table without bounds has NaN centres
    assets.bounds = np.column_stack([x, x + 10, x * 0, x * 0 + 10, x * 0, x * 0 + 10])
    sensors = read_sensors(DEMO / "sensors.csv", assets)
    return RiskService(assets, sensors, read_rules(DEMO / "rules.toml"), Store(store))


def publisher(url: str) -> paho.Client:
    parsed = BrokerUrl.parse(url)
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.connect(parsed.host, parsed.port)
    client.loop_start()
    return client


def publish(client: paho.Client, topic: str, payload: str | bytes) -> None:
    client.publish(topic, payload, qos=1).wait_for_publish(10)


def wait_for(condition, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.02)


def test_topic_scheme_and_payload_forms() -> None:
    one = readings_of("twin/gas/GAS-B006", b'{"ts": 1000, "value": 2.5}')
    assert one == [{"ts": 1000.0, "value": 2.5, "sensor": "GAS-B006"}]
    many = readings_of("twin/gas/site/a/GAS-1", b'[{"ts": 1, "value": 0}, {"ts": 2, "value": 1}]')
    assert [r["sensor"] for r in many] == ["site/a/GAS-1"] * 2
    compact = readings_of("twin/water/WP-01", b"1700000000000,310.5\n2024-01-01T00:00:00Z,0\nbroken")
    assert compact[:2] == [
        {"ts": 1.7e12, "value": 310.5, "sensor": "WP-01"},
        {"ts": "2024-01-01T00:00:00Z", "value": 0.0, "sensor": "WP-01"},
    ]
    assert compact[2] == "broken"  # rejected by the checks ("wrong type"), with its index
    ndjson = b'{"sensor":"A","ts":1,"value":1}\n{"sensor":"B","ts":2,"value":2}\n'
    batch = readings_of("city/x/batch/gw-7", ndjson, "city/x")
    assert batch.num_rows == 2  # the NDJSON fast path, as over HTTP
    with pytest.raises(InputError):
        readings_of("twin/gas", b"{}")
    with pytest.raises(InputError):
        readings_of("twin/batch", b"[{not json")
    url = BrokerUrl.parse("mqtts://u:p%40ss@broker.city:8884/city/feed?share=eval")
    assert (url.host, url.port, url.tls, url.password, url.root) == ("broker.city", 8884, True, "p@ss", "city/feed")
    assert url.subscription == "$share/eval/city/feed/#"
    with pytest.raises(InputError):
        BrokerUrl.parse("http://x")


@needs_broker
def test_readings_over_mqtt_are_stored_like_http(tmp_path: Path) -> None:
    svc = demo_service(tmp_path / "s.duckdb").open()
    now = int(time.time() * 1000)
    with Mosquitto() as broker:
        feed = MqttIngest(svc, broker.url).start()
        assert feed.wait_connected()
        pub = publisher(broker.url)
        try:
            publish(pub, "twin/gas/GAS-B006", json.dumps({"ts": now, "value": 1.5}))
            publish(pub, "twin/gas/GAS-B006", json.dumps({"ts": now - 5000, "value": 1.0}))  # out of order
            publish(pub, "twin/gas/GAS-B006", json.dumps({"ts": now, "value": 9.9}))  # duplicate, conflicting
            publish(pub, "twin/gas/NOPE", json.dumps({"ts": now, "value": 1}))  # unknown sensor
            batch = "\n".join(
                json.dumps({"sensor": s, "ts": now, "value": v}) for s, v in (("GAS-B013", 2.0), ("WP-01", 300.0))
            )
            publish(pub, "twin/batch/gw-1", batch)
            publish(pub, "twin/water/WP-02", f"{now},305.5")
            wait_for(lambda: feed.stats.accepted + feed.stats.duplicate + feed.stats.rejected >= 7)
        finally:
            pub.loop_stop()
            feed.stop()
    stats = feed.stats
    assert (stats.accepted, stats.duplicate, stats.rejected, stats.malformed) == (5, 1, 1, 0)
    rows = svc.history.readings(["GAS-B006"])
    assert [(r["ts"] * 1000, r["value"]) for r in rows] == [(now - 5000, 1.0), (now, 1.5)]  # first value wins
    gas = svc.state.sensors.index["GAS-B006"]
    assert svc.last_values()[gas] == 1.5  # the late reading never replaced the current one
    svc.close()
    reopened = demo_service(tmp_path / "s.duckdb").open()  # durable: committed before acknowledged
    assert reopened.history.store.count() == 5
    reopened.close()


class FailingStore:
    """A service whose store fails the first ``failures`` commits, then works: nothing may be lost."""

    def __init__(self, svc: RiskService, failures: int) -> None:
        self.svc, self.failures, self.calls = svc, failures, 0

    def ingest(self, items):
        self.calls += 1
        if self.calls <= self.failures:
            raise OSError("disk full")
        return self.svc.ingest(items)


@needs_broker
def test_nothing_is_acknowledged_before_the_commit(tmp_path: Path) -> None:
    svc = demo_service().open()
    now = int(time.time() * 1000)
    with Mosquitto() as broker:
        url = f"{broker.url}/twin?client_id=durable-test"
        blocked = threading.Event()

        class Stuck:
            def ingest(self, items):
                blocked.set()
                raise OSError("store unavailable")

        first = MqttIngest(Stuck(), url).start()
        assert first.wait_connected()
        pub = publisher(broker.url)
        publish(pub, "twin/gas/GAS-B006", json.dumps({"ts": now, "value": 3.0}))
        assert blocked.wait(10)
        first.stop()  # the server dies before its commit: the message was never acknowledged
        assert svc.history.store.count() == 0
        flaky = FailingStore(svc, failures=2)
        second = MqttIngest(flaky, url).start()  # same session: the broker redelivers
        try:
            wait_for(lambda: svc.history.store.count() == 1)
            assert second.stats.store_failures == 2
        finally:
            pub.loop_stop()
            second.stop()
    assert svc.history.readings(["GAS-B006"])[0]["value"] == 3.0
    svc.close()


@needs_broker
def test_bad_payloads_are_counted_and_dropped_with_their_topic(caplog: pytest.LogCaptureFixture) -> None:
    svc = demo_service().open()
    now = int(time.time() * 1000)
    caplog.set_level(logging.WARNING, logger="twin.mqtt")
    with Mosquitto() as broker:
        feed = MqttIngest(svc, broker.url, max_payload=1024).start()
        assert feed.wait_connected()
        pub = publisher(broker.url)
        try:
            publish(pub, "twin/batch/gw-2", b"[{not json")
            publish(pub, "twin/gas/GAS-B006", b"[" * 100_000)  # over the cap
            publish(pub, "twin/gas", b"{}")  # no sensor in the topic
            publish(pub, "twin/gas/GAS-B006", json.dumps({"ts": now, "value": 1.0}))  # still served
            wait_for(lambda: feed.stats.accepted == 1)
        finally:
            pub.loop_stop()
            feed.stop()
    assert (feed.stats.malformed, feed.stats.oversized) == (2, 1)
    svc.add_feed("mqtt", feed.health)
    assert svc.health()["feeds"]["mqtt"]["malformed"] == 2  # operators see it in /api/health
    text = caplog.text
    assert "twin/batch/gw-2: payload dropped" in text and "twin/gas/GAS-B006: payload of 100000 bytes" in text
    svc.close()


@needs_broker
def test_a_bad_gateway_batch_among_good_ones_costs_only_its_own_readings() -> None:
    svc = demo_service().open()
    now = int(time.time() * 1000)
    good = [f'{{"sensor":"GAS-B006","ts":{now - 1000 * k},"value":1.0}}\n' for k in range(6)]
    with Mosquitto() as broker:
        feed = MqttIngest(svc, broker.url)
        pub = publisher(broker.url)
        try:
            feed.start()
            assert feed.wait_connected()
            for k, line in enumerate(good):  # published together: most are gathered into one commit
                body = line + ('{"sensor":"GAS-B006","ts":"yesterday","value":1}\n' if k == 3 else "")
                pub.publish(f"twin/batch/gw-{k}", body, qos=1)
            wait_for(lambda: feed.stats.readings == 7)
        finally:
            pub.loop_stop()
            feed.stop()
    assert (feed.stats.accepted, feed.stats.rejected, feed.stats.malformed) == (6, 1, 0)
    svc.close()


@needs_broker
def test_the_broker_going_away_and_coming_back() -> None:
    svc = demo_service().open()
    now = int(time.time() * 1000)
    with Mosquitto() as broker:
        feed = MqttIngest(svc, broker.url).start()
        assert feed.wait_connected()
        pub = publisher(broker.url)
        publish(pub, "twin/gas/GAS-B006", json.dumps({"ts": now - 1000, "value": 1.0}))
        wait_for(lambda: feed.stats.accepted == 1)
        pub.loop_stop()
        broker.stop()
        wait_for(lambda: not feed.stats.connected)
        broker.start()
        wait_for(lambda: feed.stats.connects >= 2, 60)  # reconnected and resubscribed
        pub = publisher(broker.url)
        try:
            publish(pub, "twin/gas/GAS-B006", json.dumps({"ts": now, "value": 2.0}))
            wait_for(lambda: feed.stats.accepted == 2)
        finally:
            pub.loop_stop()
            feed.stop()
    values = [r["value"] for r in svc.history.readings(["GAS-B006"])]
    assert values == [1.0, 2.0]
    assert np.isfinite(svc.last_values()).sum() == 1
    svc.close()


@needs_broker
def test_a_sensor_flooding_faster_than_its_period_is_throttled_and_flagged() -> None:
    svc = demo_service().open()  # GAS-B006 reports every 10 s: at most 10x that, bursts of 3,600 s of it
    now = int(time.time() * 1000)
    flood = "\n".join(f"{now - 60_000 + k},{k}" for k in range(1000))  # 1,000 readings in a minute
    with Mosquitto() as broker:
        feed = MqttIngest(svc, broker.url).start()
        assert feed.wait_connected()
        pub = publisher(broker.url)
        try:
            publish(pub, "twin/gas/GAS-B006", flood)
            publish(pub, "twin/gas/GAS-B013", f"{now},1.0")
            wait_for(lambda: feed.stats.accepted + feed.stats.rate_limited >= 1001)
        finally:
            pub.loop_stop()
            feed.stop()
    assert feed.stats.accepted == 360 + 1 and feed.stats.rate_limited == 640  # 3,600 s / 10 s
    health = svc.health()
    assert health["flooding_sensors"] == ["GAS-B006"] and health["readings_rate_limited"] == 640
    svc.close()


@needs_broker
@pytest.mark.browser  # starts the full app server
@pytest.mark.slow
def test_twin_serve_mqtt_local_starts_a_broker_and_takes_its_readings() -> None:
    import re
    import urllib.request

    from browser_support import serve

    with serve("--mqtt", "local") as served:
        line = next(line for line in served.log if "taking readings from" in line)
        broker_url = re.search(r"(mqtt://\S+)", line).group(1)
        pub = publisher(broker_url)
        try:
            publish(pub, "twin/gas/GAS-B006", json.dumps({"ts": int(time.time() * 1000), "value": 99.0}))
        finally:
            pub.loop_stop()

        def red() -> bool:
            with urllib.request.urlopen(served.url + "api/assets/bldg-006", timeout=30) as response:
                return json.loads(response.read())["risk"]["level"] == "red"

        wait_for(red, 30)


@needs_broker
def test_a_shared_subscription_spreads_the_feed_over_two_subscribers() -> None:
    services = [demo_service().open(), demo_service().open()]
    now = int(time.time() * 1000)
    with Mosquitto() as broker:
        feeds = [
            MqttIngest(s, f"{broker.url}/twin?share=eval&client_id=eval-{i}").start() for i, s in enumerate(services)
        ]
        assert all(f.wait_connected() for f in feeds)
        pub = publisher(broker.url)
        try:
            for k in range(40):
                publish(pub, "twin/gas/GAS-B006", json.dumps({"ts": now - k * 1000, "value": 1.0}))
            wait_for(lambda: sum(f.stats.accepted for f in feeds) == 40)
        finally:
            pub.loop_stop()
            for f in feeds:
                f.stop()
    counts = [s.history.store.count() for s in services]
    assert sum(counts) == 40 and all(counts)  # each message to one member, both members used
    for s in services:
        s.close()
