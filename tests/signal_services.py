"""Real services for the signal tests: a Mosquitto broker on a free port (persistence on, so a
broker restart keeps persistent sessions and queued QoS 1 messages), a webhook receiver, and an
MQTT publisher. Under CI=true a missing mosquitto binary fails the test (tests.conftest)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from bench.mosquitto import Broker, free_port, mosquitto_binary
from bench.webhook import Webhook
from tests.conftest import _need_service

__all__ = ["Broker", "Publisher", "Webhook", "broker", "free_port", "wait_for"]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    binary = mosquitto_binary()
    if binary is None:
        _need_service("Mosquitto (apt-get install mosquitto; make system-deps)")
    assert binary is not None
    b = Broker(binary, tmp_path / "broker")
    b.start()
    yield b
    b.stop()


class Publisher:
    """A QoS 1 publisher that waits for every PUBACK."""

    def __init__(self, broker: Broker) -> None:
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{free_port()}",
                             protocol=mqtt.MQTTv311)
        self.c.max_inflight_messages_set(20)
        self.c.max_queued_messages_set(0)
        self.c.connect(broker.host, broker.port)
        self.c.loop_start()

    def publish(self, topic: str, body: dict[str, Any]) -> mqtt.MQTTMessageInfo:
        return self.c.publish(topic, orjson.dumps(body), qos=1)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()




def wait_for(cond: Any, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
