"""Process versions: lifecycle and immutability, change control with signed approvals, and the
operational checks at the start of an operation (both engines).

The version guards are exercised by writing lifecycle states directly, which only a signed
migration may do (graph.authority): these documents load as the fixture migration; the change
control commands are tested through their own workflow."""

from __future__ import annotations

from typing import Any

import pytest

from graph.errors import WriteRejectedError
from graph.versions import diff_report, diff_versions, effective_version, load_tree, versions_of
from quality import change_control as cc
from tests.conftest import PASSWORD, make_user, migrate
from tracegraph.runtime import Runtime

Json = dict[str, Any]


def doc(*events: Json) -> Json:
    return {"format": "tracegraph.capture/1", "events": list(events)}


def node(cls: str, key: str, props: Json | None = None, links: Json | None = None) -> Json:
    return {"class": cls, "key": key, "properties": props or {}, "links": links or {}}


def version_nodes(v: str, status: str, usl: float, frm: str | None = None) -> list[Json]:
    """A one-operation version ``BOND/{v}`` with one parameter spec."""
    op = f"BOND/{v}/OP10"
    extra = {"effectiveFrom": frm} if frm else {}
    return [
        node("Operation", op, {"name": "UV bonding", "sequence": 10},
             {"requiresQualification": "Qualification/Q-UVB",
              "requiresEquipmentClass": ["EquipmentClass/EC-UVB", "EquipmentClass/EC-NEST"]}),
        node("ParameterSpec", f"{op}/UV-DOSE",
             {"name": "UV dose", "setpoint": 2400.0, "lsl": 1800.0, "usl": usl,
              "unitCode": "mJ/cm2", "isCPP": True}, {"specOf": f"Operation/{op}"}),
        node("Routing", f"BOND/{v}", {"name": f"Routing {v}"},
             {"hasOperation": [f"Operation/{op}"]}),
        node("ProcessVersion", f"BOND/{v}", {"revision": v, "versionStatus": status, **extra},
             {"versionOf": "ProcessDefinition/BOND", "hasRouting": f"Routing/BOND/{v}"}),
    ]


def setup(rt: Runtime) -> None:
    migrate(rt, doc({"eventId": "md", "reason": "master data", "nodes": [
        node("Product", "CATH", {"name": "Catheter", "gtin": "09506000134352"}),
        node("Qualification", "Q-UVB", {"name": "UV bonding"}),
        node("EquipmentClass", "EC-UVB", {"name": "UV bonding station"}),
        node("Equipment", "UVB-01", {"name": "UV station 1", "requiresCalibration": True,
                                     "calibrationStatus": "Calibrated",
                                     "calibrationDue": "2026-06-01T00:00:00Z"},
             {"ofEquipmentClass": "EquipmentClass/EC-UVB"}),
        node("EquipmentClass", "EC-NEST", {"name": "Bonding nest"}),
        node("Fixture", "NEST-01", {"name": "Bonding nest", "usageLimit": 100,
                                    "usageCount": 10},
             {"ofEquipmentClass": "EquipmentClass/EC-NEST"}),
        node("Person", "P-ANN", {"name": "Ann Operator"},
             {"hasQualification": "Qualification/Q-UVB"}),
        node("Person", "P-BOB", {"name": "Bob Untrained"}),
        node("ProcessDefinition", "BOND", {"name": "Bonding"}, {"ofProduct": "Product/CATH"}),
        *version_nodes("v1", "Effective", 3200.0, "2026-01-01T00:00:00Z"),
        node("Batch", "B-1", {"batchStatus": "InProcess"},
             {"ofProduct": "Product/CATH", "runsProcessVersion": "ProcessVersion/BOND/v1"}),
    ]}))


def iri(rt: Runtime, cls: str, key: str) -> str:
    return rt.vocab.mint_iri(cls, key)


