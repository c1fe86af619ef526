"""Import RDF in the tracegraph ontology (as :mod:`graph.rdf_export` writes it) as one
``tracegraph.capture/1`` document, written through the session's ``capture`` (a
:class:`CapturingSession`: the runtime's one capture path) like any capture.

- A *node* is a subject typed with a stored ``tg:`` class that carries its class's business key
  (the value of the class's ``tg:keyProperty``); a typed subject without a key is only a reference
  (it must exist in the target store or in the same document).
- Datatype values are passed as their lexical forms (the capture path coerces them by the
  ontology's ranges); object properties become links; ``prov:wasDerivedFrom`` is taken from the
  qualified ``tg:Derivation`` nodes (kind, quantity, unit, time, execution), never as a plain link.
- Properties and classes tracegraph keeps itself (``tg:systemManaged``: record versions, audit,
  version numbers, credentials) are skipped: the target store derives them again.
- Event ids are deterministic: derivations that carry their ``tg:edgeId`` (``<event>#<index>``)
  and form a complete event are replayed under their original event id, so edge ids and the
  qualified Consumption records come back identical; node upserts go in one event named
  ``<prefix>:nodes:<digest of content>``, other derivations in ``<prefix>:derivations:<digest>``.
  Re-importing the same graph into the same store therefore writes nothing.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

import orjson
from rdflib import PROV, RDF, Graph, Literal, URIRef
from rdflib.term import Node

from graph.authority import Migration, Principal
from graph.errors import Problem, WriteRejectedError
from graph.model import Direction
from graph.schema import DERIVATION, NODE_SYSTEM_PROPS
from graph.session import Session
from graph.write import WriteResult
from ingest.capture import FORMAT
from ontology.vocab import TG, PropertyDef, Vocabulary, vocabulary

__all__ = ["CapturingSession", "import_graph", "to_capture_document"]

REASON = "RDF import"
_DERIVATION_FIELDS = {"quantity": "quantity", "unitCode": "unit", "atTime": "time",
                      "viaActivity": "execution"}


def _problem(rule: str, focus: Node | str, message: str, field: str | None = "",
             value: Any = None) -> Problem:
    return Problem(rule=rule, focus=str(focus), field=field or "", value=value, message=message)


class _Reader:
    def __init__(self, g: Graph, vocab: Vocabulary) -> None:
        self.g = g
        self.vocab = vocab
        self.by_iri: dict[URIRef, PropertyDef] = {p.iri: p for p in vocab.properties.values()}
        self.class_by_iri = {c.iri: c.name for c in vocab.classes.values()}
        self.problems: list[Problem] = []
        self.cls: dict[Node, str] = {}  # subject → tracegraph class (most specific)
        self.key: dict[Node, str] = {}  # described subjects → business key

    def classify(self) -> None:
        tg = str(TG)
        for s in sorted(set(self.g.subjects(RDF.type, None)), key=str):
            found: list[str] = []
            for t in self.g.objects(s, RDF.type):
                if not isinstance(t, URIRef) or not str(t).startswith(tg):
                    continue  # reused vocabularies' types (prov:Entity …) carry no data here
                name = self.class_by_iri.get(t)
                if name is None:
                    self.problems.append(_problem(
                        "ontology-unknown-term", s, f"class {t} is not declared in "
                        "ontology/tracegraph.ttl", "rdf:type", str(t)))
                    continue
                found.append(name)
            if not found or "Derivation" in found:
                continue
            specific = [c for c in found
                        if all(self.vocab.cls(c).is_a(o) for o in found)]
            if not specific:
                self.problems.append(_problem(
                    "ontology-class", s, f"typed with unrelated classes {sorted(found)}: a node "
                    "has one class", "rdf:type", sorted(found)))
                continue
            self.cls[s] = specific[0]
        for s, name in self.cls.items():
            c = self.vocab.cls(name)
            if name in self.vocab.system_managed:
                continue
            kp = self.vocab.prop(c.key_property) if c.key_property else None
            keys = [o for o in self.g.objects(s, kp.iri)] if kp else []
            described = any(p != RDF.type for p in self.g.predicates(s, None))
            if not keys:
                if described:
                    rule = "ontology-abstract" if c.abstract else "business-key"
                    self.problems.append(_problem(
                        rule, s, f"{s} is a {name} with data but no business key "
                        f"({c.key_property or 'abstract class'})", c.key_property))
                continue
            if c.abstract:
                self.problems.append(_problem(
                    "ontology-abstract", s, f"{name} is abstract: use a concrete subclass",
                    "rdf:type", name))
                continue
            if len(keys) > 1:
                self.problems.append(_problem(
                    "business-key", s, f"{s} has {len(keys)} values of key {kp.name if kp else ''}",
                    c.key_property, sorted(str(k) for k in keys)))
                continue
            self.key[s] = str(keys[0])

    def ref(self, o: Node) -> str:
        """Reference of a link target: the minted IRI of a node in the graph, else its IRI."""
        if o in self.key:
            return self.vocab.mint_iri(self.cls[o], self.key[o])
        return str(o)

    def prop(self, s: Node, p: Node) -> PropertyDef | None:
        d = self.by_iri.get(p) if isinstance(p, URIRef) else None
        if d is None:
            self.problems.append(_problem(
                "ontology-unknown-term", s, f"property {p} is not declared in "
                "ontology/tracegraph.ttl", str(p)))
        return d

    def node(self, s: Node) -> dict[str, Any]:
        name = self.cls[s]
        props: dict[str, list[str]] = {}
        links: dict[str, list[str]] = {}
        for p, o in self.g.predicate_objects(s):
            if p in (RDF.type, PROV.qualifiedDerivation):
                continue
            d = self.prop(s, p)
            if d is None or d.name in self.vocab.system_managed_properties \
                    or d.name in NODE_SYSTEM_PROPS:
                continue
            if d.kind == "data":
                if not isinstance(o, Literal):
                    self.problems.append(_problem(
                        "datatype", s, f"{d.name} is a datatype property: its value must be a "
                        "literal", str(p), str(o)))
                    continue
                props.setdefault(d.name, []).append(str(o))
            else:
                if d.rel_type == DERIVATION:
                    continue  # from the qualified derivations
                target_cls = self.cls.get(o)
                if target_cls in self.vocab.system_managed:
                    continue  # prior versions, signatures …: kept by tracegraph itself
                if not isinstance(o, URIRef):
                    self.problems.append(_problem(
                        "reference", s, f"{d.name} must point to a node IRI", str(p), str(o)))
                    continue
                links.setdefault(d.name, []).append(self.ref(o))
        out: dict[str, Any] = {"class": name, "key": self.key[s]}
        if props:
            out["properties"] = {k: v[0] if len(v) == 1 else sorted(v)
                                 for k, v in sorted(props.items())}
        if links:
            out["links"] = {k: v[0] if len(v) == 1 else sorted(set(v))
                            for k, v in sorted(links.items())}
        return out

    def derivations(self) -> list[tuple[str | None, dict[str, Any]]]:
        """``(edge id, capture derivation)`` of every qualified derivation in the graph."""
        out: list[tuple[str | None, dict[str, Any]]] = []
        edge_props = self.vocab.edge_properties(DERIVATION)
        qualified: set[tuple[Node, Node]] = set()
        for s, q in sorted(self.g.subject_objects(PROV.qualifiedDerivation), key=str):
            entity = self.g.value(q, PROV.entity)
            if entity is None:
                self.problems.append(_problem(
                    "derivation", q, "a qualified derivation needs prov:entity (its source)",
                    "prov:entity"))
                continue
            qualified.add((s, entity))
            d: dict[str, Any] = {"output": self.ref(s), "input": self.ref(entity)}
            eid: str | None = None
            for p, o in self.g.predicate_objects(q):
                if p in (RDF.type, PROV.entity):
                    continue
                pd = self.prop(q, p)
                if pd is None:
                    continue
                if pd.name not in edge_props:
                    self.problems.append(_problem(
                        "ontology-domain", q, f"{pd.name} is not a property of a derivation",
                        str(p), str(o)))
                    continue
                value = o.toPython() if isinstance(o, Literal) else o
                if pd.name == "derivationKind":
                    d["kind"] = str(o)
                elif pd.name == "edgeId":
                    eid = str(o)
                elif pd.name == "quantity":
                    try:
                        d["quantity"] = float(value)  # type: ignore[arg-type]  # any literal may come in; float() failing is handled below
                    except (TypeError, ValueError):
                        self.problems.append(_problem(
                            "datatype:xsd:decimal", q, "quantity must be a number", str(p),
                            str(o)))
                elif pd.name in _DERIVATION_FIELDS:
                    field = _DERIVATION_FIELDS[pd.name]
                    d[field] = self.ref(URIRef(str(o))) if field == "execution" else str(o)
            if "kind" not in d:
                self.problems.append(_problem(
                    "derivation", q, "a qualified derivation needs tg:derivationKind",
                    "derivationKind"))
                continue
            out.append((eid, d))
        derived = self.vocab.prop("wasDerivedFrom").iri
        for s, o in self.g.subject_objects(derived):
            if (s, o) not in qualified:
                self.problems.append(_problem(
                    "derivation", s, f"prov:wasDerivedFrom {o} has no qualified tg:Derivation "
                    "(its kind, quantity and time are needed)", "wasDerivedFrom", str(o)))
        return out


def _digest(body: object) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:20]


def _ordered(nodes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Nodes with link targets first (depth-first, IRI order; cycles keep IRI order)."""
    done: set[str] = set()
    out: list[dict[str, Any]] = []
    for start in sorted(nodes):
        stack: list[tuple[str, bool]] = [(start, False)]
        while stack:
            iri, expanded = stack.pop()
            if iri in done:
                continue
            if expanded:
                done.add(iri)
                out.append(nodes[iri])
                continue
            stack.append((iri, True))
            targets: list[str] = []
            for refs in nodes[iri].get("links", {}).values():
                targets.extend([refs] if isinstance(refs, str) else refs)
            for t in sorted(set(targets), reverse=True):
                if t in nodes and t not in done and t != iri and \
                        all(x != t for x, _ in stack):
                    stack.append((t, False))
    return out


