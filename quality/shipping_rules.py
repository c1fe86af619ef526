"""Plant rules on shipping, run by the one write path (see :data:`graph.write.Guard`); they
extend the held-material guard of :mod:`quality.holds` (active Hold records on what is shipped or
upstream of it), which they do not repeat.

A ``shipment`` derivation is refused when

- **shipment-released**: following the genealogy upstream from what is shipped (a case, a pallet,
  units, a sublot, a batch) to the nearest batch on every path, a batch is not released
  (``batchStatus`` in :data:`ontology.codes.RELEASED_BATCH_STATUSES`, set only by the signed QA
  release), or a path ends without reaching any batch (nothing shows the material was released);
  a material lot reached before any batch is a return to the supplier and is not a product
  release question. A sublot with its own release status counts as released by it. A batch
  now OnHold or Rejected (states a released batch can reach) shipped at an event time before
  that change is a late record of history and is accepted;
- **shipment-on-hold**: anything upstream of what is shipped carries an on-hold status
  (``batchStatus`` or ``materialLotStatus`` ``OnHold``), with or without a Hold record; as for
  holds, a shipment whose event time is before that record's last change is a late record of
  history and is accepted.
"""

from __future__ import annotations

from graph.errors import Problem
from graph.model import EdgeRecord, NodeRecord
from graph.schema import DERIVATION
from graph.write import PendingWrite
from ontology.codes import RELEASED_BATCH_STATUSES, BatchStatus, DerivationKind, MaterialLotStatus
from ontology.terms import C, P
from quality.holds import ancestors
from quality.pending_reads import links, nodes

__all__ = ["shipping_rules"]

_MAX_DEPTH = 20
_AFTER_RELEASE = frozenset({BatchStatus.ON_HOLD, BatchStatus.REJECTED})
_ON_HOLD = {P.batchStatus: BatchStatus.ON_HOLD, P.materialLotStatus: MaterialLotStatus.ON_HOLD}


def shipping_rules(p: PendingWrite) -> list[Problem]:
    """Every new shipment: only released batches' material, nothing upstream on hold."""
    shipped = [e for e in p.new_edges if e.type == DERIVATION
               and e.props.get(P.derivationKind) == DerivationKind.SHIPMENT]
    problems: list[Problem] = []
    for e in shipped:
        problems += _release_problems(p, e)
    if shipped:
        problems += _status_hold_problems(p, shipped)
    return problems


def _stop(n: NodeRecord) -> bool:
    """Where the walk up from a shipped item ends: a batch, a sublot with its own release
    status, a material lot."""
    return n.label in (C.Batch, C.MaterialLot) or \
        (n.label == C.Sublot and P.batchStatus in n.props)


def _late(n: NodeRecord, at: str) -> bool:
    """A late record of history: shipped before the batch was put on hold or rejected (states
    a released batch can reach), so it was released then."""
    return n.props.get(P.batchStatus) in _AFTER_RELEASE and bool(n.updated_at) and \
        at < n.updated_at


def _release_problems(p: PendingWrite, e: EdgeRecord) -> list[Problem]:
    at = str(e.props.get(P.atTime) or p.tx.at)
    frontier, seen = [e.dst], {e.dst}
    bad: list[NodeRecord] = []
    dead_ends: list[NodeRecord] = []
    for _ in range(_MAX_DEPTH):
        if not frontier:
            break
        current = nodes(p, frontier)
        up: dict[str, list[str]] = {}
        for x in links(p, [i for i in frontier if i in current and not _stop(current[i])],
                       [DERIVATION]):
            up.setdefault(x.src, []).append(x.dst)
        nxt: list[str] = []
        for i in frontier:
            n = current.get(i)
            if n is None:
                continue
            if _stop(n):
                if n.label != C.MaterialLot and \
                        n.props.get(P.batchStatus) not in RELEASED_BATCH_STATUSES and \
                        not _late(n, at):
                    bad.append(n)
                continue
            if not up.get(i):
                dead_ends.append(n)
            for d in up.get(i, ()):
                if d not in seen:
                    seen.add(d)
                    nxt.append(d)
        frontier = nxt
    out = [Problem(rule="shipment-released", field=P.batchStatus, value=n.props.get(P.batchStatus),
                   focus=e.src,
                   message=f"{e.src} cannot ship {e.dst}: it is material of {n.label} {n.key}, "
                           f"which is {n.props.get(P.batchStatus) or 'without a status'}, not "
                           "released (a signed QA release decision releases a batch)")
           for n in sorted(bad, key=lambda x: x.iri)]
    out += [Problem(rule="shipment-released", field="wasDerivedFrom", value=n.iri, focus=e.src,
                    message=f"{e.src} cannot ship {e.dst}: {n.label} {n.key} derives from no "
                            "batch, so nothing shows it was released")
            for n in sorted(dead_ends, key=lambda x: x.iri)]
    return out


def _status_hold_problems(p: PendingWrite, shipped: list[EdgeRecord]) -> list[Problem]:
    out: list[Problem] = []
    for e in shipped:
        upstream = nodes(p, ancestors(p, [e.dst]))
        at = str(e.props.get(P.atTime) or p.tx.at)
        for _, n in sorted(upstream.items()):
            if n.updated_at and at < n.updated_at:
                continue  # a late record: shipped before the status last changed
            for prop, held in _ON_HOLD.items():
                if n.props.get(prop) == held:
                    out.append(Problem(
                        rule="shipment-on-hold", field=prop, value=held, focus=e.src,
                        message=f"{e.src} cannot ship {e.dst}: {n.label} {n.key} upstream of "
                                f"it is {held}"))
    return out
