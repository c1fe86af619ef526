"""The audit hash chain detects altered, removed and reordered entries."""

from __future__ import annotations

import dataclasses

import pytest

from graph.audit import GENESIS, AuditDraft, chain, verify_chain


def entries(n: int = 5) -> list:  # type: ignore[type-arg]  # a list of AuditEntry
    drafts = [AuditDraft("update", f"urn:x:{i}", "Batch", "quantity", i, i + 1) for i in range(n)]
    return chain(drafts, (0, GENESIS), tx=1, at="2026-01-01T00:00:00.000000Z", actor="qa",
                 reason="count", event_id="e1")


@pytest.mark.req("URS-AUD-02")
def test_an_intact_chain_verifies() -> None:
    es = entries()
    assert verify_chain(es) == (5, None)
    more = chain([AuditDraft("create", "urn:y", "Batch", None, None, {"a": 1})],
                 (es[-1].seq, es[-1].hash), 2, "2026-01-02T00:00:00.000000Z", "qa", None, "e2")
    assert verify_chain(es + more) == (6, None)


@pytest.mark.req("URS-AUD-02")
def test_altering_removing_or_reordering_breaks_the_chain_at_that_entry() -> None:
    es = entries()
    altered = list(es)
    altered[2] = dataclasses.replace(es[2], new=999)
    assert verify_chain(altered)[1].seq == 3  # type: ignore[union-attr]  # the chain is broken, so verify_chain returns the break
    removed = es[:2] + es[3:]
    assert verify_chain(removed)[1] is not None
    swapped = [es[0], es[2], es[1], *es[3:]]
    assert verify_chain(swapped)[1] is not None
