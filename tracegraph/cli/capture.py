"""The capture commands of ``tracegraph``: ``load`` and ``validate`` capture documents,
``generate`` the sample plant's, ``export`` a trace as RDF and ``import-rdf`` it back
(registered by :mod:`tracegraph.cli.main`, ``register(app)``). Each long one draws a progress
bar on stderr (:mod:`tracegraph.cli.progress`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from graph.authority import Migration, Principal
from graph.errors import Problem, WriteRejectedError
from graph.model import Direction
from tracegraph.cli.interop import check_export
from tracegraph.cli.progress import phases, progress
from tracegraph.cli.workflow import password
from tracegraph.runtime import Runtime

__all__ = ["print_problems", "register"]

console = Console()
err = Console(stderr=True)


def _documents(paths: list[Path]) -> Iterator[tuple[Path, bytes]]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(x for x in p.rglob("*") if x.suffix in (".json", ".jsonl")))
        else:
            files.append(p)
    for f in files:
        if f.suffix == ".jsonl":
            with f.open("rb") as fh:
                for line in fh:
                    if line.strip():
                        yield f, line
        else:
            yield f, f.read_bytes()


def _count(paths: list[Path]) -> int:
    n = 0
    for p in paths:
        files = sorted(p.rglob("*.json*")) if p.is_dir() else [p]
        for f in files:
            n += sum(1 for line in f.open("rb") if line.strip()) if f.suffix == ".jsonl" else 1
    return n


def print_problems(problems: list[Problem]) -> None:
    t = Table(title=f"{len(problems)} problem(s) — nothing was written", show_lines=False)
    for col in ("event", "node", "field", "value", "rule", "message"):
        t.add_column(col, overflow="fold")
    for p in problems[:200]:
        t.add_row(p.event_id or "", p.focus or "", p.field, repr(p.value)[:60], p.rule, p.message)
    err.print(t)


def _signed_in(rt: Runtime, user: str | None, migration: bool, reason: str | None
               ) -> tuple[Principal | None, Migration | None]:
    """Who loads: the system loader (no ``--user``), an authenticated account (its roles decide
    what it may assert), or an admin-run, signed migration (``--migration --reason``). The
    password comes from TRACEGRAPH_PASSWORD or a prompt."""
    from quality.accounts import authenticate, begin_migration

    if user is None:
        if migration:
            raise typer.BadParameter("a migration is signed: give --user (an administrator)")
        return None, None
    secret = password(user)
    if migration:
        return None, begin_migration(rt, user, secret, reason or "")
    account = authenticate(rt, user, secret, purpose="load")
    return Principal(account.username, account.roles), None


def load(paths: Annotated[list[Path], typer.Argument(
             help="capture files (.json/.jsonl) or dirs", exists=True, readable=True)],
         actor: Annotated[str, typer.Option(help="who is loading (without --user)")] = "system",
         user: Annotated[str | None, typer.Option(help="load as this account (password: "
                                                      "TRACEGRAPH_PASSWORD or a prompt)")] = None,
         migration: Annotated[bool, typer.Option(help="admin-run, signed migration of records "
                                                      "in later states (marked migrated)")] = False,
         reason: Annotated[str | None, typer.Option(help="why (required with --migration)")] = None,
         bulk: Annotated[bool, typer.Option(help="embedded store: secondary indexes built at "
                                                 "the end, phase times printed")] = False
         ) -> None:
    """Load capture documents through the one write path (validated, audited, idempotent)."""
    from tracegraph.cli.load_phases import bulk_load, phase_line

    rt = Runtime.open()
    try:
        principal, mig = _signed_in(rt, user, migration, reason)
    except BaseException:
        rt.close()
        raise
    total = _count(paths)
    nodes = edges = events = skipped = audit = 0
    t0 = time.perf_counter()
    try:
        with bulk_load(rt, bulk) as phases, progress("loading", total) as bar:
            for path, doc in _documents(paths):
                try:
                    t_doc, in_writer = time.perf_counter(), sum(phases.values())
                    r = rt.capture(doc, actor=actor, principal=principal, migration=mig)
                    phases["parse"] = phases.get("parse", 0.0) + time.perf_counter() - t_doc \
                        - (sum(phases.values()) - in_writer)
                except WriteRejectedError as e:
                    err.print(f"[red]rejected[/red] a document of {path}")
                    print_problems(e.problems)
                    raise typer.Exit(1) from None
                nodes += r.nodes_created + r.nodes_updated
                edges += r.edges_created
                events += r.events_written
                skipped += r.events_skipped
                audit += r.audit_entries
                dt = time.perf_counter() - t0
                bar(note=f"{edges / dt:,.0f} edges/s  {nodes / dt:,.0f} nodes/s")
    finally:
        rt.close()
    dt = time.perf_counter() - t0
    console.print(
        f"loaded {events:,} events ({skipped:,} already present) into {rt.store.engine}: "
        f"{nodes:,} nodes, {edges:,} edges, {audit:,} audit entries in {dt:.1f} s — "
        f"{edges / dt:,.0f} edges/s, {nodes / dt:,.0f} nodes/s (with validation)")
    console.print(phase_line(phases, dt))


def validate(paths: Annotated[list[Path], typer.Argument(help="capture files or dirs", exists=True,
                                                    readable=True)],
             migration: Annotated[bool, typer.Option(help="check them as a migration would "
                                                          "load them")] = False) -> None:
    """Check capture documents against the ontology, the shapes and the store; write nothing."""
    rt = Runtime.open()
    bad = 0
    dry = Migration("validate", "dry run") if migration else None
    try:
        for path, doc in _documents(paths):
            try:
                r = rt.capture(doc, dry_run=True, migration=dry)
                for w in r.warnings:
                    console.print(f"[yellow]{w.severity}[/yellow] {w.focus} {w.path}: {w.message}")
            except WriteRejectedError as e:
                bad += 1
                err.print(f"[red]invalid[/red] {path}")
                print_problems(e.problems)
    finally:
        rt.close()
    if bad:
        raise typer.Exit(1)
    console.print("[green]valid[/green]")


def generate(out: Annotated[Path, typer.Option(help="output directory")] = Path("data/plant"),
             size: Annotated[str, typer.Option(help="demo | md-s | md-m")] = "demo",
             seed: Annotated[int, typer.Option(help="random seed")] = 7) -> None:
    """Write a deterministic sample plant as capture documents (.jsonl)."""
    from bench.plant import write_plant

    t0 = time.perf_counter()
    with progress(f"generating the {size} plant") as bar:
        stats = write_plant(out, size=size, seed=seed, progress=lambda phase: bar(note=phase))
    console.print(f"wrote {size} plant to {out} in {time.perf_counter() - t0:.1f} s: {stats}")


class RdfFormat(StrEnum):
    turtle = "turtle"
    json_ld = "json-ld"


def export_rdf(seed: Annotated[str, typer.Option(help="lot, serial, IRI or any identifier")],
               direction: Annotated[Direction, typer.Option(
                   case_sensitive=False, help="which way to walk")] = Direction.UPSTREAM,
               fmt: Annotated[RdfFormat, typer.Option("--format", help="RDF syntax")] =
               RdfFormat.turtle,
               out: Annotated[Path | None, typer.Option(help="file (default: stdout)")] = None
               ) -> None:
    """Export a trace as RDF in the tracegraph ontology, validated against the shapes
    (pySHACL) before anything is written: a violation is listed and nothing is written."""
    from graph.identifiers.identify import identify_or_explain
    from graph.rdf_export import export_trace, serialize

    rt = Runtime.open()
    try:
        with phases("export", ["trace", "shapes", "serialise"]) as step:
            found, why = identify_or_explain(rt.store, seed)
            if len(found) != 1:
                err.print(f"[red]{why or f'{len(found)} nodes match {seed!r}'}[/red]",
                          soft_wrap=True)
                raise typer.Exit(1)
            graph = export_trace(rt.store, found[0].iri, direction)
            step("shapes")
            check_export(graph, rt.vocab)  # valid against the shapes, or nothing is written
            step("serialise")
            text = serialize(graph, fmt.value)
    finally:
        rt.close()
    if out is None:
        print(text)
    else:
        out.write_text(text)
        console.print(f"wrote {out}")


def import_rdf(path: Annotated[Path, typer.Argument(help="Turtle or JSON-LD file", exists=True,
                                                             dir_okay=False, readable=True)],
               user: Annotated[str | None, typer.Option(help="import as this account")] = None,
               migration: Annotated[bool, typer.Option(help="admin-run, signed migration of "
                                                            "records in later states")] = False,
               reason: Annotated[str | None, typer.Option(help="why (with --migration)")] = None
               ) -> None:
    """Import an RDF export through the one write path (idempotent)."""
    from rdflib import Graph

    from ingest.rdf_import import import_graph

    g = Graph().parse(path, format="json-ld" if path.suffix in (".json", ".jsonld") else None)
    rt = Runtime.open()
    try:
        principal, mig = _signed_in(rt, user, migration, reason)
        r = import_graph(rt, g, principal=principal, migration=mig)
    except WriteRejectedError as e:
        print_problems(e.problems)
        raise typer.Exit(1) from None
    finally:
        rt.close()
    console.print(f"imported: {r}")


def register(app: typer.Typer) -> None:
    app.command("load")(load)
    app.command("validate")(validate)
    app.command("generate")(generate)
    app.command("export")(export_rdf)
    app.command("import-rdf")(import_rdf)
