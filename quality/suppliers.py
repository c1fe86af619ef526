"""Supplier quality workflows (issue 18 item 2), each a workflow command through the one write
path (the authority table lets no capture write these records or their states):

- :func:`approve_supplier_material` (``approveSupplierMaterial``, QA, re-authenticated): the
  approved supplier list entry of one supplier for one material — status (approved, conditional,
  disqualified: the supplier status code list), scope, last valid day. Receipts are checked
  against it by :mod:`quality.supplier_rules`;
- :func:`inspect_incoming_lot` (``inspectIncomingLot``, QC or QA, re-authenticated): the
  incoming inspection of a lot in quarantine with the ISO 2859-1 single sampling plan for its lot
  size, AQL and level (:mod:`quality.sampling`); the verdict is computed from the nonconforming
  items found and moves the lot to Approved or Rejected in the same write;
- supplier corrective action requests: :func:`issue_scar` (QA, QC or engineer; raised by
  deviations, serving CAPAs, with a due date) → :func:`record_scar_response` (the supplier's
  answer) → :func:`close_scar` (QA, re-authenticated: Closed, or Cancelled).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from graph.session import Session, write_nodes
from graph.write import NodeUpsert
from ontology.authority import Command
from ontology.codes import (
    InspectionLevel,
    InspectionOutcome,
    MaterialLotStatus,
    RoleName,
    SCARState,
    SupplierStatus,
)
from ontology.datatypes import Clock, StoredValue, to_utc_text
from ontology.terms import C, P, R
from quality.accounts import authenticate
from quality.sampling import SamplingPlan, plan_for, verdict
from quality.workflow import WorkflowRefused, require_user, resolve

__all__ = ["AslEntry", "approve_supplier_material", "approved_supplier_list", "asl_key",
           "close_scar", "inspect_incoming_lot", "issue_scar", "lots_of", "record_scar_response"]

ASL_APPROVERS = frozenset({RoleName.QA})
LOT_INSPECTORS = frozenset({RoleName.QC, RoleName.QA})
SCAR_AUTHORS = frozenset({RoleName.QA, RoleName.QC, RoleName.ENGINEER})
SCAR_CLOSERS = frozenset({RoleName.QA})


@dataclass(frozen=True)
class AslEntry:
    """One entry of the approved supplier list, as stored."""

    iri: str
    key: str
    supplier: str
    material: str
    status: str
    scope: str | None
    until: str | None


def asl_key(supplier_key: str, material_key: str) -> str:
    """The record number of the entry for a supplier and a material."""
    return f"ASL/{supplier_key}/{material_key}"


def _reason(reason: str) -> None:
    if not reason or not reason.strip():
        raise WorkflowRefused("reason-required", "a supplier quality step needs a reason",
                              "reason", reason)


def _event(key: str) -> str:
    return f"supplier:{key}:{uuid.uuid4().hex}"


def _date(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise WorkflowRefused("date", "a date is YYYY-MM-DD", field, value) from None


def approve_supplier_material(rt: Session, supplier: str, material: str, status: str,
                              username: str, password: str, reason: str,
                              scope: str | None = None, until: str | None = None,
                              clock: Clock | None = None) -> str:
    """Set the approved supplier list entry of ``supplier`` for ``material`` (QA,
    re-authenticated); its IRI. A later call revises the same entry (its earlier state is kept
    as a record version)."""
    if status not in set(SupplierStatus):
        raise WorkflowRefused("asl-status", "one of " + ", ".join(SupplierStatus), "aslStatus",
                              status)
    _reason(reason)
    until = _date(until, "approvedUntil")
    require_user(rt, username, ASL_APPROVERS, "an approved supplier list entry")
    sup = resolve(rt, C.Supplier, supplier)
    mat = resolve(rt, C.Material, material)
    authenticate(rt, username, password, clock,
                 purpose=f"approval of {sup.key} for {mat.key}")
    key = asl_key(sup.key, mat.key)
    iri = rt.vocab.mint_iri(C.SupplierApproval, key)
    props: dict[str, StoredValue] = {P.recordNumber: key, P.aslStatus: status}
    if scope is not None:
        props[P.approvalScope] = scope
    if until is not None:
        props[P.approvedUntil] = until
    write_nodes(rt, [NodeUpsert(C.SupplierApproval, key, iri, props,
                                {P.approvesSupplier: [sup.iri], P.approvesMaterial: [mat.iri]})],
                username, reason, _event(key), command=Command.APPROVE_SUPPLIER_MATERIAL)
    return iri


def approved_supplier_list(store: GraphStore, supplier: str | None = None,
                           material: str | None = None) -> list[AslEntry]:
    """The entries of the approved supplier list (of one supplier or material by IRI), by key."""
    recs = store.nodes_of_class(C.SupplierApproval)
    out: dict[str, list[str]] = {}
    for e in store.links([r.iri for r in recs], [R.APPROVES_SUPPLIER, R.APPROVES_MATERIAL]):
        out.setdefault(f"{e.src} {e.type}", []).append(e.dst)
    rows: list[AslEntry] = []
    for r in recs:
        s = (out.get(f"{r.iri} {R.APPROVES_SUPPLIER}") or [""])[0]
        m = (out.get(f"{r.iri} {R.APPROVES_MATERIAL}") or [""])[0]
        if (supplier and s != supplier) or (material and m != material):
            continue
        scope, until = r.props.get(P.approvalScope), r.props.get(P.approvedUntil)
        rows.append(AslEntry(r.iri, r.key, s, m, str(r.props.get(P.aslStatus)),
                             None if scope is None else str(scope),
                             None if until is None else str(until)))
    return sorted(rows, key=lambda x: x.key)


def inspect_incoming_lot(rt: Session, lot: str, lot_size: int, aql: float | str,
                         nonconforming: int, username: str, password: str, reason: str,
                         level: str = InspectionLevel.GII, key: str | None = None,
                         clock: Clock | None = None) -> tuple[str, SamplingPlan, bool]:
    """Inspect a lot in quarantine by the ISO 2859-1 plan for ``lot_size``, ``aql`` and
    ``level`` (QC or QA, re-authenticated): the inspection record's IRI, the plan and whether
    the lot was accepted (Approved) or rejected (Rejected)."""
    _reason(reason)
    plan = plan_for(lot_size, aql, level)
    accepted = verdict(plan, nonconforming)
    require_user(rt, username, LOT_INSPECTORS, "an incoming inspection")
    node = resolve(rt, C.MaterialLot, lot)
    now = node.props.get(P.materialLotStatus)
    if now not in (None, MaterialLotStatus.QUARANTINE):
        raise WorkflowRefused("lot-not-in-quarantine", f"lot {node.key} is {now}; only a lot "
                              "in quarantine is inspected", "materialLotStatus", now)
    authenticate(rt, username, password, clock, purpose=f"incoming inspection of {node.key}")
    clock = rt.clock if clock is None else clock
    key = key or f"IQC/{node.key}"
    iri = rt.vocab.mint_iri(C.IncomingInspection, key)
    status = MaterialLotStatus.APPROVED if accepted else MaterialLotStatus.REJECTED
    write_nodes(rt, [
        NodeUpsert(C.IncomingInspection, key, iri, {
            P.recordNumber: key, P.lotSize: plan.lot_size, P.inspectionLevel: plan.level,
            P.aql: float(plan.aql), P.sampleSizeCode: plan.code_letter,
            P.sampleSize: plan.sample_size, P.acceptanceNumber: plan.accept,
            P.rejectionNumber: plan.reject, P.defectCount: nonconforming,
            P.inspectionOutcome: InspectionOutcome.CONFORMING if accepted
            else InspectionOutcome.NONCONFORMING,
            P.performedAt: to_utc_text(clock())}, {P.inspectsLot: [node.iri]}),
        NodeUpsert(C.MaterialLot, node.key, node.iri, {P.materialLotStatus: status})],
        username, reason, _event(key), command=Command.INSPECT_INCOMING_LOT)
    return iri, plan, accepted


def issue_scar(rt: Session, key: str, supplier: str, title: str, description: str, due: str,
               username: str, reason: str, deviations: Sequence[str] = (),
               capas: Sequence[str] = (), clock: Clock | None = None) -> NodeRecord:
    """Issue a corrective action request to ``supplier`` (QA, QC or engineer), raised by
    ``deviations`` and serving ``capas`` (IRIs or record numbers), due on ``due``."""
    _reason(reason)
    due_day = _date(due, "dueDate")
    require_user(rt, username, SCAR_AUTHORS, "a supplier corrective action request")
    sup = resolve(rt, C.Supplier, supplier)
    devs = [resolve(rt, C.Deviation, d).iri for d in deviations]
    cps = [resolve(rt, C.CAPA, c).iri for c in capas]
    clock = rt.clock if clock is None else clock
    iri = rt.vocab.mint_iri(C.SupplierCorrectiveAction, key)
    if rt.store.get(iri) is not None:
        raise WorkflowRefused("record-exists", "a supplier corrective action request has this "
                              "record number", "recordNumber", key)
    links: dict[str, list[str]] = {P.requestedOf: [sup.iri]}
    if devs:
        links[P.raisedBy] = devs
    if cps:
        links[P.forCapa] = cps
    write_nodes(rt, [NodeUpsert(C.SupplierCorrectiveAction, key, iri, {
        P.recordNumber: key, P.title_: title, P.description: description,
        P.scarState: SCARState.ISSUED, P.openedAt: to_utc_text(clock()),
        P.dueDate: str(due_day)}, links)],
        username, reason, _event(key), command=Command.ISSUE_SCAR)
    return resolve(rt, C.SupplierCorrectiveAction, iri)


def _scar_in(rt: Session, scar: str, states: Sequence[str], step: str) -> NodeRecord:
    node = resolve(rt, C.SupplierCorrectiveAction, scar)
    now = node.props.get(P.scarState)
    if now not in states:
        raise WorkflowRefused("scar-state", f"SCAR {node.key} is {now}; {step} needs it "
                              f"{' or '.join(states)}", "scarState", now)
    return node


def record_scar_response(rt: Session, scar: str, response: str, username: str, reason: str,
                         clock: Clock | None = None) -> NodeRecord:
    """Record the supplier's response (QA, QC or engineer): Issued → Responded."""
    _reason(reason)
    if not response or not response.strip():
        raise WorkflowRefused("response-required", "the supplier's response is required",
                              "supplierResponse", response)
    require_user(rt, username, SCAR_AUTHORS, "recording a supplier's response")
    node = _scar_in(rt, scar, [SCARState.ISSUED], "recording a response")
    clock = rt.clock if clock is None else clock
    write_nodes(rt, [NodeUpsert(C.SupplierCorrectiveAction, node.key, node.iri, {
        P.scarState: SCARState.RESPONDED, P.supplierResponse: response,
        P.respondedAt: to_utc_text(clock())})],
        username, reason, _event(node.key), command=Command.RECORD_SCAR_RESPONSE)
    return resolve(rt, C.SupplierCorrectiveAction, node.iri)


