"""Removing a migration stage (``tracegraph migrate rollback``) within the audit rules.

The store never forgets by itself: the Writer only adds and updates. The one removal it knows is
the rollback of a migration stage that has not been put to use, and it is bounded so that an
auditor holding the database file sees exactly what happened:

- **what** is removed is exactly the records the stage created: every record the Writer marked
  with the stage id (``tg:migrationStage``; a stage only creates records,
  :func:`graph.write.stage_problem`), with the edges out of them and the stage's idempotency
  records (so the store is as it was before the stage, and the stage may be applied again);
- it is **refused** (rule ``migration-stage-in-use``) when any record outside the stage points
  to a record of it (a later consumption, hold, release, shipment or another stage), and (rule
  ``migration-stage-changed``) when a record of the stage was changed or linked after the stage
  was applied (a release decision moved its status, a command added a link): nothing outside the
  stage is ever touched;
- **the removal is audited**: one ``delete`` entry per removed record, chained after the
  stage's own ``create`` entries, naming who rolled it back, why (reason required), and the
  event ``rollback/<stage>``. The trail keeps both, so ``audit verify`` replays the creation
  and the removal and finds the record absent (:mod:`graph.audit_state`).

Everything happens in one store transaction; any problem refuses the whole rollback.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from graph.audit import AuditDraft, chain
from graph.authority import MIGRATION_STAGE
from graph.errors import Problem, WriteRejectedError
from graph.model import EdgeRecord, NodeRecord
from graph.port import GraphStore
from ontology.codes import AuditAction

__all__ = ["RetractResult", "retract_stage", "stage_event_prefix", "stage_problems"]


def stage_event_prefix(stage: str) -> str:
    """The prefix of every event id a stage is applied with (``migrate/<stage>/``)."""
    return f"migrate/{stage}/"


@dataclass(frozen=True)
class RetractResult:
    tx: int
    stage: str
    removed: dict[str, int]  # records removed per class
    edges: int  # edges removed (all out of the stage's records)
    audit_entries: int


def stage_problems(stage: str, nodes: dict[str, NodeRecord], edges_in: list[EdgeRecord],
                   edges_out: list[EdgeRecord]) -> list[Problem]:
    """Why the records ``nodes`` of ``stage`` may not be removed: used by a record outside the
    stage, or changed after the stage was applied."""
    out: list[Problem] = []
    for e in edges_in:
        if e.src not in nodes:
            out.append(Problem(
                rule="migration-stage-in-use", field=e.type, value=e.src, focus=e.dst,
                message=f"{e.dst} of migration stage {stage} is used by {e.src} ({e.type}, "
                        f"transaction {e.tx}, {e.recorded_at}), which is not part of the stage: "
                        "a stage in production use cannot be rolled back"))
    for n in nodes.values():
        if n.updated_at != n.recorded_at:
            out.append(Problem(
                rule="migration-stage-changed", field="updatedAt", value=n.updated_at,
                focus=n.iri,
                message=f"{n.label} {n.key} of migration stage {stage} was changed after the "
                        f"stage was applied (transaction {n.tx}, {n.updated_at}): a stage in "
                        "production use cannot be rolled back"))
    changed = {n.iri for n in nodes.values() if n.updated_at != n.recorded_at}
    for e in edges_out:
        src = nodes.get(e.src)
        if src is not None and e.tx != src.tx and e.src not in changed:
            changed.add(e.src)
            out.append(Problem(
                rule="migration-stage-changed", field=e.type, value=e.dst, focus=e.src,
                message=f"{e.src} of migration stage {stage} was linked to {e.dst} ({e.type}) "
                        f"after the stage was applied (transaction {e.tx}): a stage in "
                        "production use cannot be rolled back"))
    return out


def retract_stage(store: GraphStore, stage: str, actor: str, reason: str) -> RetractResult:
    """Remove the records of migration ``stage`` (see the module docstring) as ``actor`` with
    ``reason``, or raise :class:`graph.errors.WriteRejectedError` naming every problem."""
    if not reason.strip():
        raise WriteRejectedError([Problem(
            rule="reason-required", field="reason", value=reason, focus=stage,
            message="rolling back a migration stage needs a reason (21 CFR 11.10(e), EU GMP "
                    "Annex 11 §9)")])
    candidates = [n.iri for n in store.find(stage, MIGRATION_STAGE)]
    with store.transaction() as tx:
        nodes = {i: n for i, n in tx.fetch_nodes(candidates).items()
                 if n.props.get(MIGRATION_STAGE) == stage}
        if not nodes:
            raise WriteRejectedError([Problem(
                rule="migration-stage-unknown", field="stage", value=stage,
                message=f"no record of migration stage {stage} is stored (never applied, or "
                        "already rolled back)")])
        iris = sorted(nodes)
        edges_out = tx.fetch_out_edges(iris)
        problems = stage_problems(stage, nodes, tx.fetch_in_edges(iris), edges_out)
        if problems:
            raise WriteRejectedError(problems)
        drafts = [AuditDraft(AuditAction.DELETE, i, nodes[i].label, None,
                             {"key": nodes[i].key, MIGRATION_STAGE: stage}, None) for i in iris]
        entries = chain(drafts, tx.audit_head(), tx.tx_id, tx.at, actor,
                        f"rollback of migration stage {stage}: {reason.strip()}",
                        f"rollback/{stage}")
        tx.remove(iris, entries, stage_event_prefix(stage))
        return RetractResult(tx.tx_id, stage, dict(Counter(n.label for n in nodes.values())),
                             len(edges_out), len(entries))
