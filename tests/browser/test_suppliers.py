"""The explorer's supplier quality view (issue 18 item 2) on the demo plant: every supplier with
its qualification and approved supplier list entries as GraphQL ``suppliers`` answers, and the
supplier whose receipt the demo rejects at incoming inspection: its ASL entries (one given here
an approval that ended in the past, shown expired), its scorecard for a period (the numbers the
page shows equal ``supplierScorecard``'s) and a SCAR issued here past its due date, shown
overdue — in English and in Chinese."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, Demo, shot
from tests.browser.test_views import gql, to_zh

pytestmark = pytest.mark.browser
START, END = "2020-01-01", "2031-01-01"
CARD = """query($s: String!, $a: String!, $b: String!) { supplierScorecard(supplier: $s,
  start: $a, end: $b) { lotsReceived lotsRejected rejectionRate deviations scarsOnTime
  scarsLate scarsPending scarOnTimeRate } }"""


def _ok(answer: dict[str, Any]) -> None:
    [result] = answer.values()
    assert result["ok"], result


def test_suppliers_asl_scorecard_and_scars(page: Any, demo: Demo) -> None:
    sups = gql(demo, "{ suppliers { key status approvals { key material } } }")["suppliers"]
    cards = {s["key"]: gql(demo, CARD, {"s": s["key"], "a": START, "b": END}
                           )["supplierScorecard"] for s in sups}
    [key] = [k for k, c in cards.items() if c["lotsRejected"]]  # the demo's rejected receipt
    mine = {a["material"] for s in sups if s["key"] == key for a in s["approvals"]}
    other = next(a["material"] for s in sups for a in s["approvals"] if a["material"] not in mine)
    past = (datetime.now(UTC).date() - timedelta(days=7)).isoformat()
    _ok(gql(demo, """mutation($s: String!, $m: String!, $u: String!, $p: String!) {
      approveSupplierMaterial(supplier: $s, material: $m, status: conditional, password: $p,
        reason: "trial approval for a second source", scope: "trial lots",
        approvedUntil: $u) { ok problems { message } } }""",
        {"s": key, "m": other, "u": past, "p": PASSWORD}))
    _ok(gql(demo, """mutation($s: String!, $d: String!) { issueScar(key: "SCAR-UI-1",
      supplier: $s, title: "rejected receipt", description: "AQL 1.0 failed", dueDate: $d,
      reason: "incoming inspection rejection") { ok problems { message } } }""",
        {"s": key, "d": past}))

    page.evaluate("location.hash = '#/suppliers'")
    page.wait_for_selector("#supplier-list tbody tr")
    sups = gql(demo, "{ suppliers { key status approvals { key } } }")["suppliers"]
    shown = {r[0]: r[1] for r in page.locator("#supplier-list tbody tr").evaluate_all(
        "rs => rs.map(r => [r.dataset.key, r.querySelector('[data-col=materials]').textContent])")}
    assert shown == {s["key"]: str(len(s["approvals"])) for s in sups}
    shot(page, "suppliers-list")

    page.click(f"#supplier-list tr[data-key='{key}'] a")
    page.wait_for_selector("#supplier-asl tbody tr")
    page.fill("#sup-from", START)
    page.fill("#sup-to", END)
    page.click("#sup-form button[type=submit]")
    page.wait_for_selector("#supplier-scars tr[data-key='SCAR-UI-1']")
    page.wait_for_function(f"() => location.hash.endsWith('/{START}/{END}')")
    page.wait_for_selector("#supplier-scorecard")

    asl = gql(demo, "query($s: String!) { approvedSupplierList(supplier: $s) { key status "
              "approvedUntil } }", {"s": key})["approvedSupplierList"]
    rows = page.locator("#supplier-asl tbody tr").evaluate_all(
        "rs => rs.map(r => [r.dataset.key, r.dataset.expired])")
    today = datetime.now(UTC).date().isoformat()
    assert dict(rows) == {e["key"]: str((e["approvedUntil"] or "9") < today).lower()
                          for e in asl}
    assert sorted(v for _, v in rows).count("true") == 1

    want = gql(demo, CARD, {"s": key, "a": START, "b": END})["supplierScorecard"]
    got = dict(page.locator("#supplier-scorecard [data-card]").evaluate_all(
        "cs => cs.map(c => [c.dataset.card, c.dataset.n ?? c.dataset.value])"))
    for name in ("lotsReceived", "lotsRejected", "deviations", "scarsOnTime", "scarsLate",
                 "scarsPending"):
        assert got[name] == str(len(want[name])), name
    assert want["lotsRejected"] and want["scarsLate"] == ["SCAR-UI-1"]
    assert float(got["rejectionRate"]) == pytest.approx(want["rejectionRate"])
    assert float(got["scarOnTimeRate"]) == want["scarOnTimeRate"] == 0.0

    scars = gql(demo, "query($s: String!) { scars(supplier: $s) { key state dueDate } }",
                {"s": key})["scars"]
    shown_scars = page.locator("#supplier-scars tbody tr").evaluate_all(
        "rs => rs.map(r => [r.dataset.key, r.dataset.state, r.dataset.overdue])")
    assert shown_scars == [[s["key"], s["state"], "true"] for s in scars]
    shot(page, "suppliers-one")

    to_zh(page)  # the view is drawn again, in Chinese, once its query has answered
    page.wait_for_function("() => document.querySelector('#supplier-scorecard')?.innerText"
                           ".includes('收货批次')")
    assert page.inner_text("#tabs a[data-view=suppliers]") == "供应商"
    assert "已逾期" in page.inner_text("#supplier-scars")
    assert "已过期" in page.inner_text("#supplier-asl")
    assert "已发出" in page.inner_text("#supplier-scars")  # the SCAR state, the ontology's label
