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
from ontology.terms import R

__all__ = ["AsBuilt", "as_built"]

#: what a batch points to: its product, its pinned process version, its work order
BATCH_LINKS = [R.OF_PRODUCT, R.RUNS_PROCESS_VERSION, R.FOR_WORK_ORDER]
#: what an execution points to: the operation, equipment, fixture, operator, room
EXECUTION_LINKS = [R.EXECUTES_OPERATION, R.ON_EQUIPMENT, R.USED_FIXTURE, R.WAS_ASSOCIATED_WITH,
                   R.PERFORMED_IN]
FOR_BATCH = R.FOR_BATCH
DURING_EXECUTION = R.DURING_EXECUTION


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
