"""Copy an embedded (SQLite) store into Neo4j, for benchmarking the two engines on one graph.

The copy holds what :class:`graph.engines.neo4j.Neo4jStore` itself writes: every node as
``Record`` plus its class labels (``vocabulary().cls(label).labels``) with its properties and
``iri``, ``key``, ``recordedAt``, ``updatedAt``, ``txId``; every edge with its properties and
``edgeId``, ``recordedAt``, ``txId``; and the ``GraphWatermark {code: 'main', lastTx}`` node. The
schema (constraints and indexes) is the one ``Neo4jStore(uri)`` creates. Audit entries and capture
event ids are skipped: traversal does not read them.

Rows go in batched ``UNWIND`` statements of 10k rows, one transaction each, sent by a writer
thread while the next batch is read and built. On an empty database nodes and edges are
``CREATE``d; on a database holding a partial copy they are ``MERGE``d (the same statements as
``Neo4jStore``), so an interrupted copy resumes. The watermark is written last: a copy whose
watermark and counts equal the SQLite store's is complete, and is skipped.

    .venv/bin/python -m bench.neo4j_copy --sqlite data/bench-load/tracegraph.sqlite \\
        --neo4j-uri bolt://127.0.0.1:7687
"""

from __future__ import annotations

import argparse
import os
import queue
import sqlite3
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from neo4j import ManagedTransaction
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from graph.engines.neo4j import Neo4jStore
from graph.engines.neo4j import queries as NQ
from graph.engines.sqlite import SQLiteStore
from graph.schema import ROOT_LABEL
from ontology.vocab import Vocabulary, vocabulary

__all__ = ["CopyReport", "copy_store", "main", "open_readonly", "sqlite_counts"]

BATCH = 10_000

Row = dict[str, Any]


@dataclass
class CopyReport:
    skipped: bool
    mode: str  # "create" | "merge" | "skip"
    nodes: int
    edges: int
    node_seconds: float
    edge_seconds: float
    watermark: int

    @property
    def seconds(self) -> float:
        return self.node_seconds + self.edge_seconds


def open_readonly(path: Path | str) -> sqlite3.Connection:
    """A read-only connection for bulk reads (the store file is never written)."""
    conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True,
                           check_same_thread=False)
    conn.execute("PRAGMA cache_size=-262144")
    conn.execute("PRAGMA mmap_size=4294967296")
    return conn


def sqlite_counts(conn: sqlite3.Connection) -> tuple[int, dict[str, int]]:
    """Number of nodes, and of edges per relationship type, in the SQLite store."""
    nodes = int(conn.execute("SELECT count(*) FROM nodes").fetchone()[0])
    edges = {str(t): int(n) for t, n in
             conn.execute("SELECT type, count(*) FROM edges GROUP BY type")}
    return nodes, edges


def neo4j_counts(store: Neo4jStore, rel_types: list[str]) -> tuple[int, dict[str, int]]:
    """The same counts from Neo4j's count store (constant time per query)."""
    def one(q: str) -> int:
        return int(store._read(q)[0]["n"])

    nodes = one(f"MATCH (n:{ROOT_LABEL}) RETURN count(n) AS n")
    edges = {t: one(f"MATCH ()-[r:{t}]->() RETURN count(r) AS n") for t in rel_types}
    return nodes, edges


def _create_nodes(labels: tuple[str, ...]) -> str:
    return f"UNWIND $rows AS r CREATE (n:{':'.join(labels)}) SET n = r.props"


def _create_edges(rel_type: str) -> str:
    return ("UNWIND $rows AS r "
            "MATCH (s:Record {iri: r.src}) MATCH (d:Record {iri: r.dst}) "
            f"CREATE (s)-[e:{rel_type}]->(d) SET e = r.props")


