"""Equipment-window impact: equipment (or a fixture) suspect during [start, end] — out of
calibration, or with an excursion — → the operation executions on it that overlap the window →
their batches → everything downstream (units, packages, shipments, customers).

The downstream part is the bulk recall of :mod:`graph.recall`, seeded with the batches, so the
answer carries witness paths and the watermark like any recall.
"""

from __future__ import annotations

from dataclasses import dataclass

from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from ontology.terms import R

__all__ = ["Exposure", "executions_in_window"]

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


def executions_in_window(store: GraphStore, equipment: str, start: str, end: str
                         ) -> list[Exposure]:
    """Executions on ``equipment`` (as equipment or as fixture) overlapping [start, end]."""
    runs = store.links([equipment], [ON_EQUIPMENT, USED_FIXTURE], Direction.DOWNSTREAM)
    executions = store.get_many(sorted({e.src for e in runs}))
    hit = [x for x in executions.values() if _overlaps(x, start, end)]
    made: dict[str, list[str]] = {}
    for e in store.links([x.iri for x in hit], [FOR_BATCH]):
        made.setdefault(e.src, []).append(e.dst)
    return [Exposure(x, tuple(sorted(made.get(x.iri, ()))))
            for x in sorted(hit, key=lambda x: (str(x.props.get("startedAtTime")), x.iri))]
