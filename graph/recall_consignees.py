"""Where each recalled unit went: its shipment and the customer (consignee) it was shipped to,
for the recall's units file (issue 15 item 11).

From the recall's shipments the derivations are followed upstream through the packaging
(shipment → pallet → case …) to the units they hold: a map from package to shipment, one
entry a package. The units file then asks, a chunk of units at a time, which packages hold
them (the derivation edges into the units), so no per-unit state is kept for the whole file.
Columns: the shipment's key and date, the customer's key, name and GLN; several shipments of
one unit are joined with ``; `` in date order; an unshipped unit has them blank.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from graph.model import Direction
from graph.port import GraphStore, UnitRow
from graph.schema import DERIVATION
from ontology.terms import R

__all__ = ["CONSIGNEE_COLUMNS", "Consignees", "with_consignees"]

CONSIGNEE_COLUMNS = ("shipment", "shipped_at", "customer", "customer_name", "customer_gln")
PACKAGE = "PackagingAggregation"
UNIT = "SerializedUnit"
#: packaging levels followed down from a shipment at most (case, pallet, … )
MAX_LEVELS = 16


@dataclass(frozen=True)
class _Shipment:
    key: str
    shipped_at: str
    customer: str
    name: str
    gln: str


class Consignees:
    """Shipment and customer of units, for a recall's shipments (:meth:`of`)."""

    def __init__(self, store: GraphStore, shipments: Sequence[Any]) -> None:
        """``shipments``: the recall's :class:`graph.recall.Affected` shipments."""
        self.store = store
        self.shipments: dict[str, _Shipment] = {}
        to = {e.src: e.dst for e in store.links([s.iri for s in shipments], [R.SHIPPED_TO])}
        customers = store.get_many(sorted(set(to.values())))
        for s in shipments:
            c = customers.get(to.get(s.iri, ""))
            self.shipments[s.iri] = _Shipment(
                s.key, str(s.properties.get("shippedAt", "")), c.key if c else "",
                str(c.props.get("name", "")) if c else "", str(c.props.get("gln", "")) if c
                else "")
        self.in_package: dict[str, set[str]] = {}  # package → the shipments holding it
        self.direct: dict[str, set[str]] = {}  # a unit shipped without a package
        frontier = {s: {s} for s in self.shipments}
        for _ in range(MAX_LEVELS):
            if not frontier:
                break
            edges = store.links(sorted(frontier), [DERIVATION], Direction.UPSTREAM)
            kinds = {iri: n.label for iri, n in store.get_many(sorted({e.dst for e in edges})
                                                               ).items()}
            nxt: dict[str, set[str]] = {}
            for e in edges:
                kind = kinds.get(e.dst)
                if kind == PACKAGE and e.dst not in self.in_package:
                    nxt.setdefault(e.dst, set()).update(frontier[e.src])
                elif kind == UNIT:
                    self.direct.setdefault(e.dst, set()).update(frontier[e.src])
            for p, ships in nxt.items():
                self.in_package[p] = ships
            frontier = nxt

    def of(self, units: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """The consignee columns of each unit (IRIs; an unshipped unit is left out)."""
        found: dict[str, set[str]] = {u: set(self.direct.get(u, ())) for u in units}
        if self.in_package:
            for e in self.store.links(list(units), [DERIVATION], Direction.DOWNSTREAM):
                ships = self.in_package.get(e.src)
                if ships:
                    found[e.dst].update(ships)
        out: dict[str, tuple[str, ...]] = {}
        for u, ships in found.items():
            if ships:
                rows = sorted((self.shipments[s] for s in ships),
                              key=lambda s: (s.shipped_at, s.key))
                out[u] = tuple("; ".join(getattr(s, f) for s in rows)
                               for f in ("key", "shipped_at", "customer", "name", "gln"))
        return out


def with_consignees(rows: Iterator[UnitRow], consignees: Consignees, per: int = 50_000
                    ) -> Iterator[tuple[Any, ...]]:
    """The unit rows (IRI third) with the :data:`CONSIGNEE_COLUMNS` appended, in their order."""
    blank = ("",) * len(CONSIGNEE_COLUMNS)
    while part := list(islice(rows, per)):
        found = consignees.of([r[2] for r in part])
        for r in part:
            yield (*r, *found.get(r[2], blank))
