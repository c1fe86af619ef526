"""Batch release by exception on an in-memory session (:mod:`quality.release`): each rule
reports exactly the record that blocks release (rule, focus, field, value), release is refused
while any is left and writes nothing, and a clean batch is released with QA's signature."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ontology.codes import (
    BatchStatus,
    DeviationState,
    DispositionType,
    ExecutionStatus,
    HoldState,
    ReleaseOutcome,
    SignatureMeaning,
)
from ontology.terms import C, P
from quality.dispositions import dispose
from quality.release import release_batch, release_report
from quality.signatures import signatures_of
from quality.workflow import WorkflowRefused
from tests.unit.records import (
    OPERATION,
    PASSWORD,
    account,
    batch,
    deviation,
    excursion,
    execution,
    hold,
    material_lot,
    observation,
    put,
    ts,
)
from tests.unit.session import UnitSession

Row = tuple[str, str | None, str, object]  # rule, focus, field, value


@dataclass
class Made:
    batch: str
    lot: str
    execution: str


def made(s: UnitSession, status: ExecutionStatus = ExecutionStatus.COMPLETED) -> Made:
    """Batch B-1 made from lot LOT-1 by one execution of the version's one operation; QA and
    QC accounts."""
    account(s, "q.adams", "qa")
    account(s, "q.clark", "qc")
    lot = material_lot(s, "LOT-1")
    b = batch(s, "B-1", [lot], at=ts())
    x = execution(s, "B-1/OP10", b, s.iri(C.Operation, OPERATION), status=status)
    s.clock.step(hours=2)
    return Made(b, lot, x)


def exceptions(s: UnitSession, b: str) -> list[Row]:
    return sorted(((p.rule, p.focus, p.field, p.value) for p in release_report(s, b).exceptions),
                  key=str)


@pytest.mark.req("URS-REL-01")
def test_a_clean_batch_is_released_with_qas_signature(session: UnitSession) -> None:
    s = session
    m = made(s)
    assert exceptions(s, m.batch) == []
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        release_batch(s, "B-1", "q.clark", PASSWORD, "release")
    assert (e.value.code, e.value.value) == ("role", "q.clark")
    decision = release_batch(s, "B-1", "q.adams", PASSWORD, "reviewed by exception")
    assert (decision.props[P.releaseOutcome], decision.props[P.exceptionCount]) == (
        ReleaseOutcome.RELEASED, 0)
    assert decision.props[P.decidedAt] == ts(hours=2)
    assert [(g.username, g.meaning, g.valid) for g in signatures_of(s, decision.iri)] == [
        ("q.adams", SignatureMeaning.RELEASED, True)]
    assert s.prop(m.batch, P.batchStatus) == BatchStatus.RELEASED


@pytest.mark.req("URS-REL-01")
def test_release_is_refused_with_the_exception_list_and_writes_nothing(
        session: UnitSession) -> None:
    s = session
    m = made(s)
    dev = deviation(s, "DEV-1", concerns=[m.lot])
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        release_batch(s, "B-1", "q.adams", PASSWORD, "release")
    assert (e.value.code, e.value.field, e.value.value) == ("release-exceptions", "batch", "B-1")
    assert [(p.rule, p.focus) for p in e.value.problems] == [("open-deviation", dev)]
    assert s.prop(m.batch, P.batchStatus) == BatchStatus.COMPLETED
    assert s.store.nodes_of_class(C.ReleaseDecision) == []


@pytest.mark.parametrize(("state", "blocks"), [
    (DeviationState.OPEN, True), (DeviationState.TRIAGED, True),
    (DeviationState.INVESTIGATION, True), (DeviationState.CAPA_LINKED, True),
    (DeviationState.EFFECTIVENESS_VERIFIED, True),
    (DeviationState.CLOSED, False), (DeviationState.ARCHIVED, False)])
@pytest.mark.req("URS-REL-01")
def test_a_deviation_upstream_blocks_release_until_closed(
        session: UnitSession, state: DeviationState, blocks: bool) -> None:
    s = session
    m = made(s)
    dev = deviation(s, "DEV-1", state, concerns=[m.lot])  # on the lot the batch consumed
    want = [("open-deviation", dev, "deviationState", state)] if blocks else []
    assert exceptions(s, m.batch) == want


@pytest.mark.parametrize(("state", "blocks"), [
    (HoldState.ACTIVE, True), (HoldState.RELEASED, False), (HoldState.DISPOSITIONED, False)])
@pytest.mark.req("URS-REL-01")
def test_a_hold_upstream_blocks_release_while_active(session: UnitSession, state: HoldState,
                                                     blocks: bool) -> None:
    s = session
    m = made(s)
    h = hold(s, "HLD-1", [m.lot], state=state)
    want = [("active-hold", h, "holdState", HoldState.ACTIVE)] if blocks else []
    assert exceptions(s, m.batch) == want


@pytest.mark.req("URS-REL-01")
def test_a_disposition_counts_only_with_qas_signature(session: UnitSession) -> None:
    s = session
    m = made(s)
    h1 = hold(s, "HLD-1", [m.lot], state=HoldState.RELEASED)
    unsigned = put(s, C.Disposition, "DSP-HLD-1-1", {
        P.recordNumber: "DSP-HLD-1-1", P.dispositionType: DispositionType.RELEASE,
        P.decidedAt: ts(), P.description: "released on paper"},
        {P.resolvesHold: h1, P.disposes: m.lot})
    assert exceptions(s, m.batch) == [
        ("signature-missing", unsigned, "signatureMeaning", SignatureMeaning.APPROVED)]
    # the workflow's disposition is signed: the second hold blocks only while active
    hold(s, "HLD-2", [m.batch])
    signed = dispose(s, "HLD-2", DispositionType.RELEASE, "q.adams", PASSWORD, "retested OK")
    assert [r for r, *_ in exceptions(s, m.batch)] == ["signature-missing"]
    assert signed.iri not in {f for _r, f, *_ in exceptions(s, m.batch)}


@pytest.mark.parametrize(("low", "high", "field"), [
    (170.0, 200.0, "minValue"), (190.0, 230.0, "maxValue"), (180.0, 220.0, None)])
@pytest.mark.req("URS-PROC-01", "URS-REL-01")
def test_a_parameter_out_of_the_pinned_spec_blocks_release(
        session: UnitSession, low: float, high: float, field: str | None) -> None:
    s = session
    m = made(s)
    obs = observation(s, "B-1/OP10/TEMP", m.execution, low, high)
    want = [("parameter-out-of-spec", obs, field, [low, high])] if field else []
    assert exceptions(s, m.batch) == want


@pytest.mark.parametrize(("state", "explained"), [
    (None, False), (DeviationState.INVESTIGATION, False),
    (DeviationState.EFFECTIVENESS_VERIFIED, False), (DeviationState.CLOSED, True),
    (DeviationState.ARCHIVED, True)])
@pytest.mark.req("URS-REL-01")
def test_an_excursion_blocks_release_until_its_deviation_is_closed(
        session: UnitSession, state: DeviationState | None, explained: bool) -> None:
    s = session
    m = made(s)
    obs = observation(s, "B-1/OP10/TEMP", m.execution, 190.0, 230.0)
    exc = excursion(s, "EXC-1", m.execution)
    if state is not None:
        deviation(s, "DEV-1", state, raised_by=exc)
    want = [("excursion", exc, "excursionLevel", "outOfSpec"),
            ("parameter-out-of-spec", obs, "maxValue", [190.0, 230.0])]
    assert exceptions(s, m.batch) == ([] if explained else want)


@pytest.mark.req("URS-REL-01", "URS-SEQ-01")
def test_every_operation_of_the_pinned_version_must_be_executed_and_completed(
        session: UnitSession) -> None:
    s = session
    m = made(s, ExecutionStatus.STARTED)
    assert exceptions(s, m.batch) == [
        ("execution-incomplete", m.execution, "executionStatus", ExecutionStatus.STARTED)]
    other = batch(s, "B-2")
    assert exceptions(s, other) == [("operation-missing", other, "executesOperation", OPERATION)]
