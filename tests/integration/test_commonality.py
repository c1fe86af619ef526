"""Commonality analysis on generated plants with a planted cause: batches run on one fixture
deviate far more often; the analysis, reading only the graph, ranks that fixture first, and its
lift equals the one computed from the generator's own records (both engines)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from quality.commonality import commonality
from tests import plantlet
from tests.conftest import migrate
from tracegraph.runtime import Runtime

EQUIPMENT = [f"IMM-{i:02d}" for i in range(2, 5)]
FIXTURES = [f"MOULD-{i}" for i in range(1, 7)]
OPERATORS = [f"op.{n}" for n in ("ana", "ben", "chi", "dev", "eli")]
LOTS = [f"RL-{i}" for i in range(1, 9)]
CAUSE = "MOULD-4"


def plant(seed: int, batches: int = 60) -> tuple[dict[str, Any], dict[str, set[str]], set[str]]:
    """A capture document; each batch's factors; the batches that deviated."""
    rng = random.Random(seed)
    nodes: list[dict[str, Any]] = [
        *({"class": "Equipment", "key": e, "properties": {"name": e},
           "links": {"ofEquipmentClass": "EquipmentClass/IMM"}} for e in EQUIPMENT),
        {"class": "Operation", "key": "CONN-MOULD/v1/OP10",
         "properties": {"name": "Moulding", "sequence": 10}},
        *({"class": "Fixture", "key": f, "properties": {"name": f, "usageLimit": 10**6,
                                                        "usageCount": 0},
           "links": {"ofEquipmentClass": "EquipmentClass/IMM"}} for f in FIXTURES),
        *({"class": "Person", "key": o, "properties": {"name": o, "code": o}}
          for o in OPERATORS),
        *({"class": "MaterialLot", "key": lot,
           "properties": {"quantity": 500, "unitCode": "kg", "materialLotStatus": "Approved"},
           "links": {"ofMaterial": "Material/PP-H350", "suppliedBy": "Supplier/SUP-PP"}}
          for lot in LOTS)]
    derivations: list[dict[str, Any]] = []
    factors: dict[str, set[str]] = {}
    deviating: set[str] = set()
    for i in range(batches):
        b = f"B-{seed}-{i:03d}"
        eq, fx, op = rng.choice(EQUIPMENT), rng.choice(FIXTURES), rng.choice(OPERATORS)
        lots = rng.sample(LOTS, 2)
        hour = rng.randrange(24)
        day = 1 + i % 28
        factors[b] = {eq, fx, op, *lots}
        nodes += [
            {"class": "Batch", "key": b,
             "properties": {"batchStatus": "Completed", "quantity": 100, "unitCode": "{pc}"},
             "links": {"ofProduct": "Product/CONN-LL",
                       "runsProcessVersion": "ProcessVersion/CONN-MOULD/v1"}},
            {"class": "OperationExecution", "key": f"{b}/OP10",
             "properties": {"startedAtTime": f"2026-04-{day:02d}T{hour:02d}:00:00Z",
                            "endedAtTime": f"2026-04-{day:02d}T{hour:02d}:30:00Z",
                            "executionStatus": "Completed"},
             "links": {"forBatch": f"Batch/{b}", "onEquipment": f"Equipment/{eq}",
                       "executesOperation": "Operation/CONN-MOULD/v1/OP10",
                       "usedFixture": f"Fixture/{fx}", "wasAssociatedWith": f"Person/{op}"}}]
        derivations += [{"kind": "consumption", "output": f"Batch/{b}",
                         "input": f"MaterialLot/{lot}", "quantity": 2, "unit": "kg"}
                        for lot in lots]
        if rng.random() < (0.8 if fx == CAUSE else 0.07):
            deviating.add(b)
            nodes.append({"class": "Deviation", "key": f"DEV-{b}",
                          "properties": {"title": f"Short shot on {b}",
                                         "description": "short shots at visual inspection",
                                         "openedAt": f"2026-04-{day:02d}T23:00:00Z",
                                         "deviationGrade": "minor", "deviationState": "Open"},
                          "links": {"concerns": f"Batch/{b}"}})
    doc = {"format": "tracegraph.capture/1", "events": [
        {"eventId": f"plant-{seed}", "reason": "generated plant", "nodes": nodes,
         "derivations": derivations}]}
    return doc, factors, deviating


@pytest.mark.parametrize("seed", [11, 12])
@pytest.mark.req("URS-TRC-03")
def test_the_planted_fixture_ranks_first(runtime: Runtime, seed: int) -> None:
    migrate(runtime, plantlet.master_data())
    doc, factors, deviating = plant(seed)
    migrate(runtime, doc)  # approved lots and open deviations: records in later states
    good = sorted(set(factors) - deviating)
    ranked = commonality(runtime, sorted(deviating), good)
    top = ranked[0]
    assert (top.kind, top.key) == ("fixture", CAUSE), ranked[:3]
    # the oracle: lift from the generator's records
    with_cause = {b for b, fs in factors.items() if CAUSE in fs}
    want = (len(with_cause & deviating) / len(with_cause)) / (len(deviating) / len(factors))
    assert top.lift == pytest.approx(want, abs=1e-3)
    assert top.deviating == len(with_cause & deviating) and top.total == len(with_cause)
    kinds = {f.kind for f in commonality(runtime, sorted(deviating), good, limit=200,
                                         min_deviating=1)}
    assert {"fixture", "equipment", "operator", "supplierLot", "shift",
            "processVersion"} <= kinds
