"""The deviation lifecycle: Open → Triaged → Investigation → CAPA linked → Effectiveness
verified → Closed → Archived (a minor deviation may close from Investigation without CAPA).

Each transition checks, in this order: that the current state allows it, that the acting user
holds one of its roles, its prerequisites on the graph (impact assessment and root cause before
CAPA, CAPA effectiveness proven before verification, CAPAs closed and holds resolved before
closure …), and the signatures the deviation's grade requires (§11.10(f,g)). The signatures go
on an ``Approval`` record of that transition (``APR-<deviation>-<step>``), which never changes
afterwards, so they stay valid while the deviation moves on; :mod:`quality.deviation_guard`
enforces the same table on every write, so no capture document can move a state around it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graph.errors import Problem
from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from graph.recall import RecallAnswer, recall
from graph.session import Session, write_nodes
from graph.status import is_active_hold
from graph.write import NodeUpsert
from ontology.authority import Command
from ontology.codes import (
    CLOSED_CAPA_STATES,
    ApprovalDecision,
    DeviationGrade,
    DeviationState,
    EffectivenessResult,
    ImpactLevel,
    RoleName,
    SignatureMeaning,
)
from ontology.datatypes import Clock, StoredValue, to_utc_text
from ontology.terms import C, P, R
from ontology.vocab import vocabulary
from quality.accounts import authenticate
from quality.capa import UNPROVEN, capas_of, checks_of, evaluate_store
from quality.rules import RequiresSignatures
from quality.signatures import sign, signatures_of
from quality.workflow import WorkflowRefused, linked_from, require_user, resolve

__all__ = [
    "STATES",
    "TRANSITIONS",
    "Impact",
    "Step",
    "TransitionResult",
    "advance",
    "approval_key",
    "assess_impact",
    "compute_impact",
    "missing_signatures",
    "open_deviation",
    "record_root_cause",
    "step_problems",
]

S, G = DeviationState, DeviationGrade
#: the states of the code list tg:DeviationStateScheme, in lifecycle order
STATES = (S.OPEN, S.TRIAGED, S.INVESTIGATION, S.CAPA_LINKED, S.EFFECTIVENESS_VERIFIED, S.CLOSED,
          S.ARCHIVED)
#: the grades of the code list tg:DeviationGradeScheme, in severity order
GRADES = (G.MINOR, G.MAJOR, G.CRITICAL)
_SHORT: dict[str, str] = {S.TRIAGED: "TRI", S.INVESTIGATION: "INV", S.CAPA_LINKED: "CAPA",
          S.EFFECTIVENESS_VERIFIED: "EFF", S.CLOSED: "CLO", S.ARCHIVED: "ARC"}


@dataclass(frozen=True)
class Step:
    """One allowed transition: who may take it, which grades may, and the signatures each
    grade requires (none when absent)."""

    source: str
    target: str
    roles: frozenset[str]
    signatures: Mapping[str, RequiresSignatures] = field(default_factory=dict)
    grades: frozenset[str] = frozenset(GRADES)

    def rule(self, grade: str) -> RequiresSignatures | None:
        return self.signatures.get(grade)


_QA, _QC, _ENGINEER = RoleName.QA, RoleName.QC, RoleName.ENGINEER
_APPROVED, _REVIEWED = SignatureMeaning.APPROVED, SignatureMeaning.REVIEWED
_QA_APPROVED = RequiresSignatures({_QA: {_APPROVED}})
_QA_REVIEWED = RequiresSignatures({_QA: {_REVIEWED}})
_STEPS = (
    Step(S.OPEN, S.TRIAGED, frozenset({_QC, _QA}),
         {g: RequiresSignatures({_QC: {_REVIEWED}}) for g in GRADES}),
    Step(S.TRIAGED, S.INVESTIGATION, frozenset({_QC, _QA, _ENGINEER}),
         {G.CRITICAL: _QA_REVIEWED}),
    Step(S.INVESTIGATION, S.CAPA_LINKED, frozenset({_QC, _QA}),
         {G.MAJOR: _QA_REVIEWED, G.CRITICAL: _QA_REVIEWED}),
    Step(S.INVESTIGATION, S.CLOSED, frozenset({_QA}), {G.MINOR: _QA_APPROVED},
         grades=frozenset({G.MINOR})),
    Step(S.CAPA_LINKED, S.EFFECTIVENESS_VERIFIED, frozenset({_QA}),
         {g: RequiresSignatures({_QA: {SignatureMeaning.VERIFIED}}) for g in GRADES}),
    Step(S.EFFECTIVENESS_VERIFIED, S.CLOSED, frozenset({_QA}),
         {G.MINOR: _QA_APPROVED, G.MAJOR: _QA_APPROVED,
          G.CRITICAL: RequiresSignatures({_QA: {_APPROVED}, _QC: {_REVIEWED}})}),
    Step(S.CLOSED, S.ARCHIVED, frozenset({_QA})),
)
TRANSITIONS: dict[tuple[str, str], Step] = {(s.source, s.target): s for s in _STEPS}


def approval_key(deviation_key: str, target: str, role: str) -> str:
    """Business key of the approval record carrying ``role``'s signature of one transition."""
    return f"APR-{deviation_key}-{_SHORT.get(target, target)}-{role}"


