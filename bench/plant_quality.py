"""Quality records of the sample plant: the two deviations of a run, with their holds.

1. A CPP excursion: the hub-bond UV dose of one catheter batch fell below its LSL (LED array
   degradation) → excursion, alarm, deviation (major), hold on the batch, impact assessment,
   root cause, CAPA with a correction and a preventive action, corrective maintenance.
2. A supplier notification: a UV-adhesive lot is out of specification → deviation raised by the
   supplier, hold on the lot and on every batch made with it (some units have already shipped).

Each story is one record (:class:`ExcursionCase`, :class:`SupplierCase`, from
:func:`quality_cases`) told two ways: :func:`quality_events` writes it as capture events (the
signed migration of :mod:`bench.plant`), :func:`run_case` through the workflow commands at the
story's times (``tracegraph demo``, :mod:`bench.plant_workflow`). What no command writes — the
excursion's Excursion and Alarm, recorded live only by the signal pipeline
(:mod:`quality.exception_loop`) — is :meth:`ExcursionCase.signal_event`, kept a migration there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench.plant_exec import Production
from bench.plant_master import event, node, role_ref
from bench.plant_stock import DAY, HOUR, date_of, ts
from graph.session import Session
from ontology.codes import RoleName
from ontology.terms import C
from quality.capa import add_action, complete_action, open_capa
from quality.deviations import assess_impact, open_deviation, record_root_cause
from quality.holds import place_hold

__all__ = ["ExcursionCase", "SupplierCase", "quality_cases", "quality_events", "run_case"]

Json = dict[str, Any]
#: a session whose clock reads the given plant time (seconds from T0)
At = Callable[[int], Session]


@dataclass(frozen=True)
class ExcursionCase:
    """The UV-dose excursion of one batch and the records it raised."""

    n: str
    at: int
    batch: str
    station: str
    execution: str
    spec: str
    peak: float
    limit: float
    good: int
    qc_lead: str
    qa: str
    mechanic: str

    @property
    def title(self) -> str:
        return f"Hub-bond UV dose below LSL on {self.station}, batch {self.batch}"

    DESCRIPTION = ("CPP excursion (OP20 UV dose) detected by the bonding station monitor; units "
                   "bonded in the window may have under-cured hub bonds.")
    HOLD = "Batch on hold pending investigation and 100% hub pull test"
    CAPA_TITLE = "UV irradiance monitoring"
    CAPA = ("Replace LED arrays at 8,000 h and add a daily radiometer check on every UV bonding "
            "station.")
    PREVENTIVE = "Daily radiometer check added to SOP-ASY-020"
    REASON = "CPP excursion: deviation and hold"

    @property
    def cause(self) -> str:
        return (f"UV LED array on {self.station} degraded (irradiance 18% below reference); "
                "intensity alarm set too low.")

    @property
    def correction(self) -> str:
        return f"LED array replaced on {self.station}, output verified"

    def signal_event(self) -> Json:
        """The Excursion and its Alarm (acknowledged by the QC lead, cleared after 22 min)."""
        n, at = self.n, self.at
        return event(f"q/EXC-{n}", at, [
            node("Excursion", f"EXC-{n}", {
                "excursionLevel": "outOfSpec", "peakValue": self.peak,
                "limitValue": self.limit, "detectedAt": ts(at), "clearedAt": ts(at + 22 * 60),
                "description": f"UV dose below LSL on {self.station} for 22 min (LED array "
                               "output drop)"},
                {"violatesSpec": f"ParameterSpec/{self.spec}",
                 "duringExecution": f"OperationExecution/{self.execution}"}),
            node("Alarm", f"ALM-{n}", {"alarmPriority": "high", "alarmState": "Cleared",
                                       "openedAt": ts(at), "acknowledgedAt": ts(at + 6 * 60),
                                       "closedAt": ts(at + 22 * 60)},
                 {"raisedBy": f"Excursion/EXC-{n}", "acknowledgedBy": f"User/{self.qc_lead}",
                  "notifiesRole": role_ref(RoleName.QC)})], actor=self.qc_lead,
            reason="CPP excursion and its alarm")

    def maintenance_event(self) -> Json:
        """The corrective maintenance (a fact the maintenance technician records)."""
        return event(f"q/CM-{self.n}", self.at + 3 * HOUR, [
            node("MaintenanceRecord", f"CM-{self.station}-{self.n}", {
                "maintenanceType": "corrective", "performedAt": ts(self.at + 3 * HOUR),
                "description": "UV LED array replaced, irradiance verified with radiometer"},
                {"maintains": f"Equipment/{self.station}",
                 "wasAssociatedWith": f"User/{self.mechanic}"})],
            actor=self.mechanic, reason="corrective maintenance")


@dataclass(frozen=True)
class SupplierCase:
    """The supplier's notice on a UV-adhesive lot and the records it raised."""

    n: str
    at: int
    lot: str  # MaterialLot/<key>
    affected: tuple[str, ...]  # batch keys
    units: int
    qa: str

    @property
    def title(self) -> str:
        return (f"Supplier notification: UV adhesive lot {self.lot.split('/')[-1]} viscosity "
                "out of specification")

    DESCRIPTION = ("Medibond retained-sample re-test found viscosity above the specification; "
                   "bond strength of affected assemblies unknown.")
    HOLD = "Adhesive lot and every batch made with it on hold; shipped units under review"
    REASON = "supplier notification: deviation and hold"


