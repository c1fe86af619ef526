"""The demo plant loaded through the write path into Neo4j (batched: one UNWIND per kind per
document) and into the embedded store holds the same graph and gives the same answers: every
genealogy both ways, recall of every lot, the stored nodes, edges and audit trail — and the
depths equal an independent networkx computation over the capture documents."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import networkx as nx
import pytest

from bench.plant import PLANT_MIGRATION, generate_plant
from graph.engines.sqlite import SQLiteStore
from graph.model import Direction, EdgeRecord, Genealogy, NodeRecord
from graph.port import GraphStore
from graph.schema import DERIVATION
from ontology.datatypes import now_utc_text
from tests.recall_oracle import Documents
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

pytestmark = pytest.mark.neo4j

Loaded = tuple[Runtime, Runtime, Documents, str]


def _less_load_time(v: Any, start: str) -> Any:
    """``v`` with every timestamp of the load itself (record times, supersession times) made
    ``"<load>"``: the two loads ran at different times; the plant's own times are far older."""
    if isinstance(v, dict):
        return {k: _less_load_time(x, start) for k, x in v.items()}
    if isinstance(v, list):
        return [_less_load_time(x, start) for x in v]
    if isinstance(v, str) and len(v) >= 20 and v[10:11] == "T" and v >= start:
        return "<load>"
    return v


@pytest.fixture(scope="module")
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Loaded]:
    docs = list(generate_plant(size="demo", seed=7))
    start = now_utc_text()
    tmp = tmp_path_factory.mktemp("neo4j-plant")
    neo_store: GraphStore = request.getfixturevalue("_neo4j_store")
    neo_store.wipe()  # type: ignore[attr-defined]  # a Neo4jStore: wipe() is not on the port
    runtimes = []
    for store, sub in ((SQLiteStore(tmp / "s.sqlite"), "e"), (neo_store, "n")):
        rt = Runtime.open(Settings(data_dir=tmp / sub), store=store)
        for d in docs:
            rt.capture(d, migration=PLANT_MIGRATION)
        runtimes.append(rt)
    emb, neo = runtimes
    yield emb, neo, Documents(docs, emb.vocab), start
    emb.close()


def _edges(edges: list[EdgeRecord]) -> list[tuple[Any, ...]]:
    """Edges less their record time and transaction (two loads differ only there)."""
    return sorted((e.src, str(getattr(e.type, "value", e.type)), e.dst, e.eid,
                   sorted(e.props.items())) for e in edges)


def _same(neo: Genealogy, emb: Genealogy, what: str) -> None:
    assert neo.depth == emb.depth, what
    assert _edges(neo.edges) == _edges(emb.edges), what
    assert {i: (n.label, n.key, n.props) for i, n in neo.nodes.items()} == \
        {i: (n.label, n.key, n.props) for i, n in emb.nodes.items()}, what


def test_every_genealogy_equals_the_embedded_store_and_the_documents(loaded: Loaded) -> None:
    emb, neo, oracle, _ = loaded
    traced = sorted(n for n in oracle.g if oracle.g.degree(n) > 0)
    units = [n for n in traced if oracle.cls[n] == "SerializedUnit"]
    assert len(traced) > 1000 and units
    for seed in (n for n in traced if oracle.cls[n] != "SerializedUnit"):
        for way, g in ((Direction.DOWNSTREAM, oracle.g), (Direction.UPSTREAM, oracle.g.reverse())):
            got = neo.store.genealogy([seed], way)
            _same(got, emb.store.genealogy([seed], way), f"{seed} {way.name}")
            assert got.depth == nx.single_source_shortest_path_length(g, seed), seed
    # units: many seeds per question (the multi-source search), plus each one's own upstream
    for i in range(0, len(units), 250):
        seeds = units[i:i + 250]
        for way in (Direction.UPSTREAM, Direction.DOWNSTREAM):
            _same(neo.store.genealogy(seeds, way), emb.store.genealogy(seeds, way),
                  f"units {i}.. {way.name}")
    for seed in units[::25]:
        got = neo.store.genealogy([seed], Direction.UPSTREAM)
        _same(got, emb.store.genealogy([seed], Direction.UPSTREAM), seed)


