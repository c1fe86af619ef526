"""Export stored nodes as RDF in the tracegraph ontology (Turtle, JSON-LD).

Each node becomes its ``rdf:type``, its datatype property values (typed by the ontology's ranges)
and its object-property links; link targets are typed when the store knows them. System properties
(record times, transaction ids) and secrets are never exported. Each derivation edge is exported
both as the direct ``prov:wasDerivedFrom`` triple and qualified::

    <derived> prov:qualifiedDerivation <derived#derivation-EDGEID> .
    <derived#derivation-EDGEID> a tg:Derivation ; prov:entity <source> ;
        tg:derivationKind "consumption" ; tg:quantity 3.0 ; tg:unitCode "{pc}" ;
        tg:atTime "…"^^xsd:dateTime ; tg:viaActivity "…"^^xsd:anyURI ; tg:edgeId "b-assy#0" .

The qualified node's IRI is derived from the edge id, so exporting twice gives the same graph and
:mod:`ingest.rdf_import` turns it back into the same derivation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal as Lit
from urllib.parse import quote

from rdflib import PROV, RDF, XSD, Graph, URIRef

from graph.model import Direction, EdgeRecord, NodeRecord
from graph.port import GraphStore
from graph.schema import DERIVATION, EDGE_SYSTEM_PROPS, NODE_SYSTEM_PROPS
from ontology.datatypes import StoredValue
from ontology.rdf import add_node, literal
from ontology.vocab import TG, Vocabulary, vocabulary

__all__ = ["JSONLD_CONTEXT", "derivation_iri", "export_graph", "export_trace", "serialize"]

#: Compact JSON-LD context of exported graphs.
JSONLD_CONTEXT: dict[str, str] = {
    "tg": str(TG),
    "prov": str(PROV),
    "xsd": str(XSD),
    "rdf": str(RDF),
}

#: Edge properties exported on a qualified derivation: everything but record time and tx id.
_EDGE_EXCLUDED = frozenset(EDGE_SYSTEM_PROPS) - {"edgeId"}

Format = Lit["turtle", "json-ld"]


def new_graph() -> Graph:
    g = Graph()
    for prefix, ns in JSONLD_CONTEXT.items():
        g.bind(prefix, ns)
    return g


def derivation_iri(edge: EdgeRecord) -> str:
    """Stable IRI of the qualified derivation node of one derivation edge."""
    eid = edge.eid or f"{edge.dst}"
    return f"{edge.src}#derivation-{quote(eid, safe='')}"


def _props(vocab: Vocabulary, node: NodeRecord) -> dict[str, StoredValue]:
    allowed = vocab.cls(node.label).data_properties
    return {k: v for k, v in node.props.items()
            if k in allowed and k not in vocab.secrets and k not in NODE_SYSTEM_PROPS
            and v is not None}


def export_graph(store: GraphStore, iris: Sequence[str] | Iterable[str],
                 vocab: Vocabulary | None = None) -> Graph:
    """The given nodes (unknown IRIs are ignored) as an RDF graph in the tracegraph ontology."""
    v = vocab or vocabulary()
    g = new_graph()
    nodes = store.get_many(list(dict.fromkeys(iris)))
    order = sorted(nodes)
    edges = store.links(order, None, Direction.UPSTREAM) if order else []
    edges = [e for e in edges if e.src in nodes]
    labels = {iri: n.label for iri, n in nodes.items()}
    missing = sorted({e.dst for e in edges} - labels.keys())
    if missing:
        labels.update({iri: n.label for iri, n in store.get_many(missing).items()})
    out: dict[str, list[EdgeRecord]] = {}
    for e in edges:
        out.setdefault(e.src, []).append(e)
    for iri in order:
        node = nodes[iri]
        links: dict[str, list[tuple[str, str | None]]] = {}
        derivations: list[EdgeRecord] = []
        for e in sorted(out.get(iri, []), key=lambda x: (x.type, x.dst, x.eid)):
            name = v.rel(e.type).name
            pair = (e.dst, labels.get(e.dst))
            if pair not in links.setdefault(name, []):
                links[name].append(pair)
            if e.type == DERIVATION:
                derivations.append(e)
        add_node(g, v, iri, node.label, _props(v, node), links)
        for e in derivations:
            _add_derivation(g, v, e)
    return g


def _add_derivation(g: Graph, vocab: Vocabulary, e: EdgeRecord) -> None:
    q = URIRef(derivation_iri(e))
    g.add((URIRef(e.src), PROV.qualifiedDerivation, q))
    g.add((q, RDF.type, TG.Derivation))
    g.add((q, PROV.entity, URIRef(e.dst)))
    allowed = vocab.edge_properties(DERIVATION)
    values: dict[str, StoredValue] = dict(e.props)
    if e.eid:
        values["edgeId"] = e.eid
    for name, value in sorted(values.items()):
        p = allowed.get(name)
        if p is None or name in _EDGE_EXCLUDED or value is None:
            continue
        for x in value if isinstance(value, list) else [value]:
            g.add((q, p.iri, literal(p.datatype, x)))


def export_trace(store: GraphStore, seed_iri: str, direction: Direction = Direction.UPSTREAM,
                 vocab: Vocabulary | None = None, max_depth: int = 50) -> Graph:
    """The genealogy of one node (the seed and every node reached) with their links; link
    targets outside the genealogy appear with their type only."""
    gen = store.genealogy([seed_iri], direction, max_depth)
    return export_graph(store, sorted(gen.nodes), vocab)


def serialize(graph: Graph, fmt: Format | str = "turtle") -> str:
    """Turtle or JSON-LD (compacted with :data:`JSONLD_CONTEXT`) text of an exported graph."""
    if fmt == "turtle":
        return graph.serialize(format="turtle")
    if fmt == "json-ld":
        return graph.serialize(format="json-ld", context=dict(JSONLD_CONTEXT), auto_compact=True)
    raise ValueError(f"unsupported RDF format {fmt!r}: use 'turtle' or 'json-ld'")
