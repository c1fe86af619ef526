"""QC notifications through a real server process: uvicorn serving the app in a subprocess
(not a test client), a websocket client speaking graphql-transport-ws, and an excursion driven
in that process after the subscription is open (tests/serve_excursion.py). Embedded engine;
no broker, no browser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from websockets.sync.client import connect

from bench.signal_plant import HELD, plant
from tests.conftest import PASSWORD, ROOT, make_user, migrate
from tests.integration.test_signals_api import SUBSCRIBE
from tests.serving import answering, free_port
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


def test_a_served_process_notifies_a_websocket_subscriber_of_an_excursion(
        tmp_path: Path) -> None:
    rt = Runtime.open(Settings(data_dir=tmp_path, store="embedded"))
    migrate(rt, plant())
    make_user(rt, "qc.lead", ["qc"])
    rt.close()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRACEGRAPH_SECRET_KEY": "served-test-key"}
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.serve_excursion", str(tmp_path),
                                 str(port)], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"127.0.0.1:{port}"
    try:
        answering(proc, f"http://{url}", log, 60)
        token = httpx.post(f"http://{url}/auth/token", timeout=30, data={
            "username": "qc.lead", "password": PASSWORD}).json()["access_token"]
        with connect(f"ws://{url}/graphql", subprotocols=["graphql-transport-ws"],
                     additional_headers={"Authorization": f"Bearer {token}"},
                     open_timeout=30) as ws:
            ws.send(json.dumps({"type": "connection_init"}))
            assert json.loads(ws.recv(timeout=30))["type"] == "connection_ack"
            ws.send(json.dumps({"id": "1", "type": "subscribe",
                                "payload": {"query": SUBSCRIBE}}))
            msg = json.loads(ws.recv(timeout=120))
            ws.send(json.dumps({"id": "1", "type": "complete"}))
    finally:
        proc.terminate()
        proc.wait(30)
    assert msg["type"] == "next", msg
    n = msg["payload"]["data"]["qcNotifications"]
    assert n["kind"] == "deviation" and n["batch"] == "B-MOULD-7" and n["grade"] == "critical"
    rt = Runtime.open(Settings(data_dir=tmp_path, store="embedded"))
    try:
        assert {x.key for x in rt.store.get_many(n["held"]).values()} == HELD
    finally:
        rt.close()
