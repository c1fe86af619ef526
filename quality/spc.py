"""Statistical process control as pure functions: control limits from history, the Western
Electric / Nelson run rules, and process capability.

The detection loop (:mod:`quality.detection`) evaluates the rules on each new sample of a stream
with :func:`rules_at`; a chart over a whole series (the explorer's SPC chart) is
:func:`control_chart`. Nothing here does I/O.

Individuals (I-MR) chart: the centre line is the mean of the baseline, sigma is the average
moving range divided by d2 = 1.128 (the within-subgroup estimate, robust to slow drift).
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Collection, Sequence
from dataclasses import dataclass

__all__ = ["RULES", "SPAN", "Chart", "Limits", "Violation", "capability", "control_chart",
           "cpk", "limits_from", "limits_from_summary", "ppk", "rules_at", "rules_on_z",
           "violations"]

D2 = 1.128  # d2 for moving ranges of two

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


@dataclass(frozen=True)
class Limits:
    """Control limits of an individuals chart."""

    center: float
    sigma: float

    @property
    def ucl(self) -> float:
        return self.center + 3 * self.sigma

    @property
    def lcl(self) -> float:
        return self.center - 3 * self.sigma

    def z(self, x: float) -> float:
        return (x - self.center) / self.sigma if self.sigma > 0 else 0.0


@dataclass(frozen=True)
class Violation:
    rule: str
    index: int  # position of the point that completed the pattern

    @property
    def description(self) -> str:
        return RULES[self.rule]


@dataclass(frozen=True)
class Chart:
    limits: Limits
    violations: list[Violation]
    cpk: float | None
    ppk: float | None = None


def limits_from(values: Sequence[float]) -> Limits:
    """I-MR limits of a baseline series (at least two values)."""
    if len(values) < 2:
        raise ValueError("control limits need at least two baseline values")
    center = math.fsum(values) / len(values)
    mr = math.fsum(abs(b - a) for a, b in itertools.pairwise(values)) / (len(values) - 1)
    return Limits(center, mr / D2)


def limits_from_summary(means: Sequence[float], sds: Sequence[float],
                        counts: Sequence[int]) -> Limits | None:
    """Limits from earlier runs' aggregates (mean, standard deviation, count per run):
    the grand mean and the pooled within-run standard deviation."""
    n = sum(counts)
    dof = sum(c - 1 for c in counts if c > 1)
    if n < 2 or dof <= 0:
        return None
    center = math.fsum(m * c for m, c in zip(means, counts, strict=True)) / n
    pooled = math.sqrt(math.fsum(s * s * (c - 1) for s, c in zip(sds, counts, strict=True)
                                 if c > 1) / dof)
    return Limits(center, pooled) if pooled > 0 else None


#: how many of the latest points each rule looks at
SPAN = {"nelson1": 1, "nelson2": 9, "nelson3": 6, "nelson4": 14, "nelson5": 3, "nelson6": 5,
        "nelson7": 15, "nelson8": 8}


def rules_at(window: Sequence[float], limits: Limits,
             rules: Collection[str] | None = None) -> list[str]:
    """The rules (all, or those in ``rules``) broken by a pattern that ends at the last point
    of ``window`` (the most recent values of a stream, oldest first)."""
    if not window or limits.sigma <= 0:
        return []
    wanted = RULES.keys() if rules is None else rules
    span = max((SPAN[r] for r in wanted), default=0)
    n = len(window)
    c, sd = limits.center, limits.sigma
    z = [(window[i] - c) / sd for i in range(max(0, n - span), n)]
    return rules_on_z(z, wanted)


def rules_on_z(z: Sequence[float], rules: Collection[str]) -> list[str]:
    """:func:`rules_at` on standardised values (z-scores), newest last."""
    out: list[str] = []
    n = len(z)
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


def violations(values: Sequence[float], limits: Limits,
               rules: frozenset[str] | None = None) -> list[Violation]:
    """Every rule violation in a series, at the point that completes each pattern."""
    out: list[Violation] = []
    for i in range(len(values)):
        out.extend(Violation(r, i) for r in rules_at(values[max(0, i - 14):i + 1], limits,
                                                      rules))
    return out


def capability(center: float, sigma: float, lsl: float | None,
               usl: float | None) -> float | None:
    """min(USL - centre, centre - LSL) / 3 sigma over the limits given (None without a limit
    or a spread)."""
    sides = [x for x in ((usl - center) if usl is not None else None,
                         (center - lsl) if lsl is not None else None) if x is not None]
    return min(sides) / (3 * sigma) if sides and sigma > 0 else None


def cpk(values: Sequence[float], lsl: float | None, usl: float | None) -> float | None:
    """Process capability Cpk of a series against its specification limits, with the
    within sigma of an individuals chart (average moving range / d2)."""
    if len(values) < 2:
        return None
    lim = limits_from(values)
    return capability(lim.center, lim.sigma, lsl, usl)


def ppk(values: Sequence[float], lsl: float | None, usl: float | None) -> float | None:
    """Process performance Ppk: as :func:`cpk` with the overall sample standard deviation."""
    if len(values) < 2:
        return None
    mean = math.fsum(values) / len(values)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return capability(mean, sd, lsl, usl)


def control_chart(values: Sequence[float], lsl: float | None = None, usl: float | None = None,
                  baseline: Sequence[float] | None = None,
                  limits: Limits | None = None) -> Chart:
    """Limits (given, from ``baseline``, else from ``values`` themselves), the rule violations
    of ``values`` and their Cpk and Ppk against the specification limits."""
    lim = limits or limits_from(baseline if baseline is not None else values)
    return Chart(lim, violations(values, lim), cpk(values, lsl, usl), ppk(values, lsl, usl))
