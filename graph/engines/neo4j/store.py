"""The Neo4j engine: the same port as the embedded store, over the official driver (Neo4j 5).

What it really does:

* **Model.** Every node carries the labels of its class and all superclasses down from
  ``Record`` (the most specific one is the node's class); system properties ``iri``, ``key``,
  ``recordedAt``, ``updatedAt``, ``txId`` sit beside the ontology's; audit entries and capture
  events are ``AuditEvent`` / ``CaptureEvent`` nodes; the watermark is one ``GraphWatermark`` node;
  the store's schema version and id are one ``StoreSchema`` node
  (:data:`graph.schema.SCHEMA_VERSION`: a newer store is refused before anything is written, an
  empty one made current, an older one left for :mod:`tracegraph.upgrade`, whose Cypher steps
  are :func:`migrate`).
  Constraints and indexes (IRI, key, each identifier, audit fields) are created on connect.
* **Writes.** A write transaction is a small constant number of round trips: the Writer's
  batched reads (``UNWIND`` over keys, typed links seeking by relationship type), then one
  ``UNWIND`` statement per kind (nodes of every class with dynamic labels, edges of every type
  with dynamic types, audit entries, capture events) of up to :data:`_WRITE_BATCH` rows;
  every lookup starts from an indexed property.
* **Traversal.** With APOC core served, one query per direction of a question
  (:mod:`graph.engines.neo4j.tree`: indexed start, APOC's breadth-first spanning tree with a
  direction and ``maxLevel``, classification or records and edges in the same query). Otherwise
  (no APOC, an ``asOf`` or kind filter, a write committed since the snapshot) per-level
  breadth-first search driven from Python: the search of :mod:`graph.engines.traversal` (``bfs``
  for genealogy, ``bfs_tree`` for a walk), expanding each level's frontier with one
  parameterised Cypher round trip per chunk of the frontier (the ``asOf`` and kind filters
  applied in Cypher), all levels in one read transaction. Either way depth and de-duplication
  are exactly the embedded engine's. A walk is a :class:`graph.engines.common.DictWalk` with
  IRIs as handles.
"""

from __future__ import annotations

import threading
import uuid
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from neo4j import Driver, GraphDatabase, Transaction

import graph.engines.neo4j.queries as Q
from graph.audit_chain import canonical_text
from graph.engines.common import (
    ChunkedReads,
    DictWalk,
    EngineStore,
    EngineTx,
    chunks,
    directions,
    iri_range,
    seeds_as_of,
    unknown_seeds,
)
from graph.engines.neo4j.tree import (
    edge_record,
    expand,
    levels_genealogy,
    server_genealogy,
    server_walk,
)
from graph.engines.traversal import bfs_tree
from graph.model import (
    AuditEntry,
    CapturedEvent,
    Direction,
    EdgeRecord,
    Genealogy,
    NodeRecord,
)
from graph.schema import (
    LEGACY_VERSION,
    SCHEMA_VERSION,
    StoreVersionError,
    neo4j_schema_statements,
)
from ontology.datatypes import now_utc_text
from ontology.vocab import Vocabulary

__all__ = ["Neo4jStore"]

_BATCH = 5_000
#: rows per write statement: a capture document (at most 20,000 items) is one statement per
#: kind (nodes, edges, audit entries, capture events)
_WRITE_BATCH = 20_000

class _Converter:
    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self._specific: dict[tuple[str, ...], str] = {}  # label set → class (few distinct)

    def most_specific(self, labels: Iterable[str]) -> str:
        key = tuple(labels)
        hit = self._specific.get(key)
        if hit is None:
            known = [self.vocab.classes[x] for x in key if x in self.vocab.classes]
            hit = self._specific[key] = (max(known, key=lambda c: len(c.ancestors)).name
                                         if known else ":".join(sorted(key)))
        return hit

    def node(self, props: dict[str, Any], labels: Iterable[str]) -> NodeRecord:
        p = dict(props)
        # (defaults only for a node written behind the store's back: the audit names it)
        iri, key = p.pop("iri"), p.pop("key", "")
        recorded, updated, tx = p.pop("recordedAt", ""), p.pop("updatedAt", ""), p.pop("txId", 0)
        return NodeRecord(iri, self.most_specific(labels), key, p, recorded, updated, tx)

    edge = staticmethod(edge_record)

    @staticmethod
    def audit(a: dict[str, Any]) -> AuditEntry:
        return AuditEntry(a["chainIndex"], a["txId"], a["recordedAt"], a["actorName"],
                          a["auditAction"], a["targetIri"], a["targetType"], a.get("fieldName"),
                          orjson.loads(a["oldValue"]), orjson.loads(a["newValue"]),
                          a.get("reason"), a.get("eventId"), a["previousHash"], a["entryHash"])


