"""The recall as a record (issue 18 item 5) on the demo plant, both engines: a recall taken
through its lifecycle, its frozen scope, the recalled status, the role checks, the 806 / NMPA
report data against an independent computation (networkx over the capture documents) and the
mass balance of each seed in the export."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.plant import generate_plant
from graph.authority import Principal
from graph.errors import WriteRejectedError
from graph.integration import events_since
from graph.recall_balance import write_export
from ontology.codes import IntegrationEventType
from quality import recalls as rc
from quality.accounts import AuthError
from quality.recall_report import recall_report, render_html
from quality.signatures import signatures_by_record
from quality.workflow import WorkflowRefused, linked_from
from tests.conftest import ENGINES, PASSWORD, demo_runtime, make_user
from tests.recall_oracle import Documents, when
from tracegraph.runtime import Runtime

FMT = "tracegraph.capture/1"
QA, QC, OP, ENG = "q.adams", "q.clark", "o.olsen", "e.evans"
Demo = tuple[Runtime, Documents, str]


@pytest.fixture(scope="module", params=ENGINES)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Demo]:
    """The demo plant, one account per role, and the resin lot whose recall reaches the most
    consignees with the fewest units (chosen by the oracle)."""
    docs = list(generate_plant(size="demo", seed=7))
    rt = demo_runtime(request, tmp_path_factory.mktemp("recall-record"), docs)
    for user, role in ((QA, "qa"), (QC, "qc"), (OP, "operator"), (ENG, "engineer")):
        make_user(rt, user, [role])
    oracle = Documents(docs, rt.vocab)
    lots = [lot for lot in oracle.of("MaterialLot") if len(oracle.customers_of(lot)) >= 2]
    seed = min(lots, key=lambda lot: (-len(oracle.customers_of(lot)),
                                      oracle.report([lot])["units"], lot))
    yield rt, oracle, seed


def _initiate(rt: Runtime, key: str, seed: str, user: str = QA) -> Any:
    return rc.initiate_recall(rt, user, PASSWORD, key, [seed], "II", "temporary", "consumer",
                              "removal", "hubs of this resin lot crack under torque",
                              "Luer hub cracks", "health hazard evaluation HHE-7")


@pytest.fixture(scope="module")
def recall(demo: Demo) -> Any:
    """A recall of the seed, initiated before any other test writes."""
    rt, _, seed = demo
    return _initiate(rt, "RCL-DEMO-1", seed)


@pytest.mark.req("URS-TRC-04")
def test_a_recall_record_through_its_lifecycle(demo: Demo, recall: Any) -> None:
    rt, oracle, seed = demo
    want = oracle.report([seed])
    assert recall.props["recallState"] == "Initiated"
    assert recall.props["scopeWatermark"] <= rt.store.watermark()
    customers = sorted(want["consignees"])
    assert len(customers) >= 2
    # the recalled status: every affected item, by a tg:recalls link (genealogy untouched)
    affected = oracle.affected([seed])
    recalled = rc.recalled_by(rt.store, sorted(affected))
    assert set(recalled) == {i for i in affected if oracle.cls[i] != "Customer"}
    assert all(v == ["RCL-DEMO-1"] for v in recalled.values())
    first, *rest = customers
    rc.notify_customer(rt, QC, "RCL-DEMO-1", first, "letter", "recall letter sent")
    with pytest.raises(WorkflowRefused) as e:
        rc.notify_customer(rt, QC, "RCL-DEMO-1", first, "letter", "again")
    assert e.value.code == "already-notified"
    for c in rest:
        rc.notify_customer(rt, QA, "RCL-DEMO-1", c, "e-mail", "recall letter sent")
    rec = rt.store.get(recall.iri)
    assert rec is not None and rec.props["recallState"] == "CustomersNotified"
    # the first consignee returns every unit it received, the second has one corrected
    units_of = {k: sorted(oracle.props[u]["key"] for u in oracle.g.nodes
                          if oracle.cls[u] == "SerializedUnit" and u in affected
                          and any(k2 == k for k2 in _shipped_to(oracle, u)))
                for k in customers}
    rc.record_response(rt, QC, "RCL-DEMO-1", first, "all units returned", "response",
                       returned=units_of[first])
    rc.record_response(rt, QC, "RCL-DEMO-1", rest[0], "relabelled one unit", "response",
                       corrected=units_of[rest[0]][:1])
    rc.start_checks(rt, QA, "RCL-DEMO-1", "every consignee notified")
    now = rt.store.get(recall.iri)
    assert now is not None
    eff = rc.effectiveness(rt.store, now)
    accounted = len(set(units_of[first]) | set(units_of[rest[0]][:1]))
    assert (eff.units, eff.accounted) == (want["units"], accounted)
    assert eff.share == pytest.approx(accounted / want["units"])
    if rest[1:]:  # a consignee that has not answered blocks termination
        with pytest.raises(WorkflowRefused) as e:
            rc.terminate_recall(rt, QA, PASSWORD, "RCL-DEMO-1", "done")
        assert e.value.code == "consignee-no-response"
        for c in rest[1:]:
            rc.record_response(rt, QA, "RCL-DEMO-1", c, "no stock left", "response")
    done = rc.terminate_recall(rt, QA, PASSWORD, "RCL-DEMO-1", "effectiveness verified")
    assert done.props["recallState"] == "Terminated" and done.props["closedAt"]
    approvals = linked_from(rt.store, [recall.iri], "APPROVES", "Approval")
    sigs = signatures_by_record(rt.store, sorted(approvals))
    steps = {approvals[i].key: [(s.username, s.meaning, s.valid) for s in ss]
             for i, ss in sigs.items()}
    assert steps == {"RCL-DEMO-1/initiate": [(QA, "approved", True)],
                     "RCL-DEMO-1/terminate": [(QA, "approved", True)]}
    with pytest.raises(WorkflowRefused) as e:  # a terminated recall takes no more responses
        rc.record_response(rt, QA, "RCL-DEMO-1", first, "late", "late")
    assert e.value.code == "recall-state"
    # QMS/ERP integration: the initiation and the termination are published once each
    events = [(e.type, e.key) for e in events_since(rt.store, rt.vocab, limit=100_000)[0]
              if e.key == "RCL-DEMO-1"]
    assert events == [(IntegrationEventType.RECALL_INITIATED, "RCL-DEMO-1"),
                      (IntegrationEventType.RECALL_TERMINATED, "RCL-DEMO-1")]


def _shipped_to(oracle: Documents, unit: str) -> list[str]:
    import networkx as nx
    ships = [s for s in nx.descendants(oracle.g, unit) if oracle.cls[s] == "Shipment"]
    return [oracle.props[c]["key"] for s in ships
            for c in oracle.links.get(s, {}).get("shippedTo", [])]


@pytest.mark.req("URS-TRC-04")
def test_806_and_nmpa_report_data_equal_the_documents(demo: Demo, recall: Any) -> None:
    rt, oracle, seed = demo
    want = oracle.report([seed])
    doc = recall_report(rt.store, recall.iri)
    fda = {f["id"]: f["value"] for f in doc["fda806"]}
    assert fda["devicesSubject"] == want["units"]
    assert {x["key"]: x["units"] for x in fda["devicesPerLot"]} == want["lots"]
    got = {c["key"]: (c["name"], c["units"], sorted((s["key"], when(s["shippedAt"]), s["units"])
                                                   for s in c["shipments"]))
           for c in fda["consignees"]}
    assert got == want["consignees"]
    assert fda["udi"]["gtins"] == sorted(want["gtins"])
    assert (when(fda["manufactureDates"]["first"]), when(fda["manufactureDates"]["last"])) \
        == want["made"]
    assert (fda["expiry"]["first"], fda["expiry"]["last"]) == want["expiry"]
    assert fda["reportType"] == "R" and "registrationNumber" in fda["notAvailable"]
    nmpa = {f["id"]: f["value"] for f in doc["nmpa"]}
    assert nmpa["grade"] == {"code": "II", "zh": "二级召回"}
    assert nmpa["quantity"]["units"] == want["units"]
    assert nmpa["quantity"]["undistributed"] == want["undistributed"]
    assert all(f["en"] and f["zh"] for f in doc["fda806"] + doc["nmpa"])
    page = render_html(doc)
    assert "806.10(c)(9)" in page and "召回级别" in page and recall.key in page


@pytest.mark.req("URS-TRC-04")
def test_the_frozen_scope_does_not_follow_a_later_capture(demo: Demo, recall: Any) -> None:
    rt, oracle, seed = demo
    batch = next(b for b in sorted(oracle.affected([seed]))
                 if oracle.cls[b] == "Batch" and any(oracle.cls[x] == "SerializedUnit"
                                                     for x in oracle.g.successors(b)))
    unit = next(x for x in oracle.g.successors(batch) if oracle.cls[x] == "SerializedUnit")
    before = recall_report(rt.store, recall.iri)["fda806"]
    live = rt.recall([seed], unit_limit=0).units_total
    rt.capture({"format": FMT, "events": [{
        "eventId": "late/SN-LATE-1", "eventTime": "2026-02-01T10:00:00Z",
        "reason": "a unit made later from an affected batch",
        "nodes": [{"class": "SerializedUnit", "key": "SN-LATE-1",
                   "properties": {"gtin": oracle.props[unit]["gtin"]},
                   "links": {"ofProduct": oracle.links[unit]["ofProduct"][0].split(
                       "/id/", 1)[1]}}],
        "derivations": [{"kind": "production", "output": "SerializedUnit/SN-LATE-1",
                         "input": f"Batch/{oracle.props[batch]['key']}",
                         "time": "2026-02-01T10:00:00Z"}]}]})
    late = rt.vocab.mint_iri("SerializedUnit", "SN-LATE-1")
    assert rt.recall([seed], unit_limit=0).units_total == live + 1  # the query follows it
    assert recall_report(rt.store, recall.iri)["fda806"][:-5] == before[:-5]  # the record not
    rec = rt.store.get(recall.iri)
    assert rec is not None and rc.scope_of(rec)["counts"]["units"] == oracle.report(
        [seed])["units"]
    assert rc.recalled_by(rt.store, [late]) == {}


@pytest.mark.req("URS-TRC-04", "URS-ACC-02")
def test_operators_and_engineers_can_do_no_recall_step(demo: Demo, recall: Any) -> None:
    rt, oracle, seed = demo
    customer = sorted(oracle.report([seed])["consignees"])[0]
    mark = rt.store.watermark()
    for user in (OP, ENG):
        with pytest.raises(WorkflowRefused) as e:
            _initiate(rt, f"RCL-{user}", seed, user=user)
        assert (e.value.code, e.value.field) == ("role", "username")
        for step in (lambda u: rc.notify_customer(rt, u, recall.key, customer, "x", "x"),
                     lambda u: rc.record_response(rt, u, recall.key, customer, "x", "x",
                                                  returned=[seed]),
                     lambda u: rc.start_checks(rt, u, recall.key, "x"),
                     lambda u: rc.terminate_recall(rt, u, PASSWORD, recall.key, "x")):
            with pytest.raises(WorkflowRefused) as e:
                step(user)
            assert e.value.code == "role"
    # QC tracks consignees but neither initiates nor terminates
    with pytest.raises(WorkflowRefused) as e:
        _initiate(rt, "RCL-QC", seed, user=QC)
    assert e.value.code == "role"
    assert rt.store.watermark() == mark  # every refusal wrote nothing
    with pytest.raises(AuthError):  # QA with a wrong password: no recall (a failed login is
        rc.initiate_recall(rt, QA, "wrong", "RCL-PW", [seed], "II", "temporary",  # counted)
                           "consumer", "removal", "h", "t", "r")
    assert rt.store.get(rt.vocab.mint_iri("Recall", "RCL-PW")) is None
    mark = rt.store.watermark()
    # a capture cannot write a recall or its tracking, whoever sends it
    for doc_nodes in ([{"class": "Recall", "key": "RCL-CAP", "properties": {
            "recallState": "Terminated"}}],
            [{"class": "RecallNotification", "key": "RCL-DEMO-1/X", "properties": {},
              "links": {"returnedUnit": seed.split("/id/", 1)[1]}}]):
        with pytest.raises(WriteRejectedError) as w:
            rt.capture({"format": FMT, "events": [{"eventId": "attack", "nodes": doc_nodes}]},
                       principal=Principal(OP, frozenset({"operator"})))
        assert "not-authorised" in {p.rule for p in w.value.problems}
    assert rt.store.watermark() == mark
    with pytest.raises(WorkflowRefused) as e:  # a code outside its list, named
        rc.initiate_recall(rt, QA, PASSWORD, "RCL-BAD", [seed], "II", "serious", "consumer",
                           "removal", "h", "t", "r")
    assert (e.value.code, e.value.field, e.value.value) == ("hazard-class", "recallClass", "II")
    with pytest.raises(WorkflowRefused) as e:  # a seed that names nothing: no recall
        rc.initiate_recall(rt, QA, PASSWORD, "RCL-BAD", [seed, "NO-SUCH-LOT"], "II",
                           "temporary", "consumer", "removal", "h", "t", "r")
    assert (e.value.code, e.value.value) == ("unknown-seed", ["NO-SUCH-LOT"])
    assert rt.store.watermark() == mark


@pytest.mark.req("URS-TRC-02", "URS-TRC-04")
def test_the_recall_export_carries_the_mass_balance_of_each_seed(
        demo: Demo, tmp_path: Path) -> None:
    rt, oracle, seed = demo
    answer = rt.recall([seed], unit_limit=0, package_limit=0)
    files = write_export(answer, tmp_path, rt.store)
    with files["massbalance"].open() as f:
        rows = list(csv.DictReader(f))
    line = next(r for r in rows if r["class"] == "reconciliation")
    received = float(oracle.props[seed]["quantity"])
    direct = [(oracle.ref(d["output"]), d) for d in oracle.derivations
              if oracle.ref(d["input"]) == seed]
    assert float(line["received"]) == pytest.approx(received)
    assert float(line["consumed"]) == pytest.approx(sum(
        float(d["quantity"]) for _, d in direct if d["kind"] == "consumption"))
    checked = 0
    for derived, d in direct:  # what went straight from the seed into each derived lot
        if "quantity" not in d or set(oracle.g.predecessors(derived)) != {seed}:
            continue
        row = next(r for r in rows if r["key"] == oracle.props[derived]["key"])
        assert float(row["exposure"]) == pytest.approx(float(d["quantity"]))
        assert float(row["fraction"]) == pytest.approx(float(d["quantity"]) / received)
        checked += 1
    assert checked
    body = orjson.loads(files["json"].read_bytes())
    assert body["massBalance"][0]["received"] == pytest.approx(received)

