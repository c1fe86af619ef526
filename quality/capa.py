"""CAPA (ISO 13485 §8.5.2/8.5.3): actions with owners and due dates, the overdue report, and
effectiveness checks whose measurable criterion is evaluated from the graph and gates closure.

A check names a criterion (``tg:effectivenessCriterion``), what it is evaluated on
(``tg:criterionScope``) and on how many later batches (``tg:criterionBatches``):

- ``noRecurrence``: the next N batches made on the scoped equipment or fixture after the last
  action was completed had no excursion on it;
- ``cpkAtLeast``: over the parameter observations of the scoped spec in the next N executions,
  Cpk = min(USL - mean, mean - LSL) / (3 sigma), pooled sigma, is at least the threshold.

Fewer such batches than N leave the criterion *unproven*: neither effective nor not.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from graph.model import NodeRecord
from graph.port import GraphStore
from graph.session import Session, write_nodes
from graph.write import NodeUpsert
from ontology.authority import Command
from ontology.codes import (
    CLOSED_CAPA_STATES,
    DONE_ACTION_STATES,
    ActionState,
    CAPAState,
    ChangeState,
    EffectivenessCriterion,
    EffectivenessResult,
    RoleName,
    SignatureMeaning,
)
from ontology.datatypes import Clock, StoredValue, to_utc_text
from ontology.terms import C, P, R
from quality.accounts import authenticate
from quality.signatures import sign
from quality.workflow import WorkflowRefused, linked_from, require_user, resolve

__all__ = ["Evaluation", "OverdueAction", "add_action", "capas_of", "checks_of",
           "close_capa", "complete_action", "define_check", "evaluate", "evaluate_store",
           "open_capa", "overdue_actions", "raise_change_request", "verify_check"]

QUALITY_ROLES = (RoleName.QC, RoleName.QA, RoleName.ENGINEER)
#: an effectiveness check's result while its criterion can be neither met nor failed yet
UNPROVEN = "unproven"


@dataclass
class Evaluation:
    """The outcome of evaluating one effectiveness check on the graph now."""

    check: str
    key: str
    criterion: str
    result: str  # effective | notEffective | unproven
    message: str
    batches: list[str] = field(default_factory=list)
    value: float | None = None
    findings: list[str] = field(default_factory=list)


_Out = Callable[..., Evaluation]


@dataclass(frozen=True)
class OverdueAction:
    action: str
    key: str
    capa: str
    owner: str
    due: str
    state: str
    days_overdue: int


def _write(rt: Session, nodes: Sequence[NodeUpsert], actor: str, reason: str,
           command: str) -> None:
    write_nodes(rt, nodes, actor, reason, f"quality:{nodes[0].key}:{uuid.uuid4().hex}",
                command=command)


def _iri(rt: Session, cls: str, key: str) -> str:
    return rt.vocab.mint_iri(cls, key)


# -- records -----------------------------------------------------------------------------------
def open_capa(rt: Session, raised_by: str, key: str, title: str, description: str, due: str,
              actor: str, reason: str, clock: Clock | None = None) -> NodeRecord:
    """Open a CAPA raised by a deviation (or another record, given by IRI or Deviation key)."""
    clock = rt.clock if clock is None else clock
    source = resolve(rt, C.Record, raised_by) if "://" in raised_by else \
        resolve(rt, C.Deviation, raised_by)
    iri = _iri(rt, C.CAPA, key)
    _write(rt, [NodeUpsert(C.CAPA, key, iri, {
        P.recordNumber: key, P.title_: title, P.description: description,
        P.capaState: CAPAState.OPEN, P.openedAt: to_utc_text(clock()), P.dueDate: due},
        {P.raisedBy: [source.iri]})],
        actor, reason, Command.OPEN_CAPA)
    return resolve(rt, C.CAPA, iri)


def add_action(rt: Session, capa: str, key: str, action_type: str, owner: str, due: str,
               description: str, actor: str, reason: str) -> NodeRecord:
    """Add an action (correction, corrective, preventive) with its owner (a username or person
    key) and due date."""
    c = resolve(rt, C.CAPA, capa)
    person = resolve(rt, C.Person, owner)
    iri = _iri(rt, C.CAPAAction, key)
    _write(rt, [NodeUpsert(C.CAPAAction, key, iri, {
        P.recordNumber: key, P.actionType: action_type, P.actionState: ActionState.PLANNED,
        P.dueDate: due, P.description: description},
        {P.actionOf: [c.iri], P.assignedTo: [person.iri]})], actor, reason, Command.ADD_CAPA_ACTION)
    return resolve(rt, C.CAPAAction, iri)


def complete_action(rt: Session, action: str, actor: str, reason: str,
                    clock: Clock | None = None) -> NodeRecord:
    clock = rt.clock if clock is None else clock
    a = resolve(rt, C.CAPAAction, action)
    _write(rt, [NodeUpsert(C.CAPAAction, a.key, a.iri, {
        P.actionState: ActionState.COMPLETED, P.completedAt: to_utc_text(clock())})], actor, reason,
        Command.COMPLETE_CAPA_ACTION)
    return resolve(rt, C.CAPAAction, a.iri)


def define_check(rt: Session, capa: str, key: str, criterion: str, scope: str, batches: int,
                 description: str, actor: str, reason: str, threshold: float | None = None,
                 due: str | None = None) -> NodeRecord:
    """Define the effectiveness check of a CAPA: criterion, scope (IRI or key of equipment,
    fixture or parameter spec), number of later batches, threshold."""
    c = resolve(rt, C.CAPA, capa)
    target = _scope(rt, scope)
    props: dict[str, StoredValue] = {
        P.recordNumber: key, P.effectivenessCriterion: criterion, P.criterionBatches: batches,
        P.description: description}
    if threshold is not None:
        props[P.criterionThreshold] = float(threshold)
    if due is not None:
        props[P.dueDate] = due
    iri = _iri(rt, C.EffectivenessCheck, key)
    _write(rt, [NodeUpsert(C.EffectivenessCheck, key, iri, props,
                           {P.checkOf: [c.iri], P.criterionScope: [target.iri]})],
           actor, reason, "defineEffectivenessCheck")
    return resolve(rt, C.EffectivenessCheck, iri)


def _scope(rt: Session, ref: str) -> NodeRecord:
    for cls in (C.Equipment, C.Fixture, C.ParameterSpec):
        try:
            return resolve(rt, cls, ref)
        except WorkflowRefused:
            continue
    raise WorkflowRefused("no-such-record", "the scope must be equipment, a fixture or a "
                          "parameter spec", "criterionScope", ref)


def capas_of(store: GraphStore, record: str) -> list[NodeRecord]:
    """CAPAs raised by a record (a deviation)."""
    return sorted(linked_from(store, [record], R.RAISED_BY, C.CAPA).values(),
                  key=lambda n: n.key)


def checks_of(store: GraphStore, capa: str) -> list[NodeRecord]:
    return sorted(linked_from(store, [capa], R.CHECK_OF, C.EffectivenessCheck).values(),
                  key=lambda n: n.key)


def actions_of(store: GraphStore, capa: str) -> list[NodeRecord]:
    return sorted(linked_from(store, [capa], R.ACTION_OF, C.CAPAAction).values(),
                  key=lambda n: n.key)


# -- effectiveness -------------------------------------------------------------------------------
def evaluate(rt: Session, check: str) -> Evaluation:
    """Evaluate an effectiveness check's criterion on the graph as it is now."""
    return evaluate_store(rt.store, resolve(rt, C.EffectivenessCheck, check))


