"""Maintenance work orders and due dates (issue 17 item 2): the graph side of equipment health.

**Work orders** (``tg:MaintenanceWorkOrder``) move Open → InProgress → Done, only through the
workflow commands here (``tg:workOrderState`` is changed by ``openWorkOrder``, ``startWorkOrder``
and ``completeWorkOrder`` alone; the class is command-only, so no capture creates one):

- :func:`open_work_order` — *corrective*: operator or engineer (report a failure); *preventive*
  (planned): engineer; *predictive*: engineer, and only raised by a drift warning (an excursion
  of level ``drift``) on the same equipment, one open predictive order per warning. The order
  carries the breach forecast it was opened on (``tg:forecastBreachAt``).
- :func:`start_work_order` — engineer, Open → InProgress.
- :func:`complete_work_order` — engineer, InProgress → Done with what was done; in the same
  write, the maintenance record (``tg:MaintenanceRecord``) whose due date (performed + the
  equipment's ``tg:maintenanceIntervalDays``) is the next maintenance due.

An operator can therefore neither close a work order nor open a predictive one (its role is
refused, with the field and value named; nothing is written).

**Due dates** (:func:`due_dates`): the next calibration is the latest calibration record's
``tg:calibrationDue``, else its ``tg:performedAt`` + the equipment's
``tg:calibrationIntervalDays``, else the equipment's own ``tg:calibrationDue``; the next
maintenance likewise from maintenance records and ``tg:maintenanceIntervalDays``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from graph.session import Session, write_nodes
from graph.write import NodeUpsert
from ontology.authority import Command
from ontology.codes import ExcursionLevel, MaintenanceType, RoleName, WorkOrderState
from ontology.datatypes import Clock, StoredValue, to_utc_text
from ontology.terms import C, P, R
from quality.workflow import WorkflowRefused, linked_from, require_user, resolve

__all__ = ["OPEN_ROLES", "Due", "complete_work_order", "drift_warnings", "due_dates",
           "equipment_of_excursion", "open_work_order", "start_work_order", "work_orders"]

#: who may open a work order of each maintenance type
OPEN_ROLES: dict[str, tuple[str, ...]] = {
    MaintenanceType.CORRECTIVE: (RoleName.OPERATOR, RoleName.ENGINEER),
    MaintenanceType.PREVENTIVE: (RoleName.ENGINEER,),
    MaintenanceType.PREDICTIVE: (RoleName.ENGINEER,),
}
WORK_ROLES = (RoleName.ENGINEER,)


def _write(rt: Session, nodes: list[NodeUpsert], actor: str, reason: str, command: str,
           event: str) -> None:
    write_nodes(rt, nodes, actor, reason, f"maintenance:{event}", command=command)


def equipment_of_excursion(store: GraphStore, excursion: str) -> str | None:
    """The equipment an excursion was detected on (through its execution)."""
    runs = [e.dst for e in store.links([excursion], [R.DURING_EXECUTION])]
    eq = [e.dst for e in store.links(runs, [R.ON_EQUIPMENT])]
    return eq[0] if eq else None


def open_work_order(rt: Session, username: str, equipment: str, maintenance_type: str,
                    description: str, reason: str, raised_by: str | None = None,
                    forecast_breach: str | None = None, clock: Clock | None = None
                    ) -> NodeRecord:
    """Open a work order on ``equipment`` (IRI or tag); see the module for who may."""
    clock = rt.clock if clock is None else clock
    if maintenance_type not in OPEN_ROLES:
        raise WorkflowRefused("maintenance-type", "the maintenance type must be one of "
                              + ", ".join(OPEN_ROLES), "maintenanceType", maintenance_type)
    require_user(rt, username, OPEN_ROLES[maintenance_type],
                 f"opening a {maintenance_type} work order")
    eq = resolve(rt, C.Equipment, equipment)
    links: dict[str, list[str]] = {P.maintains: [eq.iri]}
    source = _source(rt, raised_by) if raised_by else None
    if maintenance_type == MaintenanceType.PREDICTIVE:
        _check_predictive(rt, eq, source, raised_by)
    if source is not None:
        links[P.raisedBy] = [source.iri]
    opened = to_utc_text(clock())
    digest = hashlib.sha256(f"{eq.key}/{maintenance_type}/{opened}/{raised_by}".encode())
    key = f"MWO-{opened[:10].replace('-', '')}-{digest.hexdigest()[:8]}"
    props: dict[str, StoredValue] = {P.recordNumber: key, P.workOrderState: WorkOrderState.OPEN,
                                P.maintenanceType: maintenance_type, P.openedAt: opened,
                                P.description: description}
    if forecast_breach:
        props[P.forecastBreachAt] = to_utc_text(forecast_breach)
    iri = rt.vocab.mint_iri(C.MaintenanceWorkOrder, key)
    _write(rt, [NodeUpsert(C.MaintenanceWorkOrder, key, iri, props, links)],
           username, reason, Command.OPEN_WORK_ORDER, f"{key}:open")
    return resolve(rt, C.MaintenanceWorkOrder, iri)


def _source(rt: Session, ref: str) -> NodeRecord:
    """The record behind a work order: an IRI, or the key of a drift warning (excursion) or a
    deviation, optionally as ``Excursion/KEY``."""
    if "://" in ref:
        return resolve(rt, C.QualityRecord, ref)
    for cls in (C.Excursion, C.Deviation):
        key = ref.removeprefix(f"{cls}/")
        try:
            return resolve(rt, cls, key)
        except WorkflowRefused:
            continue
    raise WorkflowRefused("no-such-record", "no excursion or deviation has this IRI or key",
                          "raisedBy", ref)


def _check_predictive(rt: Session, eq: NodeRecord, source: NodeRecord | None,
                      raised_by: str | None) -> None:
    if source is None or source.label != C.Excursion \
            or source.props.get(P.excursionLevel) != ExcursionLevel.DRIFT:
        raise WorkflowRefused("predictive-needs-drift", "a predictive work order is raised by "
                              "a drift warning (an excursion of level drift)", "raisedBy",
                              raised_by)
    if equipment_of_excursion(rt.store, source.iri) != eq.iri:
        raise WorkflowRefused("predictive-needs-drift", f"the drift warning is not on "
                              f"{eq.key}", "raisedBy", raised_by)
    already = [w for w in linked_from(rt.store, [source.iri], R.RAISED_BY,
                                      C.MaintenanceWorkOrder).values()
               if w.props.get(P.workOrderState) != WorkOrderState.DONE]
    if already:
        raise WorkflowRefused("work-order-open", f"work order {already[0].key} for this drift "
                              "warning is still open", "raisedBy", raised_by)


def _move(rt: Session, username: str, ref: str, frm: str, to: str, step: str
          ) -> NodeRecord:
    require_user(rt, username, WORK_ROLES, step)
    wo = resolve(rt, C.MaintenanceWorkOrder, ref)
    state = wo.props.get(P.workOrderState)
    if state != frm:
        raise WorkflowRefused("work-order-state", f"{step} needs a work order in state {frm}; "
                              f"{wo.key} is {state}", "workOrderState", state)
    return wo


def start_work_order(rt: Session, username: str, ref: str, reason: str,
                     clock: Clock | None = None) -> NodeRecord:
    clock = rt.clock if clock is None else clock
    wo = _move(rt, username, ref, WorkOrderState.OPEN, WorkOrderState.IN_PROGRESS,
               "starting a work order")
    _write(rt, [NodeUpsert(C.MaintenanceWorkOrder, wo.key, wo.iri, {
        P.workOrderState: WorkOrderState.IN_PROGRESS,
        P.workStartedAt: to_utc_text(clock())})], username, reason,
        Command.START_WORK_ORDER, f"{wo.key}:start")
    return resolve(rt, C.MaintenanceWorkOrder, wo.iri)


def complete_work_order(rt: Session, username: str, ref: str, work_done: str, reason: str,
                        clock: Clock | None = None) -> NodeRecord:
    """Done, with what was done, by whom (linked) and when; writes the maintenance record."""
    clock = rt.clock if clock is None else clock
    if not work_done.strip():
        raise WorkflowRefused("work-done", "say what was done", "workDone", work_done)
    wo = _move(rt, username, ref, WorkOrderState.IN_PROGRESS, WorkOrderState.DONE,
               "completing a work order")
    user = require_user(rt, username, WORK_ROLES, "completing a work order")
    now = clock()
    done = to_utc_text(now)
    eq = [e.dst for e in rt.store.links([wo.iri], [R.MAINTAINS])]
    equipment = rt.store.get(eq[0]) if eq else None
    mr_props: dict[str, StoredValue] = {
        P.recordNumber: f"MR-{wo.key}", P.performedAt: done, P.description: work_done.strip(),
        P.maintenanceType: str(wo.props.get(P.maintenanceType))}
    interval = equipment.props.get(P.maintenanceIntervalDays) if equipment else None
    if isinstance(interval, int) and interval > 0:
        mr_props[P.maintenanceDue] = to_utc_text(now + timedelta(days=interval))
    nodes = [
        NodeUpsert(C.MaintenanceWorkOrder, wo.key, wo.iri, {
            P.workOrderState: WorkOrderState.DONE, P.closedAt: done,
            P.workDone: work_done.strip()}, {P.wasAssociatedWith: [user.iri]}),
        NodeUpsert(C.MaintenanceRecord, f"MR-{wo.key}",
                   rt.vocab.mint_iri(C.MaintenanceRecord, f"MR-{wo.key}"), mr_props,
                   {P.maintains: eq, P.wasAssociatedWith: [user.iri]})]
    _write(rt, nodes, username, reason, Command.COMPLETE_WORK_ORDER, f"{wo.key}:complete")
    return resolve(rt, C.MaintenanceWorkOrder, wo.iri)


def work_orders(store: GraphStore, equipment: str, open_only: bool = False
                ) -> list[NodeRecord]:
    """The equipment's work orders, newest first (``open_only``: not Done)."""
    wos = linked_from(store, [equipment], R.MAINTAINS, C.MaintenanceWorkOrder).values()
    return sorted((w for w in wos if not open_only
                   or w.props.get(P.workOrderState) != WorkOrderState.DONE),
                  key=lambda w: str(w.props.get(P.openedAt, "")), reverse=True)


