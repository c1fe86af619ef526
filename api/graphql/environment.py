"""GraphQL for environmental monitoring (issue 17 item 1): the room conditions of each
operation of a batch — min / max / mean per room parameter during the operation, samples
beyond the limits and the room excursions — the same numbers as the eDHR and
``tracegraph signals environment`` (:func:`ingest.signals.environment.batch_environment`).
One flat row per operation and room parameter (an operation in no monitored room: one row
without a parameter), so the answer stays a page, not nested lists."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.specs import shown_unit
from api.graphql.types import runtime_of
from graph.model import Direction
from graph.port import GraphStore
from ingest.signals.environment import batch_environment
from ontology.terms import C, R
from quality.workflow import WorkflowRefused

__all__ = ["Query", "RoomCondition"]


@strawberry.type
class RoomCondition:
    execution: str
    room: str | None
    cleanroom_class: str | None
    started_at: str | None
    ended_at: str | None
    parameter: str | None
    unit: str | None
    unit_shown: str | None = strawberry.field(description="The unit as people write it (°C, "
                                                          "%RH, Pa, particles/m³).")
    samples: int
    min: float | None
    max: float | None
    mean: float | None
    lsl: float | None
    usl: float | None
    beyond_spec: int
    within_spec: bool
    excursions: list[str]
    deviations: list[str] = strawberry.field(description="The deviations its excursions "
                                                         "raised.")


def _rows(row: dict[str, Any], devs: dict[str, list[str]]) -> list[RoomCondition]:
    head = {"execution": row["execution"], "room": row["room"],
            "cleanroom_class": row["cleanroomClass"], "started_at": row["startedAt"],
            "ended_at": row["endedAt"]}
    if not row["parameters"]:
        return [RoomCondition(**head, parameter=None, unit=None, unit_shown=None, samples=0,
                              min=None, max=None, deviations=[],
                              mean=None, lsl=None, usl=None, beyond_spec=0, within_spec=True,
                              excursions=[])]
    return [RoomCondition(**head, parameter=p["parameter"], unit=p["unit"],
                          unit_shown=shown_unit(p["unit"], p["parameter"]),
                          samples=p["samples"], min=p["min"], max=p["max"], mean=p["mean"],
                          lsl=p["lsl"], usl=p["usl"], beyond_spec=p["beyondSpec"],
                          within_spec=p["withinSpec"],
                          excursions=[e["excursion"] for e in p["excursions"]],
                          deviations=sorted({d for e in p["excursions"]
                                             for d in devs.get(e["excursion"], [])}))
            for p in row["parameters"]]


@strawberry.type
class Query:
    @strawberry.field(description="The room conditions of each operation of a batch, one row "
                                  "per operation and room parameter (min, max, mean, samples "
                                  "beyond the limits, room excursions); null when no batch "
                                  "has this identifier.")
    def batch_environment(self, info: Info[Any, None], batch: str
                          ) -> list[RoomCondition] | None:
        rt = runtime_of(info)
        try:
            rows = batch_environment(rt, rt.settings.data_dir, batch)
        except WorkflowRefused:
            return None
        devs = _deviations(rt.store, rows)
        return [c for r in rows for c in _rows(r, devs)]


def _deviations(store: GraphStore, rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Excursion key → the keys of the deviations it raised."""
    keys = {e["excursion"] for r in rows for p in r["parameters"] for e in p["excursions"]}
    if not keys:
        return {}
    exc = {h.iri: h.key for k in sorted(keys) for h in store.find(k, label=C.Excursion)}
    edges = store.links(list(exc), [R.RAISED_BY], Direction.DOWNSTREAM)
    devs = store.get_many({e.src for e in edges})
    out: dict[str, list[str]] = {}
    for e in edges:
        d = devs.get(e.src)
        if d is not None and d.label == C.Deviation:
            out.setdefault(exc[e.dst], []).append(d.key)
    return out
