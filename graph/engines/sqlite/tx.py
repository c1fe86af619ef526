"""The embedded engine's reads over one connection and its write transaction: nodes with their
identifiers, edges, the audit trail (schema 4: terms as codes of ``audit_terms``, hashes as
bytes, :data:`graph.engines.sqlite.queries.AUDIT_V4`; schema 3: the one ``audit`` table) and
capture event ids, and the removal of a rolled-back migration stage. Used by
:class:`graph.engines.sqlite.store.SQLiteStore`.
"""

from __future__ import annotations

import sqlite3
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

import graph.engines.sqlite.migrations as M
import graph.engines.sqlite.queries as Q
from graph.audit_chain import GENESIS, canonical_text
from graph.engines.common import ChunkedReads, EngineTx, chunks
from graph.engines.sqlite.rows import CHUNK, as_json, edge_of, ids_of, node_of
from graph.model import AuditEntry, CapturedEvent, EdgeRecord, NodeRecord
from graph.schema import SCHEMA_VERSION, StoreVersionError

__all__ = ["SQLiteReads", "SQLiteTx"]


def _scalars(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


class SQLiteReads(ChunkedReads):
    """The chunked reads over one connection (the store's per thread, or a transaction's)."""

    chunk_size = CHUNK

    @abstractmethod
    def _conn(self) -> sqlite3.Connection: ...

    def _nodes_chunk(self, iris: list[str]) -> Iterator[NodeRecord]:
        return (node_of(r) for r in self._conn().execute(Q.NODES_BY_IRIS, (as_json(iris),)))

    def _links_chunk(self, iris: list[str], outgoing: bool) -> Iterator[EdgeRecord]:
        sql = Q.LINKS_OUT if outgoing else Q.LINKS_IN
        return (edge_of(r) for r in self._conn().execute(sql, (as_json(iris),)))

    def _typed_links_chunk(self, iris: list[str], outgoing: bool, types: list[str]
                           ) -> Iterator[EdgeRecord]:
        sql = Q.TYPED_LINKS_OUT if outgoing else Q.TYPED_LINKS_IN
        return (edge_of(r) for r in self._conn().execute(sql, (as_json(iris), as_json(types))))

    def _events_chunk(self, event_ids: list[str]) -> Iterator[CapturedEvent]:
        return (CapturedEvent(eid, h, tx, rec) for eid, h, tx, rec
                in self._conn().execute(Q.EVENTS_BY_IDS, (as_json(event_ids),)))


class SQLiteTx(SQLiteReads, EngineTx):
    def __init__(self, conn: sqlite3.Connection, tx_id: int, at: str,
                 identifiers: frozenset[str]) -> None:
        self.conn = conn
        self.tx_id = tx_id
        self.at = at
        self.identifiers = identifiers
        row = conn.execute(Q.GET_SCHEMA_VERSION).fetchone()
        #: whether the audit trail is stored in the layout of version 4 (Q.AUDIT_V4)
        self.compact = row is not None and int(row[0]) >= M.COMPACT_AUDIT

    def _conn(self) -> sqlite3.Connection:
        return self.conn

    def migrate_schema(self) -> int:
        """Bring the file to :data:`SCHEMA_VERSION` inside this transaction (its steps, then
        the version); returns the version found under the write lock."""
        row = self.conn.execute(Q.GET_SCHEMA_VERSION).fetchone()
        found = 1 if row is None else int(row[0])
        if found > SCHEMA_VERSION:
            raise StoreVersionError("this store", found)
        if found < SCHEMA_VERSION:
            M.migrate(self.conn, found, sorted(self.identifiers))
            self.compact = True
        return found

    def _last_audit(self) -> tuple[int, str] | None:
        row = self.conn.execute(Q.AUDIT_HEAD).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def write(self, nodes: Sequence[NodeRecord], edges: Sequence[EdgeRecord],
              audit: Sequence[AuditEntry], events: Sequence[CapturedEvent]) -> None:
        c = self.conn
        c.executemany(Q.UPSERT_NODE, (
            (n.iri, n.label, n.key, orjson.dumps(n.props).decode(), n.recorded_at,
             n.updated_at, n.tx) for n in nodes))
        ids = ids_of(c, {n.iri for n in nodes} | {e.src for e in edges} | {e.dst for e in edges})
        if nodes:
            written = [ids[n.iri] for n in nodes]
            for chunk in chunks(written, CHUNK):
                c.execute(Q.DELETE_IDENTIFIERS, (as_json(chunk),))
            c.executemany(Q.INSERT_IDENTIFIER, (
                (v, p, ids[n.iri]) for n in nodes for p in self.identifiers & n.props.keys()
                for v in _scalars(n.props[p])))
        if edges:
            c.executemany(Q.INSERT_EDGE, (
                (ids[e.src], e.type, ids[e.dst], e.eid, orjson.dumps(e.props).decode(),
                 e.recorded_at, e.tx) for e in edges))
        if self.compact:
            self._append_audit(audit)
        else:
            c.executemany(Q.INSERT_AUDIT, (
                (a.seq, a.tx, a.at, a.actor, a.action, a.record, a.record_class, a.field,
                 canonical_text(a.old), canonical_text(a.new), a.reason, a.event_id,
                 a.prev_hash, a.hash) for a in audit))
        c.executemany(Q.INSERT_EVENT, (
            (e.event_id, e.content_hash, e.tx, e.recorded_at) for e in events))

    def _append_audit(self, audit: Sequence[AuditEntry]) -> None:
        """The entries into ``audit_log`` (Q.AUDIT_V4): their terms as codes (new terms added to
        ``audit_terms``), the hash as bytes, the previous hash only where it is not the hash of
        the entry before (never, for a chain the Writer made)."""
        if not audit:
            return
        c = self.conn
        terms = {t for a in audit for t in (a.actor, a.action, a.record_class, a.field, a.reason)
                 if t is not None}
        codes = self._codes(terms)
        if len(codes) < len(terms):
            c.executemany(Q.INSERT_TERM, ((t,) for t in sorted(terms - codes.keys())))
            codes = self._codes(terms)
        head = self._last_audit()
        prev = GENESIS if head is None else head[1]
        rows = []
        for a in audit:
            rows.append((a.seq, a.tx, a.at, codes[a.actor], codes[a.action], a.record,
                         codes[a.record_class], None if a.field is None else codes[a.field],
                         canonical_text(a.old), canonical_text(a.new),
                         None if a.reason is None else codes[a.reason], a.event_id,
                         M.hash_value(a.hash),
                         None if a.prev_hash == prev else M.hash_value(a.prev_hash)))
            prev = a.hash
        c.executemany(Q.INSERT_AUDIT_LOG, rows)

    def _codes(self, terms: set[str]) -> dict[str, int]:
        return dict(self.conn.execute(Q.TERM_CODES, (as_json(terms),)).fetchall())

    def remove(self, iris: Sequence[str], audit: Sequence[AuditEntry],
               event_prefix: str) -> None:
        c = self.conn
        ids = list(ids_of(c, iris).values())
        for chunk in chunks(ids, CHUNK):
            c.execute(Q.DELETE_IDENTIFIERS, (as_json(chunk),))
            c.execute(Q.DELETE_EDGES_OF, (as_json(chunk),))
            c.execute(Q.DELETE_NODES, (as_json(chunk),))
        c.execute(Q.DELETE_EVENTS_PREFIX, (event_prefix, event_prefix + "\U0010ffff"))
        c.execute(Q.SET_PRUNED_TX, (str(self.tx_id),))
        self.write([], [], audit, [])