def refused(rt: Runtime, rule: str, *nodes: Json) -> Any:
    with pytest.raises(WriteRejectedError) as e:
        migrate(rt, doc({"eventId": f"ev-{rule}-{len(str(nodes))}", "reason": "edit",
                        "nodes": list(nodes)}))
    assert rule in {p.rule for p in e.value.problems}, e.value.problems
    return e.value.problems


@pytest.mark.req("URS-PROC-01")
def test_lifecycle_and_immutability(runtime: Runtime) -> None:
    rt = runtime
    setup(rt)
    # editing an Effective version's owned spec, its operation, or the version is refused
    [p] = refused(rt, "version-immutable",
                  node("ParameterSpec", "BOND/v1/OP10/UV-DOSE", {"usl": 3300.0}))
    assert (p.field, p.value, p.focus) == ("usl", 3300.0,
                                          iri(rt, "ParameterSpec", "BOND/v1/OP10/UV-DOSE"))
    assert "BOND%2Fv1" in p.message and "Effective" in p.message
    refused(rt, "version-immutable", node("Operation", "BOND/v1/OP10", {"sequence": 20}))
    refused(rt, "version-immutable", node("ProcessVersion", "BOND/v1", {"revision": "1b"}))
    refused(rt, "version-immutable",  # adding a spec to an operation of an effective version
            node("ParameterSpec", "BOND/v1/OP10/CURE", {"name": "Cure", "setpoint": 8.0},
                 {"specOf": "Operation/BOND/v1/OP10"}))
    assert rt.store.get(iri(rt, "ParameterSpec", "BOND/v1/OP10/CURE")) is None
    # a Draft is freely edited; lifecycle steps cannot be skipped
    migrate(rt, doc({"eventId": "v2", "reason": "new draft",
                    "nodes": version_nodes("v2", "Draft", 3000.0)}))
    migrate(rt, doc({"eventId": "v2-edit", "reason": "tighten",
                    "nodes": [node("ParameterSpec", "BOND/v2/OP10/UV-DOSE", {"usl": 3100.0})]}))
    [p] = refused(rt, "version-lifecycle",
                  node("ProcessVersion", "BOND/v2", {"versionStatus": "Approved"}))
    assert p.value == "Approved" and "InReview" in p.message
    # Effective only through change control: a capture cannot flip an approved version
    migrate(rt, doc({"eventId": "v2-review", "reason": "review",
                    "nodes": [node("ProcessVersion", "BOND/v2", {"versionStatus": "InReview"})]}))
    migrate(rt, doc({"eventId": "v2-ok", "reason": "approve",
                    "nodes": [node("ProcessVersion", "BOND/v2", {"versionStatus": "Approved"})]}))
    refused(rt, "version-immutable", node("ParameterSpec", "BOND/v2/OP10/UV-DOSE",
                                          {"usl": 3000.0}))
    refused(rt, "change-control", node("ProcessVersion", "BOND/v2",
                                       {"versionStatus": "Effective"}))
    # Effective → Superseded is a legal transition, back to Effective is not
    migrate(rt, doc({"eventId": "v1-sup", "reason": "withdrawn",
                    "nodes": [node("ProcessVersion", "BOND/v1", {
                        "versionStatus": "Superseded", "effectiveTo": "2026-03-01T00:00:00Z"})]}))
    refused(rt, "version-lifecycle", node("ProcessVersion", "BOND/v1",
                                          {"versionStatus": "Effective"}))


def proposal(rt: Runtime, number: str) -> tuple[str, str, str, str, str]:
    """The bonding plant, an engineer and a QA account, and a change request proposing a Draft
    v2 (UV dose USL 3200 → 3000): (engineer, qa, v1, v2, change request)."""
    setup(rt)
    eng, qa = make_user(rt, "eng.one", ["engineer"]), make_user(rt, "qa.one", ["qa"])
    migrate(rt, doc({"eventId": "v2", "reason": "proposal",
                    "nodes": version_nodes("v2", "Draft", 3000.0)}))
    v1, v2 = iri(rt, "ProcessVersion", "BOND/v1"), iri(rt, "ProcessVersion", "BOND/v2")
    return eng, qa, v1, v2, cc.propose(rt, number, "Tighten UV dose USL", "field complaints",
                                       v1, v2, eng)


