"""Delivery of the integration events (:mod:`graph.integration`) to the registered webhooks.

Each active ``WebhookSubscription`` (registered by an administrator) has a cursor, kept in
``<data dir>/integration-outbox.db``: the events after it are POSTed one at a time, in cursor
order, signed with HMAC-SHA256 over the body under ``TRACEGRAPH_WEBHOOK_SECRET`` (header
``X-Tracegraph-Signature: sha256=<hex>``; the event id also in ``X-Tracegraph-Event-Id``), and
the cursor moves past an event only after the receiver answered 2xx. A failure backs that
endpoint off exponentially (the QC outbox's :class:`quality.notify.Backoff`) and is retried
from the same event; a restart (or a kill) resumes from the persisted cursor. So every event
is delivered at least once, in order; an event delivered but not yet recorded when the server
died is delivered again with the same id, which the receiver uses to count it once.

The file is delivery bookkeeping, not evidence (the events are the audit trail): deleting it
re-delivers everything from the start. ``tracegraph events replay --from N --webhooks`` moves
every cursor back to ``N``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from graph.integration import events_since
from graph.port import GraphStore
from ontology.terms import C, P
from ontology.vocab import Vocabulary
from quality.notify import Backoff, post_json
from tracegraph.runtime import Runtime

__all__ = ["DeliveryState", "Dispatcher", "Endpoint", "Subscription", "endpoints",
           "start_dispatcher", "state_path", "subscriptions"]

log = logging.getLogger("tracegraph.integration")
EVENT_ID_HEADER = "X-Tracegraph-Event-Id"
EVENT_TYPE_HEADER = "X-Tracegraph-Event-Type"


def state_path(data_dir: Path) -> Path:
    return data_dir / "integration-outbox.db"


@dataclass(frozen=True)
class Endpoint:
    key: str
    url: str


def endpoints(store: GraphStore) -> list[Endpoint]:
    """The active webhook subscriptions, by key."""
    return sorted((Endpoint(n.key, str(n.props[P.endpointUrl]))
                   for n in store.nodes_of_class(C.WebhookSubscription)
                   if n.props.get(P.webhookActive, True) is not False
                   and n.props.get(P.endpointUrl)), key=lambda e: e.key)


@dataclass(frozen=True)
class Subscription:
    """A webhook subscription as the administrator sees it: never the secret (a server
    setting, not a record)."""

    key: str
    url: str
    active: bool
    cursor: int  # delivered through this event cursor
    failures: int
    last_error: str | None


def subscriptions(store: GraphStore, data_dir: Path) -> list[Subscription]:
    """Every webhook subscription (active or not), by key, with its delivery position."""
    state = DeliveryState(state_path(data_dir))
    try:
        rows = state.rows()
    finally:
        state.close()
    out = []
    for n in store.nodes_of_class(C.WebhookSubscription):
        cursor, failures, error = rows.get(n.key, (0, 0, None))
        out.append(Subscription(n.key, str(n.props.get(P.endpointUrl) or ""),
                                n.props.get(P.webhookActive, True) is not False
                                and bool(n.props.get(P.endpointUrl)), cursor, failures, error))
    return sorted(out, key=lambda s: s.key)


class DeliveryState:
    """Per subscription: the cursor delivered through, and the last failure."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a recorded delivery survives a crash
        self._db.execute("CREATE TABLE IF NOT EXISTS cursors (subscription TEXT PRIMARY KEY, "
                         "cursor INTEGER NOT NULL, failures INTEGER NOT NULL DEFAULT 0, "
                         "last_error TEXT, at_ms INTEGER NOT NULL)")
        self._lock = threading.Lock()

    def cursor(self, subscription: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT cursor FROM cursors WHERE subscription = ?",
                                   (subscription,)).fetchone()
        return int(row[0]) if row else 0

    def advance(self, subscription: str, cursor: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO cursors (subscription, cursor, at_ms) VALUES (?, ?, ?) "
                "ON CONFLICT (subscription) DO UPDATE SET cursor = excluded.cursor, "
                "failures = 0, last_error = NULL, at_ms = excluded.at_ms",
                (subscription, cursor, int(time.time() * 1000)))

    def failed(self, subscription: str, error: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO cursors (subscription, cursor, failures, last_error, at_ms) "
                "VALUES (?, 0, 1, ?, ?) ON CONFLICT (subscription) DO UPDATE SET "
                "failures = failures + 1, last_error = excluded.last_error, "
                "at_ms = excluded.at_ms", (subscription, error[:500], int(time.time() * 1000)))

    def rewind(self, cursor: int, subscriptions: list[str]) -> None:
        """Deliver again from ``cursor`` (a replay to the webhooks)."""
        for s in subscriptions:
            self.advance(s, cursor)

    def rows(self) -> dict[str, tuple[int, int, str | None]]:
        with self._lock:
            return {r[0]: (int(r[1]), int(r[2]), r[3]) for r in self._db.execute(
                "SELECT subscription, cursor, failures, last_error FROM cursors")}

    def close(self) -> None:
        self._db.close()


