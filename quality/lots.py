"""Incoming-material decisions, the workflow commands behind two workflow-managed statuses:

- :func:`decide_lot` (``decideLot``): QC approves or rejects a received lot in quarantine after
  incoming inspection (``materialLotStatus`` Quarantine → Approved / Rejected);
- :func:`qualify_supplier` (``qualifySupplier``): QA sets a supplier approved, conditional or
  disqualified (``supplierStatus``).

Capture may record a lot received into quarantine, never its approval (see graph.authority);
each decision re-authenticates the deciding user and gives a reason, in the audit trail.
"""

from __future__ import annotations

from graph.session import Session, write_nodes
from graph.write import NodeUpsert
from ontology.authority import Command
from ontology.codes import MaterialLotStatus, RoleName, SupplierStatus
from ontology.datatypes import Clock
from ontology.terms import C, P
from quality.accounts import authenticate
from quality.workflow import WorkflowRefused, require_user, resolve

__all__ = ["decide_lot", "qualify_supplier"]

LOT_DECIDERS = frozenset({RoleName.QC, RoleName.QA})
SUPPLIER_QUALIFIERS = frozenset({RoleName.QA})
_DECISIONS = frozenset({MaterialLotStatus.APPROVED, MaterialLotStatus.REJECTED})


def _reason(reason: str) -> None:
    if not reason or not reason.strip():
        raise WorkflowRefused("reason-required", "a decision needs a reason", "reason", reason)


def decide_lot(rt: Session, lot: str, decision: str, username: str, password: str,
               reason: str, clock: Clock | None = None) -> str:
    """Approve or reject a lot in quarantine (QC or QA, re-authenticated); its IRI."""
    if decision not in _DECISIONS:
        raise WorkflowRefused("lot-decision", "a lot decision is Approved or Rejected",
                              "decision", decision)
    _reason(reason)
    require_user(rt, username, LOT_DECIDERS, "a lot decision")
    node = resolve(rt, C.MaterialLot, lot)
    now = node.props.get(P.materialLotStatus)
    if now not in (None, MaterialLotStatus.QUARANTINE):
        raise WorkflowRefused("lot-not-in-quarantine", f"lot {node.key} is {now}; only a lot "
                              "in quarantine is approved or rejected", "materialLotStatus", now)
    authenticate(rt, username, password, clock, purpose=f"decision on lot {node.key}")
    write_nodes(rt, [NodeUpsert(C.MaterialLot, node.key, node.iri,
                                {P.materialLotStatus: decision})],
                username, reason, command=Command.DECIDE_LOT)
    return node.iri


def qualify_supplier(rt: Session, supplier: str, status: str, username: str, password: str,
                     reason: str, clock: Clock | None = None) -> str:
    """Set a supplier's qualification status (QA, re-authenticated); its IRI."""
    if status not in set(SupplierStatus):
        raise WorkflowRefused("supplier-status", "one of " + ", ".join(SupplierStatus),
                              "status", status)
    _reason(reason)
    require_user(rt, username, SUPPLIER_QUALIFIERS, "supplier qualification")
    node = resolve(rt, C.Supplier, supplier)
    authenticate(rt, username, password, clock, purpose=f"qualification of {node.key}")
    write_nodes(rt, [NodeUpsert(C.Supplier, node.key, node.iri, {P.supplierStatus: status})],
                username, reason, command=Command.QUALIFY_SUPPLIER)
    return node.iri
