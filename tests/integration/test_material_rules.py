"""Plant rules on consumption (:mod:`quality.material_rules`), through the capture path on each
engine: only Approved, unexpired lots from approved suppliers, never more than on hand, only
materials on a BOM line of the operation (or an approved substitute on it), within the line's
tolerance. A refused write names field, value and rule and writes nothing."""

from __future__ import annotations

import pytest

from graph.errors import Problem
from tests.rules_plant import T0, capture, consume, lot, node, plant, refused_by
from tracegraph.runtime import Runtime


@pytest.fixture
def rt(runtime: Runtime) -> Runtime:
    return plant(runtime)


def refused(rt: Runtime, derivations: list[dict[str, object]], rule: str) -> list[Problem]:
    """Capture ``derivations``; assert it is refused for ``rule`` and nothing was written."""
    return refused_by(rt, lambda: capture(rt, [], derivations), rule)


@pytest.mark.req("URS-PROD-01")
def test_an_approved_lot_on_the_bom_is_consumed(rt: Runtime) -> None:
    r = capture(rt, [], [consume("RL-OK", 40.0), consume("RL-OK", 60.0)])
    assert r.events_written == 1 and r.nodes_created == 2  # two Consumption records


@pytest.mark.parametrize("status", ["Quarantine", "Rejected", "OnHold", "Expired", "Consumed"])
@pytest.mark.req("URS-PROD-01")
def test_only_approved_lots_are_consumed(rt: Runtime, status: str) -> None:
    lot(rt, "RL-X", status=status)
    [p] = refused(rt, [consume("RL-X", time=None)], "lot-approved")  # consumed now
    assert (p.field, p.value) == ("materialLotStatus", status)


def test_a_late_record_before_the_lot_was_put_on_hold_is_accepted(rt: Runtime) -> None:
    # as for holds: the event time (T0, in the past) is before the lot was put OnHold (now)
    lot(rt, "RL-X", status="OnHold")
    capture(rt, [], [consume("RL-X")])
    lot(rt, "RL-Q", status="Quarantine")  # never approved: no late record makes it usable
    refused(rt, [consume("RL-Q")], "lot-approved")


@pytest.mark.req("URS-PROD-01")
def test_an_expired_lot_is_refused_at_its_consumption_time(rt: Runtime) -> None:
    lot(rt, "RL-OLD", expiry="2026-03-01")
    [p] = refused(rt, [consume("RL-OLD")], "lot-expired")
    assert (p.field, p.value) == ("expiryDate", "2026-03-01")
    # used on its expiry day itself: still good
    capture(rt, [], [consume("RL-OLD", time="2026-03-01T23:00:00Z")])


@pytest.mark.req("URS-PROD-01")
def test_a_lot_from_a_disqualified_supplier_is_refused(rt: Runtime) -> None:
    lot(rt, "RL-CHEAP", supplier="SUP-BAD")
    [p] = refused(rt, [consume("RL-CHEAP")], "supplier-approved")
    assert (p.field, p.value) == ("supplierStatus", "disqualified")


@pytest.mark.req("URS-PROD-01")
def test_more_than_on_hand_is_refused(rt: Runtime) -> None:
    # the attack of the issue: 100x the lot's quantity
    [p] = refused(rt, [consume("RL-OK", 10_000.0)], "on-hand")
    assert (p.field, p.value) == ("quantity", 10_000.0)
    capture(rt, [], [consume("RL-OK", 70.0)])
    # 70 of 100 kg consumed: 40 more is too much, also split over two edges of one write
    refused(rt, [consume("RL-OK", 40.0)], "on-hand")
    refused(rt, [consume("RL-OK", 20.0), consume("RL-OK", 20.0, batch="B-1")], "on-hand")
    # the lot's unit is kg: 30000 g is exactly what is left
    capture(rt, [], [consume("RL-OK", 30_000.0, unit="g")])


def test_a_unit_that_cannot_be_converted_is_refused(rt: Runtime) -> None:
    [p] = refused(rt, [consume("RL-OK", 1.0, unit="m")], "unit-convertible")
    assert p.value == "m"


@pytest.mark.req("URS-PROD-01")
def test_a_material_on_no_bom_line_of_the_operation_is_refused(rt: Runtime) -> None:
    lot(rt, "RL-DYE", material="DYE")
    [p] = refused(rt, [consume("RL-DYE", 1.0)], "bom-line")
    assert (p.field, p.value) == ("ofMaterial", [f"{rt.vocab.mint_iri('Material', 'DYE')}"])
    # OP20 has no BOM line: resin consumed during an OP20 execution is refused too
    capture(rt, [{"class": "OperationExecution", "key": "B-1/OP20",
                  "properties": {"startedAtTime": "2026-03-02T09:00:00Z",
                                 "executionStatus": "Started"},
                  "links": {"forBatch": "Batch/B-1",
                            "executesOperation": "Operation/MOULD/v1/OP20"}}])
    refused(rt, [consume("RL-OK", 1.0, execution="B-1/OP20")], "bom-line")
    # without an execution: any BOM line of the pinned version
    capture(rt, [], [consume("RL-OK", 1.0, execution=None)])
    refused(rt, [consume("RL-DYE", 1.0, execution=None)], "bom-line")


