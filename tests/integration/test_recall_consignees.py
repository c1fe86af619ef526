"""The recall's units file names each unit's shipment and customer (issue 15 item 11): on the
demo plant, equal to the shipments and consignees found from the capture documents alone
(networkx over their derivations, the shipments' ``shippedTo`` links, the customers' nodes)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from bench.plant import PLANT_MIGRATION, generate_plant
from graph.engines.sqlite import SQLiteStore
from graph.recall_balance import write_export
from tests.integration.test_recall import raw_graph
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Path, Runtime, list[dict[str, Any]]]]:
    docs = list(generate_plant(size="demo", seed=7))
    tmp = tmp_path_factory.mktemp("consignees")
    rt = Runtime.open(Settings(data_dir=tmp), store=SQLiteStore(tmp / "tracegraph.sqlite"))
    for d in docs:
        rt.capture(d, migration=PLANT_MIGRATION)
    yield tmp, rt, docs
    rt.close()


def expected(docs: list[dict[str, Any]], rt: Runtime) -> dict[str, set[tuple[str, ...]]]:
    """Unit IRI → {(shipment, shipped at, customer, name, GLN)}: the shipments a unit reaches
    through its packaging, from the documents alone."""
    g, cls = raw_graph(docs, rt)
    props: dict[str, dict[str, Any]] = {}
    links: dict[str, str] = {}  # shipment → its customer
    for ev in (ev for doc in docs for ev in doc["events"]):
        for n in ev.get("nodes", []):
            i = rt.vocab.mint_iri(n["class"], n["key"])
            props.setdefault(i, {"key": n["key"]}).update(n.get("properties", {}))
            if "shippedTo" in n.get("links", {}):
                c, _, key = n["links"]["shippedTo"].partition("/")
                links[i] = rt.vocab.mint_iri(c, key)
    packed = g.subgraph([n for n in g if cls[n] in ("SerializedUnit", "PackagingAggregation",
                                                    "Shipment")])
    out: dict[str, set[tuple[str, ...]]] = {}
    for u in (n for n in packed if cls[n] == "SerializedUnit"):
        for s in (x for x in nx.descendants(packed, u) if cls[x] == "Shipment"):
            c = links[s]
            out.setdefault(u, set()).add((props[s]["key"], props[s]["shippedAt"],
                                          props[c]["key"], props[c]["name"],
                                          props[c].get("gln", "")))
    return out


def same_time(a: str, b: str) -> bool:
    return datetime.fromisoformat(a) == datetime.fromisoformat(b)


def check(rows: list[dict[str, str]], want: dict[str, set[tuple[str, ...]]]) -> int:
    """Every row's consignee columns as the documents say; returns the shipped rows."""
    shipped = 0
    for r in rows:
        w = sorted(want.get(r["iri"], set()), key=lambda x: (datetime.fromisoformat(x[1]),
                                                              x[0]))
        if not w:
            assert [r[c] for c in ("shipment", "shipped_at", "customer", "customer_name",
                                   "customer_gln")] == [""] * 5, r
            continue
        shipped += 1
        assert r["shipment"].split("; ") == [x[0] for x in w], r
        assert all(same_time(a, x[1]) for a, x in zip(r["shipped_at"].split("; "), w,
                                                       strict=True)), r
        assert r["customer"].split("; ") == [x[2] for x in w], r
        assert r["customer_name"].split("; ") == [x[3] for x in w], r
        assert r["customer_gln"].split("; ") == [x[4] for x in w], r
    return shipped


def test_units_file_names_shipment_and_customer_as_the_documents_do(
        demo: tuple[Path, Runtime, list[dict[str, Any]]], tmp_path: Path) -> None:
    _, rt, docs = demo
    want = expected(docs, rt)
    lots = sorted(n.iri for n in rt.store.nodes_of_class("MaterialLot"))
    answer = rt.recall(lots[:8], unit_limit=0, package_limit=0)
    files = write_export(answer, tmp_path, rt.store, balance=False)
    with files["units"].open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == answer.units_total > 0
    shipped = check(rows, want)
    assert shipped > 0
    assert all(r["customer_gln"] for r in rows if r["shipment"])  # the demo's have a GLN


def test_cli_recall_units_file_has_the_consignee_columns(
        demo: tuple[Path, Runtime, list[dict[str, Any]]], tmp_path: Path) -> None:
    """`tracegraph recall --seeds` (a new process, as a script runs it) writes them too; its
    stdout carries no progress bar (not a terminal)."""
    data, rt, docs = demo
    want = expected(docs, rt)
    lot = sorted(n.key for n in rt.store.nodes_of_class("MaterialLot"))[2]
    seeds = tmp_path / "seeds.csv"
    seeds.write_text(f"lot\n{lot}\n")
    exe = Path(sys.executable).with_name("tracegraph")
    env = {**os.environ, "TRACEGRAPH_DATA_DIR": str(data), "TRACEGRAPH_STORE": "embedded"}
    r = subprocess.run([str(exe), "recall", "--seeds", str(seeds), "--out",
                        str(tmp_path / "out")], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    with (tmp_path / "out" / "recall-units.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and check(rows, want) > 0
