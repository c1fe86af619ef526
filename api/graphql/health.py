"""GraphQL for equipment health (issue 17 item 2): ``equipmentHealth`` (the view of
:func:`ingest.signals.health.equipment_health`, the same one ``tracegraph equipment health``
prints) and the maintenance work order commands of :mod:`quality.maintenance`."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.quality import QualityResult, _run
from api.graphql.types import Node, bad_input, not_found, runtime_of, user_of
from graph.errors import RefusedError
from graph.model import NodeRecord
from ingest.signals.health import equipment_health
from ingest.signals.model import text_to_ms
from ontology.codes import WorkOrderState
from ontology.terms import P
from quality import maintenance

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
    forecast_breach_at: str | None
    description: str | None

    @classmethod
    def of(cls, n: NodeRecord) -> WorkOrderView:
        def opt(name: str) -> str | None:
            v = n.props.get(name)
            return None if v is None else str(v)
        return cls(key=n.key, maintenance_type=str(n.props.get(P.maintenanceType, "")),
                   state=str(n.props.get(P.workOrderState, "")), opened_at=opt(P.openedAt),
                   forecast_breach_at=opt(P.forecastBreachAt),
                   description=opt(P.description))


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
    batches_at_risk: list[BatchAtRisk]


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
            h = equipment_health(rt, rt.settings.data_dir / "signals", equipment, when)
        except RefusedError:
            raise not_found("equipment", equipment) from None
        return EquipmentHealthView(
            equipment=h.equipment, name=h.name, state=h.state,
            equipment_status=h.equipment_status, calibration_status=h.calibration_status,
            calibration_due=DueDate(due=h.calibration_due.due, source=h.calibration_due.source,
                                    overdue=h.calibration_due.overdue),
            maintenance_due=DueDate(due=h.maintenance_due.due, source=h.maintenance_due.source,
                                    overdue=h.maintenance_due.overdue),
            parameters=[ParameterHealthView(**vars(p)) for p in h.parameters],
            drift_warnings=[Node.of(n) for n in h.drift_warnings],
            open_work_orders=[WorkOrderView.of(w) for w in h.open_work_orders],
            batches_at_risk=[BatchAtRisk(**vars(a)) for a in h.at_risk])


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
