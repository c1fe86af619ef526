"""Write guard: deviations follow their lifecycle whatever the write path.

A deviation is raised ``Open`` by the workflows; one created directly in a later state is
accepted (records migrated from a legacy QMS, as for process versions) and every later change
is checked: its grade is fixed once triaged; a state change must be a transition of
:data:`quality.deviations.TRANSITIONS`, its graph prerequisites met and, where the deviation's
grade requires signatures, its approval records signed accordingly. So a capture document (or
any other writer) cannot jump a deviation around the state machine, skip a signature or
downgrade it to skip CAPA.
"""

from __future__ import annotations

from graph.errors import Problem
from graph.write import PendingWrite
from ontology.codes import CAPAState, DeviationState
from ontology.terms import C, P
from quality.capa import closure_problems
from quality.deviations import TRANSITIONS, missing_signatures, step_problems

__all__ = ["capa_closure", "deviation_lifecycle"]


def deviation_lifecycle(pending: PendingWrite) -> list[Problem]:
    problems: list[Problem] = []
    for iri, after in pending.after_of(C.Deviation).items():
        before = pending.before.get(iri)
        new = str(after.props.get(P.deviationState, ""))
        if before is None:  # raised (Open), or migrated from a legacy QMS in its state
            continue
        old = str(before.props.get(P.deviationState, DeviationState.OPEN))
        new = new or DeviationState.OPEN
        grade = after.props.get(P.deviationGrade)
        if old != DeviationState.OPEN and grade != before.props.get(P.deviationGrade):
            problems.append(Problem(
                rule="deviation-grade-frozen", field="deviationGrade", value=grade, focus=iri,
                message=f"the grade is set at triage; a {old} deviation keeps grade "
                        f"{before.props.get(P.deviationGrade)}"))
        if old == new:
            continue
        step = TRANSITIONS.get((old, new))
        if step is None:
            allowed = sorted(t for (s, t) in TRANSITIONS if s == old)
            problems.append(Problem(
                rule="deviation-lifecycle", field="deviationState", value=new, focus=iri,
                message=f"a deviation in state {old} can move to "
                        f"{', '.join(allowed) or 'nothing'}, not {new}"))
            continue
        problems.extend(step_problems(pending.store, after, step))
        rule = step.rule(str(after.props.get(P.deviationGrade, "")))
        if rule is not None:
            problems.extend(missing_signatures(pending.store, after.key, new, rule))
    return problems


def capa_closure(pending: PendingWrite) -> list[Problem]:
    """A CAPA is Closed only with its actions done and its effectiveness proven and verified
    (the same check as :func:`quality.capa.close_capa`), whatever the write path."""
    problems: list[Problem] = []
    for iri, after in pending.after_of(C.CAPA).items():
        if after.props.get(P.capaState) != CAPAState.CLOSED:
            continue
        before = pending.before.get(iri)
        if before is not None and before.props.get(P.capaState) == CAPAState.CLOSED:
            continue
        for refusal in closure_problems(pending.store, after):
            p = refusal.problem()
            problems.append(Problem(rule=p.rule, message=p.message, field=p.field,
                                    value=p.value, focus=iri))
    return problems
