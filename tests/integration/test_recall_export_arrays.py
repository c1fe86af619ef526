"""The embedded engine writes the recall files from the walk's arrays (issue 16 item 1): the units
file by one SQL statement, the mass balance from one walk of every seed. Both must be the bytes
the engine-independent path writes (the path Neo4j takes), on a plant with shipments, packages,
several seeds sharing their downstream, seeds of other classes and a seed that names nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import graph.engines.sqlite.recall_balance as array_balance
import graph.engines.sqlite.recall_files as array_files
from bench.plant import PLANT_MIGRATION, generate_plant
from graph.engines.sqlite import SQLiteStore
from graph.recall_balance import write_export
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    tmp = tmp_path_factory.mktemp("arrays")
    rt = Runtime.open(Settings(data_dir=tmp), store=SQLiteStore(tmp / "s.sqlite"))
    for d in generate_plant(size="demo", seed=7):
        rt.capture(d, migration=PLANT_MIGRATION)
    yield rt
    rt.close()


def seeds_of(rt: Runtime, pick: str) -> list[str]:
    lots = sorted(n.key for n in rt.store.nodes_of_class("MaterialLot"))
    if pick == "lots":  # neighbouring lots: shared batches, units, packages and shipments
        return [*lots[3:13], "NO-SUCH-LOT"]
    units = sorted(n.iri for n in rt.store.nodes_of_class("SerializedUnit"))
    batches = sorted(n.iri for n in rt.store.nodes_of_class("Batch"))
    sublots = sorted(n.iri for n in rt.store.nodes_of_class("Sublot"))
    # a few units (a sparse part of their class), a batch and the lot it came from, a sublot
    return [*units[::400], batches[5], *lots[:2], *sublots[:1], "NO-SUCH-LOT"]


def files_of(rt: Runtime, seeds: list[str], out: Path, generic: bool) -> dict[str, bytes]:
    answer = rt.recall(seeds, unit_limit=0, package_limit=0, lazy=True)
    files = write_export(answer, out, rt.store, generic=generic)
    return {name: path.read_bytes() for name, path in files.items()}


@pytest.mark.req("URS-TRC-02")
@pytest.mark.parametrize("pick", ["lots", "mixed"])
@pytest.mark.parametrize("heads", ["from SQL", "field by field"])
def test_array_export_is_the_generic_export(plant: Runtime, tmp_path: Path, pick: str,
                                            heads: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(array_files, "PER", 97)  # many chunks on a small plant
    monkeypatch.setattr(array_balance, "GROUP", 3)  # several groups of seeds
    if heads == "field by field":  # as for a unit whose fields csv would quote
        head = array_files._HEAD.replace("THEN n.key || ',' ||", "THEN NULL || ',' ||")
        head = head.replace("THEN n.key || ',,'", "THEN NULL || ',,'")
        assert head.count("THEN NULL") == 2
        monkeypatch.setattr(array_files, "_HEAD", head)
    seeds = seeds_of(plant, pick)
    generic = files_of(plant, seeds, tmp_path / "generic", generic=True)
    arrays = files_of(plant, seeds, tmp_path / "arrays", generic=False)
    assert set(arrays) == set(generic) == {"batches", "units", "shipments", "customers", "json",
                                           "massbalance"}
    for name, body in generic.items():
        assert arrays[name] == body, name
    units = generic["units"].decode().splitlines()
    assert len(units) > 100 and any(line.split(",")[6] for line in units[1:])  # shipped ones
    balance = generic["massbalance"].decode().splitlines()
    assert sum(line.split(",")[1] == "reconciliation" for line in balance) == len(seeds) - 1
    assert any(",PackagingAggregation," in line for line in balance)
    assert any(",Shipment," in line for line in balance)
    assert b'"unknownSeeds": [\n    "NO-SUCH-LOT"\n  ]' in generic["json"]


def test_lazy_counts_are_the_counts_of_the_lists(plant: Runtime) -> None:
    seeds = seeds_of(plant, "lots")
    lazy = plant.recall(seeds, unit_limit=10**6, lazy=True)
    eager = plant.recall(seeds, unit_limit=10**6)
    assert lazy.summary() == eager.summary() == {
        "seeds": len(eager.seeds), "unknownSeeds": 1, "batches": len(eager.batches),
        "units": len(eager.units), "packages": len(eager.packages),
        "shipments": len(eager.shipments), "customers": len(eager.customers)}
    assert [a.iri for a in lazy.shipments] == [a.iri for a in eager.shipments]
