"""The validation report as a record: QA (or an administrator) records it through the write
path, only QA signs it, an operator can do neither, and editing it invalidates the signature."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from graph.authority import Principal
from graph.errors import WriteRejectedError
from graph.session import write_nodes
from graph.write import NodeUpsert
from ontology.terms import C, P
from quality.accounts import AuthError
from quality.signatures import sign, signatures_of
from quality.validation import record_report, stored_report
from quality.workflow import WorkflowRefused
from tests.conftest import PASSWORD, make_user
from tracegraph.runtime import Runtime
from tracegraph.validation.report import oq_document

REASON = "validation of tracegraph 0.1.0 on the production server"


def _doc() -> dict[str, object]:
    results = [{"test": "tests/unit/test_x.py::test_x", "requirements": ["URS-VAL-01"],
                "outcome": "passed", "seconds": 0.1, "message": ""}]
    return oq_document(results, {"tracegraph": "0.1.0"})


@pytest.mark.req("URS-VAL-01", "URS-ESIG-01", "URS-ESIG-03")
def test_qa_records_and_signs_the_report_and_an_edit_invalidates_it(runtime: Runtime) -> None:
    make_user(runtime, "q.a", ["qa"])
    doc = _doc()
    rep = record_report(runtime, doc, "q.a", PASSWORD, REASON)
    stored = stored_report(runtime, rep.number)
    assert stored.intact and stored.document == doc and stored.outcome == doc["outcome"]
    body = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    assert stored.digest == hashlib.sha256(body).hexdigest()
    entries = runtime.store.audit_entries(record=rep.iri)
    assert entries and {e.actor for e in entries} == {"q.a"} and entries[0].reason == REASON
    sig = sign(runtime, rep.iri, "q.a", PASSWORD, "approved", "report reviewed")
    assert sig.valid and sig.printed_name == "Q.A"
    # a later edit of the stored report (here the command's own path again) breaks the signature
    node = runtime.store.get(rep.iri)
    assert node is not None
    write_nodes(runtime, [NodeUpsert(C.ValidationReport, rep.number, rep.iri,
                                     {**node.props, P.validationOutcome: "conforming"
                                      if rep.outcome == "deviations" else "deviations"}, {})],
                "q.a", "edit", command="recordValidation")
    assert [s.valid for s in signatures_of(runtime, rep.iri)] == [False]


@pytest.mark.req("URS-VAL-01", "URS-ESIG-01", "URS-ACC-02")
def test_an_operator_can_neither_create_nor_sign_a_validation_report(runtime: Runtime) -> None:
    make_user(runtime, "o.p", ["operator"])
    make_user(runtime, "ad.min", ["admin"])
    make_user(runtime, "q.c", ["qc"])
    before = runtime.store.counts()
    with pytest.raises(WorkflowRefused) as e:
        record_report(runtime, _doc(), "o.p", PASSWORD, REASON)
    assert e.value.code == "role" and e.value.field == "username"
    # nor by capture, on any path: the class is command-only
    capture = {"format": "tracegraph.capture/1", "events": [{"eventId": "v1", "nodes": [
        {"class": "ValidationReport", "key": "VAL-X", "properties": {
            "recordNumber": "VAL-X", "validationOutcome": "conforming",
            "validationDocument": "{}", "validationDigest": "0" * 64}}]}]}
    with pytest.raises(WriteRejectedError) as w:
        runtime.capture(capture, principal=Principal("o.p", frozenset({"operator"})))
    assert {p.rule for p in w.value.problems} == {"not-authorised"}
    assert runtime.store.counts() == before
    # the administrator may record it (IQ on a new installation), but only QA signs it
    rep = record_report(runtime, _doc(), "ad.min", PASSWORD, REASON)
    for who in ("o.p", "ad.min", "q.c"):
        with pytest.raises(AuthError) as a:
            sign(runtime, rep.iri, who, PASSWORD, "approved", "looks fine")
        assert a.value.code == "not-permitted" and "qa" in str(a.value)
    assert signatures_of(runtime, rep.iri) == []


@pytest.mark.req("URS-VAL-01")
def test_a_wrong_password_or_no_reason_records_nothing(runtime: Runtime) -> None:
    make_user(runtime, "q.a", ["qa"])
    with pytest.raises(AuthError):
        record_report(runtime, _doc(), "q.a", "wrong password", REASON)
    with pytest.raises(WorkflowRefused) as e:
        record_report(runtime, _doc(), "q.a", PASSWORD, " ")
    assert e.value.code == "reason-required"
    with pytest.raises(WorkflowRefused) as e:
        record_report(runtime, {**_doc(), "outcome": "fine"}, "q.a", PASSWORD, REASON)
    assert e.value.code == "validation-outcome" and e.value.value == "fine"
    assert runtime.store.nodes_of_class(C.ValidationReport) == []
