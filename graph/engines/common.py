"""What both engines share, written once.

An engine supplies small primitives — read one chunk of nodes, links or capture events, look a
value up, list a class, walk one way — and the bases here turn them into the port's reads:

* :class:`ChunkedReads`: reads by key in chunks of the engine's ``chunk_size`` (``get_many``,
  ``links`` in either or both directions with the relationship-type filter, ``events``); both a
  store and its write transactions are built on it, so a transaction reads the same way.
* :class:`EngineTx`: the port's :class:`graph.port.StoreTx` reads on top of those, and the
  head of the audit chain (``GENESIS`` when empty).
* :class:`EngineStore`: the port's :class:`graph.port.GraphStore` reads that do not depend on the
  engine: ``get``, ``edges``, ``find`` (identifier check, de-duplication, class filter),
  ``nodes_of_class``, ``walk`` (one way only) and ``iter_audit`` (paged by sequence number).
* The traversal helpers: :func:`seeds_as_of` (a traversal "as of" a time starts only from nodes
  recorded by then), :func:`unknown_seeds`, :func:`directions`, :func:`merge_depths`.
* :class:`DictWalk`: a :class:`graph.port.Walk` held in dicts with IRIs as handles.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Container, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from graph.audit import GENESIS, paged
from graph.audit_chain import row_of
from graph.model import AuditEntry, CapturedEvent, Direction, EdgeRecord, NodeRecord
from graph.port import GraphStore, UnitRow, Walk
from graph.schema import identifier_properties, of_class
from ontology.vocab import Vocabulary, vocabulary

__all__ = [
    "AuditHead",
    "ChunkedReads",
    "DictWalk",
    "EngineStore",
    "EngineTx",
    "chunks",
    "directions",
    "merge_depths",
    "seeds_as_of",
    "unknown_seeds",
]

T = TypeVar("T")
H = TypeVar("H", bound=Hashable)


def chunks(items: Iterable[T], n: int) -> Iterator[list[T]]:
    """``items`` in lists of at most ``n`` (none for no items).

    >>> list(chunks(range(5), 2))
    [[0, 1], [2, 3], [4]]
    """
    seq = list(items)
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def seeds_as_of(seeds: Iterable[str], nodes: Mapping[str, NodeRecord],
                as_of: str | None) -> list[str]:
    """The seeds (in order, each once) that are stored ``nodes`` recorded by ``as_of`` (at any
    time when ``None``): a traversal as of a time starts only from what the graph held then."""
    return [s for s in dict.fromkeys(seeds)
            if s in nodes and (as_of is None or nodes[s].recorded_at <= as_of)]


def unknown_seeds(seeds: Iterable[str], started: Container[str]) -> list[str]:
    """The seeds (in order, each once) a traversal did not start from."""
    return [s for s in dict.fromkeys(seeds) if s not in started]


def directions(direction: Direction) -> list[bool]:
    """The one-way passes a direction takes, ``True`` for upstream (out of a node, towards its
    sources), ``False`` for downstream (into it); ``BOTH`` takes both, upstream first.

    >>> directions(Direction.BOTH), directions(Direction.DOWNSTREAM)
    ([True, False], [False])
    """
    return [True, False] if direction == Direction.BOTH else [direction == Direction.UPSTREAM]


def merge_depths(into: dict[H, int], more: Mapping[H, int]) -> None:
    """Fold one pass's depths into ``into``, keeping each node's smallest depth."""
    for k, v in more.items():
        into[k] = min(v, into.get(k, v))


class ChunkedReads(ABC):
    """Reads by key, ``chunk_size`` keys per query, from the engine's per-chunk primitives."""

    chunk_size: ClassVar[int]

    @abstractmethod
    def _nodes_chunk(self, iris: list[str]) -> Iterable[NodeRecord]:
        """The stored nodes among ``iris``."""

    @abstractmethod
    def _links_chunk(self, iris: list[str], outgoing: bool) -> Iterable[EdgeRecord]:
        """Every edge out of (``outgoing``) or into the nodes ``iris``, any type."""

    def _typed_links_chunk(self, iris: list[str], outgoing: bool, types: list[str]
                           ) -> Iterable[EdgeRecord]:
        """The edges of ``types`` out of or into ``iris``: an engine that can seek by type
        (SQLite: the ``(src, type …)`` and ``(dst, type …)`` keys) reads only those; by default
        every edge, filtered by :meth:`links`."""
        return self._links_chunk(iris, outgoing)

    @abstractmethod
    def _events_chunk(self, event_ids: list[str]) -> Iterable[CapturedEvent]:
        """The idempotency records among ``event_ids``."""

    def get_many(self, iris: Iterable[str]) -> dict[str, NodeRecord]:
        return {n.iri: n for chunk in chunks(iris, self.chunk_size)
                for n in self._nodes_chunk(chunk)}

    def links(self, iris: Iterable[str], rel_types: Iterable[str] | None = None,
              direction: Direction = Direction.UPSTREAM) -> list[EdgeRecord]:
        types = None if rel_types is None else set(rel_types)
        keys = list(iris)
        out: list[EdgeRecord] = []
        for outgoing in directions(direction):
            for chunk in chunks(keys, self.chunk_size):
                found = self._links_chunk(chunk, outgoing) if types is None else \
                    self._typed_links_chunk(chunk, outgoing, sorted(types))
                out.extend(e for e in found if types is None or e.type in types)
        return out

    def events(self, event_ids: Iterable[str]) -> dict[str, CapturedEvent]:
        return {e.event_id: e for chunk in chunks(event_ids, self.chunk_size)
                for e in self._events_chunk(chunk)}


