"""GraphQL for recall: everything downstream of seeds in one traversal (batches, units,
packages, shipments and customers, each with the path that explains it) and the equipment-window
impact (executions on an equipment during a window, their batches, and their recall).

Units are paged by ``unitLimit``; the full lists are in the export (``POST /api/recall``,
:mod:`api.routes.recall`). :class:`Recall` is also the shape of a deviation's impact and of the
released part of a change's impact.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.as_of import past_at, runtime_at
from api.graphql.types import (
    MAX_SEEDS,
    Node,
    Stat,
    as_json,
    bad_input,
    not_found,
    page,
    resolve_one,
)
from graph.recall import Affected as AffectedRecord
from graph.recall import AffectedCustomer, RecallAnswer

__all__ = ["Affected", "EquipmentImpact", "ExposedExecution", "MeasuredResult", "Query", "Recall"]


@strawberry.type
class Affected:
    iri: str
    class_name: str = strawberry.field(name="class")
    key: str
    depth: int
    witness: list[str]
    properties: JSON

    @classmethod
    def of(cls, a: AffectedRecord) -> Affected:
        return cls(iri=a.iri, class_name=a.cls, key=a.key, depth=a.depth, witness=a.witness,
                   properties=as_json(a.properties))


# the recall's customer record itself is the GraphQL type (one definition)
strawberry.type(AffectedCustomer)


@strawberry.type
class Recall:
    watermark: int
    seeds: list[str]
    unknown_seeds: list[str]
    counts: list[Stat]
    batches: list[Affected]
    units_total: int
    units: list[Affected]
    packages: list[Affected]
    shipments: list[Affected]
    customers: list[AffectedCustomer]

    @classmethod
    def of(cls, a: RecallAnswer) -> Recall:
        return cls(
            watermark=a.watermark, seeds=a.seeds, unknown_seeds=a.unknown_seeds,
            counts=[Stat(label=k, count=v) for k, v in a.counts.items()],
            batches=[Affected.of(x) for x in a.batches], units_total=a.units_total,
            units=[Affected.of(x) for x in a.units],
            packages=[Affected.of(x) for x in a.packages],
            shipments=[Affected.of(x) for x in a.shipments],
            customers=a.customers)


@strawberry.type
class ExposedExecution:
    execution: Node
    batches: list[str]


@strawberry.type
class MeasuredResult:
    result: Node
    inspected: list[str]


@strawberry.type
class EquipmentImpact:
    equipment: str
    window_start: str
    window_end: str
    executions: list[ExposedExecution]
    results: list[MeasuredResult]
    recall: Recall


@strawberry.type
class Query:
    @strawberry.field(description="Equipment-window impact: executions on the equipment or "
                                  "fixture during [from, to] (e.g. out of calibration), their "
                                  "batches, the inspection results measured with it then and "
                                  "what they inspected, and everything downstream, as a recall.")
    def equipment_impact(self, info: Info[Any, None], equipment: str,
                         window_start: Annotated[str, strawberry.argument(name="from")],
                         window_end: Annotated[str, strawberry.argument(name="to")],
                         unit_limit: int = 100, as_of: str | None = None) -> EquipmentImpact:
        from ontology.datatypes import TypeRuleError

        rt = runtime_at(info, as_of)  # issue 18 item 4: as known at
        node = resolve_one(rt, equipment)
        if node is None:
            raise not_found("equipment", equipment)
        try:
            impact = rt.equipment_impact(node.iri, window_start, window_end,
                                         page("unitLimit", unit_limit))
        except TypeRuleError as e:
            raise bad_input("from/to", e.value, e.rule) from None
        at = past_at(rt)  # the nested links as known at asOf too
        return EquipmentImpact(
            equipment=node.iri, window_start=window_start, window_end=window_end,
            executions=[ExposedExecution(execution=Node.of(x.execution, at),
                                         batches=list(x.batches))
                        for x in impact.executions],
            results=[MeasuredResult(result=Node.of(m.result, at), inspected=list(m.inspected))
                     for m in impact.results],
            recall=Recall.of(impact.recall))

    @strawberry.field(description="Bulk recall: everything downstream of the seeds (any "
                                  "identifiers), in one traversal. Units are paged by "
                                  "unitLimit; the full list is in the export (/api/recall).")
    def recall(self, info: Info[Any, None], seeds: list[str], unit_limit: int = 100,
               as_of: str | None = None) -> Recall:
        if len(seeds) > MAX_SEEDS:
            raise bad_input("seeds", len(seeds), f"at most {MAX_SEEDS} seeds per request")
        return Recall.of(runtime_at(info, as_of).recall(seeds,
                                                        unit_limit=page("unitLimit", unit_limit)))
