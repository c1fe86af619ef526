"""The genealogy benchmark's roofline (:mod:`bench.genealogy`): a numpy BFS over CSR arrays of
the derivation edges, built once, ids in and arrays out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["CSRRoofline", "IntArray"]

IntArray = npt.NDArray[np.int64]


class CSRRoofline:
    """Derivation edges ``src -> dst`` as compressed sparse rows in both directions (int32
    neighbour ids), and a level-synchronous BFS that touches only the frontier's rows.

    >>> r = CSRRoofline(np.array([2, 3, 4]), np.array([1, 1, 2]))
    >>> ids, depth, walked = r.walk([1], upstream=False, max_depth=5)
    >>> dict(zip(ids.tolist(), depth.tolist())), walked
    ({1: 0, 2: 1, 3: 1, 4: 2}, 3)
    """

    def __init__(self, src: IntArray, dst: IntArray) -> None:
        self.n = int(max(src.max(initial=0), dst.max(initial=0))) + 2
        self.up = self._csr(src, dst)  # a node's sources
        self.down = self._csr(dst, src)  # what was derived from a node
        self.depth = np.full(self.n, -1, dtype=np.int32)
        self.stamp = np.zeros(self.n, dtype=np.int64)

    def _csr(self, rows: IntArray, cols: IntArray) -> tuple[IntArray, npt.NDArray[np.int32]]:
        order = np.argsort(rows, kind="stable")
        indptr = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=self.n), out=indptr[1:])
        return indptr, cols[order].astype(np.int32)

    def walk(self, seeds: Sequence[int], upstream: bool, max_depth: int
             ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], int]:
        """Reached ids, their depths, and the number of edges walked."""
        indptr, cols = self.up if upstream else self.down
        depth, stamp = self.depth, self.stamp
        frontier = np.unique(np.asarray(seeds, dtype=np.int32))
        depth[frontier] = 0
        levels = [frontier]
        walked = 0
        level = 0
        while frontier.size and level < max_depth:
            level += 1
            starts = indptr[frontier]
            counts = indptr[frontier + 1] - starts
            total = int(counts.sum())
            walked += total
            if not total:
                break
            offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
            targets = cols[np.arange(total, dtype=np.int64) + offsets]
            targets = targets[depth[targets] < 0]
            pos = np.arange(targets.size, dtype=np.int64)
            stamp[targets] = pos  # keep one occurrence of each id, without sorting
            frontier = targets[stamp[targets] == pos]
            depth[frontier] = level
            levels.append(frontier)
        ids = np.concatenate(levels)
        out = depth[ids].copy()
        depth[ids] = -1  # ready for the next walk
        return ids, out, walked

