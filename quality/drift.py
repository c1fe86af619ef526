"""Drift and trend detection on equipment parameters, and the forecast of when a drifting
parameter leaves its limits (issue 17 item 2). Pure functions and small state machines: no I/O.

**Charts and their stated false-alarm rates.** Both charts take standardised points
``z = (x - mu0) / sigma_point`` (a single value, or a subgroup mean with sigma/sqrt n), in
control N(0, 1):

- **EWMA** ``w_i = lam * z_i + (1 - lam) * w_{i-1}``, ``w_0 = 0``, signalling when
  ``|w_i| > L * sqrt(lam / (2 - lam))`` (asymptotic limits). With ``lam = 0.10``,
  ``L = 2.814`` the in-control average run length is **ARL0 = 500 points**, and a sustained
  shift of 1 sigma is signalled after 10.3 points on average (0.5 sigma: 31.3; 2 sigma: 4.4)
  — Lucas & Saccucci (1990), Technometrics 32(1), reproduced in Montgomery, *Introduction to
  Statistical Quality Control*, 6th ed., Table 9.11.
- **Tabular CUSUM** ``C+_i = max(0, z_i - k + C+_{i-1})``, ``C-_i = max(0, -z_i - k +
  C-_{i-1})``, signalling when either exceeds ``h``. With ``k = 0.5``, ``h = 5`` the two-sided
  **ARL0 = 465 points**, and a 1 sigma shift is signalled after 10.4 points on average
  (Montgomery, 6th ed., §9.1.3 and Table 9.3).

The monitor warns when either chart signals, so in control it warns at most (union bound)
1/500 + 1/465 = 1 per 241 points: :data:`STATED_FALSE_ALARMS_PER_POINT`. Feed it subgroup means
(the spec's subgroups) rather than raw high-rate samples: the rate is per point fed.
``python -m bench.drift`` prints the measured figures on 100,000 in-control points.

**Episodes (one warning per drift, hysteresis).** An episode opens at the first point on which
either chart signals; it stays one episode while the charts keep signalling (the CUSUM restarts
its sums at each signal, the usual restart) and closes after :data:`CLEAR_AFTER` consecutive
points back in control: no signal, the EWMA within half its limit and both CUSUM sums below
``h / 2``. Its identity is the time of the point that opened it, and a restarted detector
resumes its state (:meth:`DriftMonitor.state`), so a replay finds the same episode.

**Forecast** (:func:`forecast_breach`): a least-squares line through the recent window of raw
values, the time it reaches the limit in the direction of the trend, and the interval of that
time from the 95 % confidence band of the fitted line (inverse regression, Fieller's method):
the earliest and latest time at which the band reaches the limit. No forecast when the slope is
not significantly different from zero (the band never leaves the limit's side).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CLEAR_AFTER", "CUSUM_ARL0", "CUSUM_H", "CUSUM_K", "EWMA_ARL0", "EWMA_L",
           "EWMA_LAMBDA", "STATED_FALSE_ALARMS_PER_POINT", "DriftEvent", "DriftMonitor",
           "Forecast", "forecast_breach", "t_quantile"]

EWMA_LAMBDA, EWMA_L, EWMA_ARL0 = 0.10, 2.814, 500.0
CUSUM_K, CUSUM_H, CUSUM_ARL0 = 0.5, 5.0, 465.0
STATED_FALSE_ALARMS_PER_POINT = 1 / EWMA_ARL0 + 1 / CUSUM_ARL0
CLEAR_AFTER = 10  # points back in control that close an episode (1/lambda)
EWMA, CUSUM = "EWMA", "CUSUM"


@dataclass(frozen=True)
class DriftEvent:
    """The drift episode opened (``kind`` "drift") or closed ("cleared")."""

    kind: str
    charts: tuple[str, ...]  # the charts signalling at this point (opened: the first ones)
    episode_ms: int  # time of the point that opened the episode: its identity
    at_ms: int
    ewma: float  # the EWMA statistic w at this point
    cusum: float  # the larger CUSUM sum at this point (before a restart)
    direction: int  # +1 upward drift, -1 downward


@dataclass
class DriftMonitor:
    """EWMA and CUSUM on one stream of standardised points; one episode per drift."""

    lam: float = EWMA_LAMBDA
    L: float = EWMA_L
    k: float = CUSUM_K
    h: float = CUSUM_H
    clear_after: int = CLEAR_AFTER
    w: float = 0.0
    cp: float = 0.0
    cm: float = 0.0
    points: int = 0
    last_ms: int = -1
    open_ms: int | None = None
    quiet: int = 0
    direction: int = 0
    charts: list[str] = field(default_factory=list)  # every chart that signalled in the episode

    @property
    def ewma_limit(self) -> float:
        return self.L * math.sqrt(self.lam / (2 - self.lam))

    def feed(self, t_ms: int, z: float) -> list[DriftEvent]:
        """One standardised point (points not newer than the last are ignored)."""
        if t_ms <= self.last_ms:
            return []
        self.last_ms = t_ms
        self.points += 1
        self.w = self.lam * z + (1 - self.lam) * self.w
        self.cp = max(0.0, z - self.k + self.cp)
        self.cm = max(0.0, -z - self.k + self.cm)
        lim = self.ewma_limit
        charts = tuple(c for c, hit in ((EWMA, abs(self.w) > lim),
                                        (CUSUM, self.cp > self.h or self.cm > self.h)) if hit)
        cusum = max(self.cp, self.cm)
        direction = (1 if self.w > 0 else -1) if charts[:1] == (EWMA,) else \
            (1 if self.cp >= self.cm else -1)
        if CUSUM in charts:
            self.cp = self.cm = 0.0  # restart after a signal
        if self.open_ms is None:
            if not charts:
                return []
            self.open_ms, self.quiet, self.direction, self.charts = t_ms, 0, direction, \
                list(charts)
            return [DriftEvent("drift", charts, t_ms, t_ms, self.w, cusum, direction)]
        self.charts.extend(c for c in charts if c not in self.charts)
        calm = abs(self.w) < lim / 2 and max(self.cp, self.cm) < self.h / 2
        self.quiet = self.quiet + 1 if calm and not charts else 0
        if self.quiet < self.clear_after:
            return []
        opened, self.open_ms, self.quiet = self.open_ms, None, 0
        return [DriftEvent("cleared", tuple(self.charts), opened, t_ms, self.w, cusum,
                           self.direction)]

    def state(self) -> dict[str, Any]:
        """JSON-able: :meth:`resume` continues exactly where this monitor stopped."""
        return {"w": self.w, "cp": self.cp, "cm": self.cm, "points": self.points,
                "last_ms": self.last_ms, "open_ms": self.open_ms, "quiet": self.quiet,
                "direction": self.direction, "charts": list(self.charts)}

    @classmethod
    def resume(cls, s: Mapping[str, Any]) -> DriftMonitor:
        return cls(w=float(s["w"]), cp=float(s["cp"]), cm=float(s["cm"]),
                   points=int(s["points"]), last_ms=int(s["last_ms"]), open_ms=s["open_ms"],
                   quiet=int(s["quiet"]), direction=int(s["direction"]),
                   charts=list(s["charts"]))


def t_quantile(p: float, dof: int) -> float:
    """Student-t quantile by the Cornish-Fisher expansion around the normal quantile (error
    below 1e-3 for dof >= 10; Abramowitz & Stegun 26.7.5)."""
    z = _norm_ppf(p)
    v = float(dof)
    return (z + (z ** 3 + z) / (4 * v) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * v ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * v ** 3))


def _norm_ppf(p: float) -> float:
    """The standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9 after
    one Newton step)."""
    a = (-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.3577518672690,
         -30.66479806614716, 2.506628277459239)
    b = (-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972,
         -13.28068155288572)
    c = (-7.784894002430293e-03, -0.3223964580411365, -2.400758277161838, -2.549732539343734,
         4.374664141464968, 2.938163982698783)
    d = (7.784695709041462e-03, 0.3224671290700398, 2.445134137142996, 3.754408661907416)
    q = min(p, 1 - p)
    if q < 0.02425:
        r = math.sqrt(-2 * math.log(q))
        x = (((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) / \
            ((((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1)
        x = x if p < 0.5 else -x
    else:
        r = p - 0.5
        s = r * r
        x = (((((a[0] * s + a[1]) * s + a[2]) * s + a[3]) * s + a[4]) * s + a[5]) * r / \
            (((((b[0] * s + b[1]) * s + b[2]) * s + b[3]) * s + b[4]) * s + 1)
    e = 0.5 * math.erfc(-x / math.sqrt(2)) - p
    return x - e * math.sqrt(2 * math.pi) * math.exp(x * x / 2)


@dataclass(frozen=True)
class Forecast:
    """When the fitted trend reaches ``limit`` (times in the unit of the input, e.g. ms)."""

    slope: float  # per time unit
    intercept: float  # at time 0
    limit: float
    breach: float  # the fitted line reaches the limit
    earliest: float  # the 95 % band of the line reaches it
    latest: float | None  # None: the band's far side never reaches it (unbounded)
    n: int
    residual_sd: float


def forecast_breach(t: Sequence[float], x: Sequence[float], lower: float | None,
                    upper: float | None, confidence: float = 0.95) -> Forecast | None:
    """Least-squares trend of ``x`` over ``t`` and when it leaves ``[lower, upper]`` in the
    direction of the slope; None without a significant trend toward a limit, or with fewer
    than 10 points."""
    n = len(t)
    if n < 10 or n != len(x):
        return None
    tbar = math.fsum(t) / n
    xbar = math.fsum(x) / n
    sxx = math.fsum((ti - tbar) ** 2 for ti in t)
    if sxx <= 0:
        return None
    b = math.fsum((ti - tbar) * (xi - xbar) for ti, xi in zip(t, x, strict=True)) / sxx
    a = xbar - b * tbar
    limit = upper if b > 0 else lower
    if limit is None or b == 0:
        return None
    s = math.sqrt(max(0.0, math.fsum((xi - a - b * ti) ** 2
                                     for ti, xi in zip(t, x, strict=True))) / (n - 2))
    c = t_quantile(0.5 + confidence / 2, n - 2) * s
    m = limit - xbar  # distance of the limit from the centroid, u = t - tbar
    qa, qb, qc = b * b - c * c / sxx, -2 * m * b, m * m - c * c / n
    if qa <= 0:
        return None  # slope not significant: the band never bounds the crossing
    disc = qb * qb - 4 * qa * qc
    if disc < 0:
        return None
    r1, r2 = sorted(((-qb - math.sqrt(disc)) / (2 * qa), (-qb + math.sqrt(disc)) / (2 * qa)))
    breach = tbar + m / b
    return Forecast(b, a, limit, breach, tbar + r1, tbar + r2, n, s)
