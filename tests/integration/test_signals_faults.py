"""Issue 17 fault suite against a real Mosquitto with the shipped settings: consumer kill -9,
broker graceful restart and kill -9, duplicated, 200-samples-late and out-of-order samples
(small counts here; `python -m bench.signal_faults` runs the large ones and prints RSS).
Edges use the committed-sample protocol (:mod:`ingest.signals.edge`): nothing the broker
acknowledged is lost, even when a broker crash loses it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from bench.mosquitto import Broker, mosquitto_binary
from bench.signal_faults import run
from bench.signal_plant import TAGS, TOPIC, plant
from bench.signal_plant import signal as make_signal
from ingest.signals.edge import EdgePublisher
from ingest.signals.model import TagMap
from ingest.signals.mqtt import MqttConsumer
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from tests.conftest import _need_service, migrate
from tests.signal_services import wait_for
from tracegraph.runtime import Runtime

pytestmark = pytest.mark.mqtt


def _binary() -> str:
    binary = mosquitto_binary()
    if binary is None:
        _need_service("Mosquitto (apt-get install mosquitto; make system-deps)")
    assert binary is not None
    return binary


def _client(b: Broker, cid: str, got: list[bytes] | None = None) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, clean_session=False,
                    protocol=mqtt.MQTTv311)
    if got is not None:
        c.on_connect = lambda c, *_: c.subscribe("t/#", 1)
        c.on_message = lambda _c, _u, m: got.append(m.payload)
    c.connect(b.host, b.port)
    c.loop_start()
    return c


def test_broker_kill9_loses_at_most_the_autosave_window(tmp_path: Path) -> None:
    b = Broker(_binary(), tmp_path / "broker")
    b.start()
    try:
        sub = _client(b, "qc-sub", [])
        time.sleep(0.5)
        sub.disconnect()
        sub.loop_stop()
        pub = _client(b, "edge")
        infos = [pub.publish("t/x", str(i).encode(), qos=1) for i in range(500)]
        for info in infos:
            info.wait_for_publish(30)
        b.kill()  # crash right after the last PUBACK
        pub.loop_stop()
        b.start()
        got: list[bytes] = []
        sub = _client(b, "qc-sub", got)
        deadline = time.monotonic() + 10
        while len(got) < 400 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        sub.disconnect()
        sub.loop_stop()
    finally:
        b.stop()
    assert all(i.is_published() for i in infos)
    assert len(set(got)) >= 500 - 100  # autosave_interval 100 (persistence alone: 0 kept)


def _consume(p: SignalPipeline, b: Broker) -> tuple[MqttConsumer, threading.Thread]:
    c = MqttConsumer(p, b.host, b.port, "tg-edge-test", ["plant/#"])
    t = threading.Thread(target=c.run)
    t.start()
    assert c.connected.wait(10)
    return c, t


def test_edge_resends_what_a_broker_crash_lost(runtime: Runtime, tmp_path: Path) -> None:
    """500 samples acknowledged by the broker while tracegraph is down, then the broker is
    killed (-9) before its autosave covers them: the reference edge still holds every sample
    tracegraph has not confirmed, re-sends them after reconnecting, and all 500 are stored."""
    migrate(runtime, plant())
    b = Broker(_binary(), tmp_path / "broker")
    b.start()
    p = SignalPipeline(runtime, TagMap.model_validate(TAGS), RawStore(tmp_path / "raw"),
                       publishers=[])
    c, t = _consume(p, b)  # the persistent session exists …
    c.stop.set()
    t.join(10)  # … and tracegraph is down
    edge = EdgePublisher(b.host, b.port, "edge-1")
    try:
        samples = make_signal("noisy", n=500, step_ms=100)
        infos = [edge.publish(TOPIC, i, orjson.dumps({"value": v, "time": ms, "seq": i,
                                                      "unit": "Cel"}))
                 for i, (ms, v) in enumerate(samples)]
        for info in infos:
            info.wait_for_publish(30)
        assert edge.pending == 500  # acknowledged by the broker, none confirmed committed
        b.kill()  # the broker crashes right after the last PUBACK
        b.start()
        c, t = _consume(p, b)
        wait_for(lambda: edge.pending == 0, 60, "every sample confirmed committed")
        c.stop.set()
        t.join(10)
    finally:
        edge.close()
        b.stop()
    print(f"re-sent by the edge after the crash: {edge.resent} of 500")
    assert edge.reconnects == 1 and edge.resent <= 500  # the acknowledged, unconfirmed ones
    assert p.raw.count() == 500
    assert {o.source_ms for o in p.raw.window("IMM-01", "MELT-TEMP", 0, samples[-1][0])} == {
        ms for ms, _v in samples}


def test_fault_suite_exactly_one_record_per_exception(tmp_path: Path) -> None:
    _binary()
    f = run(tmp_path, streams=4, samples=1500, period=400, rate=600, kills=3,
            broker_restarts=2)
    print("\n".join(f.lines()))
    assert f.consumer_kills == 3 and f.broker_restarts == f.broker_kills == 1
    assert f.acknowledged == f.stored == 6000 and f.acknowledged_missing == 0
    assert f.edge_pending == 0  # every sample confirmed committed to the edge
    assert f.planted == f.excursions == f.deviations == f.holds == 16
    assert f.excursions_replay == f.excursions  # = a fault-free replay of the same samples
    assert f.deviations_notified == f.deviations  # every deviation reached QC …
    assert f.notified_unique == f.excursions + f.spc_warnings  # … counted once by id


def test_spc_warnings_equal_a_fault_free_replay(tmp_path: Path) -> None:
    """In-control data (independent normal noise): the run rules' warnings are their own
    false alarms; consumer kill -9s, graceful broker restarts and duplicates neither add nor
    hide one: the same warnings as a fault-free replay of the same samples."""
    _binary()
    f = run(tmp_path, streams=4, samples=1500, period=400, rate=600, kills=3,
            broker_restarts=1, late=False, broker_kill9=False)
    print("\n".join(f.lines()))
    assert f.consumer_kills == 3 and f.broker_restarts == 1
    assert f.planted == f.excursions == f.excursions_replay == 16
    assert f.spc_warnings == f.spc_replay


def test_spc_warnings_with_late_samples_equal_a_fault_free_replay(tmp_path: Path) -> None:
    _binary()
    f = run(tmp_path, streams=4, samples=1500, period=400, rate=600, kills=0,
            broker_restarts=0)
    print("\n".join(f.lines()))
    assert f.spc_warnings == f.spc_replay
