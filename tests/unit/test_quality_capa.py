"""CAPA closure on an in-memory session: a CAPA closes only with its actions done and its
effectiveness proven from the graph and verified by QA — through the workflow
(:func:`quality.capa.close_capa`) and through any other write (the guard
:func:`quality.deviation_guard.capa_closure`); and a deviation waits for its CAPA's
effectiveness."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pytest

from graph.errors import Problem, WriteRejectedError
from ontology.codes import (
    CAPAState,
    DeviationState,
    EffectivenessResult,
    SignatureMeaning,
)
from ontology.terms import C, P
from quality import capa as capa_mod
from quality.deviations import advance
from quality.signatures import signatures_of
from quality.workflow import WorkflowRefused
from tests.unit.records import (
    OPERATION,
    PASSWORD,
    account,
    action,
    batch,
    capa,
    deviation,
    effectiveness_check,
    equipment,
    excursion,
    execution,
    put,
    ts,
)
from tests.unit.session import UnitSession


@dataclass
class Capa:
    deviation: str
    capa: str
    action: str
    press: str


def capa_on_the_press(s: UnitSession, check: bool = True) -> Capa:
    """Deviation DEV-1 (CAPA linked) with CAPA-1: one planned action (A1, owned by QA) and,
    if ``check``, the effectiveness check EC-1 — no excursion on the press in the next batch."""
    qa = s.iri(C.User, account(s, "q.adams", "qa"))
    account(s, "q.clark", "qc")
    dev = deviation(s, "DEV-1", DeviationState.CAPA_LINKED)
    c = capa(s, "CAPA-1", dev)
    a = action(s, c, "CAPA-1-A1", qa)
    press = equipment(s, "PRESS-1")
    if check:
        effectiveness_check(s, c, "EC-1", press, batches=1)
    return Capa(dev, c, a, press)


def batch_on(s: UnitSession, key: str, press: str, day: int, excursions: int = 0) -> str:
    """A batch made on ``press`` ``day`` days after T0, with so many excursions."""
    b = batch(s, key)
    x = execution(s, f"{key}/OP10", b, s.iri(C.Operation, OPERATION), started=ts(days=day),
                  links={P.onEquipment: press})
    for i in range(excursions):
        excursion(s, f"EXC-{key}-{i}", x)
    return b


def rules(problems: Iterable[Problem]) -> set[tuple[str, str, str]]:
    return {(p.rule, p.field, str(p.value)) for p in problems}


@pytest.mark.req("URS-CAPA-01")
def test_a_capa_does_not_close_with_actions_open_and_effectiveness_unproven(
        session: UnitSession) -> None:
    s = session
    k = capa_on_the_press(s)
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        capa_mod.close_capa(s, k.capa, "q.adams", PASSWORD, "close")
    assert (e.value.code, e.value.field, e.value.value) == (
        "capa-closure-refused", "capaState", "CAPA-1")
    assert rules(e.value.problems) == {("actions-open", "actionState", "['CAPA-1-A1']"),
                                ("effectiveness-unproven", "effectivenessCriterion", "EC-1")}
    assert s.prop(k.capa, P.capaState) == CAPAState.IMPLEMENTATION


@pytest.mark.req("URS-CAPA-01")
def test_a_capa_without_an_effectiveness_check_does_not_close(session: UnitSession) -> None:
    s = session
    k = capa_on_the_press(s, check=False)
    capa_mod.complete_action(s, k.action, "q.adams", "done")
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        capa_mod.close_capa(s, k.capa, "q.adams", PASSWORD, "close")
    assert rules(e.value.problems) == {("effectiveness-check-missing", "checkOf", "CAPA-1")}


@pytest.mark.req("URS-CAPA-01")
def test_effectiveness_is_proven_by_later_batches_then_verified_then_the_capa_closes(
        session: UnitSession) -> None:
    s = session
    k = capa_on_the_press(s)
    capa_mod.complete_action(s, k.action, "q.adams", "fixed")
    batch_on(s, "B-BEFORE", k.press, day=-1)  # made before the fix: does not count
    assert capa_mod.evaluate(s, "EC-1").result == "unproven"
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        capa_mod.verify_check(s, "EC-1", "q.adams", PASSWORD, "verify")
    assert (e.value.code, e.value.value) == ("effectiveness-unproven", "EC-1")
    later = batch_on(s, "B-AFTER", k.press, day=1)
    ev = capa_mod.evaluate(s, "EC-1")
    assert (ev.result, ev.batches) == (EffectivenessResult.EFFECTIVE, [later])
    # met, but QA has not verified it yet
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        capa_mod.close_capa(s, k.capa, "q.adams", PASSWORD, "close")
    assert rules(e.value.problems) == {
        ("effectiveness-not-verified", "effectivenessResult", "EC-1")}
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:  # QA verifies, not QC
        capa_mod.verify_check(s, "EC-1", "q.clark", PASSWORD, "verify")
    assert e.value.code == "role"
    capa_mod.verify_check(s, "EC-1", "q.adams", PASSWORD, "one clean batch")
    check = s.iri(C.EffectivenessCheck, "EC-1")
    assert s.prop(check, P.effectivenessResult) == EffectivenessResult.EFFECTIVE
    assert [(g.meaning, g.valid) for g in signatures_of(s, check)] == [
        (SignatureMeaning.VERIFIED, True)]
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:  # QA closes, not QC
        capa_mod.close_capa(s, k.capa, "q.clark", PASSWORD, "close")
    assert e.value.code == "role"
    s.clock.step(days=3)
    closed = capa_mod.close_capa(s, k.capa, "q.adams", PASSWORD, "effective")
    assert closed.props[P.capaState] == CAPAState.CLOSED
    assert closed.props[P.closedAt] == ts(days=3)
    assert [(g.meaning, g.username) for g in signatures_of(s, k.capa)] == [
        (SignatureMeaning.APPROVED, "q.adams")]
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        capa_mod.close_capa(s, k.capa, "q.adams", PASSWORD, "again")
    assert (e.value.code, e.value.value) == ("capa-state", CAPAState.CLOSED)


@pytest.mark.req("URS-CAPA-01")
def test_a_recurrence_makes_the_capa_not_effective(session: UnitSession) -> None:
    s = session
    k = capa_on_the_press(s)
    capa_mod.complete_action(s, k.action, "q.adams", "fixed")
    batch_on(s, "B-AFTER", k.press, day=1, excursions=1)
    ev = capa_mod.evaluate(s, "EC-1")
    assert ev.result == EffectivenessResult.NOT_EFFECTIVE
    assert ev.findings == [s.iri(C.Excursion, "EXC-B-AFTER-0")]
    capa_mod.verify_check(s, "EC-1", "q.adams", PASSWORD, "recurred")  # a result to record
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        capa_mod.close_capa(s, k.capa, "q.adams", PASSWORD, "close")
    assert rules(e.value.problems) == {("not-effective", "effectivenessCriterion", "EC-1")}


@pytest.mark.req("URS-SEQ-01", "URS-CAPA-01")
def test_no_write_path_closes_a_capa_around_the_rules(session: UnitSession) -> None:
    s = session
    k = capa_on_the_press(s)
    with s.writes_nothing(), pytest.raises(WriteRejectedError) as e:
        put(s, C.CAPA, "CAPA-1", {P.capaState: CAPAState.CLOSED})
    assert rules(e.value.problems) == {("actions-open", "actionState", "['CAPA-1-A1']"),
                                ("effectiveness-unproven", "effectivenessCriterion", "EC-1")}
    assert {p.focus for p in e.value.problems} == {k.capa}
    # once the rules are met, the same write goes through
    capa_mod.complete_action(s, k.action, "q.adams", "fixed")
    batch_on(s, "B-AFTER", k.press, day=1)
    capa_mod.verify_check(s, "EC-1", "q.adams", PASSWORD, "clean")
    put(s, C.CAPA, "CAPA-1", {P.capaState: CAPAState.CLOSED})
    assert s.prop(k.capa, P.capaState) == CAPAState.CLOSED


@pytest.mark.req("URS-CAPA-01", "URS-DEVI-01")
def test_the_deviation_waits_for_its_capas_effectiveness(session: UnitSession) -> None:
    s = session
    k = capa_on_the_press(s)
    target = DeviationState.EFFECTIVENESS_VERIFIED
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        advance(s, k.deviation, target, "q.adams", PASSWORD, "verify")
    assert (e.value.code, e.value.field, e.value.value) == (
        "effectiveness-unproven", "effectivenessCriterion", "EC-1")
    with s.writes_nothing(), pytest.raises(WriteRejectedError) as e2:  # nor by a plain write
        put(s, C.Deviation, "DEV-1", {P.deviationState: target})
    assert "effectiveness-unproven" in {p.rule for p in e2.value.problems}
    capa_mod.complete_action(s, k.action, "q.adams", "fixed")
    batch_on(s, "B-AFTER", k.press, day=1)
    r = advance(s, k.deviation, target, "q.adams", PASSWORD, "effective")
    assert r.moved and s.prop(k.deviation, P.deviationState) == target
