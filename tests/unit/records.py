"""Tiny builders of the records the quality rules read, written through the session's one
write path (so every guard and shape sees them, as in production).

Each builder takes the business keys and states a rule cares about and fills the rest with
plausible values; links are given as IRIs (:meth:`UnitSession.iri`). Records created directly in
a later state (a deviation already ``Closed``, a hold already ``Released``) are what a migration
from a legacy system writes: the guards accept a record's first state and check every change.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import orjson

from graph.session import node_event
from graph.write import Derivation, NodeUpsert, WriteEvent, WriteResult
from ontology.codes import (
    ActionState,
    BatchStatus,
    CAPAActionType,
    CAPAState,
    DerivationKind,
    DeviationGrade,
    DeviationState,
    EffectivenessCriterion,
    ExcursionLevel,
    ExecutionStatus,
    HoldState,
    MaterialLotStatus,
    MaterialType,
    ProcessVersionStatus,
    SupplierStatus,
)
from ontology.datatypes import StoredValue, to_utc_text
from ontology.terms import C, P
from quality.accounts import create_user
from tests.unit.session import T0, UnitSession

__all__ = ["ACTOR", "OPERATION", "PASSWORD", "SPEC", "VERSION", "Links", "account", "action",
           "batch", "capa", "defined_version", "derive", "deviation", "effectiveness_check",
           "equipment", "excursion", "execution", "hold", "material_lot", "observation", "once",
           "operation", "put", "standard_version", "ts", "version"]

ACTOR = "test"
PASSWORD = "correct horse battery staple"

#: links of a record: property name → target IRI(s)
Links = Mapping[str, str | Sequence[str]]


def ts(at: datetime | str = T0, **shift: float) -> str:
    """Stored UTC text of ``at`` (default :data:`T0`) shifted by ``shift`` (``hours=2`` …)."""
    moment = datetime.fromisoformat(at.replace("Z", "+00:00")) if isinstance(at, str) else at
    return to_utc_text(moment + timedelta(**shift))


def _links(links: Links | None) -> dict[str, list[str]]:
    return {str(k): [v] if isinstance(v, str) else list(v) for k, v in (links or {}).items()}


def put(s: UnitSession, cls: str, key: str, props: Mapping[str, StoredValue] | None = None,
        links: Links | None = None, reason: str = "test fixture") -> str:
    """Create or update one record (its business-key property set to ``key``, as a capture
    does); its IRI."""
    iri = s.iri(cls, key)
    # fixture records arrive in any state: as a migration (issue 14), never a side door
    event = node_event([NodeUpsert(cls, key, iri, _props(s, cls, key, props), _links(links))],
                       ACTOR, reason, command="fixture")
    s.writer.apply([replace(event, command=None, migration=True)])
    return iri


def once(s: UnitSession, cls: str, key: str, props: Mapping[str, StoredValue] | None = None,
         links: Links | None = None) -> str:
    """:func:`put` unless the record exists already (shared master data)."""
    iri = s.iri(cls, key)
    return iri if s.store.get(iri) is not None else put(s, cls, key, props, links)


def _props(s: UnitSession, cls: str, key: str,
           props: Mapping[str, StoredValue] | None) -> dict[str, StoredValue]:
    out = {str(k): v for k, v in (props or {}).items()}
    kp = s.vocab.cls(cls).key_property
    if kp is not None:
        out[kp] = key
    return out


def derive(s: UnitSession, cls: str, key: str, kind: str, inputs: Sequence[str],
           at: str | None = None, props: Mapping[str, StoredValue] | None = None,
           links: Links | None = None) -> WriteResult:
    """Write the record ``cls``/``key`` derived (``kind``) from each of ``inputs`` (IRIs), at
    event time ``at`` (none: now), in one event."""
    iri = s.iri(cls, key)
    node = NodeUpsert(cls, key, iri, _props(s, cls, key, props), _links(links))
    derivations = [Derivation(kind, iri, i, at=at) for i in inputs]
    body = orjson.dumps([cls, key, kind, list(inputs), at, node.props],
                        option=orjson.OPT_SORT_KEYS)
    return s.writer.apply([WriteEvent(f"derive:{uuid.uuid4().hex}",
                                      hashlib.sha256(body).hexdigest(), ACTOR,
                                      f"{kind} of {key}", [node], derivations)])


def account(s: UnitSession, username: str, *roles: str) -> str:
    """An account holding ``roles`` (password :data:`PASSWORD`); its username."""
    create_user(s, username, PASSWORD, roles, printed_name=username.title(), actor=ACTOR,
                reason="test account")
    return username


# -- material -----------------------------------------------------------------------------------
def material_lot(s: UnitSession, key: str,
                 status: MaterialLotStatus = MaterialLotStatus.APPROVED) -> str:
    """A supplier lot of resin."""
    material = once(s, C.Material, "RESIN", {P.name: "resin", P.unitCode: "kg",
                                            P.materialType: MaterialType.RESIN})
    supplier = once(s, C.Supplier, "SUP-1", {P.name: "Polymer AG",
                                            P.supplierStatus: SupplierStatus.APPROVED})
    return put(s, C.MaterialLot, key, {P.quantity: 100.0, P.unitCode: "kg",
                                       P.materialLotStatus: status},
               {P.ofMaterial: material, P.suppliedBy: supplier})


#: the process version batches run unless told otherwise, its one operation and the operation's
#: critical parameter (a temperature in [180, 220] Cel)
VERSION, OPERATION, SPEC = "ASSY/v1", "ASSY/v1/OP10", "ASSY/v1/OP10/TEMP"


def standard_version(s: UnitSession) -> str:
    """The Effective version :data:`VERSION`: one operation (:data:`OPERATION`) with one
    parameter spec (:data:`SPEC`)."""
    iri = s.iri(C.ProcessVersion, VERSION)
    return iri if s.store.get(iri) is not None else defined_version(s, VERSION)


def defined_version(s: UnitSession, key: str,
                    status: ProcessVersionStatus = ProcessVersionStatus.EFFECTIVE,
                    usl: float = 220.0) -> str:
    """Version ``key`` in ``status``: operation ``<key>/OP10`` with its critical barrel
    temperature ``<key>/OP10/TEMP`` in [180, ``usl``] Cel."""
    op = operation(s, f"{key}/OP10")
    put(s, C.ParameterSpec, f"{key}/OP10/TEMP", {
        P.name: "barrel temperature", P.setpoint: 200.0, P.lsl: 180.0, P.usl: usl,
        P.unitCode: "Cel", P.isCPP: True}, {P.specOf: op})
    return version(s, key, [op], status)


def batch(s: UnitSession, key: str, inputs: Sequence[str] = (),
          status: BatchStatus = BatchStatus.COMPLETED, at: str | None = None) -> str:
    """A batch of the catheter made by consuming ``inputs`` (IRIs) at ``at``, pinned to
    :func:`standard_version`."""
    props: dict[str, StoredValue] = {P.batchStatus: status, P.quantity: 10.0,
                                     P.unitCode: "{pc}"}
    pinned = standard_version(s)
    links: Links = {P.ofProduct: s.iri(C.Product, "CATH"), P.runsProcessVersion: pinned}
    if inputs:
        derive(s, C.Batch, key, DerivationKind.CONSUMPTION, inputs, at, props, links)
        return s.iri(C.Batch, key)
    return put(s, C.Batch, key, props, links)


def equipment(s: UnitSession, key: str) -> str:
    """A press (that needs no calibration)."""
    cls = once(s, C.EquipmentClass, "PRESS", {P.name: "press"})
    return put(s, C.Equipment, key, {P.name: f"press {key}"}, {P.ofEquipmentClass: cls})


def operation(s: UnitSession, key: str, sequence: int = 10) -> str:
    """Operation ``key`` (named after its last key segment, so versions compare equal)."""
    return put(s, C.Operation, key, {P.name: f"operation {key.rsplit('/', 1)[-1]}",
                                     P.sequence: sequence})


def execution(s: UnitSession, key: str, batch_iri: str, operation: str | None = None,
              started: str | None = None,
              status: ExecutionStatus = ExecutionStatus.COMPLETED,
              links: Links | None = None) -> str:
    """An execution of ``operation`` (an IRI) for a batch, started at ``started`` (default
    :data:`T0`) and, if completed, ended an hour later."""
    start = started or ts()
    props: dict[str, StoredValue] = {P.startedAtTime: start, P.executionStatus: status}
    if status == ExecutionStatus.COMPLETED:
        props[P.endedAtTime] = ts(start, hours=1)
    all_links: dict[str, str | Sequence[str]] = {P.forBatch: batch_iri, **(links or {})}
    if operation is not None:
        all_links[P.executesOperation] = operation
    return put(s, C.OperationExecution, key, props, all_links)


def observation(s: UnitSession, key: str, execution_iri: str, low: float, high: float,
                spec: str = SPEC) -> str:
    """A parameter observation of ``spec`` (a key) during an execution: values in
    [``low``, ``high``]."""
    return put(s, C.ParameterObservation, key, {
        P.minValue: low, P.maxValue: high, P.meanValue: (low + high) / 2, P.stdDev: 1.0,
        P.sampleCount: 10, P.windowStart: ts(), P.windowEnd: ts(minutes=10),
        P.unitCode: "Cel"}, {P.observes: s.iri(C.ParameterSpec, spec),
                             P.duringExecution: execution_iri})


def excursion(s: UnitSession, key: str, execution_iri: str, spec: str = SPEC) -> str:
    """An out-of-spec excursion of ``spec`` (a key) during an execution."""
    return put(s, C.Excursion, key, {
        P.excursionLevel: ExcursionLevel.OUT_OF_SPEC, P.peakValue: 230.0, P.limitValue: 220.0,
        P.detectedAt: ts(), P.description: "temperature above USL"},
        {P.violatesSpec: s.iri(C.ParameterSpec, spec), P.duringExecution: execution_iri})


# -- quality records ---------------------------------------------------------------------------
def deviation(s: UnitSession, key: str, state: DeviationState = DeviationState.OPEN,
              grade: DeviationGrade = DeviationGrade.MAJOR, concerns: Sequence[str] = (),
              raised_by: str | None = None) -> str:
    """A deviation in ``state`` (raised, or migrated in that state) concerning ``concerns``."""
    links: dict[str, str | Sequence[str]] = {P.concerns: list(concerns)}
    if raised_by is not None:
        links[P.raisedBy] = raised_by
    return put(s, C.Deviation, key, {
        P.recordNumber: key, P.title_: f"deviation {key}", P.description: "unit test",
        P.deviationGrade: grade, P.deviationState: state, P.openedAt: ts()}, links)


def hold(s: UnitSession, key: str, on: Sequence[str], state: HoldState = HoldState.ACTIVE,
         raised_by: str | None = None) -> str:
    """A hold on ``on`` (IRIs), opened at the session's now."""
    links: dict[str, str | Sequence[str]] = {P.holds: list(on)}
    if raised_by is not None:
        links[P.raisedBy] = raised_by
    return put(s, C.Hold, key, {P.recordNumber: key, P.holdState: state,
                                P.openedAt: to_utc_text(s.clock()),
                                P.description: "unit test hold"}, links)


