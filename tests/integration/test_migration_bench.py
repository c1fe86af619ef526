"""The migration bench (``python -m bench.migration``) small, on both engines: a generated
Odoo export with planted bad rows; dry-run lists exactly the planted problems, apply + verify
reconcile, rollback leaves every record as before apply (compared with a portable export taken
before) with the audit trail grown by the rollback's delete entries only, and audit verify
passes."""

from __future__ import annotations

from pathlib import Path

from bench.migration import EXAMPLE, run
from graph.authority import Migration
from tracegraph.runtime import Runtime


def test_migration_bench_small(runtime: Runtime, tmp_path: Path) -> None:
    runtime.capture((EXAMPLE / "master-data.json").read_bytes(),
                    migration=Migration("ada", "master data"))
    o = run(runtime, tmp_path, rows=400, seed=11)
    assert len(o.planted) == 27 and o.exact, (sorted(o.found), o.planted)
    assert o.reconciled, o.notes
    assert o.restored and o.audit_ok