def missing_signatures(store: GraphStore, deviation_key: str, target: str,
                       rule: RequiresSignatures) -> list[Problem]:
    """What the approvals of a transition still lack: one approval record per required role,
    each validly signed with that role's meanings."""
    vocab = vocabulary()
    out: list[Problem] = []
    for role, meanings in sorted(rule.meanings_by_role.items()):
        key = approval_key(deviation_key, target, role)
        iri = vocab.mint_iri(C.Approval, key)
        per_role = RequiresSignatures({role: meanings})
        if store.get(iri) is None:
            out.append(Problem(rule="requires-signature", field="deviationState", value=target,
                               focus=vocab.mint_iri(C.Deviation, deviation_key),
                               message=f"→ {target} needs the approval {key} with "
                                       f"{per_role.describe()}"))
        else:
            out.extend(per_role.check_many(store, [iri])[iri])
    return out


@dataclass
class TransitionResult:
    deviation: str
    state: str
    moved: bool
    missing: list[Problem]


# -- impact assessment --------------------------------------------------------------------------
@dataclass
class Impact:
    """What a deviation touches, computed from the graph (downstream of what it concerns)."""

    deviation: str
    concerns: list[str]
    answer: RecallAnswer

    @property
    def level(self) -> str:
        a = self.answer
        if a.customers or a.shipments:
            return ImpactLevel.HIGH
        if a.units_total or len(a.batches) > len(self.concerns):
            return ImpactLevel.MEDIUM
        return ImpactLevel.LOW

    def summary(self) -> dict[str, Any]:
        return {"level": self.level, **self.answer.summary()}


def compute_impact(rt: Session, deviation: str, unit_limit: int = 1000) -> Impact:
    """Affected lots, units, shipments and customers downstream of what the deviation
    concerns, each with its witness path (the recall traversal, one walk)."""
    dev = resolve(rt, C.Deviation, deviation)
    concerns = sorted(e.dst for e in rt.store.links([dev.iri], [R.CONCERNS]))
    watermark = rt.store.watermark()
    walk = rt.store.walk(concerns, Direction.DOWNSTREAM)
    return Impact(dev.iri, concerns, recall(rt.store, walk, watermark, unit_limit))


def assess_impact(rt: Session, deviation: str, actor: str, reason: str,
                  clock: Clock | None = None) -> Impact:
    """Compute the impact and record it as the deviation's ImpactAssessment."""
    clock = rt.clock if clock is None else clock
    imp = compute_impact(rt, deviation)
    dev = resolve(rt, C.Deviation, imp.deviation)
    s = imp.answer.summary()
    key = f"IA-{dev.key}-G{rt.store.watermark()}"
    text = (f"Computed from the graph: {s['batches']} batch(es)/lot(s), {s['units']} unit(s), "
            f"{s['shipments']} shipment(s), {s['customers']} customer(s) downstream of "
            f"{len(imp.concerns)} concerned item(s).")
    write_nodes(rt, [NodeUpsert(C.ImpactAssessment, key,
                                rt.vocab.mint_iri(C.ImpactAssessment, key), {
        P.recordNumber: key, P.impactLevel: imp.level,
        P.affectedCount: s["batches"] + s["units"] + s["shipments"],
        P.performedAt: to_utc_text(clock()), P.description: text},
        {P.assesses: [dev.iri]})], actor, reason, f"quality:{key}:{uuid.uuid4().hex}",
        command="assessImpact")
    return imp


