"""The exception loop (DESIGN.md §7, seed 003): a detected excursion becomes, in ONE write
transaction, an Excursion, an Alarm to the QC role, and — for a specification excursion — a
Deviation (auto-graded) and a Hold on exactly the affected material.

- :func:`contextualise`: which operation execution and batch ran on the equipment at the
  sample's source time, and the parameter spec of the batch's pinned process version;
- :func:`affected_material`: the batch in process, the lots consumed into it during the
  execution up to detection, and everything already derived from the batch downstream;
- :func:`grade`: minor / major / critical from the CPP flag and the magnitude;
- :func:`record_finding`: builds the nodes and writes them through the one write path with a
  deterministic event id, so a re-delivered sample or a replay after restart writes nothing new.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from graph.impact import executions_in_room, executions_in_window
from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from graph.schema import DERIVATION
from graph.session import Session, write_nodes
from graph.write import NodeUpsert, WriteResult
from ontology.authority import Command
from ontology.codes import (
    AlarmPriority,
    AlarmState,
    DeviationGrade,
    DeviationState,
    ExcursionLevel,
    HoldState,
    RoleName,
)
from ontology.datatypes import ms_to_text
from ontology.terms import C, P, R
from quality.accounts import ROLE_NAMES
from quality.detection import LEVELS, Finding, SpecLimits
from quality.holds import on_hold_status
from quality.residence import material_ms

__all__ = ["Context", "Recorded", "RoomContext", "affected_material", "contextualise", "grade",
           "record_cleared", "record_finding", "room_batches", "room_context"]

SIGNAL_ACTOR = "signals"
QC_ROLE = RoleName.QC
PRIORITY: dict[str, str] = {
    ExcursionLevel.ALERT: AlarmPriority.LOW, ExcursionLevel.ACTION: AlarmPriority.MEDIUM,
    ExcursionLevel.OUT_OF_SPEC: AlarmPriority.HIGH, ExcursionLevel.SPC_RULE: AlarmPriority.LOW,
    ExcursionLevel.DRIFT: AlarmPriority.LOW}  # a drift warning (quality.drift, issue 17 item 2)
#: episode levels with one alarm, cleared as a whole: SPC rule and drift warnings
WARNINGS = (ExcursionLevel.SPC_RULE, ExcursionLevel.DRIFT)


@dataclass(frozen=True)
class Context:
    """What was running on the equipment when the sample was taken."""

    equipment: NodeRecord
    execution: NodeRecord
    batch: NodeRecord
    spec: NodeRecord
    parameter: str
    delay_ms: int = 0  # the tag's residence delay (quality.residence)

    @property
    def limits(self) -> SpecLimits:
        return SpecLimits.of(self.spec.props)

    @property
    def start_text(self) -> str:
        return str(self.execution.props.get(P.startedAtTime, ""))

    @property
    def end_text(self) -> str | None:
        end = self.execution.props.get(P.endedAtTime)
        return str(end) if end else None

    # what a finding links to and holds; a room source answers differently (RoomContext)
    def during(self) -> list[str]:
        return [self.execution.iri]

    def where(self) -> str:
        return f"during {self.execution.key} (batch {self.batch.key})"

    def affected(self, store: GraphStore, f: Finding, detected: str) -> list[str]:
        # the material at the sensor then: detection time shifted by the tag's residence delay
        return affected_material(store, self, ms_to_text(material_ms(f.at_ms, self.delay_ms)))

    def concerned(self, held: list[str]) -> list[str]:
        return [self.batch.iri]


@dataclass(frozen=True)
class RoomContext(Context):
    """A room's environment stream (issue 17 item 1): the room is the source and its own
    "run" (``equipment`` and ``execution`` are the room: one detector for the stream), the spec
    is the room's limit of the parameter (``tg:limitsRoom``). A finding concerns and holds the
    batches with an execution in the room during the excursion window."""

    def during(self) -> list[str]:
        return []

    def where(self) -> str:
        return f"in room {self.equipment.key}"

    def affected(self, store: GraphStore, f: Finding, detected: str) -> list[str]:
        return room_batches(store, self.equipment.iri, ms_to_text(f.episode_ms), detected)

    def concerned(self, held: list[str]) -> list[str]:
        return held


def room_context(store: GraphStore, room_iri: str, parameter: str) -> RoomContext | None:
    """The context of a room's ``parameter`` stream: the room and its limit spec."""
    room = store.get(room_iri)
    if room is None:
        return None
    specs = store.get_many(e.src for e in store.links([room_iri], [R.LIMITS_ROOM],
                                                      Direction.DOWNSTREAM))
    spec = next((s for s in specs.values() if s.key.rsplit("/", 1)[-1] == parameter), None)
    return None if spec is None else RoomContext(room, room, room, spec, parameter)


