"""Bulk recall on both engines, checked against networkx over the raw capture documents."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import orjson
import pytest

from bench.plant import generate_plant
from graph.recall import write_export
from tests import plantlet
from tests.conftest import ENGINES, demo_runtime, migrate
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


def raw_graph(docs: list[dict[str, Any]], rt: Runtime) -> tuple[nx.DiGraph, dict[str, str]]:
    """Derivation graph (source → derived) and class of every node, from the documents alone."""
    g: nx.DiGraph = nx.DiGraph()
    cls: dict[str, str] = {}

    def iri(ref: str) -> str:
        c, _, key = ref.partition("/")
        return rt.vocab.mint_iri(c, key)

    for doc in docs:
        for ev in doc["events"]:
            for n in ev.get("nodes", []):
                cls[rt.vocab.mint_iri(n["class"], n["key"])] = n["class"]
            for d in ev.get("derivations", []):
                g.add_edge(iri(d["input"]), iri(d["output"]))
    g.add_nodes_from(cls)
    return g, cls


@pytest.mark.req("URS-TRC-02")
def test_recall_of_a_supplier_lot(runtime: Runtime, tmp_path: Path) -> None:
    docs = plantlet.documents()
    migrate(runtime, *docs)
    ans = runtime.recall(["PA-778", "NO-SUCH-LOT"])
    assert ans.unknown_seeds == ["NO-SUCH-LOT"]
    assert {b.key for b in ans.batches} == {"RL-PP", "B-MOULD", "B-ASSY"}
    assert [u.key for u in ans.units] == ["SN-1", "SN-2", "SN-3"] and ans.units_total == 3
    [ship] = ans.shipments
    assert ship.key == "SHIP-1"
    lot = runtime.vocab.mint_iri("MaterialLot", "RL-PP")
    assert ship.witness[0] == lot and ship.witness[-1] == ship.iri
    g, _ = raw_graph(docs, runtime)
    assert all(g.has_edge(a, b) for a, b in zip(ship.witness, ship.witness[1:], strict=False))
    [cust] = ans.customers
    assert (cust.key, cust.name, cust.country, cust.shipments) == (
        "HOSP-1", "St. Mary Hospital", "US", ["SHIP-1"])
    assert cust.first_shipped == "2026-03-05T10:00:00.000000Z"
    assert ans.watermark == runtime.store.watermark()

    files = write_export(ans, tmp_path)
    with files["customers"].open() as f:
        rows = list(csv.DictReader(f))
    assert rows == [{"customer": "HOSP-1", "name": "St. Mary Hospital",
                     "address": "1 Main St, Springfield", "country": "US", "shipments": "SHIP-1",
                     "first_shipped": "2026-03-05T10:00:00.000000Z",
                     "last_shipped": "2026-03-05T10:00:00.000000Z"}]
    with files["units"].open() as f:
        units = list(csv.DictReader(f))
    assert [u["serial"] for u in units] == ["SN-1", "SN-2", "SN-3"]
    assert {u["batch"] for u in units} == {runtime.vocab.mint_iri("Batch", "B-ASSY")}
    body = orjson.loads(files["json"].read_bytes())
    assert body["summary"]["units"] == 3 and body["unknownSeeds"] == ["NO-SUCH-LOT"]


@pytest.fixture(scope="module", params=ENGINES)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Runtime, list[dict[str, Any]]]]:
    docs = list(generate_plant(size="demo", seed=7))
    yield demo_runtime(request, tmp_path_factory.mktemp("demo"), docs), docs


@pytest.mark.req("URS-TRC-02")
def test_recall_on_the_demo_plant_equals_the_networkx_oracle(
        demo: tuple[Runtime, list[dict[str, Any]]]) -> None:
    rt, docs = demo
    g, cls = raw_graph(docs, rt)
    lots = sorted(n for n, c in cls.items() if c == "MaterialLot")
    for seeds in (lots[:1], lots[3:13], lots):
        ans = rt.recall(seeds, unit_limit=10**6)
        want = set(seeds).union(*(nx.descendants(g, s) for s in seeds if s in g))
        got = {a.iri for a in (*ans.batches, *ans.units, *ans.packages, *ans.shipments)}
        assert got == {n for n in want if cls[n] in
                       ("MaterialLot", "Batch", "Sublot", "SerializedUnit",
                        "PackagingAggregation", "Shipment")}
        assert sum(ans.counts.values()) == len(want)
        for a in ans.shipments:
            assert a.witness[0] in seeds and a.witness[-1] == a.iri
            assert all(g.has_edge(x, y) for x, y in zip(a.witness, a.witness[1:], strict=False))
            assert a.depth == len(a.witness) - 1 == min(
                nx.shortest_path_length(g, s, a.iri) for s in seeds if nx.has_path(g, s, a.iri))


@pytest.mark.req("URS-TRC-01", "URS-TRC-03")
def test_as_built_context_of_a_unit_equals_the_documents(
        demo: tuple[Runtime, list[dict[str, Any]]]) -> None:
    from graph.context import as_built
    from graph.model import Direction

    rt, docs = demo
    _, cls = raw_graph(docs, rt)
    unit = sorted(n for n, c in cls.items() if c == "SerializedUnit")[0]
    trace = rt.store.genealogy([unit], Direction.UPSTREAM)
    batches = [n for n in trace.nodes if cls[n] in ("Batch", "Sublot")]
    ctx = as_built(rt.store, batches)

    def ref(r: str) -> str:
        c, _, k = r.partition("/")
        return rt.vocab.mint_iri(c, k)

    links: dict[str, dict[str, list[str]]] = {}
    for doc in docs:
        for ev in doc["events"]:
            for n in ev.get("nodes", []):
                iri = rt.vocab.mint_iri(n["class"], n["key"])
                for p, v in n.get("links", {}).items():
                    links.setdefault(iri, {}).setdefault(p, []).extend(
                        ref(x) for x in ([v] if isinstance(v, str) else v))
    execs = {n for n, ls in links.items() if set(ls.get("forBatch", [])) & set(batches)}
    assert execs and execs <= set(ctx.nodes)
    for e in execs:
        for p in ("onEquipment", "usedFixture", "wasAssociatedWith", "executesOperation"):
            assert set(links[e].get(p, [])) <= set(ctx.nodes), (e, p)
    during = {n for n, ls in links.items() if set(ls.get("duringExecution", [])) & execs}
    assert during <= set(ctx.nodes)
    assert any(cls.get(n) == "InspectionResult" for n in during)
    versions = {v for b in batches for v in links.get(b, {}).get("runsProcessVersion", [])}
    assert versions and versions <= set(ctx.nodes)


@pytest.mark.req("URS-TRC-02")
def test_equipment_window_impact_equals_the_documents(
        demo: tuple[Runtime, list[dict[str, Any]]]) -> None:
    """Equipment suspect in [t1, t2] → executions on it then → their batches → downstream."""
    rt, docs = demo
    g, cls = raw_graph(docs, rt)

    def ref(r: str) -> str:
        c, _, k = r.partition("/")
        return rt.vocab.mint_iri(c, k)

    execs: dict[str, dict[str, Any]] = {}
    for doc in docs:
        for ev in doc["events"]:
            for n in ev.get("nodes", []):
                if n["class"] == "OperationExecution":
                    execs[rt.vocab.mint_iri("OperationExecution", n["key"])] = n
    on = [(i, n) for i, n in execs.items() if n.get("links", {}).get("onEquipment")]
    equipment = ref(sorted(n["links"]["onEquipment"] for _, n in on)[0])
    runs = sorted((n["properties"]["startedAtTime"], n["properties"]["endedAtTime"], i)
                  for i, n in on if ref(n["links"]["onEquipment"]) == equipment)
    start, end = runs[1][0], runs[2][1]  # a window covering the 2nd and 3rd runs only
    want_execs = {i for s, e, i in runs if s <= end and e >= start}
    want_batches = {ref(execs[i]["links"]["forBatch"]) for i in want_execs}

    exposures, _measured, answer = rt.equipment_impact(equipment, start, end, unit_limit=10**6)
    assert {x.execution.iri for x in exposures} == want_execs
    assert {b for x in exposures for b in x.batches} == want_batches
    want = want_batches.union(*(nx.descendants(g, b) for b in want_batches))
    assert sum(answer.counts.values()) == len(want)
    assert {a.iri for a in answer.shipments} == {n for n in want if cls[n] == "Shipment"}


@pytest.mark.req("URS-TRC-02")
def test_cli_recall_reads_a_spreadsheet_and_fails_clearly(tmp_path: Path) -> None:
    """`tracegraph recall --seeds`: the seed column of a CSV by its header; seeds that are all
    unknown, an empty or a missing file exit non-zero with one line and no files."""
    import os
    import subprocess
    import sys

    data = tmp_path / "data"
    rt = Runtime.open(Settings(data_dir=data))
    migrate(rt, *plantlet.documents())
    rt.close()
    exe = Path(sys.executable).with_name("tracegraph")
    env = {**os.environ, "TRACEGRAPH_DATA_DIR": str(data), "TRACEGRAPH_STORE": "embedded"}

    def run(text: str | None, out: str) -> subprocess.CompletedProcess[str]:
        seeds = tmp_path / f"{out}.csv"
        if text is not None:
            seeds.write_text(text, encoding="utf-8")
        return subprocess.run([str(exe), "recall", "--seeds", str(seeds), "--out",
                               str(tmp_path / out)], env=env, capture_output=True, text=True,
                              timeout=120)

    ok = run("\ufeffwarehouse,lot,qty\nW1,NOPE-0,1\nW2,PA-778,2\n", "lots")
    assert ok.returncode == 0, ok.stderr
    body = orjson.loads((tmp_path / "lots" / "recall.json").read_bytes())
    assert body["unknownSeeds"] == ["NOPE-0"] and body["summary"]["units"] == 3
    for text, out, code, says in [("lot\nNOPE-1\nNOPE-2\n", "unknown", 1, "none of the 2"),
                                  ("lot\n", "empty", 2, "holds no seeds"),
                                  (None, "missing", 2, "no seed file")]:
        r = run(text, out)
        assert r.returncode == code and says in r.stderr, (out, r.returncode, r.stderr)
        assert "Traceback" not in r.stderr and not (tmp_path / out).exists()
