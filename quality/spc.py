"""Statistical process control as pure functions: rational subgroups, control limits, the
Western Electric / Nelson run rules on subgroup statistics, and rule episodes. Nothing here
does I/O; capability (Cpk/Ppk) is :mod:`quality.capability`.

One module for both users (issue 17): the detector (:mod:`quality.detection`) builds subgroups
from a stream with :class:`SubgroupAccumulator` and raises one warning per :class:`RuleEpisodes`
episode; the SPC chart (GraphQL ``spcChart``) builds the same subgroups with
:func:`consecutive` (or one per execution) and marks the same episodes with :func:`chart`.

- **Subgroups** are defined per parameter spec (``tg:subgroupRule`` / ``tg:subgroupSize``):
  ``consecutive`` (every n consecutive good samples of an execution, from its first; an
  incomplete last group is not a subgroup) or ``perExecution``; default ``consecutive`` with
  n = 5. n = 1 is an individuals chart.
- **Sigma within** (the short-term sigma of single values): for subgroups of n >= 2 the pooled
  standard deviation divided by c4(sum(n_i - 1) + 1) (Montgomery, Introduction to SPC, 6.3;
  ASTM E2587); for individuals the average moving range divided by d2 = 1.128.
- **X-bar chart**: centre +/- 3 sigma / sqrt(n_i) per subgroup (variable sizes allowed); the
  run rules look at the standardised means z_i = (mean_i - centre) / (sigma / sqrt(n_i)),
  never at raw high-rate samples. The dispersion chart is S (n >= 2: limits
  c4 sigma +/- 3 sigma sqrt(1 - c4^2)) or the moving range (n = 1: UCL = D4 MR-bar).
- **Episodes** (hysteresis): an episode opens at the first subgroup on which a rule fires,
  stays one episode while rules keep firing, and closes after ``clear_after`` (9, the span of
  Nelson 2, the longest default rule) consecutive subgroups on which no rule fires.
- **In-control false-alarm rate** of :data:`DEFAULT_RULES` on independent normal subgroups: a
  rule fires on about 1.3 % of subgroups (ARL0 about 77 subgroups); firings cluster, so an
  episode (one warning) opens on :data:`FALSE_EPISODES_PER_SUBGROUP` = 0.85 % of subgroups
  (3 x 200,000 simulated subgroups: 0.838 to 0.847 %). At 10 Hz that is one warning per
  minute of in-control signal with n = 5, one per 10 minutes with n = 50: the rules' own rate,
  so choose the spec's subgroup size (its time span) accordingly. ``python -m bench.spc``
  prints the measured figures.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ontology.codes import SubgroupRule

__all__ = ["CONSECUTIVE", "D2", "DEFAULT_RULES", "DEFAULT_SUBGROUP_SIZE",
           "FALSE_EPISODES_PER_SUBGROUP", "PER_EXECUTION", "RULES", "SPAN", "Chart", "Episode",
           "Limits", "RuleEpisodes", "Subgroup", "SubgroupAccumulator", "Violation", "c4",
           "chart", "consecutive", "limits_from", "limits_from_subgroups", "limits_from_summary",
           "moving_ranges", "overall", "rules_at", "rules_on_z", "violations", "within_sigma"]

D2 = 1.128  # d2 for moving ranges of two
D4 = 3.267  # D4 for moving ranges of two
MR_UCL_FACTOR = D4 * D2  # UCL of a moving range in units of sigma (within)
CONSECUTIVE, PER_EXECUTION = SubgroupRule.CONSECUTIVE, SubgroupRule.PER_EXECUTION
DEFAULT_SUBGROUP_SIZE = 5

#: rule id → what it means (Nelson numbering; 1-4 are also Western Electric's zone rules)
RULES: dict[str, str] = {
    "nelson1": "one point beyond 3 sigma",
    "nelson2": "nine points in a row on one side of the centre line",
    "nelson3": "six points in a row steadily increasing or decreasing",
    "nelson4": "fourteen points in a row alternating up and down",
    "nelson5": "two of three points beyond 2 sigma on the same side",
    "nelson6": "four of five points beyond 1 sigma on the same side",
    "nelson7": "fifteen points in a row within 1 sigma of the centre line",
    "nelson8": "eight points in a row beyond 1 sigma, on either side",
}
#: how many of the latest points each rule looks at
SPAN = {"nelson1": 1, "nelson2": 9, "nelson3": 6, "nelson4": 14, "nelson5": 3, "nelson6": 5,
        "nelson7": 15, "nelson8": 8}
#: the early-warning rules (beyond-limit points are the detector's limit levels' business)
DEFAULT_RULES = frozenset({"nelson2", "nelson3", "nelson5", "nelson6"})
#: the stated in-control rate of :data:`DEFAULT_RULES` episodes, per subgroup
FALSE_EPISODES_PER_SUBGROUP = 0.0085
CLEAR_AFTER = 9


def c4(n: int) -> float:
    """The bias correction of a standard deviation from ``n`` values (E[s] = c4*sigma)."""
    if n < 2:
        return 1.0
    return math.sqrt(2 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


@dataclass(frozen=True)
class Subgroup:
    """A rational subgroup: n values, their mean, sample standard deviation (None: not known,
    as for an aggregate without one), smallest and largest value."""

    key: str
    n: int
    mean: float
    sd: float | None
    lo: float | None = None
    hi: float | None = None
    start_ms: int | None = None

    @property
    def range(self) -> float | None:
        return self.hi - self.lo if self.hi is not None and self.lo is not None else None

    @classmethod
    def of(cls, key: str, values: Sequence[float], start_ms: int | None = None) -> Subgroup:
        n = len(values)
        mean = math.fsum(values) / n
        sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
        return cls(key, n, mean, sd, min(values), max(values), start_ms)


def consecutive(samples: Sequence[tuple[int, float]], size: int, prefix: str = ""
                ) -> list[Subgroup]:
    """Complete subgroups of ``size`` consecutive (time, value) samples, from the first; the
    key is ``prefix`` and the subgroup's ordinal."""
    return [Subgroup.of(f"{prefix}#{i // size + 1}", [v for _, v in samples[i:i + size]],
                        samples[i][0])
            for i in range(0, len(samples) - size + 1, size)]