def room_batches(store: GraphStore, room_iri: str, start: str, end: str) -> list[str]:
    """The batches with an execution in the room overlapping [start, end]
    (:func:`graph.impact.executions_in_room`): what a room excursion holds."""
    return sorted({b for x in executions_in_room(store, room_iri, start, end)
                   for b in x.batches})


def contextualise(store: GraphStore, equipment_iri: str, parameter: str, at: str,
                  delay_ms: int = 0) -> Context | None:
    """The execution on ``equipment_iri`` at ``at`` (the latest started, if several overlap),
    its batch and the spec of ``parameter`` in the batch's pinned process version. ``at`` is
    the material time (:func:`quality.residence.material_ms` of the sample's time and the
    tag's ``delay_ms``, which the context keeps)."""
    equipment = store.get(equipment_iri)
    if equipment is None:
        return None
    runs = [x for x in executions_in_window(store, equipment_iri, at, at) if x.batches]
    if not runs:
        return None
    run = runs[-1]
    batch = store.get(run.batches[0])
    if batch is None:
        return None
    pinned = [e.dst for e in store.links([batch.iri], [R.RUNS_PROCESS_VERSION])]
    routing = [e.dst for e in store.links(pinned, [R.HAS_ROUTING])]
    in_version = {e.dst for e in store.links(routing, [R.HAS_OPERATION])}
    ops = [e.dst for e in store.links([run.execution.iri], [R.EXECUTES_OPERATION])
           if e.dst in in_version]
    specs = store.get_many(e.src for e in store.links(ops, [R.SPEC_OF], Direction.DOWNSTREAM))
    spec = next((s for s in specs.values() if s.key.rsplit("/", 1)[-1] == parameter), None)
    if spec is None:
        return None
    return Context(equipment, run.execution, batch, spec, parameter, delay_ms)


def affected_material(store: GraphStore, ctx: Context, detected: str) -> list[str]:
    """IRIs to hold: the batch, lots consumed into it during the execution up to ``detected``,
    and everything already derived from the batch (graph-derived, any depth)."""
    start = ctx.start_text
    consumed = [e.dst for e in store.links([ctx.batch.iri], [DERIVATION])
                if e.props.get("viaActivity") == ctx.execution.iri
                or start <= str(e.props.get("atTime", "")) <= detected]
    walk = store.walk([ctx.batch.iri], Direction.DOWNSTREAM)
    handles = [h for hs in walk.by_label().values() for h in hs]
    downstream = list(walk.iris(handles).values())
    return sorted(dict.fromkeys([ctx.batch.iri, *consumed, *downstream]))


def grade(limits: SpecLimits, peak: float, limit: float | None) -> str:
    """critical: a CPP beyond spec by more than 10 % of the tolerance; major: any other CPP
    or a non-CPP beyond it by more than 10 %; minor otherwise."""
    width = limits.width or 1.0
    magnitude = abs(peak - limit) / width if limit is not None else 0.0
    if limits.is_cpp:
        return DeviationGrade.CRITICAL if magnitude > 0.1 else DeviationGrade.MAJOR
    return DeviationGrade.MAJOR if magnitude > 0.1 else DeviationGrade.MINOR


@dataclass
class Recorded:
    """What one finding wrote (or would have written, when it was already written)."""

    kind: str
    level: str
    excursion: str
    alarm: str
    deviation: str | None = None
    hold: str | None = None
    grade: str | None = None
    held: list[str] = field(default_factory=list)
    result: WriteResult | None = None
    context: Context | None = None
    finding: Finding | None = None

    @property
    def written(self) -> bool:
        return self.result is not None and self.result.events_written > 0


