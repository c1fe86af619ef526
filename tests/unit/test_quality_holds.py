"""Holds on an in-memory session: the held-material guard
(:func:`quality.holds.held_material_guard`) that every write meets — held material is not used
up or shipped, nothing with held material upstream is shipped, held WIP may still be
processed — and the signed dispositions that resolve a hold (:func:`quality.dispositions.dispose`).
"""

from __future__ import annotations

import pytest

from graph.errors import WriteRejectedError
from graph.model import Direction
from graph.schema import DERIVATION
from ontology.codes import (
    BatchStatus,
    DerivationKind,
    DispositionType,
    ExecutionStatus,
    HoldState,
    MaterialLotStatus,
    PackagingLevel,
    SignatureMeaning,
)
from ontology.datatypes import StoredValue
from ontology.terms import C, P, R
from quality.dispositions import Rework, dispose
from quality.signatures import signatures_of
from quality.workflow import WorkflowRefused
from tests.unit.records import (
    OPERATION,
    PASSWORD,
    VERSION,
    account,
    batch,
    derive,
    hold,
    material_lot,
    once,
    operation,
    put,
    standard_version,
    ts,
    version,
)
from tests.unit.session import UnitSession

Kind = DerivationKind


Output = tuple[str, dict[str, StoredValue], dict[str, str]]


def output_of(s: UnitSession, kind: Kind) -> Output:
    """Class, properties and links of what a derivation of ``kind`` makes (the master data it
    links to written first)."""
    if kind in (Kind.CONSUMPTION, Kind.MERGE, Kind.REWORK):
        return C.Batch, {P.batchStatus: BatchStatus.IN_PROCESS, P.quantity: 1.0,
                         P.unitCode: "{pc}"}, {P.ofProduct: s.iri(C.Product, "CATH"),
                                               P.runsProcessVersion: standard_version(s)}
    if kind == Kind.PRODUCTION:
        standard_version(s)
        return C.SerializedUnit, {}, {P.ofProduct: s.iri(C.Product, "CATH")}
    if kind == Kind.SPLIT:
        return C.Sublot, {}, {}
    if kind == Kind.AGGREGATION:
        return C.PackagingAggregation, {P.packagingLevel: PackagingLevel.CASE}, {}
    customer = once(s, C.Customer, "HOSP-1", {P.name: "St Mary", P.address: "1 Main St",
                                             P.country: "US"})
    return C.Shipment, {P.shippedAt: ts()}, {P.shippedTo: customer}


def made_from(s: UnitSession, kind: Kind, key: str, source: str, at: str | None = None,
              output: Output | None = None) -> str:
    """A record made from ``source`` by a derivation of ``kind`` (at event time ``at``, none:
    now), of the class that kind makes; its IRI."""
    cls, props, links = output or output_of(s, kind)
    derive(s, cls, key, kind, [source], at, props, links)
    return s.iri(cls, key)


def refused_use(s: UnitSession, kind: Kind, key: str, source: str,
                at: str | None = None) -> list[tuple[str, str, str, str | None]]:
    """The held-material refusals of making ``key`` from ``source``; asserts nothing was
    written."""
    output = output_of(s, kind)
    with s.writes_nothing(), pytest.raises(WriteRejectedError) as e:
        made_from(s, kind, key, source, at, output)
    return [(p.rule, p.field, str(p.value), p.focus) for p in e.value.problems]


# -- the held-material guard -----------------------------------------------------------------
@pytest.mark.parametrize("kind", [Kind.CONSUMPTION, Kind.MERGE, Kind.AGGREGATION, Kind.REWORK,
                                  Kind.SHIPMENT])
@pytest.mark.req("URS-NC-01")
def test_held_material_is_not_used_up_or_shipped(session: UnitSession, kind: Kind) -> None:
    s = session
    held = batch(s, "B-1")
    hold(s, "HLD-1", [held])
    key = "095060001000000012" if kind == Kind.AGGREGATION else "OUT-1"
    # (a shipment of the unreleased batch is refused by quality.shipping_rules as well)
    [(rule, field, value, focus)] = [r for r in refused_use(s, kind, key, held)
                                     if r[0] == "held-material"]
    assert (rule, field, value) == ("held-material", "wasDerivedFrom", held)
    assert focus is not None and focus.endswith(key)


