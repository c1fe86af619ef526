"""Identify nodes from whatever a user has in hand: an IRI, a business key, any identifier
property, a scanned GS1 barcode, a GS1 Digital Link, an element string or an EPC URN.

A GS1 key resolves by its parts: an SSCC to its package, GTIN + serial to the unit, GTIN + lot to
the batch or lot, a GTIN alone to the product. Text that is neither a known identifier nor valid
GS1 resolves to nothing (and :func:`identify_or_explain` says why).
"""

from __future__ import annotations

from graph.identifiers.gs1 import GS1Error, GS1Key, is_gtin, is_sscc, parse_identifier
from graph.model import NodeRecord
from graph.port import GraphStore

__all__ = ["identify", "identify_or_explain"]


def _by_gs1(store: GraphStore, key: GS1Key) -> list[NodeRecord]:
    if key.sscc:
        return store.find(key.sscc, "sscc")
    if key.gtin and key.serial:
        return [n for n in store.find(key.serial, "serialNumber")
                if n.props.get("gtin") in (None, key.gtin)]
    if key.gtin and key.lot:
        return [n for n in store.find(key.lot, "lotNumber")
                if n.props.get("gtin") in (None, key.gtin)]
    if key.gtin:
        return store.find(key.gtin, "gtin", label="Product")
    return []


def identify_or_explain(store: GraphStore, text: str) -> tuple[list[NodeRecord], str | None]:
    """Matching nodes, and when there are none, why (e.g. a GS1 check-digit error)."""
    value = text.strip()
    node = store.get(value)
    if node is not None:
        return [node], None
    # a valid GTIN or SSCC means the trade item or the package, not every record that carries
    # the number as a property (units and batches carry their product's GTIN too)
    if is_gtin(value) or is_sscc(value):
        found = _by_gs1(store, parse_identifier(value))
        if found:
            return found, None
    hits = store.find(value)
    if hits:
        return hits, None
    try:
        key = parse_identifier(value)
    except GS1Error as e:
        return [], (f"{value!r}: no node has this IRI, key or identifier, and it is not valid "
                    f"GS1: {e}")
    found = _by_gs1(store, key)
    return found, None if found else f"{value!r}: no node matches the GS1 identifier {key}"


def identify(store: GraphStore, text: str) -> list[NodeRecord]:
    """Every node the text identifies (usually one).

    >>> from graph.engines.sqlite import SQLiteStore
    >>> identify(SQLiteStore(":memory:"), "(01)09506000134352(21)SN-1")
    []
    """
    return identify_or_explain(store, text)[0]
