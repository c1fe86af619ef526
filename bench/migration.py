"""Legacy data migration at scale (issue 19 item 4): ``python -m bench.migration``.

Generates an Odoo stock.move.line export (the shipped example mapping,
``examples/migration/odoo-stock-move-line``) of ``--rows`` rows — receipts of resin and tubing
lots, manufacturing orders that consume them (resin partly in grams, converted to kg) and their
finished lots — with bad rows planted at known places, one problem each, then:

1. ``dry-run`` on the export with the planted rows: the problems it lists must be exactly the
   planted ones (file row, column, rule);
2. the plant fixes its export (the planted rows removed) and takes a portable export of the store;
3. ``apply`` as one signed migration stage, then ``verify`` (counts, values, sums, quantities
   per lot) must reconcile;
4. ``rollback``: every node, edge and idempotency record must be as in the export taken before
   apply, the audit trail must be the one before apply plus the stage's entries plus one delete
   entry per record rolled back, and ``audit verify`` (chain and state) must pass.

Prints rows/s of each phase; exits 1 if any comparison fails. The same scenario runs small in
``tests/integration/test_migration_bench.py``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from graph.audit import verify_store
from graph.authority import Migration
from graph.portable import export_store
from ingest.migration import Source, apply, dry_run, load_mapping, rollback, verify
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "migration"
MAPPING = EXAMPLE / "odoo-stock-move-line" / "mapping.toml"
COLUMNS = ["reference", "date", "state", "product_id/default_code", "lot_id/name",
           "lot_id/expiration_date", "quantity", "product_uom_id/name",
           "location_id/complete_name", "location_dest_id/complete_name",
           "picking_partner_id/ref", "production_id/name", "production_id/bom_id/code",
           "raw_material_production_id/lot_producing_id/name"]
VENDORS, STOCK, PROD = "Partners/Vendors", "WH/Stock", "Virtual Locations/Production"
PRODUCTS = (("CONN-LL", "CONN-MOULD/v1"), ("CATH-14G", "CATH-ASSY/v1"))


@dataclass(frozen=True)
class Planted:
    row: int  # the CSV line (header = 1)
    column: str
    rule: str  # the rule the report must name (a prefix for datatype rules)


def _row(**kw: Any) -> dict[str, Any]:
    return {c: kw.get(c.replace("/", "_"), "") for c in COLUMNS}


def _moves(n_rows: int, rnd: random.Random) -> Iterator[dict[str, Any]]:
    """The good rows: receipts first, then manufacturing orders of four rows each."""
    n_mo = max(1, n_rows // 4)
    n_lots = max(1, n_mo // 40)
    for j in range(n_lots):
        yield _row(reference=f"WH/IN/{j:05d}", date="2024-01-02 08:00:00", state="done",
                   product_id_default_code="PP-H350", lot_id_name=f"PA-{j:05d}",
                   lot_id_expiration_date="2027-01-01", quantity=5000, product_uom_id_name="kg",
                   location_id_complete_name=VENDORS, location_dest_id_complete_name=STOCK,
                   picking_partner_id_ref="SUP-PP")
        yield _row(reference=f"WH/IN/T{j:05d}", date="2024-01-02 09:00:00", state="done",
                   product_id_default_code="PVC-TUBE", lot_id_name=f"TB-{j:05d}",
                   lot_id_expiration_date="2027-06-01", quantity=20000, product_uom_id_name="m",
                   location_id_complete_name=VENDORS, location_dest_id_complete_name=STOCK,
                   picking_partner_id_ref="SUP-TUBE")
    for i in range(n_mo):
        mo, lot = f"WH/MO/{i:06d}", f"FL-{i:06d}"
        day = f"2024-{2 + i * 10 // n_mo:02d}-{1 + i % 27:02d}"
        product, bom = PRODUCTS[i % 2]
        pa, tb = f"PA-{rnd.randrange(n_lots):05d}", f"TB-{rnd.randrange(n_lots):05d}"
        common = {"reference": mo, "state": "done", "location_id_complete_name": STOCK,
                  "location_dest_id_complete_name": PROD,
                  "raw_material_production_id_lot_producing_id_name": lot}
        yield _row(**common, date=f"{day} 06:00:00", product_id_default_code="PP-H350",
                   lot_id_name=pa, quantity=rnd.randint(2, 20), product_uom_id_name="kg")
        yield _row(**common, date=f"{day} 06:05:00", product_id_default_code="PP-H350",
                   lot_id_name=pa, quantity=rnd.randint(100, 900), product_uom_id_name="g")
        yield _row(**common, date=f"{day} 06:10:00", product_id_default_code="PVC-TUBE",
                   lot_id_name=tb, quantity=rnd.randint(10, 150), product_uom_id_name="m")
        yield _row(reference=mo, date=f"{day} 14:00:00", state="done",
                   product_id_default_code=product, lot_id_name=lot,
                   quantity=rnd.randint(500, 2000), product_uom_id_name="Units",
                   location_id_complete_name=PROD, location_dest_id_complete_name=STOCK,
                   production_id_name=mo, production_id_bom_id_code=bom)


def _planted(k: int) -> list[tuple[dict[str, Any], str, str]]:
    """Bad rows, each standing alone (no other row depends on it), one problem each:
    (row, column, rule). They span the checks of every stage of the way: the mapping (code,
    unit, number, empty column), the capture translation (date, negative quantity), the
    Writer's integrity check, the plant rules (a guard) and the shapes."""
    cons = {"reference": f"WH/MO/BAD{k}", "state": "done", "location_id_complete_name": STOCK,
            "location_dest_id_complete_name": PROD,
            "raw_material_production_id_lot_producing_id_name": "FL-000000"}
    fin = {"reference": f"WH/MO/BAD{k}", "date": "2024-03-01 14:00:00", "state": "done",
           "product_uom_id_name": "Units", "location_id_complete_name": PROD,
           "location_dest_id_complete_name": STOCK, "production_id_name": f"WH/MO/BAD{k}"}
    rec = {"reference": f"WH/IN/BAD{k}", "date": "2024-01-03 08:00:00", "state": "done",
           "product_id_default_code": "PP-H350", "quantity": 100, "product_uom_id_name": "kg",
           "location_id_complete_name": VENDORS, "location_dest_id_complete_name": STOCK,
           "picking_partner_id_ref": "SUP-PP", "lot_id_expiration_date": "2027-01-01"}
    return [
        (_row(**{**rec, "state": "cancel"}, lot_id_name=f"BADA-{k}"), "state", "code-value"),
        (_row(**cons, date="2024-02-01 07:00:00", product_id_default_code="PP-H350",
              lot_id_name="PA-00000", quantity=3, product_uom_id_name="Units"),
         "product_uom_id/name", "unit"),
        (_row(**cons, date="2024-02-01 07:00:00", product_id_default_code="PP-H350",
              lot_id_name="PA-00000", quantity="3,5,0", product_uom_id_name="kg"),
         "quantity", "datatype:decimal"),
        (_row(**cons, date="2024-02-01 07:00:00", product_id_default_code="PVC-TUBE",
              lot_id_name="", quantity=4, product_uom_id_name="m"), "lot_id/name", "required"),
        (_row(**{**rec, "lot_id_expiration_date": "2027-02-30"}, lot_id_name=f"BADB-{k}"),
         "lot_id/expiration_date", "datatype:"),
        (_row(**cons, date="2024-02-01 07:00:00", product_id_default_code="PP-H350",
              lot_id_name="PA-00000", quantity=-3, product_uom_id_name="kg"),
         "quantity", "quantity-non-negative"),
        (_row(**fin, product_id_default_code="CATH-99X", lot_id_name=f"BADC-{k}", quantity=10,
              production_id_bom_id_code="CATH-ASSY/v1"),
         "product_id/default_code", "referential-integrity"),
        (_row(**cons, date="2028-01-01 07:00:00", product_id_default_code="PVC-TUBE",
              lot_id_name="TB-00000", quantity=1, product_uom_id_name="m"),
         "lot_id/name", "lot-expired"),
        (_row(**fin, product_id_default_code="CONN-LL", lot_id_name=f"BADD-{k}", quantity=-5,
              production_id_bom_id_code="CONN-MOULD/v1"), "quantity", "sh:"),
    ]


