"""A browser's websocket carries no Authorization header: the explorer (js/live.js) sends its
bearer token in the graphql-transport-ws ``connection_init`` payload. That signs the
subscription in like the header; a forged token closes the socket; without either nothing is
subscribed. The subscription's rule (api/auth.py: every signed-in role) lets an operator in too —
the page, not the server, keeps QC's notifications for QC. An account disabled after it
subscribed gets no more notifications."""

from __future__ import annotations

import threading
import time

import jwt
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.app import create_app
from bench.signal_plant import plant
from ontology.codes import AccountStatus
from quality.accounts import set_account_status
from quality.notify import hub
from tests.conftest import PASSWORD, make_user, migrate
from tests.integration.test_signals_api import SUBSCRIBE, run_excursion
from tracegraph.runtime import Runtime

WS = ("/graphql", ["graphql-transport-ws"])


def token(client: TestClient, username: str) -> str:
    r = client.post("/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def test_token_in_connection_init_subscribes_qc_and_operator_alike(runtime: Runtime) -> None:
    migrate(runtime, plant())
    make_user(runtime, "qc.phone", ["qc"])
    make_user(runtime, "op.floor", ["operator"])
    with TestClient(create_app(runtime.settings, runtime)) as client:
        socks = []
        for i, user in enumerate(("qc.phone", "op.floor")):
            ws = client.websocket_connect(WS[0], subprotocols=WS[1]).__enter__()
            ws.send_json({"type": "connection_init",
                          "payload": {"Authorization": f"Bearer {token(client, user)}"}})
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json({"id": str(i), "type": "subscribe", "payload": {"query": SUBSCRIBE}})
            socks.append(ws)
        deadline = time.monotonic() + 10
        while hub.subscribers < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        worker = threading.Thread(target=run_excursion, args=(runtime,))
        worker.start()
        got = [ws.receive_json() for ws in socks]
        worker.join(30)
        for ws in socks:
            ws.__exit__(None, None, None)
    [dev] = runtime.store.nodes_of_class("Deviation")
    for msg in got:
        assert msg["type"] == "next", msg
        n = msg["payload"]["data"]["qcNotifications"]
        assert n["kind"] == "deviation" and n["deviation"] == dev.iri and n["batch"] == "B-MOULD-7"


def test_a_forged_or_absent_token_subscribes_nobody(runtime: Runtime) -> None:
    make_user(runtime, "qc.phone", ["qc"])
    with TestClient(create_app(runtime.settings, runtime)) as client:
        real = token(client, "qc.phone")
        claims = jwt.decode(real, options={"verify_signature": False})
        forged = jwt.encode(claims, "not the server's secret", algorithm="HS256")
        with client.websocket_connect(*WS) as ws:
            ws.send_json({"type": "connection_init",
                          "payload": {"Authorization": f"Bearer {forged}"}})
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
        assert closed.value.code == 4403
        with client.websocket_connect(*WS) as ws:  # no token at all: acknowledged, refused
            ws.send_json({"type": "connection_init", "payload": {}})
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}})
            err = ws.receive_json()
        assert err["type"] == "error" or err["payload"].get("errors"), err
        assert hub.subscribers == 0


def test_a_disabled_account_gets_no_more_notifications(runtime: Runtime) -> None:
    """The account is read again before each message: disabled after subscribing, it gets the
    refusal instead of the deviation (as a disabled account's HTTP requests are refused)."""
    migrate(runtime, plant())
    make_user(runtime, "qc.phone", ["qc"])
    with TestClient(create_app(runtime.settings, runtime)) as client, \
            client.websocket_connect(*WS) as ws:
        ws.send_json({"type": "connection_init",
                      "payload": {"Authorization": f"Bearer {token(client, 'qc.phone')}"}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}})
        deadline = time.monotonic() + 10
        while hub.subscribers < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        set_account_status(runtime, "qc.phone", AccountStatus.DISABLED, "admin",
                           "left the company")
        worker = threading.Thread(target=run_excursion, args=(runtime,))
        worker.start()
        msg = ws.receive_json()
        worker.join(30)
    assert runtime.store.nodes_of_class("Deviation"), "the loop committed its deviation"
    assert "qcNotifications" not in str(msg.get("payload", {}).get("data")), msg
    errors = msg["payload"] if msg["type"] == "error" else msg["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED", msg
