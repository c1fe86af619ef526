"""Process capability that tells the truth (issue 17): Cpk from the within-subgroup sigma of the
values, Ppk from their overall sigma, both with confidence intervals, and *not assessable*
(with the reason, never a number) below a minimum sample.

- Cpk = min(USL - mean, mean - LSL) / (3 sigma_within), sigma_within as
  :func:`quality.spc.within_sigma` (pooled s / c4, or MR-bar / d2 for individuals): of the raw
  values' subgroups where the raw store has them, else of the per-execution aggregates (n, mean,
  sd), whose within sigma is then the within-execution one.
- Ppk = the same with the overall sample standard deviation of every value
  (:func:`quality.spc.overall`).
- Intervals: Bissell's normal approximation, C +/- z sqrt(1/(9N) + C^2/(2 dof)), N values, dof
  the degrees of freedom of the sigma (sum(n_i - 1) for the pooled s; N - 1 for the overall s
  and, as an approximation, for MR-bar / d2).
- Values seen beyond a specification limit (a subgroup's min or max) are counted in every
  answer, assessable or not: an aggregate's sd may not show a short dip its min does.
- Minimum sample (:class:`MinSample`, configurable: ``TRACEGRAPH_SPC_MIN_SUBGROUPS`` /
  ``TRACEGRAPH_SPC_MIN_VALUES``): 25 subgroups and 100 values by default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from quality.spc import Subgroup, overall, within_sigma

__all__ = ["Capability", "MinSample", "bissell", "capability_of"]


@dataclass(frozen=True)
class MinSample:
    subgroups: int = 25
    values: int = 100


@dataclass(frozen=True)
class Capability:
    assessable: bool
    reason: str | None  # why not assessable
    subgroups: int
    values: int
    mean: float | None = None
    sigma_within: float | None = None
    sigma_overall: float | None = None
    cpk: float | None = None
    cpk_interval: tuple[float, float] | None = None
    ppk: float | None = None
    ppk_interval: tuple[float, float] | None = None
    confidence: float = 0.95
    beyond_spec: int = 0  # subgroups with a value beyond a specification limit (min/max known)


def _index(mean: float, sigma: float, lsl: float | None, usl: float | None) -> float:
    sides = [usl - mean if usl is not None else math.inf,
             mean - lsl if lsl is not None else math.inf]
    return min(sides) / (3 * sigma)


def bissell(c: float, n: int, dof: int, confidence: float = 0.95) -> tuple[float, float]:
    """Bissell's two-sided interval of a capability index from ``n`` values with a sigma of
    ``dof`` degrees of freedom."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    h = z * math.sqrt(1 / (9 * n) + c * c / (2 * dof))
    return c - h, c + h


def capability_of(groups: Sequence[Subgroup], lsl: float | None, usl: float | None,
                  minimum: MinSample = MinSample(), confidence: float = 0.95) -> Capability:
    """Cpk and Ppk of the subgroups' values against the specification limits, or not
    assessable with the reason."""
    k, n = len(groups), sum(g.n for g in groups)
    beyond = sum(1 for g in groups if (lsl is not None and g.lo is not None and g.lo < lsl)
                 or (usl is not None and g.hi is not None and g.hi > usl))

    def no(reason: str) -> Capability:
        return Capability(False, reason, k, n, confidence=confidence, beyond_spec=beyond)

    if lsl is None and usl is None:
        return no("the spec has no specification limit (LSL or USL)")
    if k < minimum.subgroups or n < minimum.values:
        return no(f"{k} subgroup(s) of {n} value(s): capability needs at least "
                  f"{minimum.subgroups} subgroups and {minimum.values} values")
    sw = within_sigma(groups)
    mean, so = overall(groups)
    if sw is None or so is None:
        return no("the standard deviation of some subgroups is not known")
    if sw <= 0 or so <= 0:
        return no("the values have no spread (sigma 0)")
    individuals = all(g.n == 1 for g in groups)
    dof_within = n - 1 if individuals else sum(g.n - 1 for g in groups)
    cpk, ppk = _index(mean, sw, lsl, usl), _index(mean, so, lsl, usl)
    return Capability(True, None, k, n, mean, sw, so, cpk,
                      bissell(cpk, n, dof_within, confidence), ppk,
                      bissell(ppk, n, n - 1, confidence), confidence, beyond)