@pytest.mark.parametrize("kind", [Kind.PRODUCTION, Kind.SPLIT])
def test_held_wip_may_still_be_processed(session: UnitSession, kind: Kind) -> None:
    s = session
    held = batch(s, "B-1", status=BatchStatus.IN_PROCESS)
    hold(s, "HLD-1", [held])
    out = made_from(s, kind, "OUT-1", held)
    assert [e.dst for e in s.store.links([out], [DERIVATION])] == [held]


def test_nothing_with_held_material_upstream_is_shipped(session: UnitSession) -> None:
    s = session
    lot = material_lot(s, "LOT-1")
    b = batch(s, "B-1", [lot], at=ts())
    unit = made_from(s, Kind.PRODUCTION, "SN-1", b)
    s.clock.step(hours=1)
    hold(s, "HLD-1", [lot])  # the resin lot is held after the unit was made
    [(rule, field, value, focus)] = [r for r in refused_use(s, Kind.SHIPMENT, "SHIP-1", unit)
                                     if r[0] == "held-material"]  # B-1 is not released either
    assert (rule, field, value, focus) == ("held-material", "wasDerivedFrom", lot,
                                           s.iri(C.Shipment, "SHIP-1"))


def test_a_use_recorded_before_the_hold_opened_is_history(session: UnitSession) -> None:
    """A late record (an import, a backfill) of a use before the hold is accepted; a use at
    or after the hold's opening, or with no event time (now), is not."""
    s = session
    lot = material_lot(s, "LOT-1")
    s.clock.step(hours=2)
    hold(s, "HLD-1", [lot])  # opened at T0 + 2 h
    made_from(s, Kind.CONSUMPTION, "B-EARLIER", lot, at=ts(hours=1))
    assert refused_use(s, Kind.CONSUMPTION, "B-LATER", lot, at=ts(hours=3))
    assert refused_use(s, Kind.CONSUMPTION, "B-NOW", lot)


def test_a_released_hold_no_longer_blocks(session: UnitSession) -> None:
    s = session
    lot = material_lot(s, "LOT-1")
    hold(s, "HLD-1", [lot])
    assert refused_use(s, Kind.CONSUMPTION, "B-2", lot)
    put(s, C.Hold, "HLD-1", {P.holdState: HoldState.RELEASED})
    made_from(s, Kind.CONSUMPTION, "B-2", lot)


# -- dispositions ------------------------------------------------------------------------------
def held_batch_and_lot(s: UnitSession) -> tuple[str, str]:
    """Batch B-1 made from LOT-1, both under the active hold HLD-1; QA and QC accounts."""
    account(s, "q.adams", "qa")
    account(s, "q.clark", "qc")
    lot = material_lot(s, "LOT-1")
    b = batch(s, "B-1", [lot], at=ts())
    s.clock.step(hours=1)
    hold(s, "HLD-1", [b, lot])
    put(s, C.Batch, "B-1", {P.batchStatus: BatchStatus.ON_HOLD})
    put(s, C.MaterialLot, "LOT-1", {P.materialLotStatus: MaterialLotStatus.ON_HOLD})
    s.clock.step(hours=1)
    return b, lot


@pytest.mark.req("URS-NC-01")
def test_a_release_disposition_is_signed_by_qa_and_releases_the_hold(
        session: UnitSession) -> None:
    s = session
    b, lot = held_batch_and_lot(s)
    d = dispose(s, "HLD-1", DispositionType.RELEASE, "q.adams", PASSWORD, "retest passed")
    h = s.iri(C.Hold, "HLD-1")
    assert (d.key, d.props[P.dispositionType]) == ("DSP-HLD-1-1", DispositionType.RELEASE)
    assert sorted(e.dst for e in s.store.links([d.iri], [R.DISPOSES])) == sorted([b, lot])
    assert [(g.username, g.meaning, g.valid) for g in signatures_of(s, d.iri)] == [
        ("q.adams", SignatureMeaning.APPROVED, True)]
    assert (s.prop(h, P.holdState), s.prop(h, P.closedAt)) == (HoldState.RELEASED,
                                                               ts(hours=2))
    assert s.prop(b, P.batchStatus) == BatchStatus.COMPLETED
    assert s.prop(lot, P.materialLotStatus) == MaterialLotStatus.APPROVED
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        dispose(s, "HLD-1", DispositionType.RELEASE, "q.adams", PASSWORD, "again")
    assert (e.value.code, e.value.value) == ("hold-state", HoldState.RELEASED)


