"""SPC rules, limits, rule episodes on subgroups and the detector's debounce/hysteresis, as
pure functions (capability: test_spc_capability.py)."""

from __future__ import annotations

import itertools
import random

import orjson
import pytest

from quality.detection import Detector, Finding, SpecLimits
from quality.spc import (
    FALSE_EPISODES_PER_SUBGROUP,
    Limits,
    Subgroup,
    chart,
    limits_from,
    limits_from_summary,
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
    lim = limits_from(xs)  # individuals: MR-bar / d2
    assert abs(lim.center - 100) < 0.2 and abs(lim.sigma - 2) < 0.15
    pooled = limits_from_summary([99.0, 101.0], [2.0, 2.0], [500, 500])
    # pooled s = 2 over 998 degrees of freedom, unbiased by c4(999) = 0.99975 (tabulated form
    # 4(n-1)/(4n-3) to six places)
    assert pooled is not None and pooled.center == 100.0
    assert pooled.sigma == pytest.approx(2.0 / (4 * 998 / (4 * 999 - 3)), rel=1e-6)


def _shifted(rng: random.Random, n: int, shift: float) -> list[float]:
    return [230 + shift + rng.gauss(0, 1.5) for _ in range(n)]


def _run(d: Detector, xs: list[float], t0: int = 0) -> list[Finding]:
    out: list[Finding] = []
    for i, x in enumerate(xs):
        out.extend(d.feed(t0 + (i + 1) * 100, x))  # 10 Hz
    return out


def _one_alarm_per_episode(found: list[Finding]) -> None:
    kinds = [f.kind for f in found if f.kind in ("spc", "spcCleared")]
    assert all(a != b for a, b in itertools.pairwise(kinds)), kinds  # alternating
    opened = {f.episode_ms for f in found if f.kind == "spc"}
    assert {f.episode_ms for f in found if f.kind == "spcCleared"} <= opened


def test_in_control_high_rate_signal_gives_few_warnings_one_per_episode() -> None:
    """100,000 in-control samples at 10 Hz: the run rules see 20,000 subgroups of 5, not the
    raw samples; warnings stay within the stated rate (bench/spc.py prints the count), each
    episode raises one and clears it."""
    d = Detector(SPEC, spc_limits=Limits(230, 1.5))
    found = _run(d, _shifted(random.Random(17), 100_000, 0.0))
    warnings = sum(1 for f in found if f.kind == "spc")
    assert not [f for f in found if f.kind in ("excursion", "cleared")]
    assert warnings <= 2 * FALSE_EPISODES_PER_SUBGROUP * 20_000  # generous: expected 170
    _one_alarm_per_episode(found)
    assert sum(1 for f in found if f.kind == "spcCleared") >= warnings - 1


def test_a_sustained_shift_raises_one_warning_cleared_when_back_in_control() -> None:
    rng = random.Random(3)
    d = Detector(SPEC, spc_limits=Limits(230, 1.5))
    base = _run(d, _shifted(rng, 2_000, 0.0))  # warm: whatever noise gave, closed below
    t0 = 2_000 * 100
    shift = _run(d, _shifted(rng, 1_000, 1.5), t0)  # +1 sigma for 200 subgroups
    back = _run(d, _shifted(rng, 1_000, 0.0), t0 + 100_000)
    opened = [f for f in shift if f.kind == "spc"]
    assert len(opened) == 1 and opened[0].at_ms <= t0 + 20 * 5 * 100  # within 20 subgroups
    assert not [f for f in shift if f.kind == "spcCleared"]  # one episode while it lasts
    cleared = [f for f in back if f.kind == "spcCleared"]
    assert cleared and cleared[0].episode_ms == opened[0].episode_ms
    assert cleared[0].at_ms <= t0 + 100_000 + 30 * 5 * 100
    _one_alarm_per_episode(base + shift + back)


def test_a_detector_resumed_mid_subgroup_and_mid_episode_finds_the_same() -> None:
    """A restart (checkpoint, resume) inside a subgroup and inside an open SPC episode neither
    repeats the warning nor loses its clearing."""
    rng = random.Random(9)
    xs = _shifted(rng, 600, 0.0) + _shifted(rng, 400, 1.5) + _shifted(rng, 600, 0.0)
    whole = _run(Detector(SPEC, spc_limits=Limits(230, 1.5)), xs)
    first = Detector(SPEC, spc_limits=Limits(230, 1.5))
    before = _run(first, xs[:803])  # 803: inside a subgroup, after the shift was flagged
    assert [f.kind for f in before if f.kind.startswith("spc")][-1] == "spc"  # open episode
    resumed = Detector.resume(SPEC, orjson.loads(orjson.dumps(first.state())))  # as stored
    after = [f for i, x in enumerate(xs[803:], start=803) for f in resumed.feed((i + 1) * 100, x)]
    assert before + after == whole
    assert any(f.kind == "spcCleared" for f in after)


def test_per_execution_subgroups_have_no_within_run_rules() -> None:
    spec = SpecLimits.of({"lsl": 210, "usl": 250, "subgroupRule": "perExecution"})
    assert spec.subgroup_size == 0
    assert SpecLimits.of({"subgroupSize": 25}).subgroup_size == 25
    assert SpecLimits.of({}).subgroup_size == 5  # the default: five consecutive samples
    d = Detector(spec, spc_limits=Limits(230, 1.5))
    assert not _run(d, [230 + 0.01 * i for i in range(500)])  # a trend: no within-run SPC


def test_chart_marks_the_episodes_the_detector_raises() -> None:
    """The chart and the detector share the episode rule: same subgroups → same openings."""
    rng = random.Random(5)
    xs = _shifted(rng, 500, 0.0) + _shifted(rng, 300, 1.5) + _shifted(rng, 500, 0.0)
    d = Detector(SPEC, spc_limits=Limits(230, 1.5))
    found = _run(d, xs)
    groups = [Subgroup.of(str(i), xs[i:i + 5]) for i in range(0, len(xs), 5)]
    c = chart(groups, Limits(230, 1.5), d.spc_rules)
    opened = [(f.at_ms // 100) // 5 - 1 for f in found if f.kind == "spc"]
    assert [e.start for e in c.episodes] == opened and opened
    closed = [(f.at_ms // 100) // 5 - 1 for f in found if f.kind == "spcCleared"]
    assert [e.end for e in c.episodes if e.end is not None] == closed


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


def test_a_detector_state_taken_earlier_is_not_changed_by_later_samples() -> None:
    """The pipeline keeps checkpoints taken mid-batch and stores them after the batch: a state
    taken earlier must resume where it was taken, not where the detector is now (it held the
    live lists of runs, pending samples and fired rules)."""
    rng = random.Random(4)
    xs = _shifted(rng, 300, 0.0) + [251.0] * 2 + _shifted(rng, 300, 1.5)
    d = Detector(SPEC, spc_limits=Limits(230, 1.5), spc_lateness_ms=3_000)
    _run(d, xs[:301])
    taken = d.state()
    frozen = orjson.loads(orjson.dumps(taken))
    for i, x in enumerate(xs[301:], start=301):
        d.feed((i + 1) * 100, x)
    assert orjson.loads(orjson.dumps(taken)) == frozen


def test_settled_subgroups_give_a_late_sample_the_warnings_of_time_order() -> None:
    """With an allowed lateness, a sample fed late (its stream re-evaluated from a checkpoint
    before it, as the pipeline does) yields the same SPC findings as the samples in time order:
    the findings already emitted before the late sample came are a prefix of those."""
    rng = random.Random(11)
    xs = _shifted(rng, 500, 0.0) + _shifted(rng, 300, 1.2) + _shifted(rng, 500, 0.0)
    ordered = _run(Detector(SPEC, spc_limits=Limits(230, 1.5), spc_lateness_ms=5_000), xs)
    assert any(f.kind == "spc" for f in ordered)
    late = 640  # its sample arrives when the stream is 30 samples (3 s) further
    d = Detector(SPEC, spc_limits=Limits(230, 1.5), spc_lateness_ms=5_000)
    early: list[Finding] = []
    checkpoint = None
    for i, x in enumerate(xs[:late + 30]):
        if i == late:
            continue
        if i == late - 1:
            checkpoint = orjson.dumps(d.state())
        early += d.feed((i + 1) * 100, x)
    assert checkpoint is not None
    again = Detector.resume(SPEC, orjson.loads(checkpoint), spc_lateness_ms=5_000)
    redone = [f for i, x in enumerate(xs[late - 1:], start=late - 1)
              for f in again.feed((i + 1) * 100, x)]
    spc = [f for f in ordered if f.kind.startswith("spc")]
    assert [f for f in early if f.kind.startswith("spc")] == spc[:len(
        [f for f in early if f.kind.startswith("spc")])]
    before = _run(Detector(SPEC, spc_limits=Limits(230, 1.5), spc_lateness_ms=5_000),
                  xs[:late - 1])
    assert before + redone == ordered