def evaluate_store(store: GraphStore, chk: NodeRecord) -> Evaluation:
    criterion = str(chk.props.get(P.effectivenessCriterion, ""))
    need = int(chk.props.get(P.criterionBatches, 1) or 1)  # type: ignore[arg-type]  # tg:criterionBatches is an xsd:integer property

    def out(result: str, message: str, **kw: object) -> Evaluation:
        return Evaluation(chk.iri, chk.key, criterion, result, message, **kw)  # type: ignore[arg-type]  # kw carries only Evaluation's optional fields

    links = store.links([chk.iri], [R.CHECK_OF, R.CRITERION_SCOPE])
    capa = next((e.dst for e in links if e.type == R.CHECK_OF), None)
    scope = next((e.dst for e in links if e.type == R.CRITERION_SCOPE), None)
    if capa is None or scope is None or not criterion:
        return out(UNPROVEN, "the check names no CAPA, scope or criterion")
    actions = actions_of(store, capa)
    if not actions:
        return out(UNPROVEN, "the CAPA has no actions yet")
    open_ = [a.key for a in actions if a.props.get(P.actionState) not in DONE_ACTION_STATES]
    if open_:
        return out(UNPROVEN, f"actions not completed: {', '.join(open_)}")
    since = max(str(a.props.get(P.completedAt, "")) for a in actions)
    if criterion == EffectivenessCriterion.NO_RECURRENCE:
        return _no_recurrence(store, scope, since, need, out)
    if criterion == EffectivenessCriterion.CPK_AT_LEAST:
        threshold = chk.props.get(P.criterionThreshold)
        if not isinstance(threshold, (int, float)):
            return out(UNPROVEN, "a cpkAtLeast criterion needs a threshold")
        return _cpk(store, scope, since, need, float(threshold), out)
    return out(UNPROVEN, f"unknown criterion {criterion!r}")