@pytest.mark.req("URS-NC-01")
def test_a_hold_is_dispositioned_item_by_item(session: UnitSession) -> None:
    s = session
    b, lot = held_batch_and_lot(s)
    h = s.iri(C.Hold, "HLD-1")
    dispose(s, "HLD-1", DispositionType.RETURN_TO_SUPPLIER, "q.adams", PASSWORD,
            "viscosity out of spec", items=["LOT-1"])
    assert s.prop(lot, P.materialLotStatus) == MaterialLotStatus.REJECTED
    assert s.prop(h, P.holdState) == HoldState.ACTIVE  # the batch is still undecided
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        dispose(s, "HLD-1", DispositionType.SCRAP, "q.adams", PASSWORD, "twice",
                items=["LOT-1"])
    assert (e.value.code, e.value.value) == ("not-held", [lot])
    dispose(s, "HLD-1", DispositionType.USE_AS_IS, "q.adams", PASSWORD, "concession")
    assert s.prop(h, P.holdState) == HoldState.DISPOSITIONED
    assert s.prop(b, P.batchStatus) == BatchStatus.COMPLETED
    # the genealogy is kept: the batch still derives from the returned lot
    assert [e.dst for e in s.store.links([b], [DERIVATION])] == [lot]


@pytest.mark.parametrize(("who", "kind", "why", "items", "code", "field"), [
    ("q.clark", DispositionType.RELEASE, "ok", (), "role", "username"),
    ("q.adams", "destroy", "ok", (), "disposition-type", "dispositionType"),
    ("q.adams", DispositionType.RELEASE, " ", (), "reason-required", "justification"),
    ("q.adams", DispositionType.RETURN_TO_SUPPLIER, "ok", ("B-1",), "disposition-type",
     "dispositionType"),
    ("q.adams", DispositionType.REWORK, "ok", ("B-1",), "rework-operation", "rework"),
    ("q.adams", DispositionType.SCRAP, "ok", ("B-OTHER",), "not-held", "items"),
], ids=["not-qa", "unknown-kind", "no-justification", "return-a-batch", "rework-without-op",
        "not-under-the-hold"])
@pytest.mark.req("URS-NC-01")
def test_a_refused_disposition_writes_nothing(session: UnitSession, who: str, kind: str,
                                              why: str, items: tuple[str, ...], code: str,
                                              field: str) -> None:
    s = session
    held_batch_and_lot(s)
    batch(s, "B-OTHER")
    with s.writes_nothing(), pytest.raises(WorkflowRefused) as e:
        dispose(s, "HLD-1", kind, who, PASSWORD, why, items=items)
    assert (e.value.code, e.value.field) == (code, field)


@pytest.mark.req("URS-NC-01")
def test_rework_adds_an_execution_and_keeps_the_genealogy(session: UnitSession) -> None:
    s = session
    # the rework is an alternative branch of the batch's routing (executions follow the route)
    rw = put(s, C.Operation, "ASSY/v1/RW10", {P.name: "operation RW10", P.sequence: 900,
                                              P.branch: "rework"})
    version(s, VERSION, [operation(s, OPERATION), rw])
    b, lot = held_batch_and_lot(s)
    dispose(s, "HLD-1", DispositionType.SCRAP, "q.adams", PASSWORD, "lot scrapped",
            items=["LOT-1"])
    d = dispose(s, "HLD-1", DispositionType.REWORK, "q.adams", PASSWORD, "re-bond",
                rework=Rework("ASSY/v1/RW10", ts(hours=3), ts(hours=4)))
    assert s.prop(b, P.batchStatus) == BatchStatus.IN_PROCESS
    runs = s.store.get_many([e.src for e in s.store.links([b], [R.FOR_BATCH],
                                                          Direction.DOWNSTREAM)])
    assert [(n.key, n.props[P.executionStatus]) for n in runs.values()] == [
        (f"B-1/RW-{d.key}", ExecutionStatus.COMPLETED)]
    assert [e.dst for e in s.store.links(list(runs), [R.EXECUTES_OPERATION])] == [rw]
    assert [e.dst for e in s.store.links([b], [DERIVATION])] == [lot]

