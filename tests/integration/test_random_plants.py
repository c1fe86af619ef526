"""Randomised plants (hypothesis): genealogy, recall and mass balance on both engines equal an
independent networkx computation from the raw capture documents — with diamonds, splits into
sublots, merges, partial consumption and parallel consumptions of one lot."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.engines.sqlite import SQLiteStore
from graph.massbalance import mass_balance
from graph.model import Direction
from graph.port import GraphStore
from tests import plantlet
from tests.conftest import ENGINES, engine_store, migrate
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

GTIN = "09506000134352"


@st.composite
def plants(draw: st.DrawFn) -> dict[str, Any]:
    """Lots, then layers of batches consuming random earlier lots/batches, sublots, units,
    cases and shipments — as one capture document."""
    n_lots = draw(st.integers(1, 5))
    nodes: list[dict[str, Any]] = []
    derivations: list[dict[str, Any]] = []
    sources: list[tuple[str, float, str]] = []  # (ref, quantity, unit)
    left: dict[str, float] = {}  # ref → quantity still on hand
    for i in range(n_lots):
        qty = float(draw(st.integers(10, 1000)))
        nodes.append({"class": "MaterialLot", "key": f"L{i}",
                      "properties": {"quantity": qty, "unitCode": "kg",
                                     "supplierLotNumber": f"S{i}",
                                     "materialLotStatus": "Approved"},
                      "links": {"ofMaterial": "Material/PP-H350",
                                "suppliedBy": "Supplier/SUP-PP"}})
        sources.append((f"MaterialLot/L{i}", qty, "kg"))
        left[f"MaterialLot/L{i}"] = qty
    n_batches = draw(st.integers(1, 7))
    finals: list[tuple[str, float]] = []
    for b in range(n_batches):
        made = float(draw(st.integers(1, 20)))
        ref = f"Batch/B{b}"
        nodes.append({"class": "Batch", "key": f"B{b}",
                      "properties": {"gtin": GTIN, "batchStatus": "Released",
                                     "quantity": made, "unitCode": "{pc}"},
                      "links": {"ofProduct": "Product/CATH-14G",
                                "runsProcessVersion": "ProcessVersion/CATH-ASSY/v1"}})
        picks = draw(st.lists(st.sampled_from(range(len(sources))), min_size=1, max_size=3))
        for p in picks:  # a repeated pick = two consumptions of one lot (parallel edges)
            src, qty, unit = sources[p]
            if left[src] < 1:
                continue  # used up: never more than on hand (quality.material_rules)
            used = draw(st.integers(1, max(1, int(left[src] // 2))))  # partial consumption
            left[src] -= used
            derivations.append({"kind": "consumption", "output": ref, "input": src,
                                "quantity": float(used), "unit": unit})
        sources.append((ref, made, "{pc}"))
        left[ref] = made
        finals.append((ref, made))
    if draw(st.booleans()):  # split a batch into sublots
        ref, made = finals[0]
        for s in range(2):
            nodes.append({"class": "Sublot", "key": f"B0-S{s}",
                          "properties": {"quantity": made / 2, "unitCode": "{pc}"}})
            derivations.append({"kind": "split", "output": f"Sublot/B0-S{s}", "input": ref,
                                "quantity": made / 2, "unit": "{pc}"})
    units: list[str] = []
    for ref, made in finals[-2:]:
        for u in range(min(int(made), 3)):
            key = f"{ref.rsplit('/', 1)[1]}-U{u}"
            nodes.append({"class": "SerializedUnit", "key": key,
                          "properties": {"gtin": GTIN}, "links": {"ofProduct": "Product/CATH-14G"}})
            derivations.append({"kind": "production", "output": f"SerializedUnit/{key}",
                                "input": ref, "quantity": 1.0, "unit": "{pc}"})
            units.append(key)
    if units:
        nodes.append({"class": "PackagingAggregation", "key": "095060001000000012",
                      "properties": {"packagingLevel": "case"}})
        for key in units:
            derivations.append({"kind": "aggregation",
                                "output": "PackagingAggregation/095060001000000012",
                                "input": f"SerializedUnit/{key}"})
        nodes.append({"class": "Shipment", "key": "SHIP-R",
                      "properties": {"shippedAt": "2026-04-01T00:00:00Z"},
                      "links": {"shippedTo": "Customer/HOSP-1"}})
        derivations.append({"kind": "shipment", "output": "Shipment/SHIP-R",
                            "input": "PackagingAggregation/095060001000000012"})
    return {"format": "tracegraph.capture/1",
            "events": [{"eventId": "plant", "nodes": nodes, "derivations": derivations}]}


def oracle(doc: dict[str, Any], rt: Runtime) -> tuple[nx.MultiDiGraph, dict[str, float]]:
    """Source → derived multigraph with edge quantities, and each node's own quantity."""
    def iri(ref: str) -> str:
        c, _, k = ref.partition("/")
        return rt.vocab.mint_iri(c, k)

    g: nx.MultiDiGraph = nx.MultiDiGraph()
    qty: dict[str, float] = {}
    for n in doc["events"][0]["nodes"]:
        i = rt.vocab.mint_iri(n["class"], n["key"])
        g.add_node(i)
        if "quantity" in n["properties"]:
            qty[i] = n["properties"]["quantity"]
    for d in doc["events"][0]["derivations"]:
        g.add_edge(iri(d["input"]), iri(d["output"]), quantity=d.get("quantity"),
                   kind=d["kind"])
    return g, qty


