"""Change control of process definitions on an in-memory session (:mod:`quality.change_control`
and the version guards): propose → assess → approve → effective; a missing, rejected or stale
approval refuses the change and writes nothing; no write makes a version Effective around it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from graph.errors import WriteRejectedError
from ontology.codes import (
    ApprovalDecision,
    ChangeState,
    ProcessVersionStatus,
    RoleName,
    SignatureMeaning,
)
from ontology.terms import C, P, R
from quality import change_control as cc
from quality.signatures import signatures_of
from tests.unit.records import PASSWORD, account, defined_version, put, standard_version, ts
from tests.unit.session import UnitSession

Status = ProcessVersionStatus


@dataclass
class Change:
    base: str
    proposed: str
    request: str


def proposed(s: UnitSession, number: str = "CR-1") -> Change:
    """Effective ASSY/v1 (USL 220), a Draft ASSY/v2 tightening the USL to 210, and the change
    request proposing it; an engineer and a QA account."""
    account(s, "eng.one", RoleName.ENGINEER)
    account(s, "qa.one", RoleName.QA)
    base = standard_version(s)
    new = defined_version(s, "ASSY/v2", Status.DRAFT, usl=210.0)
    return Change(base, new, cc.propose(s, number, "Tighten the USL", "field complaints",
                                        base, new, "eng.one"))


def approved_by_both(s: UnitSession, c: Change) -> None:
    cc.assess(s, c.request, "eng.one")
    cc.approve(s, c.request, "eng.one", PASSWORD, RoleName.ENGINEER, "engineering review")
    cc.approve(s, c.request, "qa.one", PASSWORD, RoleName.QA, "QA review")


def status(s: UnitSession, version: str) -> object:
    return s.prop(version, P.versionStatus)


@pytest.mark.req("URS-CC-01")
def test_a_change_becomes_effective_with_every_approval(session: UnitSession) -> None:
    s = session
    c = proposed(s)
    assert s.prop(c.request, P.changeState) == ChangeState.SUBMITTED
    assert [e.dst for e in s.store.links([c.proposed], [R.INTRODUCED_BY])] == [c.request]
    a = cc.assess(s, c.request, "eng.one")
    assert [(x.path, x.field, x.old, x.new) for x in a.changes] == [
        ("OP10/parameter/TEMP", "usl", 220.0, 210.0)]
    assert a.impact_level == "medium"  # a CPP, no batch made under the base version
    assert (status(s, c.proposed), s.prop(c.request, P.changeState)) == (
        Status.IN_REVIEW, ChangeState.IMPACT_ASSESSED)
    approvals = [cc.approve(s, c.request, "eng.one", PASSWORD, RoleName.ENGINEER, "review"),
                 cc.approve(s, c.request, "qa.one", PASSWORD, RoleName.QA, "QA review")]
    for approval, who in zip(approvals, ("eng.one", "qa.one"), strict=True):
        assert [(g.username, g.meaning, g.valid) for g in signatures_of(s, approval)] == [
            (who, SignatureMeaning.APPROVED, True)]
    at = ts("2026-04-01T00:00:00Z")
    assert cc.make_effective(s, c.request, "eng.one", at=at) == c.proposed
    assert (status(s, c.proposed), s.prop(c.proposed, P.effectiveFrom)) == (Status.EFFECTIVE, at)
    assert (status(s, c.base), s.prop(c.base, P.effectiveTo)) == (Status.SUPERSEDED, at)
    assert s.prop(c.request, P.changeState) == ChangeState.IMPLEMENTED


@pytest.mark.req("URS-CC-01")
def test_a_missing_approval_refuses_the_change_and_writes_nothing(session: UnitSession) -> None:
    s = session
    c = proposed(s)
    cc.assess(s, c.request, "eng.one")
    cc.approve(s, c.request, "eng.one", PASSWORD, RoleName.ENGINEER, "review")
    with s.writes_nothing(), pytest.raises(cc.ChangeControlError) as e:
        cc.make_effective(s, c.request, "eng.one")
    assert (e.value.code, e.value.field, e.value.value) == (
        "requires-signature", "changeRequest", c.request)
    assert [(p.rule, p.field, p.value, p.focus) for p in e.value.problems] == [
        ("requires-signature", "approval", RoleName.QA, c.request)]
    assert (status(s, c.proposed), status(s, c.base)) == (Status.IN_REVIEW, Status.EFFECTIVE)


@pytest.mark.req("URS-CC-01")
def test_an_edit_after_approval_makes_the_approvals_stale(session: UnitSession) -> None:
    s = session
    c = proposed(s)
    approved_by_both(s, c)
    put(s, C.ParameterSpec, "ASSY/v2/OP10/TEMP", {P.usl: 205.0})  # InReview: still editable
    with s.writes_nothing(), pytest.raises(cc.ChangeControlError) as e:
        cc.make_effective(s, c.request, "eng.one")
    assert sorted(str(p.value) for p in e.value.problems) == [RoleName.ENGINEER, RoleName.QA]
    assert status(s, c.proposed) == Status.IN_REVIEW
    # approving the edited definition again lets it through
    approved_by_both(s, c)
    cc.make_effective(s, c.request, "eng.one")
    assert status(s, c.proposed) == Status.EFFECTIVE


@pytest.mark.req("URS-CC-01")
def test_a_rejection_blocks_the_change(session: UnitSession) -> None:
    s = session
    c = proposed(s)
    cc.assess(s, c.request, "eng.one")
    cc.approve(s, c.request, "eng.one", PASSWORD, RoleName.ENGINEER, "review")
    rejection = cc.approve(s, c.request, "qa.one", PASSWORD, RoleName.QA, "not validated",
                           decision=ApprovalDecision.REJECTED)
    node = s.store.get(rejection)
    assert node is not None
    assert [g.meaning for g in signatures_of(s, rejection)] == [SignatureMeaning.REVIEWED]
    with s.writes_nothing(), pytest.raises(cc.ChangeControlError) as e:
        cc.make_effective(s, c.request, "eng.one")
    assert sorted((p.rule, p.field, str(p.value)) for p in e.value.problems) == [
        ("change-rejected", "approvalDecision", node.key),
        ("requires-signature", "approval", RoleName.QA)]
    assert status(s, c.proposed) == Status.IN_REVIEW


@pytest.mark.req("URS-ESIG-01", "URS-CC-01")
def test_an_approver_signs_only_in_a_role_they_hold(session: UnitSession) -> None:
    s = session
    c = proposed(s)
    cc.assess(s, c.request, "eng.one")
    with s.writes_nothing(), pytest.raises(cc.ChangeControlError) as e:
        cc.approve(s, c.request, "qa.one", PASSWORD, RoleName.ENGINEER, "not my role")
    assert (e.value.code, e.value.field, e.value.value) == (
        "not-permitted", "role", RoleName.ENGINEER)
    assert s.store.nodes_of_class(C.Approval) == []


def test_only_a_draft_is_proposed(session: UnitSession) -> None:
    s = session
    account(s, "eng.one", RoleName.ENGINEER)
    base = standard_version(s)
    other = defined_version(s, "ASSY/v9", Status.EFFECTIVE)
    with s.writes_nothing(), pytest.raises(cc.ChangeControlError) as e:
        cc.propose(s, "CR-9", "Swap", "no reason", base, other, "eng.one")
    assert (e.value.code, e.value.field, e.value.value) == ("version-not-draft", "proposed",
                                                            other)


@pytest.mark.req("URS-SEQ-01", "URS-CC-01")
def test_no_write_makes_a_version_effective_around_change_control(
        session: UnitSession) -> None:
    s = session
    v = defined_version(s, "ASSY/v3", Status.DRAFT)
    with s.writes_nothing(), pytest.raises(WriteRejectedError) as e:
        put(s, C.ProcessVersion, "ASSY/v3", {P.versionStatus: Status.EFFECTIVE})
    [p] = e.value.problems
    assert (p.rule, p.field, p.value, p.focus) == (
        "version-lifecycle", "versionStatus", Status.EFFECTIVE, v)
    put(s, C.ProcessVersion, "ASSY/v3", {P.versionStatus: Status.IN_REVIEW})
    put(s, C.ProcessVersion, "ASSY/v3", {P.versionStatus: Status.APPROVED})
    with s.writes_nothing(), pytest.raises(WriteRejectedError) as e:
        put(s, C.ProcessVersion, "ASSY/v3", {P.versionStatus: Status.EFFECTIVE,
                                             P.effectiveFrom: ts()})
    [p] = e.value.problems
    assert (p.rule, p.field, p.value, p.focus) == ("change-control", "introducedBy", v, v)
