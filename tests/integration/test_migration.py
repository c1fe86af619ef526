"""Legacy data migration end to end on both engines: the shipped examples dry-run, apply,
reconcile and roll back; the stage is one signed batch through the Writer; rollback is audited,
touches nothing else and is refused once the stage is in use."""

from __future__ import annotations

import csv
import dataclasses
import json
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from graph.audit import verify_store
from graph.authority import MIGRATED, MIGRATION_STAGE, Migration
from graph.errors import WriteRejectedError
from graph.model import Direction
from ingest.migration import (
    Mapping,
    Source,
    StageRefusedError,
    apply,
    dry_run,
    load_mapping,
    rollback,
    verify,
)
from ontology.codes import AuditAction
from tracegraph.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples" / "migration"
ODOO = EX / "odoo-stock-move-line"
ERP = EX / "erp-batches"
ADMIN = Migration("ada", "go-live: legacy history 2024")


def _master(rt: Runtime) -> None:
    rt.capture((EX / "master-data.json").read_bytes(), migration=Migration("ada", "master data"))


def _state(rt: Runtime) -> tuple[list[str], list[str], int]:
    """Every node and edge as stored (records, compared whole) and the audit length."""
    nodes = [orjson.dumps(dataclasses.asdict(n), option=orjson.OPT_SORT_KEYS).decode()
             for n in rt.store.nodes_by_iri()]
    edges = [orjson.dumps(dataclasses.asdict(e), option=orjson.OPT_SORT_KEYS).decode()
             for e in rt.store.edges_by_source()]
    return nodes, sorted(edges), rt.store.audit_head()[0]


def _stage(example: Path, stage: str) -> tuple[Mapping, list[Source], Migration]:
    m = load_mapping(example / "mapping.toml")
    src = [Source.of(p) for p in sorted(example.glob("*.csv"))]
    return m, src, Migration(ADMIN.admin, ADMIN.reason, stage)


@pytest.mark.parametrize("example", [ERP, ODOO], ids=["erp", "odoo"])
def test_example_end_to_end(runtime: Runtime, example: Path) -> None:
    _master(runtime)
    m, src, mig = _stage(example, "s1")
    before = _state(runtime)
    watermark = runtime.store.watermark()
    report = dry_run(runtime, m, src, "s1")
    assert report.ok, report.problems
    if example is ODOO:  # the shapes' warnings are reported, and do not block
        assert any("duringExecution" in w for w in report.warnings)
    assert runtime.store.watermark() == watermark and _state(runtime) == before  # nothing
    applied = apply(runtime, m, src, mig)
    assert applied.records == report.records and applied.rows == report.rows
    stage_nodes = runtime.store.find("s1", MIGRATION_STAGE)
    assert len(stage_nodes) == sum(applied.records.values())
    assert all(n.props[MIGRATED] is True for n in stage_nodes)
    trail = runtime.store.audit_entries(after_seq=before[2])
    assert {a.actor for a in trail} == {"ada"}
    assert all(a.reason and a.reason.startswith("migration (go-live") for a in trail)
    assert len({a.tx for a in trail}) == 1  # one batch, one transaction
    rec = verify(runtime, m, src, "s1")
    assert rec.ok, rec.mismatches
    result = rollback(runtime, "s1", Migration("ada", "rehearsal"))
    assert result.removed == applied.records
    after = _state(runtime)
    assert after[:2] == before[:2]  # every node and edge as before the stage
    deletes = runtime.store.audit_entries(after_seq=before[2] + len(trail))
    assert len(deletes) == sum(applied.records.values()) == after[2] - before[2] - len(trail)
    assert {(a.action, a.actor, a.event_id) for a in deletes} == {
        (AuditAction.DELETE, "ada", "rollback/s1")}
    assert all("rehearsal" in (a.reason or "") for a in deletes)
    # an auditor with the database file still sees that the stage existed and was rolled back
    for n in stage_nodes[:3]:
        actions = [a.action for a in runtime.store.audit_entries(record=n.iri)]
        assert AuditAction.CREATE in actions and actions[-1] == AuditAction.DELETE
    assert verify_store(runtime.store).ok
    assert not verify(runtime, m, src, "s1").ok  # the stage is gone: a mismatch


def test_odoo_quantities_per_lot_against_the_csv(runtime: Runtime) -> None:
    """The consumed quantity per lot in the graph equals the CSV's, converted to the lot's unit
    by hand (g → kg divides by 1000): an independent reference."""
    _master(runtime)
    m, src, mig = _stage(ODOO, "odoo")
    apply(runtime, m, src, mig)
    want: dict[str, float] = {}
    with (ODOO / "stock_move_line.csv").open() as f:
        for row in csv.DictReader(f):
            if row["raw_material_production_id/lot_producing_id/name"]:
                q = float(row["quantity"]) / (1000 if row["product_uom_id/name"] == "g" else 1)
                want[row["lot_id/name"]] = want.get(row["lot_id/name"], 0.0) + q
    lots = {n.key: n.iri for n in runtime.store.find("odoo", MIGRATION_STAGE)
            if n.label == "MaterialLot"}
    got: dict[str, float] = {}
    for e in runtime.store.links(list(lots.values()), ["WAS_DERIVED_FROM"], Direction.DOWNSTREAM):
        key = next(k for k, i in lots.items() if i == e.dst)
        got[key] = got.get(key, 0.0) + float(e.props["quantity"])  # type: ignore[arg-type]  # a stored xsd:decimal
    assert got == pytest.approx(want)
    assert runtime.store.get(lots["PA-2402"]).props["quantity"] == 500.0  # type: ignore[union-attr]  # stored; 500000 g


