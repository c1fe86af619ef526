"""The sample-plant generator: deterministic, GS1-valid, dependency-ordered, and loadable through
the one write path without a single violation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.plant import (
    MAX_EVENTS,
    MAX_ITEMS,
    PHASES,
    PLANT_MIGRATION,
    SIZES,
    generate_plant,
    write_plant,
)
from bench.plant_gs1 import gs1_check_digit, gtin14, is_valid_gs1, sscc18
from bench.plant_sim import Planner
from ingest.capture import parse_document
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

Json = dict[str, Any]


@pytest.fixture(scope="module")
def demo() -> list[Json]:
    return list(generate_plant("demo", seed=7))


def _events(docs: list[Json]) -> list[Json]:
    return [ev for doc in docs for ev in doc["events"]]


def _nodes(docs: list[Json]) -> list[Json]:
    return [n for ev in _events(docs) for n in ev.get("nodes", ())]


def test_same_seed_same_bytes_other_seed_other_plant(demo: list[Json]) -> None:
    again = list(generate_plant("demo", seed=7))
    assert [orjson.dumps(d) for d in again] == [orjson.dumps(d) for d in demo]
    other = list(generate_plant("demo", seed=8))
    assert [orjson.dumps(d) for d in other] != [orjson.dumps(d) for d in demo]


def test_documents_parse_and_stay_transaction_sized(demo: list[Json]) -> None:
    for doc in demo:
        parse_document(doc)
        assert len(doc["events"]) <= MAX_EVENTS
        items = sum(len(ev.get("nodes", ())) + len(ev.get("derivations", ()))
                    for ev in doc["events"])
        assert items <= MAX_ITEMS


def test_gs1_check_digit_reference_values() -> None:
    assert gs1_check_digit("0001234560001") == "2"          # GS1 GTIN example 00012345600012
    assert gs1_check_digit("10614141123456789") == "7"      # GS1 SSCC example
    assert is_valid_gs1(gtin14(201)) and is_valid_gs1(sscc18(123456789))
    assert not is_valid_gs1("09506001002010")


def test_every_gtin_udi_and_sscc_has_a_valid_check_digit(demo: list[Json]) -> None:
    seen = Counter[str]()
    for n in _nodes(demo):
        props = n.get("properties", {})
        for k in ("gtin", "udiDI", "sscc"):
            if k in props:
                seen[k] += 1
                assert is_valid_gs1(props[k]) and len(props[k]) == (18 if k == "sscc" else 14)
        if n["class"] == "PackagingAggregation":
            seen["case"] += 1
            assert len(n["key"]) == 18 and is_valid_gs1(n["key"])
    assert seen["gtin"] > 4000 and seen["udiDI"] == 2 and seen["case"] > 50


def test_event_ids_are_unique_and_production_is_chronological(demo: list[Json]) -> None:
    events = _events(demo)
    ids = [ev["eventId"] for ev in events]
    assert len(ids) == len(set(ids))
    times = [ev["eventTime"] for doc in demo for ev in doc["events"]
             if ev["eventId"].startswith(("CA", "IS", "MC", "XT", "charge/", "cal/", "pm/"))]
    assert times == sorted(times)
    assert all(ev["eventTime"].endswith("Z") for ev in events)


def test_every_reference_points_to_a_node_created_earlier(demo: list[Json]) -> None:
    created: set[str] = set()
    kinds = Counter[str]()
    for ev in _events(demo):
        for n in ev.get("nodes", ()):
            created.add(f"{n['class']}/{n['key']}")
            for refs in n.get("links", {}).values():
                for ref in [refs] if isinstance(refs, str) else refs:
                    assert ref in created, (ev["eventId"], ref)
        for d in ev.get("derivations", ()):
            kinds[d["kind"]] += 1
            for ref in (d["output"], d["input"], d.get("execution")):
                assert ref is None or ref in created, (ev["eventId"], ref)
    assert {"consumption", "production", "split", "merge", "aggregation", "shipment"} <= set(kinds)


def test_genealogy_has_partial_lots_splits_and_merges(demo: list[Json]) -> None:
    per_batch: dict[str, Counter[str]] = {}
    per_input: dict[str, set[str]] = {}
    for ev in _events(demo):
        for d in ev.get("derivations", ()):
            if d["kind"] == "consumption":
                assert d["quantity"] > 0 and d["unit"] and d["execution"]
                per_input.setdefault(d["input"], set()).add(d["output"])
                material = d["input"].split("/")[0]
                per_batch.setdefault(d["output"], Counter())[material] += 1
    assert any(len(outs) > 1 for ref, outs in per_input.items() if ref.startswith("MaterialLot/"))
    lots: dict[str, dict[str, set[str]]] = {}
    material_of = {f"MaterialLot/{n['key']}": n["links"]["ofMaterial"] for n in _nodes(demo)
                   if n["class"] == "MaterialLot" and "links" in n}
    for ref, outs in per_input.items():
        for out in outs:
            if ref in material_of:
                lots.setdefault(out, {}).setdefault(material_of[ref], set()).add(ref)
    assert any(len(refs) > 1 for mats in lots.values() for refs in mats.values())


def test_catheter_process_has_two_versions_and_one_approved_change(demo: list[Json]) -> None:
    nodes = _nodes(demo)
    versions = {n["key"]: n for n in nodes if n["class"] == "ProcessVersion"
                and n["key"].startswith("CATH-ASSY/")}
    assert set(versions) == {"CATH-ASSY/v1", "CATH-ASSY/v2"}
    v1, v2 = versions["CATH-ASSY/v1"], versions["CATH-ASSY/v2"]
    assert v1["properties"]["versionStatus"] == "Superseded"
    assert v2["properties"]["versionStatus"] == "Effective"
    assert v2["properties"]["effectiveFrom"] > v1["properties"]["effectiveFrom"]
    assert v1["properties"]["effectiveTo"] == v2["properties"]["effectiveFrom"]
    crs = [n for n in nodes if n["class"] == "ChangeRequest"]
    assert len(crs) == 1 and crs[0]["properties"]["changeState"] == "Approved"
    assert v2["links"]["introducedBy"] == f"ChangeRequest/{crs[0]['key']}"
    approvals = [n for n in nodes if n["class"] == "Approval"
                 and n["links"]["approves"] == f"ChangeRequest/{crs[0]['key']}"]
    assert len(approvals) >= 2
    assert all(a["properties"]["approvalDecision"] == "approved" for a in approvals)
    specs = {n["key"]: n["properties"] for n in nodes if n["class"] == "ParameterSpec"}
    assert specs["CATH-ASSY/v2/OP20/UV-DOSE"]["lsl"] > specs["CATH-ASSY/v1/OP20/UV-DOSE"]["lsl"]
    chars = {n["key"].split("/", 1)[1] for n in nodes if n["class"] == "InspectionCharacteristic"
             and n["key"].startswith("CATH-ASSY/")}
    assert {c.split("/", 1)[1] for c in chars if c.startswith("v2/")} - {
        c.split("/", 1)[1] for c in chars if c.startswith("v1/")} == {"OP40/HUB-PULL"}


def test_batches_run_the_version_effective_at_their_start(demo: list[Json]) -> None:
    effective = {n["key"]: (n["properties"]["effectiveFrom"], n["properties"].get("effectiveTo"))
                 for n in _nodes(demo) if n["class"] == "ProcessVersion"}
    pinned = 0
    for ev in _events(demo):
        for n in ev.get("nodes", ()):
            pv = n.get("links", {}).get("runsProcessVersion")
            if n["class"] == "Batch" and pv:
                start, end = effective[pv.split("/", 1)[1]]
                assert start <= ev["eventTime"] and (end is None or ev["eventTime"] < end)
                pinned += 1
    assert pinned == sum(1 for ev in _events(demo) if ev["eventId"].endswith("/start"))


def test_demo_size_and_quality_records(demo: list[Json]) -> None:
    count = Counter(n["class"] for n in _nodes(demo) if n["class"] != "Batch")
    batches = {n["key"] for n in _nodes(demo) if n["class"] == "Batch"}
    assert 30 <= len(batches) <= 50
    assert 3000 <= count["SerializedUnit"] <= 5000
    assert count["Customer"] == 10 and count["Shipment"] > 5
    assert count["Deviation"] == 2 and count["Hold"] == 2 and count["Excursion"] == 1
    serials = [n["key"] for n in _nodes(demo) if n["class"] == "SerializedUnit"]
    assert len(serials) == len(set(serials)) and all(s.startswith("SN-") for s in serials)


def test_write_plant_files_sort_in_load_order(tmp_path: Path, demo: list[Json]) -> None:
    counts = write_plant(tmp_path, "demo", 7)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"{p}.jsonl" for p in PHASES]
    lines = [orjson.loads(line) for f in files for line in (tmp_path / f).read_bytes().splitlines()]
    assert lines == demo
    assert counts["documents"] == len(demo)
    assert counts["events"] == len(_events(demo))
    assert counts["units"] == sum(1 for n in _nodes(demo) if n["class"] == "SerializedUnit")
    assert counts["batches"] >= 30 and counts["lots"] > 20 and counts["shipments"] > 5


@pytest.mark.parametrize("size", ["md-s", "md-m"])
def test_large_plans_never_run_out_of_stock(size: str) -> None:
    plan = Planner(SIZES[size], seed=7)
    units = sum(b.good for _day, _r, batches in plan.days() for b in batches
                if b.process.endswith("-ASSY"))
    expected = {"md-s": 1_000_000, "md-m": 10_000_000}[size]
    assert 0.95 * expected <= units <= 1.05 * expected
    assert [q.kind for q in plan.quality] == ["excursion", "supplier-lot"]


def test_demo_loads_through_the_write_path_without_violations(tmp_path: Path,
                                                               demo: list[Json]) -> None:
    rt = Runtime.open(Settings(data_dir=tmp_path))
    try:
        written = edges = 0
        warnings = Counter[str]()
        for doc in demo:
            # raises WriteRejectedError on any violation
            r = rt.capture(doc, migration=PLANT_MIGRATION)
            written += r.events_written
            edges += r.edges_created
            warnings.update(w.path for w in r.warnings)
        assert written == len(_events(demo))
        assert edges > 8000
        # the only advisory: intermediates (hub, tubing) carry no UDI-DI, as they are no devices
        assert set(warnings) <= {"udiDI"}
        again = rt.capture(demo[-1])
        assert again.events_written == 0 and again.events_skipped == len(demo[-1]["events"])
    finally:
        rt.close()
