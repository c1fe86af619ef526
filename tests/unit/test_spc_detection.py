"""SPC rules, capability and the detector's debounce/hysteresis, as pure functions."""

from __future__ import annotations

import random

import pytest

from quality.detection import Detector, SpecLimits
from quality.spc import (
    Limits,
    control_chart,
    cpk,
    limits_from,
    limits_from_summary,
    ppk,
    violations,
)

SPEC = SpecLimits(lsl=210, usl=250, action_low=215, action_high=245, alert_low=220,
                  alert_high=240, setpoint=230, is_cpp=True)
LIM = Limits(center=0.0, sigma=1.0)


def _rules(values: list[float]) -> set[str]:
    return {v.rule for v in violations(values, LIM)}


@pytest.mark.parametrize(("values", "rule"), [
    ([0, 0.5, -0.5, 3.5], "nelson1"),
    ([0.2] * 9, "nelson2"),
    ([-1, -0.5, 0, 0.3, 0.6, 0.9], "nelson3"),
    ([0.5 * (-1) ** i for i in range(14)], "nelson4"),
    ([0, 2.5, 0.5, 2.6], "nelson5"),
    ([1.5, 1.2, 0.2, 1.4, 1.3], "nelson6"),
    ([0.1 * (-1) ** i for i in range(15)], "nelson7"),
    ([1.5 * (-1) ** i for i in range(8)], "nelson8"),
])
def test_each_run_rule_fires_on_its_pattern(values: list[float], rule: str) -> None:
    assert rule in _rules(values)
    assert rule not in _rules(values[:-1])  # one point short: the pattern is incomplete


def test_limits_from_history_and_summaries() -> None:
    rng = random.Random(7)
    xs = [100 + rng.gauss(0, 2) for _ in range(2000)]
    lim = limits_from(xs)
    assert abs(lim.center - 100) < 0.2 and abs(lim.sigma - 2) < 0.15
    pooled = limits_from_summary([99.0, 101.0], [2.0, 2.0], [500, 500])
    assert pooled is not None and pooled.center == 100.0 and abs(pooled.sigma - 2.0) < 1e-9
    chart = control_chart(xs, lsl=94, usl=106)
    assert chart.cpk is not None and 0.9 < chart.cpk < 1.1
    assert cpk([1.0, 1.0], 0, 2) is None


def test_cpk_uses_the_within_sigma_and_ppk_the_overall_one() -> None:
    ramp = [10.0 + 0.1 * i for i in range(20)]  # a drift: small moving ranges, wide spread
    mean = sum(ramp) / len(ramp)
    assert cpk(ramp, 0.0, 20.0) == pytest.approx((20.0 - mean) / (3 * 0.1 / 1.128))
    sd = (sum((x - mean) ** 2 for x in ramp) / 19) ** 0.5
    assert ppk(ramp, 0.0, 20.0) == pytest.approx((20.0 - mean) / (3 * sd))
    assert ppk(ramp, None, 20.0) == ppk(ramp, 0.0, 20.0)  # one-sided, the near side anyway
    assert cpk(ramp, None, None) is None
    chart = control_chart(ramp, 0.0, 20.0)
    assert (chart.cpk, chart.ppk) == (cpk(ramp, 0.0, 20.0), ppk(ramp, 0.0, 20.0))


def test_debounce_ignores_short_spikes_and_hysteresis_gives_one_episode() -> None:
    d = Detector(SPEC, debounce=3, spc_limits=Limits(230, 1.5), spc_rules=frozenset())
    t = 0
    found = []

    def feed(*xs: float) -> None:
        nonlocal t
        for x in xs:
            t += 1000
            found.extend(d.feed(t, x))

    feed(230, 231, 258, 259, 230, 229, 255, 230)  # spikes of 1-2 samples: nothing
    assert found == []
    feed(241, 242, 241)  # alert after three beyond it
    assert [(f.kind, f.level) for f in found] == [("excursion", "alert")]
    feed(239.5, 240.5, 239.9, 241, 239.5, 240.2)  # hovering at the limit: still one episode
    assert len(found) == 1
    feed(238.5, 238, 237.5)  # three samples well inside (dead band 0.8): cleared
    assert [(f.kind, f.level) for f in found][-1] == ("cleared", "alert")
    feed(238, 238)
    assert len(found) == 2


def test_duplicates_and_late_samples_are_ignored() -> None:
    d = Detector(SPEC, debounce=2, spc_limits=Limits(230, 1.5))
    assert d.feed(1000, 260) == []
    assert d.feed(1000, 260) == []  # the same sample again: not a second one
    assert d.feed(500, 260) == []  # older than the newest: ignored
    [f] = d.feed(2000, 261)
    assert f.level == "outOfSpec" and f.peak == 261 and f.limit == 250
