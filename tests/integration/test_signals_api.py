"""Signals over the API on both engines: the raw window around a deviation (GraphQL query) and
the QC notification subscription received by a real websocket subscriber when the loop
commits a deviation."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from bench.signal_plant import HELD, TAGS, TOPIC, plant, signal
from ingest.signals.model import TagMap
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from quality.notify import hub
from tests.conftest import bearer, make_user, migrate
from tracegraph.runtime import Runtime

SUBSCRIBE = ("subscription { qcNotifications { kind batch grade deviation hold held "
             "equipment parameter } }")


def run_excursion(rt: Runtime) -> SignalPipeline:
    p = SignalPipeline(rt, TagMap.model_validate(TAGS), RawStore(rt.settings.data_dir /
                                                                 "signals"))
    obs = [p.observation(TOPIC, v, t, sequence=i)
           for i, (t, v) in enumerate(signal("excursion"))]
    p.process([o for o in obs if o is not None])
    return p


def test_qc_subscriber_receives_the_deviation_and_reads_its_signal_window(
        runtime: Runtime, tmp_path: Path) -> None:
    migrate(runtime, plant())
    make_user(runtime, "qc.lead", ["qc"])
    with TestClient(create_app(runtime.settings, runtime)) as client:
        auth = bearer(client, "qc.lead")
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"],
                                      headers=auth) as ws:
            ws.send_json({"type": "connection_init"})
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}})
            deadline = time.monotonic() + 10
            while hub.subscribers == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            worker = threading.Thread(target=run_excursion, args=(runtime,))
            worker.start()
            msg = ws.receive_json()
            worker.join(30)
            ws.send_json({"id": "1", "type": "complete"})
        assert msg["type"] == "next", msg
        n = msg["payload"]["data"]["qcNotifications"]
        assert n["kind"] == "deviation" and n["batch"] == "B-MOULD-7"
        assert n["grade"] == "critical" and n["equipment"] == "IMM-01"
        held = {x.key for x in runtime.store.get_many(n["held"]).values()}
        assert held == HELD

        q = ("query($r: String!) { signalWindow(record: $r, before: 10, after: 30) { "
             "parameter equipment execution detectedAt limits { usl isCpp } "
             "samples { time value } } }")
        body = client.post("/graphql", json={"query": q, "variables": {"r": n["deviation"]}},
                           headers=auth).json()
        w = body["data"]["signalWindow"]
        assert w["parameter"] == "MELT-TEMP" and w["execution"] == "B-MOULD-7/OP10"
        assert w["limits"] == {"usl": 250.0, "isCpp": True}
        values = [s["value"] for s in w["samples"]]
        assert len(values) == 41 and max(values) > 250  # 10 s before to 30 s after, 1 Hz
        # unauthenticated: no subscription
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init"})
            ws.receive_json()
            ws.send_json({"id": "2", "type": "subscribe", "payload": {"query": SUBSCRIBE}})
            err = ws.receive_json()
        assert err["type"] == "error" or err["payload"].get("errors"), err
