"""An in-memory index of the derivation edges for the embedded engine.

Genealogy and recall walk one edge family. Walking it through SQL costs one query per level and
a row per edge; the same walk over compressed sparse rows (numpy) is vectorised per level, which is
the roofline DESIGN.md §5 asks the embedded engine to approach. The index is kept in step with
commits: every answer first checks the store's watermark and folds in the edges committed since
(an indexed ``tx`` range), so an answer is never staler than the transaction it reports — also when
another process wrote to the same file. A large backlog of new edges triggers a rebuild.

>>> idx = DerivationIndex(["consumption", "production"])
>>> idx.extend([2, 3], [1, 1], [0, 1], [10, 11], [1, 2])
>>> w = idx.walk([1], upstream=False, max_depth=5)
>>> w.depths()
{1: 0, 2: 1, 3: 1}
>>> idx.walk([1], upstream=False, max_depth=5, max_tx=1).depths()  # as of transaction 1
{1: 0, 2: 1}
>>> w.witness(3)
[1, 3]
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["DerivationIndex", "WalkResult"]

IntArray = npt.NDArray[np.int64]

_REBUILD_AT = 50_000  # pending edges folded into the compressed rows at this size


@dataclass(frozen=True)
class WalkResult:
    """A breadth-first walk, compact: the reached node ids (sorted), each one's depth and the
    node it was first reached from (``-1`` for seeds), and the indices of the edges walked."""

    ids: IntArray
    depth: IntArray
    parent: IntArray
    edges: IntArray

    def depths(self) -> dict[int, int]:
        return dict(zip(self.ids.tolist(), self.depth.tolist(), strict=True))

    def position(self, nodes: IntArray) -> IntArray:
        """Positions of reached node ids in :attr:`ids`."""
        return np.searchsorted(self.ids, nodes)

    def depth_of(self, node: int) -> int:
        return int(self.depth[self.position(np.array([node]))[0]])

    def parents_of(self, nodes: IntArray) -> IntArray:
        return self.parent[self.position(nodes)]

    def witness(self, node: int) -> list[int]:
        """Node ids from the seed to ``node`` along first-reached parents."""
        path = [node]
        while (p := int(self.parents_of(np.array([path[-1]]))[0])) >= 0:
            path.append(p)
        return path[::-1]


def _distinct(a: IntArray) -> tuple[IntArray, IntArray]:
    """Sorted distinct values and the index of each one's first occurrence (a stable sort and a
    neighbour compare: faster than ``np.unique`` on large arrays)."""
    if a.size == 0:
        return a, a
    order = np.argsort(a, kind="stable")
    s = a[order]
    keep = np.empty(s.size, dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep], order[keep]


def _csr(keys: IntArray, n: int) -> tuple[IntArray, IntArray]:
    """Row pointers and the permutation that sorts edges by ``keys``."""
    order = np.argsort(keys, kind="stable").astype(np.int64)
    counts = np.bincount(keys, minlength=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, order


class DerivationIndex:
    """Derivation edges ``src -> dst`` (derived thing → source) as CSR in both directions.

    Edges carry a kind code (position in ``kinds``) and their record time (µs since the epoch,
    for ``asOf``). Node handles are the store's integer node ids.
    """

    def __init__(self, kinds: Sequence[str]) -> None:
        self.kinds = {k: i for i, k in enumerate(kinds)}
        self.tx = 0  # last transaction folded in
        self._src: IntArray = np.zeros(0, dtype=np.int64)
        self._dst: IntArray = np.zeros(0, dtype=np.int64)
        self._kind: IntArray = np.zeros(0, dtype=np.int64)
        self._rec: IntArray = np.zeros(0, dtype=np.int64)
        self._etx: IntArray = np.zeros(0, dtype=np.int64)  # transaction of each edge
        self._pending: list[tuple[IntArray, IntArray, IntArray, IntArray]] = []
        self._n_pending = 0
        self._built = 0  # number of edges in the compressed rows
        self._n = 1
        self._max_id = 0
        self._depth: IntArray = np.zeros(0, dtype=np.int64)
        self._parent: IntArray = np.zeros(0, dtype=np.int64)
        self._buffers_lock = threading.Lock()
        self._up: tuple[IntArray, IntArray] = (np.zeros(2, dtype=np.int64),
                                                np.zeros(0, dtype=np.int64))
        self._down = self._up

    def __len__(self) -> int:
        return int(self._src.size)

    @property
    def max_id(self) -> int:
        return self._max_id

    def kind_code(self, kind: str | None) -> int:
        return self.kinds.get(kind or "", -1)

    def extend(self, src: Iterable[int], dst: Iterable[int], kind: Iterable[int],
               recorded_us: Iterable[int], tx: Iterable[int]) -> None:
        """Add committed edges, each with the transaction that wrote it."""
        arrays = tuple(np.fromiter(x, dtype=np.int64) for x in (src, dst, kind, recorded_us))
        s, d, k, r = arrays
        txs = np.fromiter(tx, dtype=np.int64)
        if txs.size != s.size:
            raise ValueError(f"{s.size} edges but {txs.size} transaction ids")
        if txs.size:
            self.tx = max(self.tx, int(txs.max()))
        if s.size == 0:
            return
        self._max_id = max(self._max_id, int(s.max()), int(d.max()))
        self._src = np.concatenate([self._src, s])
        self._dst = np.concatenate([self._dst, d])
        self._kind = np.concatenate([self._kind, k])
        self._rec = np.concatenate([self._rec, r])
        self._etx = np.concatenate([self._etx, txs])
        self._n_pending += int(s.size)
        if self._built == 0 or self._n_pending >= _REBUILD_AT:
            self._rebuild()

    def _rebuild(self) -> None:
        self._n = int(max(self._src.max(initial=0), self._dst.max(initial=0))) + 2
        self._up = _csr(self._src, self._n)
        self._down = _csr(self._dst, self._n)
        self._built = int(self._src.size)
        self._n_pending = 0

    def walk(self, seeds: Sequence[int], upstream: bool, max_depth: int,
             kinds: Sequence[str] | None = None, as_of_us: int | None = None,
             max_tx: int | None = None) -> WalkResult:
        """Depth of every node reachable from ``seeds`` and the indices of the edges walked.

        The same semantics as :func:`graph.engines.traversal.bfs`: an edge is walked from each node
        closer than ``max_depth``; a node's depth is its fewest hops from a seed. With ``max_tx``
        only edges committed by that transaction are walked: the graph as of a watermark (a
        snapshot read whose index was brought further by another reader).
        """
        allowed: npt.NDArray[np.bool_] | None = None
        if max_tx is not None and max_tx >= self.tx:
            max_tx = None  # every edge folded in is old enough
        if kinds is not None or as_of_us is not None or max_tx is not None:
            allowed = np.ones(self._src.size, dtype=bool)
            if kinds is not None:
                allowed &= np.isin(self._kind, [self.kind_code(k) for k in kinds])
            if as_of_us is not None:
                allowed &= self._rec <= as_of_us
            if max_tx is not None:
                allowed &= self._etx <= max_tx
        near, far = (self._src, self._dst) if upstream else (self._dst, self._src)
        indptr, order = self._up if upstream else self._down
        built = self._built
        tail = np.arange(built, self._src.size, dtype=np.int64)  # not yet in compressed rows
        with self._buffers_lock:
            return self._walk(seeds, near, far, indptr, order, tail, allowed, max_depth)

    def _walk(self, seeds: Sequence[int], near: IntArray, far: IntArray, indptr: IntArray,
              order: IntArray, tail: IntArray, allowed: npt.NDArray[np.bool_] | None,
              max_depth: int) -> WalkResult:
        size = max(self._max_id, int(max(seeds, default=0))) + 2
        if self._depth.size < size:  # scratch arrays, reused: only touched entries are reset
            self._depth = np.full(size + size // 4, -1, dtype=np.int64)
            self._parent = np.full(size + size // 4, -1, dtype=np.int64)
        depth, parent = self._depth, self._parent
        frontier = _distinct(np.asarray(seeds, dtype=np.int64))[0]
        depth[frontier] = 0
        reached: list[IntArray] = [frontier]
        walked: list[IntArray] = []
        level = 0
        while frontier.size and level < max_depth:
            level += 1
            inside = frontier[frontier < indptr.size - 1]
            starts, ends = indptr[inside], indptr[inside + 1]
            counts = ends - starts
            total = int(counts.sum())
            if total:
                offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)
                edges = order[np.arange(total, dtype=np.int64) + offsets]
            else:
                edges = np.zeros(0, dtype=np.int64)
            if tail.size:
                edges = np.concatenate([edges, tail[np.isin(near[tail], frontier)]])
            if allowed is not None:
                edges = edges[allowed[edges]]
            walked.append(edges)
            targets = far[edges]
            new = depth[targets] < 0
            fresh, first = _distinct(targets[new])
            depth[fresh] = level
            parent[fresh] = near[edges][new][first]
            reached.append(fresh)
            frontier = fresh
        ids = np.sort(np.concatenate(reached))
        result = WalkResult(ids, depth[ids].copy(), parent[ids].copy(),
                            np.concatenate(walked) if walked else np.zeros(0, dtype=np.int64))
        depth[ids] = -1
        parent[ids] = -1
        return result

    def state(self) -> dict[str, npt.NDArray[np.int64]]:
        """The edges and watermark, to persist next to the store (see :meth:`restore`)."""
        return {"src": self._src, "dst": self._dst, "kind": self._kind, "rec": self._rec,
                "etx": self._etx, "tx": np.array([self.tx], dtype=np.int64)}

    def restore(self, state: dict[str, npt.NDArray[np.int64]]) -> None:
        """Start from persisted edges instead of reading them all from the store."""
        self.tx = int(state["tx"][0])
        self._src, self._dst = state["src"], state["dst"]
        self._kind, self._rec, self._etx = state["kind"], state["rec"], state["etx"]
        self._max_id = int(max(self._src.max(initial=0), self._dst.max(initial=0)))
        self._n_pending = 0
        if self._src.size:
            self._rebuild()

    def edge(self, i: int) -> tuple[int, int]:
        return int(self._src[i]), int(self._dst[i])

    def endpoints(self, idx: IntArray) -> tuple[IntArray, IntArray]:
        return self._src[idx], self._dst[idx]