def test_xlsx_and_json_sources_load_like_the_csv(runtime: Runtime, tmp_path: Path) -> None:
    from openpyxl import Workbook  # type: ignore[import-untyped]  # no type information

    _master(runtime)
    m = load_mapping(ERP / "mapping.toml")
    rows = list(csv.reader((ERP / "batches.csv").open()))
    wb = Workbook()
    ws = wb.active
    ws.title = "Batches"
    for r in rows:  # quantities as numbers (GTINs stay text: a number loses its leading 0),
        ws.append([float(c) if c.isdigit() and h == "QTY" else  # dates as Excel dates
                   datetime.fromisoformat(c) if h.endswith("_DATE") and c[:1].isdigit() else c
                   for h, c in zip(rows[0], r, strict=True)])
    wb.save(tmp_path / "batches.xlsx")
    (tmp_path / "batches.json").write_text(json.dumps(
        {"rows": [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]}))
    reports = [dry_run(runtime, m, [Source.of(p, sheet=s, records_key=k)], "x")
               for p, s, k in ((ERP / "batches.csv", None, None),
                               (tmp_path / "batches.xlsx", "Batches", None),
                               (tmp_path / "batches.json", None, "rows"))]
    assert all(r.ok for r in reports), [r.problems for r in reports]
    assert len({json.dumps(r.records) for r in reports}) == 1 and reports[0].records["Batch"] == 6


def test_dry_run_reports_every_problem_with_row_and_column(runtime: Runtime,
                                                           tmp_path: Path) -> None:
    _master(runtime)
    lines = (ERP / "batches.csv").read_text().splitlines()
    lines[2] = lines[2].replace(",R,", ",Z,")  # row 3: unknown status code
    lines[3] = lines[3].replace("CONN-LL,", "CONN-XX,")  # row 4: unknown product
    lines[4] = lines[4].replace("2500,EA", "-2500,EA")  # row 5: negative quantity (shapes)
    lines.append(lines[1])  # row 8: B24-0001 again: fine, the same record
    (tmp_path / "b.csv").write_text("\n".join(lines) + "\n")
    m = load_mapping(ERP / "mapping.toml")
    r = dry_run(runtime, m, [Source.of(tmp_path / "b.csv")], "s")
    got = {(p.row, p.column, p.rule) for p in r.problems}
    assert got == {(3, "STATUS", "code-value"), (4, "ITEM", "referential-integrity"),
                   (5, "QTY", "sh:MinInclusiveConstraintComponent")}
    assert r.rows == 7 and r.rows_ok == 4 and r.records == {"Batch": 3}
    with pytest.raises(StageRefusedError) as e:  # all or nothing
        apply(runtime, m, [Source.of(tmp_path / "b.csv")], Migration("ada", "go", "s"))
    assert e.value.report.problems and runtime.store.find("s", MIGRATION_STAGE) == []


def test_a_stage_only_creates_records(runtime: Runtime) -> None:
    """A row naming a record already stored is refused (the rollback could not undo it)."""
    _master(runtime)
    m, src, mig = _stage(ERP, "a")
    apply(runtime, m, src, mig)
    r = dry_run(runtime, m, src, "b")
    assert {p.rule for p in r.problems} == {"migration-stage-creates-only"}
    assert sorted(p.row or 0 for p in r.problems) == [2, 3, 4, 5, 6, 7]


def test_rollback_is_refused_once_the_stage_is_used(runtime: Runtime) -> None:
    _master(runtime)
    m, src, mig = _stage(ODOO, "odoo")
    apply(runtime, m, src, mig)
    before = _state(runtime)
    runtime.capture({"format": "tracegraph.capture/1", "events": [{  # a later, live batch
        "eventId": "live-1", "nodes": [{
            "class": "Batch", "key": "LIVE-1",
            "properties": {"batchStatus": "InProcess", "quantity": 10, "unitCode": "{pc}"},
            "links": {"ofProduct": "Product/CATH-14G",
                      "runsProcessVersion": "ProcessVersion/CATH-ASSY/v1"}}],
        "derivations": [{"kind": "consumption", "output": "Batch/LIVE-1",
                         "input": "MaterialLot/TB-2401", "quantity": 5, "unit": "m",
                         "time": "2024-03-01T08:00:00Z"}]}]})
    used = _state(runtime)
    with pytest.raises(WriteRejectedError) as e:
        rollback(runtime, "odoo", Migration("ada", "undo"))
    assert {p.rule for p in e.value.problems} == {"migration-stage-in-use"}
    assert any(p.focus and p.focus.endswith("MaterialLot/TB-2401") for p in e.value.problems)
    assert _state(runtime) == used != before  # nothing removed, nothing audited


