"""Excursion detection on one signal stream: spec, action and alert limits with debounce and
hysteresis, and SPC early warning (:mod:`quality.spc`) on the same stream.

A :class:`Detector` is a small state machine fed one sample at a time (pure: no I/O, no clock).

- **Debounce**: a level (alert < action < outOfSpec) is entered only after ``debounce``
  consecutive samples beyond its limit, so a single spike raises nothing.
- **Hysteresis**: an episode ends only after ``debounce`` consecutive samples back inside the
  alert band shrunk by a dead band (a fraction of the tolerance width), so a signal hovering at
  a limit raises one excursion, not an alarm storm. Within an episode each level is reported
  once, when first reached.
- **SPC early warning** (:mod:`quality.spc`): the run rules on the spec's subgroups (every
  ``n`` consecutive samples, ``tg:subgroupSize``), standardised against an X-bar chart whose limits
  come from completed in-control history (else from the run's first ``spc_baseline``
  subgroups); one ``spc`` finding per rule episode, and a ``spcCleared`` finding when the
  episode closes (hysteresis: :class:`quality.spc.RuleEpisodes`). The subgroups take only the
  samples inside the alert limits, and an episode opens only while no limit is crossed: beyond
  them, limit detection with debounce owns the signal (a one-sample spike it ignores must not
  shift a subgroup mean into a warning either).
  **Settled subgroups** (``spc_lateness_ms`` > 0): a sample enters its subgroup only once a
  sample more than the allowed lateness newer has been fed (or :meth:`Detector.settle` is
  called when its execution completes), so a late or out-of-order sample within the allowed
  lateness is in its subgroup before the run rules see it: the warnings equal those of the
  same samples fed in time order (limit detection is not delayed).
  A spec with subgroups ``perExecution`` has no within-run SPC (its run rules are evaluated
  when an execution completes: :mod:`quality.spc_runs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ontology.codes import ExcursionLevel
from ontology.terms import P
from quality.spc import (
    CONSECUTIVE,
    DEFAULT_RULES,
    DEFAULT_SUBGROUP_SIZE,
    PER_EXECUTION,
    Limits,
    RuleEpisodes,
    Subgroup,
    SubgroupAccumulator,
    limits_from_subgroups,
)

__all__ = ["DEFAULT_SPC_RULES", "LEVELS", "Detector", "Finding", "SpecLimits"]

#: "ok" (no limit crossed), then the excursion levels of tg:ExcursionLevelScheme in severity order
LEVELS = ("ok", ExcursionLevel.ALERT, ExcursionLevel.ACTION, ExcursionLevel.OUT_OF_SPEC)
DEFAULT_SPC_RULES = DEFAULT_RULES


def _f(props: Mapping[str, object], name: str) -> float | None:
    v = props.get(name)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


@dataclass(frozen=True)
class SpecLimits:
    """The limits of one parameter spec (any may be missing; missing levels are skipped)."""

    lsl: float | None = None
    usl: float | None = None
    action_low: float | None = None
    action_high: float | None = None
    alert_low: float | None = None
    alert_high: float | None = None
    setpoint: float | None = None
    is_cpp: bool = False
    subgroup_size: int = DEFAULT_SUBGROUP_SIZE  # 0: one subgroup per execution

    @classmethod
    def of(cls, props: Mapping[str, object]) -> SpecLimits:
        """From a ``tg:ParameterSpec``'s properties; subgroups ``consecutive`` of
        ``tg:subgroupSize`` (default 5) unless ``tg:subgroupRule`` is ``perExecution``."""
        size = props.get(P.subgroupSize)
        rule = props.get(P.subgroupRule, CONSECUTIVE)
        n = size if isinstance(size, int) and not isinstance(size, bool) and size > 0 \
            else DEFAULT_SUBGROUP_SIZE
        return cls(_f(props, "lsl"), _f(props, "usl"), _f(props, "actionLow"),
                   _f(props, "actionHigh"), _f(props, "alertLow"), _f(props, "alertHigh"),
                   _f(props, "setpoint"), props.get("isCPP") is True,
                   0 if rule == PER_EXECUTION else n)

    def bands(self) -> tuple[tuple[float | None, float | None], ...]:
        """(low, high) limits of alert, action and spec, in level order."""
        return ((self.alert_low, self.alert_high), (self.action_low, self.action_high),
                (self.lsl, self.usl))

    def level_of(self, x: float) -> int:
        level = 0
        for i, (lo, hi) in enumerate(self.bands(), start=1):
            if (lo is not None and x < lo) or (hi is not None and x > hi):
                level = i
        return level

    def limit_crossed(self, level: int, x: float) -> float | None:
        lo, hi = self.bands()[level - 1]
        if lo is not None and x < lo:
            return lo
        return hi

    @property
    def width(self) -> float:
        lo = next((v for v in (self.lsl, self.action_low, self.alert_low) if v is not None), None)
        hi = next((v for v in (self.usl, self.action_high, self.alert_high) if v is not None),
                  None)
        return hi - lo if lo is not None and hi is not None else 0.0

    @property
    def center(self) -> float:
        if self.setpoint is not None:
            return self.setpoint
        lo, hi = self.lsl, self.usl
        return (lo + hi) / 2 if lo is not None and hi is not None else 0.0


@dataclass(frozen=True)
class Finding:
    """Something the detector concluded from the stream."""

    kind: Literal["excursion", "cleared", "spc", "spcCleared"]
    level: str  # one of LEVELS (excursion/cleared) or "spcRule"
    episode_ms: int  # source time of the first sample of the episode (SPC: of the subgroup
    #                  that opened the rule episode)
    at_ms: int  # source time of the sample that completed the detection
    peak: float
    limit: float | None = None
    rules: tuple[str, ...] = ()


@dataclass
class Detector:
    spec: SpecLimits
    debounce: int = 3
    deadband: float = 0.02  # of the tolerance width
    spc_limits: Limits | None = None  # centre and sigma of single values (from history)
    spc_baseline: int = 20  # subgroups that set the SPC limits when history gave none
    spc_rules: frozenset[str] = DEFAULT_SPC_RULES
    spc_lateness_ms: int = 0  # SPC on settled subgroups only (0: every sample at once)
    last_ms: int = -1
    level: int = 0  # highest level reached in the current episode
    episode_ms: int = 0
    peak: float = 0.0
    _runs: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    _run_start: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    _inside: int = 0
    _window: list[float] = field(default_factory=list)  # recent subgroup z, newest last
    _baseline: list[list[float]] = field(default_factory=list)  # [n, mean, sd] per subgroup
    _pending: list[tuple[int, float, bool]] = field(default_factory=list)  # not yet settled

    def __post_init__(self) -> None:
        self._groups = SubgroupAccumulator(max(1, self.spec.subgroup_size))
        self._episodes = RuleEpisodes(self.spc_rules)
        self._span = self._episodes.span

    def state(self) -> dict[str, object]:
        """Everything that evolves as samples are fed (JSON-able, a copy: later samples do not
        change it): with the same spec and settings, :meth:`resume` continues exactly where
        this detector stopped."""
        lim = self.spc_limits
        return {"spc": None if lim is None else [lim.center, lim.sigma],
                "last_ms": self.last_ms, "level": self.level, "episode_ms": self.episode_ms,
                "peak": self.peak, "runs": list(self._runs), "run_start": list(self._run_start),
                "inside": self._inside, "window": self._window[-self._span:],
                "baseline": [list(b) for b in self._baseline], "groups": self._groups.state(),
                "episodes": self._episodes.state(), "pending": list(self._pending)}

    @classmethod
    def resume(cls, spec: SpecLimits, state: Mapping[str, object], debounce: int = 3,
               deadband: float = 0.02, spc_lateness_ms: int = 0) -> Detector:
        """A detector in the state :meth:`state` returned (a checkpoint written before
        subgroups existed resumes with an empty subgroup)."""
        s: dict[str, Any] = dict(state)
        spc = s["spc"]
        d = cls(spec, debounce, deadband, Limits(*spc) if spc is not None else None,
                spc_lateness_ms=spc_lateness_ms)
        d.last_ms, d.level, d.episode_ms = int(s["last_ms"]), int(s["level"]), int(s["episode_ms"])
        d.peak, d._inside = float(s["peak"]), int(s["inside"])
        d._runs, d._run_start = list(s["runs"]), list(s["run_start"])
        if "groups" in s:
            d._window, d._baseline = list(s["window"]), list(s["baseline"])
            d._groups = SubgroupAccumulator.resume(s["groups"])
            d._episodes.resume(s["episodes"])
        d._pending = [(int(t), float(x), bool(m)) for t, x, m in s.get("pending", ())]
        return d

    def feed(self, t_ms: int, x: float) -> list[Finding]:
        """Process one sample; samples not newer than the last one are ignored (duplicates
        and out-of-order re-deliveries) and return nothing."""
        if t_ms <= self.last_ms:
            return []
        self.last_ms = t_ms
        out: list[Finding] = []
        lvl = self.spec.level_of(x)
        runs = self._runs
        confirmed = 0
        if lvl or runs[1]:  # the common case, in band after in band, skips the bookkeeping
            for i in (1, 2, 3):
                if lvl >= i:
                    if runs[i] == 0:
                        self._run_start[i] = t_ms
                    runs[i] += 1
                    if runs[i] >= self.debounce:
                        confirmed = i
                else:
                    runs[i] = 0
        if self.level and abs(x - self.spec.center) > abs(self.peak - self.spec.center):
            self.peak = x
        if confirmed > self.level:
            if self.level == 0:
                self.episode_ms = self._run_start[1]
                self.peak = x
            self.level = confirmed
            self._inside = 0
            out.append(Finding("excursion", LEVELS[confirmed], self.episode_ms, t_ms, self.peak,
                               self.spec.limit_crossed(confirmed, self.peak)))
        elif self.level:
            self._inside = self._inside + 1 if self._well_inside(x) else 0
            if self._inside >= self.debounce:
                out.append(Finding("cleared", LEVELS[self.level], self.episode_ms, t_ms,
                                   self.peak))
                self.level = 0
                self._inside = 0
        if lvl == 0:  # SPC subgroups take the samples inside the alert limits only
            may_open = not (self.level or self._runs[1])
            if self.spc_lateness_ms <= 0:
                out.extend(self._spc(t_ms, x, may_open))
            else:
                self._pending.append((t_ms, x, may_open))
        if self._pending:
            out.extend(self.settle(t_ms - self.spc_lateness_ms))
        return out

    def settle(self, before_ms: int | None = None) -> list[Finding]:
        """Feed the run rules the pending samples older than ``before_ms`` (None: all of
        them, when the execution has completed), oldest first."""
        out: list[Finding] = []
        n = 0
        for t, x, may_open in self._pending:
            if before_ms is not None and t >= before_ms:
                break
            out.extend(self._spc(t, x, may_open))
            n += 1
        if n:
            del self._pending[:n]
        return out

    def _well_inside(self, x: float) -> bool:
        db = self.deadband * self.spec.width
        lo, hi = self.spec.alert_low, self.spec.alert_high
        return (lo is None or x >= lo + db) and (hi is None or x <= hi - db)

    def _spc(self, t_ms: int, x: float, may_open: bool) -> list[Finding]:
        if self.spec.subgroup_size == 0:
            return []  # subgroups per execution: charted across executions, not within one
        g = self._groups.add(t_ms, x)
        if g is None:
            return []
        if self.spc_limits is None:
            self._baseline.append([g.n, g.mean, g.sd or 0.0])
            if len(self._baseline) >= self.spc_baseline:
                self.spc_limits = limits_from_subgroups([Subgroup(str(i), int(n), m, sd) for i, (
                    n, m, sd) in enumerate(self._baseline)])
                self._baseline = []
            return []
        self._window.append(self.spc_limits.z(g.mean, g.n))
        if len(self._window) > 2 * self._span:  # bounded, also through a long excursion
            del self._window[:-self._span]
        opened_at = self._episodes.open_at
        event, broken = self._episodes.step(self._window, t_ms, may_open=may_open)
        if event == "open":
            return [Finding("spc", ExcursionLevel.SPC_RULE, t_ms, t_ms, g.mean, None, broken)]
        if event == "close" and opened_at is not None:
            return [Finding("spcCleared", ExcursionLevel.SPC_RULE, opened_at, t_ms, g.mean, None,
                            tuple(self._episodes.fired))]
        return []
