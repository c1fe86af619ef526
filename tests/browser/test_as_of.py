"""The explorer's "as known at" control (issue 18 item 4): on the demo plant a batch released
later reads with its earlier status as of a record time before its release (with the watermark
of then, and the time kept in the URL to share), and released without a time.

The reference is the batch's own audit entries read from the demo's store file (its create and
status updates folded by hand), not the API's replay."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

import pytest

from graph.engines.sqlite import SQLiteStore
from tests.browser.conftest import Demo, shot

pytestmark = pytest.mark.browser

STATUS = """() => {
  const c = document.querySelector("#panel tr[data-prop=batchStatus] td:nth-child(2)");
  return c ? (c.title || c.textContent) : null; }"""


def released_later(demo: Demo) -> tuple[str, str, str, int]:
    """A released batch recorded before its release: its key, the record time of its last
    entry before the release, its status then and the last transaction recorded by then."""
    store = SQLiteStore(demo.data_dir / "demo" / "tracegraph.sqlite")
    try:
        for b in sorted(store.nodes_of_class("Batch"), key=lambda n: n.key):
            if b.props.get("batchStatus") != "Released":
                continue
            entries = store.audit_entries(record=b.iri)
            rel = next((e for e in entries if e.field == "batchStatus"
                        and e.new == "Released"), None)
            before = [] if rel is None else [e for e in entries if e.at < rel.at]
            if not before:
                continue
            status = None
            for e in before:
                if e.action == "create":
                    status = (e.new.get("props") or {}).get("batchStatus")
                elif e.field == "batchStatus":
                    status = e.new
            at = before[-1].at
            return b.key, at, str(status), max(e.tx for e in store.audit_entries(until=at))
    finally:
        store.close()
    raise AssertionError("no batch of the demo was released after it was recorded")


@pytest.mark.req("URS-AUD-03")
def test_a_batch_reads_as_known_before_its_release_and_released_now(page: Any,
                                                                     demo: Demo) -> None:
    batch, at, then, watermark = released_later(demo)
    assert then != "Released"  # the test can fail: the status then differs from now
    page.evaluate("h => { location.hash = h; }",
                  f"#/trace/{quote(batch, safe='')}/UPSTREAM/{quote(at, safe='')}")
    page.wait_for_selector("#as-of-note:not([hidden])")
    note = page.locator("#as-of-note")
    assert (note.get_attribute("data-as-of"), note.get_attribute("data-watermark")) == (
        at, str(watermark))
    assert note.inner_text() == f"as known at {at} (watermark {watermark})"
    page.wait_for_function(f"s => ({STATUS})() === s", arg=then)
    assert page.inner_text("#panel-as-of") == f"Properties as recorded at {at}"
    row = f"#node-list tbody tr[data-key='{batch}']"
    assert page.locator(f"{row} .badge.rel").count() == 0
    assert page.input_value("#as-of") == at[:23]  # the control shows it, to the millisecond
    shot(page, "as-of")

    page.click("#as-of-clear")  # now: the current status, no record time in the URL
    page.wait_for_function("() => document.getElementById('as-of-note').hidden")
    page.wait_for_function(f"s => ({STATUS})() === s", arg="Released")
    assert unquote(page.evaluate("location.hash")) == f"#/trace/{batch}/UPSTREAM"
    assert page.locator(f"{row} .badge.rel").count() == 1
    assert page.input_value("#as-of") == ""

    page.fill("#as-of", at[:23])  # the control puts the time in the URL, to share
    page.wait_for_function("() => location.hash.split('/').length === 5")
    assert unquote(page.evaluate("location.hash")) == f"#/trace/{batch}/UPSTREAM/{at[:23]}Z"
    page.wait_for_selector("#as-of-note:not([hidden])")
    assert note.get_attribute("data-as-of") == f"{at[:23]}000Z"

    page.click("#lang")  # the note in Chinese
    page.wait_for_function("() => document.getElementById('as-of-note').textContent"
                           ".startsWith('截至')")
    page.click("#lang")
