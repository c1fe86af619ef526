"""The "My work" home page in headless Chromium on the demo plant: QA signs in and lands on it,
sees the demo plant's open deviations (read by class from the demo's store) waiting and in the
deviation worklist, opens one in the deviation view, and pages the batches awaiting release
with their exception counts filled in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from graph.engines.sqlite import SQLiteStore
from graph.model import NodeRecord
from tests.browser.conftest import PASSWORD, Demo, shot, signed_in_page

pytestmark = pytest.mark.browser

OPEN = {"Open", "Triaged", "Investigation", "CAPALinked", "EffectivenessVerified"}
PAGE = 10  # rows per worklist page (api/explorer/js/work.js)


def records(demo: Demo, cls: str) -> list[NodeRecord]:
    """The demo store's records of a class, read by class from the store itself (the demo's
    data are its capture documents plus the live signal stories: the environment excursion,
    the drifting extruder), not through the worklists' queries."""
    store = SQLiteStore(demo.data_dir / "demo" / "tracegraph.sqlite")
    try:
        return store.nodes_of_class(cls)
    finally:
        store.close()


def open_deviations(demo: Demo) -> list[str]:
    """The demo plant's open deviations, newest first."""
    devs = {n.key: n.props for n in records(demo, "Deviation")
            if n.props.get("deviationState") in OPEN}
    return sorted(devs, key=lambda k: str(devs[k]["openedAt"]), reverse=True)


def awaiting_release(demo: Demo) -> set[str]:
    return {n.key for n in records(demo, "Batch")
            if n.props.get("batchStatus") in ("Completed", "OnHold")}


def test_qa_lands_on_my_work_sees_the_open_deviations_and_opens_one(browser: Any,
                                                                     demo: Demo) -> None:
    want = open_deviations(demo)
    assert want, "the demo plant has an open deviation"
    with signed_in_page(browser, demo.url, "demo.qa", PASSWORD, view="") as page:
        assert page.get_attribute("#tabs a.active", "data-view") == "work"
        section = page.wait_for_selector("#my-work [data-section=deviations]")
        assert section is not None
        assert int(section.get_attribute("data-total") or -1) == len(want)
        shown = page.locator("#my-work [data-section=deviations] li").evaluate_all(
            "els => els.map(e => e.dataset.key)")
        assert set(shown) == set(want[-5:])  # waiting: the oldest first
        page.wait_for_selector("#worklist-deviations tbody tr")
        rows = page.locator("#worklist-deviations tbody tr").evaluate_all(
            "els => els.map(e => e.dataset.key)")
        assert rows == want[:PAGE]
        assert page.get_attribute("#worklist-deviations table", "data-total") == str(len(want))
        counts = page.inner_text("#plant-counts [data-count=openDeviations] b")
        assert int(counts) == len(want)
        shot(page, "my-work-qa")
        page.click(f"#worklist-deviations tbody tr[data-key='{want[0]}'] a")
        page.wait_for_selector("#deviation-view:not([hidden]) #deviation-state")
        assert page.inner_text("#deviation h2").startswith(want[0])
        assert page.get_attribute("#deviation-state", "data-open") == "true"
        shot(page, "my-work-opened-deviation")


def test_batches_awaiting_release_page_with_their_exception_counts(browser: Any,
                                                                  demo: Demo) -> None:
    want = awaiting_release(demo)
    with signed_in_page(browser, demo.url, "demo.qa", PASSWORD, view="work/batches") as page:
        page.wait_for_selector("#worklist-batches tbody tr")
        assert page.get_attribute("#worklist-batches table", "data-total") == str(len(want))
        seen: list[str] = []
        counts: dict[str, int] = {}
        while True:
            # the exception counts come in after the page shows: rows and counts read at once,
            # when every count of the table on the page is in
            rows = page.wait_for_function("""() => {
                const trs = [...document.querySelectorAll('#worklist-batches tbody tr')];
                const tds = trs.map(tr => tr.querySelector('td[data-col=exceptionCount]'));
                return trs.length && tds.every(td => td && td.dataset.loaded === 'true')
                  ? trs.map((tr, i) => [tr.dataset.key, tds[i].textContent]) : null; }""",
                                             ).json_value()
            keys = [k for k, _ in rows]
            counts.update((k, int(c)) for k, c in rows)
            seen += keys
            nxt = page.locator("#worklist-batches button.next")
            if nxt.is_disabled():
                break
            before = keys[0]  # the page changed when its first row did
            nxt.click()
            page.wait_for_function(
                "k => document.querySelector('#worklist-batches tbody tr')?.dataset.key !== k",
                arg=before)
        assert sorted(seen) == sorted(want) and len(seen) == len(want)
        shot(page, "my-work-batches")
    # each count is the number of exceptions the batch's release report lists
    token = httpx.post(f"{demo.url}/auth/token",
                       data={"username": "demo.qa", "password": PASSWORD}).json()["access_token"]
    for key, n in counts.items():
        r = httpx.post(f"{demo.url}/graphql", headers={"Authorization": f"Bearer {token}"},
                       json={"query": "query($b: String!) { releaseReport(batch: $b) "
                                      "{ exceptions { rule } } }", "variables": {"b": key}},
                       timeout=60).json()
        assert len(r["data"]["releaseReport"]["exceptions"]) == n, key
