"""EPCIS 2.0 events for the plant's own records (issue 18 item 6): receipts, production,
aggregation and shipping captured in the native format (``tracegraph.capture/1``, CSV, GraphQL)
answer the EPCIS query interface and the genealogy export like captured EPCIS events, so a
distributor or a hospital receives them.

The events are derived from the graph, never stored twice:

- a material lot with ``receivedAt`` → an ``ObjectEvent`` ADD, ``receiving`` (its quantity;
  the supplier as the owning-party source);
- consumption, merge and rework derivations into one output, and production and split
  derivations out of one input (per execution, or per record time without one) → a
  ``TransformationEvent`` (``creating_class_instance`` for lots and batches made,
  ``commissioning`` for units, ``repairing`` for a rework; the execution is the
  ``transformationID``);
- aggregation derivations into a container → an ``AggregationEvent`` ADD, ``packing``;
- shipment derivations into a shipment → an ``ObjectEvent`` OBSERVE, ``shipping``,
  ``in_transit`` (the customer as the owning-party destination).

Serial-level things are EPCs, lots and batches EPC classes (``quantityList``): a GS1 Digital
Link when the record carries its GS1 keys (GTIN + serial, GTIN + lot, SSCC), else the record's
IRI (EPCIS 2.0 takes any URI). Quantities carry their UN/CEFACT unit (kg → KGM …); a unit
without one is left out rather than mislabelled. Derivations that came from a captured EPCIS
event (their edge id is the event's hash) are left to that event. Each event's ``eventID`` is
its CBV 2.0 hash, so the same record exports the same event every time.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

from graph.identifiers.gs1 import GS1Error, parse_identifier, to_digital_link
from graph.model import Direction, EdgeRecord, NodeRecord
from graph.port import GraphStore
from graph.schema import DERIVATION
from ingest.epcis_hash import event_hash
from ontology.codes import DerivationKind as K
from ontology.terms import C, P, R

__all__ = ["CONTEXT", "native_events", "recorded_events"]

CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
DL = "https://id.gs1.org"
#: UCUM unit codes the plant writes → UN/CEFACT Recommendation 20 (EPCIS ``uom``)
REC20 = {"kg": "KGM", "g": "GRM", "mg": "MGM", "t": "TNE", "L": "LTR", "l": "LTR",
         "mL": "MLT", "ml": "MLT", "m": "MTR", "cm": "CMT", "mm": "MMT", "m2": "MTK",
         "{pc}": "H87", "{piece}": "H87", "{ea}": "EA", "1": "H87"}
_INTO_OUTPUT = {K.CONSUMPTION, K.MERGE, K.REWORK}  # many inputs into one output
_OUT_OF_INPUT = {K.PRODUCTION, K.SPLIT}  # one input into many outputs
_INSTANCE = {C.SerializedUnit, C.PackagingAggregation}  # EPCs; everything else EPC classes


def _epc(n: NodeRecord) -> str:
    """The thing's EPCIS identifier: its GS1 Digital Link where its keys make one."""
    p = n.props  # a key property is the record's key
    element = None
    if n.label == C.SerializedUnit and p.get(P.gtin):
        element = f"(01){p[P.gtin]}(21){p.get(P.serialNumber) or n.key}"
    elif n.label == C.PackagingAggregation:
        element = f"(00){p.get(P.sscc) or n.key}"
    elif n.label in (C.Batch, C.Sublot, C.MaterialLot) and p.get(P.gtin):
        element = f"(01){p[P.gtin]}(10){p.get(P.lotNumber) or n.key}"
    link = _digital_link(element) if element is not None else ""
    return link or n.iri


_PLAIN = re.compile(r"^\((01|00)\)(\d{14}|\d{18})(?:\((10|21)\)([A-Za-z0-9_.-]{1,20}))?$")


@functools.lru_cache(maxsize=65_536)
def _digital_link(element: str) -> str:
    """The canonical GS1 Digital Link of an element string. The Writer checked the keys (a
    GTIN's or SSCC's digits and check digit, a lot or serial in GS1's character set), so a key
    of the plain form (14/18 digits; lot or serial of unreserved URI characters, which need no
    escaping) is written directly — the GS1 parser costs milliseconds per identifier, and an
    EPCIS answer names thousands; anything else goes through the parser."""
    m = _PLAIN.match(element)
    if m and len(m.group(2)) == (14 if m.group(1) == "01" else 18):
        return f"{DL}/{m.group(1)}/{m.group(2)}" + (f"/{m.group(3)}/{m.group(4)}"
                                                    if m.group(3) else "")
    try:
        return to_digital_link(parse_identifier(element))
    except GS1Error:
        return ""


