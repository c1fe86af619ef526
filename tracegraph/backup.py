"""Backup and restore of the embedded store, while it is written (EU GMP Annex 11 §7.2,
21 CFR 11.10(c)).

A backup is one directory ``<dest>/tracegraph-backup-<UTC time>/`` holding

* ``tracegraph.sqlite``: the store, copied with SQLite's online backup API in one step, so the
  copy is the store as of one committed transaction (its watermark) while writers go on;
* ``signals/…``: the raw signal files (one SQLite file per UTC day and the loop state, each
  copied the same way; other files byte for byte);
* ``checkpoint.json`` (optional): a signed tree head of the copy's audit trail
  (:func:`graph.audit.checkpoint`);
* ``manifest.json``: format, tracegraph and schema version, store id, watermark, audit head
  (seq, hash, entry count), every file's size and SHA-256, when and by whom; a digest over all of
  it, and with a key an Ed25519 signature.

Everything is written into ``<dest>/.partial-…`` and renamed into place only when the manifest is
on disk, so a backup killed half-way is never a directory :func:`restore` accepts. Directories are
created 0700 and files 0600. ``secret.key`` (token signing) and the derivation-index cache
(``*.derivations.npz``) are not backed up: a restored system issues new tokens and rebuilds the
cache.

:func:`restore` checks the manifest and every checksum, copies into a staging directory beside the
target, checks the restored store against the manifest and runs ``audit verify`` on it (chain and
state); only then does the staging directory become the data directory. Any failure is a
:class:`BackupRefused` naming each problem, and nothing is written to the target.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import os
import shutil
import socket
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

import graph.engines.sqlite.queries as Q
from graph.audit import (
    CheckpointError,
    VerifyReport,
    checkpoint,
    verify_checkpoint,
    verify_store,
)
from graph.engines.sqlite.store import SQLiteStore
from graph.errors import Problem
from tracegraph import __version__
from tracegraph.settings import Settings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

__all__ = ["FORMAT", "MANIFEST", "BackupRefused", "BackupResult", "RestoreResult", "backup",
           "complete_backups", "restore"]

FORMAT = "tracegraph-backup/1"
MANIFEST = "manifest.json"
STORE_FILE = "tracegraph.sqlite"
SIGNALS = "signals"
CHECKPOINT = "checkpoint.json"
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


@dataclass(frozen=True)
class RestoreResult:
    data_dir: Path
    manifest: dict[str, Any]
    report: VerifyReport


# -- small file helpers ------------------------------------------------------------------------
def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700)
    path.chmod(0o700)  # mkdir's mode is masked by the umask


def _private_file(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    path.chmod(0o600)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
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
    _private_file(dst)
    source = sqlite3.connect(src, timeout=60)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)  # pages=-1: the whole database in one step
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()
        source.close()


def _canonical(manifest: dict[str, Any]) -> bytes:
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
    _private_dir(dst)
    for f in sorted(src.rglob("*")):
        out = dst / f.relative_to(src)
        if f.is_dir():
            _private_dir(out)
        elif f.is_file() and not f.name.endswith(_SIDE_FILES):
            if _is_sqlite(f):
                _copy_sqlite(f, out)
            else:
                _private_file(out)
                shutil.copyfile(f, out)


def _seal(root: Path, manifest: dict[str, Any], key: Ed25519PrivateKey | None) -> None:
    files: dict[str, dict[str, Any]] = {}
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        _fsync(f)
        files[f.relative_to(root).as_posix()] = {"sha256": _sha256(f), "bytes": f.stat().st_size}
    manifest["files"] = files
    if key is not None:
        manifest["publicKey"] = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    body = _canonical(manifest)
    manifest["digest"] = hashlib.sha256(body).hexdigest()
    if key is not None:
        manifest["signature"] = base64.b64encode(key.sign(body)).decode()
    out = root / MANIFEST
    _private_file(out)
    out.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    _fsync(out)
    _fsync(root)


def backup(cfg: Settings, dest: Path, keep: int | None = None,
           key: Ed25519PrivateKey | None = None, by: str | None = None,
           now: datetime | None = None) -> BackupResult:
    """Back up the configured embedded store and its raw signal files into a new directory
    under ``dest`` (see the module docstring); with ``keep``, remove all but the ``keep`` newest
    complete backups there afterwards. ``key`` signs an audit checkpoint and the manifest."""
    import time

    t0 = time.perf_counter()
    if cfg.store != "embedded":
        raise BackupRefused([Problem(
            "backup-engine", "tracegraph backup copies the embedded store; back up Neo4j with "
            "neo4j-admin database dump (README, 'Backup and restore')", "TRACEGRAPH_STORE",
            cfg.store)])
    if keep is not None and keep < 1:
        raise BackupRefused([Problem("keep-at-least-one", "retention keeps at least one backup",
                                     "--keep", keep)])
    src = cfg.sqlite_path
    if not src.is_file():
        raise BackupRefused([Problem("no-store", "there is no store file to back up",
                                     "TRACEGRAPH_DATA_DIR", str(cfg.data_dir))])
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{PREFIX}{stamp}"
    partial = dest / f"{PARTIAL}{name}.{os.getpid()}"
    _private_dir(partial)
    try:
        _copy_sqlite(src, partial / STORE_FILE)
        manifest: dict[str, Any] = {"format": FORMAT, "tracegraphVersion": __version__,
                                    "engine": "embedded", "createdAt": _now_text(now),
                                    "createdBy": by or _who()}
        if key is not None:
            _sign_checkpoint(partial, key)
        manifest.update(_store_facts(partial / STORE_FILE))
        manifest["checkpoint"] = CHECKPOINT if key is not None else None
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
    _private_file(out)
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


# -- restore -----------------------------------------------------------------------------------
_REQUIRED = ("format", "tracegraphVersion", "engine", "storeId", "schemaVersion", "watermark",
             "audit", "files", "createdAt", "createdBy", "digest")


def read_manifest(root: Path, public_key: Ed25519PublicKey | None = None
                  ) -> tuple[dict[str, Any], list[Problem]]:
    """The manifest of the backup in ``root`` and what is wrong with it or with the files."""
    path = root / MANIFEST
    if not path.is_file():
        return {}, [Problem("manifest-missing", "no manifest: not a tracegraph backup, or one "
                            "interrupted before it was sealed", MANIFEST, str(root))]
    try:
        m = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as e:
        return {}, [Problem("manifest-altered", f"the manifest is not JSON ({e})", MANIFEST,
                            str(path))]
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        return {}, [Problem("manifest-format", f"not a {FORMAT} manifest", "format",
                            m.get("format") if isinstance(m, dict) else None)]
    missing = [k for k in _REQUIRED if k not in m]
    if missing:
        return m, [Problem("manifest-altered", "the manifest lacks required fields", MANIFEST,
                           missing)]
    problems: list[Problem] = []
    body = _canonical(m)
    if hashlib.sha256(body).hexdigest() != m["digest"]:
        problems.append(Problem("manifest-altered", "the manifest's digest does not match its "
                                "content: it was edited after the backup was sealed", "digest",
                                m["digest"]))
    problems += _signature_problems(m, body, public_key)
    if int(m["schemaVersion"]) > Q.SCHEMA_VERSION:
        problems.append(Problem("backup-newer", f"the backup's store schema is newer than this "
                                f"tracegraph's ({Q.SCHEMA_VERSION}); restore it with "
                                f"tracegraph {m['tracegraphVersion']} or later",
                                "schemaVersion", m["schemaVersion"]))
    problems += _file_problems(root, m["files"])
    return m, problems


def _signature_problems(m: dict[str, Any], body: bytes, public_key: Ed25519PublicKey | None
                        ) -> list[Problem]:
    from cryptography.exceptions import InvalidSignature

    sig = m.get("signature")
    if public_key is None:
        return []
    if not sig:
        return [Problem("manifest-unsigned", "a public key was given but the backup is not "
                        "signed", "signature", None)]
    try:
        public_key.verify(base64.b64decode(sig), body)
    except (InvalidSignature, ValueError):
        return [Problem("manifest-signature", "the manifest's signature does not verify with "
                        "the given public key: altered, or signed by another key", "signature",
                        sig[:16] + "…")]
    return []


def _file_problems(root: Path, files: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    for rel, want in sorted(files.items()):
        f = root / rel
        if not f.is_file():
            problems.append(Problem("file-missing", "a file the manifest lists is missing",
                                    rel, want.get("sha256")))
        elif f.stat().st_size != want.get("bytes") or _sha256(f) != want.get("sha256"):
            problems.append(Problem("checksum", "the file's SHA-256 differs from the manifest's:"
                                    " it was altered or damaged", rel, want.get("sha256")))
    listed = set(files) | {MANIFEST}
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = f.relative_to(root).as_posix()
        if rel not in listed:
            problems.append(Problem("file-unlisted", "a file the manifest does not list",
                                    rel, None))
    return problems


def _copy_verified(root: Path, staging: Path, files: dict[str, Any]) -> list[Problem]:
    """Copy the listed files, hashing what is written (a file changed after the check is
    caught here)."""
    problems: list[Problem] = []
    for rel, want in sorted(files.items()):
        if rel == CHECKPOINT:  # evidence that stays with the backup
            continue
        out = staging / rel
        for parent in reversed(out.relative_to(staging).parents[:-1]):
            if not (staging / parent).exists():
                _private_dir(staging / parent)
        _private_file(out)
        shutil.copyfile(root / rel, out)
        if _sha256(out) != want.get("sha256"):
            problems.append(Problem("checksum", "the file changed while it was restored", rel,
                                    want.get("sha256")))
    return problems


def _store_problems(store: SQLiteStore, m: dict[str, Any]) -> list[Problem]:
    seq, head_hash = store.audit_head()
    got = {"storeId": store.store_id, "watermark": store.watermark(), "audit.headSeq": seq,
           "audit.headHash": head_hash}
    want = {"storeId": m["storeId"], "watermark": m["watermark"],
            "audit.headSeq": m["audit"].get("headSeq"),
            "audit.headHash": m["audit"].get("headHash")}
    return [Problem("manifest-mismatch", f"the restored store has {got[k]!r}", k, want[k])
            for k in got if got[k] != want[k]]


def _verify_problems(r: VerifyReport) -> list[Problem]:
    if r.first_bad is not None:
        return [Problem("audit-verify", f"the audit trail does not verify: {r.first_bad.reason}",
                        "audit", r.first_bad.seq)]
    if r.state is not None and not r.state.ok:
        first = r.state.diffs[0].describe() if r.state.diffs else ""
        return [Problem("audit-verify", f"the stored state differs from the audit trail in "
                        f"{r.state.differences} place(s); first: {first}", "state",
                        r.state.differences)]
    return []


def restore(backup_dir: Path, data_dir: Path, public_key: Ed25519PublicKey | None = None,
            progress: Callable[[str, int], None] | None = None) -> RestoreResult:
    """Restore the backup in ``backup_dir`` into the fresh (missing or empty) ``data_dir``,
    or raise :class:`BackupRefused` having written nothing there (module docstring)."""
    problems: list[Problem] = []
    if backup_dir.name.startswith(PARTIAL):
        problems.append(Problem("backup-incomplete", "an unfinished backup (its process stopped "
                                "before renaming it into place)", "backup", str(backup_dir)))
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        problems.append(Problem("target-not-empty", "restore only into a fresh data directory "
                                "(missing or empty)", "data-dir", str(data_dir)))
    m, found = read_manifest(backup_dir, public_key)
    problems += found
    if problems:
        raise BackupRefused(problems)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = data_dir.parent / f".restore-partial-{data_dir.name}.{os.getpid()}"
    _private_dir(staging)
    try:
        problems = _copy_verified(backup_dir, staging, m["files"])
        report: VerifyReport | None = None
        if not problems:
            store = SQLiteStore(staging / STORE_FILE)
            try:
                problems = _store_problems(store, m)
                if not problems:
                    report = _verify(store, backup_dir, m, public_key, progress)
                    problems = _verify_problems(report)
            finally:
                store.close()
        if problems or report is None:
            raise BackupRefused(problems)
        if data_dir.exists():
            data_dir.rmdir()
        os.rename(staging, data_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RestoreResult(data_dir, m, report)


def _verify(store: SQLiteStore, root: Path, m: dict[str, Any],
            public_key: Ed25519PublicKey | None,
            progress: Callable[[str, int], None] | None) -> VerifyReport:
    """``audit verify`` of the restored store: against the backup's checkpoint when there is
    one and a public key to check it with, else end to end."""
    if m.get("checkpoint") and public_key is not None:
        cp = orjson.loads((root / CHECKPOINT).read_bytes())
        try:
            return verify_checkpoint(store, cp, public_key, progress=progress)
        except CheckpointError as e:
            raise BackupRefused([Problem("checkpoint", str(e), CHECKPOINT, cp.get("seq"))]
                                ) from None
    return verify_store(store, progress=progress)
