"""The main ``tracegraph`` command line (:data:`app`): load, validate, generate, serve, demo,
info; it mounts the sub-apps of :mod:`tracegraph.cli.admin` (``user``, ``audit``),
:mod:`tracegraph.cli.recall` (``recall``), :mod:`tracegraph.cli.quality`,
:mod:`tracegraph.cli.signals` and registers :mod:`tracegraph.cli.versions` (``diff``,
``impact``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from graph.authority import Migration, Principal
from graph.errors import Problem, WriteRejectedError
from graph.model import Direction
from graph.schema import StoreVersionError
from ontology.codes import RoleName
from tracegraph.cli.admin import audit_app, user_app
from tracegraph.cli.as_of import register as register_as_of
from tracegraph.cli.backup import register as register_backup
from tracegraph.cli.documents import documents_app
from tracegraph.cli.equipment import equipment_app
from tracegraph.cli.interop import check_export, events_app
from tracegraph.cli.kpi import register as register_kpi
from tracegraph.cli.migrate import migrate_app
from tracegraph.cli.quality import quality_app
from tracegraph.cli.recall import recall_app
from tracegraph.cli.recalls import recalls_app
from tracegraph.cli.signals import signals_app
from tracegraph.cli.suppliers import suppliers_app
from tracegraph.cli.validation import validation_app
from tracegraph.cli.versions import register as register_versions
from tracegraph.runtime import Runtime
from tracegraph.settings import settings
from tracegraph.upgrade import UpgradeError


class _App(typer.Typer):
    """The command line: a store it must not open or could not upgrade ends the command with
    the reason on one line (exit 1), not a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except (StoreVersionError, UpgradeError) as e:
            Console(stderr=True).print(f"[red]refused[/red]: {escape(str(e))}", soft_wrap=True)
            raise SystemExit(1) from None


app = _App(help="tracegraph: traceability knowledge graph for device manufacturing",
           no_args_is_help=True)
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
    import os

    from quality.accounts import AuthError, authenticate, begin_migration

    if user is None:
        if migration:
            raise typer.BadParameter("a migration is signed: give --user (an administrator)")
        return None, None
    password = os.environ.get("TRACEGRAPH_PASSWORD") or typer.prompt(
        f"password of {user}", hide_input=True)
    try:
        if migration:
            return None, begin_migration(rt, user, password, reason or "")
        account = authenticate(rt, user, password, purpose="load")
    except AuthError as e:
        err.print(f"[red]refused[/red]: {e}")
        raise typer.Exit(2) from None
    return Principal(account.username, account.roles), None


