"""GraphQL fields the explorer page needs beyond the core schema: status overlays for the nodes
of a trace, a deviation's view (excursion, signal around the event with limits, holds, impact,
lifecycle, signatures) and the SPC answer of a parameter spec (:mod:`api.graphql.spc`).

The signal plot shows the raw samples of the stream around the event when the deviation came
from a signal excursion and the append-only raw store holds them (:func:`api.graphql.signals.
raw_window`), else the ``ParameterObservation`` aggregates (min/mean/max per operation
execution) around it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

import strawberry
from strawberry.types import Info

from api.graphql.enums import DeviationGrade, DeviationState
from api.graphql.signals import MAX_WINDOW_S, Sample, excursion_of, raw_window
from api.graphql.spc import (
    SpcCapability,
    SpcEpisode,
    SpcSubgroup,
    SpcViolation,
    finite,
    spc_answer,
)
from api.graphql.specs import shown_unit
from api.graphql.types import MAX_PAGE, Node, Signature, bad_input, resolve_one, runtime_of
from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from graph.status import is_active_hold, is_open_deviation, is_released
from ontology.codes import BatchStatus, MaterialLotStatus
from ontology.datatypes import ms_to_text
from ontology.terms import P, R
from quality import signatures, spc
from quality.capability import MinSample
from quality.recalls import recalled_by
from tracegraph.runtime import Runtime

__all__ = ["DeviationSignal", "DeviationView", "Limits", "Query", "RecordStatus", "SignalPoint",
           "SpcChart", "SpcViolation", "status_overlay"]

#: properties holding a record's own status, the first one present is shown
STATUS_PROPS = (P.batchStatus, P.materialLotStatus, "unitStatus", "status")
#: the status of a batch or material lot an active hold holds
ON_HOLD = frozenset({BatchStatus.ON_HOLD, MaterialLotStatus.ON_HOLD})
_E = TypeVar("_E", bound=StrEnum)
OBSERVES, DURING_EXECUTION = R.OBSERVES, R.DURING_EXECUTION
RAISED_BY, ASSESSES, CAUSE_OF = R.RAISED_BY, R.ASSESSES, R.CAUSE_OF
VIOLATES_SPEC, CONCERNS, HOLDS = R.VIOLATES_SPEC, R.CONCERNS, R.HOLDS


@strawberry.type
class RecordStatus:
    iri: str
    status: str | None = strawberry.field(description="The record's own status code, if any.")
    on_hold: bool = strawberry.field(description="An active hold holds it, or its status is "
                                                 "OnHold.")
    open_deviations: list[str] = strawberry.field(description="Keys of the deviations that "
                                                              "concern it and are not closed.")
    released: bool
    recalled: bool = strawberry.field(description="A recall record's frozen scope holds it "
                                                  "(tg:recalls, quality/recalls.py), or its "
                                                  "own status is Recalled.")
    recalls: list[str] = strawberry.field(default_factory=list, description="Record numbers "
                                          "of the recalls whose scope holds it.")
    migrated: bool = strawberry.field(default=False, description="It was written by an "
                                      "admin-run, signed migration (tg:migrated): its state "
                                      "did not come through the workflow commands.")


@strawberry.type
class SignalPoint:
    time: str
    mean: float | None
    min: float | None
    max: float | None
    samples: int | None
    execution: str | None

    @classmethod
    def of(cls, o: NodeRecord, execution: str | None) -> SignalPoint:
        """A parameter observation's aggregates, with the key of its execution."""
        p = o.props
        t = p.get("windowStart") or p.get("resultTime") or ""
        n = p.get("sampleCount")
        return cls(time=str(t), mean=_num(p.get("meanValue")), min=_num(p.get("minValue")),
                   max=_num(p.get("maxValue")), samples=int(n) if isinstance(n, int) else None,
                   execution=execution)


