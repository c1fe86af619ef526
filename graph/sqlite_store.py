"""The embedded engine: one SQLite file (WAL, ``synchronous=FULL``).

Nodes and edges are two tables; every value of each ``tg:identifier`` property of the ontology is
also written to an ``identifiers`` index table, so lookups by lot, serial, GTIN or tag are index
seeks, and a write pays only for the identifiers a node actually has. Genealogy is the shared
breadth-first search of :mod:`graph.traversal` over the ``edges`` table and its reverse index.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from graph import sqlite_queries as Q
from graph.adjacency import DerivationIndex, WalkResult
from graph.audit import GENESIS, paged
from graph.model import (
    AuditEntry,
    CapturedEvent,
    Direction,
    EdgeRecord,
    Genealogy,
    NodeRecord,
)
from graph.recall import UnitRow
from graph.schema import (
    DERIVATION,
    EDGE_SYSTEM_PROPS,
    KIND_PROPERTY,
    NODE_SYSTEM_PROPS,
    identifier_properties,
    of_class,
)
from ontology.vocab import Vocabulary, vocabulary

__all__ = ["SQLiteStore"]

_CHUNK = 20_000
_SNAPSHOT_AT = 100_000  # derivation edges read in one catch-up that make a snapshot worth it


def _chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _json(items: Iterable[Any]) -> str:
    return orjson.dumps(list(items)).decode()


def _node(row: sqlite3.Row | tuple[Any, ...]) -> NodeRecord:
    iri, label, key, props, recorded_at, updated_at, tx = row
    return NodeRecord(iri, label, key, orjson.loads(props), recorded_at, updated_at, tx)


def _audit(row: tuple[Any, ...]) -> AuditEntry:
    (seq, tx, at, actor, action, record, record_class, fld, old, new, reason, event_id, prev,
     h) = row
    return AuditEntry(seq, tx, at, actor, action, record, record_class, fld,
                      orjson.loads(old), orjson.loads(new), reason, event_id, prev, h)


class _SQLiteTx:
    def __init__(self, conn: sqlite3.Connection, tx_id: int, at: str,
                 identifiers: frozenset[str]) -> None:
        self.conn = conn
        self.tx_id = tx_id
        self.at = at
        self.identifiers = identifiers

    def fetch_nodes(self, iris: Iterable[str]) -> dict[str, NodeRecord]:
        return _fetch_nodes(self.conn, list(iris))

    def fetch_out_edges(self, iris: Iterable[str],
                        rel_types: Iterable[str] | None = None) -> list[EdgeRecord]:
        out: list[EdgeRecord] = []
        types = None if rel_types is None else set(rel_types)
        for chunk in _chunks(list(iris)):
            for s, t, d, eid, props, rec, tx in self.conn.execute(Q.OUT_EDGES_OF_IRIS,
                                                                   (_json(chunk),)):
                if types is None or t in types:
                    out.append(EdgeRecord(s, t, d, eid, orjson.loads(props), rec, tx))
        return out

    def fetch_events(self, event_ids: Iterable[str]) -> dict[str, CapturedEvent]:
        return _fetch_events(self.conn, list(event_ids))

    def audit_head(self) -> tuple[int, str]:
        row = self.conn.execute(Q.AUDIT_HEAD).fetchone()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def write(self, nodes: Sequence[NodeRecord], edges: Sequence[EdgeRecord],
              audit: Sequence[AuditEntry], events: Sequence[CapturedEvent]) -> None:
        c = self.conn
        c.executemany(Q.UPSERT_NODE, (
            (n.iri, n.label, n.key, orjson.dumps(n.props).decode(), n.recorded_at,
             n.updated_at, n.tx) for n in nodes))
        ids = _ids(c, {n.iri for n in nodes} | {e.src for e in edges} | {e.dst for e in edges})
        if nodes:
            written = [ids[n.iri] for n in nodes]
            for chunk in _chunks(written):
                c.execute(Q.DELETE_IDENTIFIERS, (_json(chunk),))
            c.executemany(Q.INSERT_IDENTIFIER, (
                (v, p, ids[n.iri]) for n in nodes for p in self.identifiers & n.props.keys()
                for v in _scalars(n.props[p])))
        if edges:
            c.executemany(Q.INSERT_EDGE, (
                (ids[e.src], e.type, ids[e.dst], e.eid, orjson.dumps(e.props).decode(),
                 e.recorded_at, e.tx) for e in edges))
        c.executemany(Q.INSERT_AUDIT, (
            (a.seq, a.tx, a.at, a.actor, a.action, a.record, a.record_class, a.field,
             orjson.dumps(a.old).decode(), orjson.dumps(a.new).decode(), a.reason, a.event_id,
             a.prev_hash, a.hash) for a in audit))
        c.executemany(Q.INSERT_EVENT, (
            (e.event_id, e.content_hash, e.tx, e.recorded_at) for e in events))


def _distinct_ints(a: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    if a.size == 0:
        return a
    s = np.sort(a)
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


def _micros(texts: Iterable[str]) -> npt.NDArray[np.int64]:
    """Stored UTC timestamps as microseconds since the epoch."""
    return np.array([t.rstrip("Z") for t in texts], dtype="datetime64[us]").astype(np.int64)


def _scalars(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _fetch_nodes(conn: sqlite3.Connection, iris: list[str]) -> dict[str, NodeRecord]:
    out: dict[str, NodeRecord] = {}
    for chunk in _chunks(iris):
        for row in conn.execute(Q.NODES_BY_IRIS, (_json(chunk),)):
            n = _node(row)
            out[n.iri] = n
    return out


def _fetch_events(conn: sqlite3.Connection, ids: list[str]) -> dict[str, CapturedEvent]:
    out: dict[str, CapturedEvent] = {}
    for chunk in _chunks(ids):
        for eid, h, tx, rec in conn.execute(Q.EVENTS_BY_IDS, (_json(chunk),)):
            out[eid] = CapturedEvent(eid, h, tx, rec)
    return out


def _ids(conn: sqlite3.Connection, iris: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(list(iris)):
        out.update(conn.execute(Q.IDS_BY_IRIS, (_json(chunk),)).fetchall())
    return out


def _iris(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for chunk in _chunks(list(ids)):
        out.update(conn.execute(Q.IRIS_BY_IDS, (_json(chunk),)).fetchall())
    return out


class _LabelIndex:
    """Class of every node by id (int16 codes), extended as nodes are created."""

    def __init__(self, classes: Sequence[str]) -> None:
        self.names = list(classes)
        self.codes = {c: i for i, c in enumerate(self.names)}
        self.by_id: npt.NDArray[np.int16] = np.full(1, -1, dtype=np.int16)
        self.max_id = 0

    def refresh(self, conn: sqlite3.Connection) -> None:
        rows = conn.execute(Q.LABELS_AFTER, (self.max_id,)).fetchall()
        if not rows:
            return
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        codes = np.fromiter((self.codes[r[1]] for r in rows), dtype=np.int16, count=len(rows))
        self.max_id = int(ids[-1])
        if self.by_id.size <= self.max_id:
            grown = np.full(self.max_id + 1 + self.max_id // 4, -1, dtype=np.int16)
            grown[:self.by_id.size] = self.by_id
            self.by_id = grown
        self.by_id[ids] = codes


class _ArrayWalk:
    """A walk of the embedded engine: numpy arrays indexed by node id."""

    def __init__(self, store: SQLiteStore, seeds: dict[str, Hashable], unknown: list[str],
                 result: WalkResult, labels: _LabelIndex) -> None:
        self.store = store
        self.seeds = seeds
        self.unknown = unknown
        self.result = result
        self.labels = labels

    def __len__(self) -> int:
        return int(self.result.ids.size)

    def by_label(self) -> dict[str, list[Hashable]]:
        ids = self.result.ids
        codes = self.labels.by_id[np.minimum(ids, self.labels.by_id.size - 1)]
        order = np.argsort(codes, kind="stable")
        ids, codes = ids[order], codes[order]
        bounds = np.flatnonzero(np.diff(codes)) + 1
        out: dict[str, list[Hashable]] = {}
        for part_ids, part_codes in zip(np.split(ids, bounds), np.split(codes, bounds),
                                        strict=True):
            if part_ids.size:
                out[self.labels.names[int(part_codes[0])]] = part_ids.tolist()
        return out

    def depth_of(self, h: Hashable) -> int:
        return self.result.depth_of(int(h))  # type: ignore[call-overload]

    def witness(self, h: Hashable) -> list[Hashable]:
        return list(self.result.witness(int(h)))  # type: ignore[call-overload]

    def iris(self, handles: Sequence[Hashable]) -> dict[Hashable, str]:
        return dict(_iris(self.store._conn(), handles))  # type: ignore[arg-type]

    def unit_rows(self, handles: Sequence[Hashable]) -> Iterator[UnitRow]:
        ids = np.asarray(list(handles), dtype=np.int64)
        if ids.size == 0:
            return
        walk = self.result
        root = ids.copy()
        while True:  # climb the breadth-first tree to each unit's seed, all units at once
            up = walk.parents_of(root)
            more = up >= 0
            if not more.any():
                break
            root[more] = up[more]
        first = walk.parents_of(ids)
        names = dict(_iris(self.store._conn(), np.unique(np.concatenate(
            [first[first >= 0], root])).tolist()))
        conn = self.store._conn()
        depth = walk.depth[walk.position(ids)]
        for lo in range(0, ids.size, 50_000):
            part = ids[lo:lo + 50_000]
            rows = {r[0]: r[1:] for r in conn.execute(Q.UNIT_ROWS_BY_IDS,
                                                      (_json(part.tolist()),))}
            for i, p, r, d in zip(part.tolist(), first[lo:lo + 50_000].tolist(),
                                  root[lo:lo + 50_000].tolist(),
                                  depth[lo:lo + 50_000].tolist(), strict=True):
                key, gtin, iri = rows[i]
                yield (key, gtin, iri, names.get(p, ""), d, names[r])

    def first_by_key(self, handles: Sequence[Hashable], n: int) -> list[Hashable]:
        ids = np.asarray(list(handles), dtype=np.int64)
        if ids.size == 0 or n <= 0:
            return []
        label = self.labels.names[int(self.labels.by_id[int(ids[0])])]
        ids.sort()
        conn = self.store._conn()
        total = conn.execute("SELECT count(*) FROM nodes WHERE label = ?", (label,)).fetchone()
        if ids.size * 4 < int(total[0]):  # a sparse subset: order its own keys
            keys = self.keys(ids.tolist())
            return sorted(keys, key=lambda h: (keys[h], str(h)))[:n]
        out: list[Hashable] = []  # most of the class: walk the (label, key) index in order
        cur = conn.execute(Q.IDS_BY_LABEL_IN_KEY_ORDER, (label,))
        while len(out) < n:
            rows = cur.fetchmany(4096)
            if not rows:
                break
            batch = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            pos = np.searchsorted(ids, batch)
            hit = (pos < ids.size) & (ids[np.minimum(pos, ids.size - 1)] == batch)
            out.extend(batch[hit].tolist()[: n - len(out)])
        return out

    def keys(self, handles: Sequence[Hashable]) -> dict[Hashable, str]:
        out: dict[Hashable, str] = {}
        conn = self.store._conn()
        for chunk in _chunks(list(handles), 100_000):
            out.update(conn.execute(Q.KEYS_BY_IDS, (_json(chunk),)).fetchall())
        return out

    def records(self, handles: Sequence[Hashable]) -> dict[Hashable, NodeRecord]:
        out: dict[Hashable, NodeRecord] = {}
        conn = self.store._conn()
        for chunk in _chunks(list(handles)):
            for row in conn.execute(Q.NODES_BY_IDS, (_json(chunk),)):
                out[row[0]] = _node(row[1:])
        return out


class SQLiteStore:
    """:class:`graph.port.GraphStore` on one SQLite file."""

    engine = "embedded"

    def __init__(self, path: Path | str, vocab: Vocabulary | None = None) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.vocab = vocab or vocabulary()
        self.identifiers = frozenset(identifier_properties(self.vocab))
        self._index = DerivationIndex(self.vocab.prop(KIND_PROPERTY).code_list or ())
        self._index_lock = threading.Lock()
        self._labels = _LabelIndex(list(self.vocab.classes))
        self._snapshot_tried = False
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._migrate()

    # -- connections ----------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=60)
            for pragma in Q.PRAGMAS:
                conn.execute(pragma)
            self._local.conn = conn
        return conn

    def _migrate(self) -> None:
        c = self._conn()
        c.executescript(Q.SCHEMA)
        c.execute(Q.SET_STORE_ID, (uuid.uuid4().hex,))
        self.store_id = str(c.execute(Q.STORE_ID).fetchone()[0])
        row = c.execute(Q.GET_SCHEMA_VERSION).fetchone()
        if row is None or int(row[0]) < Q.SCHEMA_VERSION:
            c.execute("BEGIN IMMEDIATE")
            c.execute(Q.REINDEX_IDENTIFIERS, (_json(sorted(self.identifiers)),))
            c.execute(Q.SET_SCHEMA_VERSION, (str(Q.SCHEMA_VERSION),))
            c.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[_SQLiteTx]:
        from ontology.datatypes import now_utc_text

        c = self._conn()
        with self._write_lock:
            c.execute("BEGIN IMMEDIATE")
            try:
                tx_id = int(c.execute(Q.LAST_TX).fetchone()[0]) + 1
                c.execute(Q.SET_LAST_TX, (str(tx_id),))
                yield _SQLiteTx(c, tx_id, now_utc_text(), self.identifiers)
            except BaseException:
                c.execute("ROLLBACK")
                raise
            else:
                c.execute("COMMIT")

    # -- reads ----------------------------------------------------------------------------------
    def get(self, iri: str) -> NodeRecord | None:
        return _fetch_nodes(self._conn(), [iri]).get(iri)

    def get_many(self, iris: Iterable[str]) -> dict[str, NodeRecord]:
        return _fetch_nodes(self._conn(), list(iris))

    def find(self, value: str, prop: str | None = None,
             label: str | None = None) -> list[NodeRecord]:
        if prop is not None and prop not in self.identifiers:
            self.vocab.prop(prop)  # raises on an unknown property
            raise ValueError(f"property {prop!r} is not a tg:identifier; it has no index")
        sql = Q.FIND_ANY if prop is None else Q.FIND_BY_PROPERTY
        rows = [_node(r) for r in self._conn().execute(sql, {"v": value, "p": prop})]
        return of_class(self.vocab, rows, label)

    def nodes_of_class(self, label: str) -> list[NodeRecord]:
        self.vocab.cls(label)  # raises on an unknown class
        return [_node(r) for r in self._conn().execute(Q.NODES_OF_LABEL, (label,))]

    def edges(self, iri: str, direction: Direction = Direction.UPSTREAM,
              rel_types: Iterable[str] | None = None) -> list[EdgeRecord]:
        return self.links([iri], None if rel_types is None else list(rel_types), direction)

    def _derivations(self) -> DerivationIndex:
        """The in-memory derivation index, brought up to the current watermark.

        It starts from the snapshot persisted next to the database file when that snapshot
        belongs to this store (same store id, not ahead of it), then folds in the edges
        committed since; a large catch-up is persisted again, so a new process (the CLI) does
        not re-read millions of edges.
        """
        conn = self._conn()
        with self._index_lock:
            idx = self._index
            if not self._snapshot_tried:
                self._snapshot_tried = True
                self._load_snapshot(idx)
            if idx.tx < self.watermark():
                sql = Q.ALL_DERIVATIONS if idx.tx == 0 else Q.DERIVATIONS_SINCE
                rows = conn.execute(sql, (DERIVATION, idx.tx)).fetchall()
                if rows:
                    src, dst, kind, rec, tx = zip(*rows, strict=True)
                    idx.extend(src, dst, (idx.kind_code(k) for k in kind),
                               _micros(rec), tx)
                if len(rows) >= _SNAPSHOT_AT:
                    self._save_snapshot(idx)
            return idx

    @property
    def _snapshot_path(self) -> Path | None:
        return None if self.path == ":memory:" else Path(f"{self.path}.derivations.npz")

    def _load_snapshot(self, idx: DerivationIndex) -> None:
        path = self._snapshot_path
        if path is None or not path.exists():
            return
        try:
            with np.load(path, allow_pickle=False) as z:
                state = {k: z[k] for k in z.files}
            kinds = [str(k) for k in state.pop("kinds")]
            store_id = str(state.pop("store_id")[0])
        except (OSError, ValueError, KeyError):
            return  # unreadable: rebuild from the store
        if (store_id == self.store_id and kinds == list(idx.kinds)
                and int(state["tx"][0]) <= self.watermark()):
            idx.restore(state)

    def _save_snapshot(self, idx: DerivationIndex) -> None:
        path = self._snapshot_path
        if path is None:
            return
        tmp = path.with_suffix(".tmp.npz")
        arrays: dict[str, Any] = {**idx.state(), "kinds": np.array(list(idx.kinds)),
                                  "store_id": np.array([self.store_id])}
        np.savez(tmp, allow_pickle=False, **arrays)
        tmp.replace(path)

    def walk(self, seeds: Sequence[str], direction: Direction, max_depth: int = 50,
             kinds: Sequence[str] | None = None, as_of: str | None = None) -> _ArrayWalk:
        if direction == Direction.BOTH:
            raise ValueError("a walk goes one way: UPSTREAM or DOWNSTREAM")
        conn = self._conn()
        idx = self._derivations()
        with self._index_lock:
            self._labels.refresh(conn)
        seed_ids = _ids(conn, seeds)
        if as_of is not None:
            live = _fetch_nodes(conn, list(seed_ids))
            seed_ids = {i: n for i, n in seed_ids.items() if live[i].recorded_at <= as_of}
        as_of_us = None if as_of is None else int(_micros([as_of])[0])
        result = idx.walk(list(seed_ids.values()), direction == Direction.UPSTREAM, max_depth,
                          kinds, as_of_us)
        unknown = [s for s in dict.fromkeys(seeds) if s not in seed_ids]
        return _ArrayWalk(self, dict(seed_ids), unknown, result, self._labels)

    def links(self, iris: Sequence[str], rel_types: Sequence[str] | None = None,
              direction: Direction = Direction.UPSTREAM) -> list[EdgeRecord]:
        types = None if rel_types is None else set(rel_types)
        queries = {Direction.UPSTREAM: (Q.LINKS_OUT,), Direction.DOWNSTREAM: (Q.LINKS_IN,),
                   Direction.BOTH: (Q.LINKS_OUT, Q.LINKS_IN)}[direction]
        out: list[EdgeRecord] = []
        for sql in queries:
            for chunk in _chunks(list(iris)):
                for s, t, d, eid, props, rec, tx in self._conn().execute(sql, (_json(chunk),)):
                    if types is None or t in types:
                        out.append(EdgeRecord(s, t, d, eid, orjson.loads(props), rec, tx))
        return out

    def reach(self, seeds: Sequence[str], direction: Direction, max_depth: int = 50,
              kinds: Sequence[str] | None = None, as_of: str | None = None
              ) -> tuple[dict[int, int], list[tuple[int, int]], dict[str, int]]:
        """Node ids reachable from ``seeds`` with their depth, and the ``(src, dst)`` id pairs
        of the edges walked — the traversal without loading any record."""
        conn = self._conn()
        idx = self._derivations()
        seed_ids = _ids(conn, seeds)
        if as_of is not None:
            live = _fetch_nodes(conn, list(seed_ids))
            seed_ids = {i: n for i, n in seed_ids.items() if live[i].recorded_at <= as_of}
        as_of_us = None if as_of is None else int(_micros([as_of])[0])
        depth: dict[int, int] = {}
        pairs: set[tuple[int, int]] = set()
        dirs = [True, False] if direction == Direction.BOTH else [direction == Direction.UPSTREAM]
        for up in dirs:
            w = idx.walk(list(seed_ids.values()), up, max_depth, kinds, as_of_us)
            for k, v in w.depths().items():
                depth[k] = min(v, depth.get(k, v))
            src, dst = idx.endpoints(w.edges)
            key = src * (idx.max_id + 1) + dst  # one int per (src, dst): dedupe in numpy
            uniq = _distinct_ints(key)
            pairs.update(zip((uniq // (idx.max_id + 1)).tolist(),
                             (uniq % (idx.max_id + 1)).tolist(), strict=True))
        return depth, list(pairs), seed_ids

    def genealogy(self, seeds: Sequence[str], direction: Direction, max_depth: int = 50,
                  kinds: Sequence[str] | None = None, as_of: str | None = None) -> Genealogy:
        conn = self._conn()
        watermark = self.watermark()
        depth, pairs, _ = self.reach(seeds, direction, max_depth, kinds, as_of)
        names = _iris(conn, depth)
        nodes = _fetch_nodes(conn, list(names.values()))
        wanted = set(pairs)
        kind_set = None if kinds is None else set(kinds)
        edges: list[EdgeRecord] = []
        for chunk in _chunks(sorted({s for s, _ in pairs})):
            for s, t, d, eid, p, rec, tx in conn.execute(Q.EDGES_OF_SOURCES,
                                                         (_json(chunk), DERIVATION)):
                if (s, d) not in wanted or (as_of is not None and rec > as_of):
                    continue
                props = orjson.loads(p)
                if kind_set is None or props.get("derivationKind") in kind_set:
                    edges.append(EdgeRecord(names[s], t, names[d], eid, props, rec, tx))
        return Genealogy(seeds=list(seeds), nodes=nodes,
                         depth={names[k]: v for k, v in depth.items()}, edges=edges,
                         watermark=watermark)

    def audit_entries(self, record: str | None = None, actor: str | None = None,
                      since: str | None = None, until: str | None = None,
                      after_seq: int = 0, limit: int | None = None) -> list[AuditEntry]:
        sql, params = Q.audit_query(record=record, actor=actor, since=since, until=until,
                                    after_seq=after_seq, limit=limit)
        rows = self._conn().execute(sql, params)
        return [_audit(r) for r in rows]

    def iter_audit(self, batch: int = 10_000) -> Iterator[AuditEntry]:
        return paged(self.audit_entries, batch)

    def events(self, event_ids: Iterable[str]) -> dict[str, CapturedEvent]:
        return _fetch_events(self._conn(), list(event_ids))

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