@pytest.mark.req("URS-CC-01", "URS-ESIG-01")
def test_change_request_needs_the_required_signatures(runtime: Runtime) -> None:
    rt = runtime
    eng, qa, v1, v2, cr = proposal(rt, "CR-1")
    a = cc.assess(rt, cr, eng)
    assert [(c.path, c.field, c.old, c.new) for c in a.changes] == [
        ("OP10/parameter/UV-DOSE", "usl", 3200.0, 3000.0)]
    assert a.impact_level == "high"  # a CPP, with a WIP batch running the base version
    assert "usl 3200.0 → 3000.0" in a.report
    assert rt.store.get(v2).props["versionStatus"] == "InReview"  # type: ignore[union-attr]  # the version exists

    cc.approve(rt, cr, eng, PASSWORD, "engineer", "process engineering review")
    with pytest.raises(cc.ChangeControlError) as e:
        cc.make_effective(rt, cr, eng)
    assert e.value.code == "requires-signature"
    assert [(p.rule, p.value) for p in e.value.problems] == [("requires-signature", "qa")]
    with pytest.raises(cc.ChangeControlError):  # qa.one cannot approve as engineer
        cc.approve(rt, cr, qa, PASSWORD, "engineer", "not my role")
    cc.approve(rt, cr, qa, PASSWORD, "qa", "QA approval")
    cc.make_effective(rt, cr, eng, at="2026-04-01T00:00:00Z")

    got = {n.key: n.props["versionStatus"] for n in versions_of(rt.store, iri(
        rt, "ProcessDefinition", "BOND"))}
    assert got == {"BOND/v1": "Superseded", "BOND/v2": "Effective"}
    pd = iri(rt, "ProcessDefinition", "BOND")
    assert effective_version(rt.store, pd, "2026-03-31T23:59:59.000000Z").key == "BOND/v1"  # type: ignore[union-attr]  # a version is effective at both times
    assert effective_version(rt.store, pd, "2026-04-01T00:00:00.000000Z").key == "BOND/v2"  # type: ignore[union-attr]  # a version is effective at both times
    assert effective_version(rt.store, pd, "2025-12-31T00:00:00.000000Z") is None
    assert rt.store.get(cr).props["changeState"] == "Implemented"  # type: ignore[union-attr]  # the change request exists
    # the diff of the two versions is what the change record assessed
    assert diff_versions(load_tree(rt.store, v1), load_tree(rt.store, v2)) == a.changes


def test_approval_of_an_edited_proposal_is_stale(runtime: Runtime) -> None:
    rt = runtime
    eng, qa, _v1, v2, cr = proposal(rt, "CR-2")
    cc.assess(rt, cr, eng)
    cc.approve(rt, cr, eng, PASSWORD, "engineer", "ok")
    cc.approve(rt, cr, qa, PASSWORD, "qa", "ok")
    # the proposal is edited (still InReview, so allowed) after both approvals
    migrate(rt, doc({"eventId": "late-edit", "reason": "late edit", "nodes": [
        node("ParameterSpec", "BOND/v2/OP10/UV-DOSE", {"usl": 2900.0})]}))
    with pytest.raises(cc.ChangeControlError) as e:
        cc.make_effective(rt, cr, eng)
    assert sorted(p.value for p in e.value.problems) == ["engineer", "qa"]
    assert rt.store.get(v2).props["versionStatus"] == "InReview"  # type: ignore[union-attr]  # the version exists


def execution(key: str, who: str, start: str, fixture: bool = False) -> Json:
    return node("OperationExecution", key,
                {"startedAtTime": start, "executionStatus": "Started"},
                {"executesOperation": "Operation/BOND/v1/OP10", "forBatch": "Batch/B-1",
                 "onEquipment": "Equipment/UVB-01", "wasAssociatedWith": f"Person/{who}",
                 **({"usedFixture": "Fixture/NEST-01"} if fixture else {})})


