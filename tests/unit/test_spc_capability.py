"""Capability (Cpk, Ppk, intervals, minimum sample) against an independent numpy reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quality.capability import MinSample, capability_of
from quality.spc import Subgroup, consecutive, within_sigma

LSL, USL = 8.5, 12.0


def _groups(values: np.ndarray, size: int) -> list[Subgroup]:
    return consecutive([(i, float(v)) for i, v in enumerate(values)], size)


def _c4(n: int) -> float:  # the textbook gamma-function form
    return math.sqrt(2 / (n - 1)) * math.gamma(n / 2) / math.gamma((n - 1) / 2)


@pytest.mark.req("URS-PROC-01")
def test_cpk_and_ppk_equal_a_numpy_reference_on_fixed_data() -> None:
    data = np.random.default_rng(2024).normal(10.0, 0.5, size=(30, 5))
    data += np.linspace(-0.3, 0.3, 30)[:, None]  # between-subgroup drift: Ppk < Cpk
    cap = capability_of(_groups(data.ravel(), 5), LSL, USL)
    mean = data.mean()
    sigma_w = math.sqrt((data.std(axis=1, ddof=1) ** 2).mean()) / _c4(30 * 4 + 1)
    sigma_o = data.std(ddof=1)
    assert cap.assessable and cap.reason is None and (cap.subgroups, cap.values) == (30, 150)
    assert cap.mean == pytest.approx(mean, rel=1e-12)
    assert cap.sigma_within == pytest.approx(sigma_w, rel=1e-9)
    assert cap.sigma_overall == pytest.approx(sigma_o, rel=1e-9)
    assert cap.cpk == pytest.approx(min(USL - mean, mean - LSL) / (3 * sigma_w), rel=1e-9)
    assert cap.ppk == pytest.approx(min(USL - mean, mean - LSL) / (3 * sigma_o), rel=1e-9)
    assert cap.ppk is not None and cap.cpk is not None and cap.ppk < cap.cpk
    # R-bar / d2 (d2 = 2.326 for n = 5, tabulated) estimates the same sigma
    r_bar = np.ptp(data, axis=1).mean()
    assert cap.sigma_within == pytest.approx(r_bar / 2.326, rel=0.1)
    # Bissell: C ± 1.96 sqrt(1/(9N) + C^2/(2 nu)), nu = 120 (pooled) and 149 (overall)
    assert cap.cpk is not None and cap.cpk_interval is not None
    h = 1.959964 * math.sqrt(1 / (9 * 150) + cap.cpk ** 2 / (2 * 120))
    assert cap.cpk_interval == pytest.approx((cap.cpk - h, cap.cpk + h), rel=1e-6)
    assert cap.ppk is not None and cap.ppk_interval is not None
    h = 1.959964 * math.sqrt(1 / (9 * 150) + cap.ppk ** 2 / (2 * 149))
    assert cap.ppk_interval == pytest.approx((cap.ppk - h, cap.ppk + h), rel=1e-6)


def test_cpk_interval_covers_the_true_value_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(11)
    true_cpk = 1.1  # mean 0, sigma 1, LSL -3.3, USL 4
    covered = 0
    for _ in range(400):
        cap = capability_of(_groups(rng.normal(0, 1, 150), 5), -3.3, 4.0)
        assert cap.cpk_interval is not None
        covered += cap.cpk_interval[0] <= true_cpk <= cap.cpk_interval[1]
    assert 0.90 <= covered / 400 <= 0.99


def test_raw_values_below_the_lsl_with_in_spec_means_show_cpk_below_one() -> None:
    """The CA26010801 case: every execution's mean is well inside the spec, the raw values are
    not; the old chart (individuals of the means) said Cpk > 3."""
    rng = np.random.default_rng(26010801)
    lsl, usl = 1800.0, 3200.0
    runs = [rng.normal(2400 + rng.normal(0, 15), 250, 200) for _ in range(30)]
    means = np.array([r.mean() for r in runs])
    assert lsl + 400 < means.min() and means.max() < usl - 400
    assert min(r.min() for r in runs) < lsl  # raw values below the LSL
    old_sigma = np.abs(np.diff(means)).mean() / 1.128
    assert min(usl - means.mean(), means.mean() - lsl) / (3 * old_sigma) > 3  # what it showed
    raw = [g for i, r in enumerate(runs) for g in
           consecutive([(t, float(v)) for t, v in enumerate(r)], 5, f"X{i}")]
    cap = capability_of(raw, lsl, usl)
    assert cap.assessable and cap.cpk is not None and cap.ppk is not None
    assert cap.cpk < 1 and cap.ppk < 1
    assert cap.cpk_interval is not None and cap.cpk_interval[1] < 1
    groups = np.array(runs).reshape(-1, 5)  # counted from the raw values themselves
    assert cap.beyond_spec == int(((groups < lsl) | (groups > usl)).any(axis=1).sum()) > 0
    # from the aggregates alone (n, mean, sd per execution): the same conclusion, and the
    # within sigma is exactly the pooled within-execution one
    aggs = [Subgroup(f"X{i}", 200, float(r.mean()), float(r.std(ddof=1))) for i, r in
            enumerate(runs)]
    by_agg = capability_of(aggs, lsl, usl)
    n = 30 * 199 + 1  # c4 ~ 4(n-1)/(4n-3) for large n (error < 1e-8 here)
    pooled = math.sqrt(np.mean([r.var(ddof=1) for r in runs])) / (4 * (n - 1) / (4 * n - 3))
    assert by_agg.sigma_within == pytest.approx(pooled, rel=1e-7)
    assert by_agg.cpk is not None and by_agg.cpk < 1
    assert by_agg.ppk == pytest.approx(cap.ppk, rel=1e-9)  # same values, same overall sd


def test_too_few_values_are_not_assessable_with_the_reason() -> None:
    three = [Subgroup(f"X{i}", 1, m, 0.0) for i, m in enumerate((2400.0, 2410.0, 2395.0))]
    cap = capability_of(three, 1800.0, 3200.0)
    assert not cap.assessable and cap.cpk is None and cap.ppk is None
    assert cap.cpk_interval is None
    assert cap.reason == ("3 subgroup(s) of 3 value(s): capability needs at least 25 subgroups "
                          "and 100 values")
    data = np.random.default_rng(1).normal(10, 0.5, 120)
    assert not capability_of(_groups(data, 5), LSL, USL).assessable  # 24 subgroups
    assert capability_of(_groups(data, 5), LSL, USL, MinSample(20, 100)).assessable
    assert capability_of(_groups(data, 5), None, None).reason == (
        "the spec has no specification limit (LSL or USL)")
    no_sd = [Subgroup(f"X{i}", 180, 2400.0 + i, None) for i in range(30)]
    assert capability_of(no_sd, 1800.0, None).reason == (
        "the standard deviation of some subgroups is not known")


def test_one_sided_and_individuals() -> None:
    data = np.random.default_rng(4).normal(10, 0.5, 200)
    ind = [Subgroup(str(i), 1, float(v), 0.0) for i, v in enumerate(data)]
    cap = capability_of(ind, None, USL)
    sigma = np.abs(np.diff(data)).mean() / 1.128
    assert cap.sigma_within == pytest.approx(sigma, rel=1e-9)
    assert cap.cpk == pytest.approx((USL - data.mean()) / (3 * sigma), rel=1e-9)
    assert cap.ppk == pytest.approx((USL - data.mean()) / (3 * data.std(ddof=1)), rel=1e-9)
    assert within_sigma(ind[:1]) is None
