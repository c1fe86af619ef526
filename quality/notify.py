"""QC notifications of committed exception-loop records: a webhook (HTTP POST of JSON) and an
in-process hub that GraphQL subscriptions listen to. Published only after commit (DESIGN §6.5).

Webhook delivery runs on a background thread with a bounded queue and retries, so a slow
receiver never holds up detection; the committed records stay the source of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import queue
import threading
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

__all__ = ["QC_TOPIC", "Backoff", "MqttNotifier", "Notification", "NotificationBridge",
           "NotificationHub", "Seen", "WebhookSender", "hub", "post_json", "signature"]

#: the header carrying the HMAC-SHA256 of the body (``sha256=<hex>``), when a secret is set
SIGNATURE_HEADER = "X-Tracegraph-Signature"


def signature(secret: bytes, body: bytes) -> str:
    """The :data:`SIGNATURE_HEADER` value of ``body``: ``sha256=`` and the hex HMAC-SHA256
    under ``secret`` (a receiver recomputes it over the bytes it got and compares in constant
    time)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def post_json(url: str, body: bytes, secret: bytes | None = None,
              headers: dict[str, str] | None = None, timeout: float = 5) -> None:
    """POST ``body`` (JSON) to ``url``, signed when a secret is given; returns only when the
    receiver accepted it (2xx), raises :class:`OSError` otherwise — so an outbox marks an entry
    delivered only then (the QC outbox and the integration-event outbox both deliver so)."""
    h = {"Content-Type": "application/json", **(headers or {})}
    if secret is not None:
        h[SIGNATURE_HEADER] = signature(secret, body)
    req = urllib.request.Request(url, body, method="POST", headers=h)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        if r.status >= 300:
            raise OSError(f"webhook {url} answered {r.status}")


class Backoff:
    """Exponential back-off of an outbox after a failed delivery: ``first`` seconds, doubled
    per consecutive failure up to ``cap``, reset by a success."""

    def __init__(self, first: float = 0.5, cap: float = 30.0) -> None:
        self.first = first
        self.cap = cap
        self.delay = first
        self.retry_at = 0.0
        self.failures = 0  # consecutive

    def ready(self) -> bool:
        return time.monotonic() >= self.retry_at

    def failed(self) -> float:
        """Record a failure; returns the seconds until the next attempt."""
        wait = self.delay
        self.failures += 1
        self.retry_at = time.monotonic() + wait
        self.delay = min(self.delay * 2, self.cap)
        return wait

    def succeeded(self) -> None:
        self.delay = self.first
        self.retry_at = 0.0
        self.failures = 0


@dataclass(frozen=True)
class Notification:
    kind: str  # "deviation" | "excursion" | "spcWarning" | "driftWarning"
    role: str
    equipment: str
    parameter: str
    batch: str
    execution: str
    level: str
    peak: float
    detected_at: str
    excursion: str
    alarm: str
    deviation: str | None = None
    hold: str | None = None
    grade: str | None = None
    held: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    id: str = ""  # the alarm's record number: one per alarm, whatever the re-deliveries

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class NotificationHub:
    """Fan-out to asyncio subscribers (each with a bounded queue; a subscriber that falls
    behind loses its oldest notifications, never blocks the publisher)."""

    def __init__(self, maxsize: int = 1000) -> None:
        self.maxsize = maxsize
        self._subs: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Notification]]] = set()
        self._lock = threading.Lock()

    def publish(self, n: Notification) -> None:
        with self._lock:
            subs = list(self._subs)
        for loop, q in subs:
            loop.call_soon_threadsafe(self._put, q, n)

    @staticmethod
    def _put(q: asyncio.Queue[Notification], n: Notification) -> None:
        if q.full():
            q.get_nowait()
        q.put_nowait(n)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    async def subscribe(self) -> AsyncIterator[Notification]:
        q: asyncio.Queue[Notification] = asyncio.Queue(self.maxsize)
        entry = (asyncio.get_running_loop(), q)
        with self._lock:
            self._subs.add(entry)
        try:
            while True:
                yield await q.get()
        finally:
            with self._lock:
                self._subs.discard(entry)


class WebhookSender:
    """POSTs each notification as JSON to ``url`` from a background thread."""

    def __init__(self, url: str, retries: int = 5, maxsize: int = 10_000) -> None:
        self.url = url
        self.retries = retries
        self.failed = 0
        self._q: queue.Queue[Notification | None] = queue.Queue(maxsize)
        self._t = threading.Thread(target=self._run, name="webhook", daemon=True)
        self._t.start()

    def publish(self, n: Notification) -> None:
        self._q.put(n)

    def deliver(self, n: Notification, timeout: float = 5) -> None:
        """POST one notification now; raises unless the receiver accepted it (2xx), so an
        outbox marks it delivered only then."""
        post_json(self.url, orjson.dumps(n.as_dict()), timeout=timeout)

    def _run(self) -> None:
        while (n := self._q.get()) is not None:
            body = orjson.dumps(n.as_dict())
            backoff = Backoff(0.1)
            for _ in range(self.retries):
                try:
                    post_json(self.url, body)
                    break
                except OSError:
                    time.sleep(backoff.failed())
            else:
                self.failed += 1

    def close(self, timeout: float = 10) -> None:
        self._q.put(None)
        self._t.join(timeout)


class Seen:
    """The receiving side of at-least-once delivery: remembers the last ``size`` ids."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._ids: dict[str, None] = {}
        self._lock = threading.Lock()

    def first(self, nid: str) -> bool:
        """True the first time an id is seen (an empty id is always new)."""
        if not nid:
            return True
        with self._lock:
            if nid in self._ids:
                return False
            self._ids[nid] = None
            if len(self._ids) > self.size:
                del self._ids[next(iter(self._ids))]
            return True


#: the process-wide hub the GraphQL subscription reads
hub = NotificationHub()

#: where a signal consumer in another process publishes QC notifications for the API server
QC_TOPIC = "tracegraph/qc/notifications"


class MqttNotifier:
    """Publishes notifications (QoS 1) to :data:`QC_TOPIC`, for API servers in other processes
    (see :class:`NotificationBridge`)."""

    def __init__(self, host: str, port: int, topic: str = QC_TOPIC,
                 client_id: str | None = None) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.topic = topic
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or "",
                                  protocol=mqtt.MQTTv311)
        self.client.connect(host, port)
        self.client.loop_start()

    def publish(self, n: Notification) -> None:
        """Returns once the broker acknowledged it (QoS 1); raises otherwise."""
        info = self.client.publish(self.topic, orjson.dumps(n.as_dict()), qos=1)
        info.wait_for_publish(5)
        if not info.is_published():
            raise OSError(f"QC notification {n.id} not acknowledged by the broker")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class NotificationBridge:
    """Subscribes to :data:`QC_TOPIC` and republishes each notification to a hub (the API
    server's GraphQL subscriptions)."""

    def __init__(self, host: str, port: int, target: NotificationHub,
                 topic: str = QC_TOPIC) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.target = target
        self.topic = topic
        self.seen = Seen()  # at-least-once delivery: each notification id passed on once
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)

        def on_connect(c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            if not rc.is_failure:
                c.subscribe(topic, qos=1)

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect_async(host, port)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        with contextlib.suppress(TypeError, orjson.JSONDecodeError):  # not one: ignored
            n = Notification(**orjson.loads(msg.payload))
            if self.seen.first(n.id):
                self.target.publish(n)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
