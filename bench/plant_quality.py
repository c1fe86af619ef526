"""Quality records of the sample plant: the two deviations of a run, with their holds.

1. A CPP excursion: the hub-bond UV dose of one catheter batch fell below its LSL (LED array
   degradation) → excursion, alarm, deviation (major), hold on the batch, impact assessment,
   root cause, CAPA with a correction and a preventive action, corrective maintenance.
2. A supplier notification: a UV-adhesive lot is out of specification → deviation raised by the
   supplier, hold on the lot and on every batch made with it (some units have already shipped).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bench.plant_exec import Production
from bench.plant_master import event, node, role_ref
from bench.plant_stock import DAY, HOUR, date_of, ts
from ontology.codes import RoleName

__all__ = ["quality_events"]

Json = dict[str, Any]


def quality_events(prod: Production) -> Iterator[Json]:
    """The two deviations of the run: a UV-dose excursion and a nonconforming adhesive lot."""
    qc_lead, qa = prod.qc[-1], prod.qa[-1]
    for i, q in enumerate(prod.planner.quality, start=1):
        n = f"2026-{i:04d}"
        if q.kind == "excursion" and prod.excursion:
            yield from _excursion_records(prod, n, q.batch or "", qc_lead, qa)
        elif q.kind == "supplier-lot" and q.lot:
            yield _supplier_lot_records(prod, n, q.at, q.lot, q.affected, qa)


def _excursion_records(prod: Production, n: str, batch: str, qc_lead: str,
                       qa: str) -> Iterator[Json]:
    x = prod.excursion
    at = int(x["at"])
    ex = str(x["execution"])
    station = str(x["station"])
    dev = f"DEV-{n}"
    yield event(f"q/{dev}", at, [
        node("Excursion", f"EXC-{n}", {
            "excursionLevel": "outOfSpec", "peakValue": x["peak"], "limitValue": x["limit"],
            "detectedAt": ts(at), "clearedAt": ts(at + 22 * 60),
            "description": f"UV dose below LSL on {station} for 22 min (LED array output "
                           "drop)"},
            {"violatesSpec": f"ParameterSpec/{x['spec']}",
             "duringExecution": f"OperationExecution/{ex}"}),
        node("Alarm", f"ALM-{n}", {"alarmPriority": "high", "alarmState": "Cleared",
                                   "openedAt": ts(at), "acknowledgedAt": ts(at + 6 * 60),
                                   "closedAt": ts(at + 22 * 60)},
             {"raisedBy": f"Excursion/EXC-{n}", "acknowledgedBy": f"User/{qc_lead}",
              "notifiesRole": role_ref(RoleName.QC)}),
        node("Deviation", dev, {
            "title": f"Hub-bond UV dose below LSL on {station}, batch {batch}",
            "description": "CPP excursion (OP20 UV dose) detected by the bonding station "
                           "monitor; units bonded in the window may have under-cured hub "
                           "bonds.",
            "deviationGrade": "major", "deviationState": "Open",
            "openedAt": ts(at + 30 * 60), "dueDate": date_of(at, 30)},
            {"raisedBy": f"Alarm/ALM-{n}", "concerns": f"Batch/{batch}"}),
        node("Hold", f"HLD-{n}", {"holdState": "Active", "openedAt": ts(at + 35 * 60),
                                  "description": "Batch on hold pending investigation and "
                                                 "100% hub pull test"},
             {"holds": f"Batch/{batch}", "raisedBy": f"Deviation/{dev}"}),
        node("Batch", batch, {"batchStatus": "OnHold"}),
        node("ImpactAssessment", f"IA-{n}", {
            "impactLevel": "medium", "affectedCount": int(x["good"]),
            "performedAt": ts(at + DAY), "description": "Only the units of this batch "
            "were bonded during the excursion window; no units have shipped."},
            {"assesses": f"Deviation/{dev}"}),
        node("RootCause", f"RC-{n}", {
            "causeCategory": "machine", "description": f"UV LED array on {station} "
            "degraded (irradiance 18% below reference); intensity alarm set too low."},
            {"causeOf": f"Deviation/{dev}"}),
        node("CAPA", f"CAPA-{n}", {
            "capaState": "Implementation", "title": "UV irradiance monitoring",
            "description": "Replace LED arrays at 8,000 h and add a daily radiometer check "
                           "on every UV bonding station.",
            "openedAt": ts(at + 2 * DAY), "dueDate": date_of(at, 60)},
            {"raisedBy": f"Deviation/{dev}"}),
        node("CAPAAction", f"CAPA-{n}-A1", {
            "actionType": "correction", "actionState": "Completed",
            "dueDate": date_of(at, 1), "completedAt": ts(at + 3 * HOUR),
            "description": f"LED array replaced on {station}, output verified"},
            {"actionOf": f"CAPA/CAPA-{n}", "assignedTo": f"User/{prod.mechanic}"}),
        node("CAPAAction", f"CAPA-{n}-A2", {
            "actionType": "preventive", "actionState": "InProgress",
            "dueDate": date_of(at, 45),
            "description": "Daily radiometer check added to SOP-ASY-020"},
            {"actionOf": f"CAPA/CAPA-{n}", "assignedTo": f"User/{qa}"}),
        node("MaintenanceRecord", f"CM-{station}-{n}", {
            "maintenanceType": "corrective", "performedAt": ts(at + 3 * HOUR),
            "description": "UV LED array replaced, irradiance verified with radiometer"},
            {"maintains": f"Equipment/{station}",
             "wasAssociatedWith": f"User/{prod.mechanic}"}),
    ], actor=qc_lead, reason="CPP excursion: deviation and hold")


def _supplier_lot_records(prod: Production, n: str, at: int, lot: str, affected: list[str],
                          qa: str) -> Json:
    dev = f"DEV-{n}"
    keys = set(affected)
    units = sum(f.good for f in prod.finished if f.key in keys)
    held = [f"Batch/{k}" for k in affected]
    return event(f"q/{dev}", at, [
        node("Deviation", dev, {
            "title": f"Supplier notification: UV adhesive lot {lot.split('/')[-1]} "
                     "viscosity out of specification",
            "description": "Medibond retained-sample re-test found viscosity above the "
                           "specification; bond strength of affected assemblies unknown.",
            "deviationGrade": "major", "deviationState": "Open", "openedAt": ts(at),
            "dueDate": date_of(at, 30)},
            {"raisedBy": "Supplier/SUP-MBOND", "concerns": [lot, *held]}),
        node("Hold", f"HLD-{n}", {"holdState": "Active", "openedAt": ts(at + 20 * 60),
                                  "description": "Adhesive lot and every batch made with "
                                                 "it on hold; shipped units under review"},
             {"holds": [lot, *held], "raisedBy": f"Deviation/{dev}"}),
        node("MaterialLot", lot.split("/", 1)[1], {"materialLotStatus": "OnHold"}),
        *(node("Batch", k, {"batchStatus": "OnHold"}) for k in affected),
        node("ImpactAssessment", f"IA-{n}", {
            "impactLevel": "high", "affectedCount": units, "performedAt": ts(at + DAY),
            "description": f"{len(affected)} batches used the lot; units already shipped "
                           "are in scope of a field safety assessment."},
            {"assesses": f"Deviation/{dev}"}),
    ], actor=qa, reason="supplier notification: deviation and hold")
