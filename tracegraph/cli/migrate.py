"""``tracegraph migrate plan|dry-run|apply|verify|rollback``: legacy data migration in stages
(:mod:`ingest.migration`, docs/migration.md).

``plan`` and ``dry-run`` write nothing; ``apply`` and ``rollback`` are an administrator's signed
migration (``--user``, password from TRACEGRAPH_PASSWORD or a prompt, ``--reason``), as
``tracegraph load --migration`` is. Every command exits non-zero when it finds a problem
(``verify``: a mismatch between the sources and the graph); ``--json`` prints the report.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graph.authority import Migration
from graph.errors import WriteRejectedError
from ingest.migration import (
    Finding,
    MappingError,
    Source,
    SourceError,
    StageRefusedError,
    StageReport,
    apply,
    dry_run,
    load_mapping,
    plan,
    rollback,
    verify,
)
from ingest.migration.mapping import Mapping
from tracegraph.cli.workflow import password
from tracegraph.runtime import Runtime

__all__ = ["migrate_app"]

migrate_app = typer.Typer(help="legacy data migration in stages: plan, dry-run, apply, verify, "
                               "rollback (docs/migration.md)", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

MappingOpt = Annotated[Path, typer.Option("--mapping", "-m", help="mapping file (.toml/.yaml)",
                                          exists=True, dir_okay=False)]
SourcesArg = Annotated[list[Path], typer.Argument(help="export files (CSV, XLSX, JSON)",
                                                  exists=True, dir_okay=False)]
StageOpt = Annotated[str, typer.Option(help="stage id (unique per stage, e.g. 2024-batches-1)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the report as JSON")]
UserOpt = Annotated[str, typer.Option(help="the administrator who signs (password: "
                                           "TRACEGRAPH_PASSWORD or a prompt)")]
ReasonOpt = Annotated[str, typer.Option(help="why (recorded in every audit entry)")]


def _open(mapping: Path, sources: list[Path]) -> tuple[Mapping, list[Source]]:
    try:
        m = load_mapping(mapping)
        return m, [Source.of(p, m.fmt, m.sheet, m.records_key) for p in sources]
    except MappingError as e:
        _findings("mapping", [Finding.of(p) for p in e.problems], False)
    except SourceError as e:
        err.print(f"[red]source[/red]: {escape(str(e))}")
    raise typer.Exit(1)


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode()
                     + "\n")


def _findings(what: str, problems: list[Finding], as_json: bool) -> None:
    if as_json:
        _print_json({"ok": False, "what": what, "problems": [p.as_dict() for p in problems]})
        return
    t = Table(title=f"{what}: {len(problems)} problem(s)")
    for col in ("file", "row", "column", "value", "rule", "message"):
        t.add_column(col, overflow="fold")
    for p in problems[:500]:
        t.add_row(escape(p.file or ""), str(p.row or ""), escape(p.column or p.field),
                  escape(repr(p.value)[:48]), p.rule, escape(p.message))
    err.print(t)
    if len(problems) > 500:
        err.print(f"… and {len(problems) - 500} more (--json lists all)")


def _summary(r: StageReport, verb: str) -> None:
    rates = ", ".join(f"{k} {r.rows / s:,.0f} rows/s" for k, s in r.seconds.items() if s > 0)
    console.print(f"stage {r.stage}: {r.rows:,} rows read, {r.rows_ok:,} {verb}; records: "
                  + (", ".join(f"{c} {n:,}" for c, n in r.records.items()) or "none")
                  + f"; derivations {r.derivations:,} ({rates})"
                  + (f"; {len(r.warnings):,} warning(s) of the shapes (--json lists them)"
                     if r.warnings else ""))


def _signed(rt: Runtime, user: str, reason: str, stage: str) -> Migration:
    from quality.accounts import begin_migration

    return dataclasses.replace(begin_migration(rt, user, password(user), reason), stage=stage)


@migrate_app.command("plan")
def plan_cmd(mapping: MappingOpt, sources: SourcesArg, as_json: JsonOpt = False) -> None:
    """Check the mapping against the ontology (classes, properties, links, codes, units) and
    the sources' columns; reads no rows, writes nothing."""
    m, srcs = _open(mapping, sources)
    rt = Runtime.open()
    try:
        problems = [Finding.of(p) for p in plan(rt, m, srcs)]
    finally:
        rt.close()
    if problems:
        _findings("plan", problems, as_json)
        raise typer.Exit(1)
    if as_json:
        _print_json({"ok": True, "columns": sorted(m.columns())})
    else:
        console.print(f"[green]plan ok[/green]: {len(m.records)} record map(s), "
                      f"{len(m.derivations)} derivation map(s), columns "
                      + ", ".join(sorted(m.columns())))


