"""SPC false alarms on in-control high-rate data (issue 17): prints, for N in-control samples at
10 Hz, how many SPC warnings the detector raises on subgroups (one per rule episode, cleared
with hysteresis) against the stated rate, beside what rules on the raw samples fire.

    .venv/bin/python -m bench.spc [--samples 100000] [--seed 17] [--sizes 5,50]

Independent normal samples, mean 230, sd 1.5 (the MELT-TEMP history), limits from that history;
the default rules (Nelson 2, 3, 5, 6). Prints figures only: it asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import time

from quality.detection import Detector, SpecLimits
from quality.spc import DEFAULT_RULES, FALSE_EPISODES_PER_SUBGROUP, Limits, RuleEpisodes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--sizes", default="5,50", help="subgroup sizes to run")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    xs = [230 + rng.gauss(0, 1.5) for _ in range(a.samples)]
    lim = Limits(230, 1.5)
    print(f"{a.samples} in-control samples at 10 Hz ({a.samples / 36_000:.1f} h), rules "
          f"{', '.join(sorted(DEFAULT_RULES))}")

    # the rules on every raw sample (what the pipeline did before subgroups)
    eps, fired, opened = RuleEpisodes(), 0, 0
    window: list[float] = []
    for i, x in enumerate(xs):
        window = [*window[-8:], lim.z(x)]
        event, broken = eps.step(window, i)
        fired += bool(broken)
        opened += event == "open"
    print(f"  raw samples as points : rules fire on {fired} samples, {opened} episodes")

    for size in (int(s) for s in a.sizes.split(",")):
        spec = SpecLimits(lsl=210, usl=250, action_low=215, action_high=245, alert_low=220,
                          alert_high=240, setpoint=230, subgroup_size=size)
        d = Detector(spec, spc_limits=lim)
        t0 = time.perf_counter()
        found = [f for i, x in enumerate(xs) for f in d.feed((i + 1) * 100, x)]
        dt = time.perf_counter() - t0
        warn = sum(1 for f in found if f.kind == "spc")
        clear = sum(1 for f in found if f.kind == "spcCleared")
        groups = a.samples // size
        print(f"  subgroups of {size:<3}     : {groups} subgroups, {warn} SPC warnings "
              f"(stated {FALSE_EPISODES_PER_SUBGROUP * groups:.0f} = "
              f"{FALSE_EPISODES_PER_SUBGROUP:.2%} of subgroups), {clear} cleared, "
              f"{warn - clear} still active; excursions "
              f"{sum(1 for f in found if f.kind == 'excursion')}; "
              f"{a.samples / dt:,.0f} samples/s through the detector")


if __name__ == "__main__":
    main()
