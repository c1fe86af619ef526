"""The rows of the worklists (:mod:`quality.worklists`) and their paging, sorting and filtering.

Worklists: the plant's deviations, holds, CAPAs and their actions, change requests, batches,
excursions and alarms as filtered, sorted pages with stable cursors, on either engine.

Each list starts from the records of its class (``GraphStore.nodes_of_class``: the embedded
engine's ``(label, key, iri)`` index, Neo4j's label scan; never every node), reads the relations
its filters and columns need in a few batched ``links`` calls, filters and sorts in Python, and
cuts one page. Work done per row that is expensive (the release report's exception count of a
batch, the opener of a deviation from its audit trail) is done for the rows of the page only,
unless a filter needs it.

Paging is by cursor, never by offset: a cursor is the position of a row in the list's order —
the sort field, the direction, the row's sort value and its IRI (the tie-break), base64url
JSON — so a page continues after that position even when records were added or changed
meanwhile. A cursor of another sort order, or one that does not decode, is refused
(:class:`WorklistError`, naming the argument), as is a filter value that is not a code of its
list or names no record.

What the values mean is defined once elsewhere and asked here: open deviation and active hold
(:mod:`graph.status`), the exceptions that block a release (:func:`quality.release.
release_report`), the approvals a change still needs (:func:`quality.change_control.
effectivity_problems`), an overdue action (``tg:DoneActionStates``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

import orjson

from graph.errors import RefusedError
from graph.identifiers.identify import identify
from graph.model import Direction
from graph.port import GraphStore
from ontology.codes import (
    CLOSED_BATCH_STATUSES,
    BatchStatus,
)
from ontology.datatypes import to_utc_text

__all__ = ["AWAITING_RELEASE", "MAX_FIRST", "ActionRow", "AlarmRow", "BatchRow", "CapaRow",
           "ChangeRow", "DeviationRow", "ExcursionRow", "HoldRow", "Page", "Sort",
           "WorklistError", "check_sort",
           "codes", "decode_cursor", "due_state", "encode_cursor", "linked", "opened_by",
           "paginate", "resolve_filter", "since_text"]

#: the largest page a worklist returns
MAX_FIRST = 500
#: batch statuses that wait for a release decision (production done, not released or rejected)
AWAITING_RELEASE: frozenset[str] = frozenset({BatchStatus.COMPLETED, BatchStatus.ON_HOLD})
assert not AWAITING_RELEASE & CLOSED_BATCH_STATUSES

Sortable = str | float | None
T = TypeVar("T")


class WorklistError(RefusedError):
    """A worklist argument that cannot be used: ``field`` names the argument, ``rule`` says
    what it must be."""

    def __init__(self, field: str, value: object, rule: str) -> None:
        super().__init__("bad-input", rule, field, value)
        self.rule = rule


@dataclass(frozen=True)
class Sort:
    """A list's order: one of its sort fields, ascending or descending (the IRI breaks ties,
    always ascending; rows without the value come last either way)."""

    field: str
    descending: bool = False


@dataclass
class Page(Generic[T]):
    rows: list[T]
    cursors: list[str]
    total: int
    has_next: bool
    end_cursor: str | None
    has_previous: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# ---- the rows of each list ------------------------------------------------------------------


@dataclass
class DeviationRow:
    iri: str
    key: str
    title: str | None
    state: str | None
    grade: str | None
    opened_at: str | None
    due_date: str | None
    age_days: int | None
    is_open: bool
    overdue: bool
    equipment: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    owner: str | None = None


@dataclass
class HoldRow:
    iri: str
    key: str
    state: str | None
    opened_at: str | None
    is_active: bool
    held: list[str] = field(default_factory=list)
    held_classes: list[str] = field(default_factory=list)
    deviations: list[str] = field(default_factory=list)


@dataclass
class CapaRow:
    iri: str
    key: str
    title: str | None
    state: str | None
    opened_at: str | None
    due_date: str | None
    overdue: bool
    open_actions: int = 0
    overdue_actions: int = 0


@dataclass
class ActionRow:
    iri: str
    key: str
    capa: str | None
    action_type: str | None
    state: str | None
    owner: str | None
    due_date: str | None
    overdue: bool
    days_overdue: int | None


@dataclass
class ChangeRow:
    iri: str
    key: str
    title: str | None
    state: str | None
    change_type: str | None
    opened_at: str | None
    awaiting: list[str] = field(default_factory=list)


@dataclass
class BatchRow:
    iri: str
    key: str
    status: str | None
    product: str | None
    manufactured_at: str | None
    awaiting_release: bool
    exception_count: int | None = None


@dataclass
class ExcursionRow:
    iri: str
    key: str
    level: str | None
    detected_at: str | None
    cleared_at: str | None
    peak_value: float | None
    limit_value: float | None
    equipment: list[str] = field(default_factory=list)
    deviations: list[str] = field(default_factory=list)


@dataclass
class AlarmRow:
    iri: str
    key: str
    state: str | None
    priority: str | None
    opened_at: str | None
    acknowledged_at: str | None


# ---- cursors and paging -----------------------------------------------------------------------


def encode_cursor(sort: Sort, value: Sortable, iri: str) -> str:
    raw = orjson.dumps([sort.field, sort.descending, value, iri])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, sort: Sort) -> tuple[Sortable, str]:
    """The (sort value, IRI) a cursor of ``sort`` stands for; :class:`WorklistError` on
    ``after`` when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        f, desc, value, iri = orjson.loads(raw)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise WorklistError("after", text, "a cursor from this list's pageInfo.endCursor or "
                            "edges.cursor") from None
    if not isinstance(iri, str) or not (value is None or isinstance(value, str | int | float)) \
            or isinstance(value, bool):
        raise WorklistError("after", text, "a cursor from this list's pageInfo.endCursor or "
                            "edges.cursor")
    if f != sort.field or desc != sort.descending:
        raise WorklistError("after", text, f"a cursor of the order {sort.field} "
                            f"{'descending' if sort.descending else 'ascending'}; this one "
                            f"is of {f} {'descending' if desc else 'ascending'}: start from "
                            "the first page")
    return (float(value) if isinstance(value, int) else value), iri