@migrate_app.command("dry-run")
def dry_run_cmd(mapping: MappingOpt, sources: SourcesArg, stage: StageOpt,
                report: Annotated[Path | None, typer.Option(help="write the JSON report here")
                                  ] = None,
                as_json: JsonOpt = False) -> None:
    """Everything apply would do, every problem with file, row, column, value and rule (the
    Writer's own checks, in a transaction that is rolled back); writes nothing."""
    m, srcs = _open(mapping, sources)
    rt = Runtime.open()
    try:
        r = dry_run(rt, m, srcs, stage)
    finally:
        rt.close()
    if report is not None:
        report.write_bytes(orjson.dumps(r.as_dict(), option=orjson.OPT_INDENT_2, default=str))
    if as_json:
        _print_json(r.as_dict())
    else:
        _summary(r, "would load")
        if r.problems:
            _findings(f"dry run of stage {stage}", r.problems, False)
    if r.problems:
        raise typer.Exit(1)


@migrate_app.command("apply")
def apply_cmd(mapping: MappingOpt, sources: SourcesArg, stage: StageOpt, user: UserOpt,
              reason: ReasonOpt, as_json: JsonOpt = False) -> None:
    """Load the stage as one signed migration batch (all rows or none), each record marked
    migrated with the stage id."""
    m, srcs = _open(mapping, sources)
    rt = Runtime.open()
    try:
        mig = _signed(rt, user, reason, stage)
        t0 = time.perf_counter()
        r = apply(rt, m, srcs, mig)
    except StageRefusedError as e:
        _findings(f"apply of stage {stage} refused, nothing written", e.report.problems,
                  as_json)
        raise typer.Exit(1) from None
    finally:
        rt.close()
    if as_json:
        _print_json({**r.as_dict(), "written": dataclasses.asdict(r.written)
                     if r.written else None})
    else:
        _summary(r, "loaded")
        w = r.written
        if w is not None:
            console.print(f"[green]applied[/green] in transaction {w.tx}: {w.nodes_created:,} "
                          f"records, {w.edges_created:,} edges, {w.audit_entries:,} audit "
                          f"entries in {time.perf_counter() - t0:.1f} s, signed by {mig.admin}")


@migrate_app.command("verify")
def verify_cmd(mapping: MappingOpt, sources: SourcesArg, stage: StageOpt,
               as_json: JsonOpt = False) -> None:
    """Reconcile the source files with the stage in the graph: records per class, every
    mapped value, sums, derivations and quantities per lot. Exit 1 on any mismatch."""
    m, srcs = _open(mapping, sources)
    rt = Runtime.open()
    try:
        rec = verify(rt, m, srcs, stage)
    finally:
        rt.close()
    if as_json:
        _print_json({"stage": stage, "ok": rec.ok, "rows": rec.rows,
                     "checks": [{**dataclasses.asdict(c), "ok": c.ok} for c in rec.checks],
                     "mismatchCount": rec.mismatch_count, "mismatches": rec.mismatches})
    else:
        t = Table(title=f"stage {stage}: {rec.rows:,} source rows "
                        f"({rec.rows / max(rec.seconds, 1e-9):,.0f} rows/s)")
        for col in ("check", "source", "graph", ""):
            t.add_column(col)
        for c in rec.checks:
            t.add_row(c.what, f"{c.source:,.6g}", f"{c.graph:,.6g}",
                      "[green]ok[/green]" if c.ok else "[red]MISMATCH[/red]")
        console.print(t)
        for line in rec.mismatches:
            err.print(f"[red]mismatch[/red] {escape(line)}")
        console.print("[green]reconciled[/green]" if rec.ok else
                      f"[red]{rec.mismatch_count} record mismatch(es)[/red]")
    if not rec.ok:
        raise typer.Exit(1)


@migrate_app.command("rollback")
def rollback_cmd(stage: StageOpt, user: UserOpt, reason: ReasonOpt,
                 as_json: JsonOpt = False) -> None:
    """Remove a stage that is not in use (audited: one delete entry per record); refused once a
    later record uses or changed any record of the stage."""
    rt = Runtime.open()
    try:
        mig = _signed(rt, user, reason, stage)
        t0 = time.perf_counter()
        r = rollback(rt, stage, mig)
    except WriteRejectedError as e:
        _findings(f"rollback of stage {stage} refused, nothing removed",
                  [Finding.of(p) for p in e.problems], as_json)
        raise typer.Exit(1) from None
    finally:
        rt.close()
    n = sum(r.removed.values())
    if as_json:
        _print_json(dataclasses.asdict(r))
    else:
        dt = time.perf_counter() - t0
        console.print(f"[green]rolled back[/green] stage {stage} in transaction {r.tx}: "
                      + ", ".join(f"{c} {k:,}" for c, k in sorted(r.removed.items()))
                      + f"; {r.edges:,} edges; {r.audit_entries:,} audit entries "
                      f"({n / max(dt, 1e-9):,.0f} records/s)")
