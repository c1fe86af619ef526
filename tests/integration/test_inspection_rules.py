"""Plant rules on inspection results (:mod:`quality.inspection_rules`), through the capture path
on each engine: the outcome is computed from the values, the characteristic's limits and its
sample size, never merely claimed; the instrument is named and calibrated at the result's time;
the equipment-window impact of an instrument found out of calibration lists the results it
measured and what they inspected; release reports every planned characteristic not inspected.
A refused write names field, value and rule and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from graph.authority import Principal
from graph.change_impact import calibration_window
from graph.errors import Problem
from ontology.datatypes import to_utc_text
from quality.edhr import batch_dhr
from quality.release import release_report
from tests.rules_plant import capture, lot, node, plant, refused_by
from tracegraph.runtime import Runtime

Json = dict[str, Any]
QC = Principal("demo.qc", frozenset({"qc"}))
V = "INSP/v1"
AT = "2026-03-02T12:00:00Z"
MINE = {"inspection-missing", "inspection-sample-size"}


@pytest.fixture
def rt(runtime: Runtime) -> Runtime:
    """The rules plant plus a version INSP/v1 whose OP20 plans OD (variable, [1.0, 1.2] mm,
    n = 8) and FLASH (attribute, n = 50, Ac = 1); batch B-2 runs it; instruments CAL-1
    (calibrated until the end of 2026, passing calibration of 2026-01-10), CAL-OOT (out of
    tolerance) and CAL-OLD (calibration due 2026-03-01)."""
    plant(runtime)
    capture(runtime, [
        node("InspectionMethod", "M-OD", {"name": "OD by caliper"},
             {"requiresEquipmentClass": "EquipmentClass/GAUGE"}),
        node("InspectionMethod", "M-VIS", {"name": "visual"}),
        node("Equipment", "CAL-OOT", {"name": "caliper 2", "calibrationStatus": "OutOfTolerance",
                                      "calibrationDue": "2026-12-31T00:00:00Z"},
             {"ofEquipmentClass": "EquipmentClass/GAUGE"}),
        node("Equipment", "CAL-OLD", {"name": "caliper 3", "calibrationStatus": "Calibrated",
                                      "calibrationDue": "2026-03-01T00:00:00Z"},
             {"ofEquipmentClass": "EquipmentClass/GAUGE"}),
        node("Calibration", "CR-1", {"performedAt": "2026-01-10T08:00:00Z",
                                     "calibrationDue": "2026-12-31T00:00:00Z",
                                     "calibrationResult": "pass"},
             {"calibrates": "Equipment/CAL-1"}),
        node("Operation", f"{V}/OP10", {"name": "moulding", "sequence": 10},
             {"requiresEquipmentClass": "EquipmentClass/PRESS"}),
        node("Operation", f"{V}/OP20", {"name": "inspection", "sequence": 20},
             {"precededBy": f"Operation/{V}/OP10"}),
        node("InspectionPlan", f"{V}/OP20", {"name": "final inspection"},
             {"inspectionPlanOf": f"Operation/{V}/OP20"}),
        node("InspectionCharacteristic", f"{V}/OP20/OD", {
            "name": "outer diameter", "characteristicType": "variable", "unitCode": "mm",
            "lsl": 1.0, "usl": 1.2, "sampleSize": 8},
            {"characteristicOf": f"InspectionPlan/{V}/OP20",
             "usesMethod": "InspectionMethod/M-OD"}),
        node("InspectionCharacteristic", f"{V}/OP20/FLASH", {
            "name": "flash", "characteristicType": "attribute", "sampleSize": 50,
            "acceptanceNumber": 1},
            {"characteristicOf": f"InspectionPlan/{V}/OP20",
             "usesMethod": "InspectionMethod/M-VIS"}),
        node("Routing", V, {"name": "inspected routing"},
             {"hasOperation": [f"Operation/{V}/OP10", f"Operation/{V}/OP20"]}),
        node("ProcessDefinition", "INSP", {"name": "inspected moulding"},
             {"ofProduct": "Product/CONN"}),
        node("ProcessVersion", V, {"versionStatus": "Effective", "revision": "1",
                                   "effectiveFrom": "2026-01-01T00:00:00Z"},
             {"hasRouting": f"Routing/{V}", "versionOf": "ProcessDefinition/INSP"}),
    ], reason="inspection master data", migrated=True)
    capture(runtime, [
        node("Batch", "B-2", {"batchStatus": "InProcess", "quantity": 1000, "unitCode": "{pc}"},
             {"ofProduct": "Product/CONN", "runsProcessVersion": f"ProcessVersion/{V}"}),
        node("OperationExecution", "B-2/OP20", {"startedAtTime": "2026-03-02T11:00:00Z",
                                                "executionStatus": "Started"},
             {"forBatch": "Batch/B-2", "executesOperation": f"Operation/{V}/OP20"}),
    ], reason="batch started")
    return runtime


def od(key: str, outcome: str | None = "conforming", instrument: str | None = "CAL-1",
       entity: str = "Batch/B-2", at: str = AT, **values: object) -> Json:
    """An OD result: by default 8 samples, mean 1.1, extremes 1.05..1.15 mm."""
    props: Json = {"resultTime": at, "sampleCount": 8, "measuredValue": 1.1, "minValue": 1.05,
                   "maxValue": 1.15, "unitCode": "mm", "inspectionOutcome": outcome, **values}
    links: Json = {"forCharacteristic": f"InspectionCharacteristic/{V}/OP20/OD",
                   "inspectedEntity": entity, "measuredWith": f"Equipment/{instrument}",
                   "duringExecution": "OperationExecution/B-2/OP20"}
    if instrument is None:
        del links["measuredWith"]
    return node("InspectionResult", key, {k: v for k, v in props.items() if v is not None},
                links)


def flash(key: str, defects: int, outcome: str = "conforming", n: int = 50) -> Json:
    return node("InspectionResult", key, {
        "resultTime": AT, "sampleCount": n, "defectCount": defects, "inspectionOutcome": outcome},
        {"forCharacteristic": f"InspectionCharacteristic/{V}/OP20/FLASH",
         "inspectedEntity": "Batch/B-2", "measuredWith": "Equipment/CAL-1"})


def qc(rt: Runtime, *results: Json) -> None:
    """Capture ``results`` with a QC inspector's token."""
    rt.capture({"format": "tracegraph.capture/1", "events": [{
        "eventId": f"qc-{results[0]['key']}", "reason": "inspection", "nodes": list(results)}]},
        principal=QC)