def to_capture_document(graph: Graph, vocab: Vocabulary | None = None,
                        event_prefix: str = "rdf") -> dict[str, Any]:
    """One ``tracegraph.capture/1`` document holding every node and derivation of ``graph``.

    Raises :class:`WriteRejectedError` naming the IRI and the rule of every term the ontology
    does not declare, node without a business key, or derivation without its kind.
    """
    v = vocab or vocabulary()
    r = _Reader(graph, v)
    r.classify()
    nodes = {v.mint_iri(r.cls[s], k): r.node(s) for s, k in r.key.items()}
    derivations = r.derivations()
    if r.problems:
        raise WriteRejectedError(r.problems)

    events: list[dict[str, Any]] = []
    ordered = _ordered(nodes)
    if ordered:
        events.append({"eventId": f"{event_prefix}:nodes:{_digest(ordered)}", "reason": REASON,
                       "nodes": ordered})
    groups: dict[str, dict[int, dict[str, Any]]] = {}
    loose: list[dict[str, Any]] = []
    for eid, d in derivations:
        ev, sep, idx = (eid or "").rpartition("#")
        if sep and ev and idx.isdigit() and len(ev) <= 200 and \
                int(idx) not in groups.setdefault(ev, {}):
            groups[ev][int(idx)] = d
        else:
            loose.append(d)
    for ev, by_index in sorted(groups.items()):
        if not by_index:
            continue
        if sorted(by_index) == list(range(len(by_index))):
            events.append({"eventId": ev, "reason": REASON,
                           "derivations": [by_index[i] for i in range(len(by_index))]})
        else:
            loose.extend(by_index[i] for i in sorted(by_index))
    if loose:
        loose.sort(key=lambda d: orjson.dumps(d, option=orjson.OPT_SORT_KEYS))
        events.append({"eventId": f"{event_prefix}:derivations:{_digest(loose)}",
                       "reason": REASON, "derivations": loose})
    return {"format": FORMAT, "source": "rdf", "events": events}


