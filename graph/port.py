"""The store port: what tracegraph needs from a graph store, whichever engine runs it.

The port owns its types: the records of :mod:`graph.model` and the :class:`Walk` a traversal
returns. Two engines implement it, :class:`graph.engines.sqlite.SQLiteStore` (embedded default)
and :class:`graph.engines.neo4j.Neo4jStore`, on the reads they share
(:mod:`graph.engines.common`); one contract suite (``tests/integration/test_store_contract.py``)
runs against both. The write-side logic (merging, validation, audit entries, idempotency) lives
once, in :mod:`graph.write`; engines only provide the transactional primitives below.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from graph.model import AuditEntry, CapturedEvent, Direction, EdgeRecord, Genealogy, NodeRecord

__all__ = ["GraphStore", "StoreTx", "UnitRow", "Walk"]

#: serial, GTIN, IRI, the thing it was made from (its batch), depth, the seed it traces to
UnitRow = tuple[str, str, str, str, int, str]


class Walk(Protocol):
    """A breadth-first tree from the seeds, as an engine computed it (handles are the engine's
    node references: integer ids for SQLite, IRIs for Neo4j)."""

    seeds: dict[str, Hashable]
    unknown: list[str]

    def __len__(self) -> int: ...

    def by_label(self) -> Mapping[str, Sequence[Hashable]]: ...

    def depth_of(self, h: Hashable) -> int: ...

    def witness(self, h: Hashable) -> list[Hashable]: ...

    def witnesses(self, handles: Sequence[Hashable]) -> dict[Hashable, list[Hashable]]:
        """:meth:`witness` of many handles at once (its length less one is the depth)."""
        ...

    def iris(self, handles: Sequence[Hashable]) -> dict[Hashable, str]: ...

    def records(self, handles: Sequence[Hashable]) -> dict[Hashable, NodeRecord]: ...

    def keys(self, handles: Sequence[Hashable]) -> dict[Hashable, str]:
        """Business keys only (cheaper than records, for ordering large lists)."""
        ...

    def first_by_key(self, handles: Sequence[Hashable], n: int) -> list[Hashable]:
        """The ``n`` handles with the smallest (key, IRI), all of one class."""
        ...

    def unit_rows(self, handles: Sequence[Hashable]) -> Iterator[UnitRow]:
        """Export rows of many units, streamed in (serial, IRI) order: the recall file's
        longest list, written as it comes (never held whole)."""
        ...


class StoreTx(Protocol):
    """One write transaction. Reads inside it see its own writes' snapshot; nothing is visible
    to others until commit, and an exception rolls everything back."""

    tx_id: int
    at: str  # record time of this transaction (UTC text)

    def fetch_nodes(self, iris: Iterable[str]) -> dict[str, NodeRecord]: ...

    def fetch_out_edges(self, iris: Iterable[str],
                        rel_types: Iterable[str] | None = None) -> list[EdgeRecord]: ...

    def fetch_events(self, event_ids: Iterable[str]) -> dict[str, CapturedEvent]: ...

    def audit_head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last audit entry, ``(0, GENESIS)`` when empty."""
        ...

    def write(self, nodes: Sequence[NodeRecord], edges: Sequence[EdgeRecord],
              audit: Sequence[AuditEntry], events: Sequence[CapturedEvent]) -> None:
        """Write full node states (insert or replace), new edges, audit entries and
        idempotency records."""
        ...

    def fetch_in_edges(self, iris: Iterable[str]) -> list[EdgeRecord]:
        """Every edge into the given nodes (who uses them)."""
        ...

    def remove(self, iris: Sequence[str], audit: Sequence[AuditEntry],
               event_prefix: str) -> None:
        """Remove the given nodes with every edge touching them and the idempotency records
        whose event id starts with ``event_prefix``, and append ``audit`` (the removal's own
        entries: the trail itself never shrinks). Only :mod:`graph.retract` calls this."""
    def migrate_schema(self) -> int:
        """Bring the store to :data:`graph.schema.SCHEMA_VERSION` inside this transaction (the
        engine's steps and the recorded version; rolled back with it); returns the version
        found. Only :mod:`tracegraph.upgrade` calls it, through the Writer."""
        ...