@app.command()
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
    columns = (TextColumn("[bold]loading"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[rate]}"))
    try:
        with bulk_load(rt, bulk) as phases, Progress(*columns, console=console) as progress:
            task = progress.add_task("load", total=total, rate="")
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
                progress.update(task, advance=1,
                                rate=f"{edges / dt:,.0f} edges/s  {nodes / dt:,.0f} nodes/s")
    finally:
        rt.close()
    dt = time.perf_counter() - t0
    console.print(
        f"loaded {events:,} events ({skipped:,} already present) into {rt.store.engine}: "
        f"{nodes:,} nodes, {edges:,} edges, {audit:,} audit entries in {dt:.1f} s — "
        f"{edges / dt:,.0f} edges/s, {nodes / dt:,.0f} nodes/s (with validation)")
    console.print(phase_line(phases, dt))


@app.command()
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


@app.command()
def generate(out: Annotated[Path, typer.Option(help="output directory")] = Path("data/plant"),
             size: Annotated[str, typer.Option(help="demo | md-s | md-m")] = "demo",
             seed: Annotated[int, typer.Option(help="random seed")] = 7) -> None:
    """Write a deterministic sample plant as capture documents (.jsonl)."""
    from bench.plant import write_plant

    t0 = time.perf_counter()
    stats = write_plant(out, size=size, seed=seed)
    console.print(f"wrote {size} plant to {out} in {time.perf_counter() - t0:.1f} s: {stats}")


class RdfFormat(StrEnum):
    turtle = "turtle"
    json_ld = "json-ld"


@app.command("export")
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
        found, why = identify_or_explain(rt.store, seed)
        if len(found) != 1:
            err.print(f"[red]{why or f'{len(found)} nodes match {seed!r}'}[/red]", soft_wrap=True)
            raise typer.Exit(1)
        graph = export_trace(rt.store, found[0].iri, direction)
        check_export(graph, rt.vocab)  # valid against the shapes, or nothing is written
        text = serialize(graph, fmt.value)
    finally:
        rt.close()
    if out is None:
        print(text)
    else:
        out.write_text(text)
        console.print(f"wrote {out}")


@app.command("import-rdf")
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


@app.command()
def info() -> None:
    """Node and edge counts of the configured store."""
    rt = Runtime.open()
    try:
        t = Table(title=f"{rt.store.engine} store, watermark {rt.store.watermark()}")
        t.add_column("label / type")
        t.add_column("count", justify="right")
        for k, v in sorted(rt.store.counts().items()):
            t.add_row(k, f"{v:,}")
        console.print(t)
    finally:
        rt.close()


@app.command()
def serve(host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option()] = None) -> None:
    """Serve the GraphQL API, the recall export and the sign-in endpoint."""
    import uvicorn

    s = settings()
    h, p = host or s.host, port or s.port
    rt = Runtime.open(s)  # before serving: a newer store refused, an older one upgraded
    if rt.upgraded is not None:
        console.print(f"upgraded the store from schema version {rt.upgraded.from_version} to "
                      f"{rt.upgraded.to_version}; backup taken before: {rt.upgraded.backup}",
                      soft_wrap=True)
    rt.close()
    console.print(f"tracegraph ({s.store}) serving on http://{h}:{p}/graphql")
    uvicorn.run("api.app:create_app", factory=True, host=h, port=p, log_level="info")


def _demo_accounts(rt: Runtime) -> str:
    """One demo account per role (TRACEGRAPH_DEMO_PASSWORD, or a random password), created
    before the plant so its administrator signs the plant's go-live migration and creates the
    plant's staff accounts (same password)."""
    import os
    import secrets

    from quality.accounts import create_user

    password = os.environ.get("TRACEGRAPH_DEMO_PASSWORD") or secrets.token_urlsafe(12)
    for role in RoleName:
        create_user(rt, f"demo.{role}", password, [role], printed_name=f"Demo {role.title()}",
                    actor="system:demo", reason="demo accounts")
    return password


DEMO_MARKER = ".tracegraph-demo"


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _demo_dir(data_dir: Path, reset: bool) -> Path:
    """The demo's own data directory, ``<data dir>/demo``: created fresh, or emptied with
    ``--reset`` only when it holds the demo marker (never another store)."""
    import shutil

    d = data_dir / "demo"
    if d.exists() and any(d.iterdir()):
        if not (d / DEMO_MARKER).exists():
            err.print(f"{d} exists and is not a tracegraph demo directory; the demo writes "
                      "nowhere else: move it away or set TRACEGRAPH_DATA_DIR")
            raise typer.Exit(2)
        if not reset:
            err.print(f"the demo plant is already in {d}: `tracegraph demo --reset` "
                      "regenerates it (`make demo` does); no other store is touched")
            raise typer.Exit(2)
        shutil.rmtree(d)
    d.mkdir(parents=True, exist_ok=True)
    (d / DEMO_MARKER).write_text("generated by `tracegraph demo`; --reset deletes this "
                                 "directory\n")
    return d


def _serve_announcing(host: str, port: int, lines: list[str]) -> None:
    """Serve the API and print ``lines`` only once the server answers ``/health``."""
    import threading

    import httpx
    import uvicorn

    server = uvicorn.Server(uvicorn.Config("api.app:create_app", factory=True, host=host,
                                           port=port, log_level="warning"))

    def announce() -> None:
        while not server.should_exit:
            if server.started:
                try:
                    if httpx.get(f"http://{host}:{port}/health", timeout=5).status_code == 200:
                        for line in lines:
                            console.print(f"[bold green]{line}[/bold green]", soft_wrap=True)
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)

    threading.Thread(target=announce, daemon=True).start()
    server.run()
    if not server.started:
        raise typer.Exit(1)