class _Writer:
    """One background thread running write transactions in order; the caller builds the next
    batch meanwhile. At most ``depth`` batches wait, so memory stays bounded."""

    def __init__(self, store: Neo4jStore, on_done: Callable[[int], None], depth: int = 2) -> None:
        self.store = store
        self.on_done = on_done
        self.q: queue.Queue[tuple[str, list[Row]] | None] = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="neo4j-copy-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        def work(tx: ManagedTransaction, query: str, rows: list[Row]) -> None:
            tx.run(query, rows=rows).consume()

        with self.store.driver.session(database=self.store.database) as s:
            while (item := self.q.get()) is not None:
                if self.error is not None:
                    continue  # drain after a failure
                query, rows = item
                try:
                    s.execute_write(work, query, rows)
                except BaseException as e:  # re-raised in the caller
                    self.error = e
                    continue
                self.on_done(len(rows))

    def put(self, query: str, rows: list[Row]) -> None:
        if self.error is not None:
            raise self.error
        self.q.put((query, rows))

    def close(self) -> None:
        self.q.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def _node_rows(conn: sqlite3.Connection, iri_of: list[str]
               ) -> Iterator[tuple[str, Row]]:
    """``(label, row)`` per node, in id order; fills ``iri_of[id]``."""
    sql = "SELECT id, iri, label, key, props, recorded_at, updated_at, tx FROM nodes ORDER BY id"
    for nid, iri, label, key, props, rec, upd, tx in conn.execute(sql):
        iri_of[nid] = iri
        p = orjson.loads(props)
        p["iri"] = iri
        p["key"] = key
        p["recordedAt"] = rec
        p["updatedAt"] = upd
        p["txId"] = tx
        yield label, {"iri": iri, "props": p}


def _edge_rows(conn: sqlite3.Connection, iri_of: list[str]) -> Iterator[tuple[str, Row]]:
    """``(type, row)`` per edge, in primary-key order (a sequential scan)."""
    sql = "SELECT src, type, dst, eid, props, recorded_at, tx FROM edges"
    for src, typ, dst, eid, props, rec, tx in conn.execute(sql):
        p = orjson.loads(props)
        p["edgeId"] = eid
        p["recordedAt"] = rec
        p["txId"] = tx
        yield typ, {"src": iri_of[src], "dst": iri_of[dst], "eid": eid, "props": p}


