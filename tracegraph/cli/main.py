"""The main ``tracegraph`` command line (:data:`app`): load, validate, generate, serve, demo,
info; it mounts the sub-apps of :mod:`tracegraph.cli.admin` (``user``, ``audit``),
:mod:`tracegraph.cli.recall` (``recall``), :mod:`tracegraph.cli.quality`,
:mod:`tracegraph.cli.signals` and registers :mod:`tracegraph.cli.versions` (``diff``,
``impact``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ontology.codes import RoleName
from tracegraph.cli.admin import audit_app, user_app
from tracegraph.cli.as_of import register as register_as_of
from tracegraph.cli.backup import register as register_backup
from tracegraph.cli.capture import register as register_capture
from tracegraph.cli.documents import documents_app
from tracegraph.cli.equipment import equipment_app
from tracegraph.cli.errors import CliGroup
from tracegraph.cli.interop import events_app
from tracegraph.cli.kpi import register as register_kpi
from tracegraph.cli.migrate import migrate_app
from tracegraph.cli.progress import set_quiet
from tracegraph.cli.quality import quality_app
from tracegraph.cli.recall import recall_app
from tracegraph.cli.recalls import recalls_app
from tracegraph.cli.signals import signals_app
from tracegraph.cli.suppliers import suppliers_app
from tracegraph.cli.tables import Column, JsonOpt, show
from tracegraph.cli.validation import validation_app
from tracegraph.cli.versions import register as register_versions
from tracegraph.runtime import Runtime
from tracegraph.settings import settings

app = typer.Typer(cls=CliGroup, no_args_is_help=True,
                  help="tracegraph: traceability knowledge graph for device manufacturing")
console = Console()
err = Console(stderr=True)
register_capture(app)  # load, validate, generate, export, import-rdf


@app.callback()
def main(quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="no progress bars (they are drawn on stderr, and only when it is "
                              "a terminal)")] = False) -> None:
    """tracegraph: traceability knowledge graph for device manufacturing"""
    set_quiet(quiet)


@app.command()
def info(as_json: JsonOpt = False) -> None:
    """Node and edge counts of the configured store."""
    rt = Runtime.open()
    try:
        engine, watermark, counts = rt.store.engine, rt.store.watermark(), rt.store.counts()
    finally:
        rt.close()
    rows = [{"label": k, "count": v} for k, v in sorted(counts.items())]
    show(rows, [Column("label", "label / type", nowrap=True), Column("count", "count", "right")],
         title=f"{engine} store, watermark {watermark}", as_json=as_json,
         json_body={"engine": engine, "watermark": watermark, "counts": rows})


@app.command()
def serve(host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option()] = None) -> None:
    """Serve the GraphQL API, the recall export and the sign-in endpoint."""
    started = time.perf_counter()
    s = settings()
    h, p = host or s.host, port or s.port
    rt = Runtime.open(s)  # before serving: a newer store refused, an older one upgraded
    if rt.upgraded is not None:
        console.print(f"upgraded the store from schema version {rt.upgraded.from_version} to "
                      f"{rt.upgraded.to_version}; backup taken before: {rt.upgraded.backup}",
                      soft_wrap=True)
    rt.close()
    _serve_announcing(h, p, [f"tracegraph ({s.store}) serving on http://{h}:{p}/graphql"],
                      started=started, log_level="info")


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


def _serve_announcing(host: str, port: int, lines: list[str], started: float | None = None,
                      log_level: str = "warning") -> None:
    """Serve the API and print ``lines`` only once the server answers ``/health``; with
    ``started`` (a ``time.perf_counter()`` reading), also the start-up time up to that answer
    (store opened, API built, first answer)."""
    import threading

    import httpx
    import uvicorn

    server = uvicorn.Server(uvicorn.Config("api.app:create_app", factory=True, host=host,
                                           port=port, log_level=log_level))

    def announce() -> None:
        while not server.should_exit:
            if server.started:
                try:
                    if httpx.get(f"http://{host}:{port}/health", timeout=5).status_code == 200:
                        for line in lines:
                            console.print(f"[bold green]{line}[/bold green]", soft_wrap=True)
                        if started is not None:
                            console.print(f"start-up: {time.perf_counter() - started:.2f} s "
                                          "(store opened, API built, /health answered)")
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