class _Neo4jReads(ChunkedReads):
    """The chunked reads, run in a transaction or as auto-committed read queries."""

    chunk_size = _BATCH
    conv: _Converter

    @abstractmethod
    def _run(self, query: str, **params: Any) -> Iterable[Any]:
        """The records ``query`` answers."""

    def _nodes_chunk(self, iris: list[str]) -> Iterator[NodeRecord]:
        return (self.conv.node(r["props"], r["labels"])
                for r in self._run(Q.NODES_BY_IRIS, iris=iris))

    def _links_chunk(self, iris: list[str], outgoing: bool) -> Iterator[EdgeRecord]:
        query = Q.OUT_EDGES_OF_IRIS if outgoing else Q.IN_EDGES_OF_IRIS
        return (self.conv.edge(r["src"], r["type"], r["dst"], r["props"])
                for r in self._run(query, iris=iris))

    def _typed_links_chunk(self, iris: list[str], outgoing: bool, types: list[str]
                           ) -> Iterable[EdgeRecord]:
        known = [t for t in types if t in self.conv.vocab.relationship_types]
        if not known:  # a type the ontology does not declare is on no stored edge
            return ()
        return (self.conv.edge(r["src"], r["type"], r["dst"], r["props"])
                for r in self._run(Q.typed_links(known, outgoing), iris=iris))

    def _events_chunk(self, event_ids: list[str]) -> Iterator[CapturedEvent]:
        return (CapturedEvent(r["id"], r["hash"], r["tx"], r["at"])
                for r in self._run(Q.EVENTS_BY_IDS, ids=event_ids))


class _Neo4jTx(_Neo4jReads, EngineTx):
    def __init__(self, tx: Transaction, tx_id: int, at: str, conv: _Converter) -> None:
        self.tx = tx
        self.tx_id = tx_id
        self.at = at
        self.conv = conv

    def _run(self, query: str, **params: Any) -> Iterable[Any]:
        return self.tx.run(query, **params)

    def migrate_schema(self) -> int:
        """Bring the store to :data:`SCHEMA_VERSION` inside this transaction (Cypher steps,
        then the version); returns the version found (no record: a store of releases <= 2)."""
        rec = self.tx.run(Q.LOCK_STORE_SCHEMA).single()
        found = LEGACY_VERSION if rec is None or rec["version"] is None else int(rec["version"])
        if found > SCHEMA_VERSION:
            raise StoreVersionError("this Neo4j database", found)
        if found < SCHEMA_VERSION:
            migrate(self.tx, found)
        return found

    def _last_audit(self) -> tuple[int, str] | None:
        rec = self.tx.run(Q.AUDIT_HEAD).single()
        return None if rec is None else (int(rec["seq"]), str(rec["hash"]))

    def write(self, nodes: Sequence[NodeRecord], edges: Sequence[EdgeRecord],
              audit: Sequence[AuditEntry], events: Sequence[CapturedEvent]) -> None:
        labels = {c: self.conv.vocab.cls(c).labels for c in {n.label for n in nodes}}
        node_rows = [{"iri": n.iri, "labels": list(labels[n.label]), "props": {
            **n.props, "iri": n.iri, "key": n.key, "recordedAt": n.recorded_at,
            "updatedAt": n.updated_at, "txId": n.tx}} for n in nodes]
        self._put(Q.UPSERT_NODES, node_rows)
        for typ in {e.type for e in edges}:
            self.conv.vocab.rel(typ)  # a type the ontology declares, or UnknownTermError
        edge_rows = [{"src": e.src, "dst": e.dst, "type": e.type, "props": {
            **e.props, "edgeId": e.eid, "recordedAt": e.recorded_at, "txId": e.tx}}
            for e in edges]
        self._put(Q.CREATE_EDGES, edge_rows)
        audit_rows = [{
            "chainIndex": a.seq, "txId": a.tx, "recordedAt": a.at, "actorName": a.actor,
            "auditAction": a.action, "targetIri": a.record, "targetType": a.record_class,
            "fieldName": a.field, "oldValue": canonical_text(a.old),
            "newValue": canonical_text(a.new), "reason": a.reason,
            "eventId": a.event_id, "previousHash": a.prev_hash, "entryHash": a.hash}
            for a in audit]
        self._put(Q.INSERT_AUDIT, audit_rows)
        event_rows = [{"id": e.event_id, "hash": e.content_hash, "tx": e.tx,
                       "at": e.recorded_at} for e in events]
        self._put(Q.INSERT_EVENTS, event_rows)

    def _put(self, query: str, rows: Sequence[dict[str, Any]]) -> None:
        """``query`` over ``rows``: one statement per :data:`_WRITE_BATCH` rows."""
        for batch in chunks(rows, _WRITE_BATCH):
            self.tx.run(query, rows=batch).consume()

    def remove(self, iris: Sequence[str], audit: Sequence[AuditEntry],
               event_prefix: str) -> None:
        for batch in chunks(list(iris), _BATCH):
            self.tx.run(Q.REMOVE_NODES, iris=batch)
        self.tx.run(Q.REMOVE_EVENTS, prefix=event_prefix)
        self.write([], [], audit, [])


