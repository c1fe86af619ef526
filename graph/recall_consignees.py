"""Where each recalled unit went: its shipment and the customer (consignee) it was shipped to,
for the recall's units file (issue 15 item 11).

One upstream walk from the recall's shipments over the packaging derivations (shipment →
pallet → case → unit: kinds ``shipment`` and ``aggregation``) reaches every unit they hold,
each with the shipment it was reached from; its unit rows stream in (serial, IRI) order, the
order of the recall's own unit rows, so the two streams are merged without holding either.
Columns: the shipment's key and date, the customer's key, name and GLN; an unshipped unit has
them blank. A unit in two of the shipments (returned and shipped again) names the one the walk
reached it from first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from graph.model import Direction
from graph.port import GraphStore, UnitRow, Walk
from ontology.codes import DerivationKind
from ontology.terms import R

__all__ = ["CONSIGNEE_COLUMNS", "Consignees", "with_consignees"]

CONSIGNEE_COLUMNS = ("shipment", "shipped_at", "customer", "customer_name", "customer_gln")
UNIT = "SerializedUnit"
PACKAGING = (DerivationKind.SHIPMENT, DerivationKind.AGGREGATION)
#: packaging levels followed down from a shipment at most (case, pallet, … )
MAX_LEVELS = 16


class Consignees:
    """Shipment and customer of the units the recall's shipments hold."""

    def __init__(self, store: GraphStore, shipments: Sequence[Any]) -> None:
        """``shipments``: the recall's :class:`graph.recall.Affected` shipments."""
        self.shipments: dict[str, tuple[str, ...]] = {}
        to = {e.src: e.dst for e in store.links([s.iri for s in shipments], [R.SHIPPED_TO])}
        customers = store.get_many(sorted(set(to.values())))
        for s in shipments:
            c = customers.get(to.get(s.iri, ""))
            self.shipments[s.iri] = (s.key, str(s.properties.get("shippedAt", "")),
                                     *((c.key, str(c.props.get("name", "")),
                                        str(c.props.get("gln", ""))) if c else ("", "", "")))
        self.walk: Walk | None = store.walk(sorted(self.shipments), Direction.UPSTREAM,
                                            MAX_LEVELS, kinds=PACKAGING) \
            if self.shipments else None

    def shipped(self) -> Iterator[tuple[str, str, tuple[str, ...]]]:
        """(serial, IRI, consignee columns) of every unit in the shipments, in (serial, IRI)
        order."""
        if self.walk is None:
            return
        for serial, _gtin, iri, _parent, _depth, shipment in self.walk.unit_rows(
                self.walk.by_label().get(UNIT, ())):
            yield serial, iri, self.shipments[shipment]


def with_consignees(rows: Iterator[UnitRow], consignees: Consignees
                    ) -> Iterator[tuple[Any, ...]]:
    """The unit rows (serial first, IRI third, in (serial, IRI) order) with the
    :data:`CONSIGNEE_COLUMNS` appended."""
    blank = ("",) * len(CONSIGNEE_COLUMNS)
    shipped = consignees.shipped()
    nxt = next(shipped, None)
    for r in rows:
        at = (r[0], r[2])
        while nxt is not None and (nxt[0], nxt[1]) < at:
            nxt = next(shipped, None)
        yield (*r, *(nxt[2] if nxt is not None and (nxt[0], nxt[1]) == at else blank))
