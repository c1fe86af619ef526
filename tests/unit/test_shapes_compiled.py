"""The compiled write-path validator gives the same report as pySHACL on every shape fixture."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import RDF, Graph, Literal, URIRef

from ontology.datatypes import StoredValue, TypeRuleError, coerce
from ontology.vocab import TG, Vocabulary, local_name, vocabulary
from shapes.validator import (
    NodeView,
    ShapesValidator,
    UnsupportedShapeError,
    reference_validate,
    shapes_graph,
    validator,
)

FIXTURES = Path(__file__).resolve().parents[2] / "shapes" / "fixtures"
CASES = sorted(FIXTURES.glob("*/*.ttl"))


def views_of(g: Graph, vocab: Vocabulary) -> list[NodeView]:
    """Read an RDF fixture as the node views the write path would validate."""
    labels: dict[str, str] = {}
    for s, o in g.subject_objects(RDF.type):
        if str(o).startswith(str(TG)) and local_name(o) in vocab.classes:
            labels[str(s)] = local_name(o)
    views = []
    for s, label in sorted(labels.items()):
        props: dict[str, StoredValue] = {}
        links: dict[str, list[tuple[str, str | None]]] = {}
        for p, o in g.predicate_objects(URIRef(s)):
            name = local_name(p)
            if p == RDF.type or name not in vocab.properties:
                continue
            if isinstance(o, Literal):
                try:
                    v: StoredValue = coerce(vocab.prop(name).datatype, str(o))
                except TypeRuleError:
                    v = str(o)
                old = props.get(name)
                props[name] = v if old is None else [*(old if isinstance(old, list) else [old]), v]  # type: ignore[list-item]  # a repeated property's values
            else:
                links.setdefault(name, []).append((str(o), labels.get(str(o))))
        views.append(NodeView(s, label, props, links))
    return views


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_compiled_validator_matches_pyshacl(case: Path) -> None:
    vocab = vocabulary()
    g = Graph().parse(case)
    want = {r.key() for r in reference_validate(g, vocab)}
    got = {r.key() for r in validator().validate(views_of(g, vocab))}
    assert got == want


def test_every_result_has_a_message() -> None:
    for case in CASES:
        g = Graph().parse(case)
        for r in validator().validate(views_of(g, vocabulary())):
            assert r.message, (case, r)


def test_a_shape_outside_the_compiled_subset_is_refused() -> None:
    g = Graph().parse(data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix tg: <https://w3id.org/tracegraph#> .
        tg:X a sh:NodeShape ; sh:targetClass tg:MaterialLot ;
          sh:property [ sh:path tg:lotNumber ; sh:or ( [ sh:minCount 1 ] ) ] .""",
                      format="turtle")
    with pytest.raises(UnsupportedShapeError, match="outside the compiled SHACL subset"):
        ShapesValidator(g, vocabulary())


def test_the_shapes_compile() -> None:
    assert len(validator().node_shapes) == len(
        set(shapes_graph().subjects(RDF.type, URIRef("http://www.w3.org/ns/shacl#NodeShape"))))
