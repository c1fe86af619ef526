"""The loop over a real Mosquitto broker: JSON and Sparkplug-style topics, webhook and
subscriber notification, and a consumer killed mid-stream (plus a broker restart) losing and
duplicating nothing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

from bench.signal_plant import HELD, TAGS, TOPIC, plant
from bench.signal_plant import signal as make_signal
from ingest.signals.model import TagMap
from ingest.signals.mqtt import MqttConsumer
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from quality.notify import Notification, WebhookSender
from tests import signal_services
from tests.conftest import ROOT, migrate
from tests.signal_services import Broker, Publisher, Webhook, wait_for
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

pytestmark = pytest.mark.mqtt
broker = signal_services.broker  # the fixture


def test_excursion_over_mqtt_makes_one_deviation_one_webhook_call(
        runtime: Runtime, broker: Broker, tmp_path: Path) -> None:
    migrate(runtime, plant())
    hook = Webhook()
    sender = WebhookSender(hook.url)
    sink: list[Notification] = []
    p = SignalPipeline(runtime, TagMap.model_validate(TAGS), RawStore(tmp_path / "raw"),
                       publishers=[sink.append, sender.publish])
    c = MqttConsumer(p, broker.host, broker.port, "tg-test", ["plant/#", "spBv1.0/#"])
    t = threading.Thread(target=c.run)
    t.start()
    try:
        assert c.connected.wait(10)
        pub = Publisher(broker)
        samples = make_signal("excursion")
        for i, (ms, v) in enumerate(samples):
            if i % 2:  # half as JSON per tag, half Sparkplug-style: one stream either way
                pub.publish(TOPIC, {"value": v, "time": ms, "seq": i, "unit": "Cel"})
            else:
                pub.publish("spBv1.0/moulding/DDATA/edge1/IMM-01", {
                    "timestamp": ms, "seq": i % 256,
                    "metrics": [{"name": "MELT-TEMP", "value": v, "timestamp": ms}]})
        wait_for(lambda: c.acked >= len(samples), what="all samples acknowledged")
        pub.close()
    finally:
        c.stop.set()
        t.join(10)
    sender.close()
    assert p.raw.count() == len(samples)
    assert runtime.store.counts().get("Deviation") == 1
    [n] = sink
    assert n.kind == "deviation"
    hold_targets = [e.dst for e in runtime.store.links([n.hold or ""], ["HOLDS"])]
    assert {x.key for x in runtime.store.get_many(hold_targets).values()} == HELD
    wait_for(lambda: len(hook.bodies) >= 1, what="webhook call")
    [body] = hook.bodies
    assert body["deviation"] == n.deviation and body["role"] == "qc"
    assert sorted(body["held"]) == sorted(n.held)
    hook.close()


def _raw_count(root: Path) -> int:
    total = 0
    for f in root.glob("*.sqlite"):
        con = sqlite3.connect(f"file:{f}?mode=ro", uri=True, timeout=10)
        try:
            total += con.execute("SELECT count(*) FROM samples").fetchone()[0]
        except sqlite3.OperationalError:
            pass
        finally:
            con.close()
    return total


def _consumer(data: Path, tags: Path, broker: Broker) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TRACEGRAPH_DATA_DIR": str(data), "TRACEGRAPH_STORE": "embedded"}
    return subprocess.Popen(
        [sys.executable, "-m", "tracegraph.cli", "signals", "mqtt", "--tags", str(tags),
         "--port", str(broker.port), "--client-id", "tg-restart", "--topic", "plant/#"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(data / "consumer.log").open("ab"))


def test_consumer_killed_and_broker_restarted_lose_and_duplicate_nothing(
        broker: Broker, tmp_path: Path) -> None:
    data = tmp_path / "data"
    rt = Runtime.open(Settings(data_dir=data))
    migrate(rt, plant())
    rt.close()
    tags = tmp_path / "tags.json"
    tags.write_text(orjson.dumps(TAGS).decode())
    raw = data / "signals"
    samples = make_signal("excursion")

    def send(pub: Publisher, lo: int, hi: int) -> None:
        infos = [pub.publish(TOPIC, {"value": v, "time": ms, "seq": i, "unit": "Cel"})
                 for i, (ms, v) in list(enumerate(samples))[lo:hi]]
        for info in infos:
            info.wait_for_publish(10)
        time.sleep(0.05 if hi - lo == 1 else 0)

    proc = _consumer(data, tags, broker)
    try:
        pub = Publisher(broker)
        # the session exists once the consumer has subscribed: resend the first sample until
        # it is stored (re-sending is harmless, that is the point)
        wait_for(lambda: send(pub, 0, 1) or _raw_count(raw) >= 1, what="consumer subscribed")
        send(pub, 1, 310)
        wait_for(lambda: _raw_count(raw) >= 150, what="consumer mid-stream")
        proc.send_signal(signal.SIGKILL)  # a crash: no clean disconnect, unacked in flight
        proc.wait(10)
        send(pub, 310, len(samples))  # queued by the broker for the persistent session
        pub.close()
        broker.stop()  # and the broker restarts too (persistence on)
        broker.start()
        proc = _consumer(data, tags, broker)
        wait_for(lambda: _raw_count(raw) >= len(samples), timeout=60, what="all samples")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert _raw_count(raw) == len(samples)  # nothing lost, nothing stored twice
    rt = Runtime.open(Settings(data_dir=data))
    try:
        counts = rt.store.counts()
        assert counts.get("Deviation") == 1 and counts.get("Hold") == 1
        assert counts.get("Excursion") == 1 and counts.get("Alarm") == 1
    finally:
        rt.close()


def test_a_consumer_process_notifies_the_api_servers_subscribers(
        broker: Broker, tmp_path: Path) -> None:
    """`tracegraph signals mqtt` in its own process; `serve` (mqtt_host set) bridges its QC
    notifications to GraphQL subscribers over websockets."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from quality.notify import hub
    from tests.conftest import bearer, make_user

    data = tmp_path / "data"
    cfg = Settings(data_dir=data, mqtt_host=broker.host, mqtt_port=broker.port)
    rt = Runtime.open(cfg)
    migrate(rt, plant())
    make_user(rt, "qc.lead", ["qc"])
    tags = tmp_path / "tags.json"
    tags.write_text(orjson.dumps(TAGS).decode())
    samples = make_signal("excursion")
    proc = _consumer(data, tags, broker)
    pub = Publisher(broker)
    try:
        with TestClient(create_app(cfg, rt)) as client:
            assert client.app.state.notification_bridge.ready.wait(10)  # type: ignore[attr-defined]  # TestClient.app is the FastAPI app
            with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"],
                                          headers=bearer(client, "qc.lead")) as ws:
                ws.send_json({"type": "connection_init"})
                assert ws.receive_json()["type"] == "connection_ack"
                ws.send_json({"id": "1", "type": "subscribe", "payload": {
                    "query": "subscription { qcNotifications { kind batch hold } }"}})
                wait_for(lambda: hub.subscribers > 0, what="subscriber registered")
                first = samples[0]

                def resend_first() -> bool:
                    pub.publish(TOPIC, {"value": first[1], "time": first[0], "unit": "Cel"})
                    time.sleep(0.05)
                    return _raw_count(data / "signals") >= 1

                wait_for(resend_first, what="consumer subscribed")
                for i, (ms, v) in enumerate(samples):
                    pub.publish(TOPIC, {"value": v, "time": ms, "seq": i, "unit": "Cel"})
                msg = ws.receive_json()
                ws.send_json({"id": "1", "type": "complete"})
        n = msg["payload"]["data"]["qcNotifications"]
        assert n["kind"] == "deviation" and n["batch"] == "B-MOULD-7" and n["hold"]
    finally:
        pub.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        rt.close()