class CapturingSession(Session, Protocol):
    """A session that also captures documents (the runtime parses, validates and writes them
    with its configured default actor)."""

    def capture(self, document: dict[str, Any], actor: str | None = None,
                dry_run: bool = False, principal: Principal | None = None,
                migration: Migration | None = None) -> WriteResult: ...


def import_graph(runtime: CapturingSession, graph: Graph, event_prefix: str = "rdf",
                 actor: str | None = None, principal: Principal | None = None,
                 migration: Migration | None = None) -> WriteResult:
    """Capture ``graph`` into ``runtime``'s store (one transaction), as ``principal`` or the
    system loader; records in later states (an export of another store) need a ``migration``.

    Derivation events whose id the store already knows and whose edges it already holds (e.g.
    the graph was exported from this very store) are left out, so importing an export back into
    its source writes nothing new instead of clashing with the original events.
    """
    doc = to_capture_document(graph, runtime.vocab, event_prefix)
    store = runtime.store
    ids = [ev["eventId"] for ev in doc["events"] if "derivations" in ev and "nodes" not in ev]
    known = store.events(ids)
    if known:
        keep: list[dict[str, Any]] = []
        for ev in doc["events"]:
            eid = ev["eventId"]
            if eid in known and "nodes" not in ev and _held(store, runtime.vocab, ev):
                continue
            keep.append(ev)
        doc["events"] = keep
    return runtime.capture(doc, actor=actor, principal=principal, migration=migration)


def _held(store: Any, vocab: Vocabulary, ev: dict[str, Any]) -> bool:
    outputs = sorted({_iri(vocab, d["output"]) for d in ev["derivations"]})
    have = {e.eid for e in store.links(outputs, [DERIVATION], Direction.UPSTREAM)}
    return all(f"{ev['eventId']}#{i}" in have for i in range(len(ev["derivations"])))


def _iri(vocab: Vocabulary, ref: str) -> str:
    if "://" in ref or ref.startswith("urn:"):
        return ref
    cls, _, key = ref.partition("/")
    return vocab.mint_iri(cls, key)