@strawberry.type
class Limits:
    setpoint: float | None
    lsl: float | None
    usl: float | None
    alert_low: float | None
    alert_high: float | None
    action_low: float | None
    action_high: float | None
    unit: str | None
    unit_shown: str | None = strawberry.field(description="The unit as people write it.")

    @classmethod
    def of(cls, spec: NodeRecord) -> Limits:
        """The limits a parameter spec's properties give."""
        p = spec.props
        return cls(setpoint=_num(p.get("setpoint")), lsl=_num(p.get("lsl")),
                   usl=_num(p.get("usl")), alert_low=_num(p.get("alertLow")),
                   alert_high=_num(p.get("alertHigh")), action_low=_num(p.get("actionLow")),
                   action_high=_num(p.get("actionHigh")),
                   unit=str(p["unitCode"]) if "unitCode" in p else None,
                   unit_shown=shown_unit(str(p["unitCode"]), spec.key)
                   if "unitCode" in p else None)


@strawberry.type
class DeviationSignal:
    spec: Node
    limits: Limits
    event_time: str
    window_start: str
    window_end: str
    source: str = strawberry.field(description="'raw' (samples from the raw store) or "
                                               "'aggregates' (observations per execution).")
    points: list[SignalPoint] = strawberry.field(description="Aggregates (source "
                                                             "'aggregates').")
    samples: list[Sample] = strawberry.field(description="Raw samples (source 'raw').")


@strawberry.type
class DeviationView:
    deviation: Node
    state: DeviationState | None
    grade: DeviationGrade | None
    excursion: Node | None
    signal: DeviationSignal | None
    concerns: list[Node]
    holds: list[Node]
    held: list[Node] = strawberry.field(description="Records the deviation's holds hold.")
    impact: list[Node]
    root_causes: list[Node]
    capas: list[Node]
    signatures: list[Signature]


@strawberry.type
class SpcChart:
    spec: Node
    limits: Limits
    points: list[SignalPoint] = strawberry.field(description="The spec's observations (one "
                                                             "aggregate per execution).")
    subgroup_rule: str = strawberry.field(description="consecutive or perExecution "
                                                      "(tg:subgroupRule; default consecutive).")
    subgroup_size: int | None = strawberry.field(description="n of consecutive subgroups "
                                                             "(default 5; 1: individuals).")
    basis: str = strawberry.field(description="'raw' (subgroups of the raw samples) or "
                                              "'aggregates' (one subgroup per execution).")
    basis_note: str | None
    subgroups: list[SpcSubgroup]
    center: float | None
    ucl: float | None = strawberry.field(description="X-bar limits for the most common n "
                                                     "(each subgroup carries its own).")
    lcl: float | None
    sigma: float | None = strawberry.field(description="Sigma within (of single values).")
    dispersion: str = strawberry.field(description="'S' (standard deviations, n >= 2) or 'MR' "
                                                   "(moving ranges, individuals).")
    mr_center: float | None
    mr_ucl: float | None
    cpk: float | None = strawberry.field(description="Null when not assessable.")
    ppk: float | None = strawberry.field(description="Null when not assessable.")
    capability: SpcCapability
    violations: list[SpcViolation]
    episodes: list[SpcEpisode] = strawberry.field(description="Rule episodes (one alarm each "
                                                              "in the signal pipeline).")


# ---- helpers ----------------------------------------------------------------------------------


def _num(v: object) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(str(v))
    except ValueError:
        return None


def _observations(store: GraphStore, spec_iri: str) -> list[tuple[NodeRecord, str | None]]:
    """Every observation of the spec, in time order, with the key of its execution."""
    iris = [e.src for e in store.links([spec_iri], [OBSERVES], Direction.DOWNSTREAM)]
    found = store.get_many(iris)
    execs = {e.src: e.dst for e in store.links(list(found), [DURING_EXECUTION])}
    ex_nodes = store.get_many(list(set(execs.values())))
    rows = [(o, ex_nodes[execs[o.iri]].key if execs.get(o.iri) in ex_nodes else None)
            for o in found.values()]
    return sorted(rows, key=lambda r: str(r[0].props.get("windowStart")
                                          or r[0].props.get("resultTime") or ""))


