"""Holds and their dispositions: release from hold, rework, scrap, use as is (concession),
return to supplier — each a signed ``Disposition`` record that resolves the hold.

Nothing is deleted or re-linked: the held items keep their genealogy; their status follows the
decision (an item another active hold still holds stays ``OnHold``), and a rework adds new
operation executions for the batch (linked to it, so the batch's history shows the original and
the rework).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from graph.model import Direction, NodeRecord
from graph.session import Session, write_nodes
from graph.status import is_active_hold
from graph.write import NodeUpsert
from ontology.authority import Command
from ontology.codes import (
    BatchStatus,
    DispositionType,
    ExecutionStatus,
    HoldState,
    MaterialLotStatus,
    RoleName,
    SignatureMeaning,
)
from ontology.datatypes import Clock, StoredValue, to_utc_text
from ontology.terms import C, P, R
from quality.accounts import authenticate
from quality.holds import active_holds
from quality.signatures import sign
from quality.workflow import WorkflowRefused, require_user, resolve

__all__ = ["DISPOSITION_TYPES", "Rework", "dispose"]

_D = DispositionType
#: the disposition kinds (code list tg:DispositionTypeScheme), in the order refusals list them
DISPOSITION_TYPES = (_D.RELEASE, _D.REWORK, _D.SCRAP, _D.USE_AS_IS, _D.RETURN_TO_SUPPLIER)
#: new status of a held batch / material lot after each kind of disposition
_BATCH_STATUS: dict[str, str] = {
    _D.RELEASE: BatchStatus.COMPLETED, _D.USE_AS_IS: BatchStatus.COMPLETED,
    _D.REWORK: BatchStatus.IN_PROCESS, _D.SCRAP: BatchStatus.REJECTED,
    _D.RETURN_TO_SUPPLIER: BatchStatus.REJECTED}
_LOT_STATUS: dict[str, str] = {
    _D.RELEASE: MaterialLotStatus.APPROVED, _D.USE_AS_IS: MaterialLotStatus.APPROVED,
    _D.REWORK: MaterialLotStatus.QUARANTINE, _D.SCRAP: MaterialLotStatus.REJECTED,
    _D.RETURN_TO_SUPPLIER: MaterialLotStatus.REJECTED}


@dataclass(frozen=True)
class Rework:
    """The rework operation to execute on each reworked batch."""

    operation: str  # IRI or key of the Operation
    started: str
    ended: str
    equipment: str | None = None
    operator: str | None = None


def dispose(rt: Session, hold: str, kind: str, username: str, password: str,
            justification: str, items: Sequence[str] = (), rework: Rework | None = None,
            clock: Clock | None = None) -> NodeRecord:
    """Decide on held material (all of the hold's items, or ``items``), signed 'approved' by
    QA. The hold becomes Released (kind ``release``) or Dispositioned once every item is
    decided."""
    clock = rt.clock if clock is None else clock
    require_user(rt, username, (RoleName.QA,), "a disposition")
    if kind not in DISPOSITION_TYPES:
        raise WorkflowRefused("disposition-type", f"must be one of {', '.join(DISPOSITION_TYPES)}"
                              " (code list tg:DispositionTypeScheme)", "dispositionType", kind)
    if not justification or not justification.strip():
        raise WorkflowRefused("reason-required", "a disposition needs its justification",
                              "justification", justification)
    h = resolve(rt, C.Hold, hold)
    if not is_active_hold(h):
        raise WorkflowRefused("hold-state", f"the hold is {h.props.get(P.holdState)}, not "
                              f"{HoldState.ACTIVE}", "holdState", h.props.get(P.holdState))
    held = sorted(e.dst for e in rt.store.links([h.iri], [R.HOLDS]))
    earlier = sorted({e.src for e in rt.store.links([h.iri], [R.RESOLVES_HOLD],
                                                    Direction.DOWNSTREAM)})
    decided = {e.dst for e in rt.store.links(earlier, [R.DISPOSES])} if earlier else set()
    chosen = [resolve(rt, C.TraceableEntity, i).iri for i in items] if items else \
        [i for i in held if i not in decided]
    stray = [i for i in chosen if i not in held or i in decided]
    if stray or not chosen:
        raise WorkflowRefused("not-held", "these items are not (or no longer) under this hold",
                              "items", stray)
    nodes = rt.store.get_many(chosen)
    if kind == _D.RETURN_TO_SUPPLIER and any(n.label != C.MaterialLot for n in nodes.values()):
        raise WorkflowRefused("disposition-type", "only supplier material lots are returned to "
                              "the supplier", "dispositionType", kind)
    if kind == _D.REWORK and (rework is None or
                             any(n.label != C.Batch for n in nodes.values())):
        raise WorkflowRefused("rework-operation", "a rework names the rework operation and "
                              "applies to batches", "rework", kind)
    authenticate(rt, username, password, clock, purpose=f"disposition of {h.key}")
    now = to_utc_text(clock())
    n = len(earlier) + 1
    key = f"DSP-{h.key}-{n}"
    iri = rt.vocab.mint_iri(C.Disposition, key)
    writes = [NodeUpsert(C.Disposition, key, iri, {
        P.recordNumber: key, P.dispositionType: kind, P.decidedAt: now,
        P.description: justification}, {P.resolvesHold: [h.iri], P.disposes: chosen})]
    if decided | set(chosen) >= set(held):
        hold_props: dict[str, StoredValue] = {
            P.holdState: HoldState.RELEASED if kind == _D.RELEASE else HoldState.DISPOSITIONED,
            P.closedAt: now}
        writes.append(NodeUpsert(C.Hold, h.key, h.iri, hold_props))
    still_held = {i for i, keys in active_holds(rt.store, chosen).items() if set(keys) - {h.key}}
    for i in chosen:
        node = nodes[i]
        if i in still_held:
            continue  # another active hold still holds it: its status stays OnHold
        if node.label == C.Batch:
            writes.append(NodeUpsert(C.Batch, node.key, i, {P.batchStatus: _BATCH_STATUS[kind]}))
        elif node.label == C.MaterialLot:
            writes.append(NodeUpsert(C.MaterialLot, node.key, i,
                                     {P.materialLotStatus: _LOT_STATUS[kind]}))
    write_nodes(rt, writes, username, justification, f"quality:{key}:{uuid.uuid4().hex}",
                command=Command.DISPOSE)
    if rework is not None:
        _rework(rt, key, [nodes[i] for i in chosen], rework, username, justification)
    sign(rt, iri, username, password, SignatureMeaning.APPROVED, justification, clock)
    return resolve(rt, C.Disposition, iri)


def _rework(rt: Session, disposition: str, batches: list[NodeRecord], rw: Rework, actor: str,
            reason: str) -> None:
    op = resolve(rt, C.Operation, rw.operation)
    writes = []
    for b in batches:
        key = f"{b.key}/RW-{disposition}"
        links: dict[str, list[str]] = {P.executesOperation: [op.iri], P.forBatch: [b.iri]}
        if rw.equipment:
            links[P.onEquipment] = [resolve(rt, C.Equipment, rw.equipment).iri]
        if rw.operator:
            links[P.wasAssociatedWith] = [resolve(rt, C.Person, rw.operator).iri]
        writes.append(NodeUpsert(C.OperationExecution, key,
                                 rt.vocab.mint_iri(C.OperationExecution, key), {
            P.code: key, P.startedAtTime: to_utc_text(rw.started),
            P.endedAtTime: to_utc_text(rw.ended), P.executionStatus: ExecutionStatus.COMPLETED},
            links))
    write_nodes(rt, writes, actor, f"rework per {disposition}: {reason}",
                f"quality:{disposition}:rework", command="rework")