def _later_executions(store: GraphStore, scope: str, since: str) -> list[NodeRecord]:
    runs = linked_from(store, [scope], R.ON_EQUIPMENT, C.OperationExecution)
    runs.update(linked_from(store, [scope], R.USED_FIXTURE, C.OperationExecution))
    later = [x for x in runs.values() if str(x.props.get(P.startedAtTime, "")) > since]
    return sorted(later, key=lambda x: (str(x.props.get(P.startedAtTime)), x.iri))


def _no_recurrence(store: GraphStore, scope: str, since: str, need: int,
                   out: _Out) -> Evaluation:
    execs = _later_executions(store, scope, since)
    batch_of: dict[str, list[str]] = {}
    for e in store.links([x.iri for x in execs], [R.FOR_BATCH]) if execs else []:
        batch_of.setdefault(e.src, []).append(e.dst)
    batches: list[str] = []
    used: list[str] = []
    for x in execs:
        new = [b for b in batch_of.get(x.iri, []) if b not in batches]
        if len(batches) >= need:
            break
        batches += new
        used.append(x.iri)
    if len(batches) < need:
        return out(UNPROVEN, f"{len(batches)} of {need} batches made on the scope since the "
                               f"actions were completed ({since})", batches=batches)
    excursions = linked_from(store, used, R.DURING_EXECUTION, C.Excursion)
    if excursions:
        return out(EffectivenessResult.NOT_EFFECTIVE, f"{len(excursions)} excursion(s) recurred "
                   f"in the next {need} batches", batches=batches,
                   findings=sorted(n.iri for n in excursions.values()))
    return out(EffectivenessResult.EFFECTIVE, f"no excursion in the next {need} batches made on "
               "the scope", batches=batches)