def _after(value: Sortable, iri: str, cursor: tuple[Sortable, str], desc: bool) -> bool:
    """Whether a row (value, IRI) comes after the cursor's position in the list's order."""
    cv, ci = cursor
    if cv is None or value is None:  # rows without the value come last, by IRI
        return value is None and (cv is not None or iri > ci)
    if value != cv:
        return bool(value < cv) if desc else bool(value > cv)  # type: ignore[operator]  # one type per sort field (decode_cursor checks the cursor's)
    return iri > ci


def paginate(rows: Iterable[T], sort: Sort, value_of: Callable[[T], Sortable],
             iri_of: Callable[[T], str], first: int, after: str | None) -> Page[T]:
    """One page of ``rows`` in ``sort`` order, after the cursor ``after``: by value (rows
    without one last), ties by IRI ascending."""
    if not 0 <= first <= MAX_FIRST:
        raise WorklistError("first", first, f"a page holds 0 to {MAX_FIRST} rows")
    keyed = [(value_of(r), iri_of(r), r) for r in rows]
    present = sorted((k for k in keyed if k[0] is not None), key=lambda k: k[1])
    present.sort(key=lambda k: k[0], reverse=sort.descending)  # type: ignore[arg-type,return-value]  # stable: ties keep IRI order
    ordered = present + sorted((k for k in keyed if k[0] is None), key=lambda k: k[1])
    start = 0
    if after:
        cursor = decode_cursor(after, sort)
        kinds = {type(k[0]) for k in present} | ({type(cursor[0])} if cursor[0] is not None
                                                 else set())
        if len(kinds) > 1:
            raise WorklistError("after", after, "a cursor of this list's order (its value is "
                                "not of the sort field's type)")
        start = next((i for i, k in enumerate(ordered)
                      if _after(k[0], k[1], cursor, sort.descending)), len(ordered))
    chunk = ordered[start:start + first]
    cursors = [encode_cursor(sort, v, iri) for v, iri, _r in chunk]
    return Page([r for _v, _i, r in chunk], cursors, len(ordered),
                start + len(chunk) < len(ordered), cursors[-1] if cursors else None, start > 0)


def check_sort(sort: Sort, fields: Sequence[str]) -> None:
    if sort.field not in fields:
        raise WorklistError("sortBy", sort.field, f"one of {', '.join(fields)}")


# ---- filters and relations --------------------------------------------------------------------


def codes(field_name: str, values: Iterable[str], code_list: type[StrEnum]) -> frozenset[str]:
    """Filter values of a code list (the API gives its enum members; the CLI plain text)."""
    out = frozenset(str(v) for v in values)
    wrong = sorted(out - {str(c) for c in code_list})
    if wrong:
        raise WorklistError(field_name, wrong[0],
                            f"one of {', '.join(sorted(str(c) for c in code_list))}")
    return out


def resolve_filter(store: GraphStore, field_name: str, ref: str, *classes: str) -> set[str]:
    """The IRIs of the records of ``classes`` (or their subclasses) that ``ref`` identifies
    (IRI, business key or identifier); :class:`WorklistError` when it names none."""
    from ontology.vocab import vocabulary

    vocab = vocabulary()
    found = {n.iri for n in identify(store, ref)
             if any(vocab.cls(n.label).is_a(c) for c in classes)}
    if not found:
        raise WorklistError(field_name, ref, f"names no {' or '.join(classes)}")
    return found


def linked(store: GraphStore, iris: Sequence[str], rels: Sequence[str],
           direction: Direction = Direction.UPSTREAM) -> dict[str, set[str]]:
    """For each of ``iris``: the records at the other end of its ``rels`` links."""
    out: dict[str, set[str]] = {i: set() for i in iris}
    if not iris:
        return out
    for e in store.links(list(iris), list(rels), direction):
        if direction == Direction.UPSTREAM:
            out.setdefault(e.src, set()).add(e.dst)
        else:
            out.setdefault(e.dst, set()).add(e.src)
    return out


def since_text(field_name: str, since: str | None) -> str | None:
    """``since`` (an ISO date or date-time) as stored UTC text, for comparing with stored
    times."""
    if since is None:
        return None
    try:
        t = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        raise WorklistError(field_name, since, "an ISO 8601 date or date-time, e.g. "
                            "2026-03-01 or 2026-03-01T08:00:00Z") from None
    return to_utc_text(t)


def due_state(due: str | None, done: bool, today: date) -> tuple[bool, int | None]:
    """(overdue, days until due — negative when past) of a due date."""
    if not due:
        return False, None
    try:
        d = date.fromisoformat(due[:10])
    except ValueError:
        return False, None
    days = (d - today).days
    return (not done and days < 0), days


def opened_by(store: GraphStore, iris: Sequence[str]) -> dict[str, str]:
    """Who created each record: the actor of its first audit entry (its opener)."""
    out = {}
    for i in iris:
        first = store.audit_entries(record=i, limit=1)
        out[i] = first[0].actor if first else ""
    return out

