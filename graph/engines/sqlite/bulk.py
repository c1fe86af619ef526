"""Bulk loading into the embedded store (``tracegraph load --bulk``).

A bulk load is the one write path (:class:`graph.write.Writer`: the same idempotency, ontology,
authority, guards, shapes and hash-chained audit, one transaction per capture document, each
committed with ``synchronous=FULL``); only the store is set up for many large writes in a row:

* **Deferred secondary indexes.** The indexes no read of the write path uses — the audit
  trail's lookups by record, actor and time, and nodes by business key (:data:`DEFERRED`) —
  are dropped for the load and built once at its end, by sorting, instead of being updated
  entry by entry in random order. Every index the write path reads through (IRIs, edge keys
  both ways, edges by transaction, identifiers by node, classes) stays. The statements that
  build them are :data:`graph.engines.sqlite.queries.SCHEMA_V4`'s own, which runs on every open:
  a load that dies midway leaves the data of every committed document, and the next open of
  the store builds the missing indexes.
* **Fewer checkpoints, a larger page cache.** The WAL is copied back into the database every
  :data:`CHECKPOINT_PAGES` pages rather than every 1,000, so a page written by many documents is
  copied (and synced) once; durability is the WAL's, synced at every commit as before.

While a bulk load runs, other readers of the file are correct but slower on the deferred
lookups (audit by record, find by key).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import graph.engines.sqlite.queries as Q
from graph.engines.sqlite.store import SQLiteStore

__all__ = ["CHECKPOINT_PAGES", "DEFERRED", "bulk_session"]

#: the secondary indexes a bulk load builds at its end (their statements are in Q.SCHEMA_V4)
DEFERRED = ("audit_record", "audit_actor", "audit_at", "nodes_key")
CHECKPOINT_PAGES = 65_536  # 256 MB of 4 KB pages
_CACHE_MB = 512
_DEFAULT_CHECKPOINT = 1000  # SQLite's


def _create_statements() -> dict[str, str]:
    found = {m.group(1): m.group(0) for m in re.finditer(
        r"CREATE INDEX IF NOT EXISTS (\w+) ON [^;]+;", Q.SCHEMA_V4)}
    return {name: found[name] for name in DEFERRED}


@contextmanager
def bulk_session(store: SQLiteStore, phases: dict[str, float] | None = None
                 ) -> Iterator[dict[str, float]]:
    """Set the store up for a bulk load for the duration of the block (see the module
    docstring); yields ``phases`` (a new dict if not given), which receives the seconds spent
    building the deferred indexes (``indexes``) and in the final checkpoint (``checkpoint``)."""
    c = store._conn()
    sync = int(c.execute("PRAGMA synchronous").fetchone()[0])
    if sync != 2:
        raise RuntimeError(f"the store runs with synchronous={sync}; a bulk load keeps FULL (2)")
    creates = _create_statements()
    phases = {} if phases is None else phases
    c.execute(f"PRAGMA cache_size=-{_CACHE_MB * 1024}")
    c.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
    c.execute("BEGIN IMMEDIATE")
    for name in DEFERRED:
        c.execute(f"DROP INDEX IF EXISTS {name}")
    c.execute("COMMIT")
    try:
        yield phases
    finally:
        t = time.perf_counter()
        c.execute("BEGIN IMMEDIATE")
        try:
            for sql in creates.values():
                c.execute(sql)
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")
        phases["indexes"] = time.perf_counter() - t
        t = time.perf_counter()
        c.execute(f"PRAGMA wal_autocheckpoint={_DEFAULT_CHECKPOINT}")
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for pragma in (*Q.PRAGMAS, *store._memory):
            if pragma.startswith("PRAGMA cache_size"):
                c.execute(pragma)
        phases["checkpoint"] = time.perf_counter() - t
