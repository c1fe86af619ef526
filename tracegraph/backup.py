"""Backups of a live store, while it is written (EU GMP Annex 11 §7.2, 21 CFR 11.10(c)).

A backup is one directory ``<dest>/tracegraph-backup-<UTC time>/`` holding

* ``tracegraph.sqlite`` (embedded engine): the store, copied with SQLite's online backup API in
  one step, so the copy is the store as of one committed transaction (its watermark) while
  writers go on; or ``store.tgp.jsonl.gz`` (Neo4j): the store through the portable path
  (:mod:`graph.portable`, one read snapshot), which restores into either engine;
* ``signals/…``: the raw signal files (one SQLite file per UTC day and the loop state, each
  copied the same way; other files byte for byte);
* ``checkpoint.json`` (optional, embedded): a signed tree head of the copy's audit trail
  (:func:`graph.audit.checkpoint`);
* ``manifest.json``: format, tracegraph and schema version, store id, watermark, audit head
  (seq, hash, entry count), every file's size and SHA-256, when and by whom; a digest over all of
  it, and with a key an Ed25519 signature.

Everything is written into ``<dest>/.partial-…`` and renamed into place only when the manifest is
on disk, so a backup killed half-way is never a directory :func:`tracegraph.restore.restore`
accepts. Directories are created 0700 and files 0600. ``secret.key`` (token signing) and the
derivation-index cache (``*.derivations.npz``) are not backed up: a restored system issues new
tokens and rebuilds the cache.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import os
import shutil
import socket
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

import graph.engines.sqlite.queries as Q
from graph.audit import (
    checkpoint,
)
from graph.engines.sqlite.store import SQLiteStore
from graph.errors import Problem
from graph.portable import export_store
from tracegraph import __version__
from tracegraph.settings import Settings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
    )

__all__ = ["CHECKPOINT", "FORMAT", "MANIFEST", "PARTIAL", "PORTABLE_FILE", "STORE_FILE",
           "BackupRefused", "BackupResult", "backup", "canonical", "complete_backups",
           "private_dir", "private_file", "sha256_of"]

FORMAT = "tracegraph-backup/1"
MANIFEST = "manifest.json"
STORE_FILE = "tracegraph.sqlite"
SIGNALS = "signals"
CHECKPOINT = "checkpoint.json"
PORTABLE_FILE = "store.tgp.jsonl.gz"  # a server store's backup (graph.portable)
PREFIX = "tracegraph-backup-"
PARTIAL = ".partial-"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SIDE_FILES = ("-wal", "-shm", "-journal")
_UNSIGNED = ("digest", "signature")


class BackupRefused(Exception):
    """A backup or restore that was refused: ``problems`` names each reason; nothing was
    written (to the target of a restore, or as a complete backup)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict[str, Any]
    removed: list[Path] = field(default_factory=list)  # by retention (--keep)
    seconds: float = 0.0


# -- small file helpers ------------------------------------------------------------------------
def private_dir(path: Path) -> None:
    path.mkdir(mode=0o700)
    path.chmod(0o700)  # mkdir's mode is masked by the umask


def private_file(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    path.chmod(0o600)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(16) == _SQLITE_MAGIC


def _copy_sqlite(src: Path, dst: Path) -> None:
    """One-step online backup: one read transaction, so the copy is one committed state; the
    copy is left in rollback-journal mode (one self-contained file)."""
    private_file(dst)
    source = sqlite3.connect(src, timeout=60)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)  # pages=-1: the whole database in one step
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()
        source.close()