def refused(rt: Runtime, result: Json, rule: str) -> list[Problem]:
    """``result`` captured by QC is refused for ``rule`` and nothing was written."""
    return refused_by(rt, lambda: qc(rt, result), rule)


@pytest.mark.req("URS-CHK-01")
def test_results_whose_outcome_follows_from_their_values_are_accepted(rt: Runtime) -> None:
    qc(rt, od("R-OK"), flash("F-OK", defects=1),  # one defective: within Ac = 1
       od("R-NC", "nonconforming", maxValue=1.31), flash("F-NC", 2, "nonconforming"),
       # a short sample stays nonconforming, whatever its values
       od("R-SHORT", "nonconforming", sampleCount=3),
       # one value in micrometres: converted to the characteristic's mm
       od("R-UM", sampleCount=8, measuredValue=1100.0, minValue=1010.0, maxValue=1190.0,
          unitCode="um"))
    got = {n.key: n.props["inspectionOutcome"] for n in rt.store.nodes_of_class("InspectionResult")}
    assert got == {"R-OK": "conforming", "F-OK": "conforming", "R-NC": "nonconforming",
                   "F-NC": "nonconforming", "R-SHORT": "nonconforming", "R-UM": "conforming"}


def test_the_attack_conforming_out_of_limits_on_one_of_eight_samples(rt: Runtime) -> None:
    """The issue's attack: 'conforming' with a value outside the limits, n = 1 against n = 8."""
    attack = od("R-ATTACK", sampleCount=1, measuredValue=1.5, minValue=None, maxValue=None)
    [value] = refused(rt, attack, "inspection-outcome")
    assert (value.field, value.value) == ("measuredValue", 1.5)
    assert "USL 1.2" in value.message and "[1.0, 1.2] mm" in value.message
    [size] = refused(rt, attack, "sample-size")
    assert (size.field, size.value) == ("sampleCount", 1)
    assert "sample size 8" in size.message