def record_root_cause(rt: Session, deviation: str, key: str, category: str,
                      whys: Sequence[str], actor: str, reason: str) -> NodeRecord:
    """Record a root cause: its 6M (fishbone) category and the 5-why chain."""
    dev = resolve(rt, C.Deviation, deviation)
    if not whys:
        raise WorkflowRefused("whys-required", "give the why-chain (5-why) that leads to the "
                              "root cause", "whys", list(whys))
    text = " ".join(f"Why {i}: {w.strip()}" for i, w in enumerate(whys, start=1))
    iri = rt.vocab.mint_iri(C.RootCause, key)
    write_nodes(rt, [NodeUpsert(C.RootCause, key, iri, {
        P.recordNumber: key, P.causeCategory: category, P.description: text},
        {P.causeOf: [dev.iri]})], actor, reason, f"quality:{key}:{uuid.uuid4().hex}",
        command="recordRootCause")
    return resolve(rt, C.RootCause, iri)


def open_deviation(rt: Session, key: str, title: str, description: str, grade: str,
                   actor: str, reason: str, concerns: Sequence[str] = (),
                   raised_by: str | None = None, clock: Clock | None = None,
                   due: str | None = None) -> NodeRecord:
    """Open a deviation by hand or from a failed inspection (``raised_by`` = its IRI); ``due``:
    its due date (ISO date), if one is set."""
    clock = rt.clock if clock is None else clock
    links: dict[str, list[str]] = {P.concerns: list(concerns)}
    if raised_by:
        links[P.raisedBy] = [raised_by]
    iri = rt.vocab.mint_iri(C.Deviation, key)
    props: dict[str, StoredValue] = {
        P.recordNumber: key, P.title_: title, P.description: description,
        P.deviationGrade: grade, P.deviationState: S.OPEN, P.openedAt: to_utc_text(clock())}
    if due is not None:
        props[P.dueDate] = due
    write_nodes(rt, [NodeUpsert(C.Deviation, key, iri, props, links)], actor, reason,
                f"quality:{key}:open", command=Command.OPEN_DEVIATION)
    return resolve(rt, C.Deviation, iri)


# -- transitions -----------------------------------------------------------------------------
def step_problems(store: GraphStore, dev: NodeRecord, step: Step) -> list[Problem]:
    """The prerequisites of ``step`` the graph does not meet yet (shared by :func:`advance`
    and the write guard)."""
    grade = str(dev.props.get(P.deviationGrade, ""))
    out: list[Problem] = []

    def no(rule: str, field_: str, value: object, message: str) -> None:
        out.append(Problem(rule=rule, field=field_, value=value, focus=dev.iri,
                           message=message))

    if grade not in step.grades:
        no("deviation-grade", "deviationGrade", grade, f"{step.source} → {step.target} is "
           f"only for {', '.join(sorted(step.grades))} deviations")
    if step.target == S.TRIAGED and grade not in GRADES:
        no("deviation-grade", "deviationGrade", grade, "triage grades the deviation "
           "(minor, major or critical)")
    if step.target in (S.CAPA_LINKED, S.CLOSED) and step.source == S.INVESTIGATION:
        if not linked_from(store, [dev.iri], R.ASSESSES, C.ImpactAssessment):
            no("impact-assessment-missing", "assesses", dev.key, "the investigation needs an "
               "impact assessment (computed from the graph)")
        if not linked_from(store, [dev.iri], R.CAUSE_OF, C.RootCause):
            no("root-cause-missing", "causeOf", dev.key, "the investigation needs a root cause")
    capas = capas_of(store, dev.iri)
    if step.target == S.CAPA_LINKED and not capas:
        no("capa-missing", "raisedBy", dev.key, f"a {grade} deviation needs a CAPA raised by it")
    if step.target == S.EFFECTIVENESS_VERIFIED:
        for c in capas:
            checks = checks_of(store, c.iri)
            if not checks:
                no("effectiveness-check-missing", "checkOf", c.key,
                   f"CAPA {c.key} has no effectiveness check")
            for chk in checks:
                ev = evaluate_store(store, chk)
                if ev.result != EffectivenessResult.EFFECTIVE:
                    no("effectiveness-unproven" if ev.result == UNPROVEN else "not-effective",
                       "effectivenessCriterion", chk.key,
                       f"effectiveness check {chk.key} of CAPA {c.key}: {ev.message}")
    if step.target == S.CLOSED:
        for c in capas:
            if c.props.get(P.capaState) not in CLOSED_CAPA_STATES:
                no("capa-open", "capaState", c.key, f"CAPA {c.key} is "
                   f"{c.props.get(P.capaState)}; close it (effectiveness proven) first")
    if step.target == S.ARCHIVED:
        holds = linked_from(store, [dev.iri], R.RAISED_BY, C.Hold)
        for h in holds.values():
            if is_active_hold(h):
                no("hold-active", "holdState", h.key, f"hold {h.key} raised by the deviation "
                   "is still active; release or disposition it first")
    return out