def _cpk(store: GraphStore, spec_iri: str, since: str, need: int, threshold: float,
         out: _Out) -> Evaluation:
    spec = store.get(spec_iri)
    lsl = spec.props.get(P.lsl) if spec else None
    usl = spec.props.get(P.usl) if spec else None
    if not isinstance(lsl, (int, float)) or not isinstance(usl, (int, float)):
        return out(UNPROVEN, "the scoped spec has no LSL and USL")
    obs = [o for o in linked_from(store, [spec_iri], R.OBSERVES,
                                  C.ParameterObservation).values()
           if str(o.props.get(P.windowStart, "")) > since]
    obs.sort(key=lambda o: (str(o.props.get(P.windowStart)), o.iri))
    obs = obs[:need]
    if len(obs) < need:
        return out(UNPROVEN, f"{len(obs)} of {need} observations of the spec since the "
                               f"actions were completed ({since})")
    means = [float(o.props.get(P.meanValue, 0.0)) for o in obs]  # type: ignore[arg-type]  # tg:meanValue is an xsd:decimal property
    sds = [float(o.props.get(P.stdDev, 0.0)) for o in obs]  # type: ignore[arg-type]  # tg:stdDev is an xsd:decimal property
    mu = sum(means) / len(means)
    var = sum(s * s for s in sds) / len(sds) + sum((m - mu) ** 2 for m in means) / len(means)
    sigma = math.sqrt(var)
    cpk = math.inf if sigma == 0 else min(float(usl) - mu, mu - float(lsl)) / (3 * sigma)
    execs = [e.dst for e in store.links([o.iri for o in obs], [R.DURING_EXECUTION])]
    batches = sorted({e.dst for e in store.links(execs, [R.FOR_BATCH])}) if execs else []
    result = EffectivenessResult.EFFECTIVE if cpk >= threshold else \
        EffectivenessResult.NOT_EFFECTIVE
    return out(result, f"Cpk {cpk:.2f} over {need} observations (threshold {threshold})",
               batches=batches, value=round(cpk, 4))


def verify_check(rt: Session, check: str, username: str, password: str, reason: str,
                 clock: Clock | None = None) -> Evaluation:
    """Record an effectiveness check's result, evaluated from the graph, signed 'verified' by
    QA. An unproven criterion is refused: there is nothing to record yet."""
    clock = rt.clock if clock is None else clock
    require_user(rt, username, (RoleName.QA,), "verifying an effectiveness check")
    ev = evaluate(rt, check)
    if ev.result == UNPROVEN:
        raise WorkflowRefused("effectiveness-unproven", ev.message, "effectivenessCriterion",
                              ev.key)
    authenticate(rt, username, password, clock, purpose=f"effectiveness check {ev.key}")
    _write(rt, [NodeUpsert(C.EffectivenessCheck, ev.key, ev.check, {
        P.effectivenessResult: ev.result, P.performedAt: to_utc_text(clock())})],
        username, reason, Command.VERIFY_EFFECTIVENESS_CHECK)
    sign(rt, ev.check, username, password, SignatureMeaning.VERIFIED, reason, clock)
    return ev


def closure_problems(store: GraphStore, capa: NodeRecord) -> list[WorkflowRefused]:
    """Why a CAPA cannot close now (empty: it can)."""
    out: list[WorkflowRefused] = []
    open_ = [a.key for a in actions_of(store, capa.iri)
             if a.props.get(P.actionState) not in DONE_ACTION_STATES]
    if open_:
        out.append(WorkflowRefused("actions-open", f"actions not completed: {', '.join(open_)}",
                                   "actionState", open_))
    checks = checks_of(store, capa.iri)
    if not checks:
        out.append(WorkflowRefused("effectiveness-check-missing", "a CAPA closes only with an "
                                   "effectiveness check", "checkOf", capa.key))
    for chk in checks:
        ev = evaluate_store(store, chk)
        if ev.result != EffectivenessResult.EFFECTIVE:
            code = "effectiveness-unproven" if ev.result == UNPROVEN else "not-effective"
            out.append(WorkflowRefused(code, f"effectiveness check {chk.key}: {ev.message}",
                                       "effectivenessCriterion", chk.key))
        elif chk.props.get(P.effectivenessResult) != EffectivenessResult.EFFECTIVE:
            out.append(WorkflowRefused("effectiveness-not-verified", f"effectiveness check "
                                       f"{chk.key} is met but not yet verified by QA",
                                       "effectivenessResult", chk.key))
    return out


