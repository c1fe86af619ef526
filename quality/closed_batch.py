"""A released or rejected batch's record is closed: a write guard (see
:data:`graph.write.Guard`), so every way in meets it.

- **batch-closed**: once a batch (or sublot) is ``Released`` or ``Rejected`` in its stored
  state, no write may add to what was released or rejected: no derivation into it (a
  consumption, merge or rework whose derived thing it is), no new unit produced from it
  (``production``), and no new operation execution for it (``forBatch``). Unlike a hold's
  "late record of history" (:mod:`quality.holds`), a back-dated event is refused too: the record
  QA signed is the record; a missing entry found after release is a deviation, not a silent
  addition. Shipping, splitting for distribution, inspecting retained samples and the quality
  records about the batch (deviations, holds, complaints) are not additions to its
  manufacturing record and stay allowed.

The status read is the stored one, before this write: the release itself is a command that
changes the status alone. A signed migration (an administrator loading legacy history, or
correcting a record, with a reason — see :mod:`graph.authority`) records history as it was
and is not refused: it is the audited way to enter what a closed record missed.
"""

from __future__ import annotations

from graph.errors import Problem
from graph.schema import DERIVATION
from graph.write import PendingWrite
from ontology.codes import BatchStatus, DerivationKind
from ontology.terms import C, P, R

__all__ = ["CLOSED", "closed_batch_rules"]

#: statuses after which a batch's manufacturing record takes no additions
CLOSED = frozenset({BatchStatus.RELEASED, BatchStatus.REJECTED})
_BATCHES = frozenset({C.Batch, C.Sublot})


def closed_batch_rules(p: PendingWrite) -> list[Problem]:
    """Every new derivation into, production from, or execution for a closed batch."""
    if p.events and all(ev.migration for ev in p.events):
        return []
    touched: list[tuple[str, str, str]] = []  # (batch, focus, what)
    for e in p.new_edges:
        if e.type == DERIVATION:
            if e.props.get(P.derivationKind) == DerivationKind.PRODUCTION:
                touched.append((e.dst, e.src, f"a new unit {e.src} produced from it"))
            else:
                kind = e.props.get(P.derivationKind) or "derivation"
                touched.append((e.src, e.src, f"a {kind} of {e.dst} into it"))
        elif e.type == R.FOR_BATCH:
            touched.append((e.dst, e.src, f"a new operation execution {e.src} for it"))
    if not touched:
        return []
    stored = p.store.get_many(sorted({b for b, _, _ in touched}))
    problems: list[Problem] = []
    for batch, focus, what in touched:
        n = stored.get(batch)
        status = n.props.get(P.batchStatus) if n is not None and n.label in _BATCHES else None
        if status in CLOSED:
            problems.append(Problem(
                rule="batch-closed", field=P.batchStatus, value=status, focus=focus,
                message=f"{n.key if n else batch} is {status}: its manufacturing record is "
                        f"closed and takes no additions ({what}); record what was missed "
                        "as a deviation (an administrator's signed migration may enter it)"))
    return problems
