"""The vocabulary derived from ``ontology/tracegraph.ttl``.

The ontology is read once; everything the stores, the shapes validator and the API need about
classes and properties is derived here. Looking up a term that the ontology does not declare raises
:class:`UnknownTermError`, so a typo never silently mints a new label or property.

>>> v = vocabulary()
>>> v.cls("MaterialLot").key_property
'lotNumber'
>>> v.prop("wasDerivedFrom").rel_type
'WAS_DERIVED_FROM'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal
from urllib.parse import quote

from rdflib import OWL, RDF, RDFS, SKOS, XSD, Graph, Namespace, URIRef
from rdflib import Literal as RDFLiteral

__all__ = [
    "TG",
    "ClassDef",
    "Code",
    "CodeList",
    "CodeSet",
    "PropertyDef",
    "UnknownTermError",
    "Vocabulary",
    "WriteAuthority",
    "load_vocabulary",
    "rel_type_of",
    "vocabulary",
]

TG = Namespace("https://w3id.org/tracegraph#")
ONTOLOGY_PATH = Path(__file__).with_name("tracegraph.ttl")
DEFAULT_INSTANCE_BASE = "https://w3id.org/tracegraph/id/"

XSD_TYPES = frozenset(
    {XSD.string, XSD.boolean, XSD.integer, XSD.decimal, XSD.double, XSD.dateTime, XSD.date,
     XSD.anyURI}
)

PropertyKind = Literal["data", "object"]


class UnknownTermError(KeyError):
    """A class, property or relationship type that the ontology does not declare."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"unknown {kind} {name!r}: not declared in ontology/tracegraph.ttl")
        self.kind = kind
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


@functools.lru_cache(maxsize=65_536)
def _quote(key: str) -> str:
    return quote(key, safe="")


def local_name(iri: URIRef | str) -> str:
    """The local name of an IRI: the part after the last ``#`` or ``/``."""
    s = str(iri)
    return re.split(r"[#/]", s)[-1]


def rel_type_of(name: str) -> str:
    """UPPER_SNAKE relationship type of an object property's local name.

    >>> rel_type_of("wasDerivedFrom")
    'WAS_DERIVED_FROM'
    >>> rel_type_of("ofProduct")
    'OF_PRODUCT'
    """
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


@dataclass(frozen=True)
class PropertyDef:
    """One property of the ontology, as the stores see it."""

    iri: URIRef
    name: str
    kind: PropertyKind
    datatype: URIRef | None
    range_class: str | None
    domains: frozenset[str]
    identifier: bool = False
    code_list: tuple[str, ...] | None = None
    edge_class: str | None = None
    label: str = ""
    secret: bool = False
    label_zh: str = ""
    rel_type: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.kind == "object":
            object.__setattr__(self, "rel_type", rel_type_of(self.name))


@dataclass(frozen=True)
class ClassDef:
    """One class of the ontology, with everything derived for it."""

    iri: URIRef
    name: str
    ancestors: tuple[str, ...]
    abstract: bool
    key_property: str | None
    label: str
    label_zh: str = ""
    data_properties: Mapping[str, PropertyDef] = field(default_factory=dict)
    object_properties: Mapping[str, PropertyDef] = field(default_factory=dict)

    @property
    def labels(self) -> tuple[str, ...]:
        """Neo4j labels: the class and all its tracegraph superclasses."""
        return (self.name, *self.ancestors)

    def is_a(self, other: str) -> bool:
        return other == self.name or other in self.ancestors

    def allows(self, prop: str) -> bool:
        return prop in self.data_properties or prop in self.object_properties


@dataclass(frozen=True)
class Code:
    """One SKOS concept of a code list: ``notation`` is the string the stores hold."""

    name: str          #: local name after the scheme prefix (``DeviationState-Open`` → ``Open``)
    notation: str
    label_en: str
    label_zh: str
    definition: str


@dataclass(frozen=True)
class CodeList:
    """One SKOS concept scheme, its concepts (sorted by notation) and the properties holding it."""

    name: str          #: scheme local name without ``Scheme`` (``DeviationStateScheme`` → …)
    scheme: str        #: scheme local name
    label_en: str
    label_zh: str
    comment: str
    properties: tuple[str, ...]
    codes: tuple[Code, ...]


@dataclass(frozen=True)
class CodeSet:
    """A ``skos:Collection`` of concepts of one scheme (``tg:OpenDeviationStates``)."""

    name: str          #: collection local name
    code_list: str     #: :attr:`CodeList.name` of the scheme its members belong to
    label_en: str
    comment: str
    notations: tuple[str, ...]


