"""Worklists: the plant's deviations, holds, CAPAs and their actions, change requests, batches,
excursions and alarms as filtered, sorted pages with stable cursors, on either engine.

Each list starts from the records of its class (``GraphStore.nodes_of_class``: the embedded
engine's ``(label, key, iri)`` index, Neo4j's label scan, never every node), reads the relations
its filters and columns need in a few batched ``links`` calls, filters and sorts, and cuts one
page (:func:`quality.paging.paginate`). What is expensive per row — the exception count of a
batch awaiting release, the opener of a deviation — is computed for the rows of the page only
(the opener for every candidate when a filter asks for it).

The values mean what they mean elsewhere: open deviation and active hold (:mod:`graph.status`),
the exceptions blocking a release (:func:`quality.release.release_report`, counted as it
reports them), the approvals a process change still needs (:func:`quality.change_control.
effectivity_problems`), an overdue action (past due and not in ``tg:DoneActionStates``, as
:func:`quality.capa.overdue_actions`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from graph.session import Session
from graph.status import is_active_hold, is_open_deviation
from ontology.codes import (
    CLOSED_CAPA_STATES,
    DONE_ACTION_STATES,
    ActionState,
    AlarmPriority,
    AlarmState,
    ApprovalDecision,
    BatchStatus,
    CAPAState,
    ChangeState,
    DeviationGrade,
    DeviationState,
    ExcursionLevel,
    HoldState,
)
from ontology.terms import C, P, R
from quality.change_control import APPROVERS, effectivity_problems
from quality.paging import (
    AWAITING_RELEASE,
    ActionRow,
    AlarmRow,
    BatchRow,
    CapaRow,
    ChangeRow,
    DeviationRow,
    ExcursionRow,
    HoldRow,
    Page,
    Sort,
    WorklistError,
    check_sort,
    codes,
    due_state,
    linked,
    opened_by,
    paginate,
    resolve_filter,
    since_text,
)
from quality.release import release_report

__all__ = [
    "AWAITING_APPROVAL",
    "SORTS",
    "actions",
    "alarms",
    "awaiting_approval",
    "batches",
    "capas",
    "change_requests",
    "deviations",
    "excursions",
    "holds",
]

#: change states in which a request waits for its approvals
AWAITING_APPROVAL = frozenset({ChangeState.SUBMITTED, ChangeState.IMPACT_ASSESSED})
#: the sort fields of each list (the first is its default order)
SORTS: dict[str, tuple[str, ...]] = {
    "deviations": ("openedAt", "key", "grade", "state", "dueDate"),
    "holds": ("openedAt", "key", "state"),
    "capas": ("dueDate", "openedAt", "key", "state"),
    "actions": ("dueDate", "key", "state"),
    "changes": ("openedAt", "key", "state"),
    "batches": ("manufacturedAt", "key", "status"),
    "excursions": ("detectedAt", "key", "level"),
    "alarms": ("openedAt", "key", "priority", "state"),
}
_GRADE_RANK: dict[str, float] = {DeviationGrade.MINOR: 1.0, DeviationGrade.MAJOR: 2.0,
                                 DeviationGrade.CRITICAL: 3.0}
_PRIORITY_RANK: dict[str, float] = {AlarmPriority.LOW: 1.0, AlarmPriority.MEDIUM: 2.0,
                                    AlarmPriority.HIGH: 3.0, AlarmPriority.CRITICAL: 4.0}


def _s(n: NodeRecord, prop: str) -> str | None:
    v = n.props.get(prop)
    return None if v is None else str(v)


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _age(opened: str | None, now: datetime) -> int | None:
    if not opened:
        return None
    try:
        return (now - datetime.fromisoformat(opened.replace("Z", "+00:00"))).days
    except ValueError:
        return None


def _keys(nodes: dict[str, NodeRecord], iris: Iterable[str]) -> list[str]:
    return sorted(nodes[i].key for i in iris if i in nodes)


def _since(rows_at: str | None, since: str | None) -> bool:
    return since is None or (rows_at is not None and rows_at >= since)


# ---- deviations -------------------------------------------------------------------------------


def _excursions_of(store: GraphStore, sources: Sequence[str]) -> dict[str, set[str]]:
    """For each alarm, excursion or inspection a record was raised by: the excursions behind it
    (itself, or the excursion its alarm was raised by)."""
    nodes = store.get_many(sorted(set(sources)))
    alarms = [i for i, n in nodes.items() if n.label == C.Alarm]
    behind = linked(store, alarms, [R.RAISED_BY])
    out: dict[str, set[str]] = {}
    for i, n in nodes.items():
        out[i] = {i} if n.label == C.Excursion else behind.get(i, set())
    return out


def _equipment_of_excursions(store: GraphStore, excursions: Sequence[str]
                             ) -> dict[str, set[str]]:
    runs = linked(store, excursions, [R.DURING_EXECUTION])
    on = linked(store, sorted({x for xs in runs.values() for x in xs}), [R.ON_EQUIPMENT])
    return {e: {q for x in xs for q in on.get(x, ())} for e, xs in runs.items()}


def deviations(rt: Session, *, states: Iterable[str] = (), grades: Iterable[str] = (),
               open_only: bool = False, min_age_days: int | None = None,
               max_age_days: int | None = None, owner: str | None = None,
               equipment: str | None = None, product: str | None = None,
               sort: Sort | None = None, first: int = 20, after: str | None = None
               ) -> Page[DeviationRow]:
    """Deviations; ``owner`` = who opened it (its audit trail), ``equipment`` = the equipment
    its excursion happened on (the execution's), ``product`` = the product or material of
    what it concerns; age in whole days since it was opened."""
    sort = sort or Sort("openedAt", True)
    check_sort(sort, SORTS["deviations"])
    want_states = codes("state", states, DeviationState)
    want_grades = codes("grade", grades, DeviationGrade)
    for name, v in (("minAgeDays", min_age_days), ("maxAgeDays", max_age_days)):
        if v is not None and v < 0:
            raise WorklistError(name, v, "0 or more days")
    st = rt.store
    eq_ids = resolve_filter(st, "equipment", equipment, C.Equipment) if equipment else None
    prod_ids = resolve_filter(st, "product", product, C.Product, C.Material) if product else None
    now = rt.clock()
    today = now.date()
    rows: list[DeviationRow] = []
    for n in st.nodes_of_class(C.Deviation):
        state, grade = _s(n, P.deviationState), _s(n, P.deviationGrade)
        is_open = is_open_deviation(n)
        age = _age(_s(n, P.openedAt), now)
        if (want_states and state not in want_states) or \
                (want_grades and grade not in want_grades) or (open_only and not is_open):
            continue
        if (min_age_days is not None and (age is None or age < min_age_days)) or \
                (max_age_days is not None and (age is None or age > max_age_days)):
            continue
        overdue, _ = due_state(_s(n, P.dueDate), not is_open, today)
        rows.append(DeviationRow(n.iri, n.key, _s(n, P.title_), state, grade,
                                 _s(n, P.openedAt), _s(n, P.dueDate), age, is_open, overdue))
    iris = [r.iri for r in rows]
    out = linked(st, iris, [R.CONCERNS, R.RAISED_BY])
    exc = _excursions_of(st, sorted({t for ts in out.values() for t in ts}))
    exc_eq = _equipment_of_excursions(st, sorted({e for es in exc.values() for e in es}))
    concerned = sorted({t for ts in out.values() for t in ts})
    made_of = linked(st, concerned, [R.OF_PRODUCT, R.OF_MATERIAL])
    nodes = st.get_many(sorted({*concerned, *(q for qs in exc_eq.values() for q in qs),
                                *(p for ps in made_of.values() for p in ps)}))
    eq_of: dict[str, set[str]] = {}
    prod_of: dict[str, set[str]] = {}
    for r in rows:
        targets = out.get(r.iri, set())
        eq = {q for t in targets for e in exc.get(t, ()) for q in exc_eq.get(e, ())}
        prods = {p for t in targets for p in made_of.get(t, ())}
        prods |= {t for t in targets if t in nodes and nodes[t].label in (C.Product, C.Material)}
        r.equipment, r.products = _keys(nodes, eq), _keys(nodes, prods)
        eq_of[r.iri], prod_of[r.iri] = eq, prods
    if eq_ids is not None:
        rows = [r for r in rows if eq_of[r.iri] & eq_ids]
    if prod_ids is not None:
        rows = [r for r in rows if prod_of[r.iri] & prod_ids]
    if owner is not None:
        by = opened_by(st, [r.iri for r in rows])
        rows = [r for r in rows if by[r.iri] == owner]
    value = {"openedAt": lambda r: r.opened_at, "key": lambda r: r.key,
             "grade": lambda r: _GRADE_RANK.get(r.grade or ""),
             "state": lambda r: r.state, "dueDate": lambda r: r.due_date}[sort.field]
    page = paginate(rows, sort, value, lambda r: r.iri, first, after)
    by = opened_by(st, [r.iri for r in page.rows])
    for r in page.rows:
        r.owner = by[r.iri] or None
    return page


# ---- holds ------------------------------------------------------------------------------------


def holds(rt: Session, *, states: Iterable[str] = (), active_only: bool = False,
          held: str | None = None, held_class: str | None = None, since: str | None = None,
          sort: Sort | None = None, first: int = 20, after: str | None = None) -> Page[HoldRow]:
    """Holds; ``held`` = a record it holds (any identifier), ``heldClass`` = the class of what
    it holds, ``since`` = opened at or after."""
    sort = sort or Sort("openedAt", True)
    check_sort(sort, SORTS["holds"])
    want = codes("state", states, HoldState)
    st = rt.store
    since_at = since_text("since", since)
    if held_class is not None and held_class not in (C.MaterialLot, C.Batch, C.Sublot,
                                                      C.SerializedUnit):
        raise WorklistError("heldClass", held_class,
                            "one of MaterialLot, Batch, Sublot, SerializedUnit")
    held_ids = resolve_filter(st, "held", held, C.TraceableEntity) if held else None
    rows = [HoldRow(n.iri, n.key, _s(n, P.holdState), _s(n, P.openedAt), is_active_hold(n))
            for n in st.nodes_of_class(C.Hold)
            if (not want or _s(n, P.holdState) in want) and (not active_only or is_active_hold(n))
            and _since(_s(n, P.openedAt), since_at)]
    iris = [r.iri for r in rows]
    what = linked(st, iris, [R.HOLDS])
    why = linked(st, iris, [R.RAISED_BY])
    nodes = st.get_many(sorted({*(t for ts in what.values() for t in ts),
                                *(t for ts in why.values() for t in ts)}))
    kept = []
    for r in rows:
        ts = what.get(r.iri, set())
        if held_ids is not None and not ts & held_ids:
            continue
        classes = sorted({nodes[t].label for t in ts if t in nodes})
        if held_class is not None and held_class not in classes:
            continue
        r.held, r.held_classes = _keys(nodes, ts), classes
        r.deviations = _keys(nodes, (t for t in why.get(r.iri, ())
                                     if t in nodes and nodes[t].label == C.Deviation))
        kept.append(r)
    value = {"openedAt": lambda r: r.opened_at, "key": lambda r: r.key,
             "state": lambda r: r.state}[sort.field]
    return paginate(kept, sort, value, lambda r: r.iri, first, after)


# ---- CAPAs and their actions ------------------------------------------------------------------


def capas(rt: Session, *, states: Iterable[str] = (), open_only: bool = False,
          overdue: bool | None = None, due_before: str | None = None, sort: Sort | None = None,
          first: int = 20, after: str | None = None) -> Page[CapaRow]:
    """CAPAs; overdue = past their due date and not closed or cancelled."""
    sort = sort or Sort("dueDate")
    check_sort(sort, SORTS["capas"])
    want = codes("state", states, CAPAState)
    before = _date("dueBefore", due_before)
    st, today = rt.store, rt.clock().date()
    rows = []
    for n in st.nodes_of_class(C.CAPA):
        state = _s(n, P.capaState)
        closed = state in CLOSED_CAPA_STATES
        late, _ = due_state(_s(n, P.dueDate), closed, today)
        due = _s(n, P.dueDate)
        if (want and state not in want) or (open_only and closed) or \
                (overdue is not None and late != overdue) or \
                (before is not None and (due is None or due[:10] >= before)):
            continue
        rows.append(CapaRow(n.iri, n.key, _s(n, P.title_), state, _s(n, P.openedAt), due, late))
    acts = linked(st, [r.iri for r in rows], [R.ACTION_OF], Direction.DOWNSTREAM)
    act_nodes = st.get_many(sorted({a for As in acts.values() for a in As}))
    for r in rows:
        mine = [act_nodes[a] for a in acts.get(r.iri, ()) if a in act_nodes]
        open_ = [a for a in mine if str(a.props.get(P.actionState, "")) not in DONE_ACTION_STATES]
        r.open_actions = len(open_)
        r.overdue_actions = sum(due_state(_s(a, P.dueDate), False, today)[0] for a in open_)
    value = {"dueDate": lambda r: r.due_date, "openedAt": lambda r: r.opened_at,
             "key": lambda r: r.key, "state": lambda r: r.state}[sort.field]
    return paginate(rows, sort, value, lambda r: r.iri, first, after)


def _date(name: str, text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise WorklistError(name, text, "an ISO 8601 date, e.g. 2026-03-01") from None


def actions(rt: Session, *, states: Iterable[str] = (), owner: str | None = None,
            capa: str | None = None, overdue: bool | None = None, open_only: bool = False,
            due_before: str | None = None, sort: Sort | None = None, first: int = 20,
            after: str | None = None) -> Page[ActionRow]:
    """CAPA actions; ``owner`` = the username it is assigned to; overdue = past due and not
    completed or cancelled."""
    sort = sort or Sort("dueDate")
    check_sort(sort, SORTS["actions"])
    want = codes("state", states, ActionState)
    before = _date("dueBefore", due_before)
    st, today = rt.store, rt.clock().date()
    capa_ids = resolve_filter(st, "capa", capa, C.CAPA) if capa else None
    candidates = st.nodes_of_class(C.CAPAAction)
    links = linked(st, [n.iri for n in candidates], [R.ACTION_OF, R.ASSIGNED_TO])
    ends = st.get_many(sorted({t for ts in links.values() for t in ts}))
    rows = []
    for n in candidates:
        state = _s(n, P.actionState)
        done = state in DONE_ACTION_STATES
        late, days = due_state(_s(n, P.dueDate), done, today)
        ts = links.get(n.iri, set())
        of_capa = next((ends[t] for t in sorted(ts) if t in ends and ends[t].label == C.CAPA),
                       None)
        who = next((ends[t].key for t in sorted(ts) if t in ends and ends[t].label != C.CAPA),
                   None)
        due = _s(n, P.dueDate)
        if (want and state not in want) or (open_only and done) or \
                (overdue is not None and late != overdue) or (owner is not None and who != owner) \
                or (capa_ids is not None and (of_capa is None or of_capa.iri not in capa_ids)) \
                or (before is not None and (due is None or due[:10] >= before)):
            continue
        rows.append(ActionRow(n.iri, n.key, of_capa.key if of_capa else None,
                              _s(n, P.actionType), state, who, due, late,
                              -days if late and days is not None else None))
    value = {"dueDate": lambda r: r.due_date, "key": lambda r: r.key,
             "state": lambda r: r.state}[sort.field]
    return paginate(rows, sort, value, lambda r: r.iri, first, after)


# ---- change requests --------------------------------------------------------------------------


def awaiting_approval(store: GraphStore, cr: NodeRecord) -> list[str]:
    """The roles whose signed approval a change request still waits for: for a process change,
    those :func:`quality.change_control.effectivity_problems` names; otherwise each role of
    ``APPROVERS`` without an approval recorded in it. Empty once it is past approval."""
    if str(cr.props.get(P.changeState, "")) not in AWAITING_APPROVAL:
        return []
    proposed = sorted(e.src for e in store.links([cr.iri], [R.INTRODUCED_BY],
                                                 Direction.DOWNSTREAM))
    if proposed:
        return sorted({str(p.value) for v in proposed for p in effectivity_problems(store, v)
                       if p.rule == "requires-signature" and p.focus == cr.iri})
    approvals = [e.src for e in store.links([cr.iri], [R.APPROVES], Direction.DOWNSTREAM)]
    nodes = store.get_many(approvals)
    roles = linked(store, approvals, [R.IN_ROLE])
    role_nodes = store.get_many(sorted({r for rs in roles.values() for r in rs}))
    done = {str(role_nodes[r].props.get(P.roleName, role_nodes[r].key))
            for a, rs in roles.items() for r in rs if r in role_nodes and a in nodes
            and nodes[a].props.get(P.approvalDecision) == ApprovalDecision.APPROVED}
    return sorted(set(APPROVERS) - done)


def change_requests(rt: Session, *, states: Iterable[str] = (),
                    awaiting_role: str | None = None, sort: Sort | None = None,
                    first: int = 20, after: str | None = None) -> Page[ChangeRow]:
    """Change requests; ``awaitingRole`` = those still waiting for an approval in that role."""
    sort = sort or Sort("openedAt", True)
    check_sort(sort, SORTS["changes"])
    want = codes("state", states, ChangeState)
    if awaiting_role is not None and awaiting_role not in APPROVERS:
        raise WorklistError("awaitingRole", awaiting_role,
                            f"one of {', '.join(sorted(APPROVERS))} (the approving roles)")
    st = rt.store
    rows = []
    for n in st.nodes_of_class(C.ChangeRequest):
        state = _s(n, P.changeState)
        if want and state not in want:
            continue
        row = ChangeRow(n.iri, n.key, _s(n, P.title_), state, _s(n, P.changeType),
                        _s(n, P.openedAt), awaiting_approval(st, n))
        if awaiting_role is None or awaiting_role in row.awaiting:
            rows.append(row)
    value = {"openedAt": lambda r: r.opened_at, "key": lambda r: r.key,
             "state": lambda r: r.state}[sort.field]
    return paginate(rows, sort, value, lambda r: r.iri, first, after)


# ---- batches ----------------------------------------------------------------------------------


def batches(rt: Session, *, statuses: Iterable[str] = (), awaiting_release: bool = False,
            product: str | None = None, sort: Sort | None = None, first: int = 20,
            after: str | None = None, exception_counts: bool = True) -> Page[BatchRow]:
    """Batches; awaiting release = Completed or OnHold (not released or rejected), each with
    the number of exceptions its release report lists (rows of the page only, and only with
    ``exception_counts``: a report reads the batch's whole upstream)."""
    sort = sort or Sort("manufacturedAt", True)
    check_sort(sort, SORTS["batches"])
    want = codes("status", statuses, BatchStatus)
    st = rt.store
    prod_ids = resolve_filter(st, "product", product, C.Product) if product else None
    rows = [n for n in st.nodes_of_class(C.Batch)
            if (not want or _s(n, P.batchStatus) in want)
            and (not awaiting_release or _s(n, P.batchStatus) in AWAITING_RELEASE)]
    of = linked(st, [n.iri for n in rows], [R.OF_PRODUCT])
    if prod_ids is not None:
        rows = [n for n in rows if of.get(n.iri, set()) & prod_ids]
    prods = st.get_many(sorted({p for ps in of.values() for p in ps}))
    out = [BatchRow(n.iri, n.key, _s(n, P.batchStatus),
                    next(iter(_keys(prods, of.get(n.iri, ()))), None), _s(n, P.manufacturedAt),
                    _s(n, P.batchStatus) in AWAITING_RELEASE) for n in rows]
    value = {"manufacturedAt": lambda r: r.manufactured_at, "key": lambda r: r.key,
             "status": lambda r: r.status}[sort.field]
    page = paginate(out, sort, value, lambda r: r.iri, first, after)
    for r in page.rows if exception_counts else ():
        if r.awaiting_release:
            r.exception_count = len(release_report(rt, r.iri).exceptions)
    return page


# ---- excursions and alarms --------------------------------------------------------------------


def excursions(rt: Session, *, levels: Iterable[str] = (), since: str | None = None,
               equipment: str | None = None, sort: Sort | None = None, first: int = 20,
               after: str | None = None) -> Page[ExcursionRow]:
    """Excursions; ``equipment`` = the equipment of the execution it happened during."""
    sort = sort or Sort("detectedAt", True)
    check_sort(sort, SORTS["excursions"])
    want = codes("level", levels, ExcursionLevel)
    since_at = since_text("since", since)
    st = rt.store
    eq_ids = resolve_filter(st, "equipment", equipment, C.Equipment) if equipment else None
    found = [n for n in st.nodes_of_class(C.Excursion)
             if (not want or _s(n, P.excursionLevel) in want)
             and _since(_s(n, P.detectedAt), since_at)]
    iris = [n.iri for n in found]
    eq = _equipment_of_excursions(st, iris)
    raised = linked(st, iris, [R.RAISED_BY], Direction.DOWNSTREAM)
    second = linked(st, sorted({a for As in raised.values() for a in As}), [R.RAISED_BY],
                    Direction.DOWNSTREAM)
    nodes = st.get_many(sorted({*(q for qs in eq.values() for q in qs),
                                *(a for As in raised.values() for a in As),
                                *(d for ds in second.values() for d in ds)}))
    rows = []
    for n in found:
        if eq_ids is not None and not eq.get(n.iri, set()) & eq_ids:
            continue
        by = raised.get(n.iri, set())
        devs = {d for d in by | {x for a in by for x in second.get(a, ())}
                if d in nodes and nodes[d].label == C.Deviation}
        rows.append(ExcursionRow(n.iri, n.key, _s(n, P.excursionLevel), _s(n, P.detectedAt),
                                 _s(n, P.clearedAt), _num(n.props.get(P.peakValue)),
                                 _num(n.props.get(P.limitValue)),
                                 _keys(nodes, eq.get(n.iri, ())), _keys(nodes, devs)))
    value = {"detectedAt": lambda r: r.detected_at, "key": lambda r: r.key,
             "level": lambda r: r.level}[sort.field]
    return paginate(rows, sort, value, lambda r: r.iri, first, after)


def alarms(rt: Session, *, states: Iterable[str] = (), priorities: Iterable[str] = (),
           since: str | None = None, sort: Sort | None = None, first: int = 20,
           after: str | None = None) -> Page[AlarmRow]:
    """Alarms; ``since`` = opened at or after."""
    sort = sort or Sort("openedAt", True)
    check_sort(sort, SORTS["alarms"])
    want = codes("state", states, AlarmState)
    want_p = codes("priority", priorities, AlarmPriority)
    since_at = since_text("since", since)
    rows = [AlarmRow(n.iri, n.key, _s(n, P.alarmState), _s(n, P.alarmPriority),
                     _s(n, P.openedAt), _s(n, P.acknowledgedAt))
            for n in rt.store.nodes_of_class(C.Alarm)
            if (not want or _s(n, P.alarmState) in want)
            and (not want_p or _s(n, P.alarmPriority) in want_p)
            and _since(_s(n, P.openedAt), since_at)]
    value = {"openedAt": lambda r: r.opened_at, "key": lambda r: r.key,
             "priority": lambda r: _PRIORITY_RANK.get(r.priority or ""),
             "state": lambda r: r.state}[sort.field]
    return paginate(rows, sort, value, lambda r: r.iri, first, after)