class GraphStore(Protocol):
    """A transactional property graph holding the tracegraph knowledge graph."""

    engine: str

    def transaction(self) -> AbstractContextManager[StoreTx]: ...

    def schema_version(self) -> int:
        """The schema version the store records (:data:`graph.schema.SCHEMA_VERSION` when
        current; lower for a store written by an earlier release, not yet upgraded)."""
        ...

    def get(self, iri: str) -> NodeRecord | None: ...

    def get_many(self, iris: Iterable[str]) -> dict[str, NodeRecord]: ...

    def find(self, value: str, prop: str | None = None,
             label: str | None = None) -> list[NodeRecord]:
        """Nodes whose business key or identifier property ``prop`` (any identifier when
        ``None``) equals ``value``, optionally of class ``label`` or a subclass."""
        ...

    def nodes_of_class(self, label: str) -> list[NodeRecord]:
        """Every node whose most specific class is ``label`` (exactly), in IRI order."""
        ...

    def edges(self, iri: str, direction: Direction = Direction.UPSTREAM,
              rel_types: Iterable[str] | None = None) -> list[EdgeRecord]:
        """Edges out of (UPSTREAM), into (DOWNSTREAM) or both ways of one node."""
        ...

    def genealogy(self, seeds: Sequence[str], direction: Direction, max_depth: int = 50,
                  kinds: Sequence[str] | None = None, as_of: str | None = None) -> Genealogy:
        """Nodes reachable from ``seeds`` over derivation edges, with depth and edges walked."""
        ...

    def walk(self, seeds: Sequence[str], direction: Direction, max_depth: int = 50,
             kinds: Sequence[str] | None = None, as_of: str | None = None) -> Walk:
        """The breadth-first tree from ``seeds`` (one traversal for all of them), without
        loading records: what recall and witness paths are built from."""
        ...

    def links(self, iris: Sequence[str], rel_types: Sequence[str] | None = None,
              direction: Direction = Direction.UPSTREAM) -> list[EdgeRecord]:
        """Relationships (of the given types, or all) out of (UPSTREAM) or into (DOWNSTREAM)
        many nodes at once."""
        ...

    def audit_entries(self, record: str | None = None, actor: str | None = None,
                      since: str | None = None, until: str | None = None,
                      after_seq: int = 0, limit: int | None = None) -> list[AuditEntry]: ...

    def iter_audit(self, batch: int = 10_000) -> Iterator[AuditEntry]: ...

    def audit_of_records(self, records: Iterable[str], until: str) -> list[AuditEntry]:
        """The audit entries of many records recorded by ``until`` (UTC text), in (record,
        seq) order: what :mod:`graph.as_of` replays a page of nodes from, in one read."""
        ...

    def tx_at(self, at: str) -> int:
        """The last transaction recorded by record time ``at`` (0 when none): the watermark
        an answer "as known at" ``at`` states."""
        ...

    def audit_rows(self, after_seq: int = 0, limit: int | None = None
                   ) -> list[tuple[Any, ...]]:
        """Audit entries in sequence order as stored (:data:`graph.audit_chain.AuditRow`:
        ``old`` and ``new`` as JSON text), for the chain check to hash without decoding."""
        ...

    def events(self, event_ids: Iterable[str]) -> dict[str, CapturedEvent]: ...

    def snapshot(self) -> AbstractContextManager[int]:
        """One read transaction on the calling thread, yielding its watermark: every read
        inside (traversals included) answers from the graph as of that watermark."""
        ...

    def audit_head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last audit entry, ``(0, GENESIS)`` when empty."""
        ...

    def nodes_by_iri(self, start: str | None = None, stop: str | None = None
                     ) -> Iterator[NodeRecord]:
        """Every stored node, in IRI order (streamed: the audit's state check); with ``start``
        and ``stop``, those whose IRI lies in ``[start, stop)`` (likewise below)."""
        ...

    def edges_by_source(self, start: str | None = None, stop: str | None = None
                        ) -> Iterator[EdgeRecord]:
        """Every stored edge, in the IRI order of its source (streamed)."""
        ...

    def edges_of_type(self, rel_type: str, after_tx: int = 0, until_tx: int | None = None
                      ) -> list[EdgeRecord]:
        """The edges of one type recorded by transactions ``after_tx < tx <= until_tx`` (None:
        up to the last), in transaction order: read from the engine's (type, tx) index, so a
        range of record time costs what it holds, not what the store holds."""
        ...

    def audit_by_record(self, start: str | None = None, stop: str | None = None
                        ) -> Iterator[AuditEntry]:
        """Every audit entry, in (record IRI, seq) order (streamed)."""
        ...

    def iri_splits(self, parts: int) -> list[str]:
        """IRIs that cut the stored nodes into ``parts`` ranges of about the same size (to
        compare the state in parallel), or ``[]`` when the engine does not tell."""
        ...

    def reader(self) -> Callable[[], GraphStore] | None:
        """A picklable function that opens this same store in another process (to read it in
        parallel, :mod:`graph.audit_parallel`), or ``None`` when it cannot be opened twice."""
        ...

    def counts(self) -> dict[str, int]:
        """Number of nodes per class (most specific label) and of edges per type."""
        ...

    def watermark(self) -> int:
        """Id of the last committed transaction."""
        ...

    def schema_terms(self) -> tuple[set[str], set[str], set[str], set[str]]:
        """Labels, relationship types, node property names and edge property names in use."""
        ...

    def close(self) -> None: ...
