"""Controlled documents as chains of revisions (issue 18 item 1): every revision of a document
and the revision in force at a time, read from the graph.

Each revision of a controlled document is a ``tg:Document`` record linked newer → older by
``prov:wasRevisionOf``; the chain is the document. The revision **in force** at ``t`` is the
chain's revision effective then (:func:`graph.versions.effective_at`: Effective — or later
Superseded — with ``effectiveFrom <= t < effectiveTo``). Used by the training rule and the
eDHR (:mod:`quality.document_training`), document control (:mod:`quality.documents`) and change
impact (:mod:`graph.change_impact`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from graph.versions import effective_at
from ontology.terms import C, P, R

__all__ = ["MAX_REVISIONS", "chains", "in_force"]

#: how many revisions back or forward a chain is followed
MAX_REVISIONS = 200


def chains(store: GraphStore, docs: Sequence[str]) -> dict[str, list[NodeRecord]]:
    """For each document IRI of ``docs``: every revision of its chain (itself included)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    frontier = sorted(set(docs))
    seen = set(frontier)
    for _ in range(MAX_REVISIONS):
        if not frontier:
            break
        nxt: set[str] = set()
        for e in [*store.links(frontier, [R.WAS_REVISION_OF]),
                  *store.links(frontier, [R.WAS_REVISION_OF], Direction.DOWNSTREAM)]:
            parent[find(e.src)] = find(e.dst)
            nxt.update((e.src, e.dst))
        frontier = sorted(nxt - seen)
        seen |= nxt
    nodes = {i: n for i, n in store.get_many(sorted(seen)).items() if n.label == C.Document}
    groups: dict[str, list[NodeRecord]] = {}
    for i, n in nodes.items():
        groups.setdefault(find(i), []).append(n)
    return {d: sorted(groups.get(find(d), []), key=lambda n: n.key) for d in docs}


def in_force(revisions: Iterable[NodeRecord], at: str) -> NodeRecord | None:
    """The revision effective at ``at`` (the latest to become effective, if windows overlap)."""
    hits = [r for r in revisions if effective_at(r, at)]
    return max(hits, key=lambda r: str(r.props.get(P.effectiveFrom, ""))) if hits else None