Case = ExcursionCase | SupplierCase


def quality_cases(prod: Production) -> Iterator[Case]:
    """The two deviations of the run: a UV-dose excursion and a nonconforming adhesive lot."""
    qc_lead, qa = prod.qc[-1], prod.qa[-1]
    for i, q in enumerate(prod.planner.quality, start=1):
        n = f"2026-{i:04d}"
        x = prod.excursion
        if q.kind == "excursion" and x:
            yield ExcursionCase(n, int(x["at"]), q.batch or "", str(x["station"]),
                                str(x["execution"]), str(x["spec"]), x["peak"], x["limit"],
                                int(x["good"]), qc_lead, qa, prod.mechanic)
        elif q.kind == "supplier-lot" and q.lot:
            keys = set(q.affected)
            units = sum(f.good for f in prod.finished if f.key in keys)
            yield SupplierCase(n, q.at, q.lot, tuple(q.affected), units, qa)


# -- the migration form (bench.plant) ---------------------------------------------------------
def quality_events(prod: Production) -> Iterator[Json]:
    """Each story as one capture event (records in their later states: a migration)."""
    for c in quality_cases(prod):
        yield _excursion_event(c) if isinstance(c, ExcursionCase) else _supplier_event(c)


def _excursion_event(c: ExcursionCase) -> Json:
    n, at, dev = c.n, c.at, f"DEV-{c.n}"
    signal = c.signal_event()["nodes"]
    return event(f"q/{dev}", at, [
        *signal,
        node("Deviation", dev, {
            "title": c.title, "description": c.DESCRIPTION, "deviationGrade": "major",
            "deviationState": "Open", "openedAt": ts(at + 30 * 60), "dueDate": date_of(at, 30)},
            {"raisedBy": f"Alarm/ALM-{n}", "concerns": f"Batch/{c.batch}"}),
        node("Hold", f"HLD-{n}", {"holdState": "Active", "openedAt": ts(at + 35 * 60),
                                  "description": c.HOLD},
             {"holds": f"Batch/{c.batch}", "raisedBy": f"Deviation/{dev}"}),
        node("Batch", c.batch, {"batchStatus": "OnHold"}),
        node("ImpactAssessment", f"IA-{n}", {
            "impactLevel": "medium", "affectedCount": c.good,
            "performedAt": ts(at + DAY), "description": "Only the units of this batch "
            "were bonded during the excursion window; no units have shipped."},
            {"assesses": f"Deviation/{dev}"}),
        node("RootCause", f"RC-{n}", {"causeCategory": "machine", "description": c.cause},
             {"causeOf": f"Deviation/{dev}"}),
        node("CAPA", f"CAPA-{n}", {
            "capaState": "Implementation", "title": c.CAPA_TITLE, "description": c.CAPA,
            "openedAt": ts(at + 2 * DAY), "dueDate": date_of(at, 60)},
            {"raisedBy": f"Deviation/{dev}"}),
        node("CAPAAction", f"CAPA-{n}-A1", {
            "actionType": "correction", "actionState": "Completed",
            "dueDate": date_of(at, 1), "completedAt": ts(at + 3 * HOUR),
            "description": c.correction},
            {"actionOf": f"CAPA/CAPA-{n}", "assignedTo": f"User/{c.mechanic}"}),
        node("CAPAAction", f"CAPA-{n}-A2", {
            "actionType": "preventive", "actionState": "InProgress",
            "dueDate": date_of(at, 45), "description": c.PREVENTIVE},
            {"actionOf": f"CAPA/CAPA-{n}", "assignedTo": f"User/{c.qa}"}),
        *c.maintenance_event()["nodes"],
    ], actor=c.qc_lead, reason=c.REASON)


