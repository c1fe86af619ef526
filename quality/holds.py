"""Held material: a lot, batch, sublot, unit, case or shipment under an Active hold may not be
consumed, merged, aggregated, reworked into something else or shipped, and nothing with held
material upstream of it may be shipped, until the hold is released or dispositioned.

:func:`held_material_guard` is a write-path guard (see :data:`graph.write.Guard`), so every way
in (capture, GraphQL, EPCIS, signals) meets it. Held WIP may still be processed into units or
split into sublots (``production``, ``split``): they stay downstream of the hold, and the
shipment check finds it. The rule is about use after the hold: a derivation whose event time
(``atTime``) is before the hold was opened is a late record of history (an import, a
backfill) and is accepted; one without an event time counts as happening now.

:func:`place_hold` (command ``placeHold``) places a hold by hand: QA or QC, re-authenticated,
with a reason, raised by an open deviation, on named lots, batches, sublots or units; held
batches and lots get the status ``OnHold`` in the same write (:func:`on_hold_status`, shared
with the exception loop). An entity already under another active hold may be held again: the
new hold is a second, independent reason with its own deviation and its own disposition, the
entity stays held until every hold on it is resolved, and its status (already ``OnHold``) is
not written again. Re-sending the same hold (same key, deviation and items) is idempotent: it
writes nothing and returns the hold; the same key with other content is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from graph.errors import Problem
from graph.model import Direction, EdgeRecord, NodeRecord
from graph.port import GraphStore
from graph.schema import DERIVATION
from graph.session import Session, write_nodes
from graph.status import is_active_hold, is_open_deviation
from graph.write import NodeUpsert, PendingWrite
from ontology.authority import Command
from ontology.codes import BatchStatus, DerivationKind, HoldState, MaterialLotStatus, RoleName
from ontology.datatypes import Clock, to_utc_text
from ontology.terms import C, P, R
from quality.accounts import authenticate
from quality.workflow import WorkflowRefused, require_user, resolve

__all__ = [
    "HOLDABLE",
    "HOLD_PLACERS",
    "active_holds",
    "ancestors",
    "held_material_guard",
    "on_hold_status",
    "place_hold",
]

#: who may place a hold by hand
HOLD_PLACERS = frozenset({RoleName.QA, RoleName.QC})
#: what a hold placed by hand may name
HOLDABLE = (C.MaterialLot, C.Batch, C.Sublot, C.SerializedUnit)


def _active(store: GraphStore, iris: set[str], new_edges: list[EdgeRecord],
            pending: Mapping[str, NodeRecord]) -> dict[str, list[tuple[str, str]]]:
    """Active holds (key, opened at) on each of ``iris``: committed holds and holds written in this
    batch, each in its newest state (a hold released in the batch no longer counts)."""
    edges = store.links(sorted(iris), [R.HOLDS], Direction.DOWNSTREAM)
    edges += [e for e in new_edges if e.type == R.HOLDS and e.dst in iris]
    hold_iris = {e.src for e in edges}
    stored = store.get_many(hold_iris - set(pending))
    out: dict[str, list[tuple[str, str]]] = {}
    for e in edges:
        h = pending.get(e.src) or stored.get(e.src)
        if h is not None and h.label == C.Hold and is_active_hold(h):
            out.setdefault(e.dst, []).append((h.key, str(h.props.get(P.openedAt, ""))))
    return out


def active_holds(store: GraphStore, iris: list[str]) -> dict[str, list[str]]:
    """Active holds (keys) on each of ``iris`` that has any, from committed state."""
    held = _active(store, set(iris), [], {}) if iris else {}
    return {iri: [k for k, _ in hs] for iri, hs in held.items()}


#: derivation kinds that use their input up or send it out
USE_KINDS = frozenset({DerivationKind.CONSUMPTION, DerivationKind.MERGE,
                       DerivationKind.AGGREGATION, DerivationKind.REWORK,
                       DerivationKind.SHIPMENT})


def held_material_guard(w: PendingWrite) -> list[Problem]:
    """Refuse every new use of held material (see the module docstring)."""
    uses = [e for e in w.new_edges_of([DERIVATION])
            if str(e.props.get("derivationKind", "")) in USE_KINDS]
    if not uses:
        return []
    held = _active(w.store, {e.dst for e in uses}, list(w.new_edges), w.after)
    problems: list[Problem] = []
    for e in uses:
        on_hold = held.get(e.dst)
        blocking = _blocking(on_hold, e) if on_hold else []
        if blocking:
            problems.append(_problem(w, e, e.dst, blocking))
    shipped = [e for e in uses if e.props.get("derivationKind") == DerivationKind.SHIPMENT
               and not held.get(e.dst)]
    if shipped:  # anything held upstream of what is shipped?
        problems += _held_upstream(w, shipped)
    return problems


def _blocking(holds: Iterable[tuple[str, str]], e: EdgeRecord) -> list[str]:
    at = e.props.get("atTime")
    return sorted({k for k, opened in holds if at is None or not opened or str(at) >= opened})


def _problem(w: PendingWrite, e: EdgeRecord, held_iri: str, blocking: list[str]) -> Problem:
    kind = str(e.props.get("derivationKind", "derivation"))
    verbs: dict[str, str] = {DerivationKind.SHIPMENT: "shipped",
                             DerivationKind.CONSUMPTION: "consumed"}
    verb = verbs.get(kind, f"used ({kind})")
    node = w.current(held_iri) or w.store.get(held_iri)
    what = f"{node.label} {node.key}" if node else held_iri
    where = "" if held_iri == e.dst else f" (upstream of {e.dst})"
    return Problem(rule="held-material", field="wasDerivedFrom", value=held_iri, focus=e.src,
                   message=f"{what}{where} is under active hold {', '.join(blocking)} and "
                           f"cannot be {verb}; release or disposition the hold first")


def ancestors(w: PendingWrite, starts: list[str]) -> set[str]:
    """Everything ``starts`` derive from: through this write's new edges, then stored ones."""
    new_up: dict[str, list[str]] = {}
    for e in w.new_edges:
        if e.type == DERIVATION:
            new_up.setdefault(e.src, []).append(e.dst)
    seen, frontier = set(starts), list(starts)
    while frontier:
        frontier = [d for f in frontier for d in new_up.get(f, ()) if d not in seen]
        seen.update(frontier)
    walk = w.store.walk(sorted(seen), Direction.UPSTREAM)
    seen.update(walk.iris([h for hs in walk.by_label().values() for h in hs]).values())
    return seen


