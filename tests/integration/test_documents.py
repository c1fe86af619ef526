"""Document control tied to execution and training (issue 18 item 1), on both engines: a new
SOP revision approved by QA's e-signature and made Effective makes a qualified operator
untrained once its grace period ends — refused at operation start, accepted after training —
and the attacks on the QA steps fail, writing nothing."""

from __future__ import annotations

from typing import Any

import pytest

from graph.authority import Principal
from graph.errors import WriteRejectedError
from graph.model import Direction
from quality import documents as dc
from quality.document_training import RULE, training_status
from quality.workflow import WorkflowRefused
from tests.conftest import PASSWORD, make_user, migrate
from tests.integration.test_versions import doc, node, version_nodes
from tracegraph.runtime import Runtime

Json = dict[str, Any]
ENG = Principal("eng.one", frozenset({"engineer"}))
OPERATOR = Principal("op.one", frozenset({"operator"}))


def iri(rt: Runtime, cls: str, key: str) -> str:
    return rt.vocab.mint_iri(cls, key)


def plant(rt: Runtime) -> None:
    """A one-operation bonding plant (test_versions' version v1) whose operation is executed
    under SOP-UVB (revision A, Effective since go-live); an engineer drafts revision B."""
    for name, roles in (("eng.one", ["engineer"]), ("qa.one", ["qa"]), ("qa.two", ["qa"]),
                        ("op.one", ["operator"])):
        make_user(rt, name, roles)
    v1 = version_nodes("v1", "Effective", 3200.0, "2026-01-01T00:00:00Z")
    v1[0]["links"]["governedBy"] = "Document/SOP-UVB/A"
    migrate(rt, doc({"eventId": "md", "reason": "state at go-live", "nodes": [
        node("Product", "CATH", {"name": "Catheter", "gtin": "09506000134352"}),
        node("Qualification", "Q-UVB", {"name": "UV bonding", "validityDays": 365}),
        node("EquipmentClass", "EC-UVB", {"name": "UV bonding station"}),
        node("EquipmentClass", "EC-NEST", {"name": "Bonding nest"}),
        node("Equipment", "UVB-01", {"name": "UV station 1"},
             {"ofEquipmentClass": "EquipmentClass/EC-UVB"}),
        node("Person", "P-ANN", {"name": "Ann Operator"},
             {"hasQualification": "Qualification/Q-UVB"}),
        node("Person", "P-BOB", {"name": "Bob Untrained"}),
        node("Document", "SOP-UVB/A", {"title": "UV bonding", "revision": "A",
                                       "documentType": "sop", "versionStatus": "Effective",
                                       "effectiveFrom": "2026-01-01T00:00:00Z"}),
        node("ProcessDefinition", "BOND", {"name": "Bonding"}, {"ofProduct": "Product/CATH"}),
        *v1,
        node("WorkOrder", "WO-1", {"workOrderStatus": "InProgress", "quantity": 100.0},
             {"ofProduct": "Product/CATH"}),
        node("Batch", "B-1", {"batchStatus": "InProcess"},
             {"ofProduct": "Product/CATH", "runsProcessVersion": "ProcessVersion/BOND/v1",
              "forWorkOrder": "WorkOrder/WO-1"})]}))
    rt.capture(doc({"eventId": "sop-b", "reason": "revision B: new cure time", "nodes": [
        node("Document", "SOP-UVB/B", {"title": "UV bonding", "revision": "B",
                                       "documentType": "sop", "versionStatus": "Draft"},
             {"wasRevisionOf": "Document/SOP-UVB/A"})]}), principal=ENG)


def start(rt: Runtime, key: str, at: str, who: str = "P-ANN") -> None:
    migrate(rt, doc({"eventId": f"run-{key}", "nodes": [node(
        "OperationExecution", key, {"startedAtTime": at, "executionStatus": "Started"},
        {"executesOperation": "Operation/BOND/v1/OP10", "forBatch": "Batch/B-1",
         "onEquipment": "Equipment/UVB-01", "wasAssociatedWith": f"Person/{who}"})]}))


def effective_b(rt: Runtime, grace: int = 7) -> None:
    dc.submit(rt, "SOP-UVB/B", "eng.one", "ready for review")
    dc.approve(rt, "SOP-UVB/B", "qa.one", PASSWORD, "reviewed against the validation report")
    dc.make_effective(rt, "SOP-UVB/B", "qa.one", "in force", at="2026-03-01T00:00:00Z",
                      grace_days=grace)