def _supplier_event(c: SupplierCase) -> Json:
    n, at, dev = c.n, c.at, f"DEV-{c.n}"
    held = [f"Batch/{k}" for k in c.affected]
    return event(f"q/{dev}", at, [
        node("Deviation", dev, {
            "title": c.title, "description": c.DESCRIPTION, "deviationGrade": "major",
            "deviationState": "Open", "openedAt": ts(at), "dueDate": date_of(at, 30)},
            {"raisedBy": "Supplier/SUP-MBOND", "concerns": [c.lot, *held]}),
        node("Hold", f"HLD-{n}", {"holdState": "Active", "openedAt": ts(at + 20 * 60),
                                  "description": c.HOLD},
             {"holds": [c.lot, *held], "raisedBy": f"Deviation/{dev}"}),
        node("MaterialLot", c.lot.split("/", 1)[1], {"materialLotStatus": "OnHold"}),
        *(node("Batch", k, {"batchStatus": "OnHold"}) for k in c.affected),
        node("ImpactAssessment", f"IA-{n}", {
            "impactLevel": "high", "affectedCount": c.units, "performedAt": ts(at + DAY),
            "description": f"{len(c.affected)} batches used the lot; units already shipped "
                           "are in scope of a field safety assessment."},
            {"assesses": f"Deviation/{dev}"}),
    ], actor=c.qa, reason=c.REASON)


# -- the command form (tracegraph demo) -------------------------------------------------------
def _iri(rt: Session, ref: str) -> str:
    cls, key = ref.split("/", 1)
    return rt.vocab.mint_iri(cls, key)


def run_case(at: At, c: Case, password: str) -> None:
    """Run one story through the workflow commands, each at its time in the story, by the
    named people (``password``: every plant account's). The Excursion and Alarm of an
    excursion must already be written (:meth:`ExcursionCase.signal_event`)."""
    if isinstance(c, SupplierCase):
        _run_supplier(at, c, password)
        return
    n, t, dev = c.n, c.at, f"DEV-{c.n}"
    rt = at(t)
    open_deviation(at(t + 30 * 60), dev, c.title, c.DESCRIPTION, "major", c.qc_lead, c.REASON,
                   [_iri(rt, f"Batch/{c.batch}")], _iri(rt, f"Alarm/ALM-{n}"),
                   due=date_of(t, 30))
    place_hold(at(t + 35 * 60), f"HLD-{n}", dev, [_iri(rt, f"Batch/{c.batch}")], c.qc_lead,
               password, c.REASON, c.HOLD)
    assess_impact(at(t + DAY), dev, c.qc_lead, "impact of the UV-dose excursion")
    record_root_cause(at(t + DAY), dev, f"RC-{n}", "machine", [
        f"the UV dose fell below its LSL on {c.station} during OP20",
        "the LED array's irradiance was 18% below reference",
        "the arrays degrade with age and were not replaced on a schedule",
        "the intensity alarm was set too low to catch the drop"],
        c.qc_lead, "investigation of the UV-dose excursion")
    open_capa(at(t + 2 * DAY), dev, f"CAPA-{n}", c.CAPA_TITLE, c.CAPA, date_of(t, 60), c.qa,
              "CAPA for the UV-dose excursion")
    add_action(at(t + 2 * DAY), f"CAPA-{n}", f"CAPA-{n}-A1", "correction", c.mechanic,
               date_of(t, 1), c.correction, c.qa, "correction already made")
    add_action(at(t + 2 * DAY), f"CAPA-{n}", f"CAPA-{n}-A2", "preventive", c.qa,
               date_of(t, 45), c.PREVENTIVE, c.qa, "preventive action")
    complete_action(at(t + 3 * HOUR), f"CAPA-{n}-A1", c.mechanic,
                    f"done: {c.correction} (CM-{c.station}-{n})")


def _run_supplier(at: At, c: SupplierCase, password: str) -> None:
    n, dev = c.n, f"DEV-{c.n}"
    rt = at(c.at)
    held = [_iri(rt, c.lot), *(rt.vocab.mint_iri(C.Batch, k) for k in c.affected)]
    open_deviation(rt, dev, c.title, c.DESCRIPTION, "major", c.qa, c.REASON, held,
                   _iri(rt, "Supplier/SUP-MBOND"), due=date_of(c.at, 30))
    place_hold(at(c.at + 20 * 60), f"HLD-{n}", dev, held, c.qa, password, c.REASON, c.HOLD)
    assess_impact(at(c.at + DAY), dev, c.qa, "impact of the supplier's notice")
