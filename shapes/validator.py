"""SHACL validation on the write path.

The shapes in ``shapes/*.ttl`` are compiled once into plain Python checks that run on the nodes
a write touches (focus nodes) plus the classes of the nodes they link to — the neighbours the
shapes need. The compiled checks implement the SHACL Core subset the shapes use (see
shapes/README.md); a shape using anything else is refused at load time rather than silently
ignored. pySHACL over the same focus graph is the reference:
``tests/unit/test_shapes_compiled.py`` proves both give identical reports on every fixture of the
shape corpus, and :func:`reference_validate` serves audits and tools.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from rdflib import RDF, SH, XSD, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from ontology.datatypes import Scalar, StoredValue, coerce
from ontology.rdf import add_node
from ontology.vocab import Vocabulary, local_name, vocabulary

__all__ = [
    "NodeView",
    "ShapeResult",
    "ShapesValidator",
    "UnsupportedShapeError",
    "reference_validate",
    "shapes_graph",
    "validator",
]

SHAPES_DIR = Path(__file__).parent
VIOLATION, WARNING, INFO = "Violation", "Warning", "Info"


@dataclass
class NodeView:
    """The merged state of one focus node as the shapes see it."""

    iri: str
    label: str
    props: Mapping[str, StoredValue]
    links: Mapping[str, list[tuple[str, str | None]]] = field(default_factory=dict)
    _labels: dict[str, str | None] | None = field(default=None, repr=False, compare=False)

    def target_labels(self) -> dict[str, str | None]:
        """Class of each linked node, by IRI (built once per view)."""
        if self._labels is None:
            self._labels = {iri: label for targets in self.links.values()
                            for iri, label in targets}
        return self._labels


@dataclass(frozen=True, order=True)
class ShapeResult:
    """One SHACL validation result, named the way a user can act on it."""

    focus: str
    path: str
    component: str
    severity: str
    message: str
    value: str | None = None
    shape: str = ""

    def key(self) -> tuple[str, str, str, str]:
        return (self.focus, self.path, self.component, self.severity)


class UnsupportedShapeError(ValueError):
    """A shape uses a SHACL feature outside the compiled subset."""


_SUPPORTED_PROPERTY = {
    SH.path, SH.minCount, SH.maxCount, SH.datatype, SH["class"], SH.nodeKind, SH["in"],
    SH.pattern, SH.flags, SH.minInclusive, SH.maxInclusive, SH.minExclusive, SH.maxExclusive,
    SH.minLength, SH.maxLength, SH.lessThan, SH.lessThanOrEquals, SH.hasValue, SH.severity,
    SH.message, SH.name, SH.description, SH.order, SH.group, SH.deactivated, RDF.type,
}
_SUPPORTED_NODE = {SH.targetClass, SH.property, SH.severity, SH.message, SH.name,
                   SH.description, SH.deactivated, RDF.type}

Value = tuple[bool, object]  # (is_iri, python value: IRI text or stored scalar)


Runner = Callable[[Any, list[Value], "NodeView"], list[str | None]]


@dataclass(frozen=True)
class _Check:
    component: str
    arg: Any
    run: Runner


_COMPONENTS: dict[URIRef, str] = {
    SH.minCount: "MinCountConstraintComponent", SH.maxCount: "MaxCountConstraintComponent",
    SH.datatype: "DatatypeConstraintComponent", SH["class"]: "ClassConstraintComponent",
    SH.nodeKind: "NodeKindConstraintComponent", SH["in"]: "InConstraintComponent",
    SH.pattern: "PatternConstraintComponent",
    SH.minInclusive: "MinInclusiveConstraintComponent",
    SH.maxInclusive: "MaxInclusiveConstraintComponent",
    SH.minExclusive: "MinExclusiveConstraintComponent",
    SH.maxExclusive: "MaxExclusiveConstraintComponent",
    SH.minLength: "MinLengthConstraintComponent", SH.maxLength: "MaxLengthConstraintComponent",
    SH.lessThan: "LessThanConstraintComponent",
    SH.lessThanOrEquals: "LessThanOrEqualsConstraintComponent",
    SH.hasValue: "HasValueConstraintComponent",
}
_BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "MinInclusiveConstraintComponent": lambda x, b: bool(x >= b),
    "MaxInclusiveConstraintComponent": lambda x, b: bool(x <= b),
    "MinExclusiveConstraintComponent": lambda x, b: bool(x > b),
    "MaxExclusiveConstraintComponent": lambda x, b: bool(x < b),
}
_RELATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "LessThanConstraintComponent": lambda x, y: bool(x < y),
    "LessThanOrEqualsConstraintComponent": lambda x, y: bool(x <= y),
}
_LENGTHS: dict[str, Callable[[int, Any], bool]] = {
    "MinLengthConstraintComponent": lambda n, b: bool(n >= b),
    "MaxLengthConstraintComponent": lambda n, b: bool(n <= b),
}


_CONFORMS: list[str | None] = []  # shared, never mutated: a check found nothing
_NODE_LEVEL: list[str | None] = [None]  # one result about the node, without a value
_ON_EMPTY = frozenset({"MinCountConstraintComponent", "HasValueConstraintComponent"})
#: components whose result for a value depends on that value alone (sh:class: and on the class
#: of the linked node, part of the memo key), and the value types whose equal values print
#: alike (floats do not: 0.0 == -0.0)
_PER_VALUE = frozenset({"DatatypeConstraintComponent", "NodeKindConstraintComponent",
                        "InConstraintComponent", "PatternConstraintComponent",
                        "ClassConstraintComponent", *_BOUNDS, *_LENGTHS})
_MEMO_TYPES = frozenset({str, int, bool})
_CLASS = "ClassConstraintComponent"


def _term_key(t: Node) -> Value:
    if isinstance(t, Literal):
        return (False, _py(t))
    return (True, str(t))


@dataclass
class _PropertyShape:
    shape: str
    path: str
    severity: str
    message: str
    checks: list[_Check]
    on_empty: list[_Check] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.on_empty = [c for c in self.checks if c.component in _ON_EMPTY]


@dataclass
class _NodeShape:
    shape: str
    target: str
    properties: list[_PropertyShape]


def _lexical(v: Value) -> str:
    is_iri, x = v
    if is_iri or isinstance(x, str):
        return str(x)
    if isinstance(x, bool):
        return "true" if x else "false"
    return str(Literal(x))


_PY_TYPES: dict[URIRef, str] = {
    XSD.string: "str", XSD.anyURI: "str", XSD.boolean: "bool", XSD.integer: "int",
    XSD.decimal: "float", XSD.double: "float", XSD.dateTime: "dateTime", XSD.date: "date",
}
_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _typed(x: object, want: str) -> bool:
    """Does a stored scalar have the Python form of the datatype (what coercion produced)?"""
    if want == "bool":
        return isinstance(x, bool)
    if want == "int":
        return isinstance(x, int) and not isinstance(x, bool)
    if want == "float":
        return isinstance(x, (int, float)) and not isinstance(x, bool)
    if want == "dateTime":
        return isinstance(x, str) and bool(_TS.match(x))
    if want == "date":
        return isinstance(x, str) and bool(_DATE.match(x))
    return isinstance(x, str)


def _comparable(x: object, bound: object) -> bool:
    num = (int, float)
    if isinstance(x, bool) or isinstance(bound, bool):
        return False
    if isinstance(x, str) and isinstance(bound, str):  # only well-typed timestamps/dates order
        return bool((_TS.match(x) and _TS.match(bound)) or (_DATE.match(x) and _DATE.match(bound)))
    return isinstance(x, num) and isinstance(bound, num)


def _py(lit: Node) -> Scalar:
    """A shape's literal in the stored form the compiled checks compare against."""
    if not isinstance(lit, Literal):
        return str(lit)
    if lit.datatype == XSD.dateTime:
        return coerce(XSD.dateTime, str(lit))
    py = lit.toPython()
    if isinstance(py, Decimal) or (isinstance(py, (int, float)) and not isinstance(py, bool)
                                   and lit.datatype in (XSD.decimal, XSD.double, XSD.float)):
        return float(py)
    if isinstance(py, (bool, int, float, str)):
        return py
    return str(py)


