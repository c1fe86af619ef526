"""``tracegraph migrate plan``: everything a mapping names is checked against the ontology before
a row is read, and each defect is a structured problem (field, value, rule)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.migration import MappingError, load_mapping, plan_problems
from ingest.migration.rows import build_events
from ontology.vocab import Vocabulary

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "migration"


def _mapping(tmp_path: Path, text: str, name: str = "m.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _rules(tmp_path: Path, vocab: Vocabulary, text: str) -> set[tuple[str, str, object]]:
    m = load_mapping(_mapping(tmp_path, text))
    return {(p.rule, p.field, p.value) for p in plan_problems(m, vocab)}


@pytest.mark.parametrize("example", ["erp-batches", "odoo-stock-move-line"])
def test_the_examples_plan_clean(vocab: Vocabulary, example: str) -> None:
    m = load_mapping(EXAMPLES / example / "mapping.toml")
    src = next(p for p in (EXAMPLES / example).iterdir() if p.suffix == ".csv")
    header = set(src.read_text().splitlines()[0].split(","))
    assert plan_problems(m, vocab, header) == []


def test_unknown_terms_are_named(tmp_path: Path, vocab: Vocabulary) -> None:
    found = _rules(tmp_path, vocab, """
[[records]]
class = "Batchh"
key = "{B}"
[[records]]
class = "Batch"
key = "{B}"
properties.colour = "{C}"
properties.name = "{N}"
properties.batchStatus = { column = "S", codes = "st" }
links.ofProductt = "Product/{P}"
links.ofProduct = "Material/{P}"
[codes.st]
R = "Releasd"
""")
    assert ("ontology-unknown-term", "records.0.class", "Batchh") in found
    assert ("ontology-unknown-term", "records.1.properties.colour", "colour") in found
    assert ("ontology-domain", "records.1.properties.name", "name") in found  # not of a Batch
    assert ("code-list", "codes.st.R", "Releasd") in found
    assert ("ontology-unknown-term", "records.1.links.ofProductt", "ofProductt") in found
    assert ("ontology-range", "records.1.links.ofProduct", "Material") in found
    assert len(found) == 6


def test_units_and_constant_codes_are_checked(tmp_path: Path, vocab: Vocabulary) -> None:
    found = _rules(tmp_path, vocab, """
[[records]]
class = "Batch"
key = "{B}"
properties.quantity = { column = "Q", unit_column = "U", unit = "{pc}" }
properties.batchStatus = "Done"
properties.gtin = { column = "G", unit = "kg" }
[[derivations]]
kind = "melting"
output = "Batch/{B}"
input = "MaterialLot/{L}"
[units]
KG = "kilogramm"
""")
    assert {r for r, *_ in found} == {"unit", "code-list", "code-list:derivationKind"}
    assert ("code-list", "records.0.properties.batchStatus", "Done") in found
    assert ("unit", "units.KG", "kilogramm") in found
    assert ("unit", "records.0.properties.gtin.unit", "kg") in found  # gtin is no number


@pytest.mark.parametrize(("prop", "rule"), [
    ("migrated", "system-managed-property"), ("migrationStage", "system-managed-property"),
    ("versionNumber", "system-managed-property"), ("recordedAt", "system-property")])
def test_a_mapping_cannot_set_what_the_writer_keeps(tmp_path: Path, vocab: Vocabulary,
                                                    prop: str, rule: str) -> None:
    found = _rules(tmp_path, vocab, f"""
[[records]]
class = "Batch"
key = "{{B}}"
properties.{prop} = "{{X}}"
""")
    assert found == {(rule, f"records.0.properties.{prop}", prop)}


def test_a_mapping_cannot_write_signatures_or_the_audit_trail(tmp_path: Path,
                                                              vocab: Vocabulary) -> None:
    found = _rules(tmp_path, vocab, """
[[records]]
class = "ElectronicSignature"
key = "{S}"
[[records]]
class = "AuditEvent"
key = "{U}"
""")
    assert {(r, f) for r, f, _ in found} >= {("system-managed-class", "records.0.class"),
                                             ("system-managed-class", "records.1.class")}


def test_missing_columns_are_named(tmp_path: Path, vocab: Vocabulary) -> None:
    m = load_mapping(EXAMPLES / "erp-batches" / "mapping.toml")
    problems = plan_problems(m, vocab, {"BATCH_NO", "ITEM", "QTY"})
    assert {p.value for p in problems if p.rule == "source-column"} == {
        "GTIN", "ROUTING", "UOM", "STATUS", "MFG_DATE", "EXP_DATE"}


def test_yaml_mappings_read_as_toml_ones(tmp_path: Path, vocab: Vocabulary) -> None:
    y = _mapping(tmp_path, """
records:
  - class: Batch
    key: "{B}"
    properties:
      quantity: {column: Q, unit_column: U, unit: "{pc}"}
      unitCode: {value: "{pc}"}
    links:
      ofProduct: "Product/{P}"
units: {EA: "{pc}"}
""", "m.yaml")
    m = load_mapping(y)
    assert plan_problems(m, vocab) == []
    assert m.columns() == {"B", "Q", "U", "P"}


def test_a_broken_mapping_is_refused_with_its_place(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as e:
        load_mapping(_mapping(tmp_path, "[[records]]\nclass = 'Batch'\n"))
    assert e.value.problems[0].rule == "mapping-schema"
    with pytest.raises(MappingError) as e:
        load_mapping(_mapping(tmp_path, "[[records]\n"))
    assert e.value.problems[0].rule == "mapping-syntax"


def test_rows_name_their_problems(tmp_path: Path) -> None:
    """Row-level findings carry file, row, column and value; a good row becomes one event."""
    m = load_mapping(EXAMPLES / "erp-batches" / "mapping.toml")
    rows = [(2, {"BATCH_NO": "B1", "ITEM": "P", "GTIN": "1", "ROUTING": "R", "QTY": "5",
                 "UOM": "EA", "STATUS": "R", "MFG_DATE": "2024-01-01", "EXP_DATE": None}),
            (3, {"BATCH_NO": "B2", "ITEM": "P", "GTIN": "1", "ROUTING": "R", "QTY": "5",
                 "UOM": "KG", "STATUS": "Z", "MFG_DATE": "2024-01-01", "EXP_DATE": None}),
            (4, {"BATCH_NO": None, "ITEM": "P", "GTIN": "1", "ROUTING": "R", "QTY": "x",
                 "UOM": "EA", "STATUS": "R", "MFG_DATE": "2024-01-01", "EXP_DATE": None})]
    out = build_events(m, "s", "b.csv", rows)
    assert [e["eventId"] for e in out.events] == ["migrate/s/b.csv:2"]
    node = out.events[0]["nodes"][0]
    assert node["properties"]["quantity"] == 5.0 and "expiryDate" not in node["properties"]
    assert node["properties"]["batchStatus"] == "Released"
    assert {(f.row, f.column, f.value, f.rule) for f in out.findings} == {  # all, not the first
        (3, "STATUS", "Z", "code-value"), (3, "UOM", "KG", "unit"),
        (4, "BATCH_NO", None, "required"), (4, "QTY", "x", "datatype:decimal")}
