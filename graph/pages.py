"""A genealogy answer as a user receives it: counts and one page (issue 16 item 1).

Nodes are listed by (depth, IRI), edges by (source IRI, target IRI, edge id); ``first`` and
``offset`` choose the page. The counts — reached nodes, walked edges, nodes per class — never
load a record. On the embedded engine the page is cut from the walk's arrays and only its
records are read (:mod:`graph.engines.sqlite.pages`); on any other store (Neo4j, an "as known
at" view, both directions at once) the full genealogy is read and the page cut from it, with
the same order and so the same answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson

from graph.model import Direction, EdgeRecord, NodeRecord, Props
from graph.write import paused_gc

__all__ = ["GenealogyPage", "RawEdge", "RawNode", "embedded", "genealogy_page"]

#: a node as read: (iri, label, key, props, recorded_at, updated_at, tx), its properties the
#: stored JSON text (embedded engine) or already decoded (other stores)
RawNode = tuple[str, str, str, str | Props, str, str, int]
#: an edge as read: (src, type, dst, eid, props, recorded_at, tx), properties as in RawNode
RawEdge = tuple[str, str, str, str, str | Props, str, int]


def _props(p: str | Props) -> Props:
    return orjson.loads(p) if isinstance(p, str) else p


@dataclass(frozen=True)
class GenealogyPage:
    """Counts and one page. The page's rows keep the properties as read (:data:`RawNode`), so a
    client asking for the page as JSON (``Genealogy.rows``) takes the stored JSON text as it is;
    :attr:`nodes` and :attr:`edges` decode them when first asked."""

    seeds: list[str]
    unknown: list[str]
    watermark: int
    node_count: int
    edge_count: int
    by_class: dict[str, int]
    raw_nodes: list[tuple[RawNode, int]]  # (row, depth), by (depth, IRI)
    raw_edges: list[RawEdge]  # by (source, target, edge id)

    @cached_property
    def nodes(self) -> list[tuple[NodeRecord, int]]:
        """(record, depth), by (depth, IRI)."""
        return [(NodeRecord(i, lb, k, _props(p), r, u, tx), d)
                for (i, lb, k, p, r, u, tx), d in self.raw_nodes]

    @cached_property
    def edges(self) -> list[EdgeRecord]:
        """By (source, target, edge id)."""
        return [EdgeRecord(s, t, d, eid, _props(p), r, tx)
                for s, t, d, eid, p, r, tx in self.raw_edges]


def genealogy_page(store: Any, seeds: Sequence[str], direction: Direction, max_depth: int = 50,
                   kinds: Sequence[str] | None = None, as_of: str | None = None,
                   first: int = 1000, offset: int = 0, edges_first: int | None = None,
                   edges_offset: int | None = None) -> GenealogyPage:
    """Counts of the genealogy of ``seeds`` and its page ``[offset, offset + first)`` of nodes
    (and of edges: ``edges_first``/``edges_offset``, by default the same).

    The cyclic garbage collector waits while the page is built: its thousands of records form
    no cycles, and a collection meanwhile rescans every live object of the process (on MD-S
    most of a page's p99)."""
    with paused_gc():
        return _page(store, seeds, direction, max_depth, kinds, as_of, first, offset,
                     edges_first, edges_offset)


def embedded(store: Any, direction: Direction, as_of: str | None) -> Any:
    """The embedded store when a question of ``direction`` as of ``as_of`` is answered from its
    walk's arrays (one direction, as of now), else ``None``."""
    if as_of is None and direction != Direction.BOTH:
        from graph.engines.sqlite.store import SQLiteStore

        if isinstance(store, SQLiteStore):
            return store
    return None


def _page(store: Any, seeds: Sequence[str], direction: Direction, max_depth: int,
          kinds: Sequence[str] | None, as_of: str | None, first: int, offset: int,
          edges_first: int | None, edges_offset: int | None) -> GenealogyPage:
    ef = first if edges_first is None else edges_first
    eo = offset if edges_offset is None else edges_offset
    sqlite = embedded(store, direction, as_of)
    if sqlite is not None:
        from graph.engines.sqlite.pages import page_of

        return GenealogyPage(*page_of(sqlite, seeds, direction == Direction.UPSTREAM,
                                      max_depth, kinds, first, offset, ef, eo))
    g = store.genealogy(seeds, direction, max_depth, kinds, as_of)
    ordered = sorted(g.depth.items(), key=lambda x: (x[1], x[0]))
    edges = sorted(g.edges, key=lambda e: (e.src, e.dst, e.eid))
    seen = {s for s in seeds if s in g.depth}
    return GenealogyPage(
        seeds=sorted(seen), unknown=[s for s in seeds if s not in seen], watermark=g.watermark,
        node_count=len(ordered), edge_count=len(edges),
        by_class=dict(sorted(Counter(n.label for n in g.nodes.values()).items())),
        raw_nodes=[(_row(g.nodes[i]), d) for i, d in ordered[offset:offset + first]],
        raw_edges=[(e.src, e.type, e.dst, e.eid, e.props, e.recorded_at, e.tx)
                   for e in edges[eo:eo + ef]])


def _row(n: NodeRecord) -> RawNode:
    return n.iri, n.label, n.key, n.props, n.recorded_at, n.updated_at, n.tx