def copy_store(sqlite_path: Path | str, uri: str, user: str = "neo4j", password: str = "",
               batch: int = BATCH, force: bool = False, wipe: bool = False,
               console: Console | None = None, vocab: Vocabulary | None = None) -> CopyReport:
    """Copy the SQLite store at ``sqlite_path`` into the Neo4j database at ``uri``."""
    console = console or Console(stderr=True)
    vocab = vocab or vocabulary()
    emb = SQLiteStore(sqlite_path, vocab)  # opened as the brief's store; reads only
    watermark = emb.watermark()
    emb.close()
    conn = open_readonly(sqlite_path)
    n_nodes, edge_counts = sqlite_counts(conn)
    n_edges = sum(edge_counts.values())
    for t in edge_counts:
        vocab.rel(t)  # only ontology names are interpolated into Cypher

    neo = Neo4jStore(uri, user, password, vocab=vocab)  # creates constraints and indexes
    try:
        if wipe:
            console.print("wiping the Neo4j database …")
            neo.wipe()
        have_nodes, have_edges = neo4j_counts(neo, sorted(edge_counts))
        if (not force and neo.watermark() == watermark and have_nodes == n_nodes
                and have_edges == edge_counts):
            console.print(f"[green]Neo4j already holds this graph[/] (watermark {watermark}, "
                          f"{n_nodes:,} nodes, {n_edges:,} edges): skipped")
            return CopyReport(True, "skip", n_nodes, n_edges, 0.0, 0.0, watermark)
        mode = "create" if have_nodes == 0 and sum(have_edges.values()) == 0 else "merge"
        console.print(f"copying {n_nodes:,} nodes and {n_edges:,} edges (watermark {watermark}) "
                      f"into {uri} ({mode}, batches of {batch:,})")

        columns = (TextColumn("{task.description:<6}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("[cyan]{task.fields[rate]:>9} rows/s"), TimeElapsedColumn(),
                   TimeRemainingColumn())
        with Progress(*columns, console=console) as progress:
            t_nodes = progress.add_task("nodes", total=n_nodes, rate="-", start=False)
            t_edges = progress.add_task("edges", total=n_edges, rate="-", start=False)
            iri_of: list[str] = [""] * (int(conn.execute(
                "SELECT coalesce(max(id), 0) FROM nodes").fetchone()[0]) + 1)

            node_s = _phase(progress, t_nodes, neo, _node_rows(conn, iri_of), batch,
                            lambda label: (NQ.upsert_nodes(vocab.cls(label).labels)
                                           if mode == "merge"
                                           else _create_nodes(vocab.cls(label).labels)))
            edge_s = _phase(progress, t_edges, neo, _edge_rows(conn, iri_of), batch,
                            lambda typ: (NQ.merge_edges(typ) if mode == "merge"
                                         else _create_edges(typ)))
        neo.driver.execute_query(
            "MERGE (w:GraphWatermark {code: 'main'}) SET w.lastTx = $tx", {"tx": watermark},
            database_=neo.database)
        have_nodes, have_edges = neo4j_counts(neo, sorted(edge_counts))
        if have_nodes != n_nodes or have_edges != edge_counts:
            diff = {t: (n, have_edges.get(t)) for t, n in edge_counts.items()
                    if have_edges.get(t) != n}
            raise RuntimeError(f"copy incomplete: nodes {have_nodes:,} of {n_nodes:,}; "
                               f"edge counts (sqlite, neo4j) differ: {diff}")
        console.print(f"nodes: {n_nodes:,} in {node_s:.1f} s ({n_nodes / node_s:,.0f} rows/s); "
                      f"edges: {n_edges:,} in {edge_s:.1f} s ({n_edges / edge_s:,.0f} rows/s); "
                      f"total {(n_nodes + n_edges) / (node_s + edge_s):,.0f} rows/s")
        return CopyReport(False, mode, n_nodes, n_edges, node_s, edge_s, watermark)
    finally:
        neo.close()
        conn.close()


def _phase(progress: Progress, task: TaskID, neo: Neo4jStore,
           rows: Iterator[tuple[str, Row]], batch: int, query_for: Callable[[str], str]
           ) -> float:
    """Send ``rows`` grouped by label/type in batches; the seconds it took."""
    progress.start_task(task)
    t0 = time.perf_counter()
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        rate = done / max(time.perf_counter() - t0, 1e-9)
        progress.update(task, advance=n, rate=f"{rate:,.0f}")

    writer = _Writer(neo, advance)
    pending: dict[str, list[Row]] = defaultdict(list)
    try:
        for group, row in rows:
            buf = pending[group]
            buf.append(row)
            if len(buf) >= batch:
                writer.put(query_for(group), buf)
                pending[group] = []
        for group, buf in pending.items():
            if buf:
                writer.put(query_for(group), buf)
    finally:
        writer.close()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.neo4j_copy", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sqlite", required=True, type=Path, help="embedded store file")
    ap.add_argument("--neo4j-uri", default=os.environ.get("NEO4J_URI"),
                    help="bolt URI (default: $NEO4J_URI)")
    ap.add_argument("--neo4j-user", default=os.environ.get("NEO4J_USER", "neo4j"))
    ap.add_argument("--neo4j-password", default=os.environ.get("NEO4J_PASSWORD", ""))
    ap.add_argument("--batch", type=int, default=BATCH, help="rows per UNWIND transaction")
    ap.add_argument("--force", action="store_true", help="copy even if Neo4j looks complete")
    ap.add_argument("--wipe", action="store_true", help="delete everything in Neo4j first")
    args = ap.parse_args(argv)
    if not args.neo4j_uri:
        ap.error("--neo4j-uri (or NEO4J_URI) is required")
    if not args.sqlite.exists():
        ap.error(f"{args.sqlite} does not exist (run bench/load.sh first)")
    copy_store(args.sqlite, args.neo4j_uri, args.neo4j_user, args.neo4j_password,
               batch=args.batch, force=args.force, wipe=args.wipe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
