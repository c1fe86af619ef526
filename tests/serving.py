"""The API served over real HTTP for clients that need a URL (curl, a browser): by uvicorn in a
thread of the test process over a test's runtime (either engine, ``served``), or by a
``tracegraph`` process the test started, waited for until it answers (``answering``)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from bench.mosquitto import free_port
from tracegraph.runtime import Runtime

__all__ = ["answering", "free_port", "served"]


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


def answering(proc: subprocess.Popen[Any], url: str, log: Path, seconds: float) -> None:
    """Wait until the server ``proc`` started answers ``GET {url}/health`` with 200; fail with
    the tail of its ``log`` (where its output goes) if it exits first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"{url}: the server exited ({proc.returncode}) before it "
                                 f"answered:\n{_tail(log)}")
        if time.monotonic() >= deadline:
            raise AssertionError(f"{url}: the server did not answer /health within {seconds} s:"
                                 f"\n{_tail(log)}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)


def _tail(log: Path, chars: int = 4000) -> str:
    text = log.read_text(errors="replace") if log.exists() else f"({log} was not written)"
    return text[-chars:]