def status(rt: Runtime, key: str) -> Any:
    return rt.store.get(iri(rt, "Document", key)).props.get("versionStatus")  # type: ignore[union-attr]  # the document exists


@pytest.mark.req("URS-DOC-01")
def test_new_sop_revision_needs_training_after_the_grace_period(runtime: Runtime) -> None:
    rt = runtime
    plant(rt)
    start(rt, "X-0", "2026-02-20T08:00:00Z")  # revision A in force, no training asked
    effective_b(rt, grace=7)
    b = rt.store.get(iri(rt, "Document", "SOP-UVB/B"))
    assert b is not None and b.props["versionStatus"] == "Effective"
    assert b.props["trainingDueBy"].startswith("2026-03-08T00:00:00")
    a = rt.store.get(iri(rt, "Document", "SOP-UVB/A"))
    assert a is not None and a.props["versionStatus"] == "Superseded"
    assert a.props["effectiveTo"].startswith("2026-03-01T00:00:00")

    start(rt, "X-1", "2026-03-05T08:00:00Z")  # within the grace period
    [due] = training_status(rt.store, b, "2026-03-05T08:00:00Z")
    assert (due.person_key, due.state, due.trained_at) == ("P-ANN", "pending", None)
    with pytest.raises(WriteRejectedError) as e:
        start(rt, "X-2", "2026-03-09T08:00:00Z")
    [p] = [p for p in e.value.problems if p.rule == RULE]
    assert (p.field, p.value, p.focus) == ("wasAssociatedWith", iri(rt, "Person", "P-ANN"),
                                           iri(rt, "OperationExecution", "X-2"))
    assert "P-ANN" in p.message and "SOP-UVB/B" in p.message and "revision B" in p.message
    assert rt.store.get(iri(rt, "OperationExecution", "X-2")) is None
    assert training_status(rt.store, b, "2026-03-09T08:00:00Z")[0].state == "overdue"

    dc.record_training(rt, "SOP-UVB/B", "P-ANN", "qa.two", PASSWORD, "read and demonstrated",
                       at="2026-03-09T10:00:00Z")
    start(rt, "X-3", "2026-03-09T12:00:00Z")
    assert rt.store.get(iri(rt, "OperationExecution", "X-3")) is not None
    [due] = training_status(rt.store, b, "2026-03-09T12:00:00Z")
    assert due.state == "trained" and due.trained_at.startswith("2026-03-09T10:00:00")
    with pytest.raises(WriteRejectedError) as e:  # back-dated before the training: refused
        start(rt, "X-4", "2026-03-09T09:00:00Z")
    assert RULE in {p.rule for p in e.value.problems}


def test_grace_period_from_the_document_or_the_setting(runtime: Runtime) -> None:
    rt = runtime
    plant(rt)
    rt.capture(doc({"eventId": "grace", "reason": "short grace", "nodes": [
        node("Document", "SOP-UVB/B", {"trainingGraceDays": 0})]}), principal=ENG)
    dc.submit(rt, "SOP-UVB/B", "eng.one", "ready")
    dc.approve(rt, "SOP-UVB/B", "qa.one", PASSWORD, "ok")
    dc.make_effective(rt, "SOP-UVB/B", "qa.one", "in force", at="2026-03-01T00:00:00Z",
                      default_grace_days=rt.settings.document_training_grace_days)
    b = rt.store.get(iri(rt, "Document", "SOP-UVB/B"))
    assert b is not None and b.props["trainingDueBy"].startswith("2026-03-01T00:00:00")
    with pytest.raises(WriteRejectedError):
        start(rt, "X-1", "2026-03-01T08:00:00Z")


def refused(code: str, step: Any) -> WorkflowRefused:
    with pytest.raises(WorkflowRefused) as e:
        step()
    assert e.value.code == code, e.value
    return e.value