def canonical(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k not in _UNSIGNED}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def _now_text(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


# -- backup ------------------------------------------------------------------------------------
def _store_facts(path: Path) -> dict[str, Any]:
    con = sqlite3.connect(path)
    try:
        meta = dict(con.execute("SELECT k, v FROM meta").fetchall())
        head = con.execute(Q.AUDIT_HEAD).fetchone()
        entries = int(con.execute("SELECT count(*) FROM audit").fetchone()[0])
    finally:
        con.close()
    return {"storeId": meta.get("store_id"), "schemaVersion": int(meta.get("schema_version", 0)),
            "watermark": int(meta.get("last_tx", 0)),
            "audit": {"headSeq": int(head[0]) if head else 0,
                      "headHash": str(head[1]) if head else "", "entries": entries}}


def _copy_signals(src: Path, dst: Path) -> None:
    if not src.is_dir():
        return
    private_dir(dst)
    for f in sorted(src.rglob("*")):
        out = dst / f.relative_to(src)
        if f.is_dir():
            private_dir(out)
        elif f.is_file() and not f.name.endswith(_SIDE_FILES):
            if _is_sqlite(f):
                _copy_sqlite(f, out)
            else:
                private_file(out)
                shutil.copyfile(f, out)


def _seal(root: Path, manifest: dict[str, Any], key: Ed25519PrivateKey | None) -> None:
    files: dict[str, dict[str, Any]] = {}
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        _fsync(f)
        files[f.relative_to(root).as_posix()] = {"sha256": sha256_of(f), "bytes": f.stat().st_size}
    manifest["files"] = files
    if key is not None:
        manifest["publicKey"] = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    body = canonical(manifest)
    manifest["digest"] = hashlib.sha256(body).hexdigest()
    if key is not None:
        manifest["signature"] = base64.b64encode(key.sign(body)).decode()
    out = root / MANIFEST
    private_file(out)
    out.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    _fsync(out)
    _fsync(root)


def backup(cfg: Settings, dest: Path, keep: int | None = None,
           key: Ed25519PrivateKey | None = None, by: str | None = None,
           now: datetime | None = None) -> BackupResult:
    """Back up the configured embedded store and its raw signal files into a new directory
    under ``dest`` (see the module docstring); with ``keep``, remove all but the ``keep`` newest
    complete backups there afterwards. ``key`` signs an audit checkpoint and the manifest."""
    t0 = time.perf_counter()
    if dest.resolve().is_relative_to(cfg.data_dir.resolve()):
        raise BackupRefused([Problem("dest-inside-data-dir", "keep backups outside the data "
                                     "directory they protect", "dest", str(dest))])
    if keep is not None and keep < 1:
        raise BackupRefused([Problem("keep-at-least-one", "retention keeps at least one backup",
                                     "--keep", keep)])
    src = cfg.sqlite_path
    if cfg.store == "embedded" and not src.is_file():
        raise BackupRefused([Problem("no-store", "there is no store file to back up",
                                     "TRACEGRAPH_DATA_DIR", str(cfg.data_dir))])
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{PREFIX}{stamp}"
    partial = dest / f"{PARTIAL}{name}.{os.getpid()}"
    private_dir(partial)
    try:
        manifest: dict[str, Any] = {"format": FORMAT, "tracegraphVersion": __version__,
                                    "engine": cfg.store, "createdAt": _now_text(now),
                                    "createdBy": by or _who()}
        if cfg.store == "embedded":
            _copy_sqlite(src, partial / STORE_FILE)
            if key is not None:
                _sign_checkpoint(partial, key)
            manifest.update(_store_facts(partial / STORE_FILE))
            manifest["checkpoint"] = CHECKPOINT if key is not None else None
        else:
            manifest.update(_export_portable(cfg, partial / PORTABLE_FILE))
        _copy_signals(cfg.data_dir / SIGNALS, partial / SIGNALS)
        _seal(partial, manifest, key)
        final = dest / name
        os.rename(partial, final)
        _fsync(dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    removed = _retain(dest, keep) if keep is not None else []
    return BackupResult(final, manifest, removed, time.perf_counter() - t0)


def _export_portable(cfg: Settings, out: Path) -> dict[str, Any]:
    """A server store (Neo4j) through the portable path (:mod:`graph.portable`): restores into
    either engine. No checkpoint: it would sign a later snapshot than the export."""
    from graph import open_store

    try:
        store = open_store(cfg.store, sqlite_path=cfg.sqlite_path, neo4j_uri=cfg.neo4j_uri,
                           neo4j_user=cfg.neo4j_user, neo4j_password=cfg.neo4j_password,
                           neo4j_database=cfg.neo4j_database)
    except Exception as e:  # the driver's errors: unreachable, refused credentials …
        raise BackupRefused([Problem(
            "store-unreachable", f"cannot open the {cfg.store} store ({e}); the server's own "
            "backup is neo4j-admin database dump (README, 'Backup and restore')", "NEO4J_URI",
            cfg.neo4j_uri)]) from None
    try:
        private_file(out)
        header = export_store(store, out)
        version = store.schema_version()
    finally:
        store.close()
    return {"layout": "portable", "storeId": header["storeId"], "schemaVersion": version,
            "watermark": header["watermark"], "checkpoint": None,
            "audit": {**header["audit"], "entries": header["counts"].get("audit", 0)}}


def _sign_checkpoint(root: Path, key: Ed25519PrivateKey) -> None:
    """A signed tree head of the copy's audit trail (verifies the chain first); the copy is
    put back into rollback-journal mode afterwards."""
    store = SQLiteStore(root / STORE_FILE)
    try:
        cp = checkpoint(store, key)
    finally:
        store.close()
    con = sqlite3.connect(root / STORE_FILE)
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    out = root / CHECKPOINT
    private_file(out)
    out.write_bytes(orjson.dumps(cp, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def complete_backups(dest: Path) -> list[Path]:
    """The sealed backups under ``dest``, oldest first."""
    if not dest.is_dir():
        return []
    return sorted(p for p in dest.iterdir()
                  if p.is_dir() and p.name.startswith(PREFIX) and (p / MANIFEST).is_file())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _retain(dest: Path, keep: int) -> list[Path]:
    """Remove all but the ``keep`` newest sealed backups, and the partial directories of
    backups whose process is gone (killed half-way)."""
    done = complete_backups(dest)
    gone = done[:-keep]
    for p in dest.iterdir():
        pid = p.name.rsplit(".", 1)[-1]
        if p.is_dir() and p.name.startswith(PARTIAL) and pid.isdigit() and not _alive(int(pid)):
            gone.append(p)
    for p in gone:
        shutil.rmtree(p)
    return gone