@app.command()
def demo(port: Annotated[int | None, typer.Option()] = None,
         serve_api: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
         reset: Annotated[bool, typer.Option(
             "--reset", help="regenerate the demo plant in <data dir>/demo")] = False) -> None:
    """Generate the demo plant into its own embedded store (<data dir>/demo), then serve it.

    Never touches another store: the default store (<data dir>/tracegraph.sqlite) stays as it
    is; an existing demo is regenerated only with --reset."""
    import os

    from bench.plant_workflow import load_workflow

    s = settings()
    if s.store != "embedded":
        raise typer.BadParameter("the demo runs on the embedded store (TRACEGRAPH_STORE=embedded)")
    p = port or s.port
    if serve_api and not _port_free(s.host, p):
        err.print(f"port {p} on {s.host} is taken: stop what listens there, or choose another "
                  "(--port, TRACEGRAPH_PORT); nothing was loaded")
        raise typer.Exit(1)
    d = _demo_dir(s.data_dir, reset)
    # the demo's settings everywhere in this process, the served app included
    os.environ["TRACEGRAPH_DATA_DIR"] = str(d)
    settings.cache_clear()
    rt = Runtime.open()
    t0 = time.perf_counter()
    password = _demo_accounts(rt)
    # the state at go-live is a migration signed by demo.admin; the plant's history after it
    # runs through the workflow commands, each authenticated and signed by the plant's staff
    with console.status("loading the demo plant through its workflow commands …"):
        counts = load_workflow(rt, "demo.admin", password, size="demo", seed=7)
    # issue 17 item 1: the rooms' recorded conditions, replayed through the signal pipeline
    # into the raw store the drifting extruder's story just wrote (not a fresh one: that would
    # drop its samples and drift state, and the health view its forecast)
    from bench.plant_env import replay_environment

    with console.status("replaying the rooms' conditions through the signal pipeline …"):
        env = replay_environment(rt, fresh=False)
        counts.update({f"environment {k}": v for k, v in env.items()})
    rt.close()
    console.print(f"demo plant loaded into {d} in {time.perf_counter() - t0:.1f} s: {counts}")
    *others, last = (f"demo.{role}" for role in RoleName)
    console.print(f"sign in (POST /auth/token) as {', '.join(others)} or {last} with the "
                  f"password {password!r}; the plant's staff (its QA, QC, engineers and "
                  "operators) have accounts with the same password",
                  soft_wrap=True)
    if serve_api:
        base = f"http://{s.host}:{p}"
        _serve_announcing(s.host, p, [f"tracegraph demo is up: {base}/graphql",
                                      f"explorer: {base}/explorer/"])


app.add_typer(user_app, name="user")
app.add_typer(signals_app, name="signals")
app.add_typer(audit_app, name="audit")
app.add_typer(events_app, name="events")
register_versions(app)
register_backup(app)  # issue 19 item 2: backup / restore
register_kpi(app)  # issue 15 item 3: KPI dashboard
register_as_of(app)  # issue 18 item 4: tracegraph node ID --as-of TIME
app.add_typer(quality_app, name="quality")
app.add_typer(equipment_app, name="equipment")
app.add_typer(suppliers_app, name="suppliers")
app.add_typer(migrate_app, name="migrate")  # issue 19 item 4: legacy data migration
app.add_typer(validation_app, name="validation")  # issue 19 item 1: validation pack
app.add_typer(recall_app, name="recall")  # bulk recall and what-if (issue 18 item 3)
app.add_typer(documents_app, name="documents")  # issue 18 item 1: document control

app.add_typer(recalls_app, name="recalls")  # issue 18 item 5: the recall as a record
