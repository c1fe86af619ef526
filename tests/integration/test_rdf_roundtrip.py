"""RDF export → Turtle / JSON-LD → import into an empty embedded store: same graph answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rdflib import Graph

from bench.plant import PLANT_MIGRATION, generate_plant
from graph.engines.sqlite import SQLiteStore
from graph.model import Direction
from graph.port import GraphStore
from graph.rdf_export import export_graph, export_trace, serialize
from graph.schema import DERIVATION
from ingest.rdf_import import import_graph, to_capture_document
from shapes.validator import reference_validate
from tests import plantlet
from tests.conftest import FIXTURE_MIGRATION, migrate
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


def all_iris(rt: Runtime, docs: list[dict[str, Any]]) -> list[str]:
    """Every node the documents created, plus the qualified records linked into them."""
    iris = {rt.vocab.mint_iri(n["class"], n["key"])
            for d in docs for ev in d["events"] for n in ev.get("nodes", [])}
    iris |= {e.src for e in rt.store.links(sorted(iris), None, Direction.DOWNSTREAM)}
    iris |= {e.dst for e in rt.store.links(sorted(iris), None, Direction.UPSTREAM)}
    return sorted(iris)


def fresh(tmp: Path) -> Runtime:
    tmp.mkdir(parents=True, exist_ok=True)
    return Runtime.open(Settings(data_dir=tmp), store=SQLiteStore(tmp / "s.sqlite"))


def importable(rt: Runtime, iris: list[str]) -> list[str]:
    """The nodes an import recreates: all but those tracegraph keeps itself (record versions,
    signatures, audit), which the target store derives on its own."""
    nodes = rt.store.get_many(iris)
    return [i for i in iris if nodes[i].label not in rt.vocab.system_managed]


def assert_same(rt: Runtime, b: GraphStore, iris: list[str], deep: bool = True) -> None:
    a, skip = rt.store, rt.vocab.system_managed_properties
    na, nb = a.get_many(iris), b.get_many(iris)
    assert set(na) == set(nb) == set(iris)
    for iri in iris:
        pa = {k: v for k, v in na[iri].props.items() if k not in skip}
        pb = {k: v for k, v in nb[iri].props.items() if k not in skip}
        assert (na[iri].label, na[iri].key, pa) == (nb[iri].label, nb[iri].key, pb), iri

    def edges(s: GraphStore) -> set[tuple[str, str, str, str, str]]:
        return {(e.src, e.type, e.dst, e.eid, repr(sorted(e.props.items())))
                for e in s.links(iris, None, Direction.UPSTREAM) if e.dst in na}

    assert edges(a) == edges(b)
    seeds = iris
    if not deep:  # a sample of the traceable things, spread over the plant
        seeds = [i for i in iris if rt.vocab.cls(na[i].label).is_a("TraceableEntity")]
        seeds = seeds[:: max(1, len(seeds) // 80)]
    for iri in seeds:
        for d in (Direction.UPSTREAM, Direction.DOWNSTREAM):
            ga, gb = a.genealogy([iri], d), b.genealogy([iri], d)
            assert ga.depth == gb.depth, (iri, d)
            qa = sorted((e.src, e.dst, e.eid, e.props.get("quantity")) for e in ga.edges)
            qb = sorted((e.src, e.dst, e.eid, e.props.get("quantity")) for e in gb.edges)
            assert qa == qb, (iri, d)


def roundtrip(rt: Runtime, iris: list[str], tmp: Path, deep: bool = True) -> None:
    g = export_graph(rt.store, iris, rt.vocab)
    ttl, jsonld = serialize(g, "turtle"), serialize(g, "json-ld")
    assert "@context" in jsonld and "tg:" in ttl
    violations = [r for r in reference_validate(Graph().parse(data=ttl, format="turtle"),
                                                rt.vocab) if r.severity == "Violation"]
    assert violations == []
    g_ttl = Graph().parse(data=ttl, format="turtle")
    g_js = Graph().parse(data=jsonld, format="json-ld")
    assert len(g_ttl) == len(g_js) == len(g)
    doc = to_capture_document(g_ttl, rt.vocab)
    assert doc == to_capture_document(g_js, rt.vocab)  # deterministic, format-independent

    target = fresh(tmp)
    res = target.capture(doc, migration=FIXTURE_MIGRATION)  # states of another store
    kept = importable(rt, iris)
    assert res.events_written == len(doc["events"]) and res.nodes_created == len(kept)
    assert_same(rt, target.store, kept, deep)
    if kept == iris:  # the copy exports to the same graph (stable qualified-derivation IRIs)
        assert set(export_graph(target.store, iris, rt.vocab)) == set(g)

    mark = target.store.watermark()
    again = target.capture(to_capture_document(g_js, rt.vocab))
    assert again.events_written == 0 and target.store.watermark() == mark
    again = import_graph(target, g_ttl)
    assert again.events_written == 0 and target.store.watermark() == mark
    target.close()


@pytest.mark.req("URS-REC-02")
def test_plantlet_roundtrip(runtime: Runtime, tmp_path: Path) -> None:
    docs = plantlet.documents()
    migrate(runtime, *docs)
    iris = all_iris(runtime, docs)
    assert len(iris) == sum(v for k, v in runtime.store.counts().items() if not k.isupper())
    roundtrip(runtime, iris, tmp_path / "copy")

    # importing the export back into its source writes no node nor edge
    g = export_graph(runtime.store, iris, runtime.vocab)
    back = import_graph(runtime, g)
    assert (back.nodes_created, back.nodes_updated, back.edges_created) == (0, 0, 0)


def test_export_shape(runtime: Runtime) -> None:
    plantlet.load(runtime)
    v = runtime.vocab
    unit = v.mint_iri("SerializedUnit", "SN-1")
    g = export_trace(runtime.store, unit, Direction.UPSTREAM, v)
    ttl = serialize(g, "turtle")
    assert "prov:qualifiedDerivation" in ttl and "tg:Derivation" in ttl
    assert "recordedAt" not in ttl and "txId" not in ttl and "passwordHash" not in ttl
    edges = runtime.store.links([v.mint_iri("Batch", "B-ASSY")], [DERIVATION])
    assert len(edges) == 3
    q = g.query("SELECT ?src ?qty WHERE { ?b prov:qualifiedDerivation ?q . "
                "?q prov:entity ?src ; tg:quantity ?qty ; tg:derivationKind 'consumption' }",
                initNs={"prov": "http://www.w3.org/ns/prov#",
                        "tg": "https://w3id.org/tracegraph#"})
    assert {(str(r[0]), float(r[1])) for r in q} >= {  # type: ignore[index, arg-type]  # SELECT rows: an IRI and a decimal
        (e.dst, float(e.props["quantity"])) for e in edges  # type: ignore[arg-type]  # quantity is numeric
    }
    with pytest.raises(ValueError):
        serialize(g, "xml")


def test_unknown_terms_are_rejected(vocab: Any) -> None:
    from graph.errors import WriteRejectedError

    ttl = """@prefix tg: <https://w3id.org/tracegraph#> .
    <https://w3id.org/tracegraph/id/Batch/B1> a tg:Batch ; tg:lotNumber "B1" ; tg:colour "red" .
    <https://w3id.org/tracegraph/id/Widget/W1> a tg:Widget ."""
    with pytest.raises(WriteRejectedError) as e:
        to_capture_document(Graph().parse(data=ttl, format="turtle"), vocab)
    rules = {(p.rule, p.focus, p.field) for p in e.value.problems}
    assert ("ontology-unknown-term", "https://w3id.org/tracegraph/id/Batch/B1",
            "https://w3id.org/tracegraph#colour") in rules
    assert ("ontology-unknown-term", "https://w3id.org/tracegraph/id/Widget/W1",
            "rdf:type") in rules


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Runtime, list[dict[str, Any]]]]:
    docs = list(generate_plant(size="demo", seed=7))
    rt = fresh(tmp_path_factory.mktemp("rdf-demo"))
    for d in docs:
        rt.capture(d, migration=PLANT_MIGRATION)
    yield rt, docs
    rt.close()


def test_demo_plant_roundtrip(demo: tuple[Runtime, list[dict[str, Any]]],
                              tmp_path: Path) -> None:
    rt, docs = demo
    iris = all_iris(rt, docs)
    roundtrip(rt, iris, tmp_path / "copy", deep=False)