def test_a_sublot_carries_the_material_of_the_lot_it_was_split_from(rt: Runtime) -> None:
    lot(rt, "RL-DYE", material="DYE")
    capture(rt, [{"class": "Sublot", "key": "CHARGE-1",
                  "properties": {"quantity": 5.0, "unitCode": "kg"}}],
            [{"kind": "split", "output": "Sublot/CHARGE-1", "input": "MaterialLot/RL-DYE",
              "quantity": 5.0, "unit": "kg", "time": "2026-03-02T07:00:00Z"}])
    refused(rt, [consume("CHARGE-1", 1.0, input_cls="Sublot")], "bom-line")


def tolerance_plant(rt: Runtime) -> None:
    """Process version TOL/v1: OP10 with one BOM line — RESIN, substitute RESIN-B, 0.02 kg per
    unit ± 10 % — and batch B-T of 1000 pieces pinned to it, running OP10."""
    v = "TOL/v1"
    capture(rt, [
        node("Material", "RESIN-B", {"name": "PP resin, second source", "unitCode": "kg",
                                     "materialType": "resin"}),
        node("Operation", f"{v}/OP10", {"name": "moulding", "sequence": 10},
             {"requiresEquipmentClass": "EquipmentClass/PRESS"}),
        node("BOMLine", f"{v}/OP10/RESIN", {"name": "resin", "quantity": 0.02, "unitCode": "kg",
                                             "quantityTolerance": 10},
             {"boundToOperation": f"Operation/{v}/OP10", "ofMaterial": "Material/RESIN",
              "substituteMaterial": "Material/RESIN-B"}),
        node("Routing", v, {"name": "tolerance routing"}, {"hasOperation": f"Operation/{v}/OP10"}),
        node("ProcessDefinition", "TOL", {"name": "tolerance"}, {"ofProduct": "Product/CONN"}),
        node("ProcessVersion", v, {"versionStatus": "Effective", "revision": "1",
                                   "effectiveFrom": "2026-01-01T00:00:00Z"},
             {"hasRouting": f"Routing/{v}", "versionOf": "ProcessDefinition/TOL"}),
    ], reason="master data", migrated=True)
    capture(rt, [
        node("Batch", "B-T", {"batchStatus": "InProcess", "quantity": 1000, "unitCode": "{pc}"},
             {"ofProduct": "Product/CONN", "runsProcessVersion": f"ProcessVersion/{v}"}),
        node("OperationExecution", "B-T/OP10", {"startedAtTime": T0,
                                                "executionStatus": "Started"},
             {"forBatch": "Batch/B-T", "executesOperation": f"Operation/{v}/OP10",
              "onEquipment": "Equipment/PRESS-1"})])


def test_an_approved_substitute_on_the_line_is_consumed(rt: Runtime) -> None:
    tolerance_plant(rt)
    lot(rt, "RL-B", material="RESIN-B")
    lot(rt, "RL-DYE", material="DYE")
    capture(rt, [], [consume("RL-B", 5.0, batch="B-T", execution="B-T/OP10")])
    [p] = refused(rt, [consume("RL-DYE", 1.0, batch="B-T", execution="B-T/OP10")], "bom-line")
    assert "substitute" in p.message
    # RESIN-B is a substitute on TOL/v1 only: MOULD/v1's line does not list it
    refused(rt, [consume("RL-B", 1.0)], "bom-line")


@pytest.mark.req("URS-PROD-01")
def test_a_line_is_consumed_within_its_tolerance(rt: Runtime) -> None:
    """1000 pieces x 0.02 kg = 20 kg, ± 10 %: at most 22 kg of resin and its substitute."""
    from quality.release import release_report

    tolerance_plant(rt)
    lot(rt, "RL-B", material="RESIN-B")
    at = {"batch": "B-T", "execution": "B-T/OP10"}
    capture(rt, [], [consume("RL-OK", 15.0, **at)])

    def short() -> list[Problem]:
        return [p for p in release_report(rt, "B-T").exceptions if p.rule == "bom-quantity"]

    [low] = short()  # 15 kg is below 18 kg: release reports it
    assert (low.value, low.focus) == (15.0, rt.vocab.mint_iri("BOMLine", "TOL/v1/OP10/RESIN"))
    capture(rt, [], [consume("RL-B", 7000.0, unit="g", **at)])  # the substitute counts: 22 kg
    assert short() == []
    [p] = refused(rt, [consume("RL-OK", 0.5, **at)], "bom-quantity")
    assert (p.field, p.value) == ("quantity", 0.5) and "22.5" in p.message
    # split over two consumptions of one write: the total counts, not each
    refused(rt, [consume("RL-OK", 0.1, **at), consume("RL-B", 0.1, **at)], "bom-quantity")
