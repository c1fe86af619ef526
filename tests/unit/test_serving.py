"""``tests.serving.answering``, the one wait for a started server: it returns once /health
answers, and fails with the tail of the server's log when the process exits first or the
deadline passes (so a test that cannot start its server says why)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.serving import answering, free_port


def start(code: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-c", code], stdout=out,
                                stderr=subprocess.STDOUT)


def test_a_server_that_exits_fails_with_its_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    proc = start("import sys; print('x' * 9000); print('port 1 is taken'); sys.exit(3)", log)
    with pytest.raises(AssertionError) as e:
        answering(proc, f"http://127.0.0.1:{free_port()}", log, 60)
    assert "exited (3)" in str(e.value) and "port 1 is taken" in str(e.value)
    assert len(str(e.value)) < 5000  # the tail, not the whole log


def test_a_server_that_never_answers_fails_at_the_deadline(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    proc = start("import time; print('loading the plant', flush=True); time.sleep(60)", log)
    try:
        with pytest.raises(AssertionError) as e:
            answering(proc, f"http://127.0.0.1:{free_port()}", log, 2)
        assert "within 2 s" in str(e.value) and "loading the plant" in str(e.value)
    finally:
        proc.kill()
        proc.wait()


def test_it_returns_once_health_answers(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    port = free_port()
    proc = start(f"""
import http.server, time
time.sleep(0.5)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404); self.end_headers()
http.server.HTTPServer(("127.0.0.1", {port}), H).serve_forever()
""", log)
    try:
        answering(proc, f"http://127.0.0.1:{port}", log, 60)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