class ShapesValidator:
    """Compiled shapes: ``validate(nodes)`` returns every result for those focus nodes."""

    def __init__(self, shapes: Graph, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self.graph = shapes
        self.node_shapes = [self._compile_node(s) for s in sorted(
            {s for s in shapes.subjects(RDF.type, SH.NodeShape) if isinstance(s, URIRef)})
            if not self._deactivated(s)]
        self._by_class: dict[str, list[_NodeShape]] = {}

    # -- compile ------------------------------------------------------------------------------
    def _deactivated(self, s: Node) -> bool:
        v = self.graph.value(s, SH.deactivated)
        return isinstance(v, Literal) and bool(v.toPython())

    def _unsupported(self, s: Node, allowed: set[URIRef]) -> None:
        for p in set(self.graph.predicates(s)):
            if p not in allowed:
                raise UnsupportedShapeError(
                    f"shape {s} uses {p}, outside the compiled SHACL subset (shapes/README.md)")

    def _compile_node(self, s: URIRef) -> _NodeShape:
        g = self.graph
        self._unsupported(s, _SUPPORTED_NODE)
        targets = list(g.objects(s, SH.targetClass))
        if len(targets) != 1:
            raise UnsupportedShapeError(f"node shape {s} needs exactly one sh:targetClass")
        target = local_name(str(targets[0]))
        self.vocab.cls(target)
        props = [self._compile_property(s, p) for p in g.objects(s, SH.property)
                 if not self._deactivated(p)]
        return _NodeShape(str(s), target, props)

    def _compile_property(self, node_shape: URIRef, s: Node) -> _PropertyShape:
        g = self.graph
        self._unsupported(s, _SUPPORTED_PROPERTY)
        path = g.value(s, SH.path)
        if not isinstance(path, URIRef):
            raise UnsupportedShapeError(f"{node_shape}: only single-IRI sh:path is compiled")
        name = local_name(path)
        prop = self.vocab.prop(name)
        sev = g.value(s, SH.severity) or g.value(node_shape, SH.severity) or SH.Violation
        msg = g.value(s, SH.message)
        checks: list[_Check] = []
        for pred, o in g.predicate_objects(s):
            component = _COMPONENTS.get(pred)  # type: ignore[call-overload]  # rdflib types predicates as Node; a non-URIRef key just misses
            if component is None:
                continue
            arg: object
            if pred in (SH.minCount, SH.maxCount, SH.minLength, SH.maxLength):
                arg = int(str(o))
            elif pred == SH.datatype:
                declared = prop.datatype if prop.kind == "data" else None
                same = declared == o or (declared is None and prop.kind == "data"
                                         and o == XSD.string)
                arg = _PY_TYPES.get(o) if same else None  # type: ignore[call-overload]  # rdflib types objects as Node; a non-URIRef key just misses
            elif pred == SH["class"]:
                arg = self.vocab.cls(local_name(str(o))).name
            elif pred == SH.nodeKind:
                if o not in (SH.IRI, SH.BlankNodeOrIRI, SH.Literal, SH.IRIOrLiteral):
                    raise UnsupportedShapeError(f"{node_shape}: sh:nodeKind {o} not compiled")
                arg = None if o == SH.IRIOrLiteral else o != SH.Literal
            elif pred == SH["in"]:
                arg = frozenset(_term_key(x) for x in Collection(g, o))
            elif pred == SH.pattern:
                flags = str(g.value(s, SH.flags) or "")
                arg = re.compile(str(o), re.IGNORECASE if "i" in flags else 0)
            elif pred in (SH.minInclusive, SH.maxInclusive, SH.minExclusive, SH.maxExclusive):
                arg = _py(o)
            elif pred in (SH.lessThan, SH.lessThanOrEquals):
                arg = self.vocab.prop(local_name(str(o))).name
            else:  # sh:hasValue
                arg = _term_key(o)
            checks.append(_Check(component, arg, self._runner(component)))
        message = (str(msg) if msg is not None
                   else f"{name} does not conform to {local_name(node_shape)}")
        return _PropertyShape(shape=str(node_shape), path=name,
                              severity=local_name(str(sev)), message=message, checks=checks)

    def _run(self, c: _Check, values: list[Value], node: NodeView) -> list[str | None]:
        """Values (lexical form; ``None`` for the node-level result) that violate ``c``."""
        return c.run(c.arg, values, node)

    def _runner(self, comp: str) -> Runner:
        """The check function of one constraint component (bound once, at compile time)."""

        def lex(bad: list[Value]) -> list[str | None]:
            return [_lexical(v) for v in bad] if bad else _CONFORMS

        def min_count(arg: Any, vs: list[Value], node: NodeView) -> list[str | None]:
            return _CONFORMS if len(vs) >= arg else _NODE_LEVEL

        def max_count(arg: Any, vs: list[Value], node: NodeView) -> list[str | None]:
            return _CONFORMS if len(vs) <= arg else _NODE_LEVEL

        def has_value(arg: Any, vs: list[Value], node: NodeView) -> list[str | None]:
            return _CONFORMS if any(v == arg for v in vs) else _NODE_LEVEL

        def datatype(arg: Any, vs: list[Value], node: NodeView) -> list[str | None]:
            return lex([v for v in vs if v[0] or arg is None or not _typed(v[1], arg)])

        def klass(arg: Any, vs: list[Value], node: NodeView) -> list[str | None]:
            return lex([v for v in vs if not self._is_instance(v, node, arg)])

        def node_kind(arg: Any, vs: list[Value], node: NodeView) -> list[str | None]:
            return lex([v for v in vs if arg is not None and v[0] != arg])

        def in_(arg: Any, vs: list[Value], node: NodeView) -> list[str | None]:
            return lex([v for v in vs if v not in arg])

        def pattern(arg: Any, vs: list[Value], node: NodeView) -> list[str | None]:
            return lex([v for v in vs if not arg.search(_lexical(v))])

        def bound(arg: Any, vs: list[Value], node: NodeView) -> list[str | None]:
            op = _BOUNDS[comp]
            return lex([v for v in vs
                        if v[0] or not _comparable(v[1], arg) or not op(v[1], arg)])

        def length(arg: Any, vs: list[Value], node: NodeView) -> list[str | None]:
            op = _LENGTHS[comp]
            return lex([v for v in vs if not op(len(_lexical(v)), arg)])

        def relation(arg: Any, vs: list[Value], node: NodeView) -> list[str | None]:
            op = _RELATIONS[comp]
            others = self._values(node, arg)
            return lex([v for v in vs if any(
                v[0] or w[0] or not _comparable(v[1], w[1]) or not op(v[1], w[1])
                for w in others)])

        fixed: dict[str, Runner] = {
            "MinCountConstraintComponent": min_count, "MaxCountConstraintComponent": max_count,
            "HasValueConstraintComponent": has_value, "DatatypeConstraintComponent": datatype,
            "ClassConstraintComponent": klass, "NodeKindConstraintComponent": node_kind,
            "InConstraintComponent": in_, "PatternConstraintComponent": pattern,
        }
        if comp in fixed:
            return fixed[comp]
        if comp in _BOUNDS:
            return bound
        if comp in _LENGTHS:
            return length
        return relation

    # -- values -------------------------------------------------------------------------------
    @staticmethod
    def _values(node: NodeView, name: str) -> list[Value]:
        raw = node.props.get(name)
        if raw is not None:
            return [(False, x) for x in raw] if isinstance(raw, list) else [(False, raw)]
        links = node.links.get(name)
        return [(True, iri) for iri, _ in links] if links else []

    def _is_instance(self, v: Value, node: NodeView, cls: str) -> bool:
        if not v[0]:
            return False
        label = node.target_labels().get(str(v[1]))
        return label is not None and label in self.vocab.classes and \
            self.vocab.classes[label].is_a(cls)

    # -- run ----------------------------------------------------------------------------------
    def shapes_for(self, label: str) -> list[_NodeShape]:
        if label not in self._by_class:
            c = self.vocab.cls(label)
            self._by_class[label] = [s for s in self.node_shapes if c.is_a(s.target)]
        return self._by_class[label]

    def validate(self, nodes: Iterable[NodeView]) -> list[ShapeResult]:
        out: list[ShapeResult] = []
        # a check that reads only its value gives the same answer for the same value: a batch
        # writes the same status, unit, GTIN or batch link on thousands of nodes
        memo: dict[tuple[int, type, Value, str | None], list[str | None]] = {}
        for node in nodes:
            cache: dict[str, list[Value]] = {}
            for ns in self.shapes_for(node.label):
                for ps in ns.properties:
                    values = cache.get(ps.path)
                    if values is None:
                        values = cache[ps.path] = self._values(node, ps.path)
                    # with no value only a minimum count or a required value can fail
                    for check in ps.checks if values else ps.on_empty:
                        if check.component in _PER_VALUE and len(values) == 1 and \
                                type(values[0][1]) in _MEMO_TYPES:
                            v = values[0]
                            k = (id(check), type(v[1]), v,
                                 node.target_labels().get(str(v[1])) if v[0] and
                                 check.component == _CLASS else None)
                            found = memo.get(k)
                            if found is None:
                                found = memo[k] = self._run(check, values, node)
                        else:
                            found = self._run(check, values, node)
                        for value in found:
                            out.append(ShapeResult(node.iri, ps.path, check.component,
                                                   ps.severity, ps.message, value, ps.shape))
        return out


def shape_files() -> list[Path]:
    return sorted(SHAPES_DIR.glob("*.ttl"))


@functools.cache
def shapes_graph() -> Graph:
    g = Graph()
    for f in shape_files():
        g.parse(f, format="turtle")
    return g


@functools.cache
def validator() -> ShapesValidator:
    """The process-wide compiled validator over ``shapes/*.ttl``."""
    return ShapesValidator(shapes_graph(), vocabulary())


def nodes_graph(nodes: Iterable[NodeView], vocab: Vocabulary) -> Graph:
    g = Graph()
    for n in nodes:
        add_node(g, vocab, n.iri, n.label, n.props, n.links)
    return g


def reference_validate(data: Graph, vocab: Vocabulary | None = None,
                       shapes: Graph | None = None) -> list[ShapeResult]:
    """Validate an RDF graph with pySHACL (inference off, the ontology as ``ont_graph``)."""
    from pyshacl import validate

    v = vocab or vocabulary()
    _, report, _ = validate(data, shacl_graph=shapes if shapes is not None else shapes_graph(),
                            ont_graph=v.graph, inference="none", advanced=False,
                            allow_warnings=True)
    out: list[ShapeResult] = []
    for r in report.subjects(RDF.type, SH.ValidationResult):
        path = report.value(r, SH.resultPath)
        value = report.value(r, SH.value)
        out.append(ShapeResult(
            focus=str(report.value(r, SH.focusNode)),
            path=local_name(path) if path is not None else "",
            component=local_name(report.value(r, SH.sourceConstraintComponent)),
            severity=local_name(report.value(r, SH.resultSeverity)),
            message=str(report.value(r, SH.resultMessage) or ""),
            value=None if value is None else str(value),
        ))
    return out


__all__ += ["nodes_graph", "shape_files"]