def path_sum_exposure(g: nx.MultiDiGraph, qty: dict[str, float], seed: str) -> dict[str, float]:
    """Exposure as the sum over every path of the product of shares (no propagation order)."""
    out: dict[str, float] = {seed: qty[seed]}
    for target in nx.descendants(g, seed):
        total = 0.0
        for path in nx.all_simple_edge_paths(g, seed, target):
            share = qty[seed]
            for a, _b, k in path:
                q = g.edges[a, _b, k]["quantity"]
                share *= 1.0 if q is None else q / qty[a]
            total += share
        out[target] = total
    return out


@pytest.fixture(params=ENGINES)
def fresh(request: pytest.FixtureRequest) -> Iterator[Callable[[], Runtime]]:
    tmp = Path(tempfile.mkdtemp())
    made: list[GraphStore] = []

    def make() -> Runtime:
        store = engine_store(request, tmp / f"s{len(made)}.sqlite")
        made.append(store)
        rt = Runtime.open(Settings(data_dir=tmp), store=store)
        migrate(rt, plantlet.master_data())
        return rt

    yield make
    for s in made:
        if isinstance(s, SQLiteStore):
            s.close()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(doc=plants(), pick=st.randoms(use_true_random=False))
def test_random_plant_answers_equal_the_oracle(fresh: Callable[[], Runtime],
                                              doc: dict[str, Any], pick: Any) -> None:
    rt = fresh()
    migrate(rt, doc)  # approved lots
    g, qty = oracle(doc, rt)
    simple = nx.DiGraph(g)
    nodes = sorted(simple.nodes)
    for seed in pick.sample(nodes, min(4, len(nodes))):
        down = rt.store.genealogy([seed], Direction.DOWNSTREAM)
        assert down.depth == nx.single_source_shortest_path_length(simple, seed)
        up = rt.store.genealogy([seed], Direction.UPSTREAM)
        assert up.depth == nx.single_source_shortest_path_length(simple.reverse(), seed)
        assert len(down.edges) == g.subgraph(down.depth).number_of_edges()
    lots = [n for n in nodes if "/MaterialLot/" in n]
    seeds = pick.sample(lots, pick.randint(1, len(lots)))
    ans = rt.recall(seeds, unit_limit=10**6)
    want = set(seeds).union(*(nx.descendants(simple, s) for s in seeds))
    assert sum(ans.counts.values()) == len(want)
    for seed in lots:
        mb = mass_balance(rt.store.genealogy([seed], Direction.DOWNSTREAM))
        expected = path_sum_exposure(g, qty, seed)
        assert set(mb.exposure) == set(expected)
        for n, v in expected.items():
            assert mb.exposure[n] is not None and math.isclose(mb.exposure[n], v,  # type: ignore[arg-type]  # checked not None on the left of the and
                                                               rel_tol=1e-9), n
        used = sum(d["quantity"] for d in doc["events"][0]["derivations"]
                   if rt.vocab.mint_iri(*d["input"].split("/", 1)) == seed)
        assert mb.consumed == pytest.approx(used)
        assert mb.on_hand == pytest.approx(qty[seed] - used)
