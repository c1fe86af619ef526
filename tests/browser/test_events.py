"""The integration events page (issue 18 item 6, #/events) on the demo plant in headless
Chromium: it lists exactly the events GraphQL ``integrationEvents`` answers (equal to
``events_since``: tests/integration/test_integration_graphql.py), a page at a time by cursor,
filtered by type, each type named by the ontology's label (Chinese in Chinese). Screenshots in
test-output/explorer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, Demo, shot, signed_in_page
from tests.browser.test_views import gql, to_zh

pytestmark = pytest.mark.browser
PAGE = 25  # the page's page size (api/explorer/js/events.js)
QUERY = """query($after: Int!, $first: Int!, $types: [String!]) {
  integrationEvents(after: $after, first: $first, types: $types) {
    next events { cursor type key } } }"""
LABELS = {"holdOpened": ("hold opened", "隔离已开启"), "batchReleased": ("batch released",
                                                                         "批次已放行")}


def _api(demo: Demo, after: int, types: list[str] | None = None) -> dict[str, Any]:
    page: dict[str, Any] = gql(demo, QUERY, {"after": after, "first": PAGE, "types": types},
                               user="demo.qa")["integrationEvents"]
    return page


def _rows(page: Any) -> list[tuple[int, str, str]]:
    rows = page.locator("#ev-table tbody tr")
    return [(int(r.get_attribute("data-cursor")), r.get_attribute("data-type"),
             r.get_attribute("data-key")) for r in rows.all()]


def _want(api: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(e["cursor"], e["type"], e["key"] or "") for e in api["events"]]


def test_the_events_page_lists_the_api_events_by_cursor_and_type(browser: Any,
                                                                  demo: Demo) -> None:
    first = _api(demo, 0)
    assert len(first["events"]) == PAGE  # the demo's workflow has more than a page
    second = _api(demo, first["next"])
    holds = _api(demo, 0, ["holdOpened"])
    assert holds["events"]
    with signed_in_page(browser, demo.url, "demo.qa", PASSWORD, view="events") as page:
        page.wait_for_selector("#ev-table tbody tr")
        assert _rows(page) == _want(first)
        types = {e["type"] for e in first["events"]}
        for code, (en, _zh) in LABELS.items():
            if code in types:
                row = page.locator(f"#ev-table tr[data-type={code}]").first
                assert row.locator("td[data-col=type]").inner_text() == en
        shot(page, "events")
        page.click("#ev-next")
        page.wait_for_function(f"() => document.querySelector('#ev-range')?.dataset.after"
                               f" === '{first['next']}'")
        assert _rows(page) == _want(second)
        page.click("#ev-prev")
        page.wait_for_function("() => document.querySelector('#ev-range')?.dataset.after "
                               "=== '0'")
        assert _rows(page) == _want(first)
        page.select_option("#ev-type", "holdOpened")
        page.wait_for_function("() => location.hash === '#/events/0/holdOpened' && "
                               "document.querySelector('#ev-table')")
        page.wait_for_function("() => [...document.querySelectorAll('#ev-table tbody tr')]"
                               ".every((r) => r.dataset.type === 'holdOpened')")
        assert _rows(page) == _want(holds)
        to_zh(page)
        page.wait_for_function("() => document.querySelector('#ev-table td[data-col=type]')"
                               "?.textContent === '隔离已开启'")
        shot(page, "events-zh")


def test_an_operator_gets_no_events(browser: Any, demo: Demo) -> None:
    with signed_in_page(browser, demo.url, "demo.operator", PASSWORD, view="events") as page:
        page.wait_for_selector("#events-view .error")
        assert page.locator("#ev-table").count() == 0