@pytest.mark.req("URS-SEQ-01")
def test_operation_start_checks(runtime: Runtime) -> None:
    rt = runtime
    setup(rt)
    migrate(rt, doc({"eventId": "ok", "nodes": [
        execution("X-1", "P-ANN", "2026-03-01T08:00:00Z", fixture=True)]}))
    [p] = refused(rt, "operator-qualified", execution("X-2", "P-BOB", "2026-03-01T09:00:00Z"))
    assert p.value == iri(rt, "Person", "P-BOB") and "Q-UVB" in p.message
    [p] = refused(rt, "equipment-calibrated",
                  execution("X-3", "P-ANN", "2026-06-02T08:00:00Z"))
    assert p.value == "UVB-01" and "2026-06-01" in p.message
    migrate(rt, doc({"eventId": "worn", "reason": "cycle count", "nodes": [
        node("Fixture", "NEST-01", {"usageCount": 100})]}))
    [p] = refused(rt, "fixture-usage-life",
                  execution("X-4", "P-ANN", "2026-03-02T08:00:00Z", fixture=True))
    assert p.value == "NEST-01" and "100 of 100" in p.message
    migrate(rt, doc({"eventId": "oot", "reason": "calibration failed", "nodes": [
        node("Equipment", "UVB-01", {"calibrationStatus": "OutOfTolerance"})]}))
    refused(rt, "equipment-calibrated", execution("X-5", "P-ANN", "2026-03-03T08:00:00Z"))


def run_of(key: str, batch: str, start: str) -> Json:
    return node("OperationExecution", key, {"startedAtTime": start, "executionStatus": "Started"},
                {"executesOperation": "Operation/BOND/v1/OP10", "forBatch": f"Batch/{batch}",
                 "onEquipment": "Equipment/UVB-01", "wasAssociatedWith": "Person/P-ANN"})


def batch(key: str, version: str) -> Json:
    return node("Batch", key, {"batchStatus": "InProcess"},
                {"ofProduct": "Product/CATH", "runsProcessVersion": f"ProcessVersion/{version}"})


@pytest.mark.req("URS-PROC-01")
def test_batch_runs_a_version_effective_when_it_began(runtime: Runtime) -> None:
    rt = runtime
    setup(rt)
    migrate(rt, doc({"eventId": "draft", "nodes": version_nodes("v2", "Draft", 3000.0)}))
    [p] = refused(rt, "version-effective", batch("B-2", "BOND/v2"))
    assert (p.field, p.value, p.focus) == ("runsProcessVersion", "BOND/v2", iri(rt, "Batch", "B-2"))
    assert "Draft" in p.message
    # v1 is effective from 2026-01-01: a batch cannot begin under it before
    [p] = refused(rt, "version-effective", batch("B-3", "BOND/v1"),
                  run_of("Y-1", "B-3", "2025-12-01T08:00:00Z"))
    assert p.focus == iri(rt, "OperationExecution", "Y-1") and "BOND/v1" in p.message
    migrate(rt, doc({"eventId": "wip", "nodes": [run_of("Y-2", "B-1", "2026-03-01T08:00:00Z")]}))
    migrate(rt, doc({"eventId": "sup", "reason": "superseded", "nodes": [
        node("ProcessVersion", "BOND/v1", {"versionStatus": "Superseded",
                                           "effectiveTo": "2026-04-01T00:00:00Z"})]}))
    # B-1 began under v1: it finishes under v1 after v1 is superseded
    migrate(rt, doc({"eventId": "wip2", "nodes": [run_of("Y-3", "B-1", "2026-05-01T08:00:00Z")]}))
    # a batch beginning after v1's effectivity ended is refused, and nothing of it is written
    [p] = refused(rt, "version-effective", batch("B-4", "BOND/v1"),
                  run_of("Y-4", "B-4", "2026-05-01T09:00:00Z"))
    assert "2026-04-01" in p.message
    assert rt.store.get(iri(rt, "Batch", "B-4")) is None