def capa(s: UnitSession, key: str, raised_by: str,
         state: CAPAState = CAPAState.IMPLEMENTATION) -> str:
    """A CAPA raised by ``raised_by`` (a deviation's IRI)."""
    return put(s, C.CAPA, key, {
        P.recordNumber: key, P.title_: f"CAPA {key}", P.description: "unit test",
        P.capaState: state, P.openedAt: ts(), P.dueDate: "2026-06-30"}, {P.raisedBy: raised_by})


def action(s: UnitSession, capa_iri: str, key: str, owner: str) -> str:
    """A planned corrective action of a CAPA, assigned to ``owner`` (a user's IRI)."""
    return put(s, C.CAPAAction, key, {
        P.recordNumber: key, P.actionType: CAPAActionType.CORRECTIVE,
        P.actionState: ActionState.PLANNED, P.dueDate: "2026-04-30",
        P.description: "unit test action"}, {P.actionOf: capa_iri, P.assignedTo: owner})


def effectiveness_check(s: UnitSession, capa_iri: str, key: str, scope: str,
                        batches: int = 1) -> str:
    """An effectiveness check of a CAPA: no excursion recurs on ``scope`` (equipment IRI) in
    the next ``batches`` batches."""
    return put(s, C.EffectivenessCheck, key, {
        P.recordNumber: key, P.effectivenessCriterion: EffectivenessCriterion.NO_RECURRENCE,
        P.criterionBatches: batches,
        P.description: "unit test check"}, {P.checkOf: capa_iri, P.criterionScope: scope})


def version(s: UnitSession, key: str, operations: Sequence[str],
            status: ProcessVersionStatus = ProcessVersionStatus.EFFECTIVE) -> str:
    """A process version ``key`` whose routing runs ``operations`` (IRIs), in ``status``."""
    routing = put(s, C.Routing, key, {P.name: f"routing {key}"},
                  {P.hasOperation: list(operations)})
    product = once(s, C.Product, "CATH", {P.name: "catheter", P.gtin: "09506000134352"})
    definition = once(s, C.ProcessDefinition, "ASSY", {P.name: "assembly"},
                     {P.ofProduct: product})
    props: dict[str, StoredValue] = {P.versionStatus: status, P.revision: key}
    if status == ProcessVersionStatus.EFFECTIVE:
        props[P.effectiveFrom] = ts("2026-01-01T00:00:00Z")
    return put(s, C.ProcessVersion, key, props, {P.hasRouting: routing,
                                                 P.versionOf: definition})
