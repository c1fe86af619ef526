"""Issue 17 fault suite against a real Mosquitto with the shipped settings: consumer kill -9,
broker graceful restart and kill -9, duplicated, 200-samples-late and out-of-order samples
(small counts here; `python -m bench.signal_faults` runs the large ones and prints RSS)."""

from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from bench.mosquitto import Broker, mosquitto_binary
from bench.signal_faults import run
from tests.conftest import _need_service

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


def test_fault_suite_exactly_one_record_per_exception(tmp_path: Path) -> None:
    _binary()
    f = run(tmp_path, streams=4, samples=1500, period=400, rate=600, kills=3,
            broker_restarts=2)
    print("\n".join(f.lines()))
    assert f.consumer_kills == 3 and f.broker_restarts + f.broker_kills == 2
    assert f.acknowledged == f.stored == 6000 and f.acknowledged_missing == 0
    assert f.planted == f.excursions == f.deviations == f.holds == 16
    assert f.deviations_notified == f.deviations  # every deviation reached QC …
    assert f.notified_unique == f.excursions + f.spc_warnings  # … counted once by id
    assert f.spc_warnings == 0