def migrate(tx: Transaction, found: int) -> None:
    """The Cypher steps from ``found`` to :data:`SCHEMA_VERSION` and the version, in ``tx``.
    (Indexes and constraints are not data: Neo4j runs them in their own transactions, so they
    are created, ``IF NOT EXISTS``, on every connect; the steps never depend on a new one.)"""
    if found < 3:
        tx.run(Q.STEP_3_STORE_SCHEMA, storeId=uuid.uuid4().hex).consume()
    tx.run(Q.SET_SCHEMA_VERSION, version=SCHEMA_VERSION).consume()


class Neo4jStore(_Neo4jReads, EngineStore):
    """:class:`graph.port.GraphStore` on a Neo4j 5 server (see the module docstring)."""

    engine = "neo4j"

    def __init__(self, uri: str, user: str = "neo4j", password: str = "",
                 database: str | None = None, vocab: Vocabulary | None = None) -> None:
        super().__init__(vocab)
        auth = (user, password) if password else None
        self.driver: Driver = GraphDatabase.driver(uri, auth=auth,
                                                   notifications_min_severity="OFF")
        self.database = database
        self.conv = _Converter(self.vocab)
        self._local = threading.local()
        self.driver.verify_connectivity()
        self.where = f"{uri} (database {database or 'default'})"
        found = self._identity()  # read only: a newer store is refused before any write
        if found is not None and found > SCHEMA_VERSION:
            self.driver.close()
            raise StoreVersionError(self.where, found)
        with self.driver.session(database=self.database) as s:
            for stmt in neo4j_schema_statements(self.vocab):
                s.run(stmt).consume()
            s.run("CALL db.awaitIndexes(300)").consume()
        #: APOC's path expander served: traversals are one query (graph.engines.neo4j.tree)
        self.apoc = bool(self._read(Q.HAS_APOC)[0]["ok"])
        if found is None:
            self._create_fresh()

    def _identity(self) -> int | None:
        """Read the store's schema version and id (``store_id``): ``None`` for an empty
        database, :data:`LEGACY_VERSION` for one holding data but no record."""
        rec = self._read(Q.STORE_SCHEMA)[0]
        self.store_id: str | None = rec["storeId"]
        if rec["version"] is not None:
            return int(rec["version"])
        return LEGACY_VERSION if rec["holdsData"] else None

    def _create_fresh(self) -> None:
        """An empty database becomes a store at the current version (the upgrade's steps)."""
        with self.driver.session(database=self.database) as s, s.begin_transaction() as tx:
            rec = tx.run(Q.LOCK_STORE_SCHEMA).single()
            if rec is None or rec["version"] is None:
                migrate(tx, LEGACY_VERSION)
            tx.commit()
        self._identity()

    def schema_version(self) -> int:
        found = self._identity()
        return SCHEMA_VERSION if found is None else found

    def _links_chunk(self, iris: list[str], outgoing: bool) -> Iterator[EdgeRecord]:
        """As :class:`_Neo4jReads`, and inside a snapshot only the edges committed by its
        watermark: a record written since (a deviation on a batch, a result on a lot) is not
        reached through its links while the snapshot reads (Neo4j reads are read-committed)."""
        return self._committed(super()._links_chunk(iris, outgoing))

    def _typed_links_chunk(self, iris: list[str], outgoing: bool, types: list[str]
                           ) -> Iterable[EdgeRecord]:
        return self._committed(super()._typed_links_chunk(iris, outgoing, types))

    def _committed(self, edges: Iterable[EdgeRecord]) -> Iterator[EdgeRecord]:
        if getattr(self._local, "tx", None) is None:
            return iter(edges)
        watermark = int(self._local.watermark)
        return (e for e in edges if not e.tx or e.tx <= watermark)

    def _read(self, query: str, **params: Any) -> list[Any]:
        snap: Transaction | None = getattr(self._local, "tx", None)
        if snap is not None:
            return list(snap.run(query, params))
        records, _, _ = self.driver.execute_query(query, params, database_=self.database,
                                                  routing_="r")
        return list(records)

    @contextmanager
    def snapshot(self) -> Iterator[int]:
        """One read transaction on this thread, its watermark read inside it: reads inside
        run in it and traversals walk only the edges committed by that watermark (Neo4j reads
        are read-committed, so a node's properties are those committed when it is read).
        Nested uses share the outer one."""
        if getattr(self._local, "tx", None) is not None:
            yield self._local.watermark
            return
        with self.driver.session(database=self.database,
                                 default_access_mode="READ") as s, s.begin_transaction() as tx:
            rec = tx.run(Q.LAST_TX).single()
            self._local.watermark = int(rec["tx"]) if rec is not None else 0
            self._local.tx = tx
            try:
                yield self._local.watermark
            finally:
                self._local.tx = None

    @contextmanager
    def _read_tx(self) -> Iterator[tuple[Transaction, int]]:
        """The snapshot's read transaction and watermark (one is opened when none is)."""
        with self.snapshot() as watermark:
            yield self._local.tx, watermark

    def _run(self, query: str, **params: Any) -> Iterable[Any]:
        return self._read(query, **params)

    @contextmanager
    def transaction(self) -> Iterator[_Neo4jTx]:
        with self.driver.session(database=self.database) as s, s.begin_transaction() as tx:
            rec = tx.run(Q.NEXT_TX).single()
            assert rec is not None
            yield _Neo4jTx(tx, int(rec["tx"]), now_utc_text(), self.conv)
            tx.commit()

    def _find(self, value: str, prop: str | None) -> list[NodeRecord]:
        rows = self._read(Q.find_by(list(self.identifiers) if prop is None else [prop]),
                          v=value)
        if prop is not None:
            rows = [r for r in rows if r["props"].get(prop) == value]
        return [self.conv.node(r["props"], r["labels"]) for r in rows]

    def _nodes_of_class(self, label: str) -> list[NodeRecord]:
        rows = self._read(Q.nodes_of_label(label))
        nodes = (self.conv.node(r["props"], r["labels"]) for r in rows)
        return [n for n in nodes if n.label == label]

    def _on_server(self, kinds: Sequence[str] | None, as_of: str | None) -> bool:
        """Can this question be one traversal query (:mod:`graph.engines.neo4j.tree`)?"""
        return self.apoc and kinds is None and as_of is None

    def genealogy(self, seeds: Sequence[str], direction: Direction, max_depth: int = 50,
                  kinds: Sequence[str] | None = None, as_of: str | None = None) -> Genealogy:
        with self._read_tx() as (tx, watermark):
            got = server_genealogy(tx, seeds, directions(direction), max_depth, watermark,
                                   self.conv.node) if self._on_server(kinds, as_of) else None
            if got is None:
                start = seeds_as_of(seeds, self.get_many(seeds), as_of)
                depth, edges = levels_genealogy(tx, start, directions(direction), max_depth,
                                                kinds, as_of, watermark)
                got = depth, self.get_many(depth), edges
        depth, nodes, edges = got
        return Genealogy(seeds=list(seeds), nodes=nodes, depth=depth, edges=edges,
                         watermark=watermark)

    def _walk(self, seeds: Sequence[str], upstream: bool, max_depth: int,
              kinds: Sequence[str] | None, as_of: str | None) -> DictWalk:
        with self._read_tx() as (tx, watermark):
            if self._on_server(kinds, as_of):
                walk = server_walk(tx, seeds, upstream, max_depth, watermark,
                                   self.conv.most_specific, self.get_many)
                if walk is not None:
                    return walk
            start = seeds_as_of(seeds, self.get_many(seeds), as_of)
            depth, parent = bfs_tree(
                start, lambda f: expand(tx, f, upstream, kinds, as_of, watermark),
                max_depth)
        return DictWalk({s: s for s in start}, unknown_seeds(seeds, start), depth, parent,
                        self.get_many)

    def audit_entries(self, record: str | None = None, actor: str | None = None,
                      since: str | None = None, until: str | None = None,
                      after_seq: int = 0, limit: int | None = None) -> list[AuditEntry]:
        q = Q.audit_query(record is not None, actor is not None, since is not None,
                          until is not None)
        rows = self._read(q, record=record, actor=actor, since=since, until=until,
                          after=after_seq, limit=limit if limit is not None else 2**62)
        return [self.conv.audit(r["a"]) for r in rows]

    def _audit_chunk(self, records: list[str], until: str) -> Iterator[AuditEntry]:
        return (self.conv.audit(r["a"]) for r in self._read(Q.AUDIT_OF_RECORDS,
                                                             records=records, until=until))

    def tx_at(self, at: str) -> int:
        rows = self._read(Q.TX_AT, at=at)
        return int(rows[0]["tx"]) if rows else 0

    def _last_audit(self) -> tuple[int, str] | None:
        rows = self._read(Q.AUDIT_HEAD)
        return (int(rows[0]["seq"]), str(rows[0]["hash"])) if rows else None

    def _stream(self, query: str) -> Iterator[Any]:
        """Records of ``query`` as the server streams them (own session: the state check
        merges three such streams)."""
        with self.driver.session(database=self.database, default_access_mode="READ") as s:
            yield from s.run(query)

    def nodes_by_iri(self, start: str | None = None, stop: str | None = None
                     ) -> Iterator[NodeRecord]:
        return iri_range((self.conv.node(r["props"], r["labels"])
                          for r in self._stream(Q.NODES_IN_IRI_ORDER)),
                         lambda n: n.iri, start, stop)

    def edges_by_source(self, start: str | None = None, stop: str | None = None
                        ) -> Iterator[EdgeRecord]:
        return iri_range((self.conv.edge(r["src"], r["type"], r["dst"], r["props"])
                          for r in self._stream(Q.EDGES_IN_SOURCE_ORDER)),
                         lambda e: e.src, start, stop)

    def edges_of_type(self, rel_type: str, after_tx: int = 0, until_tx: int | None = None
                      ) -> list[EdgeRecord]:
        if rel_type not in self.conv.vocab.relationship_types:
            return []  # a type the ontology does not declare is on no stored edge
        until = (1 << 62) if until_tx is None else until_tx
        return list(self._committed(
            self.conv.edge(r["src"], r["type"], r["dst"], r["props"])
            for r in self._read(Q.edges_of_type_in_tx(rel_type), after=after_tx, until=until)))

    def audit_by_record(self, start: str | None = None, stop: str | None = None
                        ) -> Iterator[AuditEntry]:
        return iri_range((self.conv.audit(r["a"]) for r in self._stream(Q.AUDIT_IN_RECORD_ORDER)),
                         lambda e: e.record, start, stop)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self._read(Q.COUNT_NODES):
            label = self.conv.most_specific(r["labels"])
            out[label] = out.get(label, 0) + r["n"]
        for r in self._read(Q.COUNT_EDGES):
            out[r["type"]] = r["n"]
        return out

    def watermark(self) -> int:
        if getattr(self._local, "tx", None) is not None:
            return int(self._local.watermark)
        return int(self._read(Q.LAST_TX)[0]["tx"])

    def schema_terms(self) -> tuple[set[str], set[str], set[str], set[str]]:
        def col(q: str) -> set[str]:
            return {r["v"] for r in self._read(q)}

        return (col(Q.DISTINCT_LABELS), col(Q.DISTINCT_TYPES), col(Q.DISTINCT_NODE_KEYS),
                col(Q.DISTINCT_EDGE_KEYS))

    def wipe(self) -> None:
        """Delete every node and relationship (tests and benchmarks only)."""
        with self.driver.session(database=self.database) as s:
            s.run(Q.WIPE).consume()
        self._create_fresh()  # an empty store is a fresh one, at the current version

    def close(self) -> None:
        self.driver.close()