class Dispatcher:
    """Delivers the events after each subscription's cursor (see the module)."""

    def __init__(self, store: GraphStore, vocab: Vocabulary, state: DeliveryState,
                 secret: bytes, batch: int = 100, timeout: float = 10) -> None:
        self.store = store
        self.vocab = vocab
        self.state = state
        self.secret = secret
        self.batch = batch
        self.timeout = timeout
        self.backoff: dict[str, Backoff] = {}
        self.delivered = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def dispatch(self) -> int:
        """One pass over every subscription not backing off; returns events delivered."""
        sent = 0
        for ep in endpoints(self.store):
            backoff = self.backoff.setdefault(ep.key, Backoff())
            if backoff.ready():
                sent += self._deliver(ep, backoff)
        self.delivered += sent
        return sent

    def _deliver(self, ep: Endpoint, backoff: Backoff) -> int:
        events, upto = events_since(self.store, self.vocab, self.state.cursor(ep.key),
                                    self.batch)
        for i, ev in enumerate(events):
            body = orjson.dumps(ev.as_dict())
            try:
                post_json(ep.url, body, self.secret, {EVENT_ID_HEADER: ev.id,
                                                      EVENT_TYPE_HEADER: ev.type},
                          self.timeout)
            except OSError as e:  # refused, 4xx/5xx, timeout: retried from this event
                wait = backoff.failed()
                self.state.failed(ep.key, f"{ev.id}: {e}")
                log.warning("webhook %s: event %s not delivered (%s); retry in %.1f s",
                            ep.key, ev.id, e, wait)
                return i
            self.state.advance(ep.key, ev.cursor)
        backoff.succeeded()
        if upto > self.state.cursor(ep.key):
            self.state.advance(ep.key, upto)  # past the entries that are no events
        return len(events)

    def start(self, poll: float = 1.0) -> None:
        def run() -> None:
            while not self._stop.is_set():
                try:
                    busy = self.dispatch() > 0
                except Exception:  # the store unavailable a moment: next poll
                    log.exception("integration event dispatch failed")
                    busy = False
                if not busy:
                    self._stop.wait(poll)

        self._thread = threading.Thread(target=run, name="integration-events", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.state.close()


def start_dispatcher(rt: Runtime) -> Dispatcher | None:
    """The serving process's dispatcher (None without ``TRACEGRAPH_WEBHOOK_SECRET``: unsigned
    events are never sent)."""
    s = rt.settings
    if not s.webhook_secret:
        if endpoints(rt.store):
            log.warning("webhooks are registered but TRACEGRAPH_WEBHOOK_SECRET is not set: "
                        "no integration event is delivered")
        return None
    d = Dispatcher(rt.store, rt.vocab, DeliveryState(state_path(s.data_dir)),
                   s.webhook_secret.encode())
    d.start(s.webhook_poll_seconds)
    return d
