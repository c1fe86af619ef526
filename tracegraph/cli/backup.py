"""``tracegraph backup DEST`` and ``tracegraph restore BACKUP DATA_DIR`` (:mod:`tracegraph.backup`).

Registered on the main command line by :mod:`tracegraph.cli.main` (``register(app)``). Both read
and write the store's files directly, as the operating-system user running them: the files'
permissions (data directory and backups 0700, files 0600) are what protects them; no API
offers either command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graph.audit import CheckpointError, load_or_create_key, load_public_key
from graph.errors import Problem
from tracegraph.backup import BackupRefused, backup, restore
from tracegraph.settings import Settings

__all__ = ["register"]

console = Console()
err = Console(stderr=True)


def _refused(what: str, problems: list[Problem], as_json: bool) -> None:
    if as_json:
        out = {"ok": False, "refused": what, "problems": [p.as_dict() for p in problems]}
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        t = Table(title=f"{what} refused: {len(problems)} problem(s) — nothing was written")
        for col in ("field", "value", "rule", "message"):
            t.add_column(col, overflow="fold")
        for p in problems:
            t.add_row(escape(p.field), escape(repr(p.value)[:72]), p.rule, escape(p.message))
        err.print(t)
    raise typer.Exit(1)


def _json(value: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def run_backup(
        dest: Annotated[Path, typer.Argument(help="directory the backups are kept in; each "
                                                   "backup is a new directory inside it")],
        keep: Annotated[int | None, typer.Option(
            help="afterwards keep only the N newest backups in DEST (retention)")] = None,
        key: Annotated[Path | None, typer.Option(
            help="Ed25519 private key (PEM, generated if missing, outside the data directory): "
                 "signs an audit checkpoint and the manifest")] = None,
        by: Annotated[str | None, typer.Option(
            help="who takes the backup (manifest); default: OS user@host")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Back up the live embedded store and the raw signal files without stopping writes
    (SQLite online backup), with a manifest of checksums, watermark and audit head."""
    cfg = Settings()
    signer = None
    if key is not None:
        if key.resolve().is_relative_to(cfg.data_dir.resolve()):
            _refused("backup", [Problem("key-outside-data-dir", "keep the signing key outside "
                                        "the data directory it vouches for", "--key",
                                        str(key))], as_json)
        try:
            signer = load_or_create_key(key)
        except (CheckpointError, ValueError, OSError) as e:
            _refused("backup", [Problem("signing-key", str(e), "--key", str(key))], as_json)
    try:
        r = backup(cfg, dest, keep=keep, key=signer, by=by)
    except BackupRefused as e:
        _refused("backup", e.problems, as_json)
        return
    m = r.manifest
    if as_json:
        _json({"ok": True, "path": str(r.path), "manifest": m, "seconds": r.seconds,
               "removed": [str(p) for p in r.removed]})
        return
    size = sum(f["bytes"] for f in m["files"].values())
    console.print(f"backup {r.path}: watermark {m['watermark']}, audit head seq "
                  f"{m['audit']['headSeq']} ({m['audit']['entries']:,} entries), "
                  f"{len(m['files'])} files, {size / 1e6:.1f} MB in {r.seconds:.2f} s"
                  + ("; checkpoint and manifest signed" if signer is not None else ""),
                  soft_wrap=True)
    for p in r.removed:
        console.print(f"removed {p} (retention --keep {keep})", soft_wrap=True)


def run_restore(
        backup_dir: Annotated[Path, typer.Argument(help="one backup directory")],
        data_dir: Annotated[Path, typer.Argument(help="the fresh data directory to restore "
                                                       "into (missing or empty)")],
        public_key: Annotated[Path | None, typer.Option(
            help="PEM public key the backup must be signed with (checks the manifest's "
                 "signature and the audit checkpoint)")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Restore a backup into a fresh data directory after checking its manifest and checksums;
    then run audit verify on the restored store. Refused (nothing written) on any failure."""
    try:
        key = load_public_key(public_key) if public_key is not None else None
    except (CheckpointError, ValueError, OSError) as e:
        _refused("restore", [Problem("public-key", str(e), "--public-key", str(public_key))],
                 as_json)
        return
    try:
        r = restore(backup_dir, data_dir, key)
    except BackupRefused as e:
        _refused("restore", e.problems, as_json)
        return
    rep, m = r.report, r.manifest
    if as_json:
        _json({"ok": True, "dataDir": str(r.data_dir), "watermark": m["watermark"],
               "audit": rep.as_dict()})
        return
    st = rep.state
    console.print(f"restored {escape(str(backup_dir))} (taken {m['createdAt']} by "
                  f"{escape(m['createdBy'])}) into {escape(str(r.data_dir))}: watermark "
                  f"{m['watermark']}", soft_wrap=True)
    console.print(f"[green]audit trail verified[/green]: {rep.checked:,} entries, head seq "
                  f"{rep.head_seq} hash {rep.head_hash}"
                  + (f"; checkpoint at seq {rep.checkpoint_seq} confirmed"
                     if rep.checkpoint_seq is not None else "")
                  + (f"; stored state matches ({st.nodes:,} nodes, {st.edges:,} edges)"
                     if st is not None else ""), soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("backup")(run_backup)
    app.command("restore")(run_restore)
