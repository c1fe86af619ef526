"""Quality KPIs of a period, computed from the graph (issue 15 item 3), each with its definition
in English and Chinese and the records behind it (the "underlying list" of the dashboard).

A period is ``[start, end)`` in UTC (ISO 8601 date or date-time text). Every KPI names the event
that places a record in the period (its *anchor*); durations are in hours (``h``) or days
(``d``), rates are fractions 0..1 (``ratio``). A KPI whose population is empty has value
``None`` (shown as "n/a", never as 0). The same module answers GraphQL ``kpis``, the CLI
``tracegraph kpi`` and the explorer's KPI page.

- ``releaseLeadTime`` — per batch released in the period (its first ``released`` release
  decision, anchor ``decidedAt``): decision time minus the end of its last operation
  execution; the value is the median.
- ``firstPassReleaseRate`` — batches whose last operation ended in the period and that reached
  release review (a release decision, or a deviation or hold naming them): the share released
  at their first decision with ``exceptionCount`` 0 and no deviation or hold on them opened
  before that decision.
- ``reworkRate`` / ``scrapRate`` — batches whose last operation ended in the period: the share
  with a rework disposition (``dispositionType`` rework disposing the batch); the mean per
  batch of scrapped ÷ (good + scrapped), scrapped = the executions' ``scrapQuantity``, good =
  the batch ``quantity``.
- ``excursionToHold`` / ``holdToTriage`` — excursions detected in the period that raised a
  hold (excursion ← alarm ← deviation ← hold, by ``raisedBy``): hours from ``detectedAt`` to
  the first hold's ``openedAt``; from that hold to the deviation's triage (the ``decidedAt`` of
  its signed triage approval); medians.
- ``deviationCycleTime`` — deviations closed in the period: days ``openedAt`` → ``closedAt``,
  median overall and by grade (``byGroup``).
- ``capaOnTimeRate`` / ``capaCycleTime`` — CAPAs due in the period: the share closed on or
  before their due date; CAPAs closed in the period: median days ``openedAt`` → ``closedAt``.
- ``batchRecordCompleteness`` — batches whose last operation ended in the period: the share
  whose record is complete: every operation of the pinned process version's routing has a
  completed execution with start, end and operator.
"""

# ruff: noqa: RUF001  (the Chinese definitions use full-width Chinese punctuation)
from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from ontology.codes import DeviationState, DispositionType, ExecutionStatus, ReleaseOutcome
from ontology.terms import C, P, R
from quality.deviations import approval_key

__all__ = ["DEFINITIONS", "KPI_IDS", "Kpi", "KpiError", "KpiRow", "compute_kpis", "parse_period"]

