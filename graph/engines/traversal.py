"""The reference traversal: level-synchronous breadth-first search over derivation edges.

The caller supplies one primitive, ``expand(frontier) -> [(from, to, edge)]``; the search itself,
its depth semantics and its de-duplication live here. The Neo4j engine runs it as is (one Cypher
round trip per level); the embedded engine's CSR walk
(:meth:`graph.engines.sqlite.adjacency.DerivationIndex.walk`) is a vectorised implementation of
the same semantics; the contract suite holds both engines to the same answers.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TypeVar

H = TypeVar("H", bound=Hashable)
E = TypeVar("E")

__all__ = ["bfs", "bfs_tree"]


def bfs(seeds: Sequence[H], expand: Callable[[list[H]], Iterable[tuple[H, H, E]]],
        max_depth: int) -> tuple[dict[H, int], list[E]]:
    """Depth of every node reachable from ``seeds`` within ``max_depth`` hops, and each edge
    walked from a node closer than ``max_depth``.

    >>> adj = {1: [2, 3], 2: [4], 3: [4], 4: []}
    >>> depth, edges = bfs([1], lambda f: [(a, b, (a, b)) for a in f for b in adj[a]], 5)
    >>> depth
    {1: 0, 2: 1, 3: 1, 4: 2}
    >>> sorted(edges)
    [(1, 2), (1, 3), (2, 4), (3, 4)]
    """
    depth: dict[H, int] = {}
    for s in seeds:
        depth.setdefault(s, 0)
    frontier = list(depth)
    edges: list[E] = []
    level = 0
    while frontier and level < max_depth:
        level += 1
        nxt: list[H] = []
        for _frm, to, edge in expand(frontier):
            edges.append(edge)
            if to not in depth:
                depth[to] = level
                nxt.append(to)
        frontier = nxt
    return depth, edges


def bfs_tree(seeds: Sequence[H], expand: Callable[[list[H]], Iterable[tuple[H, H, E]]],
             max_depth: int) -> tuple[dict[H, int], dict[H, H | None]]:
    """Depth of every reachable node and the node it was first reached from (``None`` for a
    seed): a breadth-first tree, so following parents gives one shortest witness path.

    >>> adj = {1: [2, 3], 2: [4], 3: [4], 4: []}
    >>> bfs_tree([1], lambda f: [(a, b, None) for a in f for b in adj[a]], 5)[1]
    {1: None, 2: 1, 3: 1, 4: 2}
    """
    depth: dict[H, int] = {}
    parent: dict[H, H | None] = {}
    for s in seeds:
        if s not in depth:
            depth[s], parent[s] = 0, None
    frontier = list(depth)
    level = 0
    while frontier and level < max_depth:
        level += 1
        nxt: list[H] = []
        for frm, to, _edge in expand(frontier):
            if to not in depth:
                depth[to], parent[to] = level, frm
                nxt.append(to)
        frontier = nxt
    return depth, parent
