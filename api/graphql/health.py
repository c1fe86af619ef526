"""GraphQL for equipment health (issue 17 item 2): ``equipmentHealth`` (the view of
:func:`ingest.signals.health.equipment_health`, the same one ``tracegraph equipment health``
prints), ``equipmentList`` (every piece of equipment with that view's state; the explorer's
equipment page) and the maintenance work order commands of :mod:`quality.maintenance`."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.quality import QualityResult, _run
from api.graphql.types import Node, bad_input, not_found, runtime_of, user_of
from graph.errors import RefusedError
from graph.model import NodeRecord
from graph.port import GraphStore
from ingest.signals.health import equipment_health
from ingest.signals.model import text_to_ms
from ontology.codes import WorkOrderState
from ontology.terms import C, P, R
from quality import maintenance
from quality.maintenance import Due, work_orders
from quality.workflow import resolve

__all__ = ["EquipmentHealthView", "Mutation", "Query"]


@strawberry.type
class DueDate:
    due: str | None
    source: str = strawberry.field(description="The record (or equipment property) it is "
                                               "taken from.")
    overdue: bool


@strawberry.type
class ParameterHealthView:
    parameter: str
    samples: int = strawberry.field(description="Good samples in the forecast window.")
    last_value: float | None
    last_at: str | None
    ewma: float | None = strawberry.field(description="Standardised EWMA statistic (null: "
                                                      "the parameter is not watched for drift).")
    ewma_limit: float | None
    cusum_high: float | None
    cusum_low: float | None
    drifting_since: str | None
    limit: float | None = strawberry.field(description="The limit the trend heads for.")
    breach_at: str | None = strawberry.field(description="Forecast: the least-squares trend "
                                                         "reaches the limit.")
    breach_earliest: str | None
    breach_latest: str | None


@strawberry.type
class BatchAtRisk:
    execution: str
    batch: str | None
    started: str
    expected_end: str
    breach_at: str | None
    alarm: str | None = strawberry.field(description="The warning written at its start.")


@strawberry.type
class WorkOrderView:
    key: str
    maintenance_type: str
    state: str
    opened_at: str | None
    opened_by: str | None = strawberry.field(description="Who opened it (its first audit "
                                                         "entry).")
    raised_by: str | None = strawberry.field(description="The drift warning or deviation it "
                                                         "was raised by.")
    forecast_breach_at: str | None
    description: str | None
    started_at: str | None
    closed_at: str | None
    done_by: str | None = strawberry.field(description="Who completed it.")
    work_done: str | None

    @classmethod
    def of(cls, n: NodeRecord, store: GraphStore | None = None) -> WorkOrderView:
        def opt(name: str) -> str | None:
            v = n.props.get(name)
            return None if v is None else str(v)

        def key_of(rel: str) -> str | None:
            if store is None:
                return None
            hit = store.get_many(e.dst for e in store.links([n.iri], [rel]))
            return next((x.key for x in hit.values()), None)
        first = store.audit_entries(record=n.iri, limit=1) if store is not None else []
        return cls(key=n.key, maintenance_type=str(n.props.get(P.maintenanceType, "")),
                   state=str(n.props.get(P.workOrderState, "")), opened_at=opt(P.openedAt),
                   opened_by=first[0].actor if first else None, raised_by=key_of(R.RAISED_BY),
                   forecast_breach_at=opt(P.forecastBreachAt),
                   description=opt(P.description), started_at=opt(P.workStartedAt),
                   closed_at=opt(P.closedAt), done_by=key_of(R.WAS_ASSOCIATED_WITH),
                   work_done=opt(P.workDone))


@strawberry.type
class EquipmentHealthView:
    equipment: str
    name: str
    state: str = strawberry.field(description="ok, drifting, breachForecast or overdue.")
    equipment_status: str | None
    calibration_status: str | None
    calibration_due: DueDate
    maintenance_due: DueDate
    parameters: list[ParameterHealthView]
    drift_warnings: list[Node]
    open_work_orders: list[WorkOrderView]
    work_orders: list[WorkOrderView] = strawberry.field(description="Every work order on it "
                                                                    "(Done ones too: who did "
                                                                    "what, when), newest "
                                                                    "first.")
    batches_at_risk: list[BatchAtRisk]


@strawberry.type
class EquipmentHealthRow:
    equipment: str
    name: str
    state: str = strawberry.field(description="ok, drifting, breachForecast or overdue.")
    equipment_status: str | None
    calibration_due: DueDate
    maintenance_due: DueDate
    drift_warnings: int
    open_work_orders: int
    batches_at_risk: int
    breach_at: str | None = strawberry.field(description="The earliest forecast breach of its "
                                                         "parameters.")


@strawberry.type
class Query:
    @strawberry.field(description="Equipment health: state, drift statistics, next calibration "
                                  "and maintenance due, forecast breach, open work orders, "
                                  "batches at risk.")
    def equipment_health(self, info: Info[Any, None], equipment: str,
                         at: str | None = None) -> EquipmentHealthView:
        rt = runtime_of(info)
        try:
            when = text_to_ms(at) if at else None
        except ValueError:
            raise bad_input("at", at, "an ISO 8601 date-time with time zone") from None
        try:
            eq = resolve(rt, C.Equipment, equipment)
            h = equipment_health(rt, rt.settings.data_dir / "signals", eq.iri, when)
        except RefusedError:
            raise not_found("equipment", equipment) from None
        return EquipmentHealthView(
            equipment=h.equipment, name=h.name, state=h.state,
            equipment_status=h.equipment_status, calibration_status=h.calibration_status,
            calibration_due=_due(h.calibration_due), maintenance_due=_due(h.maintenance_due),
            parameters=[ParameterHealthView(**vars(p)) for p in h.parameters],
            drift_warnings=[Node.of(n) for n in h.drift_warnings],
            open_work_orders=[WorkOrderView.of(w, rt.store) for w in h.open_work_orders],
            work_orders=[WorkOrderView.of(w, rt.store) for w in work_orders(rt.store, eq.iri)],
            batches_at_risk=[BatchAtRisk(**vars(a)) for a in h.at_risk])

    @strawberry.field(description="Every piece of equipment with its health state (the "
                                  "equipmentHealth view's state, next due dates and counts), "
                                  "worst first.")
    def equipment_list(self, info: Info[Any, None]) -> list[EquipmentHealthRow]:
        rt = runtime_of(info)
        rows = []
        for eq in rt.store.nodes_of_class(C.Equipment):
            h = equipment_health(rt, rt.settings.data_dir / "signals", eq.iri)
            rows.append(EquipmentHealthRow(
                equipment=h.equipment, name=h.name, state=h.state,
                equipment_status=h.equipment_status, calibration_due=_due(h.calibration_due),
                maintenance_due=_due(h.maintenance_due), drift_warnings=len(h.drift_warnings),
                open_work_orders=len(h.open_work_orders), batches_at_risk=len(h.at_risk),
                breach_at=min((p.breach_at for p in h.parameters if p.breach_at),
                              default=None)))
        return sorted(rows, key=lambda r: (STATE_ORDER.get(r.state, 0), r.equipment))


#: the list's order: the states that need someone first
STATE_ORDER = {"overdue": -3, "breachForecast": -2, "drifting": -1, "ok": 0}


def _due(d: Due) -> DueDate:
    return DueDate(due=d.due, source=d.source, overdue=d.overdue)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Open a maintenance work order (corrective: operator or "
                                     "engineer; preventive and predictive: engineer; predictive "
                                     "only raised by a drift warning).")
    def open_work_order(self, info: Info[Any, None], equipment: str, maintenance_type: str,
                        description: str, reason: str, raised_by: str | None = None,
                        forecast_breach_at: str | None = None) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: maintenance.open_work_order(
            rt, user_of(info).username, equipment, maintenance_type, description, reason,
            raised_by, forecast_breach_at), state=WorkOrderState.OPEN)

    @strawberry.mutation(description="Start a work order (engineer): Open → InProgress.")
    def start_work_order(self, info: Info[Any, None], work_order: str,
                         reason: str) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: maintenance.start_work_order(rt, user_of(info).username, work_order,
                                                         reason),
                    state=WorkOrderState.IN_PROGRESS)

    @strawberry.mutation(description="Complete a work order (engineer) with what was done; "
                                     "writes the maintenance record.")
    def complete_work_order(self, info: Info[Any, None], work_order: str, work_done: str,
                            reason: str) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: maintenance.complete_work_order(rt, user_of(info).username,
                                                            work_order, work_done, reason),
                    state=WorkOrderState.DONE)
