"""Mass balance of a downstream trace: how much of the seed reached each affected thing.

Every derivation edge carries the quantity of its source that went into the derived thing. The
seed's exposure flows downstream in topological order: a source passes on the share
``quantity / source quantity`` of what it holds of the seed (a whole unit into a case or a
shipment when the edge has no quantity). A share that cannot be computed (no quantity on the
source, units that differ) leaves the exposure unknown rather than guessed. A serialized unit
records no quantity: it is one piece (``1 {pc}``), so what reached it passes on whole, through a
rework too; and a unit made without a recorded quantity is one piece of a source counted in
pieces. The reconciliation
line compares what the seed lot received with what was consumed from it.

>>> from graph.model import EdgeRecord, Genealogy, NodeRecord
>>> lot = NodeRecord("L", "MaterialLot", "L", {"quantity": 100.0, "unitCode": "kg"})
>>> bat = NodeRecord("B", "Batch", "B", {"quantity": 10.0, "unitCode": "{pc}"})
>>> e = EdgeRecord("B", "WAS_DERIVED_FROM", "L", "e1",
...                {"derivationKind": "consumption", "quantity": 25.0, "unitCode": "kg"})
>>> mb = mass_balance(Genealogy(["L"], {"L": lot, "B": bat}, {"L": 0, "B": 1}, [e], 1))
>>> mb.exposure["B"], mb.received, mb.consumed, mb.on_hand
(25.0, 100.0, 25.0, 75.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from graphlib import TopologicalSorter

from graph.model import EdgeRecord, Genealogy, NodeRecord
from ontology.codes import DerivationKind
from ontology.terms import C

__all__ = ["MassBalance", "mass_balance"]

PIECE = "{pc}"


@dataclass
class MassBalance:
    seed: str
    unit: str | None
    received: float | None
    consumed: float
    on_hand: float | None
    #: quantity of the seed (in its unit) contained in each reached node; None when unknown
    exposure: dict[str, float | None] = field(default_factory=dict)
    #: problems met (missing quantities, unit mismatches), by node
    notes: dict[str, str] = field(default_factory=dict)

    def fraction(self, iri: str) -> float | None:
        e = self.exposure.get(iri)
        if e is None or not self.received:
            return None
        return e / self.received


def _share(edge: EdgeRecord, source: NodeRecord, derived: NodeRecord | None = None
           ) -> tuple[float | None, str]:
    source_qty, source_unit = source.props.get("quantity"), source.props.get("unitCode")
    piece = source.label == C.SerializedUnit and source_qty is None
    if piece:  # a serialized unit is one piece
        source_qty, source_unit = 1.0, "{pc}"
    q = edge.props.get("quantity")
    if q is None and derived is not None and derived.label == C.SerializedUnit:
        q = 1.0  # a unit made without a recorded quantity is one piece of its source
        if source_unit != PIECE:
            return None, f"one piece made from a source counted in {source_unit}"
    if q is None:
        if piece or edge.props.get("derivationKind") in (DerivationKind.AGGREGATION,
                                                         DerivationKind.SHIPMENT):
            return 1.0, ""
        return None, "derivation without a quantity"
    if not isinstance(source_qty, (int, float)) or source_qty <= 0:
        return None, "source without a quantity"
    unit = edge.props.get("unitCode")
    if unit is not None and source_unit is not None and unit != source_unit:
        return None, f"quantity in {unit} but the source is counted in {source_unit}"
    return float(q) / float(source_qty), ""  # type: ignore[arg-type]  # q is a stored quantity (xsd:decimal), typed as any property value


def mass_balance(g: Genealogy) -> MassBalance:
    """Mass balance of a DOWNSTREAM genealogy from exactly one seed."""
    if len(g.seeds) != 1:
        raise ValueError("mass balance is computed for one seed")
    seed = g.seeds[0]
    node = g.nodes[seed]
    received = node.props.get("quantity")
    unit = node.props.get("unitCode")
    into: dict[str, list[EdgeRecord]] = {}
    order: TopologicalSorter[str] = TopologicalSorter({n: () for n in g.nodes})
    for e in g.edges:
        order.add(e.src, e.dst)  # the derived thing comes after its source
        into.setdefault(e.src, []).append(e)
    exposure: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    for n in order.static_order():
        if n == seed:
            exposure[n] = float(received) if isinstance(received, (int, float)) else None
            continue
        total: float | None = 0.0
        for e in into.get(n, []):
            src = g.nodes.get(e.dst)
            held = exposure.get(e.dst)
            if src is None or e.dst not in exposure:
                continue  # a source outside the trace holds none of the seed
            share, why = _share(e, src, g.nodes.get(n))
            if held is None or share is None:
                total = None
                notes[n] = why or notes.get(e.dst, "exposure of a source is unknown")
                break
            total += held * share  # type: ignore[operator]  # total is a float here: it is set to None only just before break
        exposure[n] = total
    consumed = 0.0
    for e in g.edges:
        q = e.props.get("quantity")
        if e.dst == seed and e.props.get("derivationKind") == DerivationKind.CONSUMPTION and \
                isinstance(q, (int, float)):
            consumed += float(q)
    on_hand = float(received) - consumed if isinstance(received, (int, float)) else None
    return MassBalance(seed=seed, unit=str(unit) if unit is not None else None,
                       received=float(received) if isinstance(received, (int, float)) else None,
                       consumed=consumed, on_hand=on_hand, exposure=exposure, notes=notes)
