"""The Neo4j engine: the same port as the embedded store, over the official driver.

Writes are batched ``UNWIND`` statements grouped by label set or relationship type; every lookup
starts from an indexed property; traversal is the shared breadth-first search of
:mod:`graph.traversal`, one parameterised round trip per level.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from neo4j import Driver, GraphDatabase, ManagedTransaction, Transaction

from graph import neo4j_queries as Q
from graph.audit import GENESIS, paged
from graph.model import (
    AuditEntry,
    CapturedEvent,
    Direction,
    EdgeRecord,
    Genealogy,
    NodeRecord,
)
from graph.recall import DictWalk
from graph.schema import DERIVATION, neo4j_schema_statements, of_class
from graph.traversal import bfs, bfs_tree
from ontology.datatypes import now_utc_text
from ontology.vocab import Vocabulary, vocabulary

__all__ = ["Neo4jStore"]

_BATCH = 5_000


def _batches(rows: Sequence[Any], n: int = _BATCH) -> Iterator[Sequence[Any]]:
    for i in range(0, len(rows), n):
        yield rows[i:i + n]


class _Converter:
    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self._specific: dict[tuple[str, ...], str] = {}  # label set → class (few distinct)

    def most_specific(self, labels: Iterable[str]) -> str:
        key = tuple(labels)
        hit = self._specific.get(key)
        if hit is None:
            known = [self.vocab.classes[x] for x in key if x in self.vocab.classes]
            hit = self._specific[key] = max(known, key=lambda c: len(c.ancestors)).name
        return hit

    def node(self, props: dict[str, Any], labels: Iterable[str]) -> NodeRecord:
        p = dict(props)
        iri, key = p.pop("iri"), p.pop("key")
        recorded, updated, tx = p.pop("recordedAt"), p.pop("updatedAt"), p.pop("txId")
        return NodeRecord(iri, self.most_specific(labels), key, p, recorded, updated, tx)

    @staticmethod
    def edge(src: str, typ: str, dst: str, props: dict[str, Any]) -> EdgeRecord:
        p = dict(props)
        eid, recorded, tx = p.pop("edgeId"), p.pop("recordedAt"), p.pop("txId")
        return EdgeRecord(src, typ, dst, eid, p, recorded, tx)

    @staticmethod
    def audit(a: dict[str, Any]) -> AuditEntry:
        return AuditEntry(a["chainIndex"], a["txId"], a["recordedAt"], a["actorName"],
                          a["auditAction"], a["targetIri"], a["targetType"], a.get("fieldName"),
                          orjson.loads(a["oldValue"]), orjson.loads(a["newValue"]),
                          a.get("reason"), a.get("eventId"), a["previousHash"], a["entryHash"])


class _Neo4jTx:
    def __init__(self, tx: Transaction, tx_id: int, at: str, conv: _Converter) -> None:
        self.tx = tx
        self.tx_id = tx_id
        self.at = at
        self.conv = conv

    def fetch_nodes(self, iris: Iterable[str]) -> dict[str, NodeRecord]:
        out: dict[str, NodeRecord] = {}
        for batch in _batches(list(iris)):
            for r in self.tx.run(Q.NODES_BY_IRIS, iris=list(batch)):
                n = self.conv.node(r["props"], r["labels"])
                out[n.iri] = n
        return out

    def fetch_out_edges(self, iris: Iterable[str],
                        rel_types: Iterable[str] | None = None) -> list[EdgeRecord]:
        types = None if rel_types is None else set(rel_types)
        out: list[EdgeRecord] = []
        for batch in _batches(list(iris)):
            for r in self.tx.run(Q.OUT_EDGES_OF_IRIS, iris=list(batch)):
                if types is None or r["type"] in types:
                    out.append(self.conv.edge(r["src"], r["type"], r["dst"], r["props"]))
        return out

    def fetch_events(self, event_ids: Iterable[str]) -> dict[str, CapturedEvent]:
        return _events(self.tx, list(event_ids))

    def audit_head(self) -> tuple[int, str]:
        rec = self.tx.run(Q.AUDIT_HEAD).single()
        return (0, GENESIS) if rec is None else (int(rec["seq"]), str(rec["hash"]))

    def write(self, nodes: Sequence[NodeRecord], edges: Sequence[EdgeRecord],
              audit: Sequence[AuditEntry], events: Sequence[CapturedEvent]) -> None:
        by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for n in nodes:
            by_label[n.label].append({"iri": n.iri, "props": {
                **n.props, "iri": n.iri, "key": n.key, "recordedAt": n.recorded_at,
                "updatedAt": n.updated_at, "txId": n.tx}})
        for label, rows in by_label.items():
            labels = self.conv.vocab.cls(label).labels
            for batch in _batches(rows):
                self.tx.run(Q.upsert_nodes(labels), rows=list(batch))
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in edges:
            by_type[e.type].append({"src": e.src, "dst": e.dst, "eid": e.eid, "props": {
                **e.props, "recordedAt": e.recorded_at, "txId": e.tx}})
        for typ, rows in by_type.items():
            self.conv.vocab.rel(typ)
            for batch in _batches(rows):
                self.tx.run(Q.merge_edges(typ), rows=list(batch))
        audit_rows = [{
            "chainIndex": a.seq, "txId": a.tx, "recordedAt": a.at, "actorName": a.actor,
            "auditAction": a.action, "targetIri": a.record, "targetType": a.record_class,
            "fieldName": a.field, "oldValue": orjson.dumps(a.old).decode(),
            "newValue": orjson.dumps(a.new).decode(), "reason": a.reason,
            "eventId": a.event_id, "previousHash": a.prev_hash, "entryHash": a.hash}
            for a in audit]
        for batch in _batches(audit_rows):
            self.tx.run(Q.INSERT_AUDIT, rows=list(batch))
        event_rows = [{"id": e.event_id, "hash": e.content_hash, "tx": e.tx,
                       "at": e.recorded_at} for e in events]
        for batch in _batches(event_rows):
            self.tx.run(Q.INSERT_EVENTS, rows=list(batch))


def _events(tx: Transaction | ManagedTransaction, ids: list[str]) -> dict[str, CapturedEvent]:
    out: dict[str, CapturedEvent] = {}
    for batch in _batches(ids):
        for r in tx.run(Q.EVENTS_BY_IDS, ids=list(batch)):
            out[r["id"]] = CapturedEvent(r["id"], r["hash"], r["tx"], r["at"])
    return out


def _expand(tx: Transaction | ManagedTransaction, frontier: list[str], rel_type: str,
            upstream: bool, kinds: Sequence[str] | None, as_of: str | None
            ) -> Iterator[tuple[str, str, EdgeRecord]]:
    query = Q.expand(rel_type, upstream)
    for batch in _batches(frontier):
        rec = tx.run(query, frontier=list(batch), asOf=as_of,
                     kinds=None if kinds is None else list(kinds)).single()
        for f, t, src, dst, props in rec["rows"] if rec is not None else ():
            yield f, t, _Converter.edge(src, rel_type, dst, props)


class Neo4jStore:
    """:class:`graph.port.GraphStore` on a Neo4j 5 server."""

    engine = "neo4j"

    def __init__(self, uri: str, user: str = "neo4j", password: str = "",
                 database: str | None = None, vocab: Vocabulary | None = None) -> None:
        auth = (user, password) if password else None
        self.driver: Driver = GraphDatabase.driver(uri, auth=auth,
                                                   notifications_min_severity="OFF")
        self.database = database
        self.vocab = vocab or vocabulary()
        self.conv = _Converter(self.vocab)
        self.driver.verify_connectivity()
        with self.driver.session(database=self.database) as s:
            for stmt in neo4j_schema_statements(self.vocab):
                s.run(stmt).consume()
            s.run("CALL db.awaitIndexes(300)").consume()

    def _read(self, query: str, **params: Any) -> list[Any]:
        records, _, _ = self.driver.execute_query(query, params, database_=self.database,
                                                  routing_="r")
        return list(records)

    @contextmanager
    def transaction(self) -> Iterator[_Neo4jTx]:
        with self.driver.session(database=self.database) as s, s.begin_transaction() as tx:
            rec = tx.run(Q.NEXT_TX).single()
            assert rec is not None
            yield _Neo4jTx(tx, int(rec["tx"]), now_utc_text(), self.conv)
            tx.commit()

    def get(self, iri: str) -> NodeRecord | None:
        return self.get_many([iri]).get(iri)

    def get_many(self, iris: Iterable[str]) -> dict[str, NodeRecord]:
        out: dict[str, NodeRecord] = {}
        for batch in _batches(list(iris)):
            for r in self._read(Q.NODES_BY_IRIS, iris=list(batch)):
                n = self.conv.node(r["props"], r["labels"])
                out[n.iri] = n
        return out

    def find(self, value: str, prop: str | None = None,
             label: str | None = None) -> list[NodeRecord]:
        idents = [p.name for p in self.vocab.identifiers]
        if prop is not None and prop not in idents:
            self.vocab.prop(prop)
            raise ValueError(f"property {prop!r} is not a tg:identifier; it has no index")
        rows = self._read(Q.find_by(idents if prop is None else [prop]), v=value)
        if prop is not None:
            rows = [r for r in rows if r["props"].get(prop) == value]
        nodes = {n.iri: n for n in (self.conv.node(r["props"], r["labels"]) for r in rows)}
        return of_class(self.vocab, nodes.values(), label)

    def nodes_of_class(self, label: str) -> list[NodeRecord]:
        self.vocab.cls(label)  # raises on an unknown class: never an arbitrary label in Cypher
        rows = self._read(Q.nodes_of_label(label))
        nodes = (self.conv.node(r["props"], r["labels"]) for r in rows)
        return [n for n in nodes if n.label == label]

    def edges(self, iri: str, direction: Direction = Direction.UPSTREAM,
              rel_types: Iterable[str] | None = None) -> list[EdgeRecord]:
        return self.links([iri], None if rel_types is None else list(rel_types), direction)

    def genealogy(self, seeds: Sequence[str], direction: Direction, max_depth: int = 50,
                  kinds: Sequence[str] | None = None, as_of: str | None = None) -> Genealogy:
        watermark = self.watermark()
        live = self.get_many(seeds)
        start = [s for s in dict.fromkeys(seeds)
                 if s in live and (as_of is None or live[s].recorded_at <= as_of)]
        depth: dict[str, int] = {}
        edges: list[EdgeRecord] = []
        dirs = [True, False] if direction == Direction.BOTH else [direction == Direction.UPSTREAM]
        with self.driver.session(database=self.database,
                                 default_access_mode="READ") as s, s.begin_transaction() as tx:
            for up in dirs:
                d, e = bfs(start,
                           lambda f, up=up: _expand(tx, f, DERIVATION, up, kinds, as_of),  # type: ignore[misc]
                           max_depth)
                for k, v in d.items():
                    depth[k] = min(v, depth.get(k, v))
                edges.extend(e)
        nodes = self.get_many(depth)
        return Genealogy(seeds=list(seeds), nodes=nodes, depth=depth, edges=edges,
                         watermark=watermark)

    def walk(self, seeds: Sequence[str], direction: Direction, max_depth: int = 50,
             kinds: Sequence[str] | None = None, as_of: str | None = None) -> DictWalk:
        if direction == Direction.BOTH:
            raise ValueError("a walk goes one way: UPSTREAM or DOWNSTREAM")
        live = self.get_many(seeds)
        start = [s for s in dict.fromkeys(seeds)
                 if s in live and (as_of is None or live[s].recorded_at <= as_of)]
        up = direction == Direction.UPSTREAM
        with self.driver.session(database=self.database,
                                 default_access_mode="READ") as s, s.begin_transaction() as tx:
            depth, parent = bfs_tree(
                start, lambda f: _expand(tx, f, DERIVATION, up, kinds, as_of), max_depth)
        unknown = [s for s in dict.fromkeys(seeds) if s not in start]
        return DictWalk({s: s for s in start}, unknown, depth, parent, self.get_many)

    def links(self, iris: Sequence[str], rel_types: Sequence[str] | None = None,
              direction: Direction = Direction.UPSTREAM) -> list[EdgeRecord]:
        types = None if rel_types is None else set(rel_types)
        queries = {Direction.UPSTREAM: (Q.OUT_EDGES_OF_IRIS,),
                   Direction.DOWNSTREAM: (Q.IN_EDGES_OF_IRIS,),
                   Direction.BOTH: (Q.OUT_EDGES_OF_IRIS, Q.IN_EDGES_OF_IRIS)}[direction]
        out: list[EdgeRecord] = []
        for q in queries:
            for batch in _batches(list(iris)):
                for r in self._read(q, iris=list(batch)):
                    if types is None or r["type"] in types:
                        out.append(self.conv.edge(r["src"], r["type"], r["dst"], r["props"]))
        return out

    def audit_entries(self, record: str | None = None, actor: str | None = None,
                      since: str | None = None, until: str | None = None,
                      after_seq: int = 0, limit: int | None = None) -> list[AuditEntry]:
        q = Q.audit_query(record is not None, actor is not None, since is not None,
                          until is not None)
        rows = self._read(q, record=record, actor=actor, since=since, until=until,
                          after=after_seq, limit=limit if limit is not None else 2**62)
        return [self.conv.audit(r["a"]) for r in rows]

    def iter_audit(self, batch: int = 10_000) -> Iterator[AuditEntry]:
        return paged(self.audit_entries, batch)

    def events(self, event_ids: Iterable[str]) -> dict[str, CapturedEvent]:
        with self.driver.session(database=self.database) as s:
            return s.execute_read(_events, list(event_ids))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self._read(Q.COUNT_NODES):
            label = self.conv.most_specific(r["labels"])
            out[label] = out.get(label, 0) + r["n"]
        for r in self._read(Q.COUNT_EDGES):
            out[r["type"]] = r["n"]
        return out

    def watermark(self) -> int:
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

    def close(self) -> None:
        self.driver.close()