def _quantity(n: NodeRecord, quantity: Any, unit: Any) -> dict[str, Any]:
    q: dict[str, Any] = {"epcClass": _epc(n)}
    uom = REC20.get(str(unit)) if unit is not None else None
    if isinstance(quantity, (int, float)) and not isinstance(quantity, bool) and uom:
        q["quantity"] = float(quantity)
        q["uom"] = uom
    return q


def _split(nodes: Sequence[tuple[NodeRecord, Any, Any]], epcs: str, quantities: str
           ) -> dict[str, Any]:
    """Things as an EPC list (serial level) and a quantity list (lots and batches)."""
    out: dict[str, Any] = {}
    e = list(dict.fromkeys(_epc(n) for n, _, _ in nodes if n.label in _INSTANCE))
    q = [_quantity(n, qty, u) for n, qty, u in nodes if n.label not in _INSTANCE]
    if e:
        out[epcs] = e
    if q:
        out[quantities] = q
    return out


def _finish(ev: dict[str, Any], at: str, recorded: str) -> dict[str, Any]:
    ev = {"type": ev.pop("type"), "eventTime": at, "eventTimeZoneOffset": "+00:00", **ev}
    ev["eventID"] = event_hash(ev, CONTEXT)
    ev["recordTime"] = recorded
    return ev


