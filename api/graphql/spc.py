"""The SPC answer of a parameter spec (GraphQL ``spcChart``, the explorer's SPC view): the spec's
subgroups, the X-bar (or individuals) chart with its dispersion chart, rule violations and
episodes, and capability — all computed by :mod:`quality.spc` and :mod:`quality.capability`,
the modules the signal pipeline's detector uses.

Subgroups follow the spec's rule (``tg:subgroupRule`` / ``tg:subgroupSize``) over the raw
samples of its last executions when the raw store holds samples for every one of them
(``basis`` "raw"); otherwise each execution's aggregate (sample count, mean, sd, min, max) is
one subgroup (``basis`` "aggregates", said so in ``basisNote``). Limits are the subgroups' own
(grand mean, sigma within); the chart's rules are all eight Nelson rules.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import strawberry

from graph.model import Direction, NodeRecord
from ingest.signals.model import text_to_ms
from ingest.signals.rawstore import RawStore
from ontology.datatypes import ms_to_text
from ontology.terms import P, R
from quality import spc
from quality.capability import Capability, MinSample, capability_of
from quality.detection import SpecLimits
from quality.residence import delay_of, sample_window
from quality.spc_runs import subgroup_of

__all__ = ["MAX_RAW_VALUES", "SpcCapability", "SpcEpisode", "SpcSubgroup", "SpcViolation",
           "spc_answer"]

MAX_RAW_VALUES = 500_000  # raw values read for one answer (newest executions first)
MAX_SHOWN = 5_000  # subgroups listed (capability uses every subgroup read)


@strawberry.type
class SpcViolation:
    index: int = strawberry.field(description="Index of the subgroup completing the pattern.")
    rule: str
    description: str

    @classmethod
    def of(cls, v: spc.Violation, offset: int = 0) -> SpcViolation:
        return cls(index=v.index - offset, rule=v.rule, description=v.description)


@strawberry.type
class SpcEpisode:
    start: int = strawberry.field(description="Index of the subgroup that opened it.")
    end: int | None = strawberry.field(description="Index of the subgroup that closed it "
                                                   "(null: still open).")
    rules: list[str]


@strawberry.type
class SpcSubgroup:
    key: str = strawberry.field(description="Execution key, with #k for the k-th subgroup of "
                                            "consecutive samples.")
    execution: str | None
    time: str | None = strawberry.field(description="Source time of its first value.")
    n: int
    mean: float
    sd: float | None
    range: float | None
    min: float | None
    max: float | None
    lcl: float | None = strawberry.field(description="X-bar limits for this subgroup's n.")
    ucl: float | None
    moving_range: float | None = strawberry.field(description="|mean - previous mean| "
                                                              "(individuals chart).")
    s_lcl: float | None = strawberry.field(description="S chart limits for this n (n >= 2).")
    s_center: float | None
    s_ucl: float | None


@strawberry.type
class Interval:
    low: float
    high: float


@strawberry.type
class SpcCapability:
    assessable: bool
    reason: str | None = strawberry.field(description="Why capability is not assessable.")
    subgroups: int
    values: int
    mean: float | None
    sigma_within: float | None = strawberry.field(description="Pooled s / c4 (MR-bar / d2 for "
                                                              "individuals).")
    sigma_overall: float | None = strawberry.field(description="Sample standard deviation of "
                                                               "every value.")
    cpk: float | None
    cpk_interval: Interval | None = strawberry.field(description="Bissell's approximation.")
    ppk: float | None
    ppk_interval: Interval | None
    confidence: float
    beyond_spec: int = strawberry.field(description="Subgroups with a value (min or max) "
                                                    "beyond a specification limit.")

    @classmethod
    def of(cls, c: Capability) -> SpcCapability:
        def iv(t: tuple[float, float] | None) -> Interval | None:
            return None if t is None else Interval(low=t[0], high=t[1])
        return cls(assessable=c.assessable, reason=c.reason, subgroups=c.subgroups,
                   values=c.values, mean=c.mean, sigma_within=c.sigma_within,
                   sigma_overall=c.sigma_overall, cpk=c.cpk, cpk_interval=iv(c.cpk_interval),
                   ppk=c.ppk, ppk_interval=iv(c.ppk_interval), confidence=c.confidence,
                   beyond_spec=c.beyond_spec)


@dataclass
class Answer:
    """What :func:`spc_answer` found; the resolver wraps it in ``SpcChart``."""

    rule: str
    size: int | None
    basis: str
    note: str | None
    groups: list[spc.Subgroup]
    executions: list[str | None]
    limits: spc.Limits | None
    chart: spc.Chart | None
    capability: Capability

    def subgroups(self) -> list[SpcSubgroup]:
        lim, mr = self.limits, spc.moving_ranges(self.groups)
        out = []
        for g, ex, r in list(zip(self.groups, self.executions, mr, strict=True))[-MAX_SHOWN:]:
            lo, hi = lim.mean_limits(g.n) if lim else (None, None)
            s3 = lim.s_limits(g.n) if lim and g.n > 1 else (None, None, None)
            out.append(SpcSubgroup(
                key=g.key, execution=ex, n=g.n, mean=g.mean, sd=g.sd, range=g.range, min=g.lo,
                max=g.hi, time=None if g.start_ms is None else ms_to_text(g.start_ms),
                lcl=lo, ucl=hi, moving_range=r, s_lcl=s3[0], s_center=s3[1], s_ucl=s3[2]))
        return out

    def typical_n(self) -> int:
        return Counter(g.n for g in self.groups).most_common(1)[0][0] if self.groups else 1

    def violations(self) -> list[SpcViolation]:
        skip = max(0, len(self.groups) - MAX_SHOWN)
        return [SpcViolation.of(v, skip) for v in (self.chart.violations if self.chart else [])
                if v.index >= skip]

    def episodes(self) -> list[SpcEpisode]:
        skip = max(0, len(self.groups) - MAX_SHOWN)
        return [SpcEpisode(start=max(0, e.start - skip),
                           end=None if e.end is None else e.end - skip, rules=list(e.rules))
                for e in (self.chart.episodes if self.chart else [])
                if e.end is None or e.end >= skip]


def _aggregate(o: NodeRecord, ex: str | None) -> spc.Subgroup | None:
    start = o.props.get(P.windowStart)
    return subgroup_of(o, ex or o.key, text_to_ms(str(start)) if start else None)


def _runs(rt: Any, spec: NodeRecord, last: int
          ) -> list[tuple[NodeRecord, NodeRecord | None, str | None]]:
    """The spec's last ``last`` observations in time order, with their execution and the key
    of the execution's equipment."""
    store = rt.store
    obs = store.get_many(e.src for e in store.links([spec.iri], [R.OBSERVES],
                                                    Direction.DOWNSTREAM))
    run_of = {e.src: e.dst for e in store.links(list(obs), [R.DURING_EXECUTION])}
    runs = store.get_many(set(run_of.values()))
    eq_of = {e.src: e.dst for e in store.links(list(runs), [R.ON_EQUIPMENT])}
    eqs = store.get_many(set(eq_of.values()))
    rows = []
    for o in obs.values():
        run = runs.get(run_of.get(o.iri, ""))
        eq = eqs.get(eq_of.get(run.iri, "")) if run is not None else None
        rows.append((o, run, eq.key if eq is not None else None))
    rows.sort(key=lambda r: str(r[0].props.get(P.windowStart) or r[0].props.get("resultTime")
                                or ""))
    return rows[-last:]


