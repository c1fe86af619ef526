"""Restore of a backup made by :mod:`tracegraph.backup` into a fresh data directory: the
manifest and every checksum are checked, the files copied into a staging directory beside the
target, the restored store checked against the manifest and ``audit verify`` run on it (chain and
state); only then does the staging directory become the data directory. Any failure is a
:class:`tracegraph.backup.BackupRefused` naming each problem, and nothing is written to the
target. A restore into an empty Neo4j database (``server``) does all of that in the staging
copy, then loads the store through the portable path and verifies it there."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from graph.audit import CheckpointError, VerifyReport, verify_checkpoint, verify_store
from graph.engines.sqlite.store import SQLiteStore
from graph.errors import Problem
from graph.port import GraphStore
from graph.portable import PortableError, export_store, import_store
from graph.schema import SCHEMA_VERSION
from tracegraph.backup import (
    CHECKPOINT,
    FORMAT,
    MANIFEST,
    PARTIAL,
    PORTABLE_FILE,
    STORE_FILE,
    BackupRefused,
    canonical,
    private_dir,
    private_file,
    sha256_of,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["RestoreResult", "ServerStore", "read_manifest", "restore"]


@dataclass(frozen=True)
class RestoreResult:
    data_dir: Path
    manifest: dict[str, Any]
    report: VerifyReport
    engine: str = "embedded"  # where the store was restored to


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
    shape = _shape_problems(m)
    if shape:
        return m, shape
    problems: list[Problem] = []
    body = canonical(m)
    if hashlib.sha256(body).hexdigest() != m["digest"]:
        problems.append(Problem("manifest-altered", "the manifest's digest does not match its "
                                "content: it was edited after the backup was sealed", "digest",
                                m["digest"]))
    problems += _signature_problems(m, body, public_key)
    if int(m["schemaVersion"]) > SCHEMA_VERSION:
        problems.append(Problem("backup-newer", f"the backup's store schema is newer than this "
                                f"tracegraph's ({SCHEMA_VERSION}); restore it with "
                                f"tracegraph {m['tracegraphVersion']} or later",
                                "schemaVersion", m["schemaVersion"]))
    problems += _file_problems(root, m["files"])
    return m, problems


def _shape_problems(m: dict[str, Any]) -> list[Problem]:
    """Fields of the wrong type, and file names that would leave the backup or the target
    directory (an absolute path, ``..``): a manifest is input like any other."""
    files, audit = m["files"], m["audit"]
    if not (isinstance(files, dict) and isinstance(audit, dict)
            and all(isinstance(v, dict) for v in files.values())
            and isinstance(m["watermark"], int) and isinstance(m["schemaVersion"], int)):
        return [Problem("manifest-altered", "files, audit, watermark or schemaVersion have the "
                        "wrong type", MANIFEST, None)]
    problems = [Problem("file-path", "a file name must stay inside the backup (relative, no "
                        "'..')", "files", rel) for rel in sorted(files)
                if not rel or PurePosixPath(rel).is_absolute() or ".." in PurePosixPath(rel).parts
                or "\\" in rel]
    need = PORTABLE_FILE if m.get("layout") == "portable" else STORE_FILE
    if need not in files:
        problems.append(Problem("file-missing", "the manifest does not list the store", "files",
                                need))
    return problems


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
        elif f.stat().st_size != want.get("bytes") or sha256_of(f) != want.get("sha256"):
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
        if rel in (CHECKPOINT, PORTABLE_FILE):  # evidence / loaded, not copied
            continue
        out = staging / rel
        for parent in reversed(out.relative_to(staging).parents[:-1]):
            if not (staging / parent).exists():
                private_dir(staging / parent)
        private_file(out)
        shutil.copyfile(root / rel, out)
        if sha256_of(out) != want.get("sha256"):
            problems.append(Problem("checksum", "the file changed while it was restored", rel,
                                    want.get("sha256")))
    return problems


def _import_portable(store: GraphStore, path: Path) -> list[Problem]:
    try:
        import_store(store, path)
    except PortableError as e:
        return [Problem("portable", str(e), PORTABLE_FILE, None)]
    return []


def _store_problems(store: GraphStore, m: dict[str, Any], same_store: bool = True
                    ) -> list[Problem]:
    seq, head_hash = store.audit_head()
    got = {"watermark": store.watermark(), "audit.headSeq": seq, "audit.headHash": head_hash}
    want = {"watermark": m["watermark"], "audit.headSeq": m["audit"].get("headSeq"),
            "audit.headHash": m["audit"].get("headHash")}
    if same_store and m.get("layout") != "portable":  # a portable load makes a new store
        got["storeId"], want["storeId"] = getattr(store, "store_id", None), m["storeId"]
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


class ServerStore(GraphStore, Protocol):
    """A server engine's store (Neo4j) a restore loads into: emptied again on failure."""

    def wipe(self) -> None: ...


