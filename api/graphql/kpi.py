"""GraphQL ``kpis(from, to, lang)``: the quality KPIs of a period (:mod:`quality.kpi`, the same
module as ``tracegraph kpi`` and the explorer's KPI page), each with its name and definition in
the requested language (``en`` or ``zh``; default: the request's ``Accept-Language``); and
``kpiRecords(id, from, to)``: the records behind one (the dashboard's underlying list).
A bad period is ``BAD_INPUT`` naming ``from`` or ``to``."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from api.graphql.types import bad_input, page, runtime_of
from api.graphql.vocabulary import language
from quality.kpi import KPI_IDS, Kpi, KpiError, compute_kpis

__all__ = ["Query"]


@strawberry.type(description="A record behind a KPI.")
class KpiRecord:
    key: str
    iri: str
    cls: str = strawberry.field(name="class")
    value: float | None = strawberry.field(description="Its duration (h or d; rates: null).")
    ok: bool | None = strawberry.field(description="Counts in the rate's numerator (durations: "
                                                   "null).")
    group: str | None = strawberry.field(description="Its group (deviation grade).")
    note: str


@strawberry.type(description="A value of a KPI for one group (deviation cycle time by grade).")
class KpiGroup:
    group: str
    value: float | None


@strawberry.type(description="One KPI of the period: value null when its population is empty.")
class KpiValue:
    id: str
    name: str
    definition: str
    unit: str = strawberry.field(description="h (hours), d (days) or ratio (0..1).")
    value: float | None
    n: int = strawberry.field(description="The population: records behind the value.")
    by_group: list[KpiGroup]

    @classmethod
    def of(cls, k: Kpi, lang: str) -> KpiValue:
        return cls(id=k.id, name=k.name(lang), definition=k.definition(lang), unit=k.unit,
                   value=k.value, n=k.n,
                   by_group=[KpiGroup(group=g, value=v) for g, v in k.by_group.items()])


def _lang(info: Info[Any, None], lang: str | None) -> str:
    return language(info, lang)  # one rule for the reader's language (api.language)


@strawberry.type
class Query:
    @strawberry.field(description="Quality KPIs of the period [from, to) (ISO 8601 dates or "
                                  "date-times, UTC): release lead time, first-pass release "
                                  "rate, rework and scrap rates, exception response time, "
                                  "deviation cycle time by grade, CAPA on-time rate and cycle "
                                  "time, batch-record completeness; each with its definition "
                                  "and the records behind it. ids: " + ", ".join(KPI_IDS))
    def kpis(self, info: Info[Any, None],
             from_: Annotated[str, strawberry.argument(name="from")], to: str,
             lang: str | None = None, ids: list[str] | None = None) -> list[KpiValue]:
        language = _lang(info, lang)
        unknown = [i for i in ids or () if i not in KPI_IDS]
        if unknown:
            raise bad_input("ids", unknown[0], "one of " + ", ".join(KPI_IDS))
        return [KpiValue.of(k, language) for k in _compute(info, from_, to)
                if not ids or k.id in ids]

    @strawberry.field(description="The records behind one KPI of the period (the dashboard's "
                                  "underlying list), at most `first`.")
    def kpi_records(self, info: Info[Any, None], id: str,
                    from_: Annotated[str, strawberry.argument(name="from")], to: str,
                    first: int = 500) -> list[KpiRecord]:
        if id not in KPI_IDS:
            raise bad_input("id", id, "one of " + ", ".join(KPI_IDS))
        n = page("first", first)
        k = next(k for k in _compute(info, from_, to) if k.id == id)
        return [KpiRecord(key=r.key, iri=r.iri, cls=r.cls, value=r.value, ok=r.ok,
                          group=r.group, note=r.note) for r in k.rows[:n]]


def _compute(info: Info[Any, None], start: str, end: str) -> list[Kpi]:
    try:
        return compute_kpis(runtime_of(info).store, start, end)
    except KpiError as e:
        raise bad_input(e.field, e.value, str(e).split(": ", 1)[1]) from None
