"""Pages of a genealogy from the embedded walk's arrays (issue 16 item 1).

A genealogy answer lists its nodes by (depth, IRI) and its edges by (source IRI, target IRI,
edge id). Ordering needs the IRIs, and reading every reached node's IRI costs as much as the
whole answer did. Instead the order of every node id among all IRIs is held in memory
(:class:`IriOrder`, one int32 per node, read once from the IRI index); a page then is a partial
sort of integer keys, and only the records on the page are read and decoded. Nodes created after
the order was read are ranked by reading the IRIs of just the levels the page reaches (or the
order is read again once they are many).

Counts (nodes, edges, nodes per class) come from the arrays alone.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

import graph.engines.sqlite.queries as Q
from graph.engines.sqlite.rows import as_json, iris_of
from graph.engines.sqlite.store import SQLiteStore
from graph.engines.sqlite.walk import ArrayWalk, LabelIndex
from graph.model import Direction
from graph.schema import DERIVATION

__all__ = ["IriOrder", "class_counts", "edge_order", "iri_order", "node_order", "page_of"]

IntArray = npt.NDArray[np.int64]

#: every node id in IRI order (a covering scan of the IRI index)
IDS_IN_IRI_ORDER = "SELECT id FROM nodes ORDER BY iri"
MAX_ID = "SELECT max(id) FROM nodes"  # (exactly so: the min/max optimisation, one seek)
#: the edges of walked (src, dst) pairs of one type (a primary-key seek per pair), each pair
#: given as one integer ``src << ?3 | dst`` (cheaper to read back than a JSON pair)
EDGES_OF_PAIRS = """
SELECT e.src, e.dst, e.eid, e.kind, e.type, e.props, e.recorded_at, e.tx
FROM json_each(?1) AS p CROSS JOIN edges e
WHERE e.src = (p.value >> ?3) AND e.type = ?2 AND e.dst = (p.value & ((1 << ?3) - 1))
"""


class IriOrder:
    """Rank of every node id (up to :attr:`upto`) among the IRIs of those nodes.

    IRIs never change, so ranks among the nodes read stay valid as nodes are added; nodes added
    later have no rank until the order is read again (when they are more than 1 % of those
    ranked, or on demand).
    """

    def __init__(self) -> None:
        self.rank: npt.NDArray[np.int32] = np.zeros(1, dtype=np.int32)
        self.upto = -1
        self._lock = threading.Lock()

    def refresh(self, conn: sqlite3.Connection, force: bool = False) -> None:
        with self._lock:
            top = int(conn.execute(MAX_ID).fetchone()[0] or 0)
            if top <= self.upto or not (force or self.upto < 0 or
                                        top - self.upto > max(self.upto // 100, 1000)):
                return
            ids = np.fromiter((r[0] for r in conn.execute(IDS_IN_IRI_ORDER)), dtype=np.int64)
            rank = np.full(max(top, int(ids.max(initial=0))) + 1, -1, dtype=np.int32)
            rank[ids] = np.arange(ids.size, dtype=np.int32)
            self.rank, self.upto = rank, top

    def of(self, ids: IntArray) -> IntArray:
        """Ranks of ``ids`` (``-1`` for nodes newer than the order)."""
        rank = self.rank
        if ids.size == 0 or int(ids.max()) < rank.size:
            return rank[ids].astype(np.int64)
        out = np.full(ids.size, -1, dtype=np.int64)
        known = ids < rank.size
        out[known] = rank[ids[known]]
        return out


_ORDERS: weakref.WeakKeyDictionary[LabelIndex, IriOrder] = weakref.WeakKeyDictionary()
_ORDERS_LOCK = threading.Lock()


def iri_order(walk: ArrayWalk) -> IriOrder:
    """The IRI order of the walk's store, brought up to date. Kept next to the store's label
    index, so a store that starts its indexes afresh (records removed) reads it again."""
    with _ORDERS_LOCK:
        order = _ORDERS.get(walk.labels)
        if order is None:
            order = _ORDERS[walk.labels] = IriOrder()
    order.refresh(walk._conn())
    return order


def _ranked(conn: sqlite3.Connection, order: IriOrder, ids: IntArray) -> IntArray:
    """Ranks of ``ids`` that sort like their IRIs among themselves: the held ranks when every
    node has one, else the IRIs of these nodes read and sorted."""
    ranks = order.of(ids)
    if ids.size == 0 or (ranks >= 0).all():
        return ranks
    names = iris_of(conn, ids.tolist())
    by_iri = sorted(range(ids.size), key=lambda i: names[int(ids[i])])
    out = np.empty(ids.size, dtype=np.int64)
    out[np.array(by_iri, dtype=np.int64)] = np.arange(ids.size, dtype=np.int64)
    return out


def _smallest(keys: IntArray, stop: int) -> IntArray:
    """Positions of the ``stop`` smallest keys, in key order (a partial sort)."""
    if stop >= keys.size:
        return np.argsort(keys, kind="stable")
    part = np.argpartition(keys, stop - 1)[:stop]
    return part[np.argsort(keys[part], kind="stable")]


def node_order(walk: ArrayWalk, offset: int, first: int) -> IntArray:
    """Node ids of the page ``[offset, offset + first)`` of the walk's nodes by (depth, IRI)."""
    r = walk.result
    stop = min(offset + first, int(r.ids.size))
    if stop <= offset:
        return np.zeros(0, dtype=np.int64)
    order = iri_order(walk)
    ranks = order.of(r.ids)
    if (ranks < 0).any():  # new nodes: rank, by their IRIs, only the levels the page reaches
        last = int(np.sort(r.depth)[stop - 1])
        inside = np.flatnonzero(r.depth <= last)
        ranks = np.full(r.ids.size, np.iinfo(np.int64).max // 4, dtype=np.int64)
        ranks[inside] = _ranked(walk._conn(), order, r.ids[inside])
    keys = r.depth * (np.int64(1) << 40) + ranks
    return r.ids[_smallest(keys, stop)[offset:]]


def edge_order(walk: ArrayWalk, src: IntArray, dst: IntArray, offset: int, first: int,
               kinds: Sequence[str] | None = None) -> list[tuple[Any, ...]]:
    """Rows ``(src id, dst id, eid, kind, type, props, recorded_at, tx)`` of the page of walked
    edges by (source IRI, target IRI, edge id); ``src``/``dst`` are the endpoints of every
    walked edge (one entry per stored edge)."""
    stop = min(offset + first, int(src.size))
    if stop <= offset:
        return []
    conn = walk._conn()
    order = iri_order(walk)
    rs, rd = order.of(src), order.of(dst)
    if (rs < 0).any() or (rd < 0).any():  # new nodes: rank every reached node by its IRI
        ids = walk.result.ids  # (both ends of a walked edge are reached)
        ranks = _ranked(conn, order, ids)
        rs, rd = ranks[np.searchsorted(ids, src)], ranks[np.searchsorted(ids, dst)]
    keys = rs * (np.int64(1) << 31) + rd
    # the page's pairs, and every pair tied with its last one (a pair's edges sort by eid)
    last = keys[_smallest(keys, stop)[-1]]
    chosen = np.flatnonzero(keys <= last)
    bits = max(int(src.max()).bit_length(), int(dst.max()).bit_length(), 1)
    if 2 * bits > 63:
        raise ValueError(f"node ids of {bits} bits: pairs would not fit one SQLite integer")
    packed = np.unique(np.left_shift(src[chosen], bits) | dst[chosen])
    rank_of = dict(zip(src[chosen].tolist(), rs[chosen].tolist(), strict=True))
    rank_of.update(zip(dst[chosen].tolist(), rd[chosen].tolist(), strict=True))
    wanted = None if kinds is None else set(kinds)
    rows = [r for r in conn.execute(EDGES_OF_PAIRS, (as_json(packed.tolist()), DERIVATION,
                                                     bits))
            if wanted is None or r[3] in wanted]
    rows.sort(key=lambda r: (rank_of[r[0]], rank_of[r[1]], r[2]))
    return rows[offset:stop]


def class_counts(walk: ArrayWalk) -> dict[str, int]:
    """Reached nodes per class, from the label index alone."""
    ids, labels = walk.result.ids, walk.labels
    codes = labels.by_id[np.minimum(ids, labels.by_id.size - 1)]
    counts = np.bincount(codes[codes >= 0].astype(np.int64), minlength=len(labels.names))
    return {labels.names[i]: int(n) for i, n in sorted(enumerate(counts.tolist()),
                                                        key=lambda x: labels.names[x[0]]) if n}


def page_of(store: SQLiteStore, seeds: Sequence[str], upstream: bool, max_depth: int,
            kinds: Sequence[str] | None, first: int, offset: int, edges_first: int,
            edges_offset: int) -> tuple[Any, ...]:
    """The fields of :class:`graph.pages.GenealogyPage` for one direction, as of now."""
    direction = Direction.UPSTREAM if upstream else Direction.DOWNSTREAM
    with store.snapshot() as watermark:
        walk = store.walk(seeds, direction, max_depth, kinds)
        assert isinstance(walk, ArrayWalk)
        src, dst = store._index.endpoints(walk.result.edges)
        by_class = class_counts(walk)
        ids = node_order(walk, offset, first)
        depth = walk.result.depth[walk.result.position(ids)]
        edge_ids = edge_order(walk, src, dst, edges_offset, edges_first, kinds)
        conn = walk._conn()
        records = {r[0]: r[1:] for r in conn.execute(Q.NODES_BY_IDS, (as_json(ids.tolist()),))}
        names = iris_of(conn, sorted({x for r in edge_ids for x in r[:2]}))
        edges = [(names[s], t, names[d], eid, p, rec, tx)
                 for s, d, eid, _, t, p, rec, tx in edge_ids]
        nodes = [(records[i], d) for i, d in zip(ids.tolist(), depth.tolist(), strict=True)]
        return (sorted(walk.seeds), list(walk.unknown), watermark, len(walk), int(src.size),
                by_class, nodes, edges)
