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
from ontology import codegen, codes
from ontology.terms import C, P, R
from ontology.vocab import UnknownTermError, Vocabulary


def test_generated_terms_match_the_ontology(vocab: Vocabulary) -> None:
    assert codegen.TERMS_PATH.read_text() == codegen.render(vocab), \
        "ontology/terms.py is stale: run `python -m ontology.codegen`"
    assert {c.value for c in C} == set(vocab.classes)
    assert {r.value for r in R} == set(vocab.relationship_types)
    assert {p.value for p in P} == set(vocab.properties)


def test_generated_code_lists_match_the_ontology(vocab: Vocabulary) -> None:
    assert codegen.CODES_PATH.read_text() == codegen.render_codes(vocab), \
        "ontology/codes.py is stale: run `python -m ontology.codegen`"
    assert codegen.CODES_JS_PATH.read_text() == codegen.render_codes_js(vocab), \
        "api/explorer/js/codes.js is stale: run `python -m ontology.codegen`"


def test_generated_write_authority_matches_the_ontology(vocab: Vocabulary) -> None:
    """ontology/authority.py is the ontology's write-authority table, rendered fresh."""
    from ontology import authority

    assert codegen.AUTHORITY_PATH.read_text() == codegen.render_authority(vocab), \
        "ontology/authority.py is stale: run `python -m ontology.codegen`"
    a = vocab.authority
    assert set(authority.ASSERTED_BY) == set(vocab.classes)
    assert {k: set(v) for k, v in authority.CHANGED_BY.items()} == \
        {k: set(v) for k, v in a.changed_by.items()}
    # the attacks of issue 14 are closed by the table itself
    assert authority.ASSERTED_BY["User"] == authority.ASSERTED_BY["Role"] == frozenset()
    assert "operator" not in authority.ASSERTED_BY["Hold"] | authority.ASSERTED_BY["Deviation"]
    assert "Released" not in authority.CAPTURE_VALUES["batchStatus"]
    assert {"batchStatus", "holdState", "hasRole", "roleName", "accountStatus",
            "changeState", "deviationState"} <= set(authority.CHANGED_BY)


def test_readme_who_may_change_what_is_the_ontologys_table(vocab: Vocabulary) -> None:
    """The README's "Who may change what" section is rendered from the write-authority table."""
    text = codegen.README_PATH.read_text()
    assert codegen.write_readme_section(vocab) == text, \
        "README 'Who may change what' is stale: run `python -m ontology.codegen`"
    section = text[text.index(codegen.README_BEGIN):text.index(codegen.README_END)]
    for prop, cmds in vocab.authority.changed_by.items():
        assert f"| `{prop}` | {', '.join(sorted(cmds))} |" in section
    [command_only] = [r for r in section.splitlines() if r.startswith("| none: workflow")]
    assert {"User", "Role", "Hold", "Deviation", "ReleaseDecision"} <= \
        set(command_only.split("|")[2].replace(",", " ").split())


def test_every_scheme_has_an_enum_and_every_concept_a_member(vocab: Vocabulary) -> None:
    from rdflib import RDF, SKOS

    g = vocab.graph
    schemes = {str(s).rsplit("#", 1)[-1] for s in g.subjects(RDF.type, SKOS.ConceptScheme)}
    assert set(codes.SCHEMES) == schemes and len(schemes) >= 39
    concepts = 0
    for s in g.subjects(RDF.type, SKOS.ConceptScheme):
        enum = codes.SCHEMES[str(s).rsplit("#", 1)[-1]]
        notations = {str(n) for c in g.subjects(SKOS.inScheme, s)
                     for n in g.objects(c, SKOS.notation)}
        assert {m.value for m in enum} == notations, enum
        assert set(codes.LABELS[enum]) == notations, enum
        assert enum.__name__ in codes.__all__ and enum.__doc__, enum
        concepts += len(notations)
    assert concepts == len(set(g.subjects(RDF.type, SKOS.Concept))) >= 182
    # every property holding a code names its enum, with the stores' values
    for p in vocab.properties.values():
        if p.code_list is not None:
            assert tuple(sorted(m.value for m in codes.CODE_LISTS[p.name])) == p.code_list
    assert set(codes.CODE_LISTS) == {p.name for p in vocab.properties.values()
                                     if p.code_list is not None}
    assert codes.label(codes.DeviationState.EFFECTIVENESS_VERIFIED) == "effectiveness verified"
    assert codes.label(codes.RoleName.QA, "zh") == "质量保证"


def test_code_sets_come_from_the_ontologys_collections(vocab: Vocabulary) -> None:
    assert {codegen.upper_snake(s.name) for s in vocab.code_sets} <= set(codes.__all__)
    for s in vocab.code_sets:
        assert getattr(codes, codegen.upper_snake(s.name)) == frozenset(s.notations), s.name
    everything = frozenset(codes.DeviationState)
    assert everything == codes.OPEN_DEVIATION_STATES | codes.CLOSED_DEVIATION_STATES
    assert not codes.OPEN_DEVIATION_STATES & codes.CLOSED_DEVIATION_STATES
    assert codes.DeviationState.EFFECTIVENESS_VERIFIED in codes.OPEN_DEVIATION_STATES
    assert codes.RELEASED_BATCH_STATUSES <= codes.CLOSED_BATCH_STATUSES


def test_typed_constants_are_closed() -> None:
    with pytest.raises(AttributeError):
        C.MaterialLott  # type: ignore[attr-defined]  # a misspelt term, on purpose  # noqa: B018


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