@pytest.mark.parametrize(("result", "rule", "field", "value"), [
    # a sample's smallest value below the LSL though its mean is within
    (od("R-1", minValue=0.95), "inspection-outcome", "minValue", 0.95),
    (od("R-2", maxValue=1.25), "inspection-outcome", "maxValue", 1.25),
    # eight samples but only their mean: every sample within the limits is not shown
    (node("InspectionResult", "R-3", {"resultTime": AT, "sampleCount": 8, "measuredValue": 1.1,
                                      "unitCode": "mm", "inspectionOutcome": "conforming"},
          od("x")["links"]), "inspection-outcome", "minValue", None),
    (od("R-4", sampleCount=4), "sample-size", "sampleCount", 4),
    (od("R-5", measuredValue=1500.0, minValue=1450.0, maxValue=1550.0, unitCode="um"),
     "inspection-outcome", "measuredValue", 1500.0),
    (flash("F-1", defects=2), "inspection-outcome", "defectCount", 2),
    (flash("F-2", defects=0, n=20), "sample-size", "sampleCount", 20),
    # nonconforming although every value is within and the sample full: contradicts the values
    (od("R-6", "nonconforming"), "inspection-outcome", "inspectionOutcome", "nonconforming"),
    # no outcome: the write path derives nothing, so it must be stated (the computed one named)
    (od("R-7", None), "inspection-outcome", "inspectionOutcome", None),
    (od("R-8", unitCode="kg"), "unit-convertible", "unitCode", "kg"),
])
@pytest.mark.req("URS-CHK-01")
def test_a_claim_the_values_contradict_is_refused(rt: Runtime, result: Json, rule: str,
                                                  field: str, value: object) -> None:
    hits = refused(rt, result, rule)
    assert (field, value) in {(p.field, p.value) for p in hits}, [str(p) for p in hits]
    assert all(p.focus.endswith(result["key"]) for p in hits)


def test_the_missing_outcome_names_the_computed_one(rt: Runtime) -> None:
    [p] = refused(rt, od("R-7", None), "inspection-outcome")
    assert "give conforming" in p.message
    [p] = refused(rt, od("R-9", None, maxValue=1.3), "inspection-outcome")
    assert "give nonconforming" in p.message and "maxValue 1.3 mm is above the USL 1.2" in p.message


@pytest.mark.req("URS-CHK-01")
def test_a_result_without_its_instrument_is_refused(rt: Runtime) -> None:
    [p] = refused(rt, od("R-NOINST", instrument=None), "sh:MinCountConstraintComponent")
    assert p.field == "measuredWith" and p.focus.endswith("R-NOINST")
    refused(rt, od("R-NOINST-NC", "nonconforming", instrument=None, maxValue=1.3),
            "sh:MinCountConstraintComponent")


@pytest.mark.parametrize(("instrument", "at", "why"), [
    ("CAL-OOT", AT, "calibration OutOfTolerance"),
    ("CAL-OLD", AT, "calibration was due 2026-03-01"),
    ("CAL-1", "2027-01-05T09:00:00Z", "calibration was due 2026-12-31"),
])
@pytest.mark.req("URS-CHK-01")
def test_an_instrument_out_of_calibration_is_refused(rt: Runtime, instrument: str, at: str,
                                                     why: str) -> None:
    [p] = refused(rt, od("R-CAL", instrument=instrument, at=at), "instrument-calibrated")
    assert (p.field, p.value) == ("measuredWith", instrument)
    assert why in p.message and at[:19] in p.message
    # also when the outcome is nonconforming: the instrument's readings are not evidence
    refused(rt, od("R-CAL2", "nonconforming", instrument=instrument, at=at, maxValue=1.3),
            "instrument-calibrated")


