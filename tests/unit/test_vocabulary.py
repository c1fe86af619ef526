"""What code derives from the ontology agrees with it, and unknown terms raise."""

from __future__ import annotations

import pytest

from graph.schema import (
    DERIVATION,
    KIND_PROPERTY,
    ROOT_LABEL,
    check_against,
    identifier_properties,
    neo4j_schema_statements,
)
from ontology import codegen
from ontology.terms import C, P, R
from ontology.vocab import UnknownTermError, Vocabulary


def test_generated_terms_match_the_ontology(vocab: Vocabulary) -> None:
    assert codegen.TERMS_PATH.read_text() == codegen.render(vocab), \
        "ontology/terms.py is stale: run `python -m ontology.codegen`"
    assert {c.value for c in C} == set(vocab.classes)
    assert {r.value for r in R} == set(vocab.relationship_types)
    assert {p.value for p in P} == set(vocab.properties)


def test_typed_constants_are_closed() -> None:
    with pytest.raises(AttributeError):
        C.MaterialLott  # type: ignore[attr-defined]  # noqa: B018


def test_unknown_terms_raise(vocab: Vocabulary) -> None:
    for lookup, name in ((vocab.cls, "MaterialLott"), (vocab.prop, "lotNumbr"),
                         (vocab.rel, "WAS_DERIVED")):
        with pytest.raises(UnknownTermError, match="not declared"):
            lookup(name)
    with pytest.raises(UnknownTermError):
        vocab.mint_iri("Lot", "x")


def test_store_schema_is_derived_from_the_ontology(vocab: Vocabulary) -> None:
    check_against(vocab)
    assert vocab.rel(DERIVATION).iri == __import__("rdflib").PROV.wasDerivedFrom
    assert KIND_PROPERTY in vocab.edge_properties(DERIVATION)
    idents = {p.name for p in vocab.identifiers}
    assert {"lotNumber", "serialNumber", "supplierLotNumber", "gtin", "sscc",
            "equipmentTag"} <= idents
    assert set(identifier_properties(vocab)) == idents
    stmts = "\n".join(neo4j_schema_statements(vocab))
    assert f"FOR (n:{ROOT_LABEL}) REQUIRE n.iri IS UNIQUE" in stmts
    for p in idents:
        assert f"ON (n.{p})" in stmts


def test_every_stored_class_has_a_key_and_labels_up_to_the_root(vocab: Vocabulary) -> None:
    for c in vocab.stored_classes:
        if c.name == ROOT_LABEL:
            continue
        assert c.key_property is not None, c.name
        assert c.key_property in c.data_properties, (c.name, c.key_property)
        assert c.labels[-1] == ROOT_LABEL, c.name


def test_relationship_types_are_upper_snake_of_local_names(vocab: Vocabulary) -> None:
    assert vocab.prop("wasDerivedFrom").rel_type == "WAS_DERIVED_FROM"
    assert vocab.prop("runsProcessVersion").rel_type == "RUNS_PROCESS_VERSION"
    assert len(vocab.relationship_types) == sum(
        1 for p in vocab.properties.values() if p.kind == "object")