class AuditHead(ABC):
    """The head of the audit chain, from the engine's one-row query."""

    @abstractmethod
    def _last_audit(self) -> tuple[int, str] | None:
        """``(seq, hash)`` of the last audit entry, ``None`` when there is none."""

    def audit_head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last audit entry, ``(0, GENESIS)`` when empty."""
        return self._last_audit() or (0, GENESIS)


class EngineTx(ChunkedReads, AuditHead):
    """The reads of a write transaction (:class:`graph.port.StoreTx`), on its own snapshot."""

    tx_id: int
    at: str

    def fetch_nodes(self, iris: Iterable[str]) -> dict[str, NodeRecord]:
        return self.get_many(iris)

    def fetch_out_edges(self, iris: Iterable[str],
                        rel_types: Iterable[str] | None = None) -> list[EdgeRecord]:
        return self.links(iris, rel_types, Direction.UPSTREAM)

    def fetch_events(self, event_ids: Iterable[str]) -> dict[str, CapturedEvent]:
        return self.events(event_ids)

    def fetch_in_edges(self, iris: Iterable[str]) -> list[EdgeRecord]:
        return self.links(iris, None, Direction.DOWNSTREAM)


class EngineStore(ChunkedReads, AuditHead):
    """The engine-independent half of :class:`graph.port.GraphStore`."""

    engine: str
    vocab: Vocabulary
    #: the ``tg:identifier`` properties, each indexed by the engine
    identifiers: tuple[str, ...]

    def __init__(self, vocab: Vocabulary | None = None) -> None:
        self.vocab = vocab or vocabulary()
        self.identifiers = identifier_properties(self.vocab)

    @abstractmethod
    def _find(self, value: str, prop: str | None) -> Iterable[NodeRecord]:
        """Nodes whose key or any identifier (``prop is None``), or identifier ``prop``,
        equals ``value`` (a node may come more than once)."""

    @abstractmethod
    def _nodes_of_class(self, label: str) -> list[NodeRecord]:
        """Nodes whose most specific class is ``label`` (a vocabulary class), in IRI order."""

    @abstractmethod
    def _walk(self, seeds: Sequence[str], upstream: bool, max_depth: int,
              kinds: Sequence[str] | None, as_of: str | None) -> Walk:
        """The breadth-first tree one way from ``seeds`` (see :meth:`walk`)."""

    @abstractmethod
    def audit_entries(self, record: str | None = None, actor: str | None = None,
                      since: str | None = None, until: str | None = None,
                      after_seq: int = 0, limit: int | None = None) -> list[AuditEntry]: ...

    @abstractmethod
    def _audit_chunk(self, records: list[str], until: str) -> Iterable[AuditEntry]:
        """The audit entries of ``records`` recorded by ``until`` (any order)."""

    @abstractmethod
    def tx_at(self, at: str) -> int:
        """The last transaction recorded by record time ``at`` (0 when none)."""

    def audit_of_records(self, records: Iterable[str], until: str) -> list[AuditEntry]:
        """The audit entries of many records recorded by ``until``, in (record, seq) order."""
        got = [e for chunk in chunks(sorted(set(records)), self.chunk_size)
               for e in self._audit_chunk(chunk, until)]
        got.sort(key=lambda e: (e.record, e.seq))
        return got

    def get(self, iri: str) -> NodeRecord | None:
        return self.get_many([iri]).get(iri)

    def edges(self, iri: str, direction: Direction = Direction.UPSTREAM,
              rel_types: Iterable[str] | None = None) -> list[EdgeRecord]:
        return self.links([iri], rel_types, direction)

    def find(self, value: str, prop: str | None = None,
             label: str | None = None) -> list[NodeRecord]:
        if prop is not None and prop not in self.identifiers:
            self.vocab.prop(prop)  # raises on an unknown property
            raise ValueError(f"property {prop!r} is not a tg:identifier; it has no index")
        nodes = {n.iri: n for n in self._find(value, prop)}
        return of_class(self.vocab, nodes.values(), label)

    def nodes_of_class(self, label: str) -> list[NodeRecord]:
        self.vocab.cls(label)  # raises on an unknown class: never an arbitrary label in a query
        return self._nodes_of_class(label)

    def walk(self, seeds: Sequence[str], direction: Direction, max_depth: int = 50,
             kinds: Sequence[str] | None = None, as_of: str | None = None) -> Walk:
        if direction == Direction.BOTH:
            raise ValueError("a walk goes one way: UPSTREAM or DOWNSTREAM")
        return self._walk(seeds, direction == Direction.UPSTREAM, max_depth, kinds, as_of)

    def iter_audit(self, batch: int = 10_000) -> Iterator[AuditEntry]:
        return paged(self.audit_entries, batch)

    def reader(self) -> Callable[[], GraphStore] | None:
        return None

    def iri_splits(self, parts: int) -> list[str]:
        return []

    def audit_rows(self, after_seq: int = 0, limit: int | None = None
                   ) -> list[tuple[Any, ...]]:
        """The decoded entries in canonical text (an engine that stores canonical text reads
        it as it is instead)."""
        return [row_of(e) for e in self.audit_entries(after_seq=after_seq, limit=limit)]


class DictWalk:
    """A walk held in dicts, with IRIs as handles (any engine; Neo4j uses it)."""

    def __init__(self, seeds: dict[str, Hashable], unknown: list[str], depth: dict[str, int],
                 parent: Mapping[str, str | None],
                 fetch: Callable[[list[str]], dict[str, NodeRecord]]) -> None:
        self.seeds = seeds
        self.unknown = unknown
        self.depth = depth
        self.parent = parent
        self._fetch = fetch
        self._records: dict[str, NodeRecord] | None = None

    def __len__(self) -> int:
        return len(self.depth)

    def _all(self) -> dict[str, NodeRecord]:
        if self._records is None:
            self._records = self._fetch(list(self.depth))
        return self._records

    def by_label(self) -> dict[str, list[Hashable]]:
        out: dict[str, list[Hashable]] = {}
        for iri, rec in self._all().items():
            out.setdefault(rec.label, []).append(iri)
        return out

    def depth_of(self, h: Hashable) -> int:
        return self.depth[str(h)]

    def witness(self, h: Hashable) -> list[Hashable]:
        path: list[Hashable] = [h]
        while (p := self.parent.get(str(path[-1]))) is not None:
            path.append(p)
        return path[::-1]

    def witnesses(self, handles: Sequence[Hashable]) -> dict[Hashable, list[Hashable]]:
        return {h: self.witness(h) for h in handles}

    def iris(self, handles: Sequence[Hashable]) -> dict[Hashable, str]:
        return {h: str(h) for h in handles}

    def records(self, handles: Sequence[Hashable]) -> dict[Hashable, NodeRecord]:
        recs = self._all()
        return {h: recs[str(h)] for h in handles}

    def keys(self, handles: Sequence[Hashable]) -> dict[Hashable, str]:
        recs = self._all()
        return {h: recs[str(h)].key for h in handles}

    def first_by_key(self, handles: Sequence[Hashable], n: int) -> list[Hashable]:
        recs = self._all()
        return sorted(handles, key=lambda h: (recs[str(h)].key, str(h)))[:n]

    def unit_rows(self, handles: Sequence[Hashable]) -> Iterator[UnitRow]:
        recs = self._all()  # every record is in memory already: sort them here
        for h in sorted(handles, key=lambda h: (recs[str(h)].key, str(h))):
            path = self.witness(h)
            rec = recs[str(h)]
            yield (rec.key, str(rec.props.get("gtin", "")), rec.iri,
                   str(path[-2]) if len(path) > 1 else "", self.depth_of(h), str(path[0]))


def iri_range(items: Iterable[T], iri: Callable[[T], str], start: str | None,
              stop: str | None) -> Iterator[T]:
    """The items of an IRI-ordered stream whose IRI lies in ``[start, stop)``."""
    for item in items:
        k = iri(item)
        if start is not None and k < start:
            continue
        if stop is not None and k >= stop:
            return
        yield item