def close_capa(rt: Session, capa: str, username: str, password: str, reason: str,
               clock: Clock | None = None) -> NodeRecord:
    """Close a CAPA: every action done and every effectiveness check met (evaluated from the
    graph now) and verified; QA signs the closed record 'approved'."""
    clock = rt.clock if clock is None else clock
    require_user(rt, username, (RoleName.QA,), "closing a CAPA")
    c = resolve(rt, C.CAPA, capa)
    if c.props.get(P.capaState) in CLOSED_CAPA_STATES:
        raise WorkflowRefused("capa-state", f"the CAPA is {c.props.get(P.capaState)}",
                              "capaState", c.props.get(P.capaState))
    problems = closure_problems(rt.store, c)
    if problems:
        raise WorkflowRefused("capa-closure-refused", "; ".join(str(p) for p in problems),
                              "capaState", c.key, [p.problem() for p in problems])
    authenticate(rt, username, password, clock, purpose=f"closure of {c.key}")
    _write(rt, [NodeUpsert(C.CAPA, c.key, c.iri, {P.capaState: CAPAState.CLOSED,
                                                  P.closedAt: to_utc_text(clock())})],
           username, reason, Command.CLOSE_CAPA)
    sign(rt, c.iri, username, password, SignatureMeaning.APPROVED, reason, clock)
    return resolve(rt, C.CAPA, c.iri)


def overdue_actions(rt: Session, today: date, capas: Sequence[str] = (),
                    owners: Sequence[str] = ()) -> list[OverdueAction]:
    """Actions past their due date and not done, of the given CAPAs and/or owners; of the
    whole plant when neither is given."""
    actions: dict[str, NodeRecord] = {}
    if not capas and not owners:
        actions = {a.iri: a for a in rt.store.nodes_of_class(C.CAPAAction)}
    for c in capas:
        actions.update({a.iri: a for a in actions_of(rt.store, resolve(rt, C.CAPA, c).iri)})
    for o in owners:
        actions.update(linked_from(rt.store, [resolve(rt, C.Person, o).iri], R.ASSIGNED_TO,
                                   C.CAPAAction))
    links = rt.store.links(sorted(actions), [R.ACTION_OF, R.ASSIGNED_TO]) if actions else []
    capa_of = {e.src: e.dst for e in links if e.type == R.ACTION_OF}
    owner_of = {e.src: e.dst for e in links if e.type == R.ASSIGNED_TO}
    out = []
    for a in actions.values():
        due = str(a.props.get(P.dueDate, ""))
        state = str(a.props.get(P.actionState, ""))
        if not due or state in DONE_ACTION_STATES or date.fromisoformat(due) >= today:
            continue
        out.append(OverdueAction(a.iri, a.key, capa_of.get(a.iri, ""), owner_of.get(a.iri, ""),
                                 due, state, (today - date.fromisoformat(due)).days))
    return sorted(out, key=lambda x: (-x.days_overdue, x.key))


def raise_change_request(rt: Session, capa: str, key: str, title: str, description: str,
                         change_type: str, affects: Sequence[str], actor: str, reason: str,
                         clock: Clock | None = None) -> NodeRecord:
    """A CAPA raises a change request (Draft) on the records it must change; change control
    (impact, approvals, implementation) takes it from there."""
    clock = rt.clock if clock is None else clock
    c = resolve(rt, C.CAPA, capa)
    targets = [resolve(rt, C.Record, a).iri for a in affects]
    if not targets:
        raise WorkflowRefused("affects-required", "a change request names what it changes",
                              "affects", list(affects))
    iri = _iri(rt, C.ChangeRequest, key)
    _write(rt, [NodeUpsert(C.ChangeRequest, key, iri, {
        P.recordNumber: key, P.title_: title, P.description: description,
        P.changeType: change_type, P.changeState: ChangeState.DRAFT,
        P.openedAt: to_utc_text(clock())},
        {P.raisedBy: [c.iri], P.affects: targets})], actor, reason, Command.RAISE_CHANGE_REQUEST)
    return resolve(rt, C.ChangeRequest, iri)