@dataclass
class SubgroupAccumulator:
    """Streaming :func:`consecutive`: :meth:`add` returns the subgroup a sample completes."""

    size: int
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    lo: float = 0.0  # set by the first sample of each subgroup
    hi: float = 0.0
    start_ms: int = 0
    done: int = 0

    def add(self, t_ms: int, x: float) -> Subgroup | None:
        if self.n == 0:
            self.start_ms, self.lo, self.hi = t_ms, x, x
        self.n += 1
        d = x - self.mean
        self.mean += d / self.n
        self.m2 += d * (x - self.mean)
        self.lo, self.hi = min(self.lo, x), max(self.hi, x)
        if self.n < self.size:
            return None
        sd = math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0
        self.done += 1
        g = Subgroup(f"#{self.done}", self.n, self.mean, sd, self.lo, self.hi, self.start_ms)
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        return g

    def state(self) -> list[float]:
        return [self.size, self.n, self.mean, self.m2, self.lo, self.hi, self.start_ms,
                self.done]

    @classmethod
    def resume(cls, s: Sequence[float]) -> SubgroupAccumulator:
        return cls(int(s[0]), int(s[1]), float(s[2]), float(s[3]), float(s[4]), float(s[5]),
                   int(s[6]), int(s[7]))


def within_sigma(groups: Sequence[Subgroup]) -> float | None:
    """Sigma within: pooled s / c4(sum(n_i - 1) + 1) over the subgroups of n >= 2 (None if one
    has no standard deviation), or MR-bar / d2 of the means when every subgroup is one value."""
    if groups and all(g.n == 1 for g in groups):
        if len(groups) < 2:
            return None
        return math.fsum(abs(b.mean - a.mean) for a, b in itertools.pairwise(groups)) \
            / (len(groups) - 1) / D2
    multi = [g for g in groups if g.n > 1]
    dof = sum(g.n - 1 for g in multi)
    if dof <= 0 or any(g.sd is None for g in multi):
        return None
    pooled = math.sqrt(math.fsum((g.n - 1) * (g.sd or 0.0) ** 2 for g in multi) / dof)
    return pooled / c4(dof + 1)


