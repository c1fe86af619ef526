"""A real HTTP receiver for QC webhook notifications: every JSON body POSTed to it, in order.
Used by the signal fault bench and the signal tests."""

from __future__ import annotations

import http.server
import threading
from typing import Any

import orjson

__all__ = ["Webhook"]


class Webhook:
    """A real HTTP receiver collecting the JSON bodies POSTed to it (``url``)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", 0))
                received.append(orjson.loads(self.rfile.read(n)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/qc"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
