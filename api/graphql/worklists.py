"""The worklists as Relay-style connections (``edges { cursor node }``, ``pageInfo``,
``totalCount``) and the signed-in user's "my work": a thin layer over :mod:`quality.worklists`
and :mod:`quality.my_work`, which hold every filter, order and cursor.

Filters on codes take the ontology's code-list enums (:mod:`api.graphql.enums`); ``sortBy``
names one of the list's sort fields (the first is the default, each list has its default
direction), ``descending`` turns it. A cursor is opaque: pass ``pageInfo.endCursor`` as
``after`` for the next page, with the same order. A cursor of another order, a cursor that does
not decode, an unknown sort field or a filter naming no record is ``BAD_INPUT`` naming the
argument.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.types import Info

from api.graphql.enums import (
    ActionState,
    AlarmPriority,
    AlarmState,
    BatchStatus,
    CAPAState,
    ChangeState,
    DeviationGrade,
    DeviationState,
    ExcursionLevel,
    HoldState,
    RoleName,
)
from api.graphql.types import bad_input, runtime_of, user_of
from quality import my_work as M
from quality import paging
from quality import worklists as W
from quality.paging import Page, Sort, WorklistError

__all__ = ["Query"]

T = TypeVar("T")

# the domain rows are the GraphQL types (their fields are exactly the answer); mypy does not
# see the result of strawberry.type() as a type: the annotations that use them say
# "registered row type"
DeviationItem = strawberry.type(paging.DeviationRow, name="DeviationItem",
                                description="A deviation in a worklist; owner = who opened "
                                            "it, age in whole days since it was opened.")
HoldItem = strawberry.type(paging.HoldRow, name="HoldItem",
                           description="A hold: what it holds (keys, classes) and why.")
CapaItem = strawberry.type(paging.CapaRow, name="CapaItem",
                           description="A CAPA with its open and overdue actions.")
CapaActionItem = strawberry.type(paging.ActionRow, name="CapaActionItem",
                                 description="A CAPA action; owner = the username it is "
                                             "assigned to.")
ChangeRequestItem = strawberry.type(paging.ChangeRow, name="ChangeRequestItem",
                                    description="A change request; awaiting = the roles whose "
                                                "signed approval it still needs.")
BatchItem = strawberry.type(paging.BatchRow, name="BatchItem",
                            description="A batch; exceptionCount = the exceptions of its "
                                        "release report (batches awaiting release only).")
ExcursionItem = strawberry.type(paging.ExcursionRow, name="ExcursionItem",
                                description="An excursion with its equipment and deviations.")
AlarmItem = strawberry.type(paging.AlarmRow, name="AlarmItem", description="An alarm.")
WorkItem = strawberry.type(M.WorkItem, name="WorkItem",
                           description="A record waiting for the user; detail: the grade, "
                                       "what a hold holds, a batch's exception count, the "
                                       "roles a change awaits …")
OpenExceptions = strawberry.type(M.OpenExceptions, name="OpenExceptions",
                                 description="The plant's open exceptions.")


@strawberry.type(description="One kind of work (deviations, holds, batches, changes, alarms, "
                             "lots, actions): its total and first items.")
class WorkSection:
    kind: str
    total: int
    found: strawberry.Private[list[M.WorkItem]]

    @strawberry.field(description="The first items (at most myWork's first).")
    def items(self, first: int = 10) -> list[WorkItem]:  # type: ignore[valid-type]  # registered row type
        if not 0 <= first <= paging.MAX_FIRST:
            raise bad_input("first", first, f"0 to {paging.MAX_FIRST} items")
        return self.found[:first]


@strawberry.type
class MyWork:
    username: str
    roles: list[str]
    sections: list[WorkSection]
    plant: OpenExceptions  # type: ignore[valid-type]  # registered row type

    @classmethod
    def of(cls, w: M.MyWork) -> MyWork:
        return cls(username=w.username, roles=w.roles, plant=w.plant,
                   sections=[WorkSection(kind=s.kind, total=s.total, found=s.items)
                             for s in w.sections])


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, p: Page[Any]) -> Connection[Any]:
        return cls(edges=[Edge(cursor=c, node=r) for c, r in zip(p.cursors, p.rows,
                                                                  strict=True)],
                   page_info=PageInfo(has_next_page=p.has_next, has_previous_page=p.has_previous,
                                      end_cursor=p.end_cursor),
                   total_count=p.total)


def _run(call: Callable[[], Page[Any]]) -> Connection[Any]:
    try:
        return Connection.of(call())
    except WorklistError as e:
        raise bad_input(e.field, e.value, e.rule) from None


def _asks(info: Info[Any, None], name: str) -> bool:
    """Whether the query selects the field ``name`` anywhere under this field."""
    def walk(fields: list[Any]) -> bool:
        return any(getattr(f, "name", None) == name or walk(getattr(f, "selections", []))
                   for f in fields)
    return walk(list(info.selected_fields))


def _default_sort(sort_by: str | None, descending: bool | None, default: str) -> Sort | None:
    """The order asked for; ``None`` (the list's default order) when neither is given."""
    if sort_by is None and descending is None:
        return None
    return Sort(sort_by or default, bool(descending))


@strawberry.type
class Query:
    @strawberry.field(description="Deviations, filtered and sorted, one page. Sort fields: "
                      + ", ".join(W.SORTS["deviations"]) + " (default openedAt descending).")
    def deviations(self, info: Info[Any, None], state: list[DeviationState] | None = None,
                   grade: list[DeviationGrade] | None = None, open_only: bool = False,
                   min_age_days: int | None = None, max_age_days: int | None = None,
                   owner: str | None = None, equipment: str | None = None,
                   product: str | None = None, sort_by: str | None = None,
                   descending: bool | None = None, first: int = 20, after: str | None = None
                   ) -> Connection[DeviationItem]:  # type: ignore[valid-type]  # registered row type
        rt = runtime_of(info)
        return _run(lambda: W.deviations(
            rt, states=state or (), grades=grade or (), open_only=open_only,
            min_age_days=min_age_days, max_age_days=max_age_days, owner=owner,
            equipment=equipment, product=product,
            sort=_default_sort(sort_by, descending, "openedAt"), first=first, after=after))

    @strawberry.field(description="Holds, one page. Sort fields: "
                      + ", ".join(W.SORTS["holds"]) + " (default openedAt descending).")
    def holds(self, info: Info[Any, None], state: list[HoldState] | None = None,
              active_only: bool = False, held: str | None = None,
              held_class: str | None = None, since: str | None = None,
              sort_by: str | None = None, descending: bool | None = None, first: int = 20,
              after: str | None = None) -> Connection[HoldItem]:  # type: ignore[valid-type]  # registered row type
        rt = runtime_of(info)
        return _run(lambda: W.holds(
            rt, states=state or (), active_only=active_only, held=held, held_class=held_class,
            since=since, sort=_default_sort(sort_by, descending, "openedAt"), first=first,
            after=after))

    @strawberry.field(description="CAPAs, one page. Sort fields: "
                      + ", ".join(W.SORTS["capas"]) + " (default dueDate ascending).")
    def capas(self, info: Info[Any, None], state: list[CAPAState] | None = None,
              open_only: bool = False, overdue: bool | None = None,
              due_before: str | None = None, sort_by: str | None = None,
              descending: bool | None = None, first: int = 20, after: str | None = None
              ) -> Connection[CapaItem]:  # type: ignore[valid-type]  # registered row type
        rt = runtime_of(info)
        return _run(lambda: W.capas(
            rt, states=state or (), open_only=open_only, overdue=overdue, due_before=due_before,
            sort=_default_sort(sort_by, descending, "dueDate"), first=first, after=after))

    @strawberry.field(description="CAPA actions, one page; owner = a username. Sort fields: "
                      + ", ".join(W.SORTS["actions"]) + " (default dueDate ascending).")
    def capa_actions(self, info: Info[Any, None], state: list[ActionState] | None = None,
                     owner: str | None = None, capa: str | None = None,
                     overdue: bool | None = None, open_only: bool = False,
                     due_before: str | None = None, sort_by: str | None = None,
                     descending: bool | None = None, first: int = 20,
                     after: str | None = None
                     ) -> Connection[CapaActionItem]:  # type: ignore[valid-type]  # registered row type
        rt = runtime_of(info)
        return _run(lambda: W.actions(
            rt, states=state or (), owner=owner, capa=capa, overdue=overdue,
            open_only=open_only, due_before=due_before,
            sort=_default_sort(sort_by, descending, "dueDate"), first=first, after=after))

    @strawberry.field(description="Change requests, one page; awaitingRole = still waiting "
                      "for an approval in that role. Sort fields: "
                      + ", ".join(W.SORTS["changes"]) + " (default openedAt descending).")
    def change_requests(self, info: Info[Any, None], state: list[ChangeState] | None = None,
                        awaiting_role: RoleName | None = None, sort_by: str | None = None,
                        descending: bool | None = None, first: int = 20,
                        after: str | None = None
                        ) -> Connection[ChangeRequestItem]:  # type: ignore[valid-type]  # registered row type
        rt = runtime_of(info)
        return _run(lambda: W.change_requests(
            rt, states=state or (), awaiting_role=None if awaiting_role is None
            else str(awaiting_role), sort=_default_sort(sort_by, descending, "openedAt"),
            first=first, after=after))

    @strawberry.field(description="Batches, one page; awaitingRelease = Completed or OnHold, "
                      "each with its release report's exception count (computed only when "
                      "exceptionCount is asked: a report reads the batch's upstream). "
                      "Sort fields: "
                      + ", ".join(W.SORTS["batches"]) + " (default manufacturedAt "
                      "descending).")
    def batches(self, info: Info[Any, None], status: list[BatchStatus] | None = None,
                awaiting_release: bool = False, product: str | None = None,
                sort_by: str | None = None, descending: bool | None = None, first: int = 20,
                after: str | None = None) -> Connection[BatchItem]:  # type: ignore[valid-type]  # registered row type
        rt = runtime_of(info)
        counts = _asks(info, "exceptionCount")
        return _run(lambda: W.batches(
            rt, statuses=status or (), awaiting_release=awaiting_release, product=product,
            sort=_default_sort(sort_by, descending, "manufacturedAt"), first=first,
            after=after, exception_counts=counts))

    @strawberry.field(description="Excursions, one page. Sort fields: "
                      + ", ".join(W.SORTS["excursions"]) + " (default detectedAt "
                      "descending).")
    def excursions(self, info: Info[Any, None], level: list[ExcursionLevel] | None = None,
                   since: str | None = None, equipment: str | None = None,
                   sort_by: str | None = None, descending: bool | None = None,
                   first: int = 20, after: str | None = None
                   ) -> Connection[ExcursionItem]:  # type: ignore[valid-type]  # registered row type
        rt = runtime_of(info)
        return _run(lambda: W.excursions(
            rt, levels=level or (), since=since, equipment=equipment,
            sort=_default_sort(sort_by, descending, "detectedAt"), first=first, after=after))

    @strawberry.field(description="Alarms, one page. Sort fields: "
                      + ", ".join(W.SORTS["alarms"]) + " (default openedAt descending).")
    def alarms(self, info: Info[Any, None], state: list[AlarmState] | None = None,
               priority: list[AlarmPriority] | None = None, since: str | None = None,
               sort_by: str | None = None, descending: bool | None = None, first: int = 20,
               after: str | None = None) -> Connection[AlarmItem]:  # type: ignore[valid-type]  # registered row type
        rt = runtime_of(info)
        return _run(lambda: W.alarms(
            rt, states=state or (), priorities=priority or (), since=since,
            sort=_default_sort(sort_by, descending, "openedAt"), first=first, after=after))

    @strawberry.field(description="What waits for the signed-in user, by role (each section's "
                                  "total and first items), and the plant's open exceptions.")
    def my_work(self, info: Info[Any, None], first: int = 10) -> MyWork:
        if not 0 <= first <= paging.MAX_FIRST:
            raise bad_input("first", first, f"0 to {paging.MAX_FIRST} items per section")
        user = user_of(info)
        return MyWork.of(M.my_work(runtime_of(info), user.username, frozenset(user.roles),
                                   first))

    @strawberry.field(description="The plant's open exceptions (counts).")
    def open_exceptions(self, info: Info[Any, None]) -> OpenExceptions:  # type: ignore[valid-type]  # registered row type
        return M.open_exceptions(runtime_of(info))
