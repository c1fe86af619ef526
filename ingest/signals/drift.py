"""Drift monitoring in the signal pipeline (issue 17 item 2): the streams the tag map marks
``drift: n`` feed :class:`quality.drift.DriftMonitor` with their subgroup means of ``n`` good
samples, and each drift episode becomes one warning through the exception loop (an excursion of
level ``drift`` and its alarm, :func:`quality.exception_loop.record_finding`), cleared with the
monitor's hysteresis.

- **Baseline**: the points are standardised against the stream's SPC limits from completed,
  in-control history (the detector's), else against the stream's first :data:`BASELINE`
  subgroups; the limits, once set, are kept in the drift state and never move.
- **Spanning runs**: unlike the per-execution detector, the monitor follows the equipment
  across executions (drift is the equipment's, not the batch's); a point is recorded in the
  context of the execution running when it completes.
- **Exactly once**: the state (:data:`STATE_FILE` under the raw store) is saved before the
  pipeline's own checkpoint, after the findings are committed; a restart resumes it and
  ignores samples it has already seen, and an episode's identity is its stream and the time of
  the point that opened it, written with a deterministic event id — a replay writes nothing new.
  A late sample older than the monitor's last point does not revise the drift statistics.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ontology.codes import ExcursionLevel
from quality.detection import Detector, Finding
from quality.drift import DriftMonitor
from quality.spc import Limits, Subgroup, SubgroupAccumulator, limits_from_subgroups

__all__ = ["BASELINE", "STATE_FILE", "DriftTracker", "read_state"]

STATE_FILE = "drift-state.json"
BASELINE = 20  # subgroups that set the limits when no in-control history gave them


@dataclass
class _Stream:
    size: int
    monitor: DriftMonitor = field(default_factory=DriftMonitor)
    groups: SubgroupAccumulator = field(init=False)
    limits: Limits | None = None
    baseline: list[list[float]] = field(default_factory=list)
    last_ms: int = -1

    def __post_init__(self) -> None:
        self.groups = SubgroupAccumulator(self.size)

    def state(self) -> dict[str, Any]:
        lim = self.limits
        return {"size": self.size, "monitor": self.monitor.state(),
                "groups": self.groups.state(), "baseline": self.baseline,
                "limits": None if lim is None else [lim.center, lim.sigma],
                "last_ms": self.last_ms}

    @classmethod
    def resume(cls, s: Mapping[str, Any]) -> _Stream:
        st = cls(int(s["size"]), DriftMonitor.resume(s["monitor"]))
        st.groups = SubgroupAccumulator.resume(s["groups"])
        st.baseline = [list(b) for b in s["baseline"]]
        st.limits = Limits(*s["limits"]) if s["limits"] is not None else None
        st.last_ms = int(s["last_ms"])
        return st


def _key(stream: tuple[str, str]) -> str:
    return f"{stream[0]}\t{stream[1]}"


def read_state(root: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The saved drift state per stream (empty without one)."""
    path = root / STATE_FILE
    if not path.is_file():
        return {}
    doc: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return {(k.split("\t")[0], k.split("\t")[1]): v for k, v in doc.items()}


class DriftTracker:
    """The drift monitors of the streams ``sizes`` names (stream → subgroup size)."""

    def __init__(self, root: Path, sizes: Mapping[tuple[str, str], int]) -> None:
        self.root = root
        self.sizes = {k: n for k, n in sizes.items() if n > 0}
        self.streams: dict[tuple[str, str], _Stream] = {}
        self._dirty = False
        if self.sizes:
            for k, s in read_state(root).items():
                if k in self.sizes and int(s["size"]) == self.sizes[k]:
                    self.streams[k] = _Stream.resume(s)

    def feed(self, stream: tuple[str, str], detector: Detector | None, t_ms: int, x: float
             ) -> list[Finding]:
        """One good, contextualised sample: the drift findings it completes."""
        size = self.sizes.get(stream)
        if size is None:
            return []
        st = self.streams.get(stream)
        if st is None:
            st = self.streams[stream] = _Stream(size)
        if t_ms <= st.last_ms:
            return []
        st.last_ms, self._dirty = t_ms, True
        g = st.groups.add(t_ms, x)
        if g is None:
            return []
        if st.limits is None:
            st.limits = detector.spc_limits if detector is not None else None
        if st.limits is None:
            st.baseline.append([g.n, g.mean, g.sd or 0.0])
            if len(st.baseline) >= BASELINE:
                st.limits = limits_from_subgroups([Subgroup(str(i), int(n), m, sd)
                                                   for i, (n, m, sd) in enumerate(st.baseline)])
                st.baseline = []
            return []
        out: list[Finding] = []
        for e in st.monitor.feed(t_ms, st.limits.z(g.mean, g.n)):
            out.append(Finding("spc" if e.kind == "drift" else "spcCleared",
                               ExcursionLevel.DRIFT, e.episode_ms, e.at_ms, g.mean, None,
                               e.charts))
        return out

    def save(self) -> None:
        """Write the state (atomically) if it changed."""
        if not self._dirty:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps({_key(k): s.state() for k, s in self.streams.items()}),
                       encoding="utf-8")
        os.replace(tmp, self.root / STATE_FILE)
        self._dirty = False
