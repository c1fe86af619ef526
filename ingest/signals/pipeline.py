"""From observations to committed records: raw store → contextualisation → detection → the
exception loop → QC notifications. Every adapter (MQTT, OPC UA, CSV) feeds :meth:`process`.
The pipeline works on a :class:`graph.session.Session` (``rt``: the runtime, or any session).

Guarantees the adapters build on:

- when :meth:`process` returns, the batch's raw samples and every record they caused are
  committed (an adapter acknowledges only then);
- a sample seen again (same stream and source time, or older than the newest of its stream)
  changes nothing, and every record has a deterministic event id, so re-delivery writes nothing
  twice;
- after a restart :meth:`warm_up` replays the newest raw samples of each stream through
  detection, restoring debounce/hysteresis/SPC state (re-found records are already committed
  and are skipped).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from graph.errors import Problem, WriteRejectedError
from graph.model import Direction
from graph.session import Session, write_nodes
from graph.write import NodeUpsert
from ingest.signals.model import Observation, TagBinding, TagMap, now_ms, text_to_ms
from ingest.signals.rawstore import RawStore
from ontology.datatypes import ms_to_text
from ontology.terms import C, P, R
from quality.detection import Detector, Finding
from quality.exception_loop import Context, Recorded, contextualise, record_finding
from quality.notify import Notification, hub
from quality.spc import Limits, limits_from_summary

__all__ = ["SignalPipeline", "check_tag_map"]

log = logging.getLogger("tracegraph.signals")
_FOREVER = 2**62  # a running execution stays the context until the graph changes
WARM_UP = 200


def check_tag_map(rt: Session, tags: TagMap) -> None:
    """Refuse a mapping that names equipment the graph does not know (all problems at once)."""
    problems = [Problem(rule="tag-map-equipment", field=f"tags.{i}.equipment", value=t.equipment,
                        message=f"no Equipment with tag {t.equipment!r}")
                for i, t in enumerate(tags.tags)
                if rt.store.get(rt.vocab.mint_iri(C.Equipment, t.equipment)) is None]
    if problems:
        raise WriteRejectedError(problems)


@dataclass
class _Stream:
    equipment_iri: str
    ctx: Context | None = None
    valid_from: int = 0
    valid_to: int = -1
    detector: Detector | None = None
    last_ms: int = -1


@dataclass
class SignalPipeline:
    rt: Session
    tags: TagMap
    raw: RawStore
    publishers: Sequence[Callable[[Notification], None]] = (hub.publish,)
    debounce: int = 3
    deadband: float = 0.02
    streams: dict[tuple[str, str], _Stream] = field(default_factory=dict)
    records: list[Recorded] = field(default_factory=list)
    samples_in: int = 0
    duplicates: int = 0
    uncontextualised: int = 0
    failed: list[tuple[Finding, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._watermark = -1
        check_tag_map(self.rt, self.tags)
        self.by_address: dict[str, TagBinding] = self.tags.by_address()

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
        return Observation(b.equipment, b.parameter, float(value), b.unit, int(source_ms),
                           received_ms if received_ms is not None else now_ms(),
                           q, int(sequence))  # type: ignore[arg-type]

    def process(self, batch: Sequence[Observation]) -> list[Recorded]:
        """Store, detect and record one batch; everything is committed when this returns."""
        fresh: list[Observation] = []
        for o in sorted(batch, key=lambda o: o.source_ms):
            st = self._stream(o)
            if o.source_ms <= st.last_ms:
                self.duplicates += 1
                continue
            st.last_ms = o.source_ms
            fresh.append(o)
        self.samples_in += len(fresh)
        self.raw.append(fresh)
        self._revalidate()
        return self._detect(fresh)

    def _revalidate(self) -> None:
        """Contexts stay valid until the graph changes (one watermark read per batch)."""
        wm = self.rt.store.watermark()
        if wm != self._watermark:
            self._watermark = wm
            for st in self.streams.values():
                st.valid_to = -1

    def warm_up(self, n: int = WARM_UP) -> list[Recorded]:
        """Replay the newest raw samples of each stream (after a restart)."""
        self._revalidate()
        out: list[Recorded] = []
        for eq, tag in self.raw.streams():
            samples = self.raw.last(eq, tag, n)
            if not samples:
                continue
            st = self._stream(samples[0])
            out += self._detect([s for s in samples if s.source_ms > st.last_ms])
            st.last_ms = max(st.last_ms, samples[-1].source_ms)
        return out

    def flush(self) -> None:
        """Write the per-operation aggregates of every stream's current execution."""
        for (eq, tag), st in self.streams.items():
            if st.ctx is not None:
                self._aggregate(eq, tag, st.ctx)

    # -- inside -----------------------------------------------------------------------------
    def _stream(self, o: Observation) -> _Stream:
        st = self.streams.get(o.stream)
        if st is None:
            st = self.streams[o.stream] = _Stream(self.rt.vocab.mint_iri(C.Equipment,
                                                                          o.equipment))
        return st

    def _detect(self, samples: Sequence[Observation]) -> list[Recorded]:
        out: list[Recorded] = []
        for o in samples:
            if o.quality != "good":
                continue
            st = self.streams[o.stream]
            ctx = self._context(st, o)
            if ctx is None or st.detector is None:
                self.uncontextualised += 1
                continue
            for f in st.detector.feed(o.source_ms, o.value):
                try:
                    rec = record_finding(self.rt, ctx, f)
                except WriteRejectedError as e:  # never silently: logged and counted; the
                    self.failed.append((f, str(e)))  # raw samples stay for a replay
                    log.error("finding on %s/%s not recorded: %s", o.equipment, o.tag, e)
                    continue
                if rec is None:
                    continue
                out.append(rec)
                if rec.written:
                    self._notify(rec)
        self.records += out
        return out

    def _context(self, st: _Stream, o: Observation) -> Context | None:
        t = o.source_ms
        if st.valid_from <= t <= st.valid_to:
            return st.ctx
        ctx = contextualise(self.rt.store, st.equipment_iri, o.tag, ms_to_text(t))
        if st.ctx is not None and (ctx is None or ctx.execution.iri != st.ctx.execution.iri):
            self._aggregate(o.equipment, o.tag, st.ctx)  # the previous run has ended
        if ctx is None:
            st.ctx, st.detector, st.valid_from, st.valid_to = None, None, t, _FOREVER
            return None
        if st.ctx is None or st.ctx.execution.iri != ctx.execution.iri:
            st.detector = Detector(ctx.limits, self.debounce, self.deadband,
                                   spc_limits=self._history(ctx))
        st.ctx = ctx
        st.valid_from = t
        end = ctx.end_text
        st.valid_to = _FOREVER if end is None else _ms(end)
        return ctx

    def _history(self, ctx: Context) -> Limits | None:
        """SPC limits from the aggregates of earlier runs against the same spec."""
        obs = self.rt.store.get_many(e.src for e in self.rt.store.links(
            [ctx.spec.iri], [R.OBSERVES], Direction.DOWNSTREAM))
        rows = [(n.props.get(P.meanValue), n.props.get(P.stdDev), n.props.get(P.sampleCount))
                for n in obs.values()
                if not n.key.startswith(f"{ctx.execution.key}/")]
        ok = [(float(m), float(s), int(c)) for m, s, c in rows  # type: ignore[arg-type]
              if m is not None and s is not None and c is not None]
        if not ok:
            return None
        return limits_from_summary([r[0] for r in ok], [r[1] for r in ok], [r[2] for r in ok])

    def _aggregate(self, equipment: str, tag: str, ctx: Context) -> None:
        start = _ms(ctx.start_text)
        end = _ms(ctx.end_text) if ctx.end_text else self.streams[(equipment, tag)].last_ms
        xs = [s for s in self.raw.window(equipment, tag, start, end) if s.quality == "good"]
        if not xs:
            return
        vals = [s.value for s in xs]
        mean = math.fsum(vals) / len(vals)
        sd = math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) \
            if len(vals) > 1 else 0.0
        key = f"{ctx.execution.key}/{tag}"
        node = NodeUpsert(C.ParameterObservation, key,
                          self.rt.vocab.mint_iri(C.ParameterObservation, key), {
                              P.code: key, P.minValue: min(vals), P.maxValue: max(vals),
                              P.meanValue: min(max(mean, min(vals)), max(vals)),
                              P.stdDev: sd, P.sampleCount: len(vals), P.unitCode: xs[0].unit,
                              P.windowStart: ms_to_text(xs[0].source_ms),
                              P.windowEnd: ms_to_text(xs[-1].source_ms)},
                          {P.observes: [ctx.spec.iri], P.duringExecution: [ctx.execution.iri]})
        try:
            write_nodes(self.rt, [node], "signals", f"signal aggregate of {tag} on {equipment}",
                        f"signals:agg:{key}:{len(vals)}:{xs[-1].source_ms}",
                        command="signalAggregate")
        except WriteRejectedError as e:  # an aggregate never blocks detection
            log.warning("aggregate %s not written: %s", key, e)

    def _notify(self, rec: Recorded) -> None:
        ctx, f = rec.context, rec.finding
        assert ctx is not None and f is not None
        kind = ("spcWarning" if rec.kind == "spc" else
                "deviation" if rec.deviation else "excursion")
        n = Notification(kind, "qc", ctx.equipment.key, ctx.parameter, ctx.batch.key,
                         ctx.execution.key, rec.level, f.peak, ms_to_text(f.at_ms),
                         rec.excursion, rec.alarm, rec.deviation, rec.hold, rec.grade,
                         list(rec.held), list(f.rules))
        for publish in self.publishers:
            try:
                publish(n)
            except Exception:  # a broken receiver must not stop the loop
                log.exception("notification publisher failed")


def _ms(text: str) -> int:
    return text_to_ms(text)