def _server_problems(server: ServerStore | None) -> list[Problem]:
    if server is None or (server.watermark() == 0 and server.audit_head()[0] == 0):
        return []
    return [Problem("target-not-empty", f"restore into a {server.engine} database only when it "
                    f"is empty (it is at watermark {server.watermark()})", "NEO4J_URI",
                    getattr(server, "where", server.engine))]


def _into_server(store: SQLiteStore, server: ServerStore, staging: Path, m: dict[str, Any],
                 progress: Callable[[str, int], None] | None
                 ) -> tuple[list[Problem], VerifyReport | None]:
    """The verified staged store into the empty server store through the portable path; then
    the server store checked against the manifest and ``audit verify`` run on it."""
    out = staging / f".load-{PORTABLE_FILE}"
    try:
        private_file(out)
        export_store(store, out)
        problems = _import_portable(server, out)
    finally:
        out.unlink(missing_ok=True)
    problems = problems or _store_problems(server, m, same_store=False)
    if problems:
        return problems, None
    report = verify_store(server, progress=progress)
    return _verify_problems(report), report


def restore(backup_dir: Path, data_dir: Path, public_key: Ed25519PublicKey | None = None,
            progress: Callable[[str, int], None] | None = None,
            server: ServerStore | None = None) -> RestoreResult:
    """Restore the backup in ``backup_dir`` into the fresh (missing or empty) ``data_dir``,
    or raise :class:`BackupRefused` having written nothing there (module docstring).

    With ``server`` (an empty Neo4j store) the store goes there instead: the backup is checked
    and verified in a staging copy exactly as for the embedded engine (its signed checkpoint
    too), loaded through the portable path, checked against the manifest and verified again
    in the server; ``data_dir`` gets the raw signal files. On any failure the server store is
    emptied again and nothing is left in ``data_dir``."""
    problems: list[Problem] = []
    if backup_dir.name.startswith(PARTIAL):
        problems.append(Problem("backup-incomplete", "an unfinished backup (its process stopped "
                                "before renaming it into place)", "backup", str(backup_dir)))
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        problems.append(Problem("target-not-empty", "restore only into a fresh data directory "
                                "(missing or empty)", "data-dir", str(data_dir)))
    problems += _server_problems(server)
    m, found = read_manifest(backup_dir, public_key)
    problems += found
    if problems:
        raise BackupRefused(problems)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = data_dir.parent / f".restore-partial-{data_dir.name}.{os.getpid()}"
    private_dir(staging)
    loading = False
    try:
        problems = _copy_verified(backup_dir, staging, m["files"])
        report: VerifyReport | None = None
        if not problems:
            store = SQLiteStore(staging / STORE_FILE)
            try:
                if m.get("layout") == "portable":
                    problems = _import_portable(store, backup_dir / PORTABLE_FILE)
                problems = problems or _store_problems(store, m)
                if not problems:
                    report = _verify(store, backup_dir, m, public_key, progress)
                    problems = _verify_problems(report)
                if not problems and server is not None:
                    loading = True
                    problems, report = _into_server(store, server, staging, m, progress)
            finally:
                store.close()
        if problems or report is None:
            raise BackupRefused(problems)
        if server is not None:  # the store lives in the server: only the signal files stay
            for side in ("", "-wal", "-shm", ".derivations.npz"):
                (staging / f"{STORE_FILE}{side}").unlink(missing_ok=True)
        if data_dir.exists():
            data_dir.rmdir()
        os.rename(staging, data_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if loading and server is not None:
            server.wipe()
        raise
    return RestoreResult(data_dir, m, report, "embedded" if server is None else server.engine)


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
