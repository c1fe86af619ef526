"""MQTT adapter (paho-mqtt): QoS 1, persistent session (clean_session false), manual
acknowledgement AFTER the batch is committed, a bounded queue between the network thread and
the committing thread (a full queue blocks the network thread, so the broker holds the rest:
backpressure).

Payloads:

- JSON per tag: topic = the mapped address (e.g. ``plant/IMM-01/MELT-TEMP``), payload
  ``{"value": 231.4, "time": "2026-…Z" | epoch ms, "quality": "good", "seq": 17, "unit": "Cel"}``;
- Sparkplug-style: topic ``spBv1.0/<group>/DDATA/<edge node>/<device>``, JSON payload
  ``{"timestamp": ms, "seq": n, "metrics": [{"name": "MELT-TEMP", "value": 231.4,
  "timestamp": ms}]}``; each metric's address is ``<group>/<edge node>/<device>/<name>``.

After each commit the consumer confirms the committed samples' ``seq`` per topic on
``<committed_prefix>/<topic>`` before acknowledging to the broker: the committed-sample
protocol of :mod:`ingest.signals.edge` (``committed_prefix=None``: no confirmations).
"""

from __future__ import annotations

import logging
import queue
import struct
import threading
import time
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ingest.signals.edge import COMMITTED_PREFIX, committed_topic, encode_ranges
from ingest.signals.model import Observation, now_ms, text_to_ms
from ingest.signals.pipeline import SignalPipeline

__all__ = ["MqttConsumer", "parse_message"]

log = logging.getLogger("tracegraph.signals.mqtt")
_PUBACK = struct.Struct("!BBH")  # fixed header PUBACK, remaining length 2, packet id
_Message = tuple[str, bytes, int, int]  # topic, payload, packet id, QoS


def _time(v: Any) -> int:
    return int(v) if isinstance(v, int | float) else text_to_ms(str(v))


def parse_message(pipeline: SignalPipeline, topic: str, payload: bytes,
                  received_ms: int) -> list[Observation]:
    """The observations in one MQTT message (unmapped addresses and bad JSON are dropped)."""
    parts = topic.split("/")
    sparkplug = parts[0] == "spBv1.0" and len(parts) >= 5 and parts[2] in ("DDATA", "NDATA")
    if not sparkplug and topic not in pipeline.by_address:
        return []  # not a mapped tag (e.g. our own QC notifications under "#")
    try:
        return _parse(pipeline, topic, parts, sparkplug, orjson.loads(payload), received_ms)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        log.warning("malformed sample on %s dropped: %s", topic, e)
        return []


def _parse(pipeline: SignalPipeline, topic: str, parts: list[str], sparkplug: bool,
           body: Any, received_ms: int) -> list[Observation]:
    out: list[Observation] = []
    if sparkplug:
        device = "/".join([parts[1], parts[3], *parts[4:]])
        seq = int(body.get("seq", 0))
        for m in body.get("metrics", ()):
            o = pipeline.observation(f"{device}/{m['name']}", float(m["value"]),
                                     _time(m.get("timestamp", body.get("timestamp"))),
                                     str(m.get("quality", "good")), seq, m.get("unit"),
                                     received_ms)
            if o is not None:
                out.append(o)
        return out
    o = pipeline.observation(topic, float(body["value"]), _time(body["time"]),
                             str(body.get("quality", "good")), int(body.get("seq", 0)),
                             body.get("unit"), received_ms)
    return [o] if o is not None else []


class MqttConsumer:
    """Subscribes to ``topics`` and feeds the pipeline in batches; acks after commit.

    The queue holds ``(topic, payload, mid, qos)`` of each message, not paho's message object
    (about 1.6 kB each with its delivery-info lock and condition; the tuple about 0.3 kB), and
    at most ``queue_max`` of them: a consumer that falls behind keeps a bounded backlog and
    the broker holds the rest (issue 17 G)."""

    def __init__(self, pipeline: SignalPipeline, host: str, port: int, client_id: str,
                 topics: list[str], batch_max: int = 5000, batch_wait: float = 0.01,
                 queue_max: int = 20_000, flush_every: float = 10.0,
                 committed_prefix: str | None = COMMITTED_PREFIX) -> None:
        self.pipeline = pipeline
        self.committed_prefix = committed_prefix
        self.topics = topics
        self.batch_max = batch_max
        self.batch_wait = batch_wait
        self.flush_every = flush_every
        self.q: queue.Queue[_Message] = queue.Queue(queue_max)
        self.acked = 0
        self.connected = threading.Event()
        self.stop = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                        protocol=mqtt.MQTTv311, manual_ack=True)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.reconnect_delay_set(1, 2)
        c.max_inflight_messages_set(0)  # confirmations go out at once, ahead of the PUBACKs
        self.client = c
        self.host, self.port = host, port

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if not rc.is_failure:
            client.subscribe([(t, 1) for t in self.topics])
            self.connected.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.q.put((msg.topic, bytes(msg.payload), msg.mid, msg.qos))  # blocks when full:
        # backpressure onto the broker

    def run(self) -> None:
        """Consume until :attr:`stop` is set (call from a thread or the main thread)."""
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        last_flush = time.monotonic()
        try:
            while not self.stop.is_set():
                batch = self._next_batch()
                if batch:
                    self._handle(batch)
                else:
                    self.pipeline.outbox.dispatch()  # QC notifications still pending (retry)
                if time.monotonic() - last_flush > self.flush_every:
                    self.pipeline.flush()
                    last_flush = time.monotonic()
        finally:
            self.pipeline.flush()
            self.client.disconnect()
            self.client.loop_stop()

    def _next_batch(self) -> list[_Message]:
        try:
            batch = [self.q.get(timeout=0.1)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.batch_wait
        while len(batch) < self.batch_max:
            try:
                batch.append(self.q.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return batch

    def _handle(self, batch: list[_Message]) -> None:
        received = now_ms()
        obs: list[Observation] = []
        seqs: dict[str, list[int]] = {}
        for topic, payload, _mid, _qos in batch:
            got = parse_message(self.pipeline, topic, payload, received)
            if got:
                seqs.setdefault(topic, []).append(got[0].sequence)
            obs += got
        self.pipeline.process(obs)  # committed when it returns …
        self._confirm(seqs)  # … confirmed to the edges (before the broker's PUBACK) …
        self._ack([mid for _t, _p, mid, qos in batch if qos == 1])  # … and only then acked
        self.acked += len(batch)

    def _confirm(self, seqs: dict[str, list[int]]) -> None:
        """The committed-sample protocol (:mod:`ingest.signals.edge`): per topic, the
        committed ``seq`` numbers, QoS 1, queued ahead of the batch's PUBACKs."""
        if self.committed_prefix is None:
            return
        for topic, xs in seqs.items():
            self.client.publish(committed_topic(self.committed_prefix, topic),
                                encode_ranges(xs), qos=1)

    def _ack(self, mids: list[int]) -> None:
        """PUBACK every message of a committed batch in one write. ``Client.ack`` queues one
        packet and wakes the network thread per message (two system calls each); a PUBACK is
        four bytes, so the batch's PUBACKs go out as one queued blob instead."""
        if not mids:
            return
        blob = b"".join(_PUBACK.pack(0x40, 2, mid) for mid in mids)
        self.client._packet_queue(0x40, blob, 0, 0)
