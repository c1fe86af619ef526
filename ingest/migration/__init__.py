"""Legacy data migration (``tracegraph migrate``): ERP/MES/QMS exports (CSV, XLSX, JSON) mapped
onto the ontology by a mapping file, planned, dry-run, applied as one signed migration stage,
reconciled with the sources and, while unused, rolled back (docs/migration.md)."""

from ingest.migration.mapping import Mapping, MappingError, load_mapping, plan_problems
from ingest.migration.rows import Finding
from ingest.migration.source import Source, SourceError
from ingest.migration.stage import (
    Reconciliation,
    StageRefusedError,
    StageReport,
    apply,
    dry_run,
    plan,
    rollback,
    verify,
)

__all__ = ["Finding", "Mapping", "MappingError", "Reconciliation", "Source", "SourceError",
           "StageRefusedError", "StageReport", "apply", "dry_run", "load_mapping", "plan",
           "plan_problems", "rollback", "verify"]
