"""A real local webhook receiver for the integration-event tests: an HTTP server on 127.0.0.1
that checks each POST's HMAC-SHA256 signature independently (the stdlib ``hmac`` over the
bytes received), records every delivery and counts each event id once, as a QMS would.

``fail_first`` answers the first N requests 503 (the sender must back off and retry);
``block_at`` holds the Nth accepted request open until :attr:`release` is set (a delivery in
flight when the test kills the sender)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, secret: bytes, fail_first: int = 0, block_at: int | None = None) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.block_at = block_at
        self.requests = 0
        self.deliveries: list[dict[str, Any]] = []  # every accepted POST, duplicates included
        self.unique: dict[str, dict[str, Any]] = {}  # by event id: the dedupe a receiver does
        self.bad_signatures = 0
        self.blocked = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                want = "sha256=" + hmac.new(receiver.secret, body, hashlib.sha256).hexdigest()
                ok = hmac.compare_digest(want, self.headers.get("X-Tracegraph-Signature", ""))
                with receiver._lock:
                    receiver.requests += 1
                    n = receiver.requests
                    if not ok:
                        receiver.bad_signatures += 1
                if not ok or n <= receiver.fail_first:
                    self.send_response(401 if not ok else 503)
                    self.end_headers()
                    return
                event = json.loads(body)
                assert self.headers["X-Tracegraph-Event-Id"] == event["id"]
                with receiver._lock:
                    receiver.deliveries.append(event)
                    receiver.unique.setdefault(event["id"], event)
                    count = len(receiver.deliveries)
                if receiver.block_at is not None and count == receiver.block_at:
                    receiver.blocked.set()
                    receiver.release.wait(60)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._t = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._t.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
