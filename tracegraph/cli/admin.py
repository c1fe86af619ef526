"""Administration commands: ``tracegraph user …`` and ``tracegraph audit …``.

Two typer sub-apps for the main command line to mount::

    app.add_typer(user_app, name="user")
    app.add_typer(audit_app, name="audit")

Each command opens the store the environment configures (``TRACEGRAPH_*``, read afresh, so a
test can point it at a temporary data directory).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graph.audit import (
    CheckpointError,
    Progress,
    VerifyReport,
    checkpoint,
    load_or_create_key,
    load_public_key,
    public_key_of,
    verify_checkpoint,
    verify_store,
)
from graph.model import AuditEntry
from ontology.codes import AuditAction
from ontology.datatypes import TypeRuleError, to_utc_text
from quality.accounts import AuthError, create_first_admin
from tracegraph.cli.progress import shown
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

__all__ = ["audit_app", "user_app"]

user_app = typer.Typer(help="user accounts (21 CFR Part 11 §11.300)", no_args_is_help=True)
audit_app = typer.Typer(help="the audit trail: verify, checkpoint, report", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _runtime() -> tuple[Runtime, Settings]:
    cfg = Settings()
    return Runtime.open(cfg), cfg


# -- user ------------------------------------------------------------------------------------
@user_app.callback()
def _users() -> None:
    """User accounts (21 CFR Part 11 §11.300): passwords are argon2-hashed and never shown."""


@user_app.command("create-admin")
def create_admin(
        username: Annotated[str, typer.Option(help="login name of the first administrator")],
        name: Annotated[str, typer.Option(help="printed name (shown with signatures)")],
        password_stdin: Annotated[bool, typer.Option(
            "--password-stdin", help="read the password from the first line of stdin")] = False,
        reason: Annotated[str, typer.Option(help="why (audit trail)")] =
        "first administrator account") -> None:
    """Create the first administrator; refused once an administrator exists."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    rt, _ = _runtime()
    try:
        user = create_first_admin(rt, username, password, name, actor="cli:create-admin",
                                  reason=reason)
    except AuthError as e:
        err.print(f"[red]refused[/red] {escape(str(e))}")
        raise typer.Exit(1) from None
    finally:
        rt.close()
    console.print(f"created administrator [bold]{user.username}[/bold] ({user.printed_name}) "
                  f"on the {rt.store.engine} store")


