"""Supplier quality (issue 18 item 2) on both engines: the approved supplier list enforced at
receipt, incoming inspection by an ISO 2859-1 plan moving a lot out of quarantine, SCARs with
their lifecycle, the scorecard against an independent computation over the capture documents,
and the attacks an operator (or the wrong quality role) could try.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import networkx as nx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from graph.errors import WriteRejectedError
from ontology.codes import MaterialLotStatus
from quality.deviations import open_deviation
from quality.lots import decide_lot
from quality.supplier_scorecard import scorecard
from quality.suppliers import (
    approve_supplier_material,
    approved_supplier_list,
    close_scar,
    inspect_incoming_lot,
    issue_scar,
    record_scar_response,
)
from quality.workflow import WorkflowRefused
from tests.conftest import PASSWORD, bearer, make_user
from tests.rules_plant import capture, consume, node, plant, refused_by
from tracegraph.runtime import Runtime

Json = dict[str, Any]
MARCH = ("2026-03-01", "2026-04-01")


def at(text: str) -> Any:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    return lambda: moment


@pytest.fixture
def rt(runtime: Runtime) -> Runtime:
    plant(runtime)
    for role in ("qa", "qc", "operator", "engineer"):
        make_user(runtime, f"u.{role}", [role])
    # a second supplier, entered by engineering (capture may only make it conditional) and
    # approved by QA on the list for resin only
    capture(runtime, [node("Supplier", "SUP-TWO", {"name": "Resin Two", "supplierStatus":
                                                   "conditional"})], reason="new supplier")
    approve_supplier_material(runtime, "SUP-TWO", "RESIN", "approved", "u.qa", PASSWORD,
                              "supplier audit passed", scope="PP resin, grade H350",
                              until="2026-12-31")
    return runtime


def receipt(key: str, supplier: str, received: str, material: str = "RESIN") -> Json:
    return node("MaterialLot", key, {
        "quantity": 100.0, "unitCode": "kg", "materialLotStatus": "Quarantine",
        "expiryDate": "2027-06-01", "supplierLotNumber": f"S-{key}", "receivedAt": received},
        {"ofMaterial": f"Material/{material}", "suppliedBy": f"Supplier/{supplier}"})


def receive(rt: Runtime, key: str, supplier: str, received: str,
            material: str = "RESIN") -> Json:
    doc = receipt(key, supplier, received, material)
    capture(rt, [doc], reason="goods receipt")
    return doc


# -- the approved supplier list at receipt --------------------------------------------------------
@pytest.mark.req("URS-SUP-01")
def test_receipts_from_suppliers_not_approved_for_the_material_are_refused(rt: Runtime) -> None:
    [p] = refused_by(rt, lambda: receive(rt, "RL-BAD", "SUP-BAD", "2026-03-03T08:00:00Z"),
                     "asl-approved")
    assert (p.field, p.value) == ("supplierStatus", "disqualified")
    [p] = refused_by(rt, lambda: receive(rt, "RL-DYE", "SUP-TWO", "2026-03-03T08:00:00Z",
                                         "DYE"), "asl-approved")
    assert (p.field, p.value) == ("aslStatus", None)  # approved for resin, not for dye
    assert "not on the approved supplier list for material DYE" in p.message
    [p] = refused_by(rt, lambda: receive(rt, "RL-LATE", "SUP-TWO", "2027-01-01T00:00:00Z"),
                     "asl-expired")
    assert (p.field, p.value) == ("approvedUntil", "2026-12-31")
    receive(rt, "RL-LAST-DAY", "SUP-TWO", "2026-12-31T23:00:00Z")  # valid through its day
    # a supplier without a receipt time is checked at the write time (after the expiry: refused)
    approve_supplier_material(rt, "SUP-TWO", "RESIN", "approved", "u.qa", PASSWORD, "re-approved",
                              until="2026-01-31")
    doc = receipt("RL-NOW", "SUP-TWO", "")
    del doc["properties"]["receivedAt"]
    refused_by(rt, lambda: capture(rt, [doc]), "asl-expired")
    # disqualified for the material: refused; re-approved: accepted
    approve_supplier_material(rt, "SUP-TWO", "RESIN", "disqualified", "u.qa", PASSWORD,
                              "failed audit")
    refused_by(rt, lambda: receive(rt, "RL-DQ", "SUP-TWO", "2026-01-10T00:00:00Z"),
               "asl-approved")
    [entry] = approved_supplier_list(rt.store, material=rt.vocab.mint_iri("Material", "DYE"))
    assert (entry.key, entry.status) == ("ASL/SUP-OK/DYE", "approved")


# -- incoming inspection, quarantine, consumption --------------------------------------------------
@pytest.mark.req("URS-SUP-02")
def test_rejected_incoming_lot_cannot_be_consumed_and_its_supplier_scorecard_counts_it(
        rt: Runtime) -> None:
    receive(rt, "RL-R", "SUP-OK", "2026-03-03T08:00:00Z")
    # in quarantine: not consumable
    refused_by(rt, lambda: capture(rt, derivations=[consume("RL-R")]), "lot-approved")
    # lot of 1000 items at AQL 1.0, level II: code J, 80 samples, Ac 2 Re 3 (ISO 2859-1 Tables
    # 1 and 2-A); 3 nonconforming found → rejected
    iri, plan, accepted = inspect_incoming_lot(rt, "RL-R", 1000, "1.0", 3, "u.qc", PASSWORD,
                                               "IQC: 3 short shots in 80")
    assert (plan.code_letter, plan.sample_size, plan.accept, plan.reject, accepted) == \
        ("J", 80, 2, 3, False)
    lot = rt.store.get(rt.vocab.mint_iri("MaterialLot", "RL-R"))
    assert lot is not None and lot.props["materialLotStatus"] == MaterialLotStatus.REJECTED
    insp = rt.store.get(iri)
    assert insp is not None and insp.props["inspectionOutcome"] == "nonconforming"
    [p] = refused_by(rt, lambda: capture(rt, derivations=[consume("RL-R")]), "lot-approved")
    assert (p.field, p.value) == ("materialLotStatus", "Rejected")
    with pytest.raises(WorkflowRefused) as e:  # no second decision on a rejected lot
        decide_lot(rt, "RL-R", "Approved", "u.qc", PASSWORD, "override")
    assert e.value.code == "lot-not-in-quarantine"
    card = scorecard(rt.store, rt.vocab.mint_iri("Supplier", "SUP-OK"), *MARCH, "2026-04-01")
    assert (card.lots_received, card.lots_rejected, card.rejection_rate) == \
        (["RL-R"], ["RL-R"], 1.0)
    # an accepted lot is consumable
    receive(rt, "RL-G", "SUP-OK", "2026-03-04T08:00:00Z")
    _, plan, accepted = inspect_incoming_lot(rt, "RL-G", 1000, "1.0", 2, "u.qc", PASSWORD, "IQC")
    assert accepted and plan.accept == 2
    capture(rt, derivations=[consume("RL-G", time="2026-03-05T08:00:00Z")])


# -- SCAR lifecycle -----------------------------------------------------------------------------
@pytest.mark.req("URS-SUP-03")
def test_scar_lifecycle_and_its_refusals(rt: Runtime) -> None:
    dev = open_deviation(rt, "DEV-S", "resin contamination", "black specks", "major", "u.qa",
                         "incoming", concerns=[rt.vocab.mint_iri("MaterialLot", "RL-OK")])
    s = issue_scar(rt, "SCAR-1", "SUP-OK", "black specks", "contain and correct", "2026-04-30",
                   "u.engineer", "deviation traced to the supplier", deviations=[dev.key])
    assert s.props["scarState"] == "Issued"
    with pytest.raises(WorkflowRefused) as e:
        close_scar(rt, "SCAR-1", "u.qa", PASSWORD, "no response yet")
    assert (e.value.code, e.value.field, e.value.value) == ("scar-state", "scarState", "Issued")
    with pytest.raises(WorkflowRefused) as e:
        issue_scar(rt, "SCAR-2", "SUP-OK", "t", "d", "30.04.2026", "u.qa", "r")
    assert (e.value.code, e.value.field) == ("date", "dueDate")
    record_scar_response(rt, "SCAR-1", "dryer filter replaced; 8D attached", "u.qc", "received")
    closed = close_scar(rt, "SCAR-1", "u.qa", PASSWORD, "response verified on next 3 lots")
    assert closed.props["scarState"] == "Closed" and closed.props["closedAt"]
    with pytest.raises(WorkflowRefused):
        record_scar_response(rt, "SCAR-1", "again", "u.qc", "r")


# -- the scorecard against an independent computation ---------------------------------------------
def _oracle(receipts: list[Json], uses: list[Json], found: dict[str, tuple[int, int]],
            devs: dict[str, tuple[str, list[str]]], scars: list[tuple[str, str, str, str | None]],
            supplier: str, now: str) -> dict[str, list[str]]:
    """The scorecard recomputed from the capture documents and the command inputs: genealogy
    with networkx, acceptance numbers from the published ISO 2859-1 table (given with
    ``found`` as (nonconforming, Ac))."""
    start, end = (f"{d}T00:00:00Z" for d in MARCH)
    g = nx.DiGraph()
    supplier_of = {d["key"]: d["links"]["suppliedBy"].split("/")[1] for d in receipts}
    supplier_of["RL-OK"] = "SUP-OK"  # the plant's lot (tests.rules_plant)
    for u in uses:
        g.add_edge(u["input"].split("/")[1], u["output"].split("/")[1])
    mine = {k for k, s in supplier_of.items() if s == supplier}
    received = sorted(d["key"] for d in receipts if d["key"] in mine
                      and start <= d["properties"]["receivedAt"] < end)
    rejected = sorted(k for k in received if found[k][0] > found[k][1])
    reached = set(mine)
    for lot in mine:
        if lot in g:
            reached |= nx.descendants(g, lot)
    deviations = sorted(k for k, (opened, concerns) in devs.items()
                        if start <= opened < end and reached & set(concerns))
    on_time, late, pending = [], [], []
    for key, sup, due, closed in scars:
        if sup != supplier or not start[:10] <= due < end[:10]:
            continue
        if closed is not None:
            (on_time if closed[:10] <= due else late).append(key)
        else:
            (late if now[:10] > due else pending).append(key)
    return {"lots_received": received, "lots_rejected": rejected, "deviations": deviations,
            "scars_on_time": on_time, "scars_late": late, "scars_pending": pending}


@pytest.mark.req("URS-SUP-03")
def test_scorecard_equals_an_independent_computation_over_the_capture_documents(
        rt: Runtime) -> None:
    receipts = [receive(rt, k, s, t) for k, s, t in (
        ("RL-A", "SUP-OK", "2026-03-03T08:00:00Z"), ("RL-B", "SUP-OK", "2026-03-04T08:00:00Z"),
        ("RL-C", "SUP-TWO", "2026-03-05T08:00:00Z"), ("RL-D", "SUP-OK", "2026-04-10T08:00:00Z"),
        ("RL-E", "SUP-TWO", "2026-03-06T08:00:00Z"))]
    # (lot size, AQL, nonconforming found) and Ac of the published plan: 500 → H, n 50, Ac 1;
    # 1000 → J, n 80, Ac 2; 200 → G, arrow down to H, n 50, Ac 1
    plans = {"RL-A": (500, 0, 1), "RL-B": (1000, 3, 2), "RL-C": (200, 1, 1),
             "RL-D": (500, 0, 1), "RL-E": (200, 5, 1)}
    for lot, (size, bad, _ac) in plans.items():
        inspect_incoming_lot(rt, lot, size, "1.0", bad, "u.qc", PASSWORD, "IQC")
    capture(rt, [node("Batch", "B-2", {"batchStatus": "InProcess", "quantity": 1000,
                                       "unitCode": "{pc}"},
                      {"ofProduct": "Product/CONN", "runsProcessVersion":
                       "ProcessVersion/MOULD/v1"}),
                 node("OperationExecution", "B-2/OP10", {"startedAtTime": "2026-03-06T08:00:00Z",
                                                         "executionStatus": "Started"},
                      {"forBatch": "Batch/B-2", "executesOperation": "Operation/MOULD/v1/OP10",
                       "onEquipment": "Equipment/PRESS-1"})], reason="batch started")
    uses = [consume("RL-A", time="2026-03-06T09:00:00Z"),
            consume("RL-OK", time="2026-03-06T09:00:00Z"),
            consume("RL-C", batch="B-2", execution="B-2/OP10", time="2026-03-06T10:00:00Z")]
    capture(rt, derivations=uses)
    lot, batch = (lambda k: rt.vocab.mint_iri("MaterialLot", k)), \
        (lambda k: rt.vocab.mint_iri("Batch", k))
    devs = {"DEV-1": ("2026-03-10T08:00:00Z", ["B-1"]), "DEV-2": ("2026-03-12T08:00:00Z", ["B-2"]),
            "DEV-3": ("2026-03-04T09:00:00Z", ["RL-B"]), "DEV-4": ("2026-04-15T08:00:00Z", ["B-1"])}
    for k, (opened, concerns) in devs.items():
        open_deviation(rt, k, f"deviation {k}", "found in production", "minor", "u.qa", "found",
                       concerns=[batch(c) if c.startswith("B-") else lot(c) for c in concerns],
                       clock=at(opened))
    scars: list[tuple[str, str, str, str | None]] = []
    for key, sup, due, dev, responded, closed in (
            ("SCAR-1", "SUP-OK", "2026-03-20", "DEV-3", "2026-03-15T08:00:00Z",
             "2026-03-18T08:00:00Z"),
            ("SCAR-2", "SUP-OK", "2026-03-25", "DEV-1", None, None),
            ("SCAR-3", "SUP-TWO", "2026-03-28", "DEV-2", "2026-03-29T08:00:00Z",
             "2026-03-30T08:00:00Z"),
            ("SCAR-4", "SUP-TWO", "2026-04-20", "DEV-2", None, None),
            ("SCAR-5", "SUP-OK", "2026-03-31", "DEV-1", None, None)):
        issue_scar(rt, key, sup, "corrective action", "see deviation", due, "u.qa", "traced",
                   deviations=[dev], clock=at("2026-03-12T08:00:00Z"))
        if responded:
            record_scar_response(rt, key, "8D report", "u.qc", "received", clock=at(responded))
        if closed:
            close_scar(rt, key, "u.qa", PASSWORD, "verified", clock=at(closed))
        scars.append((key, sup, due, closed))
    issue_scar(rt, "SCAR-6", "SUP-OK", "raised in error", "x", "2026-03-15", "u.qa", "oops")
    close_scar(rt, "SCAR-6", "u.qa", PASSWORD, "raised in error", cancel=True)  # counts nowhere
    now = "2026-03-31T12:00:00Z"
    found = {k: (bad, ac) for k, (_size, bad, ac) in plans.items()}
    for supplier in ("SUP-OK", "SUP-TWO"):
        card = scorecard(rt.store, rt.vocab.mint_iri("Supplier", supplier), *MARCH, now)
        got = {k: getattr(card, k) for k in ("lots_received", "lots_rejected", "deviations",
                                             "scars_on_time", "scars_late", "scars_pending")}
        assert got == _oracle(receipts, uses, found, devs, scars, supplier, now), supplier
    ok = scorecard(rt.store, rt.vocab.mint_iri("Supplier", "SUP-OK"), *MARCH, now)
    assert (ok.lots_received, ok.lots_rejected, ok.deviations) == (
        ["RL-A", "RL-B"], ["RL-B"], ["DEV-1", "DEV-3"])  # the oracle is not vacuous
    assert (ok.scars_on_time, ok.scars_late, ok.scars_pending, ok.scar_on_time_rate) == (
        ["SCAR-1"], ["SCAR-2"], ["SCAR-5"], 0.5)


# -- attacks --------------------------------------------------------------------------------------
@pytest.mark.parametrize("step", ["approve supplier", "inspect lot", "decide lot", "close scar"])
def test_operator_and_wrong_roles_cannot_run_the_quality_steps(rt: Runtime, step: str) -> None:
    receive(rt, "RL-Q", "SUP-OK", "2026-03-03T08:00:00Z")
    before = rt.store.watermark()
    runs = {
        "approve supplier": lambda u: approve_supplier_material(
            rt, "SUP-TWO", "DYE", "approved", u, PASSWORD, "self-approved"),
        "inspect lot": lambda u: inspect_incoming_lot(rt, "RL-Q", 500, "1.0", 0, u, PASSWORD,
                                                      "looks fine"),
        "decide lot": lambda u: decide_lot(rt, "RL-Q", "Approved", u, PASSWORD, "urgent"),
        "close scar": lambda u: close_scar(rt, "SCAR-X", u, PASSWORD, "done", cancel=True)}
    wrong = {"approve supplier": ("u.operator", "u.engineer", "u.qc"),
             "inspect lot": ("u.operator", "u.engineer"),
             "decide lot": ("u.operator", "u.engineer"),
             "close scar": ("u.operator", "u.engineer", "u.qc")}[step]
    for user in wrong:
        with pytest.raises(WorkflowRefused) as e:
            runs[step](user)
        assert (e.value.code, e.value.field, e.value.value) == ("role", "username", user)
    assert rt.store.watermark() == before


CAPTURE = """mutation($doc: JSON!) { capture(document: $doc) {
  ok problems { rule field value } } }"""
ATTACKS = {
    "ASL entry created by capture": ({"class": "SupplierApproval", "key": "ASL/SUP-BAD/RESIN",
                                      "properties": {"recordNumber": "ASL/SUP-BAD/RESIN",
                                                     "aslStatus": "approved"},
                                      "links": {"approvesSupplier": "Supplier/SUP-BAD",
                                                "approvesMaterial": "Material/RESIN"}},
                                     "not-authorised"),
    "ASL entry re-approved by capture": ({"class": "SupplierApproval",
                                          "key": "ASL/SUP-OK/RESIN",
                                          "properties": {"approvedUntil": "2099-12-31"}},
                                         "not-authorised"),
    "lot approved by capture": ({"class": "MaterialLot", "key": "RL-Q",
                                 "properties": {"materialLotStatus": "Approved"}},
                                "workflow-managed"),
    "inspection record by capture": ({"class": "IncomingInspection", "key": "IQC/RL-Q",
                                      "properties": {"recordNumber": "IQC/RL-Q",
                                                     "inspectionOutcome": "conforming"},
                                      "links": {"inspectsLot": "MaterialLot/RL-Q"}},
                                     "not-authorised"),
    "SCAR closed by capture": ({"class": "SupplierCorrectiveAction", "key": "SCAR-X",
                                "properties": {"recordNumber": "SCAR-X", "scarState": "Closed"}},
                               "not-authorised"),
    "supplier approved by capture": ({"class": "Supplier", "key": "SUP-TWO",
                                      "properties": {"supplierStatus": "approved"}},
                                     "not-authorised"),
}


@pytest.fixture
def operator(rt: Runtime) -> Iterator[TestClient]:
    receive(rt, "RL-Q", "SUP-OK", "2026-03-03T08:00:00Z")
    with TestClient(create_app(rt.settings, rt)) as c:
        c.headers.update(bearer(c, "u.operator"))
        yield c


@pytest.mark.parametrize("attack", sorted(ATTACKS))
@pytest.mark.req("URS-ACC-02")
def test_operator_cannot_approve_suppliers_or_lots_or_bypass_quarantine_over_http(
        rt: Runtime, operator: TestClient, attack: str) -> None:
    doc, rule = ATTACKS[attack]
    before = rt.store.watermark(), rt.store.counts()
    r = operator.post("/graphql", json={"query": CAPTURE, "variables": {"doc": {
        "format": "tracegraph.capture/1", "events": [{"eventId": "attack", "nodes": [doc]}]}}})
    res = r.json()["data"]["capture"]
    assert res["ok"] is False and rule in {p["rule"] for p in res["problems"]}, res
    assert (rt.store.watermark(), rt.store.counts()) == before
    # nor the consumption of the quarantined lot
    r = operator.post("/graphql", json={"query": CAPTURE, "variables": {"doc": {
        "format": "tracegraph.capture/1", "events": [{"eventId": "use", "derivations": [
            consume("RL-Q")]}]}}})
    assert "lot-approved" in {p["rule"] for p in r.json()["data"]["capture"]["problems"]}


MUTATIONS = {
    "approveSupplierMaterial": 'approveSupplierMaterial(supplier: "SUP-TWO", material: "DYE", '
                               'status: approved, password: $p, reason: "x") { ok }',
    "inspectIncomingLot": 'inspectIncomingLot(lot: "RL-Q", lotSize: 500, aql: 1.0, '
                          'nonconforming: 0, password: $p, reason: "x") { ok }',
    "closeScar": 'closeScar(scar: "SCAR-X", password: $p, reason: "x", cancel: true) { ok }',
}


@pytest.mark.parametrize("field", sorted(MUTATIONS))
def test_operator_token_is_forbidden_the_supplier_mutations(
        rt: Runtime, operator: TestClient, field: str) -> None:
    before = rt.store.watermark()
    r = operator.post("/graphql", json={"query": f"mutation($p: String!) {{ {MUTATIONS[field]} }}",
                                        "variables": {"p": PASSWORD}})
    body = r.json()
    assert body.get("data") is None or body["data"].get(field) is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    assert rt.store.watermark() == before


def test_graphql_inspection_scorecard_and_asl(rt: Runtime) -> None:
    receive(rt, "RL-Q", "SUP-OK", "2026-03-03T08:00:00Z")
    with TestClient(create_app(rt.settings, rt)) as c:
        qc = bearer(c, "u.qc")
        r = c.post("/graphql", headers=qc, json={"query": """mutation($p: String!) {
            inspectIncomingLot(lot: "RL-Q", lotSize: 1000, aql: 1.0, nonconforming: 3,
                               password: $p, reason: "IQC") {
              ok record { key properties } problems { rule field value } } }""",
                                                 "variables": {"p": PASSWORD}})
        res = r.json()["data"]["inspectIncomingLot"]
        assert res["ok"], res
        props = res["record"]["properties"]
        assert (props["sampleSizeCode"], props["sampleSize"], props["acceptanceNumber"],
                props["rejectionNumber"], props["inspectionOutcome"]) == \
            ("J", 80, 2, 3, "nonconforming")
        r = c.post("/graphql", headers=qc, json={"query": """mutation($p: String!) {
            inspectIncomingLot(lot: "RL-Q", lotSize: 1000, aql: 1.0, nonconforming: 0,
                               password: $p, reason: "again") {
              ok problems { rule field value } } }""", "variables": {"p": PASSWORD}})
        res = r.json()["data"]["inspectIncomingLot"]
        assert not res["ok"] and res["problems"][0]["rule"] == "lot-not-in-quarantine"
        r = c.post("/graphql", headers=qc, json={"query": """{
            supplierScorecard(supplier: "SUP-OK", start: "2026-03-01", end: "2026-04-01") {
              lotsReceived lotsRejected rejectionRate }
            approvedSupplierList(supplier: "SUP-TWO") { key status approvedUntil scope }
            suppliers { key status approvals { key } } }"""})
        data = r.json()["data"]
        assert data["supplierScorecard"] == {"lotsReceived": ["RL-Q"], "lotsRejected": ["RL-Q"],
                                             "rejectionRate": 1.0}
        assert data["approvedSupplierList"] == [{"key": "ASL/SUP-TWO/RESIN",
                                                 "status": "approved",
                                                 "approvedUntil": "2026-12-31",
                                                 "scope": "PP resin, grade H350"}]
        assert {s["key"]: len(s["approvals"]) for s in data["suppliers"]} == {
            "SUP-OK": 2, "SUP-BAD": 0, "SUP-TWO": 1}


def test_bad_plan_inputs_are_refused_with_field_value_and_rule(rt: Runtime) -> None:
    receive(rt, "RL-Q", "SUP-OK", "2026-03-03T08:00:00Z")
    for kwargs, rule, field in (({"aql": "0.3"}, "aql", "aql"),
                                ({"lot_size": 1}, "lot-size", "lotSize"),
                                ({"level": "II"}, "inspection-level", "inspectionLevel"),
                                ({"nonconforming": 81}, "nonconforming-count", "defectCount")):
        args: dict[str, Any] = {"lot_size": 1000, "aql": "1.0", "nonconforming": 0, **kwargs}
        with pytest.raises(WorkflowRefused) as e:
            inspect_incoming_lot(rt, "RL-Q", username="u.qc", password=PASSWORD, reason="IQC",
                                 **args)
        assert (e.value.code, e.value.field) == (rule, field)
    with pytest.raises(WriteRejectedError):  # still in quarantine: nothing was written
        capture(rt, derivations=[consume("RL-Q")])