def test_operator_cannot_approve_make_effective_or_self_train(runtime: Runtime) -> None:
    rt = runtime
    plant(rt)
    dc.submit(rt, "SOP-UVB/B", "eng.one", "ready")
    refused("role", lambda: dc.approve(rt, "SOP-UVB/B", "op.one", PASSWORD, "me"))
    refused("role", lambda: dc.approve(rt, "SOP-UVB/B", "eng.one", PASSWORD, "me"))
    refused("role", lambda: dc.make_effective(rt, "SOP-UVB/B", "op.one", "me"))
    refused("document-lifecycle", lambda: dc.make_effective(rt, "SOP-UVB/B", "qa.one", "skip"))
    assert status(rt, "SOP-UVB/B") == "InReview"
    # capture cannot set a document's status: not an operator's record, and workflow-managed
    with pytest.raises(WriteRejectedError) as e:
        rt.capture(doc({"eventId": "op-eff", "nodes": [
            node("Document", "SOP-UVB/B", {"versionStatus": "Effective"})]}), principal=OPERATOR)
    assert {p.rule for p in e.value.problems} == {"not-authorised"}
    with pytest.raises(WriteRejectedError) as e:
        rt.capture(doc({"eventId": "eng-eff", "nodes": [
            node("Document", "SOP-UVB/B", {"versionStatus": "Effective"})]}), principal=ENG)
    assert {p.rule for p in e.value.problems} == {"workflow-managed"}
    # an operator recording their own training, by capture or by the command
    with pytest.raises(WriteRejectedError) as e:
        rt.capture(doc({"eventId": "op-trn", "nodes": [node(
            "TrainingRecord", "TRN-SELF", {"effectiveFrom": "2026-03-02T00:00:00Z"},
            {"trainee": "User/op.one", "trainedOn": "Document/SOP-UVB/B",
             "grantsQualification": "Qualification/Q-UVB"})]}), principal=OPERATOR)
    assert {p.rule for p in e.value.problems} == {"not-authorised"}
    refused("role", lambda: dc.record_training(rt, "SOP-UVB/B", "op.one", "op.one", PASSWORD,
                                               "self"))
    dc.approve(rt, "SOP-UVB/B", "qa.one", PASSWORD, "ok")
    refused("self-training", lambda: dc.record_training(rt, "SOP-UVB/B", "qa.two", "qa.two",
                                                        PASSWORD, "self"))
    # an approved revision is frozen: an edit is refused (a change is a new revision) …
    with pytest.raises(WriteRejectedError) as e:
        rt.capture(doc({"eventId": "edit", "reason": "late edit", "nodes": [
            node("Document", "SOP-UVB/B", {"title": "UV bonding (edited)"})]}), principal=ENG)
    [p] = e.value.problems
    assert (p.rule, p.field, p.value) == ("document-immutable", "title", "UV bonding (edited)")
    # … and the approval binds to the content it approved: content changed by any other way
    # (here a legacy correction through a signed migration) leaves it stale
    migrate(rt, doc({"eventId": "legacy-edit", "reason": "legacy correction", "nodes": [
        node("Document", "SOP-UVB/B", {"documentUri": "https://dms.example.org/other"})]}))
    e2 = refused("requires-signature",
                 lambda: dc.make_effective(rt, "SOP-UVB/B", "qa.one", "in force"))
    assert e2.problems[0].rule == "requires-signature"
    assert status(rt, "SOP-UVB/B") == "Approved" and status(rt, "SOP-UVB/A") == "Effective"
    # and no workflow command skips the guard: a command write of Effective is refused too
    with pytest.raises(WriteRejectedError) as e:
        from graph.session import write_nodes
        from graph.write import NodeUpsert
        write_nodes(rt, [NodeUpsert("Document", "SOP-UVB/B", iri(rt, "Document", "SOP-UVB/B"),
                                    {"versionStatus": "Effective"})], "qa.one", "sneak",
                    command="makeDocumentEffective")
    assert {p.rule for p in e.value.problems} == {"requires-signature"}


