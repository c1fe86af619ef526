"""Held material: a lot, batch, sublot, unit, case or shipment under an Active hold may not be
consumed, split, merged, aggregated, reworked into something or shipped — no new derivation
edge may take it as input — until the hold is released or dispositioned.

:func:`held_material_guard` is a write-path guard (see :data:`graph.write.Guard`), so every way
in (capture, GraphQL, EPCIS, signals) meets it. Producing units from a held batch is refused
too: held WIP stops.
"""

from __future__ import annotations

from collections.abc import Mapping

from graph.errors import Problem
from graph.model import Direction, EdgeRecord, NodeRecord
from graph.port import GraphStore
from graph.schema import DERIVATION
from graph.write import PendingWrite
from ontology.terms import C, P, R

__all__ = ["active_holds", "held_material_guard"]


def _active(store: GraphStore, iris: set[str], new_edges: list[EdgeRecord],
            pending: Mapping[str, NodeRecord]) -> dict[str, list[str]]:
    """Active holds (keys) on each of ``iris``: committed holds and holds written in this
    batch, each in its newest state (a hold released in the batch no longer counts)."""
    edges = store.links(sorted(iris), [R.HOLDS], Direction.DOWNSTREAM)
    edges += [e for e in new_edges if e.type == R.HOLDS and e.dst in iris]
    hold_iris = {e.src for e in edges}
    stored = store.get_many(hold_iris - set(pending))
    out: dict[str, list[str]] = {}
    for e in edges:
        h = pending.get(e.src) or stored.get(e.src)
        if h is not None and h.label == C.Hold and h.props.get(P.holdState) == "Active":
            out.setdefault(e.dst, []).append(h.key)
    return out


def active_holds(store: GraphStore, iris: list[str]) -> dict[str, list[str]]:
    """Active holds (keys) on each of ``iris`` that has any, from committed state."""
    return _active(store, set(iris), [], {}) if iris else {}


def held_material_guard(w: PendingWrite) -> list[Problem]:
    """Refuse every new derivation edge whose input is under an active hold."""
    inputs = {e.dst for e in w.new_edges if e.type == DERIVATION}
    if not inputs:
        return []
    held = _active(w.store, inputs, list(w.new_edges), w.after)
    problems: list[Problem] = []
    for e in w.new_edges:
        if e.type == DERIVATION and e.dst in held:
            kind = str(e.props.get("derivationKind", "derivation"))
            verb = {"shipment": "shipped", "consumption": "consumed"}.get(kind, f"used ({kind})")
            node = w.current(e.dst)
            what = f"{node.label} {node.key}" if node else e.dst
            problems.append(Problem(
                rule="held-material", field="wasDerivedFrom", value=e.dst, focus=e.src,
                message=f"{what} is under active hold {', '.join(sorted(set(held[e.dst])))} "
                        f"and cannot be {verb}; release or disposition the hold first"))
    return problems
