"""The demo plant as ``tracegraph demo`` loads it (bench.plant_workflow): its history runs through
the workflow commands, so every released batch carries a valid QA release signature, the change
request its approvals' signatures, release reports of released batches are empty and those of
held batches name their holds and deviations; the deviations, holds and CAPA are written by
their commands by the named people, and only the go-live state (and the excursion's Excursion
and Alarm, which only the live signal pipeline writes) is marked migrated. Loaded once for the
module (embedded engine), with argon2 at its minimum cost (what is hashed and checked is
unchanged)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.plant_workflow import GO_LIVE, LEGACY
from graph.authority import MIGRATED
from graph.model import Direction, NodeRecord
from ontology.codes import (
    BatchStatus,
    ChangeState,
    MaterialLotStatus,
    ProcessVersionStatus,
    RoleName,
    SignatureMeaning,
)
from ontology.terms import C, P, R
from quality.accounts import get_user
from quality.release import release_report
from quality.signatures import signatures_by_record
from tests.demo_workflow import workflow_demo
from tracegraph.cli.admin import audit_app
from tracegraph.runtime import Runtime


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, Path]]:
    data = tmp_path_factory.mktemp("demo-workflow")
    with workflow_demo(data) as rt:
        yield rt, data


def _all(rt: Runtime, label: str) -> list[NodeRecord]:
    return rt.store.nodes_of_class(label)


def test_every_released_batch_has_a_valid_qa_release_signature(
        plant: tuple[Runtime, Path]) -> None:
    rt, _ = plant
    batches = _all(rt, C.Batch)
    released = [b for b in batches if b.props.get(P.batchStatus) == BatchStatus.RELEASED]
    assert len(released) >= 25
    decisions = {e.dst: e.src for e in rt.store.links([b.iri for b in released], [R.RELEASE_OF],
                                                       Direction.DOWNSTREAM)}
    assert set(decisions) == {b.iri for b in released}, "a released batch has no decision"
    sigs = signatures_by_record(rt.store, sorted(decisions.values()))
    for b in released:
        decision = rt.store.get(decisions[b.iri])
        assert decision is not None and decision.props.get(MIGRATED) is not True
        assert decision.props[P.releaseOutcome] == "released"
        signed = [s for s in sigs[decision.iri] if s.meaning == SignatureMeaning.RELEASED]
        assert signed and all(s.valid for s in signed), (b.key, signed)
        user = get_user(rt, signed[0].username)
        assert user is not None and RoleName.QA in user.roles
        assert str(decision.props[P.decidedAt]) == signed[0].signed_at  # the plant's time
        assert b.props.get(MIGRATED) is not True
        report = release_report(rt, b.iri)
        assert report.exceptions == [], (b.key, report.exceptions)
        assert report.batch == b.iri
    # a batch held before its release time stays unreleased: the excursion's batch has no
    # release decision (those the supplier notice put on hold later keep theirs)
    held = [b.iri for b in batches if b.props.get(P.batchStatus) == BatchStatus.ON_HOLD]
    decided = {e.dst for e in rt.store.links(held, [R.RELEASE_OF], Direction.DOWNSTREAM)}
    assert set(held) - decided, "the excursion's batch was released"


def test_release_report_cli_is_empty_for_a_released_batch(plant: tuple[Runtime, Path]) -> None:
    from tracegraph.cli.quality import quality_app

    rt, data = plant
    released = next(b for b in _all(rt, C.Batch)
                    if b.props.get(P.batchStatus) == BatchStatus.RELEASED)
    out = CliRunner().invoke(quality_app, ["release-report", released.key],
                             env={"TRACEGRAPH_DATA_DIR": str(data),
                                  "TRACEGRAPH_STORE": "embedded", "COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert f"{released.key}: no exceptions" in out.output, out.output
    assert "migrated record" not in out.output  # its history came through the commands


def test_change_request_is_approved_by_signed_approvals(plant: tuple[Runtime, Path]) -> None:
    rt, _ = plant
    cr = rt.store.get(rt.vocab.mint_iri(C.ChangeRequest, "CR-2026-0007"))
    assert cr is not None and cr.props.get(MIGRATED) is not True
    assert cr.props[P.changeState] in (ChangeState.APPROVED, ChangeState.IMPLEMENTED)
    approvals = [e.src for e in rt.store.links([cr.iri], [R.APPROVES], Direction.DOWNSTREAM)]
    assert len(approvals) == 3
    sigs = signatures_by_record(rt.store, approvals)
    roles = set()
    for a in approvals:
        node = rt.store.get(a)
        assert node is not None and node.props[P.approvalDecision] == "approved"
        ok = [s for s in sigs[a] if s.valid and s.meaning == SignatureMeaning.APPROVED]
        assert len(ok) == 1, (node.key, sigs[a])
        roles |= {str(r.props[P.roleName]) for r in rt.store.get_many(
            [e.dst for e in rt.store.links([a], [R.IN_ROLE])]).values()}
    assert roles == {RoleName.ENGINEER, RoleName.QA}
    v1, v2 = (rt.store.get(rt.vocab.mint_iri(C.ProcessVersion, f"CATH-ASSY/{v}"))
              for v in ("v1", "v2"))
    assert v2 is not None and v2.props[P.versionStatus] == ProcessVersionStatus.EFFECTIVE
    assert v2.props.get(MIGRATED) is not True
    assert v1 is not None and v1.props[P.versionStatus] == ProcessVersionStatus.SUPERSEDED
    assert v1.props[P.effectiveTo] == v2.props[P.effectiveFrom]
    # the change-control command made it Effective (audit trail), as the QA approver
    made = [t for t in rt.store.audit_entries(record=v2.iri) if t.field == P.versionStatus
            and t.new == ProcessVersionStatus.EFFECTIVE]
    assert [t.event_id for t in made] == ["change:CR-2026-0007:effective"]
    assert get_user(rt, made[0].actor) is not None


def test_migrated_mark_is_on_the_go_live_records_only(plant: tuple[Runtime, Path]) -> None:
    rt, _ = plant
    migrated = {label: [n for n in _all(rt, label) if n.props.get(MIGRATED) is True]
                for label in (C.Site, C.Supplier, C.ProcessVersion, C.Calibration,
                              C.TrainingRecord, C.User, C.OperationExecution,
                              C.ReleaseDecision, C.ElectronicSignature, C.Approval,
                              C.InspectionResult, C.SerializedUnit, C.Shipment)}
    assert migrated[C.Site] and migrated[C.Supplier] and migrated[C.TrainingRecord]
    assert {v.key for v in migrated[C.ProcessVersion]} >= {"CATH-ASSY/v1"}
    assert "CATH-ASSY/v2" not in {v.key for v in migrated[C.ProcessVersion]}
    for label in (C.User, C.OperationExecution, C.ReleaseDecision, C.ElectronicSignature,
                  C.Approval, C.InspectionResult, C.SerializedUnit, C.Shipment):
        assert migrated[label] == [], label
    # lots: received as facts, approved by QC's decision, put on hold by placeHold: none marked
    assert [n.key for n in _all(rt, C.MaterialLot) if n.props.get(MIGRATED) is True] == []
    # the quality phase: only the excursion and its alarm (the live signal pipeline's records)
    for label in (C.Deviation, C.Hold, C.ImpactAssessment, C.RootCause, C.CAPA, C.CAPAAction,
                  C.Batch, C.MaintenanceRecord):
        assert [n.key for n in _all(rt, label) if n.props.get(MIGRATED) is True] == [], label
    for label in (C.Excursion, C.Alarm):  # the story's, and the drifting extruder's (live)
        nodes = _all(rt, label)
        assert nodes and all(n.props.get(MIGRATED) is True or _writers(rt, n.iri) == {
            ("signals", "signals" if label == C.Excursion or n.key.startswith("ALM")
             else "health")} for n in nodes), label
    assert GO_LIVE and LEGACY


def test_staff_are_accounts_with_their_roles(plant: tuple[Runtime, Path]) -> None:
    rt, _ = plant
    users = _all(rt, C.User)
    assert len({u.key for u in users}) == len(users)
    roles = {r for u in users if (a := get_user(rt, u.key)) is not None for r in a.roles}
    assert {RoleName.QA, RoleName.QC, RoleName.OPERATOR, RoleName.ENGINEER} <= roles
    assert all(u.props.get(P.passwordHash) for u in users)


def test_audit_verify_passes(plant: tuple[Runtime, Path]) -> None:
    _, data = plant
    out = CliRunner().invoke(audit_app, ["verify"], env={
        "TRACEGRAPH_DATA_DIR": str(data), "TRACEGRAPH_STORE": "embedded", "COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "verified" in out.output


def _writers(rt: Runtime, iri: str) -> set[tuple[str, str]]:
    """(actor, event id prefix) of the audit entries that created or changed a record."""
    return {(t.actor, str(t.event_id).split(":", 1)[0])
            for t in rt.store.audit_entries(record=iri)}


def test_deviations_holds_and_capa_are_written_by_their_commands(
        plant: tuple[Runtime, Path]) -> None:
    rt, _ = plant
    users = {u.key for u in _all(rt, C.User)}
    devs = {d.key: d for d in _all(rt, C.Deviation)}
    assert set(devs) == {"DEV-2026-0001", "DEV-2026-0002"}
    holds = {h.key: h for h in _all(rt, C.Hold)}
    assert set(holds) == {"HLD-2026-0001", "HLD-2026-0002"}
    for label in (C.Deviation, C.Hold, C.ImpactAssessment, C.RootCause, C.CAPA, C.CAPAAction):
        nodes = _all(rt, label)
        assert nodes, label
        for n in nodes:
            writers = _writers(rt, n.iri)
            # written by a workflow command (quality or change control events), as a named
            # plant account
            assert writers and all(a in users and e in ("quality", "change")
                                   for a, e in writers), \
                (n.key, writers)
    qc = {u for u in users if (a := get_user(rt, u)) and a.roles & {RoleName.QC, RoleName.QA}}
    for h in holds.values():
        assert h.props[P.holdState] == "Active"
        assert {a for a, _ in _writers(rt, h.iri)} <= qc
        raised = [e.dst for e in rt.store.links([h.iri], [R.RAISED_BY])]
        assert raised == [devs[h.key.replace("HLD", "DEV")].iri]
    # the excursion's deviation is raised by its (migrated) alarm; the CAPA has its actions
    alarm = rt.vocab.mint_iri(C.Alarm, "ALM-2026-0001")
    assert [e.dst for e in rt.store.links([devs["DEV-2026-0001"].iri], [R.RAISED_BY])] == [alarm]
    actions = {a.key: a for a in _all(rt, C.CAPAAction)}
    assert actions["CAPA-2026-0001-A1"].props[P.actionState] == "Completed"
    assert actions["CAPA-2026-0001-A2"].props[P.actionState] == "Planned"
    # the hold's time is the plant's (the story's), not the loading time
    assert str(holds["HLD-2026-0001"].props[P.openedAt]) > str(devs["DEV-2026-0001"].props[
        P.openedAt]) and str(holds["HLD-2026-0001"].props[P.openedAt]).startswith("2026-01")


def test_held_material_and_release_reports_of_held_batches(plant: tuple[Runtime, Path]) -> None:
    rt, _ = plant
    holds = {h.key: h for h in _all(rt, C.Hold)}
    held_by: dict[str, set[str]] = {}
    for h in holds.values():
        for e in rt.store.links([h.iri], [R.HOLDS]):
            held_by.setdefault(e.dst, set()).add(h.key)
    nodes = rt.store.get_many(sorted(held_by))
    batches = [n for n in nodes.values() if n.label == C.Batch]
    lots = [n for n in nodes.values() if n.label == C.MaterialLot]
    assert len(lots) == 1 and lots[0].props[P.materialLotStatus] == MaterialLotStatus.ON_HOLD
    assert len(batches) >= 2
    # the excursion's batch is under both holds (a second hold on a held batch is accepted)
    assert any(held_by[b.iri] == set(holds) for b in batches)
    for b in batches:
        assert b.props[P.batchStatus] == BatchStatus.ON_HOLD
        report = release_report(rt, b.iri)
        named = {p.message.split()[1] for p in report.exceptions if p.rule == "open-deviation"}
        hold_keys = {holds[k].iri for k in held_by[b.iri]}
        assert {p.focus for p in report.exceptions if p.rule == "active-hold"} >= hold_keys, \
            (b.key, report.exceptions)
        assert {k.replace("HLD", "DEV") for k in held_by[b.iri]} <= named, (b.key, named)


def test_the_drifting_extruder_has_a_forecast_and_a_predictive_work_order(
        plant: tuple[Runtime, Path]) -> None:
    """Issue 17 item 2 in the demo: one drift warning from the signal pipeline, a predictive
    work order raised by it (by a plant engineer, through its command), and the next batch on
    the extruder warned, not refused."""
    from ingest.signals.health import equipment_health
    from quality.maintenance import drift_warnings

    rt, data = plant
    wos = _all(rt, C.MaintenanceWorkOrder)
    [wo] = wos
    assert wo.props[P.maintenanceType] == "predictive" and wo.props[P.workOrderState] == "Open"
    [eq] = [e.dst for e in rt.store.links([wo.iri], [R.MAINTAINS])]
    [warning] = drift_warnings(rt.store, eq)
    assert [e.dst for e in rt.store.links([wo.iri], [R.RAISED_BY])] == [warning.iri]
    [(actor, _)] = _writers(rt, wo.iri)
    account = get_user(rt, actor)
    assert account is not None and RoleName.ENGINEER in account.roles
    h = equipment_health(rt, data / "signals", eq)
    assert h.state == "breachForecast"
    assert [p.breach_at is not None for p in h.parameters] == [True]
    drifting, warned = h.at_risk  # the running batch, and the next one warned at its start
    assert drifting.batch is not None and drifting.batch.endswith("-D")
    assert warned.alarm is not None and warned.batch is not None and warned.batch.endswith("-N")
    assert rt.store.get(rt.vocab.mint_iri(C.Batch, warned.batch)) is not None  # written


# -- document control (issue 18 item 1) ------------------------------------------------------------
@pytest.mark.req("URS-DOC-01")
def test_sop_revision_approved_signed_and_due_for_training(plant: tuple[Runtime, Path]) -> None:
    from ontology.datatypes import to_utc_text
    from quality.document_training import training_status
    from quality.documents import approval_problems

    rt, _ = plant
    c, d = (rt.store.get(rt.vocab.mint_iri(C.Document, k)) for k in ("SOP-STE-070",
                                                                     "SOP-STE-070/D"))
    assert c is not None and c.props[P.versionStatus] == ProcessVersionStatus.SUPERSEDED
    assert d is not None and d.props[P.versionStatus] == ProcessVersionStatus.EFFECTIVE
    assert d.props.get(MIGRATED) is not True and c.props[P.effectiveTo] == d.props[P.effectiveFrom]
    assert approval_problems(rt.store, d) == []  # a valid QA approval, signed
    due = training_status(rt.store, d, to_utc_text(rt.clock()))
    states = sorted(t.state for t in due)
    assert states.count("trained") == 1 and len(due) > 1
    assert set(states) - {"trained"} <= {"pending", "overdue"}
