""""My work": what waits for the signed-in user, by role, and the plant's open exceptions.

Every section is a worklist of :mod:`quality.worklists` with the filter that selects what the
user's roles may act on, so the home page and the lists cannot disagree:

- deviations in a state from which the deviation lifecycle (:data:`quality.deviations.
  TRANSITIONS`) lets one of the user's roles take a step: QC and QA triage new ones, QA
  approves, verifies and closes, engineers investigate;
- holds still active (QA dispositions them, :func:`quality.dispositions.dispose`);
- batches awaiting release (QA releases; the batch worklist counts their exceptions);
- change requests still waiting for an approval in one of the user's roles
  (:data:`quality.change_control.APPROVERS`);
- active (unacknowledged) alarms and material lots in quarantine to decide (QC;
  :data:`quality.lots.LOT_DECIDERS`);
- the CAPA actions assigned to the user that are not done, overdue first (anyone who owns one).

An operator has none of these by role: their home page shows the plant's open exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graph.session import Session
from ontology.codes import (
    OPEN_DEVIATION_STATES,
    AlarmState,
    HoldState,
    MaterialLotStatus,
    RoleName,
)
from ontology.terms import C, P
from quality import worklists as W
from quality.change_control import APPROVERS
from quality.deviations import TRANSITIONS
from quality.lots import LOT_DECIDERS
from quality.paging import Page, Sort, paginate

__all__ = ["MyWork", "OpenExceptions", "WorkItem", "WorkSection", "lots_to_decide", "my_work",
           "open_exceptions"]

DISPOSERS = frozenset({RoleName.QA})  # quality.dispositions.dispose
RELEASERS = frozenset({RoleName.QA})  # quality.release.release_batch


@dataclass
class WorkItem:
    iri: str
    key: str
    class_name: str
    title: str | None = None
    state: str | None = None
    due_date: str | None = None
    overdue: bool = False
    detail: str | None = None


@dataclass
class WorkSection:
    #: deviations | holds | batches | changes | alarms | lots | actions
    kind: str
    total: int
    items: list[WorkItem] = field(default_factory=list)


@dataclass
class OpenExceptions:
    open_deviations: int
    critical_deviations: int
    active_holds: int
    open_capas: int
    overdue_actions: int
    changes_awaiting_approval: int
    batches_awaiting_release: int
    active_alarms: int


@dataclass
class MyWork:
    username: str
    roles: list[str]
    sections: list[WorkSection]
    plant: OpenExceptions


def actionable_states(roles: frozenset[str]) -> list[str]:
    """Open deviation states from which one of ``roles`` may take a lifecycle step."""
    return sorted({s.source for s in TRANSITIONS.values()
                   if s.roles & roles and s.source in OPEN_DEVIATION_STATES})


def lots_to_decide(rt: Session, first: int = 20, after: str | None = None) -> Page[WorkItem]:
    """Material lots in quarantine (awaiting a QC/QA decision), oldest receipt first."""
    rows = [WorkItem(n.iri, n.key, n.label, state=str(n.props.get(P.materialLotStatus)),
                     detail=str(n.props.get(P.receivedAt, "")) or None)
            for n in rt.store.nodes_of_class(C.MaterialLot)
            if n.props.get(P.materialLotStatus) == MaterialLotStatus.QUARANTINE]
    return paginate(rows, Sort("receivedAt"), lambda r: r.detail, lambda r: r.iri, first, after)


def open_exceptions(rt: Session) -> OpenExceptions:
    """Counts of the plant's open exceptions (each the total of its worklist)."""
    return OpenExceptions(
        open_deviations=W.deviations(rt, open_only=True, first=0).total,
        critical_deviations=W.deviations(rt, open_only=True, grades=["critical"],
                                         first=0).total,
        active_holds=W.holds(rt, active_only=True, first=0).total,
        open_capas=W.capas(rt, open_only=True, first=0).total,
        overdue_actions=W.actions(rt, overdue=True, first=0).total,
        changes_awaiting_approval=sum(1 for n in rt.store.nodes_of_class(C.ChangeRequest)
                                      if W.awaiting_approval(rt.store, n)),
        batches_awaiting_release=W.batches(rt, awaiting_release=True, first=0).total,
        active_alarms=W.alarms(rt, states=[AlarmState.ACTIVE], first=0).total)


def my_work(rt: Session, username: str, roles: frozenset[str], first: int = 10) -> MyWork:
    """The sections of work waiting for ``username`` (holding ``roles``), each with its total
    and its first ``first`` items, and the plant's open exceptions."""
    out: list[WorkSection] = []
    states = actionable_states(roles)
    if states:
        p = W.deviations(rt, states=states, sort=Sort("openedAt"), first=first)
        out.append(WorkSection("deviations", p.total, [
            WorkItem(r.iri, r.key, C.Deviation, r.title, r.state, r.due_date, r.overdue,
                     r.grade) for r in p.rows]))
    if roles & DISPOSERS:
        h = W.holds(rt, states=[HoldState.ACTIVE], sort=Sort("openedAt"), first=first)
        out.append(WorkSection("holds", h.total, [
            WorkItem(r.iri, r.key, C.Hold, None, r.state, detail=", ".join(r.held))
            for r in h.rows]))
    if roles & RELEASERS:
        b = W.batches(rt, awaiting_release=True, sort=Sort("manufacturedAt"), first=first,
                      exception_counts=False)  # the worklist shows them
        out.append(WorkSection("batches", b.total, [
            WorkItem(r.iri, r.key, C.Batch, r.product, r.status) for r in b.rows]))
    mine = sorted(roles & set(APPROVERS))
    if mine:
        crs = [r for role in mine for r in W.change_requests(
            rt, awaiting_role=role, sort=Sort("openedAt"), first=500).rows]
        unique = list({r.iri: r for r in crs}.values())
        out.append(WorkSection("changes", len(unique), [
            WorkItem(r.iri, r.key, C.ChangeRequest, r.title, r.state,
                     detail=", ".join(r.awaiting)) for r in unique[:first]]))
    if RoleName.QC in roles:
        a = W.alarms(rt, states=[AlarmState.ACTIVE], sort=Sort("openedAt", True), first=first)
        out.append(WorkSection("alarms", a.total, [
            WorkItem(r.iri, r.key, C.Alarm, None, r.state, detail=r.priority)
            for r in a.rows]))
    if roles & LOT_DECIDERS:
        lots = lots_to_decide(rt, first)
        out.append(WorkSection("lots", lots.total, lots.rows))
    act = W.actions(rt, owner=username, open_only=True, sort=Sort("dueDate"), first=first)
    if act.total or RoleName.ENGINEER in roles:
        out.append(WorkSection("actions", act.total, [
            WorkItem(r.iri, r.key, C.CAPAAction, r.capa, r.state, r.due_date, r.overdue,
                     r.action_type) for r in act.rows]))
    return MyWork(username, sorted(roles), out, open_exceptions(rt))
