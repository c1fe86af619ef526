"""``python -m bench.drift``: the drift monitor's measured figures (:mod:`quality.drift`).

- false alarms: warnings (episodes opened) per chart on ``--points`` in-control N(0, 1)
  points (fixed seeds), against the stated rate 1/ARL0 of each chart;
- detection delay: points from the start of a sustained 1 sigma shift to the first warning,
  mean over ``--trials`` runs, against the published ARL1 (EWMA 10.3, CUSUM 10.4);
- forecast: the breach time of a linear drift against the generated truth.
"""

from __future__ import annotations

import argparse

import numpy as np

from quality.drift import (
    CUSUM,
    CUSUM_ARL0,
    EWMA,
    EWMA_ARL0,
    STATED_FALSE_ALARMS_PER_POINT,
    DriftMonitor,
    forecast_breach,
)


def false_alarms(points: int, seed: int) -> dict[str, int]:
    """Warnings (episodes opened) on in-control points, and per chart the episodes it opened
    or joined."""
    z = np.random.default_rng(seed).standard_normal(points)
    m = DriftMonitor()
    counts = {"warnings": 0, "cleared": 0, EWMA: 0, CUSUM: 0}
    for i, v in enumerate(z.tolist()):
        for e in m.feed(i, v):
            counts["warnings" if e.kind == "drift" else "cleared"] += 1
            for c in e.charts if e.kind == "cleared" else ():
                counts[c] += 1
    return counts


def delay(shift: float, trials: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    found: dict[str, list[int]] = {EWMA: [], CUSUM: []}
    for _ in range(trials):
        m = DriftMonitor()
        first: dict[str, int] = {}
        for i, v in enumerate((rng.standard_normal(400) + shift).tolist()):
            m.feed(i, v)
            for c in m.charts if m.open_ms is not None else ():
                first.setdefault(c, i + 1)
            if len(first) == 2:
                break
        for c in found:
            found[c].append(first.get(c, 400))
    return {c: float(np.mean(v)) for c, v in found.items()}


def forecast_error(seed: int) -> tuple[float, float, float, float]:
    """(truth, forecast, earliest, latest) seconds for a drift of 0.002 per s from 10.0 toward
    USL 11.0 (truth 500 s), fitted on the first 200 s at 1 Hz with sd 0.05."""
    rng = np.random.default_rng(seed)
    t = np.arange(200.0)
    x = 10.0 + 0.002 * t + rng.normal(0, 0.05, t.size)
    f = forecast_breach(t.tolist(), x.tolist(), 9.0, 11.0)
    assert f is not None
    return 500.0, f.breach, f.earliest, f.latest or float("inf")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--trials", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
    print(f"stated in-control rate: EWMA 1/{EWMA_ARL0:g}, CUSUM 1/{CUSUM_ARL0:g}, "
          f"either {STATED_FALSE_ALARMS_PER_POINT:.5f} per point "
          f"= {STATED_FALSE_ALARMS_PER_POINT * a.points:.0f} per {a.points} points")
    for seed in range(a.seeds):
        c = false_alarms(a.points, seed)
        print(f"seed {seed}: {c['warnings']} warnings on {a.points} in-control points "
              f"(stated at most {STATED_FALSE_ALARMS_PER_POINT * a.points:.0f}), "
              f"{c['cleared']} cleared; episodes with an EWMA signal {c[EWMA]} "
              f"(1/ARL0: {a.points / EWMA_ARL0:.0f}), with a CUSUM signal {c[CUSUM]} "
              f"(1/ARL0: {a.points / CUSUM_ARL0:.0f})")
    for shift in (0.5, 1.0, 2.0):
        d = delay(shift, a.trials, 7)
        print(f"shift {shift} sigma: mean points to warning EWMA {d[EWMA]:.1f}, "
              f"CUSUM {d[CUSUM]:.1f} ({a.trials} trials)")
    truth, est, lo, hi = forecast_error(11)
    print(f"forecast breach: truth {truth:.0f} s, forecast {est:.1f} s "
          f"(95 % interval {lo:.1f} .. {hi:.1f} s)")


if __name__ == "__main__":
    main()