@pytest.mark.req("URS-PROC-01")
def test_parameter_spec_units_and_limits(runtime: Runtime) -> None:
    rt = runtime
    setup(rt)  # v1's spec in mJ/cm2 (UCUM) was accepted
    spec = "BOND/v2/OP10/UV-DOSE"
    migrate(rt, doc({"eventId": "draft", "nodes": version_nodes("v2", "Draft", 3000.0)}))
    [p] = refused(rt, "unit-code", node("ParameterSpec", spec, {"unitCode": "mJ/cm2.xyz"}))
    assert (p.field, p.value, p.focus) == ("unitCode", "mJ/cm2.xyz",
                                           iri(rt, "ParameterSpec", spec))
    [p] = refused(rt, "unit-code", node("ParameterSpec", spec, {"unitCode": "[foo]"}))
    assert "[foo]" in p.message
    migrate(rt, doc({"eventId": "unit", "reason": "psi", "nodes": [
        node("ParameterSpec", spec, {"unitCode": "[psi]", "setpoint": 30.0, "lsl": 20.0,
                                     "usl": 40.0, "alertLow": 25.0, "alertHigh": 35.0})]}))
    assert rt.store.get(iri(rt, "ParameterSpec", spec)).props["unitCode"] == "[psi]"  # type: ignore[union-attr]  # the spec exists
    with pytest.raises(WriteRejectedError) as e:  # setpoint outside the alert limits
        migrate(rt, doc({"eventId": "limits", "reason": "edit", "nodes": [
            node("ParameterSpec", spec, {"setpoint": 36.0})]}))
    assert ("setpoint", "36.0") in {(p.field, str(p.value)) for p in e.value.problems}
    assert rt.store.get(iri(rt, "ParameterSpec", spec)).props["setpoint"] == 30.0  # type: ignore[union-attr]  # the spec exists


