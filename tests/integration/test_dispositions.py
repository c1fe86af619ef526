"""Dispositions of holds keep genealogy intact: rework adds executions to the batch, scrap
rejects it, each decision is signed by QA (both engines)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graph.model import Direction
from graph.schema import DERIVATION
from ontology.terms import C, P, R
from quality.dispositions import Rework, dispose
from quality.signatures import signatures_of
from quality.workflow import WorkflowRefused
from tests import plantlet
from tests.conftest import PASSWORD, make_user, migrate
from tracegraph.runtime import Runtime


def clock() -> datetime:
    return datetime(2026, 3, 10, 9, tzinfo=UTC)


@pytest.mark.req("URS-NC-01")
def test_rework_and_scrap_keep_genealogy(runtime: Runtime) -> None:
    rt = runtime
    plantlet.load(rt)
    make_user(rt, "q.adams", ["qa"])
    migrate(rt, {"format": "tracegraph.capture/1", "events": [{  # holds: command-only records
        "eventId": "holds", "reason": "deviation", "nodes": [
            {"class": "Operation", "key": "CATH-ASSY/v1/RW10",
             "properties": {"name": "Rework: re-bond hub", "sequence": 10}},
            *({"class": "Hold", "key": f"HLD-{b}",
               "properties": {"holdState": "Active", "openedAt": "2026-03-05T08:00:00Z",
                              "description": "pull test failed"},
               "links": {"holds": f"Batch/{b}"}} for b in ("B-ASSY", "B-MOULD"))]}]})
    b_assy = rt.vocab.mint_iri(C.Batch, "B-ASSY")
    b_mould = rt.vocab.mint_iri(C.Batch, "B-MOULD")

    def edges() -> set[tuple[str, str, str]]:
        seeds = [b_assy, b_mould]
        return {(e.src, e.type, e.dst) for e in rt.store.links(seeds, [DERIVATION])} | {
            (e.src, e.type, e.dst) for e in rt.store.links(seeds, [DERIVATION],
                                                           Direction.DOWNSTREAM)}

    before = edges()
    with pytest.raises(WorkflowRefused, match="rework-operation"):
        dispose(rt, "HLD-B-ASSY", "rework", "q.adams", PASSWORD, "re-bond", clock=clock)
    with pytest.raises(WorkflowRefused, match="disposition-type"):
        dispose(rt, "HLD-B-ASSY", "returnToSupplier", "q.adams", PASSWORD, "no", clock=clock)
    d = dispose(rt, "HLD-B-ASSY", "rework", "q.adams", PASSWORD, "re-bond the hubs",
                rework=Rework("CATH-ASSY/v1/RW10", "2026-03-10T10:00:00Z",
                              "2026-03-10T12:00:00Z", operator="q.adams"), clock=clock)
    assert d.props[P.dispositionType] == "rework"
    runs = rt.store.get_many([e.src for e in rt.store.links([b_assy], [R.FOR_BATCH],
                                                           Direction.DOWNSTREAM)])
    assert [n.props[P.executionStatus] for n in runs.values()] == ["Completed"]
    (run,) = runs
    assert {e.type for e in rt.store.links([run])} >= {R.EXECUTES_OPERATION, R.FOR_BATCH}
    assert rt.store.get(b_assy).props[P.batchStatus] == "InProcess"  # type: ignore[union-attr]  # the batch exists
    s = dispose(rt, "HLD-B-MOULD", "scrap", "q.adams", PASSWORD, "short shots", clock=clock)
    assert rt.store.get(b_mould).props[P.batchStatus] == "Rejected"  # type: ignore[union-attr]  # the batch exists
    for hold in ("HLD-B-ASSY", "HLD-B-MOULD"):
        h = rt.store.get(rt.vocab.mint_iri(C.Hold, hold))
        assert h is not None and h.props[P.holdState] == "Dispositioned"
    assert edges() == before  # genealogy untouched: nothing re-linked, nothing removed
    for rec in (d, s):
        (sig,) = signatures_of(rt, rec.iri)
        assert sig.valid and sig.meaning == "approved" and sig.username == "q.adams"
    with pytest.raises(WorkflowRefused, match="hold-state"):
        dispose(rt, "HLD-B-MOULD", "release", "q.adams", PASSWORD, "again", clock=clock)