# -- audit -----------------------------------------------------------------------------------
def _print_report(r: VerifyReport, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(r.as_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if r.first_bad is not None:
        err.print(f"[red]audit trail BROKEN[/red] at entry {r.first_bad.seq}: "
                  f"{escape(r.first_bad.reason)} ({r.checked:,} entries checked in "
                  f"{r.seconds:.2f} s; last good entry seq {r.head_seq})")
        return
    console.print(f"[green]audit trail verified[/green]: {r.checked:,} entries "
                  f"({r.engine}); head seq {r.head_seq}, hash {r.head_hash}"
                  + (f"; checkpoint at seq {r.checkpoint_seq} confirmed"
                     if r.checkpoint_seq is not None else ""))
    st = r.state
    if st is None:
        console.print(f"state not compared (--chain-only); {r.seconds:.2f} s")
    elif st.ok:
        console.print(f"[green]stored state matches the trail[/green]: {st.nodes:,} nodes, "
                      f"{st.edges:,} edges replayed from {st.entries:,} entries; "
                      f"{r.seconds:.2f} s in all")
    else:
        err.print(f"[red]stored state DIFFERS from the audit trail[/red]: {st.differences:,} "
                  f"difference(s) in {st.nodes:,} nodes and {st.edges:,} edges; first:")
        for d in st.diffs:
            err.print(f"  {escape(d.describe())}")
        if st.differences > len(st.diffs):
            err.print(f"  … and {st.differences - len(st.diffs):,} more")


@contextmanager
def _progress(show: bool, totals: dict[str, int | None]) -> Iterator[Progress | None]:
    """A rich progress bar per phase (chain entries, state records) on stderr, when it is a
    terminal and ``--quiet`` is not given (:func:`tracegraph.cli.progress.shown`)."""
    if not (show and shown(err)):
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import (
        Progress as Bar,
    )

    with Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
             TimeElapsedColumn(), console=err, transient=True) as bar:
        tasks = {"chain": bar.add_task("hash chain", total=totals.get("chain")),
                 "state": bar.add_task("stored state", total=totals.get("state"))}

        def update(phase: str, done: int) -> None:
            bar.update(tasks[phase], completed=done)

        yield update


@audit_app.command("verify")
def verify(
        checkpoint_file: Annotated[Path | None, typer.Option(
            "--checkpoint", exists=True, dir_okay=False, help="also check against this signed "
                                 "checkpoint (detects truncation and rewrites)")] = None,
        public_key: Annotated[Path | None, typer.Option(
            exists=True, dir_okay=False, help="PEM public key the checkpoint must be signed "
                                              "with (required with --checkpoint)")] = None,
        insecure_no_key: Annotated[bool, typer.Option(
            "--insecure-no-key", help="trust the public key the checkpoint names itself "
                                      "(anyone can forge such a checkpoint)")] = False,
        chain_only: Annotated[bool, typer.Option(
            "--chain-only", help="verify the hash chain only, not the stored state")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Verify the hash chain end to end and that every stored node and edge is what the trail
    wrote; report the first bad entry or the first record that differs (exit 1 if any)."""
    if checkpoint_file is not None and public_key is None and not insecure_no_key:
        raise typer.BadParameter("a checkpoint is only evidence against a key you trust: pass "
                                 "--public-key (or --insecure-no-key to trust the key the "
                                 "checkpoint names itself)", param_hint="--public-key")
    rt, _ = _runtime()
    try:
        totals: dict[str, int | None] = {"chain": None, "state": None}
        if not as_json:
            totals["chain"] = rt.store.audit_head()[0]
            totals["state"] = None if chain_only else sum(rt.store.counts().values())
        with _progress(not as_json, totals) as progress:
            if checkpoint_file is None:
                report = verify_store(rt.store, state=not chain_only, progress=progress)
            else:
                cp = orjson.loads(checkpoint_file.read_bytes())
                if public_key is None:
                    err.print("[bold red]INSECURE[/bold red]: verifying the checkpoint with the "
                              "public key it names itself; a forged checkpoint passes this way")
                    key = public_key_of(cp)
                else:
                    key = load_public_key(public_key)
                report = verify_checkpoint(rt.store, cp, key, state=not chain_only,
                                           progress=progress)
    except (CheckpointError, orjson.JSONDecodeError, OSError) as e:
        err.print(f"[red]checkpoint refused[/red]: {escape(str(e))}")
        raise typer.Exit(1) from None
    finally:
        rt.close()
    _print_report(report, as_json)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def make_checkpoint(
        out: Annotated[Path, typer.Option(help="where to write the signed tree head (JSON); "
                                                "keep a copy outside the system")],
        key: Annotated[Path, typer.Option(help="Ed25519 private key (PEM); generated if missing, "
                                               "must lie outside the data directory")],
) -> None:
    """Verify the trail, then export a signed tree head (seq, hash, count, UTC time, engine)."""
    rt, cfg = _runtime()
    try:
        data_dir = cfg.data_dir.resolve()
        if key.resolve().is_relative_to(data_dir):
            raise typer.BadParameter(f"{key} lies inside the data directory {data_dir}; keep "
                                     "the signing key outside it", param_hint="--key")
        fresh = not key.exists()
        cp = checkpoint(rt.store, load_or_create_key(key))
    except CheckpointError as e:
        err.print(f"[red]no checkpoint[/red]: {escape(str(e))}")
        raise typer.Exit(1) from None
    finally:
        rt.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(cp, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    if fresh:
        console.print(f"generated signing key {key} (public key {key}.pub)")
    console.print(f"checkpoint of {cp['count']:,} entries ({cp['engine']}), head seq "
                  f"{cp['seq']} hash {cp['hash']}, signed at {cp['at']} → {out}")


def _when(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        if len(value) == 10:  # a date: its start, UTC
            return to_utc_text(datetime.combine(date.fromisoformat(value), datetime.min.time(),
                                                UTC))
        return to_utc_text(value)
    except (TypeRuleError, ValueError):
        raise typer.BadParameter(f"{value!r} is not a date or an ISO-8601 timestamp with a time "
                                 "zone", param_hint=field) from None


def _short(value: Any, width: int = 48) -> str:
    text = "" if value is None else (value if isinstance(value, str)
                                     else orjson.dumps(value).decode())
    return text if len(text) <= width else text[:width - 1] + "…"


def _table(entries: list[AuditEntry], title: str) -> Table:
    t = Table(title=title, show_lines=False)
    for col in ("seq", "when (UTC)", "user", "action", "record", "field", "old → new",
                "reason"):
        t.add_column(col, overflow="fold")
    for e in entries:
        record = f"{e.record_class} {unquote(e.record.rsplit('/', 1)[-1])}"
        change = (_short(e.new) if e.action != AuditAction.UPDATE
                  else f"{_short(e.old, 22)} → {_short(e.new, 22)}")
        cells = (str(e.seq), e.at[:19].replace("T", " "), e.actor, e.action, record,
                 e.field or "", change, e.reason or "")
        t.add_row(*(escape(c) for c in cells))
    return t


@audit_app.command("report")
def report(
        record: Annotated[str | None, typer.Option(help="a record IRI (or Class/key)")] = None,
        user: Annotated[str | None, typer.Option(help="entries made by this user")] = None,
        since: Annotated[str | None, typer.Option(help="from (date or UTC timestamp)")] = None,
        until: Annotated[str | None, typer.Option(help="to (date or UTC timestamp)")] = None,
        limit: Annotated[int, typer.Option(help="at most this many entries")] = 1000,
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """The audit trail of a record, of a user or of a time window, for people or as JSON."""
    lo, hi = _when(since, "--since"), _when(until, "--until")
    rt, _ = _runtime()
    try:
        iri = record
        if record is not None and "://" not in record and "/" in record:
            cls, _, key = record.partition("/")
            if cls not in rt.vocab.classes:
                raise typer.BadParameter(f"{record!r}: {cls!r} is not a class of the ontology; "
                                         "give an IRI or Class/key", param_hint="--record")
            iri = rt.vocab.mint_iri(cls, key)
        entries = rt.store.audit_entries(record=iri, actor=user, since=lo, until=hi,
                                         limit=limit)
    finally:
        rt.close()
    if as_json:
        rows = [dataclasses.asdict(e) for e in entries]
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    what = ", ".join(x for x in (iri and f"record {iri}", user and f"user {user}",
                                 lo and f"since {lo}", hi and f"until {hi}") if x)
    console.print(_table(entries, f"audit trail — {what or 'all entries'} "
                                  f"({len(entries):,} entries)"))