#: id → (unit, English name, Chinese name, English definition, Chinese definition)
DEFINITIONS: dict[str, tuple[str, str, str, str, str]] = {
    "releaseLeadTime": (
        "h", "Batch release lead time", "批次放行周期",
        "Median hours from the end of a batch's last operation to its release decision, over "
        "the batches released in the period.",
        "期间内放行的批次：从最后一道工序结束到放行决定的小时数（中位数）。"),
    "firstPassReleaseRate": (
        "ratio", "First-pass release rate", "一次放行率",
        "Of the batches whose last operation ended in the period and that reached release "
        "review, the share released at their first review with no exception and no deviation "
        "or hold on them before it.",
        "期间内最后一道工序结束且进入放行审核的批次中，首次审核即放行（无异常、放行前无偏差或隔离）"
        "的比例。"),
    "reworkRate": (
        "ratio", "Rework rate", "返工率",
        "Share of the batches whose last operation ended in the period that were dispositioned "
        "for rework.",
        "期间内最后一道工序结束的批次中，被处置为返工的比例。"),
    "scrapRate": (
        "ratio", "Scrap rate", "报废率",
        "Mean per batch of scrapped ÷ (good + scrapped) quantity, over the batches whose last "
        "operation ended in the period.",
        "期间内最后一道工序结束的批次：报废数量 ÷（合格数量 + 报废数量）的批次平均值。"),
    "excursionToHold": (
        "h", "Exception response: excursion → hold", "异常响应：超限 → 隔离",
        "Median hours from an excursion's detection to the first hold it raised (through its "
        "alarm and deviation), over the excursions detected in the period.",
        "期间内检出的超限：从检出到其（经报警、偏差）触发的首个隔离的小时数（中位数）。"),
    "holdToTriage": (
        "h", "Exception response: hold → triage", "异常响应：隔离 → 分级",
        "Median hours from that hold to the signed triage of the excursion's deviation.",
        "从该隔离到超限偏差签名分级的小时数（中位数）。"),
    "deviationCycleTime": (
        "d", "Deviation cycle time", "偏差处理周期",
        "Median days from opening to closing, over the deviations closed in the period, "
        "overall and by grade.",
        "期间内关闭的偏差：从开启到关闭的天数（中位数），总体及按等级。"),
    "capaOnTimeRate": (
        "ratio", "CAPA on-time rate", "CAPA 按期完成率",
        "Of the CAPAs due in the period, the share closed on or before their due date.",
        "期间内到期的 CAPA 中，在到期日当天或之前关闭的比例。"),
    "capaCycleTime": (
        "d", "CAPA cycle time", "CAPA 处理周期",
        "Median days from opening to closing, over the CAPAs closed in the period.",
        "期间内关闭的 CAPA：从开启到关闭的天数（中位数）。"),
    "batchRecordCompleteness": (
        "ratio", "Batch-record completeness", "批记录完整率",
        "Share of the batches whose last operation ended in the period whose record is "
        "complete: every operation of the routing has a completed execution with start, end "
        "and operator.",
        "期间内最后一道工序结束的批次中，批记录完整（工艺路线每道工序均有已完成、含开始/结束时间和"
        "操作人的执行记录）的比例。"),
}
KPI_IDS = tuple(DEFINITIONS)


class KpiError(ValueError):
    """A bad period: names the field, the value and the rule."""

    def __init__(self, field_: str, value: object, message: str) -> None:
        super().__init__(f"{field_}={value!r}: {message}")
        self.field, self.value, self.rule = field_, value, "kpi-period"


@dataclass(frozen=True)
class KpiRow:
    """One record behind a KPI: its value (``None``: not counted in a median, e.g. not yet
    triaged) and whether it counts in a rate's numerator (``ok``)."""

    key: str
    iri: str
    cls: str
    value: float | None = None
    ok: bool | None = None
    group: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Kpi:
    id: str
    value: float | None
    unit: str
    n: int  # population (rows)
    rows: list[KpiRow] = field(default_factory=list)
    by_group: dict[str, float | None] = field(default_factory=dict)

    def name(self, lang: str = "en") -> str:
        d = DEFINITIONS[self.id]
        return d[2] if lang.startswith("zh") else d[1]

    def definition(self, lang: str = "en") -> str:
        d = DEFINITIONS[self.id]
        return d[4] if lang.startswith("zh") else d[3]


def _at(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    d = datetime.fromisoformat(text)
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)


def parse_period(start: str, end: str) -> tuple[datetime, datetime]:
    """``[start, end)`` from ISO 8601 dates or date-times (UTC unless a zone is given)."""
    out: list[datetime] = []
    for name, text in (("from", start), ("to", end)):
        try:
            d = _at(text)
        except ValueError:
            d = None
        if d is None:
            raise KpiError(name, text, "an ISO 8601 date (2026-01-05) or date-time")
        out.append(d)
    if out[1] <= out[0]:
        raise KpiError("to", end, f"must be after from={start!r}")
    return out[0], out[1]


def _hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600


