"""The deviation lifecycle, on an in-memory session: the write guard
(:func:`quality.deviation_guard.deviation_lifecycle`) that holds for every write path, and the
workflow (:func:`quality.deviations.advance`) that QA and QC use — allowed and refused
transitions, the roles and signatures each grade needs, and the graph prerequisites."""

from __future__ import annotations

import pytest

from graph.errors import WriteRejectedError
from ontology.codes import (
    CAPAState,
    CauseCategory,
    DeviationGrade,
    DeviationState,
    HoldState,
    SignatureMeaning,
)
from ontology.terms import C, P
from quality.accounts import AuthError
from quality.deviations import advance, approval_key, assess_impact, record_root_cause
from quality.signatures import signatures_of
from quality.workflow import WorkflowRefused
from tests.unit.records import PASSWORD, account, batch, capa, deviation, hold, put
from tests.unit.session import UnitSession

State = DeviationState


def moved_to(s: UnitSession, dev: str, target: State, who: str,
             grade: DeviationGrade | None = None) -> None:
    r = advance(s, dev, target, who, PASSWORD, f"to {target}", grade=grade)
    assert r.moved and r.state == target, r.missing


def investigated(s: UnitSession, dev: str) -> None:
    """The investigation's records: an impact assessment computed from the graph and a root
    cause."""
    assess_impact(s, dev, "q.clark", "impact")
    record_root_cause(s, dev, "RC-1", CauseCategory.MACHINE, ["press too cold"], "q.clark",
                      "5-why")


def approval_signatures(s: UnitSession, dev_key: str, target: State,
                        role: str) -> set[tuple[str, str, bool]]:
    approval = s.iri(C.Approval, approval_key(dev_key, target, role))
    return {(g.username, g.meaning, g.valid) for g in signatures_of(s, approval)}


# -- the write guard -------------------------------------------------------------------------
@pytest.mark.req("URS-SEQ-01", "URS-DEVI-01")
def test_no_write_jumps_a_deviation_around_the_lifecycle(session: UnitSession) -> None:
    s = session
    dev = deviation(s, "DEV-1")
    with s.writes_nothing(), pytest.raises(WriteRejectedError) as e:
        put(s, C.Deviation, "DEV-1", {P.deviationState: State.CLOSED})
    [p] = e.value.problems
    assert (p.rule, p.field, p.value, p.focus) == (
        "deviation-lifecycle", "deviationState", State.CLOSED, dev)
    assert "Open can move to Triaged, not Closed" in p.message
    assert s.prop(dev, P.deviationState) == State.OPEN


@pytest.mark.req("URS-DEVI-01", "URS-ESIG-01")
def test_a_step_along_the_lifecycle_still_needs_its_signed_approval(
        session: UnitSession) -> None:
    s = session
    dev = deviation(s, "DEV-1")
    with s.writes_nothing(), pytest.raises(WriteRejectedError) as e:
        put(s, C.Deviation, "DEV-1", {P.deviationState: State.TRIAGED})
    [p] = e.value.problems
    assert (p.rule, p.field, p.value, p.focus) == (
        "requires-signature", "deviationState", State.TRIAGED, dev)
    assert approval_key("DEV-1", State.TRIAGED, "qc") in p.message


@pytest.mark.req("URS-DEVI-01")
def test_the_grade_is_frozen_once_triaged(session: UnitSession) -> None:
    s = session
    deviation(s, "DEV-OPEN")
    put(s, C.Deviation, "DEV-OPEN", {P.deviationGrade: DeviationGrade.MINOR})  # not triaged yet
    dev = deviation(s, "DEV-1", State.TRIAGED, DeviationGrade.MAJOR)
    with s.writes_nothing(), pytest.raises(WriteRejectedError) as e:
        put(s, C.Deviation, "DEV-1", {P.deviationGrade: DeviationGrade.MINOR})
    [p] = e.value.problems
    assert (p.rule, p.field, p.value, p.focus) == (
        "deviation-grade-frozen", "deviationGrade", DeviationGrade.MINOR, dev)


