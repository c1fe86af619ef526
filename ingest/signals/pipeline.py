"""From observations to committed records: raw store → contextualisation → detection → the
exception loop → QC notifications. Every adapter (MQTT, OPC UA, CSV) feeds :meth:`process`.
The pipeline works on a :class:`graph.session.Session` (``rt``: the runtime, or any session).

Guarantees the adapters build on (issue 17: exactly one record per exception, whatever fails):

- when :meth:`process` returns, the batch's raw samples and every record they caused are
  committed (an adapter acknowledges only then);
- every stored sample is evaluated in source-time order, exactly once in effect: a sample
  already stored (same stream and source time) changes nothing; a late or out-of-order one is
  stored and its stream re-evaluated from the checkpoint before it (:mod:`ingest.signals.state`);
- the detector state is checkpointed after the batch's findings are committed, and a pipeline
  resumes each stream from its checkpoint, re-evaluating every raw sample after it, so a crash
  between the raw commit and the findings commit loses nothing, and a restart doubles nothing:
  every record's identity is its stream and the start of its episode (or the SPC pattern's
  time), written with a deterministic event id;
- QC notifications come from the committed alarms (:mod:`ingest.signals.outbox`): at least
  once, one id per alarm;
- the SPC run rules see settled subgroups only: a sample enters its subgroup once the stream
  is ``spc_lateness_ms`` past it, or its execution has completed (the stream moved on), so a
  sample up to that late gives the warnings a time-ordered replay gives (issue 17);
- memory per stream is bounded (the last ``keep_records`` records are kept for callers);
- a sample belongs to the execution running at its material time, its source time plus its
  tag's residence delay (:mod:`quality.residence`; item 4).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from graph.errors import Problem, WriteRejectedError
from graph.model import Direction
from graph.session import Session, write_nodes
from graph.write import NodeUpsert
from ingest.signals.drift import DriftTracker
from ingest.signals.model import Observation, TagBinding, TagMap, now_ms, text_to_ms
from ingest.signals.outbox import QcOutbox
from ingest.signals.rawstore import RawStore
from ingest.signals.rooms import check_room_tags, sample_quality
from ingest.signals.state import Checkpoint, LoopState
from ontology.codes import ExcursionLevel
from ontology.datatypes import ms_to_text
from ontology.terms import C, P, R
from quality.detection import DEFAULT_SPC_RULES, Detector, Finding
from quality.exception_loop import Context, Recorded, contextualise, record_finding, room_context
from quality.notify import Notification, hub
from quality.residence import delay_seconds, material_ms, sample_window
from quality.spc import SPAN, Limits, limits_from_summary
from quality.spc_runs import completed_event, execution_subgroups

__all__ = ["SignalPipeline", "check_tag_map"]

log = logging.getLogger("tracegraph.signals")
_SPC = "#spc"  # SPC rule episodes are kept apart from limit episodes in the loop state
_FOREVER = 2**62  # a running execution stays the context until the graph changes
CHUNK = 20_000  # raw samples read per step when re-evaluating
MARK_EVERY = 50  # re-evaluated samples between the checkpoints a catch-up leaves (issue 17 G)


def check_tag_map(rt: Session, tags: TagMap) -> None:
    """Refuse a mapping that names equipment the graph does not know (all problems at once)."""
    problems = [Problem(rule="tag-map-equipment", field=f"tags.{i}.equipment", value=t.equipment,
                        message=f"no Equipment with tag {t.equipment!r}")
                for i, t in enumerate(tags.tags) if t.equipment is not None
                and rt.store.get(rt.vocab.mint_iri(C.Equipment, t.equipment)) is None]
    problems += check_room_tags(rt, tags)  # rooms as sources (issue 17 item 1)
    if problems:
        raise WriteRejectedError(problems)


@dataclass
class _Stream:
    key: tuple[str, str]
    equipment_iri: str  # the source: equipment, or a room (``room``)
    room: bool = False
    ctx: Context | None = None
    valid_from: int = 0
    valid_to: int = -1
    detector: Detector | None = None
    run: str | None = None  # the execution the detector belongs to
    last_ms: int = -1  # evaluated up to: every stored sample at or before it has been fed
    delay_ms: int = 0  # the tag's residence delay: a sample at t is material of t + delay


@dataclass
class SignalPipeline:
    rt: Session
    tags: TagMap
    raw: RawStore
    publishers: Sequence[Callable[[Notification], None]] = (hub.publish,)
    debounce: int = 3
    deadband: float = 0.02
    keep_records: int = 1000
    spc_lateness_ms: int = 30_000  # how late a sample may be and still reach its SPC subgroup
    streams: dict[tuple[str, str], _Stream] = field(default_factory=dict)
    records: deque[Recorded] = field(default_factory=deque)
    samples_in: int = 0
    duplicates: int = 0
    late: int = 0
    uncontextualised: int = 0
    failures: int = 0
    failed: deque[tuple[Finding, str]] = field(default_factory=lambda: deque(maxlen=100))

    def __post_init__(self) -> None:
        self._watermark = -1
        check_tag_map(self.rt, self.tags)
        self.by_address: dict[str, TagBinding] = self.tags.by_address()
        self._delays = {(b.source, b.parameter): b.delay_ms for b in self.tags.tags}
        self.rooms = {t.room for t in self.tags.tags if t.room is not None}
        self.records = deque(self.records, maxlen=self.keep_records)
        self.state = LoopState(self.raw.root)
        self.outbox = QcOutbox(self.rt.store, self.state, lambda: self.publishers)
        self._found: list[Recorded] = []
        self.drift = DriftTracker(self.raw.root, {(b.source, b.parameter): b.drift
                                                  for b in self.tags.tags if b.drift})
        self._marks: list[tuple[tuple[str, str], Checkpoint]] = []  # saved by _commit

    # -- adapters call these ------------------------------------------------------------------
    def observation(self, address: str, value: float, source_ms: int, quality: str = "good",
                    sequence: int = 0, unit: str | None = None,
                    received_ms: int | None = None) -> Observation | None:
        """Map a source address to the observation model (``None``: address not mapped)."""
        b = self.by_address.get(address)
        if b is None:
            return None
        q = quality if quality in ("good", "uncertain", "bad") else "bad"
        if (unit is not None and unit != b.unit) or not math.isfinite(value):
            q = "bad"  # wrong unit or not a number: kept raw, never detected on
        q = sample_quality(b, value, q)
        return Observation(b.source, b.parameter, float(value), b.unit, int(source_ms),
                           received_ms if received_ms is not None else now_ms(),
                           q, int(sequence))  # type: ignore[arg-type]  # q is one of the Quality literals, checked just above

    def process(self, batch: Sequence[Observation]) -> list[Recorded]:
        """Store, detect and record one batch; everything is committed when this returns."""
        ordered = sorted(batch, key=lambda o: o.source_ms)
        for key in dict.fromkeys(o.stream for o in ordered):
            self._stream(key)  # resumed (and caught up) before this batch is stored
        fresh = self.raw.append_new(ordered)
        self.samples_in += len(fresh)
        self.duplicates += len(ordered) - len(fresh)
        self._revalidate()
        by_stream: dict[tuple[str, str], list[Observation]] = {}
        for o in fresh:
            by_stream.setdefault(o.stream, []).append(o)
        for key, xs in by_stream.items():
            st = self._stream(key)
            if xs[0].source_ms <= st.last_ms:  # late or out of order: re-evaluate in time order
                self.late += sum(1 for o in xs if o.source_ms <= st.last_ms)
                self._reevaluate(st, xs[0].source_ms)
            else:
                self._detect(st, xs)
        return self._commit(by_stream)

    def warm_up(self) -> list[Recorded]:
        """After a restart: resume every stream from its checkpoint, evaluating the raw samples
        committed after it, and queue every QC notification not yet delivered."""
        self._revalidate()
        self.outbox.recover()
        keys = self.raw.streams()
        for key in keys:
            self._stream(key)
        return self._commit(dict.fromkeys(keys))

    def flush(self) -> None:
        """Write the per-operation aggregates of every stream's current execution."""
        for (eq, tag), st in self.streams.items():
            if st.ctx is not None and not st.room:  # a room's conditions: from the raw store
                self._aggregate(eq, tag, st.ctx)
        self._commit(())  # per-execution SPC findings of completed executions: notified

    # -- inside -----------------------------------------------------------------------------
    def _revalidate(self) -> None:
        """Contexts stay valid until the graph changes (one watermark read per batch)."""
        wm = self.rt.store.watermark()
        if wm != self._watermark:
            self._watermark = wm
            for st in self.streams.values():
                st.valid_to = -1

    def _commit(self, touched: Iterable[tuple[str, str]]) -> list[Recorded]:
        """The batch's findings are committed: checkpoint the touched streams, notify QC."""
        self.drift.save()  # before the loop's checkpoint: never older than it
        marks, self._marks = self._marks, []
        self.state.save([*marks, *((k, self._checkpoint(self.streams[k])) for k in touched
                                   if k in self.streams)])
        out, self._found = self._found, []
        self.records.extend(out)
        self.outbox.dispatch()
        return out

    @staticmethod
    def _checkpoint(st: _Stream) -> Checkpoint:
        return (st.last_ms, st.run, st.detector.state() if st.detector is not None else None)

    def _stream(self, key: tuple[str, str]) -> _Stream:
        st = self.streams.get(key)
        if st is None:
            room = key[0] in self.rooms
            st = self.streams[key] = _Stream(key, self.rt.vocab.mint_iri(
                C.Room if room else C.Equipment, key[0]), room,
                delay_ms=self._delays.get(key, 0))
            cp = self.state.before(key)
            self._restore(st, cp)
            self._catch_up(st, st.last_ms + 1 if cp is not None else self._first(st))
        return st

    def _first(self, st: _Stream) -> int:
        """Where a stream without a checkpoint starts: the beginning of the execution running
        at its newest raw sample (older runs' findings are committed, or were never found)."""
        latest = self.raw.last(*st.key, 1)
        # a room's stream is one run: it resumes at its newest sample
        return self._first_at(st, latest[-1].source_ms) if latest else _FOREVER

    def _at(self, st: _Stream, t_ms: int) -> Context | None:
        """The context of a sample taken at ``t_ms``: what ran at its material time (a room's
        stream: the room and its limit)."""
        if st.room:
            return room_context(self.rt.store, st.equipment_iri, st.key[1])
        return contextualise(self.rt.store, st.equipment_iri, st.key[1],
                             ms_to_text(material_ms(t_ms, st.delay_ms)), st.delay_ms)

    def _restore(self, st: _Stream, cp: Checkpoint | None) -> None:
        st.ctx, st.valid_to, st.detector, st.run, st.last_ms = None, -1, None, None, -1
        if cp is None:
            return
        st.last_ms, st.run, state = cp
        if st.run is not None and state is not None:
            ctx = self._context_at(st.run, st.key[1], st.delay_ms)
            if ctx is not None:
                st.detector = Detector.resume(ctx.limits, state, self.debounce, self.deadband,
                                              self.spc_lateness_ms)

    def _context_at(self, run: str, tag: str, delay_ms: int) -> Context | None:
        ex = self.rt.store.get(run)
        if ex is not None and ex.label == C.Room:
            return room_context(self.rt.store, run, tag)
        eq = [e.dst for e in self.rt.store.links([run], [R.ON_EQUIPMENT])]
        if ex is None or not eq:
            return None
        return contextualise(self.rt.store, eq[0], tag, str(ex.props.get(P.startedAtTime, "")),
                             delay_ms)

    def _reevaluate(self, st: _Stream, t_ms: int) -> None:
        """A sample at ``t_ms`` arrived after later ones were evaluated: resume from the newest
        checkpoint before it (or the start of its execution) and evaluate forward again."""
        cp = self.state.before(st.key, t_ms)
        self.state.drop_from(st.key, t_ms)
        self._marks = [m for m in self._marks  # pending ones too: they did not know it
                       if m[0] != st.key or m[1][0] < t_ms]
        self._restore(st, cp)
        self._catch_up(st, st.last_ms + 1 if cp is not None else self._first_at(st, t_ms))

    def _first_at(self, st: _Stream, t_ms: int) -> int:
        """The first sample time of the execution running at ``t_ms`` (a room's stream has no
        executions: ``t_ms`` itself)."""
        ctx = None if st.room else self._at(st, t_ms)
        return _samples_of(ctx)[0] if ctx is not None else t_ms

    def _catch_up(self, st: _Stream, start: int) -> None:
        """Evaluate the stored samples of a stream from ``start`` on, oldest first, leaving a
        checkpoint every ``MARK_EVERY`` samples (saved with the batch's): a later late sample
        resumes from just before it, instead of from before the previous re-evaluation — else
        each late sample re-reads more of the run than the one before (quadratic work, a
        consumer falling behind, its backlog growing)."""
        end = self.raw.latest_ms()
        while end is not None and start <= end:
            xs = self.raw.window(*st.key, start, end, limit=CHUNK)
            if not xs:
                break
            for i in range(0, len(xs), MARK_EVERY):
                self._detect(st, xs[i:i + MARK_EVERY])
                self._marks.append((st.key, self._checkpoint(st)))
            start = xs[-1].source_ms + 1

    def _detect(self, st: _Stream, samples: Sequence[Observation]) -> None:
        for o in samples:
            st.last_ms = max(st.last_ms, o.source_ms)
            if o.quality != "good":
                continue
            ctx = self._context(st, o)
            if ctx is None or st.detector is None:
                self.uncontextualised += 1
                continue
            for f in st.detector.feed(o.source_ms, o.value):
                self._record(st, ctx, f)
            for f in self.drift.feed(st.key, st.detector, o.source_ms, o.value):
                self._record(st, ctx, f)

    def _record(self, st: _Stream, ctx: Context, f: Finding) -> None:
        run = ctx.execution.iri
        if f.kind in ("excursion", "cleared"):  # one identity per episode (see _episode)
            f = replace(f, episode_ms=self._episode(st, ctx, f))
        else:  # an SPC rule episode, likewise (see _spc_episode)
            f = replace(f, episode_ms=self._spc_episode(st, ctx, f))
        try:
            rec = record_finding(self.rt, ctx, f)
        except WriteRejectedError as e:  # never silently: logged and counted; the raw
            self.failures += 1  # samples stay for a replay
            self.failed.append((f, str(e)))
            log.error("finding on %s/%s not recorded: %s", *st.key, e)
            return
        if f.kind in ("cleared", "spcCleared"):
            self.state.close_episode(st.key, run if f.kind == "cleared" else run + _SPC,
                                     f.episode_ms, f.at_ms)
        if rec is None:
            return
        self._found.append(rec)
        self.outbox.add(rec.alarm)

    def _episode(self, st: _Stream, ctx: Context, f: Finding) -> int:
        """The start that identifies a finding's episode: the recorded one it overlaps, or
        the recorded one it runs into (late samples just before an episode already recorded
        extend it backwards), else its own (recorded now)."""
        run = ctx.execution.iri
        known = self.state.episode(st.key, run, f.episode_ms, f.at_ms)
        if known is None:
            nxt = self.state.next_episode(st.key, run, f.at_ms)
            if nxt is not None and self._continuous(st, ctx, f.at_ms, nxt):
                known = nxt
        if known is None and f.kind == "excursion":
            self.state.open_episode(st.key, run, f.episode_ms)
        return f.episode_ms if known is None else known

    def _spc_episode(self, st: _Stream, ctx: Context, f: Finding) -> int:
        """The identity of an SPC rule episode: the recorded one it overlaps, or the recorded
        one starting fewer than a rule window of subgroups later (a late sample shifted the
        subgroups, so the same pattern fired on a neighbouring subgroup), else its own."""
        run = ctx.execution.iri + _SPC
        known = self.state.episode(st.key, run, f.episode_ms, f.at_ms)
        if known is None and f.kind == "spc":
            nxt = self.state.next_episode(st.key, run, f.at_ms)
            rules = st.detector.spc_rules if st.detector is not None else DEFAULT_SPC_RULES
            window = max(SPAN[r] for r in rules) * max(1, ctx.limits.subgroup_size)
            if nxt is not None and sum(1 for o in self.raw.window(
                    *st.key, f.at_ms + 1, nxt, limit=window)
                    if o.quality == "good" and ctx.limits.level_of(o.value) == 0) < window:
                known = nxt
            if known is None:
                self.state.open_episode(st.key, run, f.episode_ms)
        return f.episode_ms if known is None else known

    def _continuous(self, st: _Stream, ctx: Context, from_ms: int, to_ms: int) -> bool:
        """No ``debounce`` consecutive in-band samples between two times (the episode did
        not end in between)."""
        inside = 0
        for o in self.raw.window(*st.key, from_ms, to_ms, limit=CHUNK):
            inside = inside + 1 if ctx.limits.level_of(o.value) == 0 else 0
            if inside >= self.debounce:
                return False
        return True

    def _context(self, st: _Stream, o: Observation) -> Context | None:
        t = material_ms(o.source_ms, st.delay_ms)  # valid_from/to: material times
        if st.valid_from <= t <= st.valid_to:
            return st.ctx
        ctx = self._at(st, o.source_ms)
        if st.ctx is not None and (ctx is None or ctx.execution.iri != st.ctx.execution.iri):
            self._aggregate(o.equipment, o.tag, st.ctx)  # the previous run has ended
            if st.detector is not None:  # its pending samples are settled
                for f in st.detector.settle():
                    self._record(st, st.ctx, f)
        if ctx is None:
            st.ctx, st.detector, st.run, st.valid_from, st.valid_to = None, None, None, t, \
                _FOREVER
            return None
        if st.run != ctx.execution.iri or st.detector is None:
            st.detector = Detector(ctx.limits, self.debounce, self.deadband,
                                   spc_limits=self._history(ctx),
                                   spc_lateness_ms=self.spc_lateness_ms)
            st.run = ctx.execution.iri
        st.ctx = ctx
        st.valid_from = t
        end = ctx.end_text
        st.valid_to = _FOREVER if end is None else _ms(end)
        return ctx

    def _history(self, ctx: Context) -> Limits | None:
        """SPC limits from the aggregates of earlier runs against the same spec: only runs
        that had ended when this one started (complete, and the same whenever they are read)
        and that raised no excursion (in control)."""
        store = self.rt.store
        obs = store.get_many(e.src for e in store.links(
            [ctx.spec.iri], [R.OBSERVES], Direction.DOWNSTREAM))
        run_of = {e.src: e.dst for e in store.links(list(obs), [R.DURING_EXECUTION])}
        runs = store.get_many(set(run_of.values()))
        start = ctx.start_text
        done = {iri for iri, r in runs.items()
                if r.props.get(P.endedAtTime) and str(r.props[P.endedAtTime]) <= start}
        into = store.links(list(done), [R.DURING_EXECUTION], Direction.DOWNSTREAM)
        excursions = {e.src for e in store.links([e.src for e in into if e.src not in obs],
                                                 [R.VIOLATES_SPEC])}
        flagged = {e.dst for e in into if e.src in excursions}
        rows = [(n.props.get(P.meanValue), n.props.get(P.stdDev), n.props.get(P.sampleCount))
                for iri, n in obs.items()
                if run_of.get(iri) in done and run_of.get(iri) not in flagged]
        ok = [(float(m), float(s), int(c)) for m, s, c in rows  # type: ignore[arg-type]  # numeric properties, None filtered out
              if m is not None and s is not None and c is not None]
        if not ok:
            return None
        return limits_from_summary([r[0] for r in ok], [r[1] for r in ok], [r[2] for r in ok])

    def _aggregate(self, equipment: str, tag: str, ctx: Context) -> None:
        start, end = _samples_of(ctx)  # the material's samples: shifted by the residence delay
        if ctx.end_text is None:
            end = self.streams[(equipment, tag)].last_ms
        g = self.raw.summary(equipment, tag, start, end)  # in SQLite: no rows in memory
        if g is None:
            return
        key = f"{ctx.execution.key}/{tag}"
        node = NodeUpsert(C.ParameterObservation, key,
                          self.rt.vocab.mint_iri(C.ParameterObservation, key), {
                              P.code: key, P.minValue: g.min, P.maxValue: g.max,
                              P.meanValue: min(max(g.mean, g.min), g.max), P.stdDev: g.sd,
                              P.sampleCount: g.n,
                              P.unitCode: g.unit, P.windowStart: ms_to_text(g.first_ms),
                              P.windowEnd: ms_to_text(g.last_ms),
                              **({P.residenceDelay: delay_seconds(ctx.delay_ms)}
                                 if ctx.delay_ms else {})},
                          {P.observes: [ctx.spec.iri], P.duringExecution: [ctx.execution.iri]})
        try:
            write_nodes(self.rt, [node], "signals", f"signal aggregate of {tag} on {equipment}",
                        f"signals:agg:{key}:{g.n}:{g.last_ms}",
                        command="signalAggregate")
        except WriteRejectedError as e:  # an aggregate never blocks detection
            log.warning("aggregate %s not written: %s", key, e)
            return
        if ctx.limits.subgroup_size == 0 and ctx.end_text is not None:
            self._spc_per_execution(self.streams[(equipment, tag)], ctx, ctx.end_text)

    def _spc_per_execution(self, st: _Stream, ctx: Context, end: str) -> None:
        """A spec whose subgroups are per execution: when an execution completes, the run
        rules on the executions' subgroups (:mod:`quality.spc_runs`), against limits from
        completed in-control history (as the detector's)."""
        limits = self._history(ctx)
        rows = execution_subgroups(self.rt.store, ctx.spec.iri, end)
        ev = completed_event(rows, limits) if limits is not None else None
        if ev is not None and rows[-1].execution.iri == ctx.execution.iri:
            self._record(st, ctx, Finding(ev.kind, ExcursionLevel.SPC_RULE,  # type: ignore[arg-type]  # kind is "spc" or "spcCleared"
                                          _ms(ev.opened_by.end), _ms(end), rows[-1].group.mean,
                                          None, ev.rules))


def _ms(text: str) -> int:
    return text_to_ms(text)


def _samples_of(ctx: Context) -> tuple[int, int]:
    """The sample times describing the material of the context's execution (an execution
    still running: up to the end of time)."""
    end = ctx.end_text
    return sample_window(_ms(ctx.start_text), _ms(end) if end else _FOREVER, ctx.delay_ms)