def test_a_late_record_measured_before_the_instrument_was_found_out_is_accepted(
        rt: Runtime) -> None:
    # CAL-1 is found out of tolerance now; a result taken on 2026-03-02, while its passing
    # calibration of 2026-01-10 was in force, is entered afterwards: it happened and is kept
    capture(rt, [node("Equipment", "CAL-1", {"calibrationStatus": "OutOfTolerance"})],
            reason="found out of tolerance")
    qc(rt, od("R-LATE"))
    # CAL-OOT has no calibration record in force at any time: no late entry makes it good
    refused(rt, od("R-LATE2", instrument="CAL-OOT"), "instrument-calibrated")


def test_out_of_calibration_window_impact_lists_the_results_and_what_they_inspected(
        rt: Runtime) -> None:
    lot(rt, "RL-IN")
    qc(rt, od("R-BEFORE", at="2026-01-05T10:00:00Z"),  # before the last passing calibration
       od("R-BATCH"), od("R-LOT", entity="MaterialLot/RL-IN", at="2026-02-10T10:00:00Z"),
       od("R-B1", entity="Batch/B-1", at="2026-02-11T10:00:00Z"))
    found = "2026-03-20T08:00:00Z"
    capture(rt, [
        node("Calibration", "CR-2", {"performedAt": found,
                                     "calibrationDue": "2026-03-21T08:00:00Z",
                                     "calibrationResult": "fail"},
             {"calibrates": "Equipment/CAL-1"}),
        node("Equipment", "CAL-1", {"calibrationStatus": "OutOfTolerance"})],
        reason="calibration found CAL-1 out of tolerance")
    cal1 = rt.vocab.mint_iri("Equipment", "CAL-1")
    start, end = calibration_window(rt.store, cal1, to_utc_text(found))
    assert start == to_utc_text("2026-01-10T08:00:00Z")
    impact = rt.equipment_impact(cal1, start, end, unit_limit=1000)

    def iri(ref: str) -> str:
        return rt.vocab.mint_iri(*ref.split("/", 1))

    assert {m.result.key: m.inspected for m in impact.results} == {
        "R-BATCH": (iri("Batch/B-2"),), "R-LOT": (iri("MaterialLot/RL-IN"),),
        "R-B1": (iri("Batch/B-1"),)}
    assert impact.executions == []  # a lab instrument runs no operation
    # the recall starts from what they inspected (lots and batches alike)
    assert {b.iri for b in impact.recall.batches} == {
        iri("Batch/B-1"), iri("Batch/B-2"), iri("MaterialLot/RL-IN")}


def _mine(rt: Runtime) -> set[tuple[str, object]]:
    return {(p.rule, p.value) for p in release_report(rt, "B-2").exceptions if p.rule in MINE}


@pytest.mark.req("URS-REL-01")
def test_release_reports_every_planned_characteristic_not_inspected(rt: Runtime) -> None:
    assert _mine(rt) == {("inspection-missing", f"{V}/OP20/OD"),
                         ("inspection-missing", f"{V}/OP20/FLASH")}
    [p] = [p for p in release_report(rt, "B-2").exceptions if p.value == f"{V}/OP20/OD"]
    assert "sample size 8" in p.message and p.field == "forCharacteristic"
    # OD inspected on 3 of 8 samples (so nonconforming): reported with its sample count
    qc(rt, od("R-SHORT", "nonconforming", sampleCount=3))
    assert _mine(rt) == {("inspection-sample-size", 3), ("inspection-missing", f"{V}/OP20/FLASH")}
    # the full samples: nothing of this kind is left
    qc(rt, od("R-FULL"), flash("F-FULL", defects=0))
    assert _mine(rt) == set()
    # the eDHR shows each result with its instrument and the sample's extremes
    rows = {r["result"]: r for r in batch_dhr(rt, "B-2")["inspections"]}
    assert (rows["R-FULL"]["instrument"], rows["R-FULL"]["minValue"],
            rows["R-FULL"]["maxValue"]) == ("CAL-1", 1.05, 1.15)


def test_release_does_not_report_characteristics_of_another_version(rt: Runtime) -> None:
    # B-1 runs MOULD/v1, which plans no inspection: nothing to report
    assert {p.rule for p in release_report(rt, "B-1").exceptions} & MINE == set()
