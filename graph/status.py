"""What a record's state code means, defined once for every layer: an open deviation, an
active hold, a released batch.

Release (:mod:`quality.release`), the write guards (:mod:`quality.holds`,
:mod:`quality.deviations`), the workflows, the change-impact analysis
(:mod:`graph.change_impact`), GraphQL and the explorer's status overlay
(:mod:`api.graphql.explorer`) all ask these predicates, so they cannot disagree. The sets they
test are the ontology's ``skos:Collection`` s (:mod:`ontology.codes`).

A state the record does not hold counts against the record: SHACL requires ``deviationState``
and ``holdState`` (``sh:minCount 1``), so valid data always has one; a record without it (data
written around the shapes) is treated as still open / still in force, which blocks rather than
lets through.

>>> from graph.model import NodeRecord
>>> dev = NodeRecord("urn:d", "Deviation", "D1", {"deviationState": "EffectivenessVerified"},
...                  "", "", 0)
>>> is_open_deviation(dev)
True
"""

from __future__ import annotations

from graph.model import NodeRecord
from ontology.codes import (
    ACTIVE_HOLD_STATES,
    OPEN_DEVIATION_STATES,
    RELEASED_BATCH_STATUSES,
    DeviationState,
    HoldState,
)
from ontology.terms import P

__all__ = ["is_active_hold", "is_open_deviation", "is_released"]


def is_open_deviation(deviation: NodeRecord) -> bool:
    """The deviation still blocks release (its state is one of ``tg:OpenDeviationStates``:
    every state before QA closure, effectiveness verified included). Without a
    ``deviationState`` it counts as ``Open``."""
    return str(deviation.props.get(P.deviationState, DeviationState.OPEN)) in OPEN_DEVIATION_STATES


def is_active_hold(hold: NodeRecord) -> bool:
    """The hold is in force (its state is one of ``tg:ActiveHoldStates``). Without a
    ``holdState`` it counts as ``Active``."""
    return str(hold.props.get(P.holdState, HoldState.ACTIVE)) in ACTIVE_HOLD_STATES


def is_released(batch: NodeRecord) -> bool:
    """The batch was released for distribution (its ``batchStatus`` is one of
    ``tg:ReleasedBatchStatuses``). A record without a batch status is not released."""
    return str(batch.props.get(P.batchStatus)) in RELEASED_BATCH_STATUSES
