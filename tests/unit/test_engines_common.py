"""The reads both engines share (graph/engines/common.py), on a toy in-memory engine."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest

from graph.engines.common import (
    DictWalk,
    EngineStore,
    chunks,
    merge_depths,
    seeds_as_of,
    unknown_seeds,
)
from graph.model import AuditEntry, CapturedEvent, Direction, EdgeRecord, NodeRecord
from graph.port import Walk
from ontology.vocab import Vocabulary


class _Toy(EngineStore):
    """Nodes and edges in lists; records every chunk it is asked for."""

    engine = "toy"
    chunk_size = 2

    def __init__(self, vocab: Vocabulary, nodes: list[NodeRecord],
                 edges: list[EdgeRecord]) -> None:
        super().__init__(vocab)
        self.nodes = {n.iri: n for n in nodes}
        self.edge_list = edges
        self.asked: list[list[str]] = []
        self.trail: list[AuditEntry] = []  # per-record entries (graph.as_of), in no order

    def _nodes_chunk(self, iris: list[str]) -> Iterable[NodeRecord]:
        self.asked.append(iris)
        return [self.nodes[i] for i in iris if i in self.nodes]

    def _links_chunk(self, iris: list[str], outgoing: bool) -> Iterable[EdgeRecord]:
        self.asked.append(iris)
        return [e for e in self.edge_list if (e.src if outgoing else e.dst) in iris]

    def _events_chunk(self, event_ids: list[str]) -> Iterable[CapturedEvent]:
        return [CapturedEvent(i, "h", 1, "t") for i in event_ids if i.startswith("e")]

    def _find(self, value: str, prop: str | None) -> Iterable[NodeRecord]:
        hits = [n for n in self.nodes.values() if n.key == value]
        return hits + hits  # an engine may answer a node twice

    def _nodes_of_class(self, label: str) -> list[NodeRecord]:
        return [n for n in self.nodes.values() if n.label == label]

    def _walk(self, seeds: Sequence[str], upstream: bool, max_depth: int,
              kinds: Sequence[str] | None, as_of: str | None) -> Walk:
        start = seeds_as_of(seeds, self.get_many(seeds), as_of)
        return DictWalk({s: s for s in start}, unknown_seeds(seeds, start),
                        dict.fromkeys(start, 0), dict.fromkeys(start), self.get_many)

    def audit_entries(self, record: str | None = None, actor: str | None = None,
                      since: str | None = None, until: str | None = None,
                      after_seq: int = 0, limit: int | None = None) -> list[AuditEntry]:
        entries = [AuditEntry(i, i, "t", "a", "create", "r", "Batch", None, None, None, None,
                              None, "p", "h") for i in range(1, 6)]
        return [e for e in entries if e.seq > after_seq][:limit]

    def _last_audit(self) -> tuple[int, str] | None:
        return 5, "h"

    def _audit_chunk(self, records: list[str], until: str) -> Iterable[AuditEntry]:
        self.asked.append(records)
        return [e for e in self.trail if e.record in records and e.at <= until]

    def tx_at(self, at: str) -> int:
        return max((e.tx for e in self.trail if e.at <= at), default=0)


def _node(iri: str, recorded: str = "2026-01-01T00:00:00Z") -> NodeRecord:
    return NodeRecord(iri, "Batch", iri.rsplit("/", 1)[-1], {}, recorded, recorded, 1)


@pytest.fixture
def toy(vocab: Vocabulary) -> _Toy:
    nodes = [_node("urn:b/1"), _node("urn:b/2", "2026-06-01T00:00:00Z"), _node("urn:b/3")]
    edges = [EdgeRecord("urn:b/1", "wasDerivedFrom", "urn:b/2", "x"),
             EdgeRecord("urn:b/1", "producedBy", "urn:b/3", "y"),
             EdgeRecord("urn:b/3", "wasDerivedFrom", "urn:b/1", "z")]
    return _Toy(vocab, nodes, edges)


def test_chunks_and_depths() -> None:
    assert list(chunks([], 3)) == []
    assert list(chunks("abcde", 2)) == [["a", "b"], ["c", "d"], ["e"]]
    depth = {"a": 2, "b": 0}
    merge_depths(depth, {"a": 1, "b": 3, "c": 4})
    assert depth == {"a": 1, "b": 0, "c": 4}


def test_seeds_as_of_keeps_order_and_drops_unknown_and_later_nodes() -> None:
    nodes = {"a": _node("a"), "b": _node("b", "2026-06-01T00:00:00Z")}
    assert seeds_as_of(["b", "x", "a", "b"], nodes, None) == ["b", "a"]
    assert seeds_as_of(["b", "x", "a"], nodes, "2026-02-01T00:00:00Z") == ["a"]
    assert unknown_seeds(["b", "x", "a", "x"], ["a", "b"]) == ["x"]


def test_reads_run_in_chunks(toy: _Toy) -> None:
    assert set(toy.get_many(["urn:b/1", "urn:b/2", "urn:b/3", "urn:none"])) == {
        "urn:b/1", "urn:b/2", "urn:b/3"}
    assert toy.asked == [["urn:b/1", "urn:b/2"], ["urn:b/3", "urn:none"]]
    assert toy.get("urn:none") is None
    assert set(toy.events(["e1", "f", "e2"])) == {"e1", "e2"}


def test_links_in_each_direction_with_the_type_filter(toy: _Toy) -> None:
    up = toy.links(["urn:b/1"])
    assert [e.eid for e in up] == ["x", "y"]
    assert [e.eid for e in toy.links(["urn:b/1"], ["producedBy"])] == ["y"]
    assert [e.eid for e in toy.edges("urn:b/1", Direction.DOWNSTREAM)] == ["z"]
    both = toy.links(["urn:b/1"], ["wasDerivedFrom"], Direction.BOTH)
    assert [e.eid for e in both] == ["x", "z"]  # outgoing first


def test_find_checks_the_property_and_deduplicates(toy: _Toy, vocab: Vocabulary) -> None:
    assert [n.iri for n in toy.find("2")] == ["urn:b/2"]
    with pytest.raises(ValueError, match="not a tg:identifier"):
        toy.find("2", prop="quantity")
    with pytest.raises(KeyError):
        toy.find("2", prop="noSuchProperty")
    with pytest.raises(KeyError):
        toy.nodes_of_class("NoSuchClass")


def test_walk_goes_one_way_and_audit_pages(toy: _Toy) -> None:
    with pytest.raises(ValueError, match="one way"):
        toy.walk(["urn:b/1"], Direction.BOTH)
    w = toy.walk(["urn:b/2", "urn:x", "urn:b/1"], Direction.DOWNSTREAM,
                 as_of="2026-02-01T00:00:00Z")
    assert list(w.seeds) == ["urn:b/1"]
    assert w.unknown == ["urn:b/2", "urn:x"]
    assert [e.seq for e in toy.iter_audit(batch=2)] == [1, 2, 3, 4, 5]


def test_audit_of_records_reads_in_chunks_and_answers_in_record_order(toy: _Toy) -> None:
    def entry(seq: int, record: str, at: str) -> AuditEntry:
        return AuditEntry(seq, seq, at, "a", "update", record, "Batch", "quantity", None, seq,
                          None, None, "p", "h")

    toy.trail = [entry(4, "urn:b/1", "2026-02-01"), entry(1, "urn:b/2", "2026-01-01"),
                 entry(2, "urn:b/1", "2026-01-02"), entry(3, "urn:b/3", "2026-01-03"),
                 entry(5, "urn:b/2", "2026-03-01")]
    got = toy.audit_of_records(["urn:b/3", "urn:b/1", "urn:b/2", "urn:b/1"], "2026-02-15")
    assert [(e.record, e.seq) for e in got] == [("urn:b/1", 2), ("urn:b/1", 4),
                                                ("urn:b/2", 1), ("urn:b/3", 3)]
    assert toy.asked == [["urn:b/1", "urn:b/2"], ["urn:b/3"]]  # chunks of chunk_size, once each