def native_events(store: GraphStore, iris: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The EPCIS events of the plant's own records among ``iris`` (None: the whole graph):
    derivations with both ends among them, receipts of the lots among them."""
    if iris is None:
        return recorded_events(store)
    wanted = sorted(set(iris))
    lots = [n for n in store.get_many(wanted).values() if n.label == C.MaterialLot]
    return _events(store, lots, _anchored(store, wanted))


def recorded_events(store: GraphStore, after_tx: int = 0, until_tx: int | None = None,
                    since: str | None = None) -> list[dict[str, Any]]:
    """The events of the plant's own records recorded by transactions ``after_tx < tx <=
    until_tx`` (None: up to the last), each as it was at ``until_tx``: a derivation event
    whose last edge lies in the range, read from the store's (type, tx) index, with the
    group's earlier edges; receipts of the lots recorded at ``since`` or later (the caller
    bounds them above by record time)."""
    window = store.edges_of_type(DERIVATION, after_tx, until_tx)
    if after_tx == 0:  # every group is whole in the range
        edges = window
    else:
        edges = [e for e in _anchored(store, sorted({_anchor(e) for e in window}))
                 if until_tx is None or e.tx <= until_tx]
    lots = [n for n in store.nodes_of_class(C.MaterialLot)
            if since is None or n.recorded_at >= since]
    return _events(store, lots, edges)


def _anchor(e: EdgeRecord) -> str:
    """The node a derivation's event is about: the input split or produced from, else the
    output made, packed or shipped."""
    return e.dst if e.props.get("derivationKind") in _OUT_OF_INPUT else e.src


def _anchored(store: GraphStore, anchors: Sequence[str]) -> list[EdgeRecord]:
    """Whole events: every derivation of a group whose anchor is among ``anchors``."""
    out_of = store.links(anchors, [DERIVATION])  # into an output among them
    into = store.links(anchors, [DERIVATION], Direction.DOWNSTREAM)  # out of an input
    return list(dict.fromkeys(
        [e for e in out_of if e.props.get("derivationKind") not in _OUT_OF_INPUT]
        + [e for e in into if e.props.get("derivationKind") in _OUT_OF_INPUT]))


def _events(store: GraphStore, lots: Sequence[NodeRecord], edges: Sequence[EdgeRecord]
            ) -> list[dict[str, Any]]:
    edges = [e for e in edges if not e.eid.startswith("ni:///")]  # an EPCIS event's own
    nodes = store.get_many({x for e in edges for x in (e.src, e.dst)})
    events = [*_receipts(store, lots), *_derived(store, edges, nodes)]
    return sorted(events, key=lambda ev: (str(ev["eventTime"]), str(ev["eventID"])))


def _receipts(store: GraphStore, lots: Sequence[NodeRecord]) -> list[dict[str, Any]]:
    received = [n for n in lots if n.props.get(P.receivedAt)]
    suppliers = {e.src: e.dst for e in store.links([n.iri for n in received],
                                                   [R.SUPPLIED_BY])}
    out = []
    for n in received:
        ev: dict[str, Any] = {"type": "ObjectEvent", "action": "ADD",
                              "quantityList": [_quantity(n, n.props.get(P.quantity),
                                                         n.props.get(P.unitCode))],
                              "bizStep": "receiving", "disposition": "in_progress"}
        if n.iri in suppliers:
            ev["sourceList"] = [{"type": "owning_party", "source": suppliers[n.iri]}]
        out.append(_finish(ev, str(n.props[P.receivedAt]), n.recorded_at))
    return out


def _total(parts: Sequence[tuple[NodeRecord, Any, Any]]) -> float | None:
    """The sum of the quantities, if every part has one in the same unit."""
    qs = [q for _, q, _ in parts]
    if len({u for _, _, u in parts}) != 1 or not all(
            isinstance(q, (int, float)) and not isinstance(q, bool) for q in qs):
        return None
    return float(sum(qs))


def _derived(store: GraphStore, edges: Sequence[EdgeRecord], nodes: dict[str, NodeRecord]
             ) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str], list[EdgeRecord]] = {}
    # things in IRI order: the same event (and ID) whichever engine or read path gave its edges
    for e in sorted(edges, key=lambda e: (e.src, e.dst, e.eid)):
        if e.src not in nodes or e.dst not in nodes:
            continue
        kind = str(e.props.get("derivationKind", ""))
        when = str(e.props.get("viaActivity") or e.props.get("atTime") or e.recorded_at)
        anchor = e.dst if kind in _OUT_OF_INPUT else e.src
        groups.setdefault((kind, anchor, when), []).append(e)
    shipments = [a for (k, a, _) in groups if k == K.SHIPMENT]
    customers = {e.src: e.dst for e in store.links(shipments, [R.SHIPPED_TO])}
    out = []
    for (kind, anchor, _), es in sorted(groups.items()):
        at = max(str(e.props.get("atTime") or e.recorded_at) for e in es)
        recorded = max(e.recorded_at for e in es)
        inputs = [(nodes[e.dst], e.props.get("quantity"), e.props.get("unitCode")) for e in es]
        ev: dict[str, Any]
        if kind == K.AGGREGATION:
            ev = {"type": "AggregationEvent", "parentID": _epc(nodes[anchor]), "action": "ADD",
                  **_split(inputs, "childEPCs", "childQuantityList"),
                  "bizStep": "packing", "disposition": "in_progress"}
        elif kind == K.SHIPMENT:
            ship = nodes[anchor]
            at = str(ship.props.get(P.shippedAt) or at)
            ev = {"type": "ObjectEvent", "action": "OBSERVE",
                  **_split(inputs, "epcList", "quantityList"),
                  "bizStep": "shipping", "disposition": "in_transit"}
            if anchor in customers:
                ev["destinationList"] = [{"type": "owning_party",
                                          "destination": customers[anchor]}]
        elif kind in _INTO_OUTPUT or kind in _OUT_OF_INPUT:
            made = [(nodes[e.src], None, None) for e in es]
            serial = any(n.label in _INSTANCE for n, _, _ in made)
            if kind in _OUT_OF_INPUT:  # the input once, with what all outputs took of it
                inputs = [(inputs[0][0], _total(inputs), inputs[0][2])]
            ev = {"type": "TransformationEvent",
                  **_split(inputs, "inputEPCList", "inputQuantityList"),
                  **_split(made[:1] if kind in _INTO_OUTPUT else made, "outputEPCList",
                           "outputQuantityList"),
                  "bizStep": "repairing" if kind == K.REWORK
                  else "commissioning" if serial else "creating_class_instance",
                  "disposition": "in_progress"}
            via = es[0].props.get("viaActivity")
            if via:
                ev["transformationID"] = str(via)
        else:
            continue
        out.append(_finish(ev, at, recorded))
    return out
