"""The SHACL shapes: structure, and a positive and a negative fixture per node shape (pySHACL).

Each ``shapes/fixtures/<ShapeLocalName>/`` folder holds ``valid.ttl`` (must give no result of any
severity), ``invalid.ttl`` (instances that each break one rule) and ``expected.json``, the exact
set of results pySHACL must report for ``invalid.ttl``: focus node, path, constraint component,
severity and the property shape that fired. pySHACL runs with the ontology as ``ont_graph`` (so
``sh:targetClass`` and ``sh:class`` see subclasses), ``inference="none"`` and ``advanced=False`` —
the same settings as :func:`shapes.validator.reference_validate`.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import OWL, RDF, RDFS, SKOS, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import SH
from rdflib.term import Node

ROOT = Path(__file__).resolve().parents[2]
ONTOLOGY = ROOT / "ontology" / "tracegraph.ttl"
SHAPES_DIR = ROOT / "shapes"
FIXTURES = SHAPES_DIR / "fixtures"
TG = Namespace("https://w3id.org/tracegraph#")
# An open Namespace, not rdflib.XSD: pytest probes module attributes and a closed one warns.
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
FX = "https://example.org/fixture/"
PREFIXES = {
    "tg": str(TG), "tgsh": "https://w3id.org/tracegraph/shapes#", "fx": FX,
    "sh": str(SH), "prov": "http://www.w3.org/ns/prov#", "sosa": "http://www.w3.org/ns/sosa/",
    "dcterms": "http://purl.org/dc/terms/",
}
SEVERITIES = {SH.Violation, SH.Warning, SH.Info}
XSD_RANGES = {XSD.string, XSD.boolean, XSD.integer, XSD.decimal, XSD.double, XSD.dateTime,
              XSD.date, XSD.anyURI}

# The SHACL Core subset the write-path validator compiles (shapes/README.md).
NODE_PREDICATES = {RDF.type, SH.targetClass, SH.property, SH.name, SH.description}
PROPERTY_PREDICATES = {
    RDF.type, SH.path, SH.minCount, SH.maxCount, SH.datatype, SH["class"], SH.nodeKind, SH["in"],
    SH.pattern, SH.flags, SH.minInclusive, SH.maxInclusive, SH.minExclusive, SH.maxExclusive,
    SH.minLength, SH.maxLength, SH.lessThan, SH.lessThanOrEquals, SH.hasValue, SH.severity,
    SH.message, SH.name, SH.description,
}

FOLDERS = sorted(p for p in FIXTURES.iterdir() if p.is_dir()) if FIXTURES.is_dir() else []
Result = tuple[str, str, str, str, str]  # focus, path, component, severity, source shape


@functools.cache
def ontology() -> Graph:
    return Graph().parse(ONTOLOGY, format="turtle")


@functools.cache
def shapes() -> Graph:
    g = Graph()
    for f in sorted(SHAPES_DIR.glob("*.ttl")):
        g.parse(f, format="turtle")
    return g


def expand(curie: str) -> str:
    prefix, _, local = curie.partition(":")
    return PREFIXES[prefix] + local if prefix in PREFIXES else curie


def node_shapes() -> list[URIRef]:
    return sorted(s for s in shapes().subjects(RDF.type, SH.NodeShape) if isinstance(s, URIRef))


def property_shapes() -> list[Node]:
    return sorted({p for s in node_shapes() for p in shapes().objects(s, SH.property)}, key=str)


def local(iri: Node) -> str:
    s = str(iri)
    return s.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


@functools.cache
def superclasses(c: Node) -> frozenset[Node]:
    """``c`` and all its (transitive) superclasses in the ontology."""
    out: set[Node] = {c}
    for sup in ontology().objects(c, RDFS.subClassOf):
        if isinstance(sup, URIRef):
            out |= superclasses(sup)
    return frozenset(out)


def declared_properties() -> set[URIRef]:
    g = ontology()
    return {p for t in (OWL.DatatypeProperty, OWL.ObjectProperty)
            for p in g.subjects(RDF.type, t) if isinstance(p, URIRef)}


def prop_range(p: Node | None) -> URIRef | None:
    g = ontology()
    ranges = [r for r in (*g.objects(p, RDFS.range), *g.objects(p, TG.rangeIncludes))
              if isinstance(r, URIRef)]
    return ranges[0] if len(ranges) == 1 else None


def allowed_on(p: Node, c: Node) -> bool:
    g = ontology()
    domains = set(g.objects(p, RDFS.domain)) | set(g.objects(p, TG.domainIncludes))
    return bool(domains & superclasses(c))


def report(data: Graph) -> set[Result]:
    """Every pySHACL result as (focus, path, component, severity, source shape)."""
    _, results, _ = validate(data, shacl_graph=shapes(), ont_graph=ontology(), inference="none",
                             advanced=False, allow_warnings=True, allow_infos=True)
    out: set[Result] = set()
    for r in results.subjects(RDF.type, SH.ValidationResult):
        message = results.value(r, SH.resultMessage)
        assert message is not None and str(message).strip(), f"result without a message: {r}"
        out.add((str(results.value(r, SH.focusNode)), str(results.value(r, SH.resultPath)),
                 str(results.value(r, SH.sourceConstraintComponent)),
                 str(results.value(r, SH.resultSeverity)), str(results.value(r, SH.sourceShape))))
    return out


def expected(folder: Path) -> set[Result]:
    doc = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    return {(expand(r["focus"]), expand(r["path"]), expand(r["component"]), expand(r["severity"]),
             expand(r["sourceShape"])) for r in doc["results"]}


# ------------------------------------------------------------------------------------ fixtures
@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_valid_fixture_conforms(folder: Path) -> None:
    data = Graph().parse(folder / "valid.ttl", format="turtle")
    assert report(data) == set()


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_invalid_fixture_reports_exactly_the_expected_results(folder: Path) -> None:
    data = Graph().parse(folder / "invalid.ttl", format="turtle")
    got = report(data)
    want = expected(folder)
    assert {r[:4] for r in got} == {r[:4] for r in want}
    assert got == want


def test_every_node_shape_has_a_fixture_folder() -> None:
    assert {local(s) for s in node_shapes()} == {f.name for f in FOLDERS}
    for f in FOLDERS:
        for name in ("valid.ttl", "invalid.ttl", "expected.json"):
            assert (f / name).is_file(), f / name


def test_expected_results_name_their_shape_and_target() -> None:
    for f in FOLDERS:
        doc = json.loads((f / "expected.json").read_text(encoding="utf-8"))
        shape = URIRef(expand(doc["shape"]))
        assert local(shape) == f.name
        assert shapes().value(shape, SH.targetClass) == URIRef(expand(doc["targetClass"]))
        assert doc["results"], f"{f.name}: a negative fixture must expect results"


def test_every_property_shape_fires_in_a_negative_fixture() -> None:
    fired = {r[4] for f in FOLDERS for r in expected(f)}
    silent = [str(p) for p in property_shapes() if str(p) not in fired]
    assert not silent, f"property shapes never exercised by a negative fixture: {silent}"


def test_broken_instances_are_of_the_target_class() -> None:
    for f in FOLDERS:
        target = shapes().value(URIRef(expand(json.loads(
            (f / "expected.json").read_text(encoding="utf-8"))["shape"])), SH.targetClass)
        data = Graph().parse(f / "invalid.ttl", format="turtle")
        for focus in {r[0] for r in expected(f)}:
            types = set(data.objects(URIRef(focus), RDF.type))
            assert any(target in superclasses(t) for t in types if isinstance(t, URIRef)), focus


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_fixture_instances_are_typed_example_iris(folder: Path) -> None:
    for name in ("valid.ttl", "invalid.ttl"):
        data = Graph().parse(folder / name, format="turtle")
        subjects = set(data.subjects())
        for s in subjects:
            assert str(s).startswith(FX), s
            types = [t for t in data.objects(s, RDF.type) if str(t).startswith(str(TG))]
            assert len(types) == 1, f"{s} must be typed with exactly one (most specific) tg class"
        for o in data.objects():
            # linked neighbours are typed too; fx:Unregistered-… is a deliberately unknown target
            if isinstance(o, URIRef) and str(o).startswith(FX) and "Unregistered" not in str(o):
                assert o in subjects, f"{name}: {o} is linked but not described"


# ------------------------------------------------------------------------------------ structure
def test_shapes_use_only_the_compiled_shacl_subset() -> None:
    g = shapes()
    for s in node_shapes():
        assert set(g.predicates(s)) <= NODE_PREDICATES, s
    for p in property_shapes():
        assert set(g.predicates(p)) <= PROPERTY_PREDICATES, p
        path = list(g.objects(p, SH.path))
        assert len(path) == 1 and isinstance(path[0], URIRef), f"{p}: single-IRI sh:path only"


def test_every_node_shape_targets_one_declared_class() -> None:
    classes = set(ontology().subjects(RDF.type, OWL.Class))
    for s in node_shapes():
        targets = list(shapes().objects(s, SH.targetClass))
        assert len(targets) == 1, s
        assert targets[0] in classes and str(targets[0]).startswith(str(TG)), targets[0]


def test_every_concrete_class_with_datatype_properties_has_a_node_shape() -> None:
    g = ontology()
    targeted = {shapes().value(s, SH.targetClass) for s in node_shapes()}
    datatype_props = set(g.subjects(RDF.type, OWL.DatatypeProperty))
    for c in g.subjects(RDF.type, OWL.Class):
        if not str(c).startswith(str(TG)) or g.value(c, TG.abstract) == Literal(True):
            continue
        own = [p for p in datatype_props
               if allowed_on(p, c) and p != TG.recordedAt]  # recordedAt is system-managed
        if own:
            assert c in targeted, f"{c} carries data but has no node shape"


def test_every_path_is_a_declared_property_allowed_on_the_target() -> None:
    props = declared_properties()
    for s in node_shapes():
        target = shapes().value(s, SH.targetClass)
        for p in shapes().objects(s, SH.property):
            path = shapes().value(p, SH.path)
            assert isinstance(path, URIRef) and path in props, f"{p}: undeclared sh:path {path}"
            assert target is not None and allowed_on(path, target), \
                f"{p}: {path} is not allowed on {target}"


def test_every_property_shape_has_a_message_and_one_severity() -> None:
    g = shapes()
    for p in property_shapes():
        sev = list(g.objects(p, SH.severity))
        assert len(sev) == 1 and sev[0] in SEVERITIES, p
        messages = [m for m in g.objects(p, SH.message)
                    if isinstance(m, Literal) and m.language in (None, "en") and str(m).strip()]
        assert messages, f"{p} has no English sh:message"


def test_datatypes_and_classes_agree_with_the_ontology() -> None:
    g = shapes()
    for p in property_shapes():
        path = g.value(p, SH.path)
        rng = prop_range(path)
        assert rng is not None, path
        for dt in g.objects(p, SH.datatype):
            assert dt == rng and dt in XSD_RANGES, f"{p}: sh:datatype {dt} but range {rng}"
        for c in g.objects(p, SH["class"]):
            assert rng in superclasses(c), f"{p}: sh:class {c} is not within range {rng}"


def test_every_code_list_constraint_equals_the_code_list() -> None:
    g, ont = shapes(), ontology()
    constrained: set[tuple[Node, Node | None]] = set()
    for s in node_shapes():
        for p in g.objects(s, SH.property):
            path = g.value(p, SH.path)
            for lst in g.objects(p, SH["in"]):
                values = list(Collection(g, lst))
                assert all(isinstance(v, Literal) and v.datatype is None and v.language is None
                           for v in values), f"{p}: sh:in values must be plain strings"
                scheme = ont.value(path, TG.codeList)
                assert scheme is not None, f"{p}: sh:in on {path}, which has no tg:codeList"
                notations = [str(n) for c in ont.subjects(SKOS.inScheme, scheme)
                             for n in ont.objects(c, SKOS.notation)]
                assert sorted(str(v) for v in values) == sorted(notations), p
                constrained.add((s, path))
    for s in node_shapes():
        for p in g.objects(s, SH.property):
            path = g.value(p, SH.path)
            if ont.value(path, TG.codeList) is not None:
                assert (s, path) in constrained, f"{s}: {path} is a code but has no sh:in rule"


def test_patterns_compile_and_bounds_are_typed_like_the_property() -> None:
    import re

    g = shapes()
    for p in property_shapes():
        for pat in g.objects(p, SH.pattern):
            re.compile(str(pat))
        rng = prop_range(g.value(p, SH.path))
        for pred in (SH.minInclusive, SH.maxInclusive, SH.minExclusive, SH.maxExclusive):
            for b in g.objects(p, pred):
                assert isinstance(b, Literal) and b.datatype == rng, f"{p}: {pred} {b!r}"
        for pred in (SH.lessThan, SH.lessThanOrEquals):
            for other in g.objects(p, pred):
                assert prop_range(other) == rng, f"{p}: compares with {other} of another type"
