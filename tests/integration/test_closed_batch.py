"""A released or rejected batch's record is closed (:mod:`quality.closed_batch`): nothing may
be consumed into it, no operation executed for it and no new unit produced from it afterwards —
not even as a back-dated "late record" — on each engine; the refusal names field, value and
rule and writes nothing. Found on the demo plant: an operator's capture added a resin lot to a
released batch's genealogy after its release."""

from __future__ import annotations

import pytest

from tests.rules_plant import capture, consume, lot, node, plant, refused_by
from tracegraph.runtime import Runtime


@pytest.fixture
def rt(runtime: Runtime) -> Runtime:
    plant(runtime)
    capture(runtime, [], [consume("RL-OK", 20.0)])
    lot(runtime, "RL-2")
    return runtime


def close(rt: Runtime, status: str) -> None:
    capture(rt, [node("Batch", "B-1", {"batchStatus": status})], reason=f"batch {status}",
            migrated=True)  # the release command itself is tested with it


@pytest.mark.parametrize("status", ["Released", "Rejected"])
def test_nothing_is_consumed_into_a_closed_batch(rt: Runtime, status: str) -> None:
    close(rt, status)
    [p] = refused_by(rt, lambda: capture(rt, [], [consume("RL-2", 1.0)]), "batch-closed")
    assert (p.field, p.value) == ("batchStatus", status)
    assert "B-1" in p.message and status in p.message
    # a back-dated "late record" changes the released record just the same
    refused_by(rt, lambda: capture(rt, [], [consume("RL-2", 1.0, time="2026-01-01T00:00:00Z")]),
               "batch-closed")
    # nor without an execution
    refused_by(rt, lambda: capture(rt, [], [consume("RL-2", 1.0, execution=None)]),
               "batch-closed")


def test_no_operation_is_executed_for_a_closed_batch(rt: Runtime) -> None:
    close(rt, "Released")
    [p] = refused_by(rt, lambda: capture(rt, [node(
        "OperationExecution", "B-1/OP20", {"startedAtTime": "2026-03-03T08:00:00Z",
                                           "executionStatus": "Started"},
        {"forBatch": "Batch/B-1", "executesOperation": "Operation/MOULD/v1/OP20"})]),
        "batch-closed")
    assert p.value == "Released"


def test_no_new_unit_is_produced_from_a_closed_batch(rt: Runtime) -> None:
    close(rt, "Released")
    refused_by(rt, lambda: capture(
        rt, [node("SerializedUnit", "SN-9", {"gtin": "09506000134369"},
                  {"ofProduct": "Product/CONN"})],
        [{"kind": "production", "output": "SerializedUnit/SN-9", "input": "Batch/B-1",
          "quantity": 1, "unit": "{pc}"}]), "batch-closed")


def test_an_open_batch_takes_material_and_a_closed_one_is_still_shipped(rt: Runtime) -> None:
    capture(rt, [], [consume("RL-2", 1.0)])  # InProcess: accepted
    capture(rt, [node("SerializedUnit", "SN-1", {"gtin": "09506000134369"},
                      {"ofProduct": "Product/CONN"})],
            [{"kind": "production", "output": "SerializedUnit/SN-1", "input": "Batch/B-1",
              "quantity": 1, "unit": "{pc}"}])
    close(rt, "Released")
    capture(rt, [node("Customer", "HOSP-1", {"name": "hospital"}),
                 node("Shipment", "SHIP-1", {"shippedAt": "2026-03-05T10:00:00Z"},
                      {"shippedTo": "Customer/HOSP-1"})],
            [{"kind": "shipment", "output": "Shipment/SHIP-1", "input": "SerializedUnit/SN-1"}])
    assert rt.store.get(rt.vocab.mint_iri("Shipment", "SHIP-1")) is not None


def test_a_signed_migration_may_enter_what_a_closed_record_missed(rt: Runtime) -> None:
    close(rt, "Released")
    capture(rt, [], [consume("RL-2", 1.0)], reason="legacy consumption found after go-live",
            migrated=True)
    down = rt.store.links([rt.vocab.mint_iri("Batch", "B-1")], ["WAS_DERIVED_FROM"])
    assert rt.vocab.mint_iri("MaterialLot", "RL-2") in {e.dst for e in down}
