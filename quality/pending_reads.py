"""Reads a write guard needs over a pending write: a node's newest state and a node's links,
committed and new together (see :class:`graph.write.PendingWrite`). The same reads over the
committed store alone (:class:`Committed`) let a report apply a rule's logic to what is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from graph.model import Direction, EdgeRecord, NodeRecord
from graph.port import GraphStore

__all__ = ["Committed", "Reads", "links", "nodes", "targets"]


class Reads(Protocol):
    """What the reads need: a :class:`graph.write.PendingWrite`, or :class:`Committed`."""

    @property
    def store(self) -> GraphStore: ...

    @property
    def new_edges(self) -> Sequence[EdgeRecord]: ...

    def current(self, iri: str) -> NodeRecord | None: ...

    def new_edges_of(self, types: Sequence[str]) -> list[EdgeRecord]: ...


@dataclass(frozen=True)
class Committed:
    """The committed store, read as a guard reads a pending write with nothing pending."""

    store: GraphStore
    new_edges: Sequence[EdgeRecord] = ()

    def current(self, iri: str) -> NodeRecord | None:
        return None

    def new_edges_of(self, types: Sequence[str]) -> list[EdgeRecord]:
        return [e for e in self.new_edges if e.type in types]


def nodes(p: Reads, iris: Iterable[str]) -> dict[str, NodeRecord]:
    """The newest state of each of ``iris`` that exists (this write first, then the store)."""
    wanted = sorted(set(iris))
    out = {i: n for i in wanted if (n := p.current(i)) is not None}
    missing = [i for i in wanted if i not in out]
    if missing:
        out.update(p.store.get_many(missing))
    return out


def links(p: Reads, iris: Iterable[str], types: Sequence[str],
          direction: Direction = Direction.UPSTREAM) -> list[EdgeRecord]:
    """Edges of ``types`` out of ``iris`` (``UPSTREAM``) or into them (``DOWNSTREAM``), stored
    and written by this batch."""
    wanted = sorted(set(iris))
    if not wanted:
        return []
    out = list(p.store.links(wanted, list(types), direction))
    seen = set(wanted)
    up = direction == Direction.UPSTREAM
    out += [e for e in p.new_edges_of(types) if (e.src if up else e.dst) in seen]
    return out


def targets(p: Reads, iris: Iterable[str], rel: str) -> dict[str, list[str]]:
    """source → the targets of its ``rel`` links (stored and new)."""
    out: dict[str, list[str]] = {}
    for e in links(p, iris, [rel]):
        if e.dst not in out.setdefault(e.src, []):
            out[e.src].append(e.dst)
    return out
