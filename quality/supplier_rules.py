"""The receipt rule of the approved supplier list, run by the one write path (see
:data:`graph.write.Guard`), so a capture document, an EPCIS receiving event, a CSV load or a
GraphQL capture all meet it.

A material lot received (created, or given a supplier or material it did not have) is refused
when it names a supplier and

- **asl-material**: it names no material, so its supplier's approval cannot be shown;
- **asl-approved**: no approved supplier list entry (:class:`tg:SupplierApproval`) approves the
  supplier for the lot's material, or the entry is not ``approved`` or ``conditional``, or the
  supplier itself is disqualified (``supplierStatus``);
- **asl-expired**: the entry's last valid day (``approvedUntil``) is before the receipt time —
  the lot's ``receivedAt``, or the time of the write when it records none.

The entry read is the newest one: a late record of a receipt is checked against today's list.
A signed migration (legacy history, ``graph.authority``) is not checked, as for closed batches
(:mod:`quality.closed_batch`). Consumption keeps its own checks (:mod:`quality.material_rules`:
an Approved lot from an approved supplier).
"""

from __future__ import annotations

from graph.errors import Problem
from graph.model import Direction, NodeRecord
from graph.write import PendingWrite
from ontology.codes import SupplierStatus
from ontology.terms import C, P, R
from quality.pending_reads import links, nodes, targets

__all__ = ["ADMITTING", "receipt_rules"]

#: approved supplier list statuses that admit a receipt
ADMITTING = frozenset({SupplierStatus.APPROVED, SupplierStatus.CONDITIONAL})


def _received(p: PendingWrite) -> list[NodeRecord]:
    """Lots created by this write, or gaining a supplier or material link."""
    iris = {i for i in p.after_of(C.MaterialLot) if i not in p.before}
    iris |= {e.src for e in p.new_edges_of([R.SUPPLIED_BY, R.OF_MATERIAL])}
    lots = nodes(p, iris)
    return [lots[i] for i in sorted(lots) if lots[i].label == C.MaterialLot]


def _event_of(p: PendingWrite, lot: str) -> str | None:
    for ev in p.events:
        if any(n.iri == lot for n in ev.nodes):
            return ev.event_id
    return None


def receipt_rules(p: PendingWrite) -> list[Problem]:
    """Every lot received from a supplier is approved for its material on the approved
    supplier list at the receipt time (see the module docstring)."""
    if p.events and all(ev.migration for ev in p.events):
        return []
    lots = _received(p)
    if not lots:
        return []
    iris = [n.iri for n in lots]
    supplier_of = targets(p, iris, R.SUPPLIED_BY)
    material_of = targets(p, iris, R.OF_MATERIAL)
    suppliers = sorted({s for ss in supplier_of.values() for s in ss})
    entries: dict[tuple[str, str], NodeRecord] = {}
    approvals = links(p, suppliers, [R.APPROVES_SUPPLIER], Direction.DOWNSTREAM)
    approval_nodes = nodes(p, {e.src for e in approvals})
    for e in links(p, sorted(approval_nodes), [R.APPROVES_MATERIAL]):
        for a in approvals:
            if a.src == e.src:
                entries[(a.dst, e.dst)] = approval_nodes[e.src]
    known = nodes(p, [*suppliers, *{m for ms in material_of.values() for m in ms}])
    out: list[Problem] = []
    for lot in lots:
        at = str(lot.props.get(P.receivedAt) or p.tx.at)
        ev = _event_of(p, lot.iri)

        def refuse(rule: str, field: str, value: object, message: str, lot: NodeRecord = lot,
                   ev: str | None = ev) -> None:
            out.append(Problem(rule=rule, field=field, value=value, focus=lot.iri, event_id=ev,
                               message=f"material lot {lot.key} cannot be received: {message}"))

        mats = material_of.get(lot.iri, [])
        for s in supplier_of.get(lot.iri, []):
            sup = known.get(s)
            skey = sup.key if sup else s
            if sup is not None and sup.props.get(P.supplierStatus) == SupplierStatus.DISQUALIFIED:
                refuse("asl-approved", P.supplierStatus, SupplierStatus.DISQUALIFIED,
                       f"supplier {skey} is disqualified")
                continue
            if not mats:
                refuse("asl-material", "ofMaterial", None, f"it names supplier {skey} but no "
                       "material, so the supplier's approval for it cannot be shown")
            for m in mats:
                mkey = known[m].key if m in known else m
                entry = entries.get((s, m))
                status = entry.props.get(P.aslStatus) if entry else None
                if status not in ADMITTING:
                    refuse("asl-approved", P.aslStatus, status,
                           f"supplier {skey} is "
                           + (f"{status} for material {mkey}" if entry else
                              f"not on the approved supplier list for material {mkey}")
                           + f"; only {' or '.join(sorted(ADMITTING))} entries admit receipts")
                    continue
                until = entry.props.get(P.approvedUntil) if entry else None
                if until is not None and at[:10] > str(until)[:10]:
                    refuse("asl-expired", P.approvedUntil, until,
                           f"the approval of supplier {skey} for material {mkey} expired on "
                           f"{until}, before the receipt at {at}")
    return out