def _held_upstream(w: PendingWrite, shipped: list[EdgeRecord]) -> list[Problem]:
    held = _active(w.store, ancestors(w, [e.dst for e in shipped]), list(w.new_edges),
                   w.after)
    if not held:
        return []  # the common case: one walk, one query
    problems: list[Problem] = []
    for e in shipped:  # rare: find which shipment carries which held material
        for iri in sorted(ancestors(w, [e.dst]) & held.keys()):
            blocking = _blocking(held[iri], e)
            if blocking:
                problems.append(_problem(w, e, iri, blocking))
    return problems


#: the status property and its held value, of the classes that have one
_HOLD_STATUS: dict[str, tuple[str, str]] = {
    C.Batch: (P.batchStatus, BatchStatus.ON_HOLD),
    C.MaterialLot: (P.materialLotStatus, MaterialLotStatus.ON_HOLD)}


def on_hold_status(store: GraphStore, held: Sequence[str]) -> list[NodeUpsert]:
    """Batches and lots among ``held`` get the status ``OnHold`` (written with the hold; those
    already on hold are left alone)."""
    out = []
    for n in store.get_many(held).values():
        status = _HOLD_STATUS.get(n.label)
        if status is not None and n.props.get(status[0]) != status[1]:
            out.append(NodeUpsert(n.label, n.key, n.iri, {status[0]: status[1]}))
    return out


def place_hold(rt: Session, key: str, deviation: str, items: Sequence[str], username: str,
               password: str, reason: str, description: str | None = None,
               clock: Clock | None = None) -> NodeRecord:
    """Place hold ``key`` raised by ``deviation`` on ``items`` (IRIs or keys of lots, batches,
    sublots, units) as ``username`` (QA or QC, re-authenticated); see the module docstring.
    Refusals raise :class:`WorkflowRefused` and write nothing."""
    clock = rt.clock if clock is None else clock
    if not reason or not reason.strip():
        raise WorkflowRefused("reason-required", "a hold needs a reason", "reason", reason)
    require_user(rt, username, HOLD_PLACERS, "placing a hold")
    dev = resolve(rt, C.Deviation, deviation)
    if not is_open_deviation(dev):
        raise WorkflowRefused("deviation-closed", f"deviation {dev.key} is "
                              f"{dev.props.get(P.deviationState)}; a hold is raised by an open "
                              "deviation", "raisedBy", dev.key)
    if not items:
        raise WorkflowRefused("items-required", "name what the hold holds", "holds", [])
    held = sorted({_holdable(rt, i).iri for i in items})
    iri = rt.vocab.mint_iri(C.Hold, key)
    existing = rt.store.get(iri)
    if existing is not None:
        same = (sorted(e.dst for e in rt.store.links([iri], [R.HOLDS])) == held
                and [e.dst for e in rt.store.links([iri], [R.RAISED_BY])] == [dev.iri])
        if same:
            return existing  # a re-sent command: nothing new
        raise WorkflowRefused("hold-exists", f"hold {key} exists with other items or another "
                              "deviation", "recordNumber", key)
    authenticate(rt, username, password, clock, purpose=f"hold {key} on {len(held)} item(s)")
    text = description or reason
    write_nodes(rt, [NodeUpsert(C.Hold, key, iri, {
        P.recordNumber: key, P.holdState: HoldState.ACTIVE, P.openedAt: to_utc_text(clock()),
        P.description: text}, {P.holds: held, P.raisedBy: [dev.iri]}),
        *on_hold_status(rt.store, held)], username, reason, f"quality:{key}:hold",
        command=Command.PLACE_HOLD)
    return resolve(rt, C.Hold, iri)


def _holdable(rt: Session, ref: str) -> NodeRecord:
    for cls in HOLDABLE:
        try:
            return resolve(rt, cls, ref)
        except WorkflowRefused:
            continue
    raise WorkflowRefused("not-holdable", "a hold names material lots, batches, sublots or "
                          "serialized units", "holds", ref)
