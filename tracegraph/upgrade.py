"""Store upgrades (issue 19 item 3): a newer tracegraph on an older store.

The store records its schema version (:data:`graph.schema.SCHEMA_VERSION` lists them). Opening
a store through :meth:`tracegraph.runtime.Runtime.open` — ``serve``, ``load`` and every CLI
command that opens the configured store — calls :func:`upgrade`:

1. a store at the current version: nothing happens;
2. an older store: first an automatic backup (:func:`tracegraph.backup.backup`, the store and
   the raw signal files, sealed manifest) into :func:`backup_dir`; then **one** write
   transaction through the Writer holding the engine's migration steps
   (``StoreTx.migrate_schema``), the new version and a ``StoreUpgrade`` record (from and to
   version, tracegraph version, the backup's location and manifest digest), so the audit trail
   records the upgrade with the same commit. Any failure — a refused backup, a failing step, a
   crash — leaves the store at its old version (the backup stays where it was written), and
   :class:`UpgradeError` says so;
3. a newer store: every engine refuses to open it before writing anything
   (:class:`graph.schema.StoreVersionError`, naming both versions).

Two processes starting together both back up; the second finds the store current under the
write lock and writes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from graph.port import GraphStore, StoreTx
from graph.schema import SCHEMA_VERSION
from graph.session import node_event
from graph.write import NodeUpsert, WriteEvent, Writer
from ontology.authority import Command
from ontology.datatypes import StoredValue
from ontology.terms import C, P
from tracegraph import __version__
from tracegraph.backup import BackupRefused, backup
from tracegraph.settings import Settings

__all__ = ["UpgradeError", "UpgradeResult", "backup_dir", "upgrade"]


class UpgradeError(RuntimeError):
    """An upgrade that did not happen: the store is still at ``found``; ``backup`` is the backup
    taken before the attempt (``None`` if the backup itself failed)."""

    def __init__(self, message: str, found: int, backup: Path | None) -> None:
        super().__init__(message)
        self.found = found
        self.backup = backup


@dataclass(frozen=True)
class UpgradeResult:
    from_version: int
    to_version: int
    backup: Path
    manifest_digest: str
    record: str  # IRI of the StoreUpgrade record
    seconds: float


def backup_dir(cfg: Settings) -> Path:
    """Where the backup before an upgrade goes: ``TRACEGRAPH_UPGRADE_BACKUP_DIR``, else the
    directory ``<data dir>-upgrade-backups`` beside the data directory (never inside it)."""
    if cfg.upgrade_backup_dir is not None:
        return cfg.upgrade_backup_dir
    data = cfg.data_dir.absolute()
    return data.parent / f"{data.name}-upgrade-backups"


def upgrade(cfg: Settings, store: GraphStore, writer: Writer, dest: Path | None = None,
            actor: str | None = None) -> UpgradeResult | None:
    """Upgrade the configured ``store`` (opened from ``cfg``) to :data:`SCHEMA_VERSION` as the
    module docstring says; ``None`` when it was current (or another process upgraded it
    first). Raises :class:`UpgradeError` with the store left at its version."""
    found = store.schema_version()
    if found >= SCHEMA_VERSION:
        return None
    t0 = time.perf_counter()
    try:
        b = backup(cfg, dest or backup_dir(cfg), by=f"tracegraph {__version__} upgrade")
    except BackupRefused as e:
        raise UpgradeError(f"the store was not upgraded from schema version {found} to "
                           f"{SCHEMA_VERSION}: the backup before the upgrade was refused ({e}); "
                           "nothing was changed", found, None) from e
    digest = str(b.manifest["digest"])
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    key = f"UPG-{found}-{SCHEMA_VERSION}-{stamp}"
    iri = writer.vocab.mint_iri(C.StoreUpgrade, key)
    who = actor or cfg.default_actor

    def events(tx: StoreTx) -> list[WriteEvent]:
        was = tx.migrate_schema()  # the steps, in this transaction
        if was >= SCHEMA_VERSION:
            return []  # upgraded by another process meanwhile: nothing to record
        props: dict[str, StoredValue] = {P.recordNumber: key, P.fromSchemaVersion: was,
                 P.toSchemaVersion: SCHEMA_VERSION, P.softwareVersion: __version__,
                 P.backupLocation: str(b.path), P.backupManifestDigest: digest}
        return [node_event([NodeUpsert(C.StoreUpgrade, key, iri, props)], who,
                           f"store schema upgraded from version {was} to {SCHEMA_VERSION} by "
                           f"tracegraph {__version__}; backup {b.path} (manifest digest "
                           f"{digest}) taken before", f"store-upgrade:{key}",
                           command=Command.UPGRADE_STORE)]

    try:
        written = writer.apply(events)
    except Exception as e:
        raise UpgradeError(f"the upgrade from schema version {found} to {SCHEMA_VERSION} failed "
                           f"and was rolled back ({type(e).__name__}: {e}); the store is still "
                           f"at version {found}; the backup taken before it is {b.path}",
                           found, b.path) from e
    store.schema_version()  # re-read the store's identity (a Neo4j store id is new)
    if written.events_written == 0:
        return None
    return UpgradeResult(found, SCHEMA_VERSION, b.path, digest, iri, time.perf_counter() - t0)