def overall(groups: Sequence[Subgroup]) -> tuple[float, float | None]:
    """Grand mean and overall sample standard deviation of every value of the subgroups (exact
    from n, mean and sd: within plus between sums of squares); sd None if unknown."""
    n = sum(g.n for g in groups)
    mean = math.fsum(g.n * g.mean for g in groups) / n
    if n < 2 or any(g.sd is None for g in groups if g.n > 1):
        return mean, None
    ss = math.fsum((g.n - 1) * (g.sd or 0.0) ** 2 + g.n * (g.mean - mean) ** 2 for g in groups)
    return mean, math.sqrt(ss / (n - 1))


@dataclass(frozen=True)
class Limits:
    """Centre line and sigma_within of single values; a subgroup of n is charted against
    centre +/- 3sigma/sqrt n."""

    center: float
    sigma: float

    @property
    def ucl(self) -> float:
        return self.center + 3 * self.sigma

    @property
    def lcl(self) -> float:
        return self.center - 3 * self.sigma

    def z(self, mean: float, n: int = 1) -> float:
        return (mean - self.center) * math.sqrt(n) / self.sigma if self.sigma > 0 else 0.0

    def mean_limits(self, n: int) -> tuple[float, float]:
        h = 3 * self.sigma / math.sqrt(n)
        return self.center - h, self.center + h

    def s_limits(self, n: int) -> tuple[float, float, float]:
        """(LCL, centre, UCL) of a subgroup standard deviation (S chart)."""
        k = c4(n)
        h = 3 * self.sigma * math.sqrt(max(0.0, 1 - k * k))
        return max(0.0, k * self.sigma - h), k * self.sigma, k * self.sigma + h


def limits_from_subgroups(groups: Sequence[Subgroup]) -> Limits | None:
    """Grand mean and sigma_within of subgroups (None without a positive sigma_within)."""
    if not groups:
        return None
    sigma = within_sigma(groups)
    return Limits(overall(groups)[0], sigma) if sigma else None


def limits_from(values: Sequence[float]) -> Limits:
    """Individuals limits of a baseline series (at least two values): mean, MR-bar/d2."""
    if len(values) < 2:
        raise ValueError("control limits need at least two baseline values")
    lim = limits_from_subgroups([Subgroup(str(i), 1, v, 0.0) for i, v in enumerate(values)])
    return lim if lim is not None else Limits(math.fsum(values) / len(values), 0.0)


def limits_from_summary(means: Sequence[float], sds: Sequence[float],
                        counts: Sequence[int]) -> Limits | None:
    """Limits from earlier runs' aggregates (mean, standard deviation, count per run)."""
    return limits_from_subgroups([Subgroup(str(i), c, m, s) for i, (m, s, c)
                                  in enumerate(zip(means, sds, counts, strict=True)) if c > 0])


def rules_at(window: Sequence[float], limits: Limits,
             rules: Collection[str] | None = None) -> list[str]:
    """The rules broken by a pattern that ends at the last point of ``window`` (single values
    against individuals limits, oldest first)."""
    if not window or limits.sigma <= 0:
        return []
    wanted = RULES.keys() if rules is None else rules
    span = max((SPAN[r] for r in wanted), default=0)
    return rules_on_z([limits.z(x) for x in window[-span:]], wanted)


def rules_on_z(z: Sequence[float], rules: Collection[str]) -> list[str]:
    """The rules broken by a pattern ending at the last standardised value (newest last)."""
    out: list[str] = []
    n = len(z)
    if not n:
        return out
    last = z[-1]
    for rule in RULES:
        if rule not in rules:
            continue
        k = SPAN[rule]
        if n < k:
            continue
        w = z[n - k:]
        if rule == "nelson1":
            hit = abs(last) > 3
        elif rule == "nelson2":
            hit = min(w) > 0 or max(w) < 0
        elif rule == "nelson3":
            hit = all(map(operator.lt, w, w[1:])) or all(map(operator.gt, w, w[1:]))
        elif rule == "nelson4":
            d = list(map(operator.sub, w[1:], w))
            hit = all(x * y < 0 for x, y in itertools.pairwise(d))
        elif rule in ("nelson5", "nelson6"):
            need, zone = (2, 2.0) if rule == "nelson5" else (4, 1.0)
            hit = ((last > zone and sum(v > zone for v in w) >= need)
                   or (last < -zone and sum(v < -zone for v in w) >= need))
        elif rule == "nelson7":
            hit = max(map(abs, w)) < 1
        else:  # nelson8
            hit = min(map(abs, w)) > 1 and max(w) > 1 and min(w) < -1
        if hit:
            out.append(rule)
    return out


