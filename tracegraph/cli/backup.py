"""``tracegraph backup DEST``, ``tracegraph restore BACKUP DATA_DIR`` (:mod:`tracegraph.backup`,
:mod:`tracegraph.restore`) and ``tracegraph portable export|import FILE`` (:mod:`graph.portable`).

Registered on the main command line by :mod:`tracegraph.cli.main` (``register(app)``). Both read
and write the store's files directly, as the operating-system user running them: the files'
permissions (data directory and backups 0700, files 0600) are what protects them; no API
offers any of these commands.
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

from graph.audit import CheckpointError, load_or_create_key, load_public_key, verify_store
from graph.errors import Problem
from graph.port import GraphStore
from graph.portable import PortableError, export_store, import_store
from tracegraph.backup import BackupRefused, backup, private_file
from tracegraph.cli.errors import writable
from tracegraph.restore import restore
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
        engine: Annotated[str | None, typer.Option(
            help="embedded | neo4j: where the store goes (default: TRACEGRAPH_STORE); neo4j "
                 "loads it into the empty database at NEO4J_URI, DATA_DIR gets the signal "
                 "files")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Restore a backup into a fresh data directory (or an empty Neo4j database) after checking
    its manifest and checksums; then run audit verify on the restored store. Refused (nothing
    written) on any failure."""
    cfg = Settings()
    target = engine or cfg.store
    if target not in ("embedded", "neo4j"):
        _refused("restore", [Problem("engine", "the engine is embedded or neo4j", "--engine",
                                     target)], as_json)
    try:
        key = load_public_key(public_key) if public_key is not None else None
    except (CheckpointError, ValueError, OSError) as e:
        _refused("restore", [Problem("public-key", str(e), "--public-key", str(public_key))],
                 as_json)
        return
    server: Any = None
    if target == "neo4j":
        try:
            server = _open(cfg.model_copy(update={"store": "neo4j"}))
        except Exception as e:  # the driver's errors: unreachable, refused credentials …
            _refused("restore", [Problem("store-unreachable", f"cannot open the neo4j store "
                                         f"({e})", "NEO4J_URI", cfg.neo4j_uri)], as_json)
    try:
        r = restore(backup_dir, data_dir, key, server=server)
    except BackupRefused as e:
        _refused("restore", e.problems, as_json)
        return
    finally:
        if server is not None:
            server.close()
    rep, m = r.report, r.manifest
    if as_json:
        _json({"ok": True, "dataDir": str(r.data_dir), "engine": r.engine,
               "watermark": m["watermark"], "audit": rep.as_dict()})
        return
    st = rep.state
    into = (str(r.data_dir) if r.engine == "embedded"
            else f"the {r.engine} store (signal files in {r.data_dir})")
    console.print(f"restored {escape(str(backup_dir))} (taken {m['createdAt']} by "
                  f"{escape(m['createdBy'])}) into {escape(into)}: watermark "
                  f"{m['watermark']}", soft_wrap=True)
    console.print(f"[green]audit trail verified[/green]: {rep.checked:,} entries, head seq "
                  f"{rep.head_seq} hash {rep.head_hash}"
                  + (f"; checkpoint at seq {rep.checkpoint_seq} confirmed"
                     if rep.checkpoint_seq is not None else "")
                  + (f"; stored state matches ({st.nodes:,} nodes, {st.edges:,} edges)"
                     if st is not None else ""), soft_wrap=True)


portable_app = typer.Typer(help="the whole store as portable JSON lines (either engine)",
                           no_args_is_help=True)


def _open(cfg: Settings) -> GraphStore:
    from graph import open_store

    return open_store(cfg.store, sqlite_path=cfg.sqlite_path, neo4j_uri=cfg.neo4j_uri,
                      neo4j_user=cfg.neo4j_user, neo4j_password=cfg.neo4j_password,
                      neo4j_database=cfg.neo4j_database)


@portable_app.command("export")
def portable_export(out: Annotated[Path, typer.Argument(help="file to write (.tgp.jsonl.gz)")]
                    ) -> None:
    """Write the configured store (nodes, edges, audit trail) as of one snapshot."""
    store = _open(Settings())
    try:
        private_file(out)
        h = export_store(store, out)
    finally:
        store.close()
    console.print(f"exported the {h['engine']} store at watermark {h['watermark']}: "
                  f"{h['counts']} → {out}", soft_wrap=True)


@portable_app.command("import")
def portable_import(
        path: Annotated[Path, typer.Argument(help="a file written by portable export")],
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Load a portable file into the configured, empty store (either engine), then run audit
    verify on it."""
    store = _open(Settings())
    try:
        h = import_store(store, path)
        report = verify_store(store)
    except PortableError as e:
        _refused("import", [Problem("portable", str(e), "path", str(path))], as_json)
        return
    finally:
        store.close()
    if as_json:
        _json({"ok": report.ok, "header": h, "audit": report.as_dict()})
    else:
        console.print(f"imported {h['counts']} at watermark {h['watermark']} into the "
                      f"{store.engine} store; audit verify: "
                      f"{'[green]ok[/green]' if report.ok else '[red]FAILED[/red]'}")
    if not report.ok:
        raise typer.Exit(1)


def run_upgrade(
        backup_dir: Annotated[Path | None, typer.Option(
            help="where the backup before the upgrade goes (default: TRACEGRAPH_UPGRADE_"
                 "BACKUP_DIR, else <data dir>-upgrade-backups)")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Upgrade the configured store to this tracegraph's schema version (after a backup, in one
    transaction, recorded in the audit trail); say so when it is current. Every command that
    opens the store does the same; this one does only that."""
    from tracegraph.runtime import Runtime
    from tracegraph.upgrade import upgrade

    cfg = Settings()
    if backup_dir is not None:
        writable(backup_dir, "--backup-dir")
    rt = Runtime.open(cfg, store=_open(cfg))  # the store as found: upgraded below
    try:
        r = upgrade(cfg, rt.store, rt.writer, dest=backup_dir)
        version = rt.store.schema_version()
    finally:
        rt.close()
    if as_json:
        _json({"ok": True, "schemaVersion": version, "upgraded": None if r is None else {
            "from": r.from_version, "to": r.to_version, "backup": str(r.backup),
            "manifestDigest": r.manifest_digest, "record": r.record, "seconds": r.seconds}})
    elif r is None:
        console.print(f"the {cfg.store} store is at schema version {version}, this "
                      "tracegraph's: nothing to upgrade")
    else:
        console.print(f"upgraded the {cfg.store} store from schema version {r.from_version} to "
                      f"{r.to_version} in {r.seconds:.2f} s; backup taken before: "
                      f"{escape(str(r.backup))} (manifest digest {r.manifest_digest}); "
                      f"audit record {escape(r.record)}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("backup")(run_backup)
    app.command("restore")(run_restore)
    app.command("upgrade")(run_upgrade)
    app.add_typer(portable_app, name="portable")