def test_rollback_is_refused_once_a_stage_record_changed(runtime: Runtime) -> None:
    _master(runtime)
    m, src, mig = _stage(ERP, "erp")
    apply(runtime, m, src, mig)
    runtime.capture({"format": "tracegraph.capture/1", "events": [{
        "eventId": "fix-qty", "reason": "recount", "nodes": [{
            "class": "Batch", "key": "B24-0005", "properties": {"quantity": 2599}}]}]})
    with pytest.raises(WriteRejectedError) as e:
        rollback(runtime, "erp", Migration("ada", "undo"))
    assert [(p.rule, p.focus.rsplit("/", 1)[-1]) for p in e.value.problems  # type: ignore[union-attr]  # focus set
            ] == [("migration-stage-changed", "B24-0005")]


def test_rollback_removes_only_its_stage(runtime: Runtime) -> None:
    """Two stages: rolling back one leaves the other, the master data and the later stage's
    dependants alone; a stage another stage uses must wait for it."""
    _master(runtime)
    m, src, mig = _stage(ODOO, "odoo")
    apply(runtime, m, src, mig)
    after_odoo = _state(runtime)
    m2, src2, mig2 = _stage(ERP, "erp")
    apply(runtime, m2, src2, mig2)
    follow = {"format": "tracegraph.capture/1", "events": [{
        "eventId": "stage-3", "nodes": [{"class": "Batch", "key": "B3",
                                         "properties": {"batchStatus": "Completed"},
                                         "links": {"ofProduct": "Product/CATH-14G",
                                                   "runsProcessVersion":
                                                       "ProcessVersion/CATH-ASSY/v1"}}],
        "derivations": [{"kind": "consumption", "output": "Batch/B3",
                         "input": "Batch/CL-2402-01", "quantity": 1, "unit": "{pc}",
                         "time": "2024-03-01T08:00:00Z"}]}]}
    runtime.capture(follow, migration=Migration("ada", "stage 3", "s3"))
    with pytest.raises(WriteRejectedError):  # s3 uses a batch of the Odoo stage
        rollback(runtime, "odoo", Migration("ada", "undo"))
    rollback(runtime, "s3", Migration("ada", "undo s3"))
    rollback(runtime, "erp", Migration("ada", "undo erp"))
    assert _state(runtime)[:2] == after_odoo[:2]
    assert {n.label for n in runtime.store.find("odoo", MIGRATION_STAGE)} == {
        "Batch", "Consumption", "MaterialLot"}
    with pytest.raises(WriteRejectedError) as e:  # nothing left to remove
        rollback(runtime, "erp", Migration("ada", "again"))
    assert e.value.problems[0].rule == "migration-stage-unknown"
    assert verify_store(runtime.store).ok


def test_a_stage_mark_cannot_be_forged(runtime: Runtime) -> None:
    """No capture, migration or mapping may set the stage mark: records outside a stage can
    never be swept up by its rollback."""
    _master(runtime)
    doc = {"format": "tracegraph.capture/1", "events": [{
        "eventId": "forge", "nodes": [{"class": "Customer", "key": "C-9",
                                       "properties": {"name": "X", MIGRATION_STAGE: "odoo"}}]}]}
    for mig in (None, Migration("ada", "forge")):
        with pytest.raises(WriteRejectedError) as e:
            runtime.capture(doc, migration=mig)
        assert {p.rule for p in e.value.problems} == {"system-managed-property"}


def test_apply_rollback_apply_again_and_genealogy_follows(runtime: Runtime) -> None:
    """The stage can be applied again after its rollback (its idempotency records went with
    it), and traversals see exactly the edges stored each time (the embedded engine's
    in-memory index is rebuilt after a removal; a new process agrees)."""
    _master(runtime)
    m, src, mig = _stage(ODOO, "odoo")
    seed = runtime.vocab.mint_iri("Batch", "CA-2402-03")
    apply(runtime, m, src, mig)
    first = sorted(runtime.store.genealogy([seed], Direction.UPSTREAM).depth)
    rollback(runtime, "odoo", Migration("ada", "undo"))
    assert runtime.store.genealogy([seed], Direction.UPSTREAM).depth == {}
    lot = runtime.vocab.mint_iri("MaterialLot", "RL-PP")
    assert sorted(runtime.store.genealogy([lot], Direction.DOWNSTREAM).depth) == [lot]
    m2, src2, mig2 = _stage(ERP, "erp")  # new records (may reuse the removed ones' ids)
    apply(runtime, m2, src2, mig2)
    apply(runtime, m, src, mig)
    assert sorted(runtime.store.genealogy([seed], Direction.UPSTREAM).depth) == first
    assert verify(runtime, m, src, "odoo").ok
    opener = runtime.store.reader()
    if opener is not None:
        other = opener()
        try:
            assert sorted(other.genealogy([seed], Direction.UPSTREAM).depth) == first
        finally:
            other.close()
    assert verify_store(runtime.store).ok