def drift_warnings(store: GraphStore, equipment: str, active_only: bool = True
                   ) -> list[NodeRecord]:
    """Drift excursions on the equipment (``active_only``: not cleared), newest first."""
    runs = [e.src for e in store.links([equipment], [R.ON_EQUIPMENT], Direction.DOWNSTREAM)]
    exc = store.get_many(sorted({e.src for e in store.links(runs, [R.DURING_EXECUTION],
                                                            Direction.DOWNSTREAM)}))
    return sorted((x for x in exc.values() if x.label == C.Excursion
                   and x.props.get(P.excursionLevel) == ExcursionLevel.DRIFT
                   and not (active_only and x.props.get(P.clearedAt))),
                  key=lambda x: str(x.props.get(P.detectedAt, "")), reverse=True)


@dataclass(frozen=True)
class Due:
    """A next due date (UTC text) and where it came from; ``overdue`` against ``now``."""

    due: str | None
    source: str  # the record or property it was taken from
    overdue: bool


def _latest(store: GraphStore, equipment: str, rel: str, label: str) -> NodeRecord | None:
    recs = [r for r in linked_from(store, [equipment], rel, label).values()
            if r.props.get(P.performedAt)]
    return max(recs, key=lambda r: str(r.props[P.performedAt]), default=None)