def _role(rt: Session) -> tuple[str, NodeUpsert | None]:
    iri = rt.vocab.mint_iri(C.Role, QC_ROLE)
    if rt.store.get(iri) is not None:
        return iri, None
    return iri, NodeUpsert(C.Role, QC_ROLE, iri, {P.code: QC_ROLE, P.name: ROLE_NAMES[QC_ROLE],
                                                  P.roleName: QC_ROLE})


def _identity(ctx: Context, stamp: int, level: str) -> tuple[str, str]:
    """The stable identity of a finding and its record number (≤ 40 characters: the source
    time of the episode and a digest of the identity)."""
    ident = f"{ctx.equipment.key}/{ctx.parameter}/{stamp}/{level}"
    number = (ms_to_text(stamp)[:19].replace("-", "").replace(":", "").replace("T", "")
              + "-" + hashlib.sha256(ident.encode()).hexdigest()[:8])
    return ident, number


def record_cleared(rt: Session, ctx: Context, f: Finding) -> WriteResult | None:
    """The episode is over: its excursions get ``clearedAt`` and their alarms are cleared (the
    deviation and the hold stay open: they close through the quality workflow)."""
    v = rt.vocab
    nodes: list[NodeUpsert] = []
    cleared = ms_to_text(f.at_ms)
    spc = f.level in WARNINGS  # an SPC rule or drift episode: its one alarm
    for level in (f.level,) if spc else LEVELS[1:LEVELS.index(f.level) + 1]:
        _ident, number = _identity(ctx, f.episode_ms, level)
        exc = v.mint_iri(C.Excursion, f"EXC-{number}")
        if rt.store.get(exc) is None:
            continue  # the episode jumped over this level
        nodes += [NodeUpsert(C.Excursion, f"EXC-{number}", exc, {P.clearedAt: cleared}),
                  NodeUpsert(C.Alarm, f"ALM-{number}", v.mint_iri(C.Alarm, f"ALM-{number}"),
                             {P.alarmState: AlarmState.CLEARED, P.closedAt: cleared})]
    ident, _ = _identity(ctx, f.episode_ms, f.level)
    event_id = f"signals:{ident}/cleared"
    if not nodes or rt.store.events([event_id]):
        return None  # an episode is cleared once (a re-evaluation may clear it elsewhere)
    if isinstance(ctx, RoomContext):
        nodes += _room_hold_to_end(rt, ctx, f, cleared)
    back = "in statistical control" if spc else "within limits"
    return write_nodes(rt, nodes, SIGNAL_ACTOR,
                       f"automatic: {ctx.parameter} back {back} on {ctx.equipment.key}",
                       event_id, command=Command.EXCEPTION_LOOP)


def _room_hold_to_end(rt: Session, ctx: RoomContext, f: Finding, cleared: str
                      ) -> list[NodeUpsert]:
    """A room excursion's hold covers the batches in the room until the episode ended: those
    that entered after detection are added to it when it clears."""
    _ident, number = _identity(ctx, f.episode_ms, ExcursionLevel.OUT_OF_SPEC)
    hold, deviation = (rt.vocab.mint_iri(C.Hold, f"HLD-{number}"),
                       rt.vocab.mint_iri(C.Deviation, f"DEV-{number}"))
    if rt.store.get(deviation) is None:
        return []  # the episode never went out of specification
    have = {e.dst for e in rt.store.links([hold], [R.HOLDS])}
    more = [b for b in room_batches(rt.store, ctx.equipment.iri, ms_to_text(f.episode_ms),
                                    cleared) if b not in have]
    if not more:
        return []
    opened: dict[str, object] = {} if have else {  # no batch in the room at detection
        P.recordNumber: f"HLD-{number}", P.holdState: HoldState.ACTIVE, P.openedAt: cleared,
        P.description: f"automatic hold: batches in room {ctx.equipment.key} during the "
                       f"{ctx.parameter} excursion"}
    return [NodeUpsert(C.Hold, f"HLD-{number}", hold, opened,  # type: ignore[arg-type]  # str values only
                       {P.holds: more, **({} if have else {P.raisedBy: [deviation]})}),
            NodeUpsert(C.Deviation, f"DEV-{number}", deviation, {}, {P.concerns: more}),
            *on_hold_status(rt.store, more)]


