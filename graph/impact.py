"""Equipment-window impact: equipment (or a fixture) suspect during [start, end] — out of
calibration, or with an excursion — → the operation executions on it that overlap the window →
their batches → everything downstream (units, packages, shipments, customers); and, for a test
instrument, the inspection results measured with it in the window (``tg:measuredWith``, by their
result time) → the lots, batches, sublots or units they inspected → everything downstream.

The downstream part is the bulk recall of :mod:`graph.recall`, seeded with the batches and the
inspected entities, so the answer carries witness paths and the watermark like any recall.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from graph.recall import RecallAnswer
from ontology.terms import C, R

__all__ = ["Exposure", "Measurement", "WindowImpact", "executions_in_room", "executions_in_window",
           "results_in_window"]

ON_EQUIPMENT = R.ON_EQUIPMENT
USED_FIXTURE = R.USED_FIXTURE
FOR_BATCH = R.FOR_BATCH


@dataclass(frozen=True)
class Exposure:
    """An execution that ran on the equipment during the window, and the batch it made."""

    execution: NodeRecord
    batches: tuple[str, ...]


def _overlaps(node: NodeRecord, start: str, end: str) -> bool:
    """Stored UTC texts compare as instants; an execution still running has no end."""
    began = str(node.props.get("startedAtTime", ""))
    ended = str(node.props.get("endedAtTime", "")) or "9999"
    return bool(began) and began <= end and ended >= start


def executions_in_window(store: GraphStore, equipment: str, start: str, end: str,
                         via: tuple[str, ...] = (ON_EQUIPMENT, USED_FIXTURE)) -> list[Exposure]:
    """Executions on ``equipment`` (as equipment or as fixture) overlapping [start, end];
    ``via`` other links to the executions (``prov:wasAssociatedWith``: an operator's)."""
    runs = store.links([equipment], list(via), Direction.DOWNSTREAM)
    executions = store.get_many(sorted({e.src for e in runs}))
    hit = [x for x in executions.values()
           if x.label == C.OperationExecution and _overlaps(x, start, end)]
    made: dict[str, list[str]] = {}
    for e in store.links([x.iri for x in hit], [FOR_BATCH]):
        made.setdefault(e.src, []).append(e.dst)
    return [Exposure(x, tuple(sorted(made.get(x.iri, ()))))
            for x in sorted(hit, key=lambda x: (str(x.props.get("startedAtTime")), x.iri))]


def executions_in_room(store: GraphStore, room: str, start: str, end: str) -> list[Exposure]:
    """Executions that ran in ``room`` overlapping [start, end] (issue 17 item 1): those
    performed in it (``tg:performedIn``), and those without a room of their own on equipment
    located in it (``tg:locatedIn``)."""
    here = {e.src for e in store.links([room], [R.PERFORMED_IN], Direction.DOWNSTREAM)}
    stands = [e.src for e in store.links([room], [R.LOCATED_IN], Direction.DOWNSTREAM)]
    on = {e.src for e in store.links(stands, [ON_EQUIPMENT], Direction.DOWNSTREAM)} - here
    elsewhere = {e.src for e in store.links(sorted(on), [R.PERFORMED_IN])}
    runs = store.get_many(sorted(here | (on - elsewhere)))
    hit = [x for x in runs.values() if _overlaps(x, start, end)]
    made: dict[str, list[str]] = {}
    for e in store.links([x.iri for x in hit], [FOR_BATCH]):
        made.setdefault(e.src, []).append(e.dst)
    return [Exposure(x, tuple(sorted(made.get(x.iri, ()))))
            for x in sorted(hit, key=lambda x: (str(x.props.get("startedAtTime")), x.iri))]


@dataclass(frozen=True)
class Measurement:
    """An inspection result measured with the instrument during the window, and what it
    inspected."""

    result: NodeRecord
    inspected: tuple[str, ...]


def results_in_window(store: GraphStore, equipment: str, start: str, end: str
                      ) -> list[Measurement]:
    """Inspection results measured with ``equipment`` whose result time (else when they were
    recorded) falls in [start, end], with the entities they inspected."""
    measured = store.links([equipment], [R.MEASURED_WITH], Direction.DOWNSTREAM)
    results = store.get_many(sorted({e.src for e in measured}))

    def taken(n: NodeRecord) -> str:
        return str(n.props.get("resultTime") or n.recorded_at)

    hit = sorted((r for r in results.values() if start <= taken(r) <= end),
                 key=lambda r: (taken(r), r.iri))
    inspected: dict[str, list[str]] = {}
    for e in store.links([r.iri for r in hit], [R.INSPECTED_ENTITY]):
        inspected.setdefault(e.src, []).append(e.dst)
    return [Measurement(r, tuple(sorted(inspected.get(r.iri, ())))) for r in hit]


class WindowImpact(NamedTuple):
    """The equipment-window impact: executions on the equipment, results measured with it, and
    the recall of the batches made and the entities inspected."""

    executions: list[Exposure]
    results: list[Measurement]
    recall: RecallAnswer