def test_bad_input_is_refused_naming_field_and_value(runtime: Runtime) -> None:
    rt = runtime
    plant(rt)
    e = refused("no-such-record", lambda: dc.submit(rt, "SOP-NONE/Z", "eng.one", "x"))
    assert (e.field, e.value) == ("Document", "SOP-NONE/Z")
    dc.submit(rt, "SOP-UVB/B", "eng.one", "ready")
    e = refused("approval-decision", lambda: dc.approve(rt, "SOP-UVB/B", "qa.one", PASSWORD,
                                                        "x", decision="maybe"))
    assert (e.field, e.value) == ("decision", "maybe")
    dc.approve(rt, "SOP-UVB/B", "qa.one", PASSWORD, "ok")
    e = refused("grace-days", lambda: dc.make_effective(rt, "SOP-UVB/B", "qa.one", "x",
                                                        grace_days=-3))
    assert (e.field, e.value) == ("graceDays", -3)
    e = refused("time", lambda: dc.make_effective(rt, "SOP-UVB/B", "qa.one", "x",
                                                  at="next Tuesday"))
    assert (e.field, e.value) == ("at", "next Tuesday")
    assert status(rt, "SOP-UVB/B") == "Approved"
    e = refused("qualification", lambda: dc.record_training(rt, "SOP-UVB/B", "P-BOB", "qa.one",
                                                            PASSWORD, "x"))
    assert e.field == "qualification"
    with pytest.raises(WriteRejectedError) as w:
        rt.capture(doc({"eventId": "neg", "nodes": [
            node("Document", "SOP-UVB/B", {"trainingGraceDays": -1})]}), principal=ENG)
    [p] = w.value.problems
    assert (p.field, str(p.value)) == ("trainingGraceDays", "-1")


@pytest.mark.req("URS-DOC-01")
def test_edhr_names_the_revision_each_step_ran_under(runtime: Runtime) -> None:
    from quality.edhr import batch_dhr, render_html

    rt = runtime
    plant(rt)
    start(rt, "X-0", "2026-02-20T08:00:00Z")
    effective_b(rt, grace=7)
    start(rt, "X-1", "2026-03-05T08:00:00Z")
    dhr = batch_dhr(rt, "B-1")
    got = [(r["execution"], r["document"], r["revisionInForce"], r["revision"])
           for r in dhr["documents"]]
    assert got == [("X-0", "SOP-UVB/A", "SOP-UVB/A", "A"), ("X-1", "SOP-UVB/A", "SOP-UVB/B", "B")]
    html = render_html(dhr)
    assert "Documents executed under" in html and "SOP-UVB/B" in html


@pytest.mark.req("URS-DOC-01")
def test_a_document_revision_is_a_subject_of_change_impact(runtime: Runtime) -> None:
    from graph.change_impact import change_impact, edges_of

    rt = runtime
    plant(rt)
    start(rt, "X-0", "2026-02-20T08:00:00Z")
    ci = change_impact(rt.store, iri(rt, "Document", "SOP-UVB/B"))
    by = {(i.category, i.key) for i in ci.items}
    assert {("operation", "BOND/v1/OP10"), ("version", "BOND/v1"), ("wip-batch", "B-1"),
            ("open-work-order", "WO-1"), ("qualified-person", "P-ANN")} <= by
    assert ("qualified-person", "P-BOB") not in by
    [op] = ci.of("operation")
    assert op.path == (iri(rt, "Document", "SOP-UVB/B"), iri(rt, "Document", "SOP-UVB/A"),
                       iri(rt, "Operation", "BOND/v1/OP10"))
    starts = sorted({a for a, _ in edges_of(ci.items)})  # every explaining step is a stored link
    stored = {(e.src, e.dst) for d in (Direction.UPSTREAM, Direction.DOWNSTREAM)
              for e in rt.store.links(starts, None, d)}
    assert all(pair in stored or pair[::-1] in stored for pair in edges_of(ci.items))


