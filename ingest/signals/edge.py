"""The committed-sample protocol between an edge and ``tracegraph signals mqtt``, and a
reference edge publisher that implements it (issue 17 F: nothing acknowledged is ever lost).

Why: an MQTT broker's PUBACK means "the broker has it", not "tracegraph stored it". Mosquitto
writes its store every ``autosave_interval`` changes, so a broker crash (kill -9, power loss)
loses the messages acknowledged since its last save that were not yet delivered. Only the
edge still has them, and only the edge can send them again.

The protocol (MQTT 3.1.1, QoS 1 both ways):

- every sample message carries ``seq``, a number identifying it within its topic for as
  long as the edge buffers it (a per-topic counter; any integers, not necessarily contiguous
  or in order; Sparkplug's 0-255 message ``seq`` wraps too soon: such an edge numbers its
  buffer otherwise, or does not take part);
- after a batch is committed (raw samples and every record they caused) and *before* the
  broker gets its PUBACKs, the consumer publishes, for each topic in the batch, the
  sequence numbers it committed from that topic, on ``<prefix>/<topic>`` (default prefix
  ``tracegraph/committed``, so ``tracegraph/committed/plant/IMM-01/MELT-TEMP``), QoS 1,
  payload ``{"seq": [[first, last], …]}`` (inclusive ranges, ascending). Duplicates that
  were already stored are committed too, and confirmed again;
- the edge keeps every sample it publishes in a local buffer until a confirmation covers
  it, subscribes (QoS 1, persistent session) to the confirmations of its topics, and after
  every reconnect re-publishes everything still in its buffer. Re-sent samples that were
  stored after all are duplicates: the raw store ignores them (same stream and source
  time), and late ones are evaluated in time order.

Why every confirmation is eventually seen or the sample re-sent: the consumer confirms before
it acknowledges to the broker, on the same connection (in order), so a consumer crash before
the confirmation leaves the messages unacknowledged and the broker delivers them again; a
confirmation lost by a broker crash is lost with a connection the edge sees drop, and the
edge re-sends on reconnect. Confirmations name sample numbers, not a high watermark, so
late, reordered and lost-in-the-middle messages need no state in the consumer (a watermark
would have to track contiguity per stream durably across consumer crashes).

An edge that does not implement the protocol is covered only up to the broker's autosave
window (see ``examples/mosquitto.conf``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

__all__ = ["COMMITTED_PREFIX", "EdgePublisher", "committed_topic", "decode_ranges",
           "encode_ranges"]

COMMITTED_PREFIX = "tracegraph/committed"
Key = tuple[str, int]  # (topic, seq)


def committed_topic(prefix: str, topic: str) -> str:
    """Where the consumer confirms the committed samples of ``topic``."""
    return f"{prefix}/{topic}"


def encode_ranges(seqs: Iterable[int]) -> bytes:
    """``{"seq": [[first, last], …]}``: the numbers as ascending inclusive ranges."""
    out: list[list[int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return orjson.dumps({"seq": out})


def decode_ranges(payload: bytes) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in orjson.loads(payload)["seq"]]


class EdgePublisher:
    """Publishes samples QoS 1 and keeps each in :attr:`buffer` until tracegraph confirms it
    committed. After every reconnect it re-publishes the buffered samples the broker had
    acknowledged (those a broker crash may have lost; samples not yet acknowledged are still
    paho's to send), from a background thread. At most ``max_outstanding`` publishes await
    their PUBACK (paho has 65,535 message ids): :meth:`publish` blocks beyond that. The
    buffer is in memory here: an edge that must survive its own restart keeps it on disk."""

    def __init__(self, host: str, port: int, client_id: str,
                 prefix: str = COMMITTED_PREFIX, max_inflight: int = 20,
                 max_outstanding: int = 20_000,
                 on_resend: Callable[[Key, mqtt.MQTTMessageInfo], None] | None = None) -> None:
        self.prefix = prefix
        self.buffer: dict[Key, tuple[bytes, mqtt.MQTTMessageInfo | None]] = {}
        self.resent = 0
        self.reconnects = 0
        self.max_outstanding = max_outstanding
        self.on_resend = on_resend
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._outstanding = 0
        self._topics: set[str] = set()
        self._connected_once = False
        self._resend_due = threading.Event()
        self._closing = False
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                        protocol=mqtt.MQTTv311)
        c.max_inflight_messages_set(max_inflight)
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(1, 2)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_publish = self._on_publish
        self.client = c
        self._resender = threading.Thread(target=self._resend_loop, daemon=True)
        self._resender.start()
        c.connect(host, port)
        c.loop_start()

    @property
    def pending(self) -> int:
        """Samples published and not yet confirmed committed."""
        return len(self.buffer)

    def publish(self, topic: str, seq: int, payload: bytes) -> mqtt.MQTTMessageInfo:
        """Publish one sample (its payload must carry ``seq``); kept until confirmed."""
        with self._lock:
            new = topic not in self._topics
            self._topics.add(topic)
            self.buffer[(topic, seq)] = (payload, None)
        if new:  # subscribed before the first sample is sent (same connection: in order)
            self.client.subscribe(committed_topic(self.prefix, topic), 1)
        return self._send((topic, seq), payload)

    def close(self) -> None:
        self._closing = True
        self._resend_due.set()
        self.client.disconnect()
        self.client.loop_stop()

    def _send(self, key: Key, payload: bytes) -> mqtt.MQTTMessageInfo:
        with self._room:
            while self._outstanding >= self.max_outstanding and not self._closing:
                self._room.wait(1.0)
            self._outstanding += 1
        # not under the lock: paho calls on_publish holding its own message lock
        info = self.client.publish(key[0], payload, qos=1)
        with self._lock:
            if key in self.buffer:
                self.buffer[key] = (payload, info)
        return info

    def _on_publish(self, *_: Any) -> None:
        with self._room:
            self._outstanding = max(0, self._outstanding - 1)
            self._room.notify_all()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            return
        with self._lock:
            topics = sorted(self._topics)
            again = self._connected_once
            self._connected_once = True
        if topics:  # the broker may have lost the session (a crash before it was saved)
            client.subscribe([(committed_topic(self.prefix, t), 1) for t in topics])
        if again:
            self.reconnects += 1
            self._resend_due.set()

    def _resend_loop(self) -> None:
        while True:
            self._resend_due.wait()
            self._resend_due.clear()
            if self._closing:
                return
            with self._lock:  # acknowledged by the broker, not confirmed: maybe lost
                again = [(k, p) for k, (p, info) in self.buffer.items()
                         if info is not None and info._published]  # PUBACK received
                # (paho's is_published() raises for a message queued while disconnected)
            for key, payload in again:
                if self._resend_due.is_set() or self._closing:
                    break  # another reconnect: start over from the buffer as it is then
                if key not in self.buffer:
                    continue  # confirmed meanwhile
                info = self._send(key, payload)
                self.resent += 1
                if self.on_resend is not None:
                    self.on_resend(key, info)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        topic = msg.topic.removeprefix(self.prefix + "/")
        try:
            ranges = decode_ranges(bytes(msg.payload))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return
        with self._lock:
            for first, last in ranges:
                if last - first < len(self.buffer):
                    for s in range(first, last + 1):
                        self.buffer.pop((topic, s), None)
                else:  # a wide range over a small buffer: look at the buffer instead
                    for key in [k for k in self.buffer if k[0] == topic
                                and first <= k[1] <= last]:
                        del self.buffer[key]
