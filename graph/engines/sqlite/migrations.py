"""The embedded store's schema versions (:data:`graph.schema.SCHEMA_VERSION`) and the steps
between them.

:data:`graph.engines.sqlite.queries.SCHEMA` is the layout of versions 2 and 3, and
:data:`~graph.engines.sqlite.queries.SCHEMA_V4` that of version 4 (every statement
``IF NOT EXISTS``; the one of the file's version runs on every open, so a dropped append-only
trigger comes back); the steps bring it to the current version. A fresh file gets the same
steps as an upgraded one, so a fresh store and an upgraded store have one layout. Every step
runs inside the caller's write transaction (``BEGIN IMMEDIATE``): SQLite's DDL and header
pragmas are transactional, so a failure or a crash anywhere leaves the file at the version it
had.

The version is read without writing (:func:`stored_version`, on a query-only connection), so
a newer or foreign file is refused before the engine touches it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote

import graph.engines.sqlite.queries as Q
from graph.engines.sqlite.rows import as_json
from graph.schema import SCHEMA_VERSION, StoreVersionError

__all__ = ["APPLICATION_ID", "COMPACT_AUDIT", "STEPS", "check_openable", "hash_value",
           "layout_of", "migrate", "restore_audit_view", "stored_version"]

#: ``PRAGMA application_id`` of a tracegraph store: "TRCG" as a big-endian 32-bit integer.
APPLICATION_ID = int.from_bytes(b"TRCG", "big")

#: the version from which the audit trail is stored as :data:`Q.AUDIT_V4` says
COMPACT_AUDIT = 4

Step = Callable[[sqlite3.Connection, Sequence[str]], None]


def _identifiers_table(c: sqlite3.Connection, identifiers: Sequence[str]) -> None:
    """Version 2: every identifier value of every node in the ``identifiers`` table (the table
    itself is in :data:`Q.SCHEMA`)."""
    c.execute(Q.REINDEX_IDENTIFIERS, (as_json(sorted(identifiers)),))


def _identity_in_header(c: sqlite3.Connection, identifiers: Sequence[str]) -> None:
    """Version 3: the file's header names it a tracegraph store (the version follows in
    :func:`migrate`, ``PRAGMA user_version``)."""
    c.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def hash_value(text: str | bytes | None) -> str | bytes | None:
    """A stored hash as its 32 bytes when it is 64 lower-case hex digits (the text it decodes
    back to exactly), else as it is (kept for the verifier to judge)."""
    if isinstance(text, str) and len(text) == 64:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            return text
        return raw if raw.hex() == text else text
    return text


def _compact_audit(c: sqlite3.Connection, identifiers: Sequence[str]) -> None:
    """Version 4: the audit trail in :data:`Q.AUDIT_V4`'s layout (codes, hashes as bytes, no
    stored previous hash), every entry's values read back the same through the ``audit``
    view, so every hash stays what it was."""
    c.create_function("tg_hash", 1, hash_value, deterministic=True)
    for sql in Q.AUDIT_V4[:2]:  # the two tables
        c.execute(sql)
    c.execute(Q.COPY_AUDIT_TERMS)
    copied = c.execute(Q.COPY_AUDIT).rowcount
    entries = int(c.execute(Q.COUNT_AUDIT).fetchone()[0])
    if copied != entries:  # (cannot happen: every term was just added; checked to be exact)
        raise sqlite3.IntegrityError(
            f"{entries - copied} of {entries} audit entries could not be carried into the "
            "layout of schema 4; the upgrade is rolled back")
    c.execute(Q.DROP_AUDIT_V3)  # (its indexes and triggers go with it)
    for sql in Q.AUDIT_V4[2:]:  # indexes, triggers, the view
        c.execute(sql)


#: step to version n (from n - 1)
STEPS: dict[int, Step] = {2: _identifiers_table, 3: _identity_in_header, 4: _compact_audit}


def stored_version(path: str) -> int | None:
    """The schema version the file at ``path`` records, read on a query-only connection;
    ``None`` for a file that does not exist or holds no tracegraph tables yet. Raises
    :class:`StoreVersionError` for a SQLite file of another application."""
    if path == ":memory:" or not Path(path).is_file() or Path(path).stat().st_size == 0:
        return None
    # read-write but query-only: as the last connection it removes the WAL side files it made
    # (a read-only one leaves them behind), so a refused store's directory is as it was
    con = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=60)
    try:
        con.execute("PRAGMA query_only = 1")
        app_id = int(con.execute("PRAGMA application_id").fetchone()[0])
        if app_id not in (0, APPLICATION_ID):
            raise StoreVersionError(path, 0, message=(
                f"{path} is a SQLite file of another application (application_id {app_id:#x}),"
                " not a tracegraph store; nothing was written to it"))
        has_meta = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                               "name = 'meta'").fetchone()
        if has_meta is None:
            return None
        row = con.execute(Q.GET_SCHEMA_VERSION).fetchone()
    finally:
        con.close()
    return 1 if row is None else int(row[0])


def layout_of(version: int | None) -> str:
    """The statements (all ``IF NOT EXISTS``) of the layout of a file at ``version`` (``None``:
    a fresh file, made at version 3 and brought up by the steps)."""
    return Q.SCHEMA_V4 if version is not None and version >= COMPACT_AUDIT else Q.SCHEMA


def restore_audit_view(c: sqlite3.Connection) -> bool:
    """Put back the ``audit`` view of a schema-4 file where its statement is not this code's
    (replaced by whoever held the file): the trail is read, and verified, only through the
    decoding :data:`Q.AUDIT_V4` defines. Returns whether it was replaced."""
    row = c.execute(Q.AUDIT_VIEW_IN_FILE).fetchone()
    if row is None or row[0] != "view" or row[1] == Q.AUDIT_VIEW_STORED:
        return False  # (missing: made by the layout's statements; a table: not ours to drop)
    c.execute("BEGIN IMMEDIATE")
    try:
        c.execute("DROP VIEW audit")
        c.execute(Q.AUDIT_V4[-1])
    except BaseException:
        c.execute("ROLLBACK")
        raise
    c.execute("COMMIT")
    return True


def check_openable(path: str) -> int | None:
    """:func:`stored_version`, refusing a store newer than this code."""
    found = stored_version(path)
    if found is not None and found > SCHEMA_VERSION:
        raise StoreVersionError(path, found)
    return found


def migrate(c: sqlite3.Connection, found: int, identifiers: Sequence[str]) -> None:
    """Run the steps from ``found`` to :data:`SCHEMA_VERSION` and record the version, on
    ``c`` inside the caller's transaction."""
    for version in range(found + 1, SCHEMA_VERSION + 1):
        STEPS[version](c, identifiers)
    c.execute(Q.SET_SCHEMA_VERSION, (str(SCHEMA_VERSION),))
    c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