def _median(xs: Iterable[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.median(vals) if vals else None


def _rate(rows: Sequence[KpiRow]) -> float | None:
    return sum(1 for r in rows if r.ok) / len(rows) if rows else None


def _row(n: NodeRecord, **kw: object) -> KpiRow:
    return KpiRow(n.key, n.iri, n.label, **kw)  # type: ignore[arg-type]  # KpiRow's fields


class _Graph:
    """The records the KPIs read, loaded once per computation (one snapshot)."""

    def __init__(self, store: GraphStore) -> None:
        self.s = store
        self.batches = {n.iri: n for n in store.nodes_of_class(C.Batch)}
        runs = store.nodes_of_class(C.OperationExecution)
        self.runs = {n.iri: n for n in runs}
        self.runs_of: dict[str, list[NodeRecord]] = {}
        for e in store.links(list(self.runs), [R.FOR_BATCH]):
            self.runs_of.setdefault(e.dst, []).append(self.runs[e.src])
        self.devs = {n.iri: n for n in store.nodes_of_class(C.Deviation)}
        self.holds = {n.iri: n for n in store.nodes_of_class(C.Hold)}
        self.decisions = {n.iri: n for n in store.nodes_of_class(C.ReleaseDecision)}
        self.decisions_of: dict[str, list[NodeRecord]] = {}
        for e in store.links(list(self.decisions), [R.RELEASE_OF]):
            self.decisions_of.setdefault(e.dst, []).append(self.decisions[e.src])
        self.named: dict[str, list[NodeRecord]] = {}  # batch → deviations and holds on it
        for e in store.links([*self.devs, *self.holds], [R.CONCERNS, R.HOLDS]):
            rec = self.devs.get(e.src) or self.holds[e.src]
            self.named.setdefault(e.dst, []).append(rec)

    def ended(self, batch: str) -> datetime | None:
        ends = [_at(r.props.get(P.endedAtTime)) for r in self.runs_of.get(batch, ())]
        return max((e for e in ends if e is not None), default=None)

    def finished_in(self, a: datetime, b: datetime) -> list[tuple[NodeRecord, datetime]]:
        out = [(n, self.ended(iri)) for iri, n in self.batches.items()]
        return sorted(((n, t) for n, t in out if t is not None and a <= t < b),
                      key=lambda x: (x[1], x[0].key))


def compute_kpis(store: GraphStore, start: str, end: str) -> list[Kpi]:
    """Every KPI of :data:`KPI_IDS` for ``[start, end)``, in that order, read in one
    snapshot (:class:`KpiError` for a bad period)."""
    a, b = parse_period(start, end)
    with store.snapshot():
        g = _Graph(store)
        finished = g.finished_in(a, b)
        out = [_lead_time(g, a, b), _first_pass(g, finished), *_rework_scrap(g, finished),
               *_response(g, a, b), _deviation_cycle(g, a, b), *_capa(g, a, b),
               _completeness(g, finished)]
    return out


def _first_release(g: _Graph, batch: str) -> NodeRecord | None:
    ds = sorted(g.decisions_of.get(batch, ()), key=lambda d: str(d.props.get(P.decidedAt, "")))
    return ds[0] if ds else None


def _lead_time(g: _Graph, a: datetime, b: datetime) -> Kpi:
    rows = []
    for iri, n in g.batches.items():
        rel = [d for d in g.decisions_of.get(iri, ())
               if d.props.get(P.releaseOutcome) == ReleaseOutcome.RELEASED]
        at = min((t for t in (_at(d.props.get(P.decidedAt)) for d in rel) if t is not None),
                 default=None)
        ended = g.ended(iri)
        if at is None or not a <= at < b or ended is None:
            continue
        rows.append(_row(n, value=_hours(ended, at), note=f"released {at.isoformat()}"))
    rows.sort(key=lambda r: r.key)
    return Kpi("releaseLeadTime", _median(r.value for r in rows), "h", len(rows), rows)


def _first_pass(g: _Graph, finished: Sequence[tuple[NodeRecord, datetime]]) -> Kpi:
    rows = []
    for n, _t in finished:
        first = _first_release(g, n.iri)
        named = g.named.get(n.iri, [])
        if first is None and not named:
            continue  # never reached release review (an intermediate, or still in progress)
        ok = first is not None and first.props.get(P.releaseOutcome) == ReleaseOutcome.RELEASED \
            and not first.props.get(P.exceptionCount) and not any(
                str(x.props.get(P.openedAt, "")) < str(first.props.get(P.decidedAt, ""))
                for x in named)
        rows.append(_row(n, ok=ok, note="first review clean" if ok else (
            "no release decision" if first is None else "exception before or at first review")))
    return Kpi("firstPassReleaseRate", _rate(rows), "ratio", len(rows), rows)


def _rework_scrap(g: _Graph, finished: Sequence[tuple[NodeRecord, datetime]]) -> list[Kpi]:
    disp = g.s.nodes_of_class(C.Disposition)
    rw_disp = [d.iri for d in disp if d.props.get(P.dispositionType) == DispositionType.REWORK]
    rework = {e.dst for e in g.s.links(rw_disp, [R.DISPOSES])}
    rw, sc = [], []
    for n, _t in finished:
        rw.append(_row(n, ok=n.iri in rework))
        scrap = math.fsum(_num(r.props.get(P.scrapQuantity)) for r in g.runs_of.get(n.iri, ()))
        good = n.props.get(P.quantity)
        if isinstance(good, int | float) and good + scrap > 0:
            sc.append(_row(n, value=scrap / (float(good) + scrap),
                           note=f"scrapped {scrap:g} of {float(good) + scrap:g}"))
    return [Kpi("reworkRate", _rate(rw), "ratio", len(rw), rw),
            Kpi("scrapRate", statistics.fmean(r.value for r in sc if r.value is not None)
                if sc else None, "ratio", len(sc), sc)]


def _num(v: object) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0


def _raised(g: _Graph, iris: Sequence[str]) -> dict[str, list[str]]:
    """cause → the records raised by it."""
    out: dict[str, list[str]] = {}
    for e in g.s.links(list(iris), [R.RAISED_BY], Direction.DOWNSTREAM):
        out.setdefault(e.dst, []).append(e.src)
    return out


def _response(g: _Graph, a: datetime, b: datetime) -> list[Kpi]:
    exc = [n for n in g.s.nodes_of_class(C.Excursion)
           if (t := _at(n.props.get(P.detectedAt))) is not None and a <= t < b]
    alarms = _raised(g, [n.iri for n in exc])
    devs = _raised(g, [x for v in alarms.values() for x in v])
    holds = _raised(g, [x for v in devs.values() for x in v])
    to_hold, to_triage = [], []
    for n in sorted(exc, key=lambda n: n.key):
        detected = _at(n.props.get(P.detectedAt))
        dv = sorted(d for al in alarms.get(n.iri, ()) for d in devs.get(al, ()) if d in g.devs)
        hs = [(h_at, h) for d in dv for h in holds.get(d, ()) if h in g.holds
              and (h_at := _at(g.holds[h].props.get(P.openedAt))) is not None]
        if detected is None or not hs:
            continue
        first_hold = min(hs)[0]
        to_hold.append(_row(n, value=_hours(detected, first_hold)))
        triaged = [t for d in dv for t in _triaged(g, g.devs[d])]
        tri = min(triaged, default=None)
        to_triage.append(_row(n, value=_hours(first_hold, tri) if tri else None,
                              note="" if tri else "not yet triaged"))
    return [Kpi("excursionToHold", _median(r.value for r in to_hold), "h", len(to_hold),
                to_hold),
            Kpi("holdToTriage", _median(r.value for r in to_triage), "h", len(to_triage),
                to_triage)]


def _triaged(g: _Graph, dev: NodeRecord) -> list[datetime]:
    """When the deviation's triage was signed: its triage approvals' ``decidedAt``."""
    prefix = approval_key(dev.key, DeviationState.TRIAGED, "")
    apr = [e.src for e in g.s.links([dev.iri], [R.APPROVES], Direction.DOWNSTREAM)]
    return [t for n in g.s.get_many(apr).values() if n.key.startswith(prefix)
            and (t := _at(n.props.get(P.decidedAt))) is not None]


def _days(n: NodeRecord) -> float | None:
    o, c = _at(n.props.get(P.openedAt)), _at(n.props.get(P.closedAt))
    return _hours(o, c) / 24 if o and c else None


def _closed_in(nodes: Iterable[NodeRecord], a: datetime, b: datetime) -> list[NodeRecord]:
    return sorted((n for n in nodes if (t := _at(n.props.get(P.closedAt))) is not None
                   and a <= t < b), key=lambda n: n.key)


def _deviation_cycle(g: _Graph, a: datetime, b: datetime) -> Kpi:
    rows = [_row(n, value=_days(n), group=str(n.props.get(P.deviationGrade, "ungraded")))
            for n in _closed_in(g.devs.values(), a, b)]
    groups = sorted({r.group for r in rows if r.group})
    return Kpi("deviationCycleTime", _median(r.value for r in rows), "d", len(rows), rows,
               {k: _median(r.value for r in rows if r.group == k) for k in groups})


def _capa(g: _Graph, a: datetime, b: datetime) -> list[Kpi]:
    capas = g.s.nodes_of_class(C.CAPA)
    due = []
    for n in sorted(capas, key=lambda n: n.key):
        d = n.props.get(P.dueDate)
        day = date.fromisoformat(str(d)) if d else None
        if day is None or not a.date() <= day or not _before_end(day, b):
            continue
        closed = _at(n.props.get(P.closedAt))
        ok = closed is not None and closed.date() <= day
        due.append(_row(n, ok=ok, note=f"due {day}, " + (
            f"closed {closed.date()}" if closed else "open")))
    cyc = [_row(n, value=_days(n)) for n in _closed_in(capas, a, b)]
    return [Kpi("capaOnTimeRate", _rate(due), "ratio", len(due), due),
            Kpi("capaCycleTime", _median(r.value for r in cyc), "d", len(cyc), cyc)]


def _before_end(day: date, b: datetime) -> bool:
    """A due date lies in the period when its start of day is before the period's end."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) < b


def _completeness(g: _Graph, finished: Sequence[tuple[NodeRecord, datetime]]) -> Kpi:
    batch_iris = [n.iri for n, _t in finished]
    version = {e.src: e.dst for e in g.s.links(batch_iris, [R.RUNS_PROCESS_VERSION])}
    routing = {e.src: e.dst for e in g.s.links(sorted(set(version.values())), [R.HAS_ROUTING])}
    ops_of: dict[str, set[str]] = {}
    for e in g.s.links(sorted(set(routing.values())), [R.HAS_OPERATION]):
        ops_of.setdefault(e.src, set()).add(e.dst)
    runs = [r.iri for n in batch_iris for r in g.runs_of.get(n, ())]
    op_of = {e.src: e.dst for e in g.s.links(runs, [R.EXECUTES_OPERATION])}
    people = {e.src for e in g.s.links(runs, [R.WAS_ASSOCIATED_WITH])}
    rows = []
    for n, _t in finished:
        need = ops_of.get(routing.get(version.get(n.iri, ""), ""), set())
        done = {op_of.get(r.iri) for r in g.runs_of.get(n.iri, ())
                if r.props.get(P.executionStatus) == ExecutionStatus.COMPLETED
                and r.props.get(P.startedAtTime) and r.props.get(P.endedAtTime)
                and r.iri in people}
        missing = len(need - done)
        rows.append(_row(n, ok=bool(need) and not missing,
                         note="no routing" if not need else f"{missing} of {len(need)} "
                         "operations without a complete execution record"))
    return Kpi("batchRecordCompleteness", _rate(rows), "ratio", len(rows), rows)
