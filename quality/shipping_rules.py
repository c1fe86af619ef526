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

Both walk every shipment of a write together — one read per genealogy level for the release
check, one upstream walk for the status check — so a shipping document of thousands of cases
costs a few queries, not a few per case; only when something is found are the shipments that
carry it picked out one by one.
"""

from __future__ import annotations

from collections import defaultdict

from graph.errors import Problem
from graph.model import Direction, EdgeRecord, NodeRecord
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
    shipped = [e for e in p.new_edges_of([DERIVATION])
               if e.props.get(P.derivationKind) == DerivationKind.SHIPMENT]
    if not shipped:
        return []
    return [*_release_problems(p, shipped), *_status_hold_problems(p, shipped)]


def _at(p: PendingWrite, e: EdgeRecord) -> str:
    return str(e.props.get(P.atTime) or p.tx.at)


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


def _nearest_batches(p: PendingWrite, shipped: list[EdgeRecord]
                     ) -> tuple[dict[int, dict[str, NodeRecord]], dict[int, dict[str, NodeRecord]]]:
    """For each shipment (by index): the stops reached first on every path up from what it
    ships, and the dead ends (nodes that derive from nothing before any stop). One breadth-first
    pass for all shipments: a node carries the shipments that reached it."""
    stops: dict[int, dict[str, NodeRecord]] = defaultdict(dict)
    dead: dict[int, dict[str, NodeRecord]] = defaultdict(dict)
    reached: dict[str, set[int]] = {}
    frontier: dict[str, set[int]] = defaultdict(set)
    for k, e in enumerate(shipped):
        frontier[e.dst].add(k)
    for _ in range(_MAX_DEPTH):
        if not frontier:
            break
        for i, ks in frontier.items():
            reached.setdefault(i, set()).update(ks)
        current = nodes(p, frontier)
        up: dict[str, list[str]] = defaultdict(list)
        for x in links(p, [i for i in frontier if i in current and not _stop(current[i])],
                       [DERIVATION]):
            up[x.src].append(x.dst)
        nxt: dict[str, set[int]] = defaultdict(set)
        for i, ks in frontier.items():
            n = current.get(i)
            if n is None:
                continue
            if _stop(n) or not up.get(i):
                for k in ks:
                    (stops if _stop(n) else dead)[k][n.iri] = n
                continue
            for d in up[i]:
                new = ks - reached.get(d, set())
                if new:
                    nxt[d] |= new
        frontier = nxt
    return stops, dead


def _status(n: NodeRecord) -> str:
    return str(n.props.get(P.batchStatus) or "without a status")


def _release_problems(p: PendingWrite, shipped: list[EdgeRecord]) -> list[Problem]:
    stops, dead = _nearest_batches(p, shipped)
    out: list[Problem] = []
    for k, e in enumerate(shipped):
        at = _at(p, e)
        bad = [n for n in stops.get(k, {}).values()
               if n.label != C.MaterialLot and n.props.get(P.batchStatus)
               not in RELEASED_BATCH_STATUSES and not _late(n, at)]
        out += [Problem(rule="shipment-released", field=P.batchStatus,
                        value=n.props.get(P.batchStatus), focus=e.src,
                        message=f"{e.src} cannot ship {e.dst}: it is material of {n.label} "
                                f"{n.key}, which is {_status(n)}, not released (a signed QA "
                                "release decision releases a batch)")
                for n in sorted(bad, key=lambda x: x.iri)]
        out += [Problem(rule="shipment-released", field="wasDerivedFrom", value=n.iri,
                        focus=e.src,
                        message=f"{e.src} cannot ship {e.dst}: {n.label} {n.key} derives from "
                                "no batch, so nothing shows it was released")
                for n in sorted(dead.get(k, {}).values(), key=lambda x: x.iri)]
    return out


def _on_hold(n: NodeRecord) -> tuple[str, str] | None:
    return next(((prop, held) for prop, held in _ON_HOLD.items() if n.props.get(prop) == held),
                None)


def _status_hold_problems(p: PendingWrite, shipped: list[EdgeRecord]) -> list[Problem]:
    """One upstream walk for all shipments, reading only the records that carry a status; the
    shipments that carry a record on hold are picked out only when there is one."""
    held = {i: n for i, n in _upstream_with_status(p, [e.dst for e in shipped]).items()
            if _on_hold(n) is not None}
    if not held:
        return []  # the common case
    out: list[Problem] = []
    for e in shipped:
        at = _at(p, e)
        for iri in sorted(ancestors(p, [e.dst]) & held.keys()):
            n = held[iri]
            hit = _on_hold(n)
            if hit is None or (n.updated_at and at < n.updated_at):
                continue  # a late record: shipped before the status last changed
            prop, value = hit
            out.append(Problem(
                rule="shipment-on-hold", field=prop, value=value, focus=e.src,
                message=f"{e.src} cannot ship {e.dst}: {n.label} {n.key} upstream of it is "
                        f"{value}"))
    return out


_STATUS_LABELS = (C.Batch, C.MaterialLot, C.Sublot)


def _upstream_with_status(p: PendingWrite, starts: list[str]) -> dict[str, NodeRecord]:
    """The batches, lots and sublots upstream of ``starts`` (newest state), through this
    write's new edges and then the store: the walk's labels pick them, so the units and cases
    in between are never read."""
    new_up: dict[str, list[str]] = defaultdict(list)
    for e in p.new_edges:
        if e.type == DERIVATION:
            new_up[e.src].append(e.dst)
    seen, frontier = set(starts), list(starts)
    while frontier:
        frontier = [d for f in frontier for d in new_up.get(f, ()) if d not in seen]
        seen.update(frontier)
    walk = p.store.walk(sorted(seen), Direction.UPSTREAM)
    by_label = walk.by_label()
    wanted = set(walk.iris([h for lbl in _STATUS_LABELS for h in by_label.get(lbl, ())])
                 .values())
    wanted |= {i for i in seen if (n := p.current(i)) is not None and n.label in _STATUS_LABELS}
    return {i: n for i, n in nodes(p, wanted).items() if n.label in _STATUS_LABELS}