def _linked(store: GraphStore, iris: Sequence[str], types: Iterable[str],
            direction: Direction) -> list[NodeRecord]:
    edges = store.links(list(iris), list(types), direction)
    ends = [e.dst if direction == Direction.UPSTREAM else e.src for e in edges]
    found = store.get_many(ends)
    return sorted(found.values(), key=lambda n: (n.label, n.key))


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _utc(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _signal(rt: Runtime, excursion: NodeRecord, hours: float,
            seconds: int) -> DeviationSignal | None:
    """The raw signal within ±``seconds`` of the excursion if the raw store has it, else the
    spec's aggregates within ±``hours``."""
    store = rt.store
    specs = _linked(store, [excursion.iri], [VIOLATES_SPEC], Direction.UPSTREAM)
    if not specs:
        return None
    spec = specs[0]
    at = str(excursion.props.get("detectedAt") or "")
    if not at:
        return None
    raw = raw_window(rt, excursion, seconds, seconds)
    if raw is not None and raw.samples:
        return DeviationSignal(
            spec=Node.of(spec), limits=Limits.of(spec), event_time=at,
            window_start=ms_to_text(raw.start_ms), window_end=ms_to_text(raw.end_ms),
            source="raw", points=[],
            samples=[Sample.of(o) for o in raw.samples])
    t = _when(at)
    lo, hi = t - timedelta(hours=hours), t + timedelta(hours=hours)
    points = [SignalPoint.of(o, ex) for o, ex in _observations(store, spec.iri)
              if o.props.get("windowStart") and lo <= _when(str(o.props["windowStart"])) <= hi]
    return DeviationSignal(spec=Node.of(spec), limits=Limits.of(spec), event_time=at,
                           window_start=_utc(lo), window_end=_utc(hi), source="aggregates",
                           points=points, samples=[])


def status_overlay(n: NodeRecord, holds: list[NodeRecord], devs: list[NodeRecord],
                   recalls: Sequence[str] = ()) -> RecordStatus:
    """The explorer's overlay of a record from the holds on it and the deviations concerning
    it: open deviation, active hold and released mean what they mean for release
    (:mod:`graph.status`)."""
    own = next((str(n.props[p]) for p in STATUS_PROPS if p in n.props), None)
    return RecordStatus(
        iri=n.iri, status=own,
        on_hold=own in ON_HOLD or any(is_active_hold(h) for h in holds),
        open_deviations=sorted(d.key for d in devs if is_open_deviation(d)),
        released=is_released(n), recalled=own == "Recalled" or bool(recalls),
        recalls=list(recalls),
        migrated=n.props.get(P.migrated) is True)


@strawberry.type
class Query:
    @strawberry.field(description="Status overlay of records (explorer): own status, active "
                                  "holds, open deviations.")
    def record_status(self, info: Info[Any, None], records: list[str]) -> list[RecordStatus]:
        if len(records) > MAX_PAGE:
            raise bad_input("records", len(records), f"at most {MAX_PAGE} records")
        store = runtime_of(info).store
        nodes = store.get_many(records)
        incoming = store.links(list(nodes), [HOLDS, CONCERNS], Direction.DOWNSTREAM)
        by_iri = store.get_many({e.src for e in incoming})
        holds: dict[str, list[NodeRecord]] = {i: [] for i in nodes}
        devs: dict[str, list[NodeRecord]] = {i: [] for i in nodes}
        for e in incoming:
            src = by_iri.get(e.src)
            if src is None or e.dst not in nodes:
                continue
            if e.type == HOLDS and src.label == "Hold":
                holds[e.dst].append(src)
            elif e.type == CONCERNS and src.label == "Deviation":
                devs[e.dst].append(src)
        recalled = recalled_by(store, list(nodes))  # issue 18 item 5
        return [status_overlay(nodes[i], holds[i], devs[i], recalled.get(i, ()))
                for i in records if i in nodes]

    @strawberry.field(description="A deviation with its excursion, the signal around the event "
                                  "with limits (raw samples within ±rawSeconds when the raw "
                                  "store has them, else parameter observations within "
                                  "±windowHours), holds, impact assessment, root causes, "
                                  "CAPAs, lifecycle state and signatures; null when no record "
                                  "has the id.")
    def deviation_view(self, info: Info[Any, None], id: str, window_hours: float = 72.0,
                       raw_seconds: int = 300) -> DeviationView | None:
        rt = runtime_of(info)
        if not 0 < window_hours <= 24 * 31:
            raise bad_input("windowHours", window_hours, "between 0 and 744 hours")
        if not 0 < raw_seconds <= MAX_WINDOW_S:
            raise bad_input("rawSeconds", raw_seconds, f"between 1 and {MAX_WINDOW_S} seconds")
        dev = resolve_one(rt, id)
        if dev is None:
            return None
        if dev.label != "Deviation":
            raise bad_input("id", id, f"names a {dev.label}, not a Deviation")
        st = rt.store
        exc = excursion_of(rt, dev)
        raised = _linked(st, [dev.iri], [RAISED_BY, ASSESSES, CAUSE_OF],
                         Direction.DOWNSTREAM)
        holds = [n for n in raised if n.label == "Hold"]
        return DeviationView(
            deviation=Node.of(dev), state=_code(DeviationState, dev.props.get(P.deviationState)),
            grade=_code(DeviationGrade, dev.props.get(P.deviationGrade)),
            excursion=None if exc is None else Node.of(exc),
            signal=None if exc is None else _signal(rt, exc, window_hours, raw_seconds),
            concerns=[Node.of(n) for n in _linked(st, [dev.iri], [CONCERNS],
                                                  Direction.UPSTREAM)],
            holds=[Node.of(n) for n in holds],
            held=[Node.of(n) for n in _linked(st, [h.iri for h in holds], [HOLDS],
                                              Direction.UPSTREAM)],
            impact=[Node.of(n) for n in raised if n.label == "ImpactAssessment"],
            root_causes=[Node.of(n) for n in raised if n.label == "RootCause"],
            capas=[Node.of(n) for n in raised if n.label == "CAPA"],
            signatures=[Signature.of(s) for s in signatures.signatures_of(rt, dev.iri)])

    @strawberry.field(description="SPC of a parameter spec over its last executions: the "
                                  "spec's subgroups (raw samples when stored, else one "
                                  "aggregate per execution), X-bar and S (or individuals and "
                                  "MR) chart, rule violations and episodes, Cpk (sigma within) "
                                  "and Ppk (overall sigma) with intervals, or not assessable "
                                  "with the reason; null when no record has the id.")
    def spc_chart(self, info: Info[Any, None], spec: str, last: int = 100) -> SpcChart | None:
        rt = runtime_of(info)
        if not 2 <= last <= MAX_PAGE:
            raise bad_input("last", last, f"between 2 and {MAX_PAGE}")
        node = resolve_one(rt, spec)
        if node is None:
            return None
        if node.label == "ParameterObservation":  # a reading names its spec
            specs = _linked(rt.store, [node.iri], [OBSERVES], Direction.UPSTREAM)
            node = specs[0] if specs else node
        if node.label != "ParameterSpec":
            raise bad_input("spec", spec, f"names a {node.label}, not a ParameterSpec")
        points = [p for p in (SignalPoint.of(o, ex) for o, ex in _observations(rt.store, node.iri))
                  if p.mean is not None][-last:]
        a = spc_answer(rt, node, last, MinSample(rt.settings.spc_min_subgroups,
                                                 rt.settings.spc_min_values))
        lim, cap = a.limits, a.capability
        lcl, ucl = lim.mean_limits(a.typical_n()) if lim else (None, None)
        individuals = a.typical_n() == 1
        return SpcChart(
            spec=Node.of(node), limits=Limits.of(node), points=points, subgroup_rule=a.rule,
            subgroup_size=a.size, basis=a.basis, basis_note=a.note, subgroups=a.subgroups(),
            center=lim.center if lim else None, ucl=ucl, lcl=lcl,
            sigma=lim.sigma if lim else None, dispersion="MR" if individuals else "S",
            mr_center=lim.sigma * spc.D2 if lim and individuals else None,
            mr_ucl=lim.sigma * spc.MR_UCL_FACTOR if lim and individuals else None,
            cpk=finite(cap.cpk), ppk=finite(cap.ppk), capability=SpcCapability.of(cap),
            violations=a.violations(), episodes=a.episodes())


def _code(code_list: type[_E], v: object) -> _E | None:
    return None if v is None else code_list(str(v))


