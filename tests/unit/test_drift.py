"""Drift detection and breach forecast (quality.drift), against independent references:
the hand-written EWMA / CUSUM recursions below, Montgomery's worked example 9.1 (C+_29 = 5.28),
numpy least squares, and generated signals with a known truth (fixed seeds)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from quality.drift import (
    EWMA_ARL0,
    STATED_FALSE_ALARMS_PER_POINT,
    DriftMonitor,
    forecast_breach,
    t_quantile,
)

# Montgomery, Introduction to SQC, Example 9.1 / 9.2: mu0 = 10, sigma = 1; the mean shifts
# up by 1 sigma after sample 20.
MONTGOMERY = [9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.20, 10.34, 9.03, 11.47,
              10.51, 9.40, 10.08, 9.37, 10.62, 10.31, 8.52, 10.84, 10.90, 9.33, 12.29, 11.50,
              10.60, 11.08, 10.38, 11.62, 11.31, 10.52]


def test_cusum_and_ewma_equal_the_hand_recursion_and_the_published_example() -> None:
    m = DriftMonitor(lam=0.1, L=2.7, k=0.5, h=5.0)
    w = cp = cm = 0.0
    opened = None
    for i, x in enumerate(MONTGOMERY, start=1):
        z = x - 10.0
        w = 0.1 * z + 0.9 * w
        cp, cm = max(0.0, z - 0.5 + cp), max(0.0, -z - 0.5 + cm)
        if i == 29:
            assert cp == pytest.approx(5.28, abs=0.005)  # Montgomery Table 9.2
        events = m.feed(i, z)
        if events and opened is None:
            opened = (i, events[0].charts)
        assert m.w == pytest.approx(w, abs=1e-12)
        if cp <= 5.0 and cm <= 5.0:  # the monitor restarts its sums after a signal
            assert (m.cp, m.cm) == pytest.approx((cp, cm), abs=1e-12)
    # EWMA limit 2.7 * sqrt(0.1 / 1.9) = 0.6194: w_28 = 0.5731 below, w_29 = 0.6468 above
    assert opened == (29, ("EWMA", "CUSUM"))


def test_a_shift_is_detected_within_the_stated_points_and_warned_once() -> None:
    """A sustained 1 sigma shift: ARL1 10.3 (EWMA) / 10.4 (CUSUM); stated: detected within
    40 points (about 4 x ARL1) in each of 50 generated runs, and one warning per run."""
    rng = np.random.default_rng(17)
    for _ in range(50):
        z = np.concatenate([rng.standard_normal(200),
                            rng.standard_normal(300) + 1.0])
        m = DriftMonitor()
        warned, detected = 0, None
        for i, v in enumerate(z.tolist()):
            opened = sum(e.kind == "drift" for e in m.feed(i, v))
            if i >= 200:
                warned += opened
                if detected is None and m.open_ms is not None:
                    detected = i  # an episode open on the shifted signal
        assert detected is not None and detected - 200 < 40
        assert warned <= 1  # the shift is one warning (none if an episode was already open)


def test_a_linear_drift_is_warned_before_it_has_moved_two_sigma() -> None:
    rng = np.random.default_rng(5)
    n0, slope = 500, 0.01  # sigma per point: 2 sigma after 200 points
    z = rng.standard_normal(1500) + np.concatenate([np.zeros(n0), slope * np.arange(1000)])
    m = DriftMonitor()
    first = next(i for i, v in enumerate(z.tolist()) for e in m.feed(i, v)
                 if e.kind == "drift" and i >= n0)
    assert first - n0 < 2 / slope


def test_in_control_false_warnings_stay_within_the_stated_rate_one_per_episode() -> None:
    """100,000 in-control points: the warnings are at most the stated rate (union bound of
    the two ARL0s: 415), and each episode is warned once and cleared once before the next."""
    z = np.random.default_rng(0).standard_normal(100_000)
    m = DriftMonitor()
    kinds = [e.kind for i, v in enumerate(z.tolist()) for e in m.feed(i, v)]
    warnings = kinds.count("drift")
    print(f"{warnings} warnings on 100,000 in-control points "
          f"(stated at most {STATED_FALSE_ALARMS_PER_POINT * 100_000:.0f})")
    assert 100_000 / EWMA_ARL0 / 2 < warnings <= STATED_FALSE_ALARMS_PER_POINT * 100_000
    assert all(a != b for a, b in itertools.pairwise(kinds))  # drift, cleared, …


def test_a_resumed_monitor_continues_exactly() -> None:
    z = np.random.default_rng(3).standard_normal(2000) + np.linspace(0, 2, 2000)
    whole, first = DriftMonitor(), DriftMonitor()
    a = [e for i, v in enumerate(z.tolist()) for e in whole.feed(i, v)]
    b = [e for i, v in enumerate(z[:700].tolist()) for e in first.feed(i, v)]
    again = DriftMonitor.resume(first.state())
    b += [e for i, v in enumerate(z[700:].tolist(), start=700) for e in again.feed(i, v)]
    assert a == b and again.feed(5, 9.0) == []  # an old point changes nothing


def test_forecast_breach_time_within_the_stated_error_of_the_truth() -> None:
    """A drift of 0.002/s from 10 toward USL 11 reaches it at 500 s; fitted on the first
    200 s (1 Hz, sd 0.05): stated error 10 % of the time to breach, and the truth inside the
    95 % interval in at least 90 of 100 generated signals."""
    rng = np.random.default_rng(23)
    t = np.arange(200.0)
    inside = 0
    for _ in range(100):
        x = 10.0 + 0.002 * t + rng.normal(0, 0.05, t.size)
        f = forecast_breach(t.tolist(), x.tolist(), 9.0, 11.0)
        assert f is not None and abs(f.breach - 500) < 0.10 * 500
        slope, icpt = np.polyfit(t, x, 1)
        assert f.slope == pytest.approx(slope) and f.intercept == pytest.approx(icpt)
        assert f.latest is not None
        inside += f.earliest <= 500 <= f.latest
    assert inside >= 90


def test_no_forecast_without_a_significant_trend() -> None:
    rng = np.random.default_rng(2)
    t = np.arange(100.0)
    noisy = forecast_breach(t.tolist(), rng.normal(10, 0.1, 100).tolist(), 9, 11)
    assert noisy is None  # in control: the slope is not significant
    flat = forecast_breach(t.tolist(), [10.0 + 0.01 * ((-1) ** i) for i in range(100)], 9, 11)
    assert flat is None


@pytest.mark.parametrize(("p", "dof", "ref"), [(0.975, 10, 2.228), (0.975, 30, 2.042),
                                               (0.975, 120, 1.980), (0.95, 20, 1.725)])
def test_t_quantile_matches_the_table(p: float, dof: int, ref: float) -> None:
    assert t_quantile(p, dof) == pytest.approx(ref, abs=2e-3)
    assert math.isfinite(ref)