def advance(rt: Session, deviation: str, target: str, username: str, password: str,
            reason: str, grade: str | None = None, clock: Clock | None = None) -> TransitionResult:
    """Move a deviation to ``target`` as ``username``.

    When the transition needs signatures for the deviation's grade, the user signs the
    transition's approval record (with the meaning their role needs); the state moves once
    every required signature is present (otherwise ``moved`` is false and ``missing`` says
    what is still needed). Refusals raise :class:`WorkflowRefused` and write nothing.
    Triage sets the grade (``grade``).
    """
    clock = rt.clock if clock is None else clock
    dev = resolve(rt, C.Deviation, deviation)
    state = str(dev.props.get(P.deviationState, S.OPEN))
    step = TRANSITIONS.get((state, target))
    if step is None:
        allowed = sorted(t for (s, t) in TRANSITIONS if s == state)
        raise WorkflowRefused("deviation-transition", f"a deviation in state {state} can move "
                              f"to {', '.join(allowed) or 'nothing'}", "deviationState", target)
    user = require_user(rt, username, step.roles, f"{state} → {target}")
    if not reason or not reason.strip():
        raise WorkflowRefused("reason-required", "a transition needs a reason", "reason",
                              reason)
    updates: dict[str, StoredValue] = {P.deviationState: target}
    if grade is not None:
        if state != S.OPEN:
            raise WorkflowRefused("deviation-grade", "the grade is set at triage",
                                  "deviationGrade", grade)
        if grade not in GRADES:
            raise WorkflowRefused("deviation-grade", f"must be one of {', '.join(GRADES)}",
                                  "deviationGrade", grade)
        updates[P.deviationGrade] = grade
        dev.props[P.deviationGrade] = grade  # judged with the new grade
    problems = step_problems(rt.store, dev, step)
    if problems:
        raise WorkflowRefused(problems[0].rule, "; ".join(p.message for p in problems),
                              problems[0].field, problems[0].value, problems)
    g = str(dev.props.get(P.deviationGrade, ""))
    rule = step.rule(g)
    # re-authenticate before anything is written (a wrong password leaves no approval behind)
    authenticate(rt, username, password, clock, purpose=f"{dev.key}: {state} → {target}")
    if rule is not None:
        mine = sorted((r, m) for r, ms in rule.meanings_by_role.items() if r in user.roles
                      for m in ms)
        if not mine:
            raise WorkflowRefused("role", f"{state} → {target} of a {g} deviation needs "
                                  f"{rule.describe()}", "username", username)
        for role, meaning in mine:
            approval = _approval(rt, dev, target, role, user.iri, username, reason, clock)
            done = {s.meaning for s in signatures_of(rt, approval)
                    if s.username == username and s.valid}
            if meaning not in done:
                sign(rt, approval, username, password, meaning, reason, clock)
        missing = missing_signatures(rt.store, dev.key, target, rule)
        if missing:
            return TransitionResult(dev.iri, state, False, missing)
    now = to_utc_text(clock())
    if target == S.CLOSED:
        updates[P.closedAt] = now
    write_nodes(rt, [NodeUpsert(C.Deviation, dev.key, dev.iri, updates)], username, reason,
                f"quality:{dev.key}:{target}:{uuid.uuid4().hex}",
                command=Command.ADVANCE_DEVIATION)
    return TransitionResult(dev.iri, target, True, [])


def _approval(rt: Session, dev: NodeRecord, target: str, role: str, user_iri: str,
              actor: str, reason: str, clock: Clock) -> str:
    key = approval_key(dev.key, target, role)
    iri = rt.vocab.mint_iri(C.Approval, key)
    if rt.store.get(iri) is None:
        roles = [e.dst for e in rt.store.links([user_iri], [R.HAS_ROLE])]
        role_iri = next((n.iri for n in rt.store.get_many(roles).values()
                         if n.props.get(P.roleName) == role), None)
        links: dict[str, list[str]] = {P.approves: [dev.iri], P.wasAssociatedWith: [user_iri]}
        if role_iri:
            links[P.inRole] = [role_iri]
        write_nodes(rt, [NodeUpsert(C.Approval, key, iri, {
            P.recordNumber: key, P.approvalDecision: ApprovalDecision.APPROVED,
            P.decidedAt: to_utc_text(clock())}, links)], actor, reason, f"quality:{key}",
            command=Command.ADVANCE_DEVIATION)
    return iri
