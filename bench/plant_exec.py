"""Execution records of the sample plant as capture events, in chronological order.

:class:`Production` walks the planner and turns each planned batch into timed events (batch start,
one event per operation execution with its consumptions, parameter aggregates and inspection
results, serialisation, case packing, release), plus calibrations and preventive maintenance.
Events are kept in a heap and released once no later planning day can produce an earlier one, so
the stream is chronological while memory stays bounded to a few days of work. Shipping
(:mod:`bench.plant_shipping`) and quality records (:mod:`bench.plant_quality`) follow from the
state it leaves behind.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench.plant_catalog import (
    CHARACTERISTICS,
    EQUIPMENT_CLASSES,
    PRODUCTS,
    UNITS_PER_CASE,
    Char,
    Param,
    PlantSize,
)
from bench.plant_gs1 import gtin14, sscc18
from bench.plant_master import event, node, room_of
from bench.plant_sim import Planner
from bench.plant_stock import (
    DAY,
    HOUR,
    BatchPlan,
    Charge,
    OpRun,
    date_of,
    equipment_park,
    fixture_park,
    ts,
)
from ontology.codes import RoleName

__all__ = ["BatchRelease", "Production", "initial_calibrations"]

Json = dict[str, Any]
CAL_DAYS = {"EC-UVB": 90, "EC-EO": 365}
PM_DAYS = 28


def _calibrated(size: PlantSize) -> list[tuple[str, str]]:
    return [(tag, cls) for cls, tags in equipment_park(size).items() if cls != "EC-CASE"
            for tag in tags]


def initial_calibrations(size: PlantSize, seed: int, metrologist: str) -> tuple[Json,
                                                                                 dict[str, int]]:
    """The calibration records in force at T0, and each instrument's due time."""
    rng = random.Random(f"{seed}/calibration")
    nodes: list[Json] = []
    due: dict[str, int] = {}
    for tag, cls in _calibrated(size):
        interval = CAL_DAYS.get(cls, 180)
        at = -rng.randint(5, interval - 10) * DAY + 10 * HOUR
        due[tag] = at + interval * DAY
        nodes += _calibration(f"CAL-{tag}-0001", tag, at, due[tag], metrologist)
    return event("md/calibrations", -DAY, nodes, actor=metrologist,
                 reason="calibration register"), due


def _calibration(key: str, tag: str, at: int, due: int, who: str) -> list[Json]:
    return [node("Calibration", key, {"performedAt": ts(at), "calibrationDue": ts(due),
                                      "calibrationResult": "pass"},
                 {"calibrates": f"Equipment/{tag}", "wasAssociatedWith": f"User/{who}"}),
            node("Equipment", tag, {"calibrationDue": ts(due), "calibrationStatus": "Calibrated"})]


@dataclass(frozen=True)
class BatchRelease:
    """Workflow mode: the release of a batch by the plant's QA person
    (:func:`quality.release.release_batch`, signed 'released') at its time."""

    batch: str
    qa: str
    at: int
    reason: str


@dataclass(frozen=True)
class Finished:
    """A finished-goods batch as shipping sees it."""

    key: str
    product: str
    released: int
    first_case: int
    cases: int
    good: int
    first_serial: int