@pytest.mark.req("URS-DOC-01")
def test_document_control_over_graphql(runtime: Runtime) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.conftest import bearer

    rt = runtime
    plant(rt)
    rev = "{ key status trainingDueBy approvals { signatures { meaning valid } } " \
          "training { person state } }"
    with TestClient(create_app(rt.settings, rt)) as c:
        eng, qa, op = bearer(c, "eng.one"), bearer(c, "qa.one"), bearer(c, "op.one")

        def call(q: str, h: dict[str, str], **vs: Any) -> Any:
            return c.post("/graphql", json={"query": q, "variables": vs}, headers=h).json()

        r = call(f'mutation {{ submitDocument(document: "SOP-UVB/B", reason: "r") {rev} }}', eng)
        assert r["data"]["submitDocument"]["status"] == "InReview"
        approve = ('mutation($p: String!) { approveDocument(document: "SOP-UVB/B", password: $p,'
                   f' reason: "reviewed") {rev} }}')
        for who in (op, eng):  # only QA approves
            assert call(approve, who, p=PASSWORD)["errors"][0]["extensions"]["code"] == \
                "FORBIDDEN"
        wrong = call(approve, qa, p="wrong password")
        assert wrong["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS"
        r = call(approve, qa, p=PASSWORD)["data"]["approveDocument"]
        assert r["status"] == "Approved"
        assert r["approvals"][0]["signatures"] == [{"meaning": "approved", "valid": True}]
        effective = ('mutation { makeDocumentEffective(document: "SOP-UVB/B", reason: "go", '
                     f'at: "2026-03-01T00:00:00Z", graceDays: 7) {rev} }}')
        assert call(effective, op)["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        bad = call('mutation { makeDocumentEffective(document: "SOP-UVB/B", reason: "go", '
                   f'graceDays: 999) {rev} }}', qa)
        assert bad["errors"][0]["extensions"]["code"] == "GRACE_DAYS"
        assert bad["errors"][0]["extensions"]["field"] == "graceDays"
        r = call(effective, qa)["data"]["makeDocumentEffective"]
        assert r["status"] == "Effective" and r["trainingDueBy"].startswith("2026-03-08")
        assert r["training"] == [{"person": "P-ANN", "state": "overdue"}]  # the clock is now
        train = ('mutation($p: String!) { recordTraining(document: "SOP-UVB/B", person: "P-ANN",'
                 f' password: $p, reason: "trained") {rev} }}')
        assert call(train, op, p=PASSWORD)["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        r = call(train, eng, p=PASSWORD)["data"]["recordTraining"]
        assert r["training"] == [{"person": "P-ANN", "state": "trained"}]
        r = call('{ document(key: "SOP-UVB/A") { code inForce { key } operations '
                 'revisions { key status } } }', op)["data"]["document"]
        assert r == {"code": "SOP-UVB/A", "inForce": {"key": "SOP-UVB/B"},
                     "operations": ["BOND/v1/OP10"],
                     "revisions": [{"key": "SOP-UVB/A", "status": "Superseded"},
                                   {"key": "SOP-UVB/B", "status": "Effective"}]}
        assert [d["code"] for d in call("{ documents { code } }", op)["data"]["documents"]] == \
            ["SOP-UVB/A"]
        missing = call(f'mutation {{ submitDocument(document: "NOPE", reason: "r") {rev} }}', eng)
        assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.req("URS-DOC-01")
def test_document_control_from_the_command_line(tmp_path: Any) -> None:
    from tests.integration.test_cli import run
    from tracegraph.settings import Settings

    rt = Runtime.open(Settings(data_dir=tmp_path / "store"))
    try:
        plant(rt)
    finally:
        rt.close()
    ok = run(tmp_path, "documents", "submit", "SOP-UVB/B", "--user", "eng.one", "--reason", "r")
    assert ok.returncode == 0, ok.stderr
    assert "submitted: SOP-UVB/B InReview" in ok.stdout
    no = run(tmp_path, "documents", "approve", "SOP-UVB/B", "--user", "op.one", "--reason", "x")
    assert no.returncode == 2 and "(role)" in no.stderr
    assert run(tmp_path, "documents", "approve", "SOP-UVB/B", "--user", "qa.one", "--reason",
               "reviewed").returncode == 0
    bad = run(tmp_path, "documents", "effective", "SOP-UVB/B", "--user", "qa.one", "--reason",
              "go", "--at", "soon")
    assert bad.returncode == 2 and "at='soon' (time)" in bad.stderr
    eff = run(tmp_path, "documents", "effective", "SOP-UVB/B", "--user", "qa.one", "--reason",
              "go", "--at", "2026-03-01T00:00:00Z", "--grace-days", "7")
    assert eff.returncode == 0, eff.stderr
    assert "Effective, training due by 2026-03-08T00:00:00" in eff.stdout
    show = run(tmp_path, "documents", "show", "SOP-UVB/B")
    assert "BOND/v1/OP10" in show.stdout and "overdue" in show.stdout and "P-ANN" in show.stdout
    tr = run(tmp_path, "documents", "train", "SOP-UVB/B", "--person", "P-ANN", "--user",
             "qa.two", "--reason", "trained")
    assert tr.returncode == 0, tr.stderr
    listed = run(tmp_path, "documents", "list")
    assert "SOP-UVB/A (Superseded), SOP-UVB/B (Effective)" in listed.stdout


def explorer_document_queries() -> dict[str, str]:
    """The explorer's documents page queries (api/explorer/js/documents.js), as it sends them."""
    import re

    from tests.conftest import ROOT

    js = (ROOT / "api" / "explorer" / "js" / "documents.js").read_text()
    rev = re.search(r'const REV = "([^"]*)";', js).group(1)  # type: ignore[union-attr]  # defined there
    return {name: q.replace("${REV}", rev)
            for name, q in re.findall(r"const (LIST|ONE) = `([^`]*)`;", js, re.S)}


@pytest.mark.req("URS-DOC-01")
def test_a_long_revision_chain_pages_and_page_sizes_are_bounded(runtime: Runtime) -> None:
    """30 revisions (more than the 26 the cost estimate once assumed): pages of 7 give each
    revision once, oldest first; the explorer's queries stay under the cost limit; a page size
    beyond the bound or a negative offset is BAD_INPUT naming the argument, on each paged list."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.conftest import bearer

    rt = runtime
    plant(rt)
    effective_b(rt)  # SOP-UVB/B has an approval with a signature
    migrate(rt, doc({"eventId": "long", "reason": "a long-lived SOP", "nodes": [
        node("Document", f"SOP-LONG/{i:02d}", {
            "title": "Long", "revision": f"{i:02d}", "documentType": "sop",
            "versionStatus": "Effective" if i == 30 else "Superseded",
            "effectiveFrom": f"2025-01-{i:02d}T00:00:00Z"},
             {"wasRevisionOf": f"Document/SOP-LONG/{i - 1:02d}"} if i > 1 else {})
        for i in range(1, 31)]}))
    every = [f"SOP-LONG/{i:02d}" for i in range(1, 31)]
    with TestClient(create_app(rt.settings, rt)) as c:
        h = bearer(c, "op.one")

        def call(q: str, **vs: Any) -> Any:
            return c.post("/graphql", json={"query": q, "variables": vs}, headers=h).json()

        paged = ('query($f: Int!, $o: Int!) { document(key: "SOP-LONG/01") { revisionCount '
                 'revisions(first: $f, offset: $o) { key } } }')
        pages = [call(paged, f=7, o=o)["data"]["document"] for o in range(0, 35, 7)]
        assert [r["key"] for p in pages for r in p["revisions"]] == every
        assert {p["revisionCount"] for p in pages} == {30}
        assert [len(p["revisions"]) for p in pages] == [7, 7, 7, 7, 2]
        whole = call('{ document(key: "SOP-LONG/01") { revisions { key } } }')
        assert [r["key"] for r in whole["data"]["document"]["revisions"]] == every
        # the explorer's list and document queries: valid, under the cost limit, answered
        for name, q in explorer_document_queries().items():
            r = call(q, k="SOP-LONG/01")
            assert "errors" not in r, (name, r)
        listed = {d["code"]: d for d in call(explorer_document_queries()["LIST"])["data"][
            "documents"]}
        assert [r["key"] for r in listed["SOP-LONG/01"]["revisions"]] == every
        sigs = call('{ document(key: "SOP-UVB/B") { revisions { key approvals(first: 1) '
                    '{ signatures(first: 1, offset: 0) { meaning } } } } }')["data"]
        assert sigs["document"]["revisions"][1]["approvals"] == [
            {"signatures": [{"meaning": "approved"}]}]
        # each paged list refuses a page beyond the bound or a negative offset, naming it
        # (the pages above it small: else the cost estimate refuses the query first)
        for sel, arg, field in (
                ("revisions(first: 5001) { key }", "first", "revisions"),
                ("revisions(offset: -1) { key }", "offset", "revisions"),
                ("revisions(first: 2) { approvals(first: 5001) { record { key } } }", "first",
                 "approvals"),
                ("revisions(first: 2) { approvals(first: 1) { signatures(first: 5001) "
                 "{ meaning } } }", "first", "signatures")):
            r = call(f'{{ document(key: "SOP-UVB/B") {{ {sel} }} }}')
            e = r["errors"][0]
            assert e["extensions"]["code"] == "BAD_INPUT" and e["extensions"]["field"] == arg, r
            assert e["path"][:2] == ["document", "revisions"] and e["path"][-1] == field, r
        # the cost estimate multiplies by the page asked for, not an assumed bound
        big = call('{ documents { revisions(first: 5000) { approvals(first: 5000) '
                   '{ record { key } } } } }')
        assert big["errors"][0]["extensions"]["code"] == "COST_LIMIT"
        assert "errors" not in call('{ documents { revisions(first: 2) { key } } }')