def _raw(rt: Any, rows: list[tuple[NodeRecord, NodeRecord | None, str | None]], tag: str,
         size: int) -> tuple[list[spc.Subgroup], list[str | None], str | None] | None:
    """Subgroups of the raw samples of every execution (None unless the raw store has samples
    of all of them), newest executions first up to :data:`MAX_RAW_VALUES` values."""
    root = rt.settings.data_dir / "signals"
    if not root.is_dir() or not rows:
        return None
    raw = RawStore(root)
    read: list[tuple[str, list[tuple[int, float]]]] = []
    budget, cut = MAX_RAW_VALUES, 0
    try:
        for o, run, eq in reversed(rows):
            if run is None or eq is None or budget <= 0:
                cut += 1
                continue
            start, end = run.props.get(P.startedAtTime), run.props.get(P.endedAtTime)
            if start and end:  # the samples of the execution's material (residence delay)
                lo, hi = sample_window(text_to_ms(str(start)), text_to_ms(str(end)),
                                       delay_of(o.props))
            elif o.props.get(P.windowStart) and o.props.get(P.windowEnd):  # sample times
                lo, hi = (text_to_ms(str(o.props[P.windowStart])),
                          text_to_ms(str(o.props[P.windowEnd])))
            else:
                return None
            xs = [(s.source_ms, s.value) for s in raw.window(eq, tag, lo, hi, budget)
                  if s.quality == "good"]
            if not xs:
                return None
            budget -= len(xs)
            read.append((run.key, xs))
    finally:
        raw.close()
    groups: list[spc.Subgroup] = []
    keys: list[str | None] = []
    for ex, xs in reversed(read):
        gs = (spc.consecutive(xs, size, ex) if size else
              [spc.Subgroup.of(ex, [v for _, v in xs], xs[0][0])])
        groups += gs
        keys += [ex] * len(gs)
    note = (f"{cut} older execution(s) left out: at most {MAX_RAW_VALUES} raw values are read"
            if cut else None)
    return groups, keys, note


def spc_answer(rt: Any, spec: NodeRecord, last: int, minimum: MinSample) -> Answer:
    """The SPC answer of ``spec`` over its last ``last`` executions."""
    lim = SpecLimits.of(spec.props)
    size = lim.subgroup_size
    rows = _runs(rt, spec, last)
    raw = _raw(rt, rows, spec.key.rsplit("/", 1)[-1], size)
    if raw is not None:
        groups, executions, note = raw
        basis = "raw"
    else:
        pairs = [(g, run.key if run else None) for o, run, _ in rows
                 if (g := _aggregate(o, run.key if run else None)) is not None]
        groups, executions = [g for g, _ in pairs], [k for _, k in pairs]
        basis = "aggregates"
        note = ("the raw store does not hold samples of every execution: one subgroup per "
                "execution, from its aggregates (n, mean, sd, min, max)"
                if size != 0 and rows else None)
    limits = spc.limits_from_subgroups(groups)
    chart = spc.chart(groups, limits) if limits is not None else None
    cap = capability_of(groups, lim.lsl, lim.usl, minimum)
    rule = spc.PER_EXECUTION if size == 0 else spc.CONSECUTIVE
    return Answer(str(rule), size or None, basis, note, groups, executions, limits, chart, cap)


def finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None
