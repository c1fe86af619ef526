"""Genealogy is a DAG: the write path refuses derivations that would make something derived
from itself (:func:`cycle_problems`, run by :class:`graph.write.Writer` inside the transaction)."""

from __future__ import annotations

from collections.abc import Mapping

from graph.errors import Problem
from graph.model import EdgeRecord, NodeRecord
from graph.port import StoreTx
from graph.schema import DERIVATION

__all__ = ["cycle_problems"]


def cycle_problems(tx: StoreTx, new: list[EdgeRecord],
                   stored: Mapping[str, NodeRecord]) -> list[Problem]:
    """Derivations that would make something derived from itself: genealogy is a DAG.

    A cycle must use a new edge. Among new nodes only, Kahn's algorithm finds it. Through
    stored nodes, it must leave the stored region by a new edge out of a stored node; so
    the sources those edges add are walked upstream (stored and new edges together) and
    only if that walk meets the stored node is the write refused.
    """
    if not new:
        return []
    problems: list[Problem] = []

    def cycle(src: str, dst: str) -> Problem:
        return Problem(rule="genealogy-acyclic", field="wasDerivedFrom", value=dst, focus=src,
                       message=f"{src} cannot be derived from {dst}: {dst} is already "
                               f"derived from {src}, so genealogy would have a cycle")

    up: dict[str, list[str]] = {}
    for e in new:
        if e.src == e.dst:
            problems.append(cycle(e.src, e.dst))
        up.setdefault(e.src, []).append(e.dst)
    # Kahn's algorithm over the new edges alone
    indeg: dict[str, int] = {}
    for e in new:
        indeg[e.dst] = indeg.get(e.dst, 0) + 1
        indeg.setdefault(e.src, 0)
    ready = [n for n, d in indeg.items() if d == 0]
    seen = 0
    while ready:
        n = ready.pop()
        seen += 1
        for m in up.get(n, ()):
            indeg[m] -= 1
            if indeg[m] == 0:
                ready.append(m)
    if seen < len(indeg):
        stuck = sorted(n for n, d in indeg.items() if d > 0)
        problems.append(Problem(
            rule="genealogy-acyclic", field="wasDerivedFrom", value=stuck[:5], focus=stuck[0],
            message="these derivations form a cycle among themselves: genealogy must be "
                    "acyclic"))
        return problems
    # cycles through stored nodes: only new edges leaving a stored node can close one
    risky = [e for e in new if e.src in stored and e.src != e.dst]
    if not risky:
        return problems
    outputs = {e.src for e in risky}
    frontier = list({e.dst for e in risky})
    reached = set(frontier)
    for _ in range(1000):
        if not frontier or reached & outputs:
            break
        nxt: list[str] = []
        for e in tx.fetch_out_edges(frontier, [DERIVATION]):
            if e.dst not in reached:
                reached.add(e.dst)
                nxt.append(e.dst)
        for f in frontier:
            for d in up.get(f, ()):
                if d not in reached:
                    reached.add(d)
                    nxt.append(d)
        frontier = nxt
    if reached & outputs:  # confirm edge by edge, to name the culprit precisely
        for e in risky:
            if e.src in reached and e.src in _upstream(tx, e.dst, up, e.src):
                problems.append(cycle(e.src, e.dst))
    return problems


def _upstream(tx: StoreTx, start: str, new_up: dict[str, list[str]], target: str) -> set[str]:
    """Everything ``start`` is derived from (stored and new edges), stopping at ``target``."""
    reached, frontier = {start}, [start]
    while frontier and target not in reached:
        nxt = [e.dst for e in tx.fetch_out_edges(frontier, [DERIVATION])]
        nxt += [d for f in frontier for d in new_up.get(f, ())]
        frontier = [n for n in dict.fromkeys(nxt) if n not in reached]
        reached.update(frontier)
    return reached