@dataclass(frozen=True)
class Violation:
    rule: str
    index: int  # position of the point that completed the pattern

    @property
    def description(self) -> str:
        return RULES[self.rule]


def violations(values: Sequence[float], limits: Limits,
               rules: Collection[str] | None = None) -> list[Violation]:
    """Every rule violation in a series of single values, at the point completing each."""
    return [Violation(r, i) for i in range(len(values))
            for r in rules_at(values[max(0, i - 14):i + 1], limits, rules)]


@dataclass
class RuleEpisodes:
    """One episode per run of rule firings (see the module's hysteresis rule). ``step`` takes
    the standardised subgroup statistics, newest last, and the stamp of the newest."""

    rules: frozenset[str] = DEFAULT_RULES
    clear_after: int = CLEAR_AFTER
    open_at: int | None = None
    quiet: int = 0
    fired: list[str] = field(default_factory=list)  # rules seen in the open episode

    @property
    def span(self) -> int:
        return max((SPAN[r] for r in self.rules), default=1)

    def step(self, z: Sequence[float], stamp: int, may_open: bool = True
             ) -> tuple[str | None, tuple[str, ...]]:
        """("open" | "close" | None, the rules broken at this point)."""
        broken = tuple(rules_on_z(z, self.rules))
        if self.open_at is None:
            if broken and may_open:
                self.open_at, self.quiet, self.fired = stamp, 0, list(broken)
                return "open", broken
            return None, broken
        self.fired.extend(r for r in broken if r not in self.fired)
        self.quiet = 0 if broken else self.quiet + 1
        if self.quiet >= self.clear_after:
            self.open_at, self.quiet = None, 0
            return "close", broken
        return None, broken

    def state(self) -> dict[str, Any]:
        return {"open_at": self.open_at, "quiet": self.quiet, "fired": list(self.fired)}

    def resume(self, s: Mapping[str, Any]) -> RuleEpisodes:
        self.open_at, self.quiet, self.fired = s["open_at"], int(s["quiet"]), list(s["fired"])
        return self


@dataclass(frozen=True)
class Episode:
    start: int  # index of the subgroup that opened it
    end: int | None  # index of the subgroup that closed it (None: still open)
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Chart:
    limits: Limits
    z: list[float]
    violations: list[Violation]
    episodes: list[Episode]


def chart(groups: Sequence[Subgroup], limits: Limits,
          rules: frozenset[str] = frozenset(RULES)) -> Chart:
    """The X-bar (or individuals) chart of subgroups against ``limits``: standardised means, every
    rule violation and the episodes the detector would raise."""
    z = [limits.z(g.mean, g.n) for g in groups]
    eps = RuleEpisodes(rules)
    found: list[Violation] = []
    out: list[Episode] = []
    start = 0
    for i in range(len(z)):
        event, broken = eps.step(z[max(0, i - eps.span + 1):i + 1], i)
        found.extend(Violation(r, i) for r in broken)
        if event == "open":
            start = i
        elif event == "close":
            out.append(Episode(start, i, tuple(eps.fired)))
    if eps.open_at is not None:
        out.append(Episode(start, None, tuple(eps.fired)))
    return Chart(limits, z, found, out)


def moving_ranges(groups: Sequence[Subgroup]) -> list[float | None]:
    """|mean_i - mean_i-1| per subgroup (None for the first): an individuals chart's MR series."""
    return [None, *(abs(b.mean - a.mean) for a, b in itertools.pairwise(groups))]