class Production:
    """Chronological execution events of one plant, then its shipments and quality records."""

    def __init__(self, size: PlantSize, seed: int, workflow: bool = False) -> None:
        """``workflow``: releases are :class:`BatchRelease` steps (:meth:`steps`), not records."""
        self.size = size
        self.workflow = workflow
        self.seed = seed
        self.planner = Planner(size, seed)
        people = self.planner.staff
        self.user = {p.key: p.username for p in people}
        self.qc = [p.username for p in people if p.role == RoleName.QC]
        self.qa = [p.username for p in people if p.role == RoleName.QA]
        self.metrologist = next(p.username for p in people if p.title.startswith("Metrology"))
        self.mechanic = next(p.username for p in people if p.title.startswith("Maintenance"))
        self.calibration_event, self.cal_due = initial_calibrations(size, seed, self.metrologist)
        self.park = equipment_park(size)
        self.cal_seq = {tag: 1 for tag in self.cal_due}
        rng = random.Random(f"{seed}/maintenance")
        self.pm_due = {tag: rng.randint(0, PM_DAYS - 1) for tags in equipment_park(size).values()
                       for tag in tags}
        self.pm_seq = dict.fromkeys(self.pm_due, 0)
        self.fixture_count = {t: c for t, (_lim, c) in fixture_park(size, seed).items()}
        self.heap: list[tuple[int, int, Callable[..., Json | BatchRelease],
                             tuple[Any, ...]]] = []
        self.seq = 0
        self.held_from: dict[str, int] = {}
        self.finished: list[Finished] = []
        self.excursion: dict[str, Any] = {}
        self._quality_seen = 0

    # -- the stream ---------------------------------------------------------------------------
    def events(self) -> Iterator[Json]:
        """Every production event, in event-time order (releases as records)."""
        assert not self.workflow, "workflow mode: use steps()"
        for ev in self.steps():
            assert not isinstance(ev, BatchRelease)
            yield ev

    def steps(self) -> Iterator[Json | BatchRelease]:
        """Every production event, in event-time order, with releases as :class:`BatchRelease`
        steps in workflow mode."""
        for day, _receipts, batches in self.planner.days():
            for q in self.planner.quality[self._quality_seen:]:
                for key in [q.batch] if q.batch else q.affected:
                    self.held_from.setdefault(key, q.at)
            self._quality_seen = len(self.planner.quality)
            if day >= 0:
                self._calendar(day)
            for b in batches:
                self._push_batch(b)
            yield from self._flush((day + 1) * DAY)
        yield from self._flush(None)

    def _push(self, at: int, build: Callable[..., Json | BatchRelease], *args: Any) -> None:
        """Build ``build(*args)`` when its time comes (documents are built lazily)."""
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, build, args))

    def _flush(self, before: int | None) -> Iterator[Json | BatchRelease]:
        while self.heap and (before is None or self.heap[0][0] < before):
            _at, _seq, build, args = heapq.heappop(self.heap)
            yield build(*args)

    # -- calibration and maintenance ----------------------------------------------------------
    def _calendar(self, day: int) -> None:
        at = day * DAY + 3 * HOUR
        for tag, due in sorted(self.cal_due.items()):
            if due - 7 * DAY <= at:
                cls = _class_of(tag)
                self.cal_seq[tag] += 1
                key = f"CAL-{tag}-{self.cal_seq[tag]:04d}"
                nxt = at + CAL_DAYS.get(cls, 180) * DAY
                self.cal_due[tag] = nxt
                self._push(at, self._calibration_event, key, tag, at, nxt)
                at += 20 * 60
        for tag, due_day in sorted(self.pm_due.items()):
            if due_day <= day:
                self.pm_seq[tag] += 1
                key = f"PM-{tag}-{self.pm_seq[tag]:04d}"
                self.pm_due[tag] = day + PM_DAYS
                t = day * DAY + 4 * HOUR + 15 * 60 * (self.pm_seq[tag] % 4)
                self._push(t, self._maintenance_event, key, tag, t, (day + PM_DAYS) * DAY)

    def _calibration_event(self, key: str, tag: str, at: int, due: int) -> Json:
        return event(f"cal/{key}", at, _calibration(key, tag, at, due, self.metrologist),
                     actor=self.metrologist, reason="scheduled calibration")

    def _maintenance_event(self, key: str, tag: str, at: int, due: int) -> Json:
        return event(f"pm/{key}", at, [node("MaintenanceRecord", key, {
            "maintenanceType": "preventive", "performedAt": ts(at), "maintenanceDue": ts(due),
            "description": "Preventive maintenance per PM schedule: inspection, cleaning, "
                           "lubrication, safety interlock check"},
            {"maintains": f"Equipment/{tag}", "wasAssociatedWith": f"User/{self.mechanic}"})],
            actor=self.mechanic, reason="preventive maintenance")

    # -- batches ------------------------------------------------------------------------------
    def _push_batch(self, b: BatchPlan) -> None:
        self._push(b.start, self._start, b)
        for ch in b.charges:
            self._push(ch.at, self._charge, b, ch)
        for run in b.ops:
            fixture = None
            if run.fixture:
                uses = b.planned / 8 if run.fixture.startswith("MLD") else b.planned / 10
                self.fixture_count[run.fixture] += math.ceil(uses)
                fixture = self.fixture_count[run.fixture]
            self._push(run.end, self._execution, b, run, fixture)
            if run.op.seq == 50 and b.first_serial:
                self._push(run.end, self._serialise, b, run)
            if run.op.seq == 60 and b.first_serial:
                self._push(run.end, self._pack, b, run)
        self._push(b.released, self._release, b)

    def _unit(self, b: BatchPlan) -> str:
        return PRODUCTS[b.product].unit

    def _start(self, b: BatchPlan) -> Json:
        product = PRODUCTS[b.product]
        return event(f"{b.key}/start", b.start, [
            node("WorkOrder", b.work_order, {
                "workOrderStatus": "InProgress", "quantity": b.planned, "unitCode": product.unit,
                "plannedStart": ts(b.start), "plannedEnd": ts(b.released)},
                {"ofProduct": f"Product/{b.product}"}),
            node("Batch", b.key, {"batchStatus": "InProcess", "gtin": product.gtin,
                                  "quantity": b.planned, "unitCode": product.unit},
                 {"ofProduct": f"Product/{b.product}",
                  "runsProcessVersion": f"ProcessVersion/{b.process}/{b.version}",
                  "forWorkOrder": f"WorkOrder/{b.work_order}"}),
        ], actor=self.user[b.ops[0].operator], reason="batch started")

    def _charge(self, b: BatchPlan, ch: Charge) -> Json:
        kind = "split" if len(ch.sources) == 1 else "merge"
        return event(f"charge/{ch.key}", ch.at, [
            node("Sublot", ch.key, {"quantity": ch.quantity, "unitCode": "kg"})],
            [{"kind": kind, "output": f"Sublot/{ch.key}", "input": ref, "quantity": q,
              "unit": "kg", "time": ts(ch.at)} for ref, q in ch.sources],
            actor=self.user[b.ops[0].operator], reason=f"resin dryer charge for {ch.machine}")

    def _execution(self, b: BatchPlan, run: OpRun, fixture_count: int | None) -> Json:
        ex = f"{b.key}/{run.op.code}"
        ex_ref = f"OperationExecution/{ex}"
        op_key = f"{b.process}/{b.version}/{run.op.code}"
        rng = random.Random(f"{self.seed}/{ex}")
        operator = self.user[run.operator]
        unit = self._unit(b)
        qty = b.good if run.op.seq > 40 or not b.first_serial else b.planned
        props: Json = {"startedAtTime": ts(run.start), "endedAtTime": ts(run.end),
                       "executionStatus": "Completed", "quantity": qty, "unitCode": unit}
        if run.op.seq == 40 and b.first_serial:
            props["scrapQuantity"] = b.planned - b.good
        used = list(dict.fromkeys(ref for ref, _q, _u in run.consumes))
        nodes = [node("OperationExecution", ex, props, {
            "executesOperation": f"Operation/{op_key}", "forBatch": f"Batch/{b.key}",
            "onEquipment": f"Equipment/{run.equipment}" if run.equipment else None,
            "usedFixture": f"Fixture/{run.fixture}" if run.fixture else None,
            "wasAssociatedWith": f"User/{operator}",
            "performedIn": f"Room/{room_of(run.op.eq_class)}", "used": used})]
        if run.fixture and fixture_count is not None:
            nodes.append(node("Fixture", run.fixture, {"usageCount": fixture_count}))
        derivations = [{"kind": "consumption", "output": f"Batch/{b.key}", "input": ref,
                        "quantity": q, "unit": u, "time": ts(run.start), "execution": ex_ref}
                       for ref, q, u in run.consumes]
        excursion = b.excursion and run.op.seq == 20
        for p in run.op.params:
            nodes.append(self._observation(ex, op_key, p, run, rng,
                                           excursion and p.code == "UV-DOSE"))
        if excursion:
            self.excursion.update(station=run.equipment, good=int(b.good))
        inspector = self.qc[rng.randrange(len(self.qc))] if run.equipment is None else operator
        for c in run.op.chars:
            nodes.append(_inspection(ex, op_key, c, b, run, rng, inspector,
                                     self._instrument(c, run, ex)))
        for reel, q in b.reels if run.op.seq == 20 else ():
            nodes.append(node("Sublot", reel, {
                "quantity": q, "unitCode": "m", "gtin": PRODUCTS[b.product].gtin},
                {"ofProduct": f"Product/{b.product}", "wasGeneratedBy": ex_ref}))
            derivations.append({"kind": "split", "output": f"Sublot/{reel}",
                                "input": f"Batch/{b.key}", "quantity": q, "unit": "m",
                                "time": ts(run.end), "execution": ex_ref})
        return event(ex, run.end, nodes, derivations, actor=operator,
                     reason=f"{run.op.name} completed")

    def _instrument(self, c: Char, run: OpRun, ex: str) -> str:
        """The instrument a characteristic is measured with: the station the operation runs on
        when it is of the method's class (the leak tester), else one of the QC lab's."""
        cls = CHARACTERISTICS[c.method][2]
        if run.equipment is not None and _class_of(run.equipment) == cls:
            return run.equipment
        tags = self.park[cls]
        return tags[sum(map(ord, ex)) % len(tags)]

    def _observation(self, ex: str, op_key: str, p: Param, run: OpRun, rng: random.Random,
                     excursion: bool) -> Json:
        a_lo, _al_lo, _al_hi, a_hi = p.limits()
        n = max(5, (run.end - run.start) // 10)
        mean = p.setpoint + rng.gauss(0, p.sigma * 0.3)
        sd = p.sigma * rng.uniform(0.6, 1.0)
        spread = sd * (2.2 + 0.35 * math.log10(n))
        lo = max(mean - spread * rng.uniform(0.85, 1.1), a_lo + 0.02 * (p.usl - p.lsl))
        hi = min(mean + spread * rng.uniform(0.85, 1.1), a_hi - 0.02 * (p.usl - p.lsl))
        if excursion:  # UV LED array output dropped for ~20 min: dose below the LSL
            lo = p.lsl - rng.uniform(60, 140)
            mean = p.setpoint - 2.2 * p.sigma
            self.excursion = {"execution": ex, "spec": f"{op_key}/{p.code}", "peak": round(lo, 1),
                              "limit": p.lsl, "at": run.start + 47 * 60}
        digits = 4 if p.usl - p.lsl < 1 else 2
        return node("ParameterObservation", f"{ex}/{p.code}", {
            "minValue": round(min(lo, mean), digits), "maxValue": round(max(hi, mean), digits),
            "meanValue": round(mean, digits), "stdDev": round(sd, digits + 1),
            "sampleCount": n, "unitCode": p.unit, "windowStart": ts(run.start),
            "windowEnd": ts(run.end), "resultTime": ts(run.end)},
            {"observes": f"ParameterSpec/{op_key}/{p.code}",
             "duringExecution": f"OperationExecution/{ex}"})

    def _serialise(self, b: BatchPlan, run: OpRun) -> Json:
        product = PRODUCTS[b.product]
        at = ts(run.end)
        ex_ref = f"OperationExecution/{b.key}/{run.op.code}"
        props = {"gtin": product.gtin, "manufacturedAt": at,
                 "expiryDate": date_of(run.end, product.shelf_days)}
        links = {"ofProduct": f"Product/{b.product}", "wasGeneratedBy": ex_ref}
        serials = [f"SN-{i:09d}" for i in range(b.first_serial, b.first_serial + int(b.good))]
        batch = f"Batch/{b.key}"
        return event(f"{b.key}/units", run.end,
                     [{"class": "SerializedUnit", "key": s, "properties": props, "links": links}
                      for s in serials],
                     [{"kind": "production", "output": f"SerializedUnit/{s}", "input": batch,
                       "time": at, "execution": ex_ref} for s in serials],
                     actor=self.user[run.operator], reason="UDI serialisation")

    def _pack(self, b: BatchPlan, run: OpRun) -> Json:
        product = PRODUCTS[b.product]
        at = ts(run.end)
        ex_ref = f"OperationExecution/{b.key}/{run.op.code}"
        nodes: list[Json] = []
        derivations: list[Json] = []
        good = int(b.good)
        for c in range(math.ceil(good / UNITS_PER_CASE)):
            sscc = sscc18(b.first_case + c)
            first = b.first_serial + c * UNITS_PER_CASE
            last = min(b.first_serial + good, first + UNITS_PER_CASE)
            nodes.append(node("PackagingAggregation", sscc, {
                "packagingLevel": "case", "gtin": gtin14(product.item, indicator=1),
                "quantity": last - first, "aggregatedAt": at}, {"wasGeneratedBy": ex_ref}))
            ref = f"PackagingAggregation/{sscc}"
            derivations += [{"kind": "aggregation", "output": ref,
                             "input": f"SerializedUnit/SN-{i:09d}", "time": at,
                             "execution": ex_ref} for i in range(first, last)]
        return event(f"{b.key}/cases", run.end, nodes, derivations,
                     actor=self.user[run.operator], reason="case packing, SSCC labels")

    def _release(self, b: BatchPlan) -> Json:
        product = PRODUCTS[b.product]
        held = self.held_from.get(b.key, b.released + 1) <= b.released
        if self.workflow:  # the batch completes as a fact; QA releases it by the command
            return self._completion(b, held)
        status = "Completed" if held else "Released"
        last = b.ops[-1]
        props: Json = {"batchStatus": status, "quantity": b.good,
                       "manufacturedAt": ts(b.ops[0].start)}
        if product.finished:
            props["expiryDate"] = date_of(next(r.end for r in b.ops if r.op.seq == 50),
                                          product.shelf_days)
        qa = self.qa[len(self.finished) % len(self.qa)] if product.finished else \
            self.qc[len(b.key) % len(self.qc)]
        nodes = [node("Batch", b.key, props),
                 node("WorkOrder", b.work_order, {"workOrderStatus": "Completed"})]
        if product.finished and not held:
            nodes.append(node("ReleaseDecision", f"REL-{b.key}", {
                "releaseOutcome": "released", "decidedAt": ts(b.released), "exceptionCount": 0,
                "description": f"Batch record reviewed by exception; EO cycle on {last.equipment}"
                               " parametric, BI negative"}, {"releaseOf": f"Batch/{b.key}"}))
            self.finished.append(Finished(b.key, b.product, b.released, b.first_case,
                                          math.ceil(int(b.good) / UNITS_PER_CASE),
                                          int(b.good), b.first_serial))
        elif product.finished:
            self.finished.append(Finished(b.key, b.product, b.released, b.first_case,
                                          0, int(b.good), b.first_serial))
        return event(f"{b.key}/release", b.released, nodes, actor=qa,
                     reason="batch release" if not held else "batch completed, release blocked "
                     "by an open deviation")

    def _completion(self, b: BatchPlan, held: bool) -> Json:
        """Workflow mode: the batch Completed (a production fact), then — unless a hold blocks
        it — its release by QA at the same time (a :class:`BatchRelease` step)."""
        product = PRODUCTS[b.product]
        qa = self.qa[len(self.finished) % len(self.qa)]
        props: Json = {"batchStatus": "Completed", "quantity": b.good,
                       "manufacturedAt": ts(b.ops[0].start)}
        if product.finished:
            props["expiryDate"] = date_of(next(r.end for r in b.ops if r.op.seq == 50),
                                          product.shelf_days)
            self.finished.append(Finished(
                b.key, b.product, b.released, b.first_case,
                0 if held else math.ceil(int(b.good) / UNITS_PER_CASE), int(b.good),
                b.first_serial))
        if not held:
            reason = (f"Batch record reviewed by exception; EO cycle on {b.ops[-1].equipment} "
                      "parametric, BI negative" if product.finished else
                      "In-process inspection reviewed: released for use in assembly")
            self._push(b.released, lambda: BatchRelease(b.key, qa, b.released, reason))
        return event(f"{b.key}/complete", b.released, [
            node("Batch", b.key, props),
            node("WorkOrder", b.work_order, {"workOrderStatus": "Completed"})],
            actor=self.user[b.ops[-1].operator],
            reason="batch completed" if not held else "batch completed, release blocked by an "
            "open deviation")


def _inspection(ex: str, op_key: str, c: Char, b: BatchPlan, run: OpRun, rng: random.Random,
                inspector: str, instrument: str) -> Json:
    """A conforming result on the characteristic's full sample size: a variable one records the
    sample's mean and extremes (all within the limits), an attribute one no defective."""
    props: Json = {"sampleCount": c.sample, "resultTime": ts(run.end),
                   "inspectionOutcome": "conforming", "defectCount": 0}
    if c.unit:
        v = c.nominal + rng.gauss(0, c.sigma / math.sqrt(c.sample))
        if c.lsl is not None:
            v = max(v, c.lsl + c.sigma)
        if c.usl is not None:
            v = min(v, c.usl - c.sigma)
        lo = v - c.sigma * rng.uniform(1.2, 2.2)
        hi = v + c.sigma * rng.uniform(1.2, 2.2)
        lo = max(lo, c.lsl if c.lsl is not None else 0.0)  # no negative force, leak or weight
        if c.usl is not None:
            hi = min(hi, c.usl)
        props.update(measuredValue=round(v, 4), minValue=round(min(lo, v), 4),
                     maxValue=round(max(hi, v), 4), unitCode=c.unit)
    return node("InspectionResult", f"{ex}/{c.code}", props, {
        "forCharacteristic": f"InspectionCharacteristic/{op_key}/{c.code}",
        "inspectedEntity": f"Batch/{b.key}", "duringExecution": f"OperationExecution/{ex}",
        "wasAssociatedWith": f"User/{inspector}", "measuredWith": f"Equipment/{instrument}"})


def _class_of(tag: str) -> str:
    prefix = tag.rsplit("-", 1)[0]
    return next(c for c, v in EQUIPMENT_CLASSES.items() if v[1] == prefix)