def record_finding(rt: Session, ctx: Context, f: Finding) -> Recorded | None:
    """Write one excursion level reached, or an SPC warning, in one transaction (a cleared
    episode is recorded by :func:`record_cleared`). Idempotent by a deterministic event id."""
    if f.kind in ("cleared", "spcCleared"):
        record_cleared(rt, ctx, f)
        return None
    ident, number = _identity(ctx, f.episode_ms, f.level)
    event_id = f"signals:{ident}"
    v = rt.vocab
    exc_iri, alarm_iri = v.mint_iri(C.Excursion, f"EXC-{number}"), v.mint_iri(C.Alarm,
                                                                               f"ALM-{number}")
    rec = Recorded(f.kind, f.level, exc_iri, alarm_iri, context=ctx, finding=f)
    detected = ms_to_text(f.at_ms)
    if rt.store.events([event_id]):
        return rec  # already committed (a replay after restart): nothing new
    what = (f"{ctx.parameter} drifting ({', '.join(f.rules)})" if f.level == ExcursionLevel.DRIFT
            else f"SPC rule(s) {', '.join(f.rules)}" if f.kind == "spc"
            else f"{ctx.parameter} beyond its {f.level} limit")
    desc = (f"{what} on {ctx.equipment.key} {ctx.where()}; peak {f.peak:g}, raw window from "
            f"{ms_to_text(f.episode_ms)}")
    exc_props: dict[str, object] = {
        P.recordNumber: f"EXC-{number}", P.excursionLevel: f.level, P.peakValue: float(f.peak),
        P.detectedAt: detected, P.description: desc}
    if f.limit is not None:
        exc_props[P.limitValue] = float(f.limit)
    role_iri, role_node = _role(rt)
    exc_links = {P.violatesSpec: [ctx.spec.iri], P.duringExecution: ctx.during()}
    nodes = [NodeUpsert(C.Excursion, f"EXC-{number}", exc_iri, exc_props,  # type: ignore[arg-type]  # exc_props holds only str and float values
                        {k: v for k, v in exc_links.items() if v}),
             NodeUpsert(C.Alarm, f"ALM-{number}", alarm_iri,
                        {P.recordNumber: f"ALM-{number}", P.alarmPriority: PRIORITY[f.level],
                         P.alarmState: AlarmState.ACTIVE, P.openedAt: detected},
                        {P.raisedBy: [exc_iri], P.notifiesRole: [role_iri]})]
    if role_node is not None:
        nodes.insert(0, role_node)
    if f.kind == "excursion" and f.level == ExcursionLevel.OUT_OF_SPEC:
        limits = ctx.limits
        rec.grade = grade(limits, f.peak, f.limit)
        rec.deviation = v.mint_iri(C.Deviation, f"DEV-{number}")
        rec.held = ctx.affected(rt.store, f, detected)
        rec.hold = v.mint_iri(C.Hold, f"HLD-{number}") if rec.held else None
        nodes += [
            NodeUpsert(C.Deviation, f"DEV-{number}", rec.deviation, {
                P.recordNumber: f"DEV-{number}",
                "title": f"{ctx.parameter} out of specification on {ctx.equipment.key}, "
                         + (f"batch {ctx.batch.key}" if ctx.during() else
                            f"{len(rec.held)} batch(es) in the room"),
                P.description: desc, P.deviationState: DeviationState.OPEN,
                P.deviationGrade: rec.grade,
                P.openedAt: detected},
                {P.raisedBy: [exc_iri], P.concerns: ctx.concerned(rec.held)})]
        if rec.hold is not None:  # a room with no batch in it during the excursion: no hold
            nodes += [NodeUpsert(C.Hold, f"HLD-{number}", rec.hold, {
                P.recordNumber: f"HLD-{number}",
                P.holdState: HoldState.ACTIVE, P.openedAt: detected,
                P.description: f"automatic hold: {len(rec.held)} item(s) affected by "
                               f"{ctx.parameter} excursion on {ctx.equipment.key}"},
                {P.holds: rec.held, P.raisedBy: [rec.deviation]}),
            *on_hold_status(rt.store, rec.held)]
    reason = (f"automatic: {what} on {ctx.equipment.key}" if f.kind == "excursion"
              else f"automatic SPC early warning: {what} on {ctx.equipment.key}")
    rec.result = write_nodes(rt, nodes, SIGNAL_ACTOR, reason, event_id,
                             command=Command.EXCEPTION_LOOP)
    return rec