def _next(rec: NodeRecord | None, due_prop: str, interval: object) -> str | None:
    if rec is None:
        return None
    if rec.props.get(due_prop):
        return str(rec.props[due_prop])
    if isinstance(interval, int) and interval > 0:
        at = datetime.fromisoformat(str(rec.props[P.performedAt]).replace("Z", "+00:00"))
        return to_utc_text(at + timedelta(days=interval))
    return None


def due_dates(store: GraphStore, equipment: NodeRecord, now: str) -> dict[str, Due]:
    """``calibration`` and ``maintenance``: the next due date of each (see the module)."""
    out: dict[str, Due] = {}
    for name, rel, label, due_prop, interval_prop in (
            ("calibration", R.CALIBRATES, C.Calibration, P.calibrationDue,
             P.calibrationIntervalDays),
            ("maintenance", R.MAINTAINS, C.MaintenanceRecord, P.maintenanceDue,
             P.maintenanceIntervalDays)):
        rec = _latest(store, equipment.iri, rel, label)
        due = _next(rec, due_prop, equipment.props.get(interval_prop))
        source = rec.key if rec is not None and due else ""
        if due is None and equipment.props.get(due_prop):
            due, source = str(equipment.props[due_prop]), f"{equipment.key}.{due_prop}"
        out[name] = Due(due, source, due is not None and due < now)
    return out
