"""``placeHold`` (quality.holds.place_hold): a hold placed by hand by QA or QC, re-authenticated,
raised by an open deviation, on named lots/batches/sublots/units, which go OnHold — and what the
plant rules then refuse. An operator, a wrong password, no reason, a closed deviation or an
unholdable item write nothing. A second hold on an already-held entity is accepted (its own
reason and disposition); the same hold re-sent writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from graph.errors import RefusedError, WriteRejectedError
from ontology.codes import BatchStatus, HoldState, MaterialLotStatus, RoleName
from ontology.terms import C, P, R
from quality.deviations import open_deviation
from quality.dispositions import dispose
from quality.holds import place_hold
from quality.workflow import WorkflowRefused
from tests.conftest import PASSWORD, bearer, make_user
from tests.rules_plant import capture, consume, lot, node, plant
from tracegraph.runtime import Runtime

AT = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
CASE = "095060001000000012"


@pytest.fixture
def rt(runtime: Runtime) -> Runtime:
    plant(runtime)
    capture(runtime, [], [consume("RL-OK", 20.0)])
    capture(runtime, [node("SerializedUnit", "SN-1", {"gtin": "09506000134369"},
                           {"ofProduct": "Product/CONN"})],
            [{"kind": "production", "output": "SerializedUnit/SN-1", "input": "Batch/B-1",
              "quantity": 1, "unit": "{pc}"}])
    capture(runtime, [node("PackagingAggregation", CASE, {"packagingLevel": "case"})],
            [{"kind": "aggregation", "output": f"PackagingAggregation/{CASE}",
              "input": "SerializedUnit/SN-1"}])
    capture(runtime, [node("Customer", "HOSP-1", {"name": "hospital"}),
                      node("Batch", "B-1", {"batchStatus": "Released"})],
            reason="released before the hold", migrated=True)
    for name, role in (("q.c", RoleName.QC), ("q.a", RoleName.QA), ("op", RoleName.OPERATOR)):
        make_user(runtime, name, [role])
    open_deviation(runtime, "DEV-1", "resin viscosity", "supplier notice", "major", "q.c",
                   "supplier notice", [runtime.vocab.mint_iri(C.Batch, "B-1")])
    open_deviation(runtime, "DEV-2", "second finding", "another reason", "minor", "q.c", "r")
    return runtime


def _iri(rt: Runtime, cls: str, key: str) -> str:
    return rt.vocab.mint_iri(cls, key)


def _status(rt: Runtime, cls: str, key: str, prop: str) -> object:
    n = rt.store.get(_iri(rt, cls, key))
    assert n is not None
    return n.props.get(prop)


def _nothing_written(rt: Runtime, call: object, rule: str) -> None:
    before = rt.store.counts(), _status(rt, C.Batch, "B-1", P.batchStatus)
    with pytest.raises(RefusedError) as exc:
        call()  # type: ignore[operator]  # a zero-argument callable
    assert exc.value.code == rule, exc.value
    assert rt.store.get(_iri(rt, C.Hold, "HLD-1")) is None
    assert (rt.store.counts(), _status(rt, C.Batch, "B-1", P.batchStatus)) == before


@pytest.mark.parametrize("user", ["q.c", "q.a"])
@pytest.mark.req("URS-NC-01")
def test_qa_or_qc_place_a_hold_and_the_items_go_on_hold(rt: Runtime, user: str) -> None:
    hold = place_hold(rt, "HLD-1", "DEV-1", ["B-1", "RL-OK"], user, PASSWORD,
                      "supplier notice: lot out of specification", clock=lambda: AT)
    assert hold.props[P.holdState] == HoldState.ACTIVE
    assert str(hold.props[P.openedAt]).startswith("2026-03-03T09:30:00")  # the event time
    links = rt.store.links([hold.iri], [R.HOLDS, R.RAISED_BY])
    assert sorted(e.dst for e in links if e.type == R.HOLDS) == sorted(
        [_iri(rt, C.Batch, "B-1"), _iri(rt, C.MaterialLot, "RL-OK")])
    assert [e.dst for e in links if e.type == R.RAISED_BY] == [_iri(rt, C.Deviation, "DEV-1")]
    assert _status(rt, C.Batch, "B-1", P.batchStatus) == BatchStatus.ON_HOLD
    assert _status(rt, C.MaterialLot, "RL-OK", P.materialLotStatus) == \
        MaterialLotStatus.ON_HOLD
    [entry] = [t for t in rt.store.audit_entries(record=_iri(rt, C.Batch, "B-1"))
               if t.field == P.batchStatus and t.new == BatchStatus.ON_HOLD]
    assert entry.actor == user and entry.event_id == "quality:HLD-1:hold"


@pytest.mark.req("URS-NC-01")
def test_an_operator_cannot_place_a_hold(rt: Runtime) -> None:
    _nothing_written(rt, lambda: place_hold(rt, "HLD-1", "DEV-1", ["B-1"], "op", PASSWORD,
                                            "I think it is bad"), "role")


def test_a_wrong_password_is_refused(rt: Runtime) -> None:
    with pytest.raises(RefusedError) as exc:
        place_hold(rt, "HLD-1", "DEV-1", ["B-1"], "q.c", "not the password", "r")
    assert exc.value.code == "invalid-credentials"
    assert rt.store.get(_iri(rt, C.Hold, "HLD-1")) is None
    assert _status(rt, C.Batch, "B-1", P.batchStatus) == BatchStatus.RELEASED


@pytest.mark.req("URS-NC-01")
def test_reason_deviation_and_items_are_required(rt: Runtime) -> None:
    _nothing_written(rt, lambda: place_hold(rt, "HLD-1", "DEV-1", ["B-1"], "q.c", PASSWORD,
                                            "  "), "reason-required")
    _nothing_written(rt, lambda: place_hold(rt, "HLD-1", "DEV-9", ["B-1"], "q.c", PASSWORD,
                                            "r"), "no-such-record")
    capture(rt, [node("Deviation", "DEV-OLD", {
        "recordNumber": "DEV-OLD", "title": "old", "deviationGrade": "minor",
        "deviationState": "Closed", "openedAt": "2025-01-01T00:00:00Z",
        "closedAt": "2025-02-01T00:00:00Z"})], reason="legacy", migrated=True)
    _nothing_written(rt, lambda: place_hold(rt, "HLD-1", "DEV-OLD", ["B-1"], "q.c", PASSWORD,
                                            "r"), "deviation-closed")
    _nothing_written(rt, lambda: place_hold(rt, "HLD-1", "DEV-1", [], "q.c", PASSWORD, "r"),
                     "items-required")
    _nothing_written(rt, lambda: place_hold(rt, "HLD-1", "DEV-1", ["B-1", "Customer/HOSP-1"],
                                            "q.c", PASSWORD, "r"), "not-holdable")


@pytest.mark.req("URS-NC-01")
def test_a_held_batch_cannot_be_consumed_or_shipped(rt: Runtime) -> None:
    place_hold(rt, "HLD-1", "DEV-1", ["B-1"], "q.c", PASSWORD, "hold", clock=lambda: AT)
    lot(rt, "RL-2")
    before = rt.store.counts()
    with pytest.raises(WriteRejectedError) as exc:  # the held batch consumed into another
        capture(rt, [node("Batch", "B-2", {"batchStatus": "InProcess"},
                          {"ofProduct": "Product/CONN"})],
                [consume("B-1", 1, "{pc}", batch="B-2", time="2026-03-04T08:00:00Z",
                         execution=None, input_cls="Batch")])
    assert "held-material" in {p.rule for p in exc.value.problems}, exc.value.problems
    with pytest.raises(WriteRejectedError) as exc:  # its units, in a case, shipped
        capture(rt, [node("Shipment", "SHIP-1", {"shippedAt": "2026-03-05T10:00:00Z"},
                          {"shippedTo": "Customer/HOSP-1"})],
                [{"kind": "shipment", "output": "Shipment/SHIP-1",
                  "input": f"PackagingAggregation/{CASE}"}])
    rules = {p.rule for p in exc.value.problems}
    assert "held-material" in rules or "shipment-on-hold" in rules, exc.value.problems
    assert rt.store.counts() == before


def test_a_second_hold_on_a_held_entity_is_accepted_and_both_must_be_resolved(
        rt: Runtime) -> None:
    place_hold(rt, "HLD-1", "DEV-1", ["B-1"], "q.c", PASSWORD, "first reason")
    b1 = _iri(rt, C.Batch, "B-1")
    status_entries = len([t for t in rt.store.audit_entries(record=b1)
                          if t.field == P.batchStatus])
    second = place_hold(rt, "HLD-2", "DEV-2", ["B-1"], "q.a", PASSWORD, "second reason")
    assert second.props[P.holdState] == HoldState.ACTIVE
    assert len([t for t in rt.store.audit_entries(record=b1)  # status not written again
                if t.field == P.batchStatus]) == status_entries
    dispose(rt, "HLD-1", "release", "q.a", PASSWORD, "first reason cleared")
    assert _status(rt, C.Batch, "B-1", P.batchStatus) == BatchStatus.ON_HOLD  # HLD-2 holds it
    dispose(rt, "HLD-2", "release", "q.a", PASSWORD, "second reason cleared")
    assert _status(rt, C.Batch, "B-1", P.batchStatus) == BatchStatus.COMPLETED


def test_the_same_hold_resent_writes_nothing_and_other_content_is_refused(rt: Runtime) -> None:
    first = place_hold(rt, "HLD-1", "DEV-1", ["B-1", "RL-OK"], "q.c", PASSWORD, "hold")
    mark = rt.store.watermark()
    again = place_hold(rt, "HLD-1", "DEV-1", ["RL-OK", _iri(rt, C.Batch, "B-1")], "q.c",
                       PASSWORD, "hold")
    assert again.iri == first.iri and rt.store.watermark() == mark
    with pytest.raises(WorkflowRefused) as exc:
        place_hold(rt, "HLD-1", "DEV-2", ["B-1"], "q.c", PASSWORD, "hold")
    assert exc.value.code == "hold-exists" and rt.store.watermark() == mark


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt.settings, rt)) as c:
        yield c


MUTATION = ('mutation($p: String!, $i: [String!]!) { placeHold(deviation: "DEV-1", items: $i, '
            'password: $p, reason: "supplier notice", key: "HLD-1") { ok state '
            'problems { rule field value } } }')


def test_graphql_place_hold_qc_can_an_operator_cannot(rt: Runtime, client: TestClient) -> None:
    before = rt.store.watermark()
    body = client.post("/graphql", json={"query": MUTATION, "variables": {
        "p": PASSWORD, "i": ["B-1"]}}, headers=bearer(client, "op")).json()
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert rt.store.watermark() == before
    body = client.post("/graphql", json={"query": MUTATION, "variables": {
        "p": "wrong", "i": ["B-1"]}}, headers=bearer(client, "q.c")).json()
    assert body["data"]["placeHold"]["ok"] is False
    assert body["data"]["placeHold"]["problems"][0]["rule"] == "invalid-credentials"
    assert rt.store.get(_iri(rt, C.Hold, "HLD-1")) is None
    body = client.post("/graphql", json={"query": MUTATION, "variables": {
        "p": PASSWORD, "i": ["B-1"]}}, headers=bearer(client, "q.c")).json()
    assert body["data"]["placeHold"] == {"ok": True, "state": "Active", "problems": []}
    assert _status(rt, C.Batch, "B-1", P.batchStatus) == BatchStatus.ON_HOLD
