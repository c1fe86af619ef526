"""The API served over real HTTP by uvicorn in a thread of the test process, over a test's
runtime (either engine), for clients that need a URL (curl, a browser)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from api.app import create_app
from tests.integration.test_demo import free_port
from tracegraph.runtime import Runtime


@contextmanager
def served(runtime: Runtime, port: int | None = None) -> Iterator[str]:
    """Serve the app on a free port of 127.0.0.1 (or ``port``: the same server again after a
    restart); yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(runtime.settings, runtime),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the app did not come up"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
