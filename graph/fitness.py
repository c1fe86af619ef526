"""Fitness for use at a time t, read from the graph: equipment calibrated, fixture within its
usage life, person holding a qualification. One place for these facts; the rules built on them
live with their callers (operation start checks in :mod:`quality.version_guards`, release by
exception in :mod:`quality.release`, suspect windows in :mod:`graph.change_impact`).

Times are UTC texts (``ontology.datatypes.to_utc_text``), compared as strings.

- **calibration, current state**: the equipment's own ``calibrationStatus`` / ``calibrationDue``
  (:func:`calibration_lapse`) — what an operator sees at the station when starting;
- **calibration, from the records**: Calibration records with a passing result, performed at or
  before a start and due at or after an end (:func:`calibrated_during`); the last passing one
  before a time (:func:`last_pass_before`);
- **usage life**: ``usageCount`` against ``usageLimit`` (:func:`usage_life`);
- **training**: validity windows per (person, qualification) from TrainingRecords
  (:func:`training_windows`, :func:`in_window`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from ontology.codes import CalibrationResult, CalibrationStatus
from ontology.terms import C, P, R

__all__ = [
    "CALIBRATION_PASS",
    "OUT_OF_CALIBRATION",
    "UsageLife",
    "calibrated_during",
    "calibration_lapse",
    "calibrations_of",
    "in_window",
    "last_pass_before",
    "training_windows",
    "usage_life",
]

#: calibration results that put (or keep) the equipment in calibration
CALIBRATION_PASS = frozenset({CalibrationResult.PASS, CalibrationResult.PASS_AFTER_ADJUSTMENT})
#: equipment calibration states that forbid use
OUT_OF_CALIBRATION = frozenset({CalibrationStatus.OVERDUE, CalibrationStatus.OUT_OF_TOLERANCE})

Window = tuple[str, str]  # (from, to); an empty ``to`` is open-ended


def calibration_lapse(node: NodeRecord, at: str) -> str | None:
    """Why ``node``'s current calibration state does not cover ``at`` ("calibration Overdue",
    "calibration was due …"), or None when it does or the equipment needs no calibration."""
    if node.props.get(P.requiresCalibration) is False:
        return None
    status, due = node.props.get(P.calibrationStatus), node.props.get(P.calibrationDue)
    if status in OUT_OF_CALIBRATION:
        return f"calibration {status}"
    if due is not None and str(due) < at:
        return f"calibration was due {due}"
    return None


def calibrations_of(store: GraphStore, equipment: Sequence[str]) -> dict[str, list[NodeRecord]]:
    """equipment → the Calibration records calibrating it."""
    if not equipment:
        return {}
    links = store.links(sorted(equipment), [R.CALIBRATES], Direction.DOWNSTREAM)
    nodes = store.get_many(sorted({e.src for e in links}))
    out: dict[str, list[NodeRecord]] = {}
    for e in links:
        n = nodes.get(e.src)
        if n is not None and n.label == C.Calibration:
            out.setdefault(e.dst, []).append(n)
    return out


def _passed(c: NodeRecord) -> bool:
    return c.props.get(P.calibrationResult) in CALIBRATION_PASS


def calibrated_during(records: Iterable[NodeRecord], start: str, end: str) -> bool:
    """A passing calibration performed at or before ``start`` and due at or after ``end``."""
    return any(_passed(c) and str(c.props.get(P.performedAt, "")) <= start
               and str(c.props.get(P.calibrationDue, "")) >= end for c in records)


def last_pass_before(records: Iterable[NodeRecord], at: str) -> str | None:
    """When the last passing calibration strictly before ``at`` was performed, if any."""
    passed = [str(c.props[P.performedAt]) for c in records
              if _passed(c) and P.performedAt in c.props and str(c.props[P.performedAt]) < at]
    return max(passed) if passed else None


@dataclass(frozen=True)
class UsageLife:
    count: int
    limit: int

    @property
    def exhausted(self) -> bool:
        """No cycle left: another use would go beyond the limit."""
        return self.count >= self.limit

    @property
    def exceeded(self) -> bool:
        """Already used beyond the limit."""
        return self.count > self.limit


def usage_life(node: NodeRecord) -> UsageLife | None:
    """The fixture's usage count and limit, when it has both."""
    limit, count = node.props.get(P.usageLimit), node.props.get(P.usageCount)
    if isinstance(limit, int) and isinstance(count, int):
        return UsageLife(count, limit)
    return None


def training_windows(store: GraphStore, people: Iterable[str]
                     ) -> dict[tuple[str, str], list[Window]]:
    """(person, qualification) → validity windows of the training records granting it."""
    people = sorted(set(people))
    if not people:
        return {}
    srcs = sorted({e.src for e in store.links(people, [R.TRAINEE], Direction.DOWNSTREAM)})
    records = {i: n for i, n in store.get_many(srcs).items() if n.label == C.TrainingRecord}
    if not records:
        return {}
    links = store.links(sorted(records), [R.TRAINEE, R.GRANTS_QUALIFICATION])
    trainees: dict[str, list[str]] = {}
    for e in links:
        if e.type == R.TRAINEE:
            trainees.setdefault(e.src, []).append(e.dst)
    out: dict[tuple[str, str], list[Window]] = {}
    for e in links:
        if e.type != R.GRANTS_QUALIFICATION:
            continue
        n = records[e.src]
        span = (str(n.props.get(P.effectiveFrom, "")), str(n.props.get(P.effectiveTo, "") or ""))
        for person in trainees.get(e.src, []):
            out.setdefault((person, e.dst), []).append(span)
    return out


def in_window(spans: Iterable[Window], at: str) -> bool:
    """``at`` falls in one of the windows (from inclusive, to exclusive)."""
    return any(a <= at and (not b or at < b) for a, b in spans)
