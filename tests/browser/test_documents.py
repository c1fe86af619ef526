"""The explorer's documents view (issue 18 item 1) on the demo plant: every controlled document
with its revisions as GraphQL ``documents`` answers, and SOP-STE-070's revision in force (D,
made Effective by QA after the production days) with who must train on it — the state of each
person as the API says, in English and in Chinese."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Demo, shot
from tests.browser.test_views import gql, to_zh

pytestmark = pytest.mark.browser


def test_documents_list_and_the_training_on_the_revision_in_force(page: Any, demo: Demo) -> None:
    listed = gql(demo, "{ documents { code inForce { key } } }")["documents"]
    page.evaluate("location.hash = '#/documents'")
    page.wait_for_selector("#document-list tbody tr")
    shown = dict(page.locator("#document-list tbody tr").evaluate_all(
        "rs => rs.map(r => [r.dataset.key, r.querySelector('[data-col=inForce]').textContent])"))
    assert shown == {d["code"]: (d["inForce"] or {}).get("key", "—") for d in listed}
    assert shown["SOP-STE-070"] == "SOP-STE-070/D"
    shot(page, "documents-list")
    page.click("#document-list tr[data-key='SOP-STE-070'] a")
    page.wait_for_selector("#document-training tbody tr")
    want = gql(demo, '{ document(key: "SOP-STE-070") { inForce { training { person state } } } }'
               )["document"]["inForce"]["training"]
    got = dict(page.locator("#document-training tbody tr").evaluate_all(
        "rs => rs.map(r => [r.dataset.key, r.dataset.state])"))
    assert got == {r["person"]: r["state"] for r in want}
    assert sorted(got.values()).count("trained") == 1
    shot(page, "documents-training")
    to_zh(page)
    page.wait_for_selector("#document-training tbody tr")
    assert page.inner_text("#tabs a[data-view=documents]") == "文件"
    assert "已培训" in page.inner_text("#document-training")