def write_export(path: Path, rows: int, seed: int = 7, planted: bool = True
                 ) -> list[Planted]:
    """Write the export (``rows`` good rows, plus the planted ones spread through it when
    ``planted``) and return where the planted rows are."""
    rnd = random.Random(seed)
    good = list(_moves(rows, rnd))
    bad = [(r, c, rule) for k in range(3) for r, c, rule in _planted(k)] if planted else []
    at = sorted(rnd.sample(range(len(good) // 2, len(good)), len(bad)))  # after the lots
    out: list[Planted] = []
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        line, b = 1, 0
        for i, row in enumerate(good):
            while b < len(bad) and at[b] == i:
                line += 1
                w.writerow(bad[b][0])
                out.append(Planted(line, bad[b][1], bad[b][2]))
                b += 1
            line += 1
            w.writerow(row)
    return out


def _portable(rt: Runtime, path: Path) -> dict[str, list[Any]]:
    export_store(rt.store, path)
    out: dict[str, list[Any]] = {"node": [], "edge": [], "audit": [], "event": []}
    with gzip.open(path, "rb") as f:
        next(f)
        for raw in f:
            rec = orjson.loads(raw)
            out[rec.pop("t")].append(rec)
    for k in ("node", "edge", "event"):
        out[k].sort(key=lambda r: orjson.dumps(r, option=orjson.OPT_SORT_KEYS))
    return out


@dataclass
class Outcome:
    rows: int
    planted: list[Planted]
    found: list[tuple[int, str, str]]
    exact: bool = False
    reconciled: bool = False
    restored: bool = False
    audit_ok: bool = False
    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exact and self.reconciled and self.restored and self.audit_ok


def _matches(planted: list[Planted], found: list[tuple[int, str, str]]) -> bool:
    if len(found) != len(planted):
        return False
    want = sorted((p.row, p.column, p.rule) for p in planted)
    return all(r == fr and c == fc and frule.startswith(rule)
               for (r, c, rule), (fr, fc, frule) in zip(want, sorted(found), strict=True))


def run(rt: Runtime, work: Path, rows: int, seed: int = 7, stage: str = "bench-1",
        admin: Migration | None = None) -> Outcome:
    """The whole scenario on a store that holds the example master data (see the module
    docstring)."""
    m = load_mapping(MAPPING)
    dirty = work / "stock_move_line.csv"
    planted = write_export(dirty, rows, seed)
    src = [Source.of(dirty)]
    t0 = time.perf_counter()
    report = dry_run(rt, m, src, stage)
    dt = time.perf_counter() - t0
    found = [(p.row or 0, p.column or "", p.rule) for p in report.problems]
    out = Outcome(report.rows, planted, found, _matches(planted, found))
    out.figures["dry-run rows/s"] = report.rows / dt
    clean = work / "stock_move_line_fixed.csv"
    write_export(clean, rows, seed, planted=False)
    src = [Source.of(clean)]
    before = _portable(rt, work / "before.jsonl.gz")
    mig = admin or Migration("bench-admin", "bench: legacy Odoo history")
    t0 = time.perf_counter()
    applied = apply(rt, m, src, Migration(mig.admin, mig.reason, stage))
    dt = time.perf_counter() - t0
    out.figures["apply rows/s"] = applied.rows / dt
    out.figures["records"] = sum(applied.records.values())
    t0 = time.perf_counter()
    rec = verify(rt, m, src, stage)
    out.figures["verify rows/s"] = rec.rows / (time.perf_counter() - t0)
    out.reconciled = rec.ok
    out.notes += rec.mismatches[:5]
    after_apply = _portable(rt, work / "applied.jsonl.gz")
    t0 = time.perf_counter()
    rb = rollback(rt, stage, Migration(mig.admin, "bench: rehearsal rolled back"))
    out.figures["rollback rows/s"] = applied.rows / (time.perf_counter() - t0)
    after = _portable(rt, work / "after.jsonl.gz")
    same = all(before[k] == after[k] for k in ("node", "edge", "event"))
    grown = after["audit"][len(after_apply["audit"]):]
    out.restored = (same and after["audit"][:len(after_apply["audit"])] == after_apply["audit"]
                    and after_apply["audit"][:len(before["audit"])] == before["audit"]
                    and len(grown) == sum(rb.removed.values())
                    and all(a["action"] == "delete" for a in grown))
    t0 = time.perf_counter()
    out.audit_ok = verify_store(rt.store).ok
    out.figures["audit verify s"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tg-migration-") as tmp:
        work = Path(tmp)
        rt = Runtime.open(Settings(data_dir=work / "data"))
        try:
            rt.capture((EXAMPLE / "master-data.json").read_bytes(),
                       migration=Migration("bench-admin", "master data"))
            o = run(rt, work, args.rows, args.seed)
        finally:
            rt.close()
    print(f"rows read: {o.rows:,}; planted problems: {len(o.planted)}, dry-run found "
          f"{len(o.found)}: {'exactly the planted ones' if o.exact else 'MISMATCH'}")
    if not o.exact:
        print("  planted:", sorted((p.row, p.column, p.rule) for p in o.planted))
        print("  found:  ", sorted(o.found))
    print(f"apply + verify: {'reconciled' if o.reconciled else 'MISMATCH'} "
          f"({o.figures['records']:,.0f} records)")
    for line in o.notes:
        print("  ", line)
    print(f"rollback: store {'as before apply' if o.restored else 'DIFFERS'}; audit verify "
          f"{'passes' if o.audit_ok else 'FAILS'}")
    for k, v in o.figures.items():
        if k != "records":
            print(f"  {k}: {v:,.1f}")
    raise SystemExit(0 if o.ok else 1)


if __name__ == "__main__":
    main()
