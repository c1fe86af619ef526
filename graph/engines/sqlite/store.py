"""The embedded engine: one SQLite file in WAL mode (``synchronous=FULL``).

What it really does:

* **Tables.** Nodes and edges are two tables (node properties as JSON text; edges keyed by
  integer node ids, with a reverse index ``(dst, type, src)`` and a ``(type, tx)`` index). Every
  value of each ``tg:identifier`` property is also written to an ``identifiers`` table, so lookups
  by lot, serial, GTIN or tag are index seeks, and a write pays only for the identifiers a node
  actually has. The audit trail (schema 4) is the ``audit_log`` table with its repeated terms
  as codes of ``audit_terms`` and hashes as bytes, read through the ``audit`` view exactly as
  the one table of schema 3 held it (:data:`graph.engines.sqlite.queries.AUDIT_V4`); both
  tables refuse updates and deletes (triggers). The schema version is in
  ``meta`` and the file header (:mod:`graph.engines.sqlite.migrations`): a newer or foreign file
  is refused before anything is written, a fresh one made current, an older one left for
  :mod:`tracegraph.upgrade`.
* **Writes.** One writer at a time per process (a lock) and per file (``BEGIN IMMEDIATE``); the
  transaction id is a counter in the ``meta`` table.
* **Traversal.** Not SQL (no recursive CTE, no query per level): the derivation edges are held
  in memory as compressed sparse rows in both directions (numpy,
  :mod:`graph.engines.sqlite.adjacency`), and a walk is a vectorised level-synchronous
  breadth-first search over them, with the semantics of :func:`graph.engines.traversal.bfs`.
  Before each traversal the index folds in the derivation edges committed since it was last
  brought up to the watermark (another process may have written to the file); a large catch-up is
  persisted next to the file (``<file>.derivations.npz``) for the next process to start from.
  :meth:`SQLiteStore.walk` hands back the arrays as they are
  (:class:`graph.engines.sqlite.walk.ArrayWalk`); :meth:`SQLiteStore.genealogy` reads the
  reached nodes and the walked edges back from the tables.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

import graph.engines.sqlite.migrations as M
import graph.engines.sqlite.queries as Q
from graph.engines.common import (
    EngineStore,
    chunks,
    directions,
    merge_depths,
    seeds_as_of,
    unknown_seeds,
)
from graph.engines.sqlite.adjacency import DerivationIndex
from graph.engines.sqlite.index_file import index_path, load_index, save_index
from graph.engines.sqlite.rows import (
    CHUNK,
    as_json,
    audit_of,
    edge_of,
    ids_of,
    iris_of,
    node_of,
)
from graph.engines.sqlite.tx import SQLiteReads, SQLiteTx
from graph.engines.sqlite.walk import ArrayWalk, LabelIndex
from graph.model import (
    AuditEntry,
    Direction,
    EdgeRecord,
    Genealogy,
    NodeRecord,
)
from graph.port import GraphStore
from graph.schema import (
    DERIVATION,
    EDGE_SYSTEM_PROPS,
    KIND_PROPERTY,
    LEGACY_VERSION,
    NODE_SYSTEM_PROPS,
)
from ontology.datatypes import now_utc_text
from ontology.vocab import Vocabulary

__all__ = ["SQLiteStore"]

_SNAPSHOT_AT = 100_000  # derivation edges read in one catch-up that make a snapshot worth it


def _distinct_ints(a: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    if a.size == 0:
        return a
    s = np.sort(a)
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


def _micros(texts: Iterable[str]) -> npt.NDArray[np.int64]:
    """Stored UTC timestamps as microseconds since the epoch."""
    return np.array([t.rstrip("Z") for t in texts], dtype="datetime64[us]").astype(np.int64)


class SQLiteStore(SQLiteReads, EngineStore):
    """:class:`graph.port.GraphStore` on one SQLite file (see the module docstring)."""

    engine = "embedded"

    def __init__(self, path: Path | str, vocab: Vocabulary | None = None) -> None:
        super().__init__(vocab)
        self._identifier_set = frozenset(self.identifiers)
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._index = DerivationIndex(self.vocab.prop(KIND_PROPERTY).code_list or ())
        self._index_lock = threading.Lock()
        self._labels = LabelIndex(list(self.vocab.classes))
        self._snapshot_tried = False
        self._pruned = 0  # see _after_prune
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._memory: tuple[str, ...] = ()  # see limit_memory
        self._migrate()

    # -- connections ----------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=60)
            for pragma in (*Q.PRAGMAS, *self._memory):
                conn.execute(pragma)
            self._local.conn = conn
        return conn

    def limit_memory(self, cache_mb: int, mmap_mb: int = 0) -> None:
        """Bound this process's page cache and memory-mapped window of the database (the
        defaults, 256 MB and 1 GB, suit the API's reads). A write-mostly process such as a
        signal consumer sets small ones: the page cache keeps every page it wrote until it is
        full, so with the default it grows with the database (issue 17 G). Applies to this
        thread's connection now and to every connection opened later."""
        self._memory = (f"PRAGMA cache_size=-{cache_mb * 1024}",
                        f"PRAGMA mmap_size={mmap_mb * 1024 * 1024}")
        for pragma in self._memory:
            self._conn().execute(pragma)

    def _migrate(self) -> None:
        """Open the file: refuse a newer or foreign one before touching it (query-only check),
        create a fresh one at the current version, leave an older one at its version for
        :mod:`tracegraph.upgrade` (the layouts read alike; :meth:`schema_version` says which)."""
        found = M.check_openable(self.path)
        c = self._conn()
        c.executescript(M.layout_of(found))
        if found is not None and found >= M.COMPACT_AUDIT:
            M.restore_audit_view(c)
        c.execute(Q.SET_STORE_ID, (uuid.uuid4().hex,))
        self.store_id = str(c.execute(Q.STORE_ID).fetchone()[0])
        if found is None or found == 1:  # fresh (perhaps being made by another process)
            c.execute("BEGIN IMMEDIATE")
            try:
                if (c.execute(Q.GET_SCHEMA_VERSION).fetchone() is None
                        and int(c.execute(Q.LAST_TX).fetchone()[0]) == 0):
                    M.migrate(c, LEGACY_VERSION, self.identifiers)  # the steps an upgrade runs
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")

    def schema_version(self) -> int:
        row = self._conn().execute(Q.GET_SCHEMA_VERSION).fetchone()
        return 1 if row is None else int(row[0])

    @contextmanager
    def transaction(self) -> Iterator[SQLiteTx]:
        if getattr(self._local, "snapshot", 0):
            raise RuntimeError("a write transaction cannot start inside a snapshot read on the "
                               "same thread")
        c = self._conn()
        with self._write_lock:
            c.execute("BEGIN IMMEDIATE")
            try:
                tx_id = int(c.execute(Q.LAST_TX).fetchone()[0]) + 1
                c.execute(Q.SET_LAST_TX, (str(tx_id),))
                yield SQLiteTx(c, tx_id, now_utc_text(), self._identifier_set)
            except BaseException:
                c.execute("ROLLBACK")
                raise
            else:
                c.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[int]:
        """One read transaction on this thread's connection: every read inside sees the store
        as of the watermark it yields (WAL readers keep their snapshot while writers commit),
        and traversals walk only the derivation edges committed by then. Nested uses share
        the outer snapshot."""
        if getattr(self._local, "snapshot", 0):
            self._local.snapshot += 1
            try:
                yield self.watermark()
            finally:
                self._local.snapshot -= 1
            return
        c = self._conn()
        c.execute("BEGIN")
        self._local.snapshot = 1
        try:
            yield self.watermark()  # the first read fixes the snapshot
        finally:
            self._local.snapshot = 0
            c.execute("COMMIT")

    # -- reads ----------------------------------------------------------------------------------
    def _find(self, value: str, prop: str | None) -> list[NodeRecord]:
        sql = Q.FIND_ANY if prop is None else Q.FIND_BY_PROPERTY
        return [node_of(r) for r in self._conn().execute(sql, {"v": value, "p": prop})]

    def _nodes_of_class(self, label: str) -> list[NodeRecord]:
        return [node_of(r) for r in self._conn().execute(Q.NODES_OF_LABEL, (label,))]

    def _derivations(self) -> tuple[DerivationIndex, int]:
        """The in-memory derivation index, brought up to the current watermark.

        It starts from the snapshot persisted next to the database file when that snapshot
        belongs to this store (same store id, not ahead of it), then folds in the edges
        committed since; a large catch-up is persisted again, so a new process (the CLI) does
        not re-read millions of edges.
        """
        conn = self._conn()
        with self._index_lock:
            self._after_prune(conn)
            idx = self._index
            if not self._snapshot_tried:
                self._snapshot_tried = True
                load_index(index_path(self.path), idx, self.store_id, self._pruned,
                           self.watermark())
            watermark = self.watermark()  # inside a snapshot: the snapshot's
            if idx.tx < watermark:
                sql = Q.ALL_DERIVATIONS if idx.tx == 0 else Q.DERIVATIONS_SINCE
                rows = conn.execute(sql, (DERIVATION, idx.tx)).fetchall()
                if rows:
                    src, dst, kind, rec, tx = zip(*rows, strict=True)
                    idx.extend(src, dst, (idx.kind_code(k) for k in kind),
                               _micros(rec), tx)
                if len(rows) >= _SNAPSHOT_AT:
                    self._save_snapshot(idx)
            return idx, watermark

    def _after_prune(self, conn: sqlite3.Connection) -> None:
        """Start the in-memory indexes afresh when records were removed (a rolled-back
        migration stage, :mod:`graph.retract`) since they were built: they only ever fold in
        new edges and nodes, and removed node ids may be reused."""
        row = conn.execute(Q.PRUNED_TX).fetchone()
        pruned = 0 if row is None else int(row[0])
        if pruned > self._pruned:
            self._pruned = pruned
            self._index = DerivationIndex(self.vocab.prop(KIND_PROPERTY).code_list or ())
            self._labels = LabelIndex(list(self.vocab.classes))

    def _save_snapshot(self, idx: DerivationIndex) -> None:
        save_index(index_path(self.path), idx, self.store_id)

    def _seed_ids(self, seeds: Sequence[str], as_of: str | None) -> dict[str, int]:
        """Node id of each seed the traversal starts from (see :func:`seeds_as_of`)."""
        ids = ids_of(self._conn(), seeds)
        if as_of is None:
            return ids
        live = set(seeds_as_of(ids, self.get_many(ids), as_of))
        return {i: n for i, n in ids.items() if i in live}

    def _walk(self, seeds: Sequence[str], upstream: bool, max_depth: int,
              kinds: Sequence[str] | None, as_of: str | None) -> ArrayWalk:
        idx, watermark = self._derivations()
        with self._index_lock:
            self._labels.refresh(self._conn())
        seed_ids = self._seed_ids(seeds, as_of)
        as_of_us = None if as_of is None else int(_micros([as_of])[0])
        result = idx.walk(list(seed_ids.values()), upstream, max_depth, kinds, as_of_us,
                          watermark)
        return ArrayWalk(self._conn, dict(seed_ids), unknown_seeds(seeds, seed_ids), result,
                         self._labels)

    def reach(self, seeds: Sequence[str], direction: Direction, max_depth: int = 50,
              kinds: Sequence[str] | None = None, as_of: str | None = None
              ) -> tuple[dict[int, int], list[tuple[int, int]], dict[str, int]]:
        """Node ids reachable from ``seeds`` with their depth, and the ``(src, dst)`` id pairs
        of the edges walked — the traversal without loading any record."""
        idx, watermark = self._derivations()
        seed_ids = self._seed_ids(seeds, as_of)
        as_of_us = None if as_of is None else int(_micros([as_of])[0])
        depth: dict[int, int] = {}
        pairs: set[tuple[int, int]] = set()
        for up in directions(direction):
            w = idx.walk(list(seed_ids.values()), up, max_depth, kinds, as_of_us, watermark)
            merge_depths(depth, w.depths())
            src, dst = idx.endpoints(w.edges)
            key = src * (idx.max_id + 1) + dst  # one int per (src, dst): dedupe in numpy
            uniq = _distinct_ints(key)
            pairs.update(zip((uniq // (idx.max_id + 1)).tolist(),
                             (uniq % (idx.max_id + 1)).tolist(), strict=True))
        return depth, list(pairs), seed_ids

    def genealogy(self, seeds: Sequence[str], direction: Direction, max_depth: int = 50,
                  kinds: Sequence[str] | None = None, as_of: str | None = None) -> Genealogy:
        with self.snapshot() as watermark:
            return self._genealogy(seeds, direction, max_depth, kinds, as_of, watermark)

    def _genealogy(self, seeds: Sequence[str], direction: Direction, max_depth: int,
                   kinds: Sequence[str] | None, as_of: str | None, watermark: int) -> Genealogy:
        conn = self._conn()
        depth, pairs, _ = self.reach(seeds, direction, max_depth, kinds, as_of)
        names = iris_of(conn, depth)
        nodes = self.get_many(names.values())
        wanted = set(pairs)
        kind_set = None if kinds is None else set(kinds)
        edges: list[EdgeRecord] = []
        for chunk in chunks(sorted({s for s, _ in pairs}), CHUNK):
            for s, t, d, eid, p, rec, tx in conn.execute(Q.EDGES_OF_SOURCES,
                                                         (as_json(chunk), DERIVATION)):
                if (s, d) not in wanted or (as_of is not None and rec > as_of):
                    continue
                props = orjson.loads(p)
                if kind_set is None or props.get(KIND_PROPERTY) in kind_set:
                    edges.append(EdgeRecord(names[s], t, names[d], eid, props, rec, tx))
        return Genealogy(seeds=list(seeds), nodes=nodes,
                         depth={names[k]: v for k, v in depth.items()}, edges=edges,
                         watermark=watermark)

    def audit_entries(self, record: str | None = None, actor: str | None = None,
                      since: str | None = None, until: str | None = None,
                      after_seq: int = 0, limit: int | None = None) -> list[AuditEntry]:
        sql, params = Q.audit_query(record=record, actor=actor, since=since, until=until,
                                    after_seq=after_seq, limit=limit)
        return [audit_of(r) for r in self._conn().execute(sql, params)]

    def _audit_chunk(self, records: list[str], until: str) -> Iterator[AuditEntry]:
        return map(audit_of, self._conn().execute(Q.AUDIT_OF_RECORDS, (as_json(records), until)))

    def tx_at(self, at: str) -> int:
        return int((self._conn().execute(Q.TX_AT, (at,)).fetchone() or (0,))[0])

    def reader(self) -> Callable[[], GraphStore] | None:
        """Another connection to the same file, opened in another process (WAL readers)."""
        return None if self.path == ":memory:" else functools.partial(SQLiteStore, self.path)

    def audit_rows(self, after_seq: int = 0, limit: int | None = None
                   ) -> list[tuple[Any, ...]]:
        sql, params = Q.audit_query(record=None, actor=None, since=None, until=None,
                                    after_seq=after_seq, limit=limit)
        return self._conn().execute(sql, params).fetchall()

    def _last_audit(self) -> tuple[int, str] | None:
        row = self._conn().execute(Q.AUDIT_HEAD).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def _ranged(self, sql: str, column: str, start: str | None, stop: str | None
                ) -> sqlite3.Cursor:
        return self._conn().execute(Q.in_range(sql, column, start, stop),
                                    {"start": start, "stop": stop})

    def nodes_by_iri(self, start: str | None = None, stop: str | None = None
                     ) -> Iterator[NodeRecord]:
        return map(node_of, self._ranged(Q.NODES_IN_IRI_ORDER, "iri", start, stop))

    def edges_by_source(self, start: str | None = None, stop: str | None = None
                        ) -> Iterator[EdgeRecord]:
        return map(edge_of, self._ranged(Q.EDGES_IN_SOURCE_ORDER, "s.iri", start, stop))

    def audit_by_record(self, start: str | None = None, stop: str | None = None
                        ) -> Iterator[AuditEntry]:
        return map(audit_of, self._ranged(Q.AUDIT_IN_RECORD_ORDER, "record", start, stop))

    def edges_of_type(self, rel_type: str, after_tx: int = 0, until_tx: int | None = None
                      ) -> list[EdgeRecord]:
        until = (1 << 62) if until_tx is None else until_tx
        return [edge_of(r) for r in self._conn().execute(Q.EDGES_OF_TYPE_IN_TX,
                                                         (rel_type, after_tx, until))]

    def iri_splits(self, parts: int) -> list[str]:
        c = self._conn()
        n = int(c.execute(Q.COUNT_ALL_NODES).fetchone()[0])
        cuts = (c.execute(Q.IRI_AT, (n * i // parts,)).fetchone() for i in range(1, parts))
        return sorted({str(r[0]) for r in cuts if r is not None})

    def counts(self) -> dict[str, int]:
        c = self._conn()
        out = dict(c.execute(Q.COUNT_NODES).fetchall())
        out.update(c.execute(Q.COUNT_EDGES).fetchall())
        return out

    def watermark(self) -> int:
        return int(self._conn().execute(Q.LAST_TX).fetchone()[0])

    def schema_terms(self) -> tuple[set[str], set[str], set[str], set[str]]:
        c = self._conn()

        def col(sql: str) -> set[str]:
            return {r[0] for r in c.execute(sql)}

        return (col(Q.DISTINCT_LABELS), col(Q.DISTINCT_TYPES),
                col(Q.DISTINCT_NODE_KEYS) | set(NODE_SYSTEM_PROPS),
                col(Q.DISTINCT_EDGE_KEYS) | set(EDGE_SYSTEM_PROPS))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