def test_a_deviation_created_in_a_later_state_is_accepted_then_checked(
        session: UnitSession) -> None:
    """Records migrated from a legacy QMS arrive in their state; their next change is
    checked like any other."""
    s = session
    dev = deviation(s, "DEV-LEGACY", State.CAPA_LINKED)
    assert s.prop(dev, P.deviationState) == State.CAPA_LINKED
    with s.writes_nothing(), pytest.raises(WriteRejectedError) as e:
        put(s, C.Deviation, "DEV-LEGACY", {P.deviationState: State.CLOSED})
    [p] = e.value.problems
    assert (p.rule, p.value) == ("deviation-lifecycle", State.CLOSED)
    assert "can move to EffectivenessVerified" in p.message


@pytest.mark.req("URS-DEVI-01")
def test_critical_closure_needs_qc_review_besides_qa_approval(session: UnitSession) -> None:
    s = session
    account(s, "q.adams", "qa")
    account(s, "q.both", "qa", "qc")
    dev = deviation(s, "DEV-1", State.EFFECTIVENESS_VERIFIED, DeviationGrade.CRITICAL)
    r = advance(s, dev, State.CLOSED, "q.adams", PASSWORD, "closure approved")
    assert not r.moved and r.state == State.EFFECTIVENESS_VERIFIED
    assert [(p.rule, p.value) for p in r.missing] == [("requires-signature", State.CLOSED)]
    assert approval_key("DEV-1", State.CLOSED, "qc") in r.missing[0].message
    assert approval_signatures(s, "DEV-1", State.CLOSED, "qa") == {
        ("q.adams", SignatureMeaning.APPROVED, True)}
    # the guard agrees: QA's approval alone does not close a critical deviation
    with s.writes_nothing(), pytest.raises(WriteRejectedError) as e:
        put(s, C.Deviation, "DEV-1", {P.deviationState: State.CLOSED})
    assert [(p.rule, p.field) for p in e.value.problems] == [
        ("requires-signature", "deviationState")]
    moved_to(s, dev, State.CLOSED, "q.both")
    assert approval_signatures(s, "DEV-1", State.CLOSED, "qc") == {
        ("q.both", SignatureMeaning.REVIEWED, True)}
    assert s.prop(dev, P.closedAt) is not None


# -- the workflow ------------------------------------------------------------------------------
@pytest.mark.req("URS-DEVI-01")
def test_triage_by_qc_grades_the_deviation_and_signs_the_approval(session: UnitSession) -> None:
    s = session
    account(s, "q.clark", "qc")
    dev = deviation(s, "DEV-1", grade=DeviationGrade.MAJOR)
    moved_to(s, dev, State.TRIAGED, "q.clark", grade=DeviationGrade.MINOR)
    assert s.prop(dev, P.deviationGrade) == DeviationGrade.MINOR
    assert approval_signatures(s, "DEV-1", State.TRIAGED, "qc") == {
        ("q.clark", SignatureMeaning.REVIEWED, True)}


@pytest.mark.parametrize(("who", "target", "reason", "grade", "rule", "field", "value"), [
    ("q.clark", State.INVESTIGATION, "skip triage", None,
     "deviation-transition", "deviationState", State.INVESTIGATION),
    ("o.ortiz", State.TRIAGED, "triage", DeviationGrade.MAJOR, "role", "username", "o.ortiz"),
    ("nobody", State.TRIAGED, "triage", DeviationGrade.MAJOR,
     "no-such-user", "username", "nobody"),
    ("q.clark", State.TRIAGED, "  ", DeviationGrade.MAJOR, "reason-required", "reason", "  "),
    ("q.clark", State.TRIAGED, "triage", "severe", "deviation-grade", "deviationGrade", "severe"),
], ids=["skip-a-state", "operator", "unknown-user", "no-reason", "unknown-grade"])
@pytest.mark.req("URS-SEQ-01", "URS-DEVI-01")
def test_a_refused_transition_writes_nothing(session: UnitSession, who: str, target: State,
                                             reason: str, grade: str | None, rule: str,
                                             field: str, value: str) -> None:
    s = session
    account(s, "q.clark", "qc")
    account(s, "o.ortiz", "operator")
    dev = deviation(s, "DEV-1")
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        advance(s, dev, target, who, PASSWORD, reason, grade=grade)
    assert (e.value.code, e.value.field, e.value.value) == (rule, field, value)


