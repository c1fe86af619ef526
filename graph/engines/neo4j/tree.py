"""Traversal on the server: one round trip per direction of a question.

With APOC core served (the test launcher, docker-compose's ``NEO4J_PLUGINS``, Aura), a genealogy
or a walk is ONE Cypher query: the seeds looked up by their indexed IRI (``USING INDEX``), then
``apoc.path.spanningTree`` — a multi-source breadth-first search over ``WAS_DERIVED_FROM`` with a
direction, ``maxLevel`` as the upper bound and global node uniqueness, so each node is reached
once, at its shortest depth, from the node it was first reached from — and, in the same query,
what the answer needs: for a walk each node's depth, parent, labels and key (classification,
counts and ordering without a second read); for a genealogy each node's record and the edges
walked from it. The same query then reads the watermark as committed after the search: when a
transaction committed since the snapshot began, an edge newer than the snapshot may have been
walked, and the answer is recomputed by the per-level search with its per-edge ``txId``
filter. The expander has no per-relationship property filter, so questions ``as of`` a time or
restricted to derivation kinds take the per-level search too (:mod:`graph.engines.traversal`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any

from neo4j import ManagedTransaction, Transaction

import graph.engines.neo4j.queries as Q
from graph.engines.common import DictWalk, chunks, merge_depths, unknown_seeds
from graph.engines.traversal import bfs
from graph.model import EdgeRecord, NodeRecord
from graph.port import UnitRow
from graph.schema import DERIVATION

__all__ = ["TreeWalk", "edge_record", "expand", "levels_genealogy", "server_genealogy",
           "server_walk"]

Convert = Callable[[dict[str, Any], Sequence[str]], NodeRecord]
Tree = tuple[dict[str, int], dict[str, NodeRecord], list[EdgeRecord]]
_BATCH = 5_000


def edge_record(src: str, typ: str, dst: str, props: dict[str, Any]) -> EdgeRecord:
    """An edge as stored (system properties beside the ontology's) as the port's record."""
    p = dict(props)
    eid, recorded, tx = p.pop("edgeId", ""), p.pop("recordedAt", ""), p.pop("txId", 0)
    return EdgeRecord(src, typ, dst, eid, p, recorded, tx)


def expand(tx: Transaction | ManagedTransaction, frontier: list[str], upstream: bool,
           kinds: Sequence[str] | None, as_of: str | None,
           max_tx: int | None = None) -> Iterator[tuple[str, str, EdgeRecord]]:
    """One breadth-first level: ``(from, to, edge)`` for each derivation edge out of
    (``upstream``) or into the frontier (committed by ``max_tx``), one round trip per chunk."""
    query = Q.expand(DERIVATION, upstream)
    for batch in chunks(frontier, _BATCH):
        rec = tx.run(query, frontier=batch, asOf=as_of, maxTx=max_tx,
                     kinds=None if kinds is None else list(kinds)).single()
        for f, t, src, dst, props in rec["rows"] if rec is not None else ():
            yield f, t, edge_record(src, DERIVATION, dst, props)


def levels_genealogy(tx: Transaction, start: list[str], ways: list[bool], max_depth: int,
                     kinds: Sequence[str] | None, as_of: str | None, watermark: int
                     ) -> tuple[dict[str, int], list[EdgeRecord]]:
    """Depths and edges walked by the per-level search (a round trip per level), for the
    questions the expander cannot filter and after a write since the snapshot."""
    depth: dict[str, int] = {}
    edges: list[EdgeRecord] = []
    for up in ways:
        d, e = bfs(start, lambda f, up=up: expand(tx, f, up, kinds, as_of, watermark),  # type: ignore[misc]  # lambda default
                   max_depth)
        merge_depths(depth, d)
        edges.extend(e)
    return depth, edges


def _run(tx: Transaction, query: str, seeds: Sequence[str], max_depth: int,
         watermark: int) -> list[Any] | None:
    """The rows of a tree query, or ``None`` when a write committed since ``watermark``."""
    if not seeds:
        return []
    # (APOC reads a negative maxLevel as "no bound"; the per-level search as "seeds only")
    rec = tx.run(query, seeds=list(dict.fromkeys(seeds)), maxDepth=max(max_depth, 0)).single()
    if rec is None or int(rec["tx"]) != watermark:
        return None
    return list(rec["rows"])


def server_genealogy(tx: Transaction, seeds: Sequence[str], ways: list[bool], max_depth: int,
                     watermark: int, node: Convert) -> Tree | None:
    """Depth and record of every reached node and the edges walked, one query per way
    (upstream first); ``None``: walk again per level (see the module docstring)."""
    depth: dict[str, int] = {}
    nodes: dict[str, NodeRecord] = {}
    edges: list[EdgeRecord] = []
    for up in ways:
        rows = _run(tx, Q.genealogy_tree(DERIVATION, up), seeds, max_depth, watermark)
        if rows is None:
            return None
        reached: dict[str, int] = {}
        for props, labels, d, out in rows:
            rec = node(props, labels)
            reached[rec.iri] = d
            nodes[rec.iri] = rec
            for far, eprops in out:
                if far is None:  # OPTIONAL MATCH without an edge
                    continue
                edges.append(edge_record(rec.iri, DERIVATION, far, eprops) if up
                             else edge_record(far, DERIVATION, rec.iri, eprops))
        merge_depths(depth, reached)
    return depth, nodes, edges


class TreeWalk(DictWalk):
    """A :class:`DictWalk` that knows each node's class and key from the traversal itself, so
    classifying, counting and ordering read nothing more; records are read only for the
    handles asked for (a page, an export chunk)."""

    def __init__(self, seeds: dict[str, Hashable], unknown: list[str], depth: dict[str, int],
                 parent: dict[str, str | None], label: dict[str, str], key: dict[str, str],
                 fetch: Callable[[list[str]], dict[str, NodeRecord]]) -> None:
        super().__init__(seeds, unknown, depth, parent, fetch)
        self.label = label
        self.key = key

    def by_label(self) -> dict[str, list[Hashable]]:
        out: dict[str, list[Hashable]] = {}
        for iri, cls in self.label.items():
            out.setdefault(cls, []).append(iri)
        return out

    def records(self, handles: Sequence[Hashable]) -> dict[Hashable, NodeRecord]:
        got: dict[str, NodeRecord] = {}
        for batch in chunks([str(h) for h in handles], _BATCH):
            got.update(self._fetch(batch))
        return {h: got[str(h)] for h in handles}

    def keys(self, handles: Sequence[Hashable]) -> dict[Hashable, str]:
        return {h: self.key[str(h)] for h in handles}

    def first_by_key(self, handles: Sequence[Hashable], n: int) -> list[Hashable]:
        return sorted(handles, key=lambda h: (self.key[str(h)], str(h)))[:n]

    def unit_rows(self, handles: Sequence[Hashable]) -> Iterator[UnitRow]:
        ordered = sorted(handles, key=lambda h: (self.key[str(h)], str(h)))
        for batch in chunks(ordered, _BATCH):  # records of one chunk at a time (GTINs)
            recs = self.records(batch)
            for h in batch:
                path = self.witness(h)
                rec = recs[h]
                yield (rec.key, str(rec.props.get("gtin", "")), rec.iri,
                       str(path[-2]) if len(path) > 1 else "", self.depth_of(h), str(path[0]))


def server_walk(tx: Transaction, seeds: Sequence[str], upstream: bool, max_depth: int,
                watermark: int, most_specific: Callable[[Sequence[str]], str],
                fetch: Callable[[list[str]], dict[str, NodeRecord]]) -> TreeWalk | None:
    """The breadth-first tree from ``seeds`` in one round trip; ``None``: walk again per
    level (see the module docstring)."""
    rows = _run(tx, Q.walk_tree(DERIVATION, upstream), seeds, max_depth, watermark)
    if rows is None:
        return None
    depth: dict[str, int] = {}
    parent: dict[str, str | None] = {}
    label: dict[str, str] = {}
    key: dict[str, str] = {}
    for iri, d, p, labels, k in rows:
        depth[iri], parent[iri], label[iri], key[iri] = d, p, most_specific(labels), k or ""
    start = [s for s in dict.fromkeys(seeds) if depth.get(s) == 0]
    return TreeWalk({s: s for s in start}, unknown_seeds(seeds, start), depth, parent, label,
                    key, fetch)