def close_scar(rt: Session, scar: str, username: str, password: str, reason: str,
               cancel: bool = False, clock: Clock | None = None) -> NodeRecord:
    """Close a responded request after verifying the response, or cancel an open one (QA,
    re-authenticated)."""
    _reason(reason)
    require_user(rt, username, SCAR_CLOSERS, "closing a supplier corrective action request")
    states = [SCARState.ISSUED, SCARState.RESPONDED] if cancel else [SCARState.RESPONDED]
    node = _scar_in(rt, scar, states, "cancelling" if cancel else "closing")
    authenticate(rt, username, password, clock, purpose=f"closure of SCAR {node.key}")
    clock = rt.clock if clock is None else clock
    write_nodes(rt, [NodeUpsert(C.SupplierCorrectiveAction, node.key, node.iri, {
        P.scarState: SCARState.CANCELLED if cancel else SCARState.CLOSED,
        P.closedAt: to_utc_text(clock())})],
        username, reason, _event(node.key), command=Command.CLOSE_SCAR)
    return resolve(rt, C.SupplierCorrectiveAction, node.iri)


def lots_of(store: GraphStore, supplier_iri: str) -> dict[str, NodeRecord]:
    """The material lots received from a supplier."""
    srcs = sorted({e.src for e in store.links([supplier_iri], [R.SUPPLIED_BY],
                                              Direction.DOWNSTREAM)})
    return {i: n for i, n in store.get_many(srcs).items() if n.label == C.MaterialLot}