@dataclass(frozen=True)
class WriteAuthority:
    """Who may write what (``tg:assertedBy``, ``tg:commandOnly``, ``tg:changedBy``,
    ``tg:captureValue``): the roles that may assert each class through capture (empty: command
    only), the commands that alone may change each workflow-managed property, and the values of
    such a property capture may still set."""

    asserted_by: Mapping[str, frozenset[str]]
    changed_by: Mapping[str, frozenset[str]]
    capture_values: Mapping[str, frozenset[str]]

    @property
    def commands(self) -> frozenset[str]:
        return frozenset(c for cs in self.changed_by.values() for c in cs)


class Vocabulary:
    """Closed vocabulary of tracegraph: classes, properties and relationship types."""

    def __init__(self, graph: Graph, instance_base: str = DEFAULT_INSTANCE_BASE) -> None:
        self.graph = graph
        self.instance_base = instance_base
        self.properties: dict[str, PropertyDef] = {}
        self.classes: dict[str, ClassDef] = {}
        self._derive()
        self.relationship_types: dict[str, PropertyDef] = {
            p.rel_type: p for p in self.properties.values() if p.rel_type is not None
        }

    # -- lookups that raise on unknown terms ---------------------------------------------------
    def cls(self, name: str) -> ClassDef:
        try:
            return self.classes[name]
        except KeyError:
            raise UnknownTermError("class", name) from None

    def prop(self, name: str) -> PropertyDef:
        try:
            return self.properties[name]
        except KeyError:
            raise UnknownTermError("property", name) from None

    def rel(self, rel_type: str) -> PropertyDef:
        try:
            return self.relationship_types[rel_type]
        except KeyError:
            raise UnknownTermError("relationship type", rel_type) from None

    @functools.cached_property
    def identifiers(self) -> tuple[PropertyDef, ...]:
        """Datatype properties marked ``tg:identifier``: indexed by both engines."""
        return tuple(sorted((p for p in self.properties.values() if p.identifier),
                            key=lambda p: p.name))

    @functools.cached_property
    def system_managed(self) -> frozenset[str]:
        """Classes (and their subclasses) only tracegraph's own workflows may write."""
        marked = [c for c in self.classes.values() if self._bool(c.iri, TG.systemManaged)]
        return frozenset(c.name for c in self.classes.values()
                         if any(c.is_a(m.name) for m in marked))

    @functools.cached_property
    def system_managed_properties(self) -> frozenset[str]:
        """Properties only tracegraph's own workflows may write (credentials, lockout)."""
        return frozenset(p.name for p in self.properties.values()
                         if self._bool(p.iri, TG.systemManaged))

    @functools.cached_property
    def secrets(self) -> frozenset[str]:
        """Datatype properties marked ``tg:secret``: never returned, digested in the audit."""
        return frozenset(p.name for p in self.properties.values() if p.secret)

    @functools.cached_property
    def authority(self) -> WriteAuthority:
        """The write-authority table (see :class:`WriteAuthority`); the nearest class of a
        lineage stating ``tg:assertedBy`` or ``tg:commandOnly`` decides."""
        g = self.graph

        def roles(c: URIRef) -> frozenset[str] | None:
            named = {str(g.value(r, SKOS.notation)) for r in g.objects(c, TG.assertedBy)}
            if named:
                return frozenset(named)
            return frozenset() if self._bool(c, TG.commandOnly) else None

        stated = {c.name: r for c in self.classes.values() if (r := roles(c.iri)) is not None}
        asserted = {c.name: next((stated[x] for x in (c.name, *c.ancestors) if x in stated),
                                 frozenset[str]()) for c in self.classes.values()}

        def texts(p: PropertyDef, ann: URIRef) -> frozenset[str]:
            return frozenset(str(x) for x in g.objects(p.iri, ann) if isinstance(x, RDFLiteral))

        managed = {p.name: texts(p, TG.changedBy) for p in self.properties.values()}
        managed = {k: v for k, v in managed.items() if v}
        values = {p.name: texts(p, TG.captureValue) for p in self.properties.values()
                  if p.name in managed}
        return WriteAuthority(dict(sorted(asserted.items())), dict(sorted(managed.items())),
                              {k: v for k, v in sorted(values.items()) if v})

    @functools.cached_property
    def gs1_keys(self) -> Mapping[str, str]:
        """Datatype property → the GS1 Application Identifier of the key its values are
        (``tg:gs1Key``: gtin → 01, sscc → 00, gln → 414)."""
        return MappingProxyType({p.name: str(v) for p in self.properties.values()
                                 if (v := self.graph.value(p.iri, TG.gs1Key)) is not None})

    @functools.cached_property
    def derivation_joins(self) -> Mapping[str, tuple[frozenset[str], frozenset[str]]]:
        """Derivation kind (notation) → (classes its derived thing may be, classes it may be
        derived from), from ``tg:derivedClass`` / ``tg:sourceClass`` on the kind's concept;
        subclasses of a listed class fit too."""
        g = self.graph
        out: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        for concept in g.subjects(SKOS.inScheme, TG.DerivationKindScheme):
            notation = g.value(concept, SKOS.notation)
            if notation is None:
                continue
            out[str(notation)] = (
                frozenset(local_name(c) for c in g.objects(concept, TG.derivedClass)
                          if isinstance(c, URIRef)),
                frozenset(local_name(c) for c in g.objects(concept, TG.sourceClass)
                          if isinstance(c, URIRef)))
        return MappingProxyType(out)

    @functools.cached_property
    def stored_classes(self) -> tuple[ClassDef, ...]:
        return tuple(c for c in self.classes.values() if not c.abstract)

    @functools.cached_property
    def code_lists(self) -> tuple[CodeList, ...]:
        """Every SKOS concept scheme with its concepts, sorted by name."""
        g = self.graph
        out = []
        for scheme in sorted(s for s in g.subjects(RDF.type, SKOS.ConceptScheme)
                             if isinstance(s, URIRef)):
            codes = sorted((self._code(c) for c in set(g.subjects(SKOS.inScheme, scheme))
                            if isinstance(c, URIRef)), key=lambda c: c.notation)
            props = sorted(p.name for p in self.properties.values()
                           if g.value(p.iri, TG.codeList) == scheme)
            name = local_name(scheme)
            out.append(CodeList(name.removesuffix("Scheme"), name, self._label(scheme),
                                self._text(scheme, RDFS.label, "zh"),
                                self._text(scheme, RDFS.comment), tuple(props), tuple(codes)))
        return tuple(out)

    @functools.cached_property
    def code_sets(self) -> tuple[CodeSet, ...]:
        """Every ``skos:Collection`` of concepts, sorted by name; its members must all belong to
        one scheme (else :class:`ValueError`)."""
        g = self.graph
        scheme_of = {str(s): local_name(str(s)).removesuffix("Scheme")
                     for s in g.subjects(RDF.type, SKOS.ConceptScheme)}
        out = []
        for coll in sorted(c for c in g.subjects(RDF.type, SKOS.Collection)
                           if isinstance(c, URIRef)):
            members = [m for m in g.objects(coll, SKOS.member) if isinstance(m, URIRef)]
            lists = {scheme_of.get(str(g.value(m, SKOS.inScheme))) for m in members}
            if len(lists) != 1 or None in lists:
                raise ValueError(f"{coll}: members must be concepts of one scheme, got {lists}")
            out.append(CodeSet(local_name(coll), str(lists.pop()), self._label(coll),
                               self._text(coll, RDFS.comment),
                               tuple(sorted(str(g.value(m, SKOS.notation)) for m in members))))
        return tuple(out)

    def edge_properties(self, rel_type: str) -> Mapping[str, PropertyDef]:
        """Datatype properties that may sit on a relationship of this type."""
        prop = self.rel(rel_type)
        if prop.edge_class is None:
            return {}
        return self.cls(prop.edge_class).data_properties

    def subclasses_of(self, name: str) -> tuple[str, ...]:
        """The class and every class below it."""
        self.cls(name)
        return tuple(c.name for c in self.classes.values() if c.is_a(name))

    def mint_iri(self, class_name: str, key: str) -> str:
        """Stable IRI of a node from its class and business key.

        >>> vocabulary().mint_iri("MaterialLot", "RL 001")
        'https://w3id.org/tracegraph/id/MaterialLot/RL%20001'
        """
        if class_name not in self.classes:
            self.cls(class_name)
        return f"{self.instance_base}{class_name}/{_quote(key)}"

    # -- derivation ---------------------------------------------------------------------------
    def _tg_classes(self) -> list[URIRef]:
        g = self.graph
        return sorted(
            c for c in set(g.subjects(RDF.type, OWL.Class))
            if isinstance(c, URIRef) and str(c).startswith(str(TG))
        )

    def _ancestors(self, c: URIRef) -> tuple[str, ...]:
        seen: list[str] = []
        frontier = [c]
        while frontier:
            nxt: list[URIRef] = []
            for x in frontier:
                for sup in self.graph.objects(x, RDFS.subClassOf):
                    if isinstance(sup, URIRef) and str(sup).startswith(str(TG)):
                        name = local_name(sup)
                        if name not in seen:
                            seen.append(name)
                            nxt.append(sup)
            frontier = nxt
        return tuple(seen)

    def _code_list(self, scheme: URIRef) -> tuple[str, ...]:
        g = self.graph
        notations = {
            str(n) for c in g.subjects(SKOS.inScheme, scheme) for n in g.objects(c, SKOS.notation)
        }
        return tuple(sorted(notations))

    def _bool(self, s: URIRef, p: URIRef) -> bool:
        v = self.graph.value(s, p)
        return isinstance(v, RDFLiteral) and bool(v.toPython())

    def _label(self, s: URIRef) -> str:
        for lab in self.graph.objects(s, RDFS.label):
            if isinstance(lab, RDFLiteral) and lab.language in (None, "en"):
                return str(lab)
        return local_name(s)

    def _text(self, s: URIRef, p: URIRef, lang: str = "en") -> str:
        """The ``lang`` literal of ``s p``, or ``""``."""
        return next((str(x) for x in self.graph.objects(s, p)
                     if isinstance(x, RDFLiteral) and x.language == lang), "")

    def _code(self, concept: URIRef) -> Code:
        return Code(local_name(concept).split("-", 1)[-1],
                    str(self.graph.value(concept, SKOS.notation)),
                    self._text(concept, SKOS.prefLabel), self._text(concept, SKOS.prefLabel, "zh"),
                    self._text(concept, SKOS.definition))

    def _derive(self) -> None:
        g = self.graph
        for kind, rdf_type in (("data", OWL.DatatypeProperty), ("object", OWL.ObjectProperty)):
            subjects = {p for p in g.subjects(RDF.type, rdf_type) if isinstance(p, URIRef)}
            for p in sorted(subjects):
                name = local_name(p)
                domains = {local_name(d) for d in g.objects(p, RDFS.domain)
                           if isinstance(d, URIRef)}
                domains |= {local_name(d) for d in g.objects(p, TG.domainIncludes)
                            if isinstance(d, URIRef)}
                ranges = [r for r in g.objects(p, RDFS.range) if isinstance(r, URIRef)]
                ranges += [r for r in g.objects(p, TG.rangeIncludes) if isinstance(r, URIRef)]
                scheme = g.value(p, TG.codeList)
                edge_class = g.value(p, TG.edgeClass)
                datatype = ranges[0] if kind == "data" and ranges else None
                range_class = local_name(ranges[0]) if kind == "object" and ranges else None
                self.properties[name] = PropertyDef(
                    iri=p,
                    name=name,
                    kind="data" if kind == "data" else "object",
                    datatype=datatype,
                    range_class=range_class,
                    domains=frozenset(domains),
                    identifier=self._bool(p, TG.identifier),
                    code_list=self._code_list(scheme) if isinstance(scheme, URIRef) else None,
                    edge_class=local_name(edge_class) if isinstance(edge_class, URIRef) else None,
                    label=self._label(p),
                    secret=self._bool(p, TG.secret),
                    label_zh=self._text(p, RDFS.label, "zh"),
                )
        key_of: dict[str, str | None] = {}
        for c in self._tg_classes():
            kp = g.value(c, TG.keyProperty)
            key_of[local_name(c)] = local_name(kp) if isinstance(kp, URIRef) else None
        for c in self._tg_classes():
            name = local_name(c)
            ancestors = self._ancestors(c)
            lineage = (name, *ancestors)
            key = next((key_of[x] for x in lineage if key_of.get(x)), None)
            data = {p.name: p for p in self.properties.values()
                    if p.kind == "data" and p.domains & set(lineage)}
            obj = {p.name: p for p in self.properties.values()
                   if p.kind == "object" and p.domains & set(lineage)}
            self.classes[name] = ClassDef(
                iri=c,
                name=name,
                ancestors=ancestors,
                abstract=self._bool(c, TG.abstract),
                key_property=key,
                label=self._label(c),
                label_zh=self._text(c, RDFS.label, "zh"),
                data_properties=dict(sorted(data.items())),
                object_properties=dict(sorted(obj.items())),
            )


def load_vocabulary(paths: Iterable[Path] = (ONTOLOGY_PATH,),
                    instance_base: str = DEFAULT_INSTANCE_BASE) -> Vocabulary:
    g = Graph()
    for p in paths:
        g.parse(p, format="turtle")
    return Vocabulary(g, instance_base)


@functools.cache
def vocabulary() -> Vocabulary:
    """The process-wide vocabulary, parsed once from ``ontology/tracegraph.ttl``."""
    return load_vocabulary()
