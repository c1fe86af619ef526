"""As-built context of the steps in a trace: for each batch, the operation executions that made
it and what they ran on — equipment, fixtures, operators, the operation, the pinned process
version — and the inspection results, parameter observations and excursions recorded during them.

Four batched link reads, whatever the number of batches (engine-independent: any
:class:`graph.port.GraphStore`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graph.model import Direction, EdgeRecord, NodeRecord
from graph.port import GraphStore
from ontology.vocab import rel_type_of

__all__ = ["AsBuilt", "as_built"]

#: what a batch points to: its product, its pinned process version, its work order
BATCH_LINKS = [rel_type_of(p) for p in ("ofProduct", "runsProcessVersion", "forWorkOrder")]
#: what an execution points to: the operation, equipment, fixture, operator, room
EXECUTION_LINKS = [rel_type_of(p) for p in ("executesOperation", "onEquipment", "usedFixture",
                                            "wasAssociatedWith", "performedIn")]
FOR_BATCH = rel_type_of("forBatch")
DURING_EXECUTION = rel_type_of("duringExecution")


@dataclass
class AsBuilt:
    nodes: dict[str, NodeRecord]
    edges: list[EdgeRecord]


def as_built(store: GraphStore, batches: Sequence[str]) -> AsBuilt:
    """Context nodes and edges of the given batches (IRIs of batches or sublots)."""
    edges: list[EdgeRecord] = []
    edges += store.links(batches, BATCH_LINKS)
    runs = store.links(batches, [FOR_BATCH], Direction.DOWNSTREAM)
    edges += runs
    executions = sorted({e.src for e in runs})
    edges += store.links(executions, EXECUTION_LINKS)
    during = store.links(executions, [DURING_EXECUTION], Direction.DOWNSTREAM)
    edges += during
    iris = {e.src for e in edges} | {e.dst for e in edges}
    nodes = store.get_many(sorted(iris - set(batches)))
    return AsBuilt(nodes=nodes, edges=sorted(set(edges), key=lambda e: (e.src, e.type, e.dst)))