def test_change_control_over_graphql(runtime: Runtime) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.conftest import bearer

    rt = runtime
    setup(rt)
    make_user(rt, "eng.one", ["engineer"])
    make_user(rt, "qa.one", ["qa"])
    migrate(rt, doc({"eventId": "v2", "reason": "proposal",
                    "nodes": version_nodes("v2", "Draft", 3000.0)}))
    record = "{ request { properties } proposedVersion { properties } approvals { role signed }" \
             " effectivityProblems { rule value } diff { report } }"
    with TestClient(create_app(rt.settings, rt)) as c:
        eng, qa = bearer(c, "eng.one"), bearer(c, "qa.one")

        def call(q: str, h: dict[str, str], **vs: Any) -> Any:
            return c.post("/graphql", json={"query": q, "variables": vs}, headers=h).json()

        r = call('mutation { proposeChange(number: "CR-9", title: "Tighten", reason: "trend", '
                 f'baseVersion: "BOND/v1", proposedVersion: "BOND/v2") {record} }}', eng)
        assert r["data"]["proposeChange"]["request"]["properties"]["changeState"] == "Submitted"
        r = call(f'mutation {{ assessChange(number: "CR-9") {record} }}', eng)
        assert "usl 3200.0 → 3000.0" in r["data"]["assessChange"]["diff"]["report"]
        approve = ('mutation($p: String!, $role: RoleName!) { approveChange(number: "CR-9", '
                   f'role: $role, password: $p, reason: "review") {record} }}')
        r = call(approve, eng, p=PASSWORD, role="engineer")
        assert r["data"]["approveChange"]["approvals"] == [{"role": "engineer", "signed": True}]
        assert r["data"]["approveChange"]["effectivityProblems"] == [
            {"rule": "requires-signature", "value": "qa"}]
        effective = f'mutation {{ makeChangeEffective(number: "CR-9") {record} }}'
        assert "FORBIDDEN" in str(call(effective, eng))  # only QA makes a change effective
        r = call(effective, qa)
        assert r["data"]["makeChangeEffective"] is None
        assert r["errors"][0]["extensions"]["code"] == "REQUIRES_SIGNATURE"
        assert rt.store.get(iri(rt, "ProcessVersion", "BOND/v2")
                            ).props["versionStatus"] == "InReview"  # type: ignore[union-attr]  # the version exists
        wrong = call(approve, qa, p="wrong password", role="qa")
        assert wrong["data"]["approveChange"] is None
        assert wrong["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS"
        r = call(f'{{ changeRequest(number: "CR-9") {record} }}', qa)
        assert len(r["data"]["changeRequest"]["approvals"]) == 1  # nothing written
        assert call(approve, qa, p=PASSWORD, role="qa")["data"]["approveChange"][
            "effectivityProblems"] == []
        r = call(effective, qa)["data"]["makeChangeEffective"]
        assert r["proposedVersion"]["properties"]["versionStatus"] == "Effective"
        assert r["request"]["properties"]["changeState"] == "Implemented"


@pytest.mark.req("URS-CC-01")
def test_diff_names_operations_added_reordered_and_bom_changes(runtime: Runtime) -> None:
    rt = runtime
    setup(rt)
    mats = [node("Material", m, {"name": m, "unitCode": "pc", "materialType": "component"})
            for m in ("HUB", "TUBE", "CAP")]
    base = [node("BOMLine", f"BOND/v1b/OP10/{m}", {"quantity": q, "unitCode": "pc"},
                 {"boundToOperation": "Operation/BOND/v1b/OP10", "ofMaterial": f"Material/{m}"})
            for m, q in (("HUB", 1.0), ("TUBE", 1.0))]
    migrate(rt, doc({"eventId": "mats", "reason": "BOM", "nodes": mats}))
    migrate(rt, doc({"eventId": "v1b", "reason": "draft",
                    "nodes": [*version_nodes("v1b", "Draft", 3200.0), *base]}))
    op0 = node("Operation", "BOND/v2/OP05", {"name": "Kitting", "sequence": 5})
    v2 = version_nodes("v2", "Draft", 3200.0)
    v2[0]["properties"]["sequence"] = 20
    v2[0]["links"]["precededBy"] = "Operation/BOND/v2/OP05"
    v2[2]["links"]["hasOperation"] = ["Operation/BOND/v2/OP10", "Operation/BOND/v2/OP05"]
    v2_bom = [node("BOMLine", f"BOND/v2/OP10/{m}", {"quantity": q, "unitCode": "pc"},
                   {"boundToOperation": "Operation/BOND/v2/OP10", "ofMaterial": f"Material/{m}"})
              for m, q in (("HUB", 2.0), ("CAP", 1.0))]
    migrate(rt, doc({"eventId": "v2", "reason": "draft", "nodes": [op0, *v2, *v2_bom]}))
    old = load_tree(rt.store, iri(rt, "ProcessVersion", "BOND/v1b"))
    new = load_tree(rt.store, iri(rt, "ProcessVersion", "BOND/v2"))
    got = {(c.change, c.kind, c.path, c.field, str(c.old) if c.field else None)
           for c in diff_versions(old, new)}
    assert got == {
        ("added", "operation", "OP05", None, None),
        ("reordered", "operation", "OP10", "sequence", "10"),
        ("reordered", "operation", "OP10", "precededBy", "[]"),
        ("changed", "bom", "OP10/bom/HUB", "quantity", "1.0"),
        ("removed", "bom", "OP10/bom/TUBE", None, None),
        ("added", "bom", "OP10/bom/CAP", None, None),
    }
    report = diff_report(old, new, diff_versions(old, new))
    assert "~ reordered operation OP10: sequence 10 → 20" in report
    assert "- removed bom OP10/bom/TUBE" in report
