"""GraphQL root fields of the closed quality loop: deviations (lifecycle, computed impact,
root cause, commonality), CAPA (actions, effectiveness checks, overdue report), dispositions of
holds, release by exception and the eDHR.

Workflow mutations answer with a :class:`QualityResult`: ``ok`` and the record, or the list of
problems (rule, field, value, message) that refused the step — nothing is written then.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.as_of import as_of_text, runtime_at
from api.graphql.enums import (
    CAPAActionType,
    CauseCategory,
    DeviationGrade,
    DeviationState,
    DispositionType,
    EffectivenessCriterion,
    ImpactLevel,
    MaterialLotStatus,
    RoleName,
    SupplierStatus,
)
from api.graphql.recall import Recall
from api.graphql.types import Node, Problem, Signature, bad_input, runtime_of, user_of
from graph.errors import Problem as ProblemRecord
from graph.errors import RefusedError, WriteRejectedError
from graph.model import NodeRecord
from graph.port import GraphStore
from ingest.signals.environment import raw_samples
from ontology.codes import CAPAState, HoldState, ReleaseOutcome
from ontology.terms import C, P, R
from quality import capa as capa_mod
from quality import deviations as dev_mod
from quality.capa import Evaluation, OverdueAction
from quality.commonality import Factor, commonality
from quality.dispositions import Rework, dispose
from quality.edhr import batch_dhr, unit_dhr
from quality.holds import place_hold
from quality.lots import decide_lot, qualify_supplier
from quality.release import ReleaseReport as ReleaseRecord
from quality.release import release_batch, release_report
from quality.signatures import signatures_by_record
from quality.workflow import WorkflowRefused, linked_from, resolve

__all__ = ["Approval", "Deviation", "Impact", "Mutation", "QualityResult", "Query",
           "ReleaseReport", "Transition"]


@strawberry.type
class QualityResult:
    ok: bool
    record: Node | None = None
    state: str | None = None
    problems: list[Problem] = strawberry.field(default_factory=list)


@strawberry.type
class Transition:
    target: DeviationState
    roles: list[RoleName]
    signatures: str = strawberry.field(description="The signatures the deviation's grade "
                                                   "requires for this step, in words.")


@strawberry.type
class Approval:
    key: str
    record: Node
    signatures: list[Signature]


@strawberry.type
class Impact:
    level: ImpactLevel
    concerns: list[str]
    recall: Recall


# the domain records themselves are the GraphQL types (one definition)
strawberry.type(Evaluation)
strawberry.type(OverdueAction)
strawberry.type(Factor)


@strawberry.type
class ReleaseReport:
    batch: str
    releasable: bool
    exceptions: list[Problem]
    watermark: int = strawberry.field(description="The store's watermark the report was read "
                                                  "at: every record it judges is as of then.")
    status: str | None = strawberry.field(default=None, description="The batch's status as "
                                                                     "read.")
    as_of: str | None = strawberry.field(default=None, description="The record time asked "
                                                                    "(UTC); null: now.")

    @classmethod
    def of(cls, r: ReleaseRecord, as_of: str | None = None) -> ReleaseReport:
        return cls(batch=r.batch, releasable=r.releasable,
                   exceptions=[Problem.of(p) for p in r.exceptions], watermark=r.watermark,
                   status=r.status, as_of=as_of)


@strawberry.type
class Deviation:
    record: Node
    state: DeviationState = strawberry.field(description="Its lifecycle state (Open when the "
                                                         "record has none).")
    grade: DeviationGrade | None
    concerns: list[str]

    @classmethod
    def of(cls, n: NodeRecord, store: GraphStore) -> Deviation:
        return cls(record=Node.of(n),
                   state=DeviationState(str(n.props.get(P.deviationState,
                                                        DeviationState.OPEN))),
                   grade=(DeviationGrade(str(n.props[P.deviationGrade]))
                          if P.deviationGrade in n.props else None),
                   concerns=sorted(e.dst for e in store.links([n.iri], [R.CONCERNS])))

    @strawberry.field(description="Where the deviation may move next and what each step needs.")
    def next_steps(self) -> list[Transition]:
        return [Transition(target=DeviationState(t), roles=[RoleName(r) for r in sorted(s.roles)],
                           signatures=(r.describe() if (r := s.rule(self.grade or "")) else
                                       "none"))
                for (src, t), s in dev_mod.TRANSITIONS.items() if src == self.state]

    @strawberry.field(description="Signed approvals of its transitions.")
    def approvals(self, info: Info[Any, None], first: int = 20) -> list[Approval]:
        st = runtime_of(info).store
        found = linked_from(st, [self.record.iri], R.APPROVES, C.Approval)
        sigs = signatures_by_record(st, sorted(found))
        return [Approval(key=n.key, record=Node.of(n),
                         signatures=[Signature.of(s) for s in sigs.get(i, [])])
                for i, n in sorted(found.items(), key=lambda x: x[1].key)][:max(first, 0)]

    @strawberry.field(description="Impact assessments, root causes and CAPAs linked to it.")
    def records(self, info: Info[Any, None], first: int = 50) -> list[Node]:
        st = runtime_of(info).store
        out: dict[str, NodeRecord] = {}
        out.update(linked_from(st, [self.record.iri], R.ASSESSES, C.ImpactAssessment))
        out.update(linked_from(st, [self.record.iri], R.CAUSE_OF, C.RootCause))
        out.update(linked_from(st, [self.record.iri], R.RAISED_BY))
        return [Node.of(n) for n in sorted(out.values(),
                                           key=lambda n: (n.label, n.key))][:max(first, 0)]

    @strawberry.field(description="Commonality analysis: upstream factors the deviating "
                                  "batches (default: those this deviation concerns) share, "
                                  "ranked by lift against the good batches.")
    def commonality(self, info: Info[Any, None], good: list[str],
                    deviating: list[str] | None = None, limit: int = 20) -> list[Factor]:
        return _factors(info, deviating or self.concerns, good, limit)


def _factors(info: Info[Any, None], deviating: list[str], good: list[str],
             limit: int) -> list[Factor]:
    if len(deviating) + len(good) > 2000:
        raise bad_input("good", len(good), "at most 2000 batches per analysis")
    try:
        return commonality(runtime_of(info), deviating, good, limit=limit)
    except RefusedError as e:
        raise bad_input(e.field, e.value, str(e)) from None


def _run(step: Callable[[], NodeRecord | None], state: str | None = None) -> QualityResult:
    """Run a workflow step; a refusal becomes ``ok: false`` with its problems."""
    try:
        n = step()
    except WorkflowRefused as e:
        return QualityResult(ok=False, problems=[Problem.of(p) for p in e.problems])
    except RefusedError as e:
        return QualityResult(ok=False, problems=[Problem.of(e.problem())])
    except WriteRejectedError as e:
        return QualityResult(ok=False, problems=[Problem.of(p) for p in e.problems])
    return QualityResult(ok=True, record=Node.of(n) if n else None, state=state)


def _missing(problems: list[ProblemRecord]) -> list[Problem]:
    return [Problem.of(p) for p in problems]


@strawberry.type
class Query:
    @strawberry.field(description="A deviation with its lifecycle state, next steps, signed "
                                  "approvals and linked records.")
    def deviation(self, info: Info[Any, None], id: str) -> Deviation | None:
        rt = runtime_of(info)
        try:
            return Deviation.of(resolve(rt, C.Deviation, id), rt.store)
        except WorkflowRefused:
            return None

    @strawberry.field(description="What a deviation touches, computed from the graph: "
                                  "affected lots, units, shipments and customers with paths.")
    def deviation_impact(self, info: Info[Any, None], id: str,
                         unit_limit: int = 100) -> Impact | None:
        rt = runtime_of(info)
        try:
            imp = dev_mod.compute_impact(rt, id, unit_limit=max(0, min(unit_limit, 5000)))
        except WorkflowRefused:
            return None
        return Impact(level=ImpactLevel(imp.level), concerns=imp.concerns,
                      recall=Recall.of(imp.answer))

    @strawberry.field(description="Commonality analysis of deviating vs good batches.")
    def commonality(self, info: Info[Any, None], deviating: list[str], good: list[str],
                    limit: int = 20) -> list[Factor]:
        return _factors(info, deviating, good, limit)

    @strawberry.field(description="Evaluate an effectiveness check's criterion on the graph.")
    def effectiveness(self, info: Info[Any, None], check: str) -> Evaluation | None:
        try:
            return capa_mod.evaluate(runtime_of(info), check)
        except WorkflowRefused:
            return None

    @strawberry.field(description="CAPA actions past their due date and not done, of the "
                                  "given CAPAs and/or owners; plant-wide without either.")
    def overdue_capa_actions(self, info: Info[Any, None], today: date,
                             capas: list[str] | None = None,
                             owners: list[str] | None = None) -> list[OverdueAction]:
        try:
            return capa_mod.overdue_actions(runtime_of(info), today, capas or [], owners or [])
        except WorkflowRefused as e:
            raise bad_input(e.field, e.value, str(e)) from None

    @strawberry.field(description="Review by exception: the batch's exceptions against the "
                                  "release rules (empty = releasable).")
    def release_report(self, info: Info[Any, None], batch: str,
                       as_of: str | None = None) -> ReleaseReport | None:
        try:
            r = release_report(runtime_at(info, as_of), batch)
        except WorkflowRefused:
            return None
        return ReleaseReport.of(r, as_of_text(as_of))

    @strawberry.field(description="Device history record (21 CFR 820.184) of a batch or of a "
                                  "serialized unit, as JSON (as a document: GET /api/edhr/{id}"
                                  "?format=html, pdf or json).")
    def edhr(self, info: Info[Any, None], batch: str | None = None,
             unit: str | None = None, as_of: str | None = None) -> JSON | None:
        rt = runtime_at(info, as_of)
        if (batch is None) == (unit is None):
            raise bad_input("batch/unit", None, "give exactly one of batch or unit")
        try:
            with raw_samples(rt.settings.data_dir) as raw:  # room conditions (issue 17)
                doc = (batch_dhr(rt, batch, samples=raw) if batch is not None
                       else unit_dhr(rt, str(unit), samples=raw))
        except (WorkflowRefused, ValueError):
            return None
        return cast(JSON, {**doc, "asOf": as_of_text(as_of)})


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Raise a deviation (by hand or from a failed inspection: "
                                     "raisedBy = its IRI); it starts Open.")
    def open_deviation(self, info: Info[Any, None], title: str, description: str,
                       grade: DeviationGrade,
                       reason: str, concerns: list[str] | None = None,
                       raised_by: str | None = None, key: str | None = None) -> QualityResult:
        rt = runtime_of(info)

        def step() -> NodeRecord:
            refs = [resolve(rt, C.TraceableEntity, c).iri for c in concerns or []]
            source = resolve(rt, C.Record, raised_by).iri if raised_by else None
            k = key or f"DEV-{uuid.uuid4().hex[:12].upper()}"
            return dev_mod.open_deviation(rt, k, title, description, grade,
                                          user_of(info).username, reason, refs, source)
        return _run(step, state=DeviationState.OPEN)

    @strawberry.mutation(description="Move a deviation along its lifecycle; signs the step's "
                                     "approval when the grade requires it (re-enter password).")
    def advance_deviation(self, info: Info[Any, None], deviation: str, target: DeviationState,
                          password: str, reason: str,
                          grade: DeviationGrade | None = None) -> QualityResult:
        rt = runtime_of(info)
        try:
            r = dev_mod.advance(rt, deviation, target, user_of(info).username, password, reason,
                                grade)
        except RefusedError as e:
            problems = e.problems if isinstance(e, WorkflowRefused) else [e.problem()]
            return QualityResult(ok=False, problems=_missing(problems))
        except WriteRejectedError as e:
            return QualityResult(ok=False, problems=_missing(e.problems))
        return QualityResult(ok=r.moved, record=Node.of(resolve(rt, C.Deviation, r.deviation)),
                             state=r.state, problems=_missing(r.missing))

    @strawberry.mutation(description="Compute the deviation's impact from the graph and "
                                     "record it as an impact assessment.")
    def assess_impact(self, info: Info[Any, None], deviation: str,
                      reason: str) -> QualityResult:
        rt = runtime_of(info)

        def step() -> NodeRecord:
            imp = dev_mod.assess_impact(rt, deviation, user_of(info).username, reason)
            return resolve(rt, C.Deviation, imp.deviation)
        return _run(step)

    @strawberry.mutation(description="Record a root cause: 6M category and the 5-why chain.")
    def record_root_cause(self, info: Info[Any, None], deviation: str, category: CauseCategory,
                          whys: list[str], reason: str, key: str | None = None) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: dev_mod.record_root_cause(
            rt, deviation, key or f"RC-{uuid.uuid4().hex[:12].upper()}", category, whys,
            user_of(info).username, reason))

    @strawberry.mutation(description="Open a CAPA raised by a deviation.")
    def open_capa(self, info: Info[Any, None], deviation: str, title: str, description: str,
                  due: date, reason: str, key: str | None = None) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: capa_mod.open_capa(
            rt, deviation, key or f"CAPA-{uuid.uuid4().hex[:12].upper()}", title, description,
            due.isoformat(), user_of(info).username, reason))

    @strawberry.mutation(description="Add an action (correction/corrective/preventive) with "
                                     "owner and due date to a CAPA.")
    def add_capa_action(self, info: Info[Any, None], capa: str, action_type: CAPAActionType,
                        owner: str,
                        due: date, description: str, reason: str,
                        key: str | None = None) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: capa_mod.add_action(
            rt, capa, key or f"ACT-{uuid.uuid4().hex[:12].upper()}", action_type, owner,
            due.isoformat(), description, user_of(info).username, reason))

    @strawberry.mutation(description="Mark a CAPA action completed (now).")
    def complete_capa_action(self, info: Info[Any, None], action: str,
                             reason: str) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: capa_mod.complete_action(rt, action, user_of(info).username, reason),
                    state="-")

    @strawberry.mutation(description="Define a CAPA's effectiveness check: criterion "
                                     "(noRecurrence | cpkAtLeast), scope, later batches, "
                                     "threshold.")
    def define_effectiveness_check(self, info: Info[Any, None], capa: str,
                                   criterion: EffectivenessCriterion,
                                   scope: str, batches: int, description: str, reason: str,
                                   threshold: float | None = None,
                                   key: str | None = None) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: capa_mod.define_check(
            rt, capa, key or f"EC-{uuid.uuid4().hex[:12].upper()}", criterion, scope, batches,
            description, user_of(info).username, reason, threshold))

    @strawberry.mutation(description="Evaluate and record an effectiveness check, signed "
                                     "'verified' (QA).")
    def verify_effectiveness_check(self, info: Info[Any, None], check: str, password: str,
                                   reason: str) -> QualityResult:
        rt = runtime_of(info)

        def step() -> NodeRecord:
            ev = capa_mod.verify_check(rt, check, user_of(info).username, password, reason)
            return resolve(rt, C.EffectivenessCheck, ev.check)
        return _run(step)

    @strawberry.mutation(description="Close a CAPA: actions done, effectiveness proven and "
                                     "verified; signed 'approved' (QA).")
    def close_capa(self, info: Info[Any, None], capa: str, password: str,
                   reason: str) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: capa_mod.close_capa(rt, capa, user_of(info).username, password,
                                                reason), state=CAPAState.CLOSED)

    @strawberry.mutation(description="Disposition of held material (release, rework, scrap, "
                                     "useAsIs, returnToSupplier), signed 'approved' (QA).")
    def dispose(self, info: Info[Any, None], hold: str, kind: DispositionType, password: str,
                justification: str, items: list[str] | None = None,
                rework_operation: str | None = None, rework_started: str | None = None,
                rework_ended: str | None = None) -> QualityResult:
        rt = runtime_of(info)
        rework = Rework(rework_operation, rework_started or "", rework_ended or "") \
            if rework_operation else None
        return _run(lambda: dispose(rt, hold, kind, user_of(info).username, password,
                                    justification, items or [], rework), state=kind)

    @strawberry.mutation(description="Place a hold by hand (QA or QC, re-authenticated): "
                                     "raised by an open deviation, on named lots, batches, "
                                     "sublots or units, which go OnHold.")
    def place_hold(self, info: Info[Any, None], deviation: str, items: list[str], password: str,
                   reason: str, description: str | None = None,
                   key: str | None = None) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: place_hold(
            rt, key or f"HLD-{uuid.uuid4().hex[:12].upper()}", deviation, items,
            user_of(info).username, password, reason, description), state=HoldState.ACTIVE)

    @strawberry.mutation(description="Release a batch: refused with the exception list unless "
                                     "it is empty; signed 'released' (QA).")
    def release_batch(self, info: Info[Any, None], batch: str, password: str,
                      reason: str) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: release_batch(rt, batch, user_of(info).username, password, reason),
                    state=ReleaseOutcome.RELEASED)

    @strawberry.mutation(description="Approve or reject a material lot in quarantine after "
                                     "incoming inspection (QC or QA, re-authenticated).")
    def decide_lot(self, info: Info[Any, None], lot: str, decision: MaterialLotStatus,
                   password: str, reason: str) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: resolve(rt, C.MaterialLot, decide_lot(
            rt, lot, decision, user_of(info).username, password, reason)), state=decision)

    @strawberry.mutation(description="Set a supplier's qualification status: approved, "
                                     "conditional or disqualified (QA, re-authenticated).")
    def qualify_supplier(self, info: Info[Any, None], supplier: str, status: SupplierStatus,
                         password: str, reason: str) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: resolve(rt, C.Supplier, qualify_supplier(
            rt, supplier, status, user_of(info).username, password, reason)), state=status)
