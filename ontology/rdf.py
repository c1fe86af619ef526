"""Nodes as RDF in the tracegraph ontology: the bridge to SHACL, Turtle and JSON-LD.

>>> g = Graph()
>>> add_node(g, vocabulary(), "https://example.org/l1", "MaterialLot", {"lotNumber": "L1"}, {})
>>> len(g)
2
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from rdflib import RDF, XSD, Graph, Literal, URIRef

from ontology.datatypes import StoredValue
from ontology.vocab import Vocabulary, vocabulary

__all__ = ["add_node", "literal", "vocabulary"]


def literal(datatype: URIRef | None, value: StoredValue) -> Literal:
    """The RDF literal of a stored scalar, typed with the property's declared range."""
    if datatype in (None, XSD.string):
        return Literal(str(value))
    if datatype == XSD.dateTime and isinstance(value, str):
        return Literal(value, datatype=XSD.dateTime)
    if datatype == XSD.decimal and isinstance(value, (int, float)):
        return Literal(format(Decimal(repr(float(value))), "f"), datatype=XSD.decimal)
    return Literal(value, datatype=datatype)


def add_node(g: Graph, vocab: Vocabulary, iri: str, label: str,
             props: Mapping[str, StoredValue],
             links: Mapping[str, Iterable[tuple[str, str | None]]]) -> None:
    """Add one node: its ``rdf:type``, datatype property values and links.

    ``links`` maps an object property name to ``(target IRI, target class or None)``; a known
    target class is asserted too, as SHACL's ``sh:class`` needs it.
    """
    s = URIRef(iri)
    g.add((s, RDF.type, vocab.cls(label).iri))
    for name, value in props.items():
        p = vocab.prop(name)
        values = value if isinstance(value, list) else [value]
        for v in values:
            g.add((s, p.iri, literal(p.datatype, v)))
    for name, targets in links.items():
        p = vocab.prop(name)
        for target, target_label in targets:
            o = URIRef(target)
            g.add((s, p.iri, o))
            if target_label is not None:
                g.add((o, RDF.type, vocab.cls(target_label).iri))
