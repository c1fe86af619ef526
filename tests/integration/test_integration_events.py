"""Integration events (issue 18 item 6): every workflow event is an audit entry committed with
its write, read in cursor order, delivered to HMAC-signed webhooks with back-off, and only the
administrator registers an endpoint. (The kill -9 run is in test_integration_events_kill.py.)"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from graph.authority import Principal
from graph.errors import WriteRejectedError
from graph.integration import events_since
from ontology.codes import IntegrationEventType as T
from ontology.codes import RoleName
from quality.deviations import advance, open_deviation
from quality.dispositions import dispose
from quality.holds import place_hold
from quality.workflow import WorkflowRefused
from tests.conftest import PASSWORD, bearer, make_user
from tests.rules_plant import capture, node, plant
from tests.webhook_receiver import Receiver
from tracegraph.integration import DeliveryState, Dispatcher, state_path
from tracegraph.runtime import Runtime

SECRET = "integration-secret-for-the-test"


@pytest.fixture
def rt(runtime: Runtime) -> Runtime:
    plant(runtime)
    capture(runtime, [node("Batch", "B-1", {"batchStatus": "Released"})],
            reason="released before go-live", migrated=True)  # a migration: no event
    for name, role in (("q.c", RoleName.QC), ("q.a", RoleName.QA), ("op", RoleName.OPERATOR),
                       ("adm", RoleName.ADMIN)):
        make_user(runtime, name, [role])
    return runtime


def _workflow(rt: Runtime) -> list[tuple[str, str]]:
    """Run workflow commands; the (event type, record key) each must publish, in order."""
    open_deviation(rt, "DEV-1", "resin viscosity", "supplier notice", "major", "q.c", "notice",
                   [rt.vocab.mint_iri("Batch", "B-1")])
    open_deviation(rt, "DEV-2", "second finding", "another reason", "minor", "q.c", "r")
    with pytest.raises(WorkflowRefused):  # refused: nothing written, no event
        place_hold(rt, "HLD-X", "DEV-1", ["B-1"], "op", PASSWORD, "not mine to place")
    place_hold(rt, "HLD-1", "DEV-1", ["B-1"], "q.c", PASSWORD, "hold")
    advance(rt, "DEV-2", "Triaged", "q.c", PASSWORD, "triaged")
    dispose(rt, "HLD-1", "release", "q.a", PASSWORD, "cleared")
    return list(EXPECTED)


EXPECTED: list[tuple[str, str]] = [
    (T.DEVIATION_RAISED, "DEV-1"), (T.DEVIATION_RAISED, "DEV-2"), (T.HOLD_OPENED, "HLD-1"),
    (T.DEVIATION_ADVANCED, "DEV-2"), (T.HOLD_DISPOSED, "HLD-1")]


@pytest.mark.req("URS-INT-01")
def test_each_workflow_event_is_committed_with_its_write_and_replays_from_any_cursor(
        rt: Runtime) -> None:
    expected = _workflow(rt)
    found, nxt = events_since(rt.store, rt.vocab, 0)
    assert [(e.type, e.key) for e in found] == expected
    assert nxt == rt.store.audit_head()[0]  # everything examined
    # each event is the audit entry of its change: same transaction, same sequence number
    for e in found:
        entry = rt.store.audit_entries(after_seq=e.cursor - 1, limit=1)[0]
        assert (entry.seq, entry.record, entry.tx) == (e.cursor, e.record, e.tx)
    advanced = next(e for e in found if e.type == T.DEVIATION_ADVANCED)
    assert (advanced.old, advanced.new, advanced.actor) == ("Open", "Triaged", "q.c")
    assert len({e.id for e in found}) == len(found)
    # from any cursor: exactly the events after it; paged: the same events
    for i, e in enumerate(found):
        assert events_since(rt.store, rt.vocab, e.cursor)[0] == found[i + 1:]
    paged, cursor = [], 0
    while True:
        page, cursor = events_since(rt.store, rt.vocab, cursor, limit=2, page=7)
        if not page:
            break
        paged.extend(page)
    assert paged == found


@pytest.mark.req("URS-INT-01")
def test_webhooks_get_every_event_signed_in_order_after_failures_backed_off(
        rt: Runtime) -> None:
    expected = _workflow(rt)
    receiver = Receiver(SECRET.encode(), fail_first=3)
    capture_as_admin(rt, "QMS", receiver.url)
    state = DeliveryState(state_path(rt.settings.data_dir))
    d = Dispatcher(rt.store, rt.vocab, state, SECRET.encode())
    try:
        attempts = 0
        deadline = time.monotonic() + 60
        while len(receiver.unique) < len(expected) and time.monotonic() < deadline:
            d.dispatch()
            attempts += 1
            time.sleep(0.05)
        assert [(e["type"], e["key"]) for e in receiver.deliveries] == expected
        assert receiver.requests == len(expected) + 3 and receiver.bad_signatures == 0
        # the three failures backed off 0.5 + 1 + 2 s: the passes in between sent nothing
        assert d.backoff["QMS"].failures == 0 and attempts > 3
        assert state.cursor("QMS") == rt.store.audit_head()[0]
        sent = len(receiver.deliveries)
        d.dispatch()
        assert len(receiver.deliveries) == sent  # nothing new: nothing sent again
        # a new workflow event goes out on the next pass, and only it
        open_deviation(rt, "DEV-3", "third", "r", "minor", "q.c", "r")
        d.dispatch()
        assert [(e["type"], e["key"]) for e in receiver.deliveries[sent:]] == [
            (T.DEVIATION_RAISED, "DEV-3")]
    finally:
        state.close()
        receiver.close()


def capture_as_admin(rt: Runtime, key: str, url: str) -> None:
    rt.capture({"format": "tracegraph.capture/1", "events": [{
        "eventId": f"webhook-{key}", "reason": "wire the QMS", "nodes": [node(
            "WebhookSubscription", key, {"endpointUrl": url})]}]},
        principal=Principal("adm", frozenset({RoleName.ADMIN})))


@pytest.mark.req("URS-INT-01")
def test_an_operator_cannot_register_a_webhook_nor_read_the_secret(rt: Runtime) -> None:
    from tracegraph.settings import Settings

    cfg = Settings(data_dir=rt.settings.data_dir, webhook_secret=SECRET)
    rt.settings = cfg
    with TestClient(create_app(cfg, rt)) as client:
        op, adm = bearer(client, "op"), bearer(client, "adm")
        qc = bearer(client, "q.c")
        body = {"key": "EVIL", "url": "https://attacker.example/hook", "reason": "exfiltrate"}
        for who in (op, qc):
            r = client.post("/api/integration/webhooks", json=body, headers=who)
            assert r.status_code == 403, r.text
            assert client.get("/api/integration/webhooks", headers=who).status_code == 403
        assert client.get("/api/integration/events", headers=op).status_code == 403
        # nor through capture, GraphQL or EPCIS: the Writer's authority table refuses it
        with pytest.raises(WriteRejectedError) as refused:
            rt.capture({"format": "tracegraph.capture/1", "events": [{
                "eventId": "evil", "reason": "exfiltrate", "nodes": [node(
                    "WebhookSubscription", "EVIL", {"endpointUrl": body["url"]})]}]},
                principal=Principal("op", frozenset({RoleName.OPERATOR})))
        assert any(p.value == "WebhookSubscription" or "WebhookSubscription" in p.message
                   for p in refused.value.problems), refused.value.problems
        assert rt.store.nodes_of_class("WebhookSubscription") == []
        # a bad URL is refused by the shapes, naming field, value and rule
        bad = client.post("/api/integration/webhooks", headers=adm, json={
            **body, "key": "FILE", "url": "file:///etc/passwd"})
        assert bad.status_code == 400
        assert any(p["field"] == "endpointUrl" and p["value"] == "file:///etc/passwd"
                   for p in bad.json()["detail"]["problems"]), bad.text
        ok = client.post("/api/integration/webhooks", headers=adm, json={
            **body, "key": "QMS", "url": "https://qms.example.org/hook"})
        assert ok.status_code == 201, ok.text
        listed = client.get("/api/integration/webhooks", headers=adm)
        assert [w["key"] for w in listed.json()["webhooks"]] == ["QMS"]
        assert _workflow(rt) == EXPECTED
        events = client.get("/api/integration/events?after=0&limit=3", headers=qc).json()
        assert len(events["events"]) == 3
        rest = client.get(f"/api/integration/events?after={events['next']}",
                          headers=qc).json()
        assert [(e["type"], e["key"]) for e in events["events"] + rest["events"]] == EXPECTED
        for who in (op, adm, qc):  # no answer carries the secret
            for path in ("/api/integration/webhooks", "/api/integration/events", "/health"):
                assert SECRET not in client.get(path, headers=who).text



@pytest.mark.req("URS-INT-01")
def test_the_validation_report_masks_every_secret_setting() -> None:
    """The IQ section of `tracegraph validation run` lists the configuration (a record every
    auditor reads): the webhook secret, like every secret setting, shows only as set."""
    from tracegraph.settings import Settings
    from tracegraph.validation.run import _SECRETS

    secret_like = {k for k in Settings.model_fields if "secret" in k or "password" in k}
    assert secret_like and secret_like <= _SECRETS
