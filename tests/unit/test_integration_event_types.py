"""The integration events of a batch release and a change approval (issue 18 item 6): the
commands of quality.release and quality.change_control publish batchReleased and
changeApproved, each once, from the audit entry of the state change they commit — and a
refused command publishes nothing."""

from __future__ import annotations

import pytest

from graph.integration import events_since
from ontology.codes import IntegrationEventType as T
from quality import change_control as cc
from quality.release import release_batch
from quality.workflow import WorkflowRefused
from tests.unit.records import PASSWORD
from tests.unit.session import UnitSession
from tests.unit.test_quality_change_control import approved_by_both, proposed
from tests.unit.test_quality_release import made


def _events(s: UnitSession) -> list[tuple[str, str | None, object]]:
    return [(e.type, e.key, e.new) for e in events_since(s.store, s.vocab)[0]]


@pytest.mark.req("URS-INT-01")
def test_a_release_publishes_batch_released_once(session: UnitSession) -> None:
    s = session
    made(s)
    with pytest.raises(WorkflowRefused):  # QC may not release: no event
        release_batch(s, "B-1", "q.clark", PASSWORD, "release")
    assert _events(s) == []
    release_batch(s, "B-1", "q.adams", PASSWORD, "reviewed by exception")
    assert _events(s) == [(T.BATCH_RELEASED, "B-1", "Released")]


@pytest.mark.req("URS-INT-01")
def test_an_approved_change_publishes_change_approved_once(session: UnitSession) -> None:
    s = session
    c = proposed(s)
    with pytest.raises(cc.ChangeControlError):  # approvals missing: refused, no event
        cc.make_effective(s, c.request, "eng.one")
    approved_by_both(s, c)
    assert _events(s) == []  # signatures alone do not approve the change
    cc.make_effective(s, c.request, "eng.one")  # Approved, then Implemented
    assert _events(s) == [(T.CHANGE_APPROVED, "CR-1", "Approved")]
