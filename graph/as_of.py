"""As known at: the graph as it was recorded at a record time (bitemporal answers).

Every answer that takes ``asOf`` — genealogy, a node, recall, equipment impact, the release
report, the eDHR — reads through :class:`AsOfStore`, a read-only view of a store as it was
recorded at ``at``: what an auditor asks ("what did the system say about lot X on date D").

* **Edges** recorded after ``at`` are left out (edges are never edited: a link is recorded once).
* **Node properties** are those recorded by ``at``. The store keeps only the current state, and
  the audit trail holds every write whole (:mod:`graph.audit_state`: a create with every
  property and link, an update per property, a delete), so a node updated after ``at`` is the
  replay of its own audit entries up to ``at`` (:func:`graph.audit_state.replay_record`, the
  same fold the state check proves equal to the store). A node last updated by ``at`` is
  returned as stored: nothing is read for it. The nodes of a page are replayed from one batched
  read of their entries (:meth:`graph.port.GraphStore.audit_of_records`), never one query per
  node.
* **Nodes recorded after** ``at`` do not appear (in lookups, class lists, traversals: a
  traversal as of ``at`` starts only from seeds recorded by then and walks only edges recorded
  by then).
* **The watermark** every answer states is the last transaction recorded by ``at``
  (:meth:`graph.port.GraphStore.tx_at`); ``snapshot()`` reads in one snapshot of the store and
  yields it.

Not shown: the records a rolled-back migration stage removed (:mod:`graph.retract`), which are
gone from the store; secret properties of a replayed node are the digests the trail keeps.
With ``asOf`` absent nothing here runs: the answers read the store as before.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from itertools import groupby
from typing import Any

from graph.audit import paged
from graph.audit_state import replay_record
from graph.errors import RefusedError
from graph.model import AuditEntry, CapturedEvent, Direction, EdgeRecord, Genealogy, NodeRecord
from graph.port import GraphStore, StoreTx, UnitRow, Walk
from ontology.datatypes import to_utc_text

__all__ = ["AsOfStore", "as_of_store", "nodes_as_of"]

#: nodes replayed per batched audit read when a whole class or the whole state is listed
PAGE = 2000


def nodes_as_of(store: GraphStore, nodes: Iterable[NodeRecord], at: str
                ) -> dict[str, NodeRecord]:
    """The given stored nodes as recorded at ``at`` (UTC text), in the order given; a node not
    yet recorded then is left out. One batched audit read for the nodes updated after ``at``."""
    given = list(nodes)
    stale = [n.iri for n in given if n.updated_at > at]
    if not stale:  # nothing changed since: the stored records are the answer
        return {n.iri: n for n in given}
    then: dict[str, NodeRecord] = {}
    for iri, entries in groupby(store.audit_of_records(stale, at), lambda e: e.record):
        r = replay_record(entries)
        if r.recorded_at is None or r.updated is None or r.label is None or r.key is None:
            continue  # not created by then (or removed again)
        then[iri] = NodeRecord(iri, r.label, r.key,
                               {k: v for k, (v, _) in r.props.items() if v is not None},
                               r.recorded_at[0], r.updated[0], r.updated[1])
    return {n.iri: then[n.iri] if n.updated_at > at else n
            for n in given if n.updated_at <= at or n.iri in then}


class AsOfStore:
    """A read-only view of ``store`` as recorded at ``at`` (any ISO-8601 timestamp with a
    zone; ``TypeRuleError`` otherwise). Writes are refused."""

    def __init__(self, store: GraphStore, at: str) -> None:
        self.inner = store
        self.at = to_utc_text(at)
        self.engine = store.engine
        self._tx: int | None = None

    # -- the watermark ----------------------------------------------------------------------
    @property
    def as_of_tx(self) -> int:
        """The last transaction recorded by ``at``: the watermark the answers state."""
        if self._tx is None:
            self._tx = self.inner.tx_at(self.at)
        return self._tx

    def watermark(self) -> int:
        return self.as_of_tx

    @contextmanager
    def _snapshot(self) -> Iterator[int]:
        with self.inner.snapshot():
            yield self.as_of_tx

    def snapshot(self) -> AbstractContextManager[int]:
        return self._snapshot()

    def _bound(self, when: str | None) -> str:
        return self.at if when is None or when > self.at else when

    # -- nodes ------------------------------------------------------------------------------
    def _then(self, nodes: Iterable[NodeRecord]) -> dict[str, NodeRecord]:
        return nodes_as_of(self.inner, nodes, self.at)

    def get(self, iri: str) -> NodeRecord | None:
        return self.get_many([iri]).get(iri)

    def get_many(self, iris: Iterable[str]) -> dict[str, NodeRecord]:
        return self._then(self.inner.get_many(iris).values())

    def find(self, value: str, prop: str | None = None,
             label: str | None = None) -> list[NodeRecord]:
        return list(self._then(self.inner.find(value, prop, label)).values())

    def nodes_of_class(self, label: str) -> list[NodeRecord]:
        now = [n for n in self.inner.nodes_of_class(label) if n.recorded_at <= self.at]
        return [n for i in range(0, len(now), PAGE)
                for n in self._then(now[i:i + PAGE]).values()]

    def nodes_by_iri(self, start: str | None = None, stop: str | None = None
                     ) -> Iterator[NodeRecord]:
        page: list[NodeRecord] = []
        for n in self.inner.nodes_by_iri(start, stop):
            page.append(n)
            if len(page) == PAGE:
                yield from self._then(page).values()
                page = []
        yield from self._then(page).values()

    # -- edges and traversals ---------------------------------------------------------------
    def _known(self, edges: Iterable[EdgeRecord]) -> list[EdgeRecord]:
        return [e for e in edges if e.recorded_at <= self.at]

    def edges(self, iri: str, direction: Direction = Direction.UPSTREAM,
              rel_types: Iterable[str] | None = None) -> list[EdgeRecord]:
        return self._known(self.inner.edges(iri, direction, rel_types))

    def links(self, iris: Sequence[str], rel_types: Sequence[str] | None = None,
              direction: Direction = Direction.UPSTREAM) -> list[EdgeRecord]:
        return self._known(self.inner.links(iris, rel_types, direction))

    def edges_by_source(self, start: str | None = None, stop: str | None = None
                        ) -> Iterator[EdgeRecord]:
        return (e for e in self.inner.edges_by_source(start, stop) if e.recorded_at <= self.at)

    def edges_of_type(self, rel_type: str, after_tx: int = 0, until_tx: int | None = None
                      ) -> list[EdgeRecord]:
        return self._known(self.inner.edges_of_type(rel_type, after_tx, until_tx))

    def genealogy(self, seeds: Sequence[str], direction: Direction, max_depth: int = 50,
                  kinds: Sequence[str] | None = None, as_of: str | None = None) -> Genealogy:
        g = self.inner.genealogy(seeds, direction, max_depth, kinds, self._bound(as_of))
        nodes = self._then(g.nodes.values())
        return Genealogy(g.seeds, nodes, {i: d for i, d in g.depth.items() if i in nodes},
                         g.edges, self.as_of_tx)

    def walk(self, seeds: Sequence[str], direction: Direction, max_depth: int = 50,
             kinds: Sequence[str] | None = None, as_of: str | None = None) -> Walk:
        return _AsOfWalk(self.inner.walk(seeds, direction, max_depth, kinds,
                                         self._bound(as_of)), self)

    # -- the audit trail (up to ``at``) -----------------------------------------------------
    def audit_entries(self, record: str | None = None, actor: str | None = None,
                      since: str | None = None, until: str | None = None,
                      after_seq: int = 0, limit: int | None = None) -> list[AuditEntry]:
        return self.inner.audit_entries(record, actor, since, self._bound(until), after_seq,
                                        limit)

    def iter_audit(self, batch: int = 10_000) -> Iterator[AuditEntry]:
        return paged(self.audit_entries, batch)

    def audit_by_record(self, start: str | None = None, stop: str | None = None
                        ) -> Iterator[AuditEntry]:
        return (e for e in self.inner.audit_by_record(start, stop) if e.at <= self.at)

    def audit_of_records(self, records: Iterable[str], until: str) -> list[AuditEntry]:
        return self.inner.audit_of_records(records, self._bound(until))

    def tx_at(self, at: str) -> int:
        return self.inner.tx_at(self._bound(at))

    def audit_rows(self, after_seq: int = 0, limit: int | None = None
                   ) -> list[tuple[Any, ...]]:
        """The stored chain itself (what the chain check hashes), not cut at ``at``."""
        return self.inner.audit_rows(after_seq, limit)

    def audit_head(self) -> tuple[int, str]:
        return self.inner.audit_head()

    # -- the rest ---------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for n in self.nodes_by_iri():
            out[n.label] = out.get(n.label, 0) + 1
        for e in self.edges_by_source():
            out[e.type] = out.get(e.type, 0) + 1
        return out

    def events(self, event_ids: Iterable[str]) -> dict[str, CapturedEvent]:
        return {k: e for k, e in self.inner.events(event_ids).items()
                if e.recorded_at <= self.at}

    def transaction(self) -> AbstractContextManager[StoreTx]:
        raise RefusedError("READ_ONLY", f"the graph as known at {self.at} is read-only",
                           "asOf", self.at)

    def schema_version(self) -> int:
        return self.inner.schema_version()

    def schema_terms(self) -> tuple[set[str], set[str], set[str], set[str]]:
        return self.inner.schema_terms()

    def iri_splits(self, parts: int) -> list[str]:
        return self.inner.iri_splits(parts)

    def reader(self) -> Callable[[], GraphStore] | None:
        return None

    def close(self) -> None:
        """The view does not own the store: nothing to close."""


class _AsOfWalk:
    """A walk whose records are the nodes as recorded at the view's ``at``."""

    def __init__(self, walk: Walk, view: AsOfStore) -> None:
        self.inner, self.view = walk, view
        self.seeds: dict[str, Hashable] = walk.seeds
        self.unknown: list[str] = walk.unknown

    def __len__(self) -> int:
        return len(self.inner)

    def by_label(self) -> Mapping[str, Sequence[Hashable]]:
        return self.inner.by_label()

    def depth_of(self, h: Hashable) -> int:
        return self.inner.depth_of(h)

    def witness(self, h: Hashable) -> list[Hashable]:
        return self.inner.witness(h)

    def witnesses(self, handles: Sequence[Hashable]) -> dict[Hashable, list[Hashable]]:
        return self.inner.witnesses(handles)

    def iris(self, handles: Sequence[Hashable]) -> dict[Hashable, str]:
        return self.inner.iris(handles)

    def records(self, handles: Sequence[Hashable]) -> dict[Hashable, NodeRecord]:
        now = self.inner.records(handles)
        then = self.view._then(now.values())
        return {h: then[n.iri] for h, n in now.items() if n.iri in then}

    def keys(self, handles: Sequence[Hashable]) -> dict[Hashable, str]:
        return self.inner.keys(handles)  # a business key never changes

    def first_by_key(self, handles: Sequence[Hashable], n: int) -> list[Hashable]:
        return self.inner.first_by_key(handles, n)

    def unit_rows(self, handles: Sequence[Hashable]) -> Iterator[UnitRow]:
        return self.inner.unit_rows(handles)  # serial and GTIN: identifiers, never changed


def as_of_store(store: GraphStore, at: str) -> GraphStore:
    """:class:`AsOfStore` typed as the port (the view implements it whole)."""
    return AsOfStore(store, at)
