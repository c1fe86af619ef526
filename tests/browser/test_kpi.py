"""The KPI dashboard (issue 15 item 3) on the demo plant in headless Chromium: every KPI card
shows the value and population GraphQL ``kpis`` answers for the period (the values themselves
are checked against an independent computation over the capture documents in
tests/integration/test_kpi.py), a trend chart, its definition; one click on a card lists the
records behind it (as many as its population), a click on a bar lists that part of the period;
in Chinese the names and definitions are the Chinese ones; a phone shows it without scrolling
sideways. Screenshots in test-output/explorer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, Demo, shot, signed_in_page
from tests.browser.test_views import PHONE, gql, to_zh

pytestmark = pytest.mark.browser
FROM, TO = "2026-01-01", "2026-02-01"
QUERY = """query($from: String!, $to: String!, $lang: String) {
  kpis(from: $from, to: $to, lang: $lang) { id name definition unit value n } }"""


def _shown(k: dict[str, Any]) -> str:
    v = k["value"]
    if v is None:
        return "n/a"
    return f"{100 * v:.1f} %" if k["unit"] == "ratio" else f"{v:.1f} {k['unit']}"


def test_kpi_cards_show_the_api_values_and_list_their_records(browser: Any, demo: Demo) -> None:
    want = gql(demo, QUERY, {"from": FROM, "to": TO, "lang": "en"})["kpis"]
    assert any(k["n"] for k in want)
    with signed_in_page(browser, demo.url, "demo.qa", PASSWORD, view=f"kpi/{FROM}/{TO}") as page:
        page.wait_for_selector("#kpi-cards .kpi")
        assert page.locator("#kpi-cards .kpi").count() == len(want)
        for k in want:
            card = page.locator(f"#kpi-{k['id']}")
            assert card.get_attribute("data-n") == str(k["n"])
            assert card.locator(".kpi-name").inner_text() == k["name"]
            assert card.locator(".kpi-value b").inner_text() == _shown(k)
            assert card.locator(".kpi-definition").inner_text() == k["definition"]
            assert card.locator("svg.kpi-trend").count() == 1
        shot(page, "kpi-dashboard")
        busy = max(want, key=lambda k: k["n"])
        page.click(f"#kpi-{busy['id']} .kpi-name")  # (its centre is the chart)
        page.wait_for_selector(f"#kpi-records[data-kpi={busy['id']}]")
        assert page.locator("#kpi-records tbody tr").count() == busy["n"]
        shot(page, "kpi-records")
        bar = page.locator(f"#kpi-{busy['id']} svg.kpi-trend rect.bar").first
        n_bar, start = int(bar.get_attribute("data-n") or 0), bar.get_attribute("data-from")
        bar.click()
        page.wait_for_function(
            f"() => document.querySelector('#kpi-records')?.dataset.rows === '{n_bar}'"
            f" && document.querySelector('#kpi-records h3').textContent.includes('{start[:10]}')")
        to_zh(page)
        zh = {k["id"]: k for k in gql(demo, QUERY, {"from": FROM, "to": TO, "lang": "zh"})["kpis"]}
        page.wait_for_function("() => document.querySelector('#kpi-firstPassReleaseRate "
                               ".kpi-name')?.textContent === '一次放行率'")
        assert page.locator("#kpi-releaseLeadTime .kpi-definition").inner_text() == \
            zh["releaseLeadTime"]["definition"]
        shot(page, "kpi-dashboard-zh")


def test_kpi_dashboard_on_a_phone(browser: Any, demo: Demo) -> None:
    with signed_in_page(browser, demo.url, "demo.qc", PASSWORD, view=f"kpi/{FROM}/{TO}",
                        viewport=PHONE) as page:
        page.wait_for_selector("#kpi-cards .kpi")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0] + 1
        shot(page, "kpi-phone")