def test_a_wrong_password_leaves_no_approval_behind(session: UnitSession) -> None:
    s = session
    account(s, "q.clark", "qc")
    dev = deviation(s, "DEV-1")
    with pytest.raises(AuthError) as e:
        advance(s, dev, State.TRIAGED, "q.clark", "not the password", "triage",
                grade=DeviationGrade.MAJOR)
    assert e.value.code == "invalid-credentials"
    assert s.store.get(s.iri(C.Approval, approval_key("DEV-1", State.TRIAGED, "qc"))) is None
    assert s.prop(dev, P.deviationState) == State.OPEN


@pytest.mark.req("URS-DEVI-01")
def test_a_minor_deviation_closes_after_investigation_with_impact_and_root_cause(
        session: UnitSession) -> None:
    s = session
    account(s, "q.clark", "qc")
    account(s, "q.adams", "qa")
    dev = deviation(s, "DEV-1", State.INVESTIGATION, DeviationGrade.MINOR,
                    concerns=[batch(s, "B-1")])
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        advance(s, dev, State.CLOSED, "q.adams", PASSWORD, "close")
    assert {(p.rule, p.field, p.value) for p in e.value.problems} == {
        ("impact-assessment-missing", "assesses", "DEV-1"),
        ("root-cause-missing", "causeOf", "DEV-1")}
    investigated(s, dev)
    with pytest.raises(WorkflowRefused) as e2:  # QC investigates but does not close
        advance(s, dev, State.CLOSED, "q.clark", PASSWORD, "close")
    assert e2.value.code == "role"
    moved_to(s, dev, State.CLOSED, "q.adams")
    assert approval_signatures(s, "DEV-1", State.CLOSED, "qa") == {
        ("q.adams", SignatureMeaning.APPROVED, True)}


@pytest.mark.req("URS-DEVI-01")
def test_a_major_deviation_needs_a_capa(session: UnitSession) -> None:
    s = session
    account(s, "q.clark", "qc")
    account(s, "q.adams", "qa")
    dev = deviation(s, "DEV-1", State.INVESTIGATION, DeviationGrade.MAJOR,
                    concerns=[batch(s, "B-1")])
    investigated(s, dev)
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        advance(s, dev, State.CLOSED, "q.adams", PASSWORD, "close without CAPA")
    assert (e.value.code, e.value.field, e.value.value) == (
        "deviation-grade", "deviationGrade", DeviationGrade.MAJOR)
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        advance(s, dev, State.CAPA_LINKED, "q.adams", PASSWORD, "CAPA raised")
    assert (e.value.code, e.value.field, e.value.value) == ("capa-missing", "raisedBy", "DEV-1")
    capa(s, "CAPA-1", dev)
    moved_to(s, dev, State.CAPA_LINKED, "q.adams")
    assert approval_signatures(s, "DEV-1", State.CAPA_LINKED, "qa") == {
        ("q.adams", SignatureMeaning.REVIEWED, True)}


def test_closure_waits_for_the_capas(session: UnitSession) -> None:
    s = session
    account(s, "q.adams", "qa")
    dev = deviation(s, "DEV-1", State.EFFECTIVENESS_VERIFIED)
    c = capa(s, "CAPA-1", dev, CAPAState.IMPLEMENTATION)
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        advance(s, dev, State.CLOSED, "q.adams", PASSWORD, "close")
    assert (e.value.code, e.value.field, e.value.value) == ("capa-open", "capaState", "CAPA-1")
    put(s, C.CAPA, "CAPA-1", {P.capaState: CAPAState.CANCELLED})  # a cancelled CAPA is done
    assert s.prop(c, P.capaState) == CAPAState.CANCELLED
    moved_to(s, dev, State.CLOSED, "q.adams")


def test_archiving_waits_for_the_holds_the_deviation_raised(session: UnitSession) -> None:
    s = session
    account(s, "q.adams", "qa")
    b = batch(s, "B-1")
    dev = deviation(s, "DEV-1", State.CLOSED, concerns=[b])
    h = hold(s, "HLD-1", [b], raised_by=dev)
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        advance(s, dev, State.ARCHIVED, "q.adams", PASSWORD, "archive")
    assert (e.value.code, e.value.field, e.value.value) == ("hold-active", "holdState", "HLD-1")
    put(s, C.Hold, "HLD-1", {P.holdState: HoldState.RELEASED})
    assert s.prop(h, P.holdState) == HoldState.RELEASED
    moved_to(s, dev, State.ARCHIVED, "q.adams")  # archiving needs no signature
    assert s.prop(dev, P.deviationState) == State.ARCHIVED
