"""RDF export of any subgraph is valid against the project's own shapes (issue 18 item 6): a
trace exported either way from any record of the plantlet (both engines) and from batches,
units and shipments of the demo plant passes pySHACL with the shapes in shapes/ and the
ontology — no stub record without its code, name or required links — and ``tracegraph export``
checks it before it writes."""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import RDF, Graph, URIRef
from rdflib.namespace import SH

from bench.plant import PLANT_MIGRATION, generate_plant
from graph.model import Direction
from graph.rdf_export import export_graph, export_trace, serialize
from ontology.vocab import TG
from tests import plantlet
from tests.integration.test_demo import EXE
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

SHAPES = Path(__file__).resolve().parents[2] / "shapes" / "tracegraph-shapes.ttl"
ONTOLOGY = Path(__file__).resolve().parents[2] / "ontology" / "tracegraph.ttl"


@functools.cache
def _graph(path: Path) -> Graph:
    return Graph().parse(path)


def violations(data: Graph) -> list[tuple[str, str, str]]:
    """pySHACL's Violation results (focus, path, message), shapes and ontology read from disk."""
    _, report, _ = validate(data, shacl_graph=_graph(SHAPES), ont_graph=_graph(ONTOLOGY),
                            inference="none",
                            allow_warnings=True, allow_infos=True)
    return sorted((str(report.value(r, SH.focusNode)), str(report.value(r, SH.resultPath)),
                   str(report.value(r, SH.resultMessage)))
                  for r in report.subjects(RDF.type, SH.ValidationResult)
                  if report.value(r, SH.resultSeverity) == SH.Violation)


@pytest.mark.req("URS-REC-02")
def test_every_trace_of_the_plantlet_is_valid_against_the_shapes(runtime: Runtime) -> None:
    plantlet.load(runtime)
    seeds = [n.iri for label in ("MaterialLot", "Batch", "SerializedUnit",
                                 "PackagingAggregation", "Shipment")
             for n in runtime.store.nodes_of_class(label)]
    assert len(seeds) >= 8
    for seed in seeds:
        for d in (Direction.UPSTREAM, Direction.DOWNSTREAM):
            g = export_trace(runtime.store, seed, d, runtime.vocab)
            assert violations(g) == [], (seed, d)
    # one node alone: its master data come along with what they require
    b = runtime.vocab.mint_iri("Batch", "B-ASSY")
    g = export_graph(runtime.store, [b], runtime.vocab)
    assert violations(g) == []
    material = URIRef(runtime.vocab.mint_iri("Material", "PP-H350"))
    assert str(g.value(material, TG.code)) == "PP-H350"  # not a bare stub


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, Path]]:
    d = tmp_path_factory.mktemp("rdf-shapes-demo")
    rt = Runtime.open(Settings(data_dir=d, store="embedded"))
    for doc in generate_plant(size="demo", seed=7):
        rt.capture(doc, migration=PLANT_MIGRATION)
    yield rt, d
    rt.close()


@pytest.mark.req("URS-REC-02")
def test_demo_plant_traces_are_valid_against_the_shapes(demo: tuple[Runtime, Path]) -> None:
    rt, _ = demo
    first = {label: sorted(rt.store.nodes_of_class(label), key=lambda n: n.key)[0].iri
             for label in ("Batch", "MaterialLot", "SerializedUnit", "Shipment")}
    for seed, d in ((first["Batch"], Direction.UPSTREAM), (first["Batch"], Direction.DOWNSTREAM),
                    (first["MaterialLot"], Direction.DOWNSTREAM),
                    (first["SerializedUnit"], Direction.UPSTREAM),
                    (first["Shipment"], Direction.UPSTREAM)):
        g = export_trace(rt.store, seed, d, rt.vocab)
        found = violations(g)
        assert found == [], (seed, d, len(g), found[:5])


@pytest.mark.req("URS-REC-02")
def test_the_cli_export_validates_what_it_writes(demo: tuple[Runtime, Path],
                                                  tmp_path: Path) -> None:
    rt, data = demo
    batch = sorted(rt.store.nodes_of_class("Batch"), key=lambda n: n.key)[0]
    out = tmp_path / "trace.ttl"
    env = {**os.environ, "TRACEGRAPH_DATA_DIR": str(data), "TRACEGRAPH_STORE": "embedded"}
    r = subprocess.run([str(EXE), "export", "--seed", batch.key, "--out", str(out)], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "0 violations" in r.stdout + r.stderr
    g = Graph().parse(out)
    assert violations(g) == []
    assert serialize(export_trace(rt.store, batch.iri, Direction.UPSTREAM, rt.vocab),
                     "turtle") == out.read_text()
