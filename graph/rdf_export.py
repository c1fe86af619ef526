"""Export stored nodes as RDF in the tracegraph ontology (Turtle, JSON-LD).

Each node becomes its ``rdf:type``, its datatype property values (typed by the ontology's ranges)
and its object-property links; a link target outside the exported nodes comes with its
properties and the links its shapes require, so the export is valid against the shapes. System
properties (record times, transaction ids) and secrets are never exported. Each derivation edge
is exported both as the direct ``prov:wasDerivedFrom`` triple and qualified::

    <derived> prov:qualifiedDerivation <derived#derivation-EDGEID> .
    <derived#derivation-EDGEID> a tg:Derivation ; prov:entity <source> ;
        tg:derivationKind "consumption" ; tg:quantity 3.0 ; tg:unitCode "{pc}" ;
        tg:atTime "…"^^xsd:dateTime ; tg:viaActivity "…"^^xsd:anyURI ; tg:edgeId "b-assy#0" .

The qualified node's IRI is derived from the edge id, so exporting twice gives the same graph and
:mod:`ingest.rdf_import` turns it back into the same derivation.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal as Lit
from urllib.parse import quote

from rdflib import PROV, RDF, XSD, Graph, Literal, URIRef
from rdflib.namespace import SH

from graph.model import Direction, EdgeRecord, NodeRecord
from graph.port import GraphStore
from graph.schema import DERIVATION, EDGE_SYSTEM_PROPS, NODE_SYSTEM_PROPS
from ontology.datatypes import StoredValue
from ontology.rdf import add_node, literal
from ontology.vocab import TG, Vocabulary, local_name, vocabulary
from shapes.validator import shapes_graph

__all__ = ["JSONLD_CONTEXT", "derivation_iri", "export_graph", "export_trace", "required_links",
           "serialize"]

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


def required_links(vocab: Vocabulary) -> dict[str, frozenset[str]]:
    """Class → the object properties its node shapes (its own and its superclasses') require
    (``sh:minCount`` ≥ 1 at severity Violation)."""
    return _required_links(vocab)


@functools.cache
def _required_links(vocab: Vocabulary) -> dict[str, frozenset[str]]:
    sg = shapes_graph()
    by_class: dict[str, set[str]] = {}
    for shape in sg.subjects(RDF.type, SH.NodeShape):
        target = sg.value(shape, SH.targetClass)
        if not isinstance(target, URIRef):
            continue
        for ps in sg.objects(shape, SH.property):
            path, least = sg.value(ps, SH.path), sg.value(ps, SH.minCount)
            if (isinstance(path, URIRef) and isinstance(least, Literal) and int(least) >= 1
                    and sg.value(ps, SH.severity) in (None, SH.Violation)):
                by_class.setdefault(local_name(target), set()).add(local_name(path))
    rels = {p.name for p in vocab.properties.values() if p.rel_type is not None}
    return {c.name: frozenset(x for a in (c.name, *c.ancestors) for x in by_class.get(a, ())
                              if x in rels) for c in vocab.classes.values()}


def export_graph(store: GraphStore, iris: Sequence[str] | Iterable[str],
                 vocab: Vocabulary | None = None) -> Graph:
    """The given nodes (unknown IRIs are ignored) as an RDF graph in the tracegraph ontology,
    valid against the project's shapes: a link target outside them is exported with its
    properties and the links its shapes require (the targets of those in turn), so no record
    appears as a bare stub (issue 18 item 6)."""
    v = vocab or vocabulary()
    g = new_graph()
    nodes = store.get_many(list(dict.fromkeys(iris)))
    order = sorted(nodes)
    edges = store.links(order, None, Direction.UPSTREAM) if order else []
    edges = [e for e in edges if e.src in nodes]
    support = _support(store, v, nodes, edges)
    labels = {iri: n.label for iri, n in (*nodes.items(), *support.items())}
    missing = sorted({e.dst for e in edges} - labels.keys())
    if missing:
        labels.update({iri: n.label for iri, n in store.get_many(missing).items()})
    out: dict[str, list[EdgeRecord]] = {}
    for e in edges:
        out.setdefault(e.src, []).append(e)
    for iri in [*order, *sorted(support)]:
        node = nodes.get(iri) or support[iri]
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


def _support(store: GraphStore, v: Vocabulary, nodes: Mapping[str, NodeRecord],
             edges: list[EdgeRecord]) -> dict[str, NodeRecord]:
    """The link targets outside ``nodes`` and, transitively, the targets of the links their
    shapes require; ``edges`` gains those required links."""
    required = required_links(v)
    support: dict[str, NodeRecord] = {}
    frontier = {e.dst for e in edges} - nodes.keys()
    while frontier:
        found = store.get_many(sorted(frontier))
        support.update(found)
        rels = {v.prop(name).rel_type for n in found.values()
                for name in required.get(n.label, ())}
        more = [e for e in store.links(sorted(found), sorted(r for r in rels if r))
                if v.rel(e.type).name in required.get(found[e.src].label, ())]
        edges.extend(more)
        frontier = {e.dst for e in more} - nodes.keys() - support.keys()
    return support


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
    targets outside the genealogy appear with what their shapes require (:func:`export_graph`)."""
    gen = store.genealogy([seed_iri], direction, max_depth)
    return export_graph(store, sorted(gen.nodes), vocab)


def serialize(graph: Graph, fmt: Format | str = "turtle") -> str:
    """Turtle or JSON-LD (compacted with :data:`JSONLD_CONTEXT`) text of an exported graph."""
    if fmt == "turtle":
        return graph.serialize(format="turtle")
    if fmt == "json-ld":
        return graph.serialize(format="json-ld", context=dict(JSONLD_CONTEXT), auto_compact=True)
    raise ValueError(f"unsupported RDF format {fmt!r}: use 'turtle' or 'json-ld'")