def test_recall_of_every_lot_equals_the_embedded_store_and_the_documents(loaded: Loaded
                                                                          ) -> None:
    emb, neo, oracle, _ = loaded
    lots = oracle.of("MaterialLot")
    for seeds in ([lot] for lot in lots[::7]):
        a, b = neo.recall(seeds, unit_limit=10**6), emb.recall(seeds, unit_limit=10**6)
        assert a.counts == b.counts, seeds
        assert sum(a.counts.values()) == len(oracle.affected(seeds)), seeds
        assert sorted(u.iri for u in a.units) == sorted(u.iri for u in b.units), seeds
        for u in a.units:  # a witness is a shortest derivation path from the seed
            assert u.witness[0] == seeds[0] and u.witness[-1] == u.iri
            assert len(u.witness) - 1 == nx.shortest_path_length(oracle.g, seeds[0], u.iri)
    everything = neo.recall(lots, unit_limit=10)
    assert everything.counts == emb.recall(lots, unit_limit=10).counts
    assert sum(everything.counts.values()) == len(oracle.affected(lots))


def test_the_stored_graph_and_audit_trail_equal_the_embedded_store(loaded: Loaded) -> None:
    emb, neo, start = loaded[0].store, loaded[1].store, loaded[3]

    def nodes(store: GraphStore) -> list[Any]:
        return [(n.iri, n.label, n.key, _less_load_time(n.props, start))
                for n in store.nodes_by_iri()]

    def trail(store: GraphStore) -> list[Any]:
        return [(a.seq, a.action, a.record, a.field, _less_load_time([a.old, a.new], start))
                for a in store.iter_audit()]

    assert neo.counts() == emb.counts()
    assert nodes(neo) == nodes(emb)
    assert _edges(list(neo.edges_by_source())) == _edges(list(emb.edges_by_source()))
    assert trail(neo) == trail(emb)


def test_a_server_without_apoc_gives_the_same_answers(loaded: Loaded) -> None:
    """The per-level search (a Neo4j without APOC, or a filtered question) and the one-query
    traversal agree: genealogy both ways and the recall walk (depths, classes, witnesses)."""
    _, neo, oracle, _ = loaded
    store: Any = neo.store
    seeds = oracle.of("MaterialLot")[::9] + oracle.of("Batch")[::9]
    ways = (Direction.UPSTREAM, Direction.DOWNSTREAM)
    assert store.apoc

    def answers() -> tuple[list[Genealogy], Any]:
        return ([store.genealogy([s], w) for s in seeds for w in ways],
                store.walk(seeds, Direction.DOWNSTREAM))

    one_query, walk = answers()
    store.apoc = False
    try:
        per_level, level_walk = answers()
    finally:
        store.apoc = True
    for a, b in zip(one_query, per_level, strict=True):
        _same(a, b, str(a.seeds))
    assert walk.depth == level_walk.depth
    assert {k: sorted(v) for k, v in walk.by_label().items()} == \
        {k: sorted(v) for k, v in level_walk.by_label().items()}
    assert all(len(walk.witness(h)) == walk.depth_of(h) + 1 for h in walk.depth)


def test_a_traversal_in_a_snapshot_leaves_out_an_edge_committed_since(loaded: Loaded) -> None:
    """Runs last: writes to the Neo4j store only. A batch made from a lot, committed by another
    session while a snapshot reads, is not in that snapshot's genealogy or walk of the lot (the
    one-query traversal sees it, notices the watermark moved and walks again per level)."""
    _, neo, oracle, _ = loaded
    store = neo.store
    lot = oracle.of("MaterialLot")[0]
    new = neo.vocab.mint_iri("Batch", "SNAPSHOT-TEST")

    def commit() -> None:
        with store.transaction() as tx:
            tx.write([NodeRecord(new, "Batch", "SNAPSHOT-TEST", {}, tx.at, tx.at, tx.tx_id)],
                     [EdgeRecord(new, DERIVATION, lot, "snapshot-test#0",
                                 {"derivationKind": "consumption"}, tx.at, tx.tx_id)], [], [])

    before = store.genealogy([lot], Direction.DOWNSTREAM).depth
    with store.snapshot():
        writer = threading.Thread(target=commit)
        writer.start()
        writer.join()
        inside = store.genealogy([lot], Direction.DOWNSTREAM)
        walk = store.walk([lot], Direction.DOWNSTREAM)
    assert inside.depth == before and new not in inside.nodes
    assert new not in walk.by_label().get("Batch", [])
    assert store.genealogy([lot], Direction.DOWNSTREAM).depth == {**before, new: 1}
