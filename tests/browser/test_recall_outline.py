"""The explorer's "recalled" outline (issue 18 item 5): once QA initiates a recall record, every
item of its frozen scope shows recalled in the trace (ring and badge), and nothing else does —
checked against networkx over the demo's capture documents."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, Demo, shot
from tests.browser.test_explorer import key, plant, wait_count
from tests.browser.test_views import gql

pytestmark = pytest.mark.browser

INITIATE = """mutation($seed: String!, $p: String!) { initiateRecall(key: "RCL-BROWSER-1",
  seeds: [$seed], recallClass: "II", healthHazard: "temporary", depth: "consumer",
  action: "removal", hypothesis: "resin lot cracks", title: "Hub cracks", password: $p,
  reason: "health hazard evaluation") { ok problems { rule message } } }"""


@pytest.mark.req("URS-TRC-04")
def test_a_recall_record_outlines_its_scope_in_the_trace(page: Any, demo: Demo) -> None:
    p = plant()
    lots = sorted(r for r in p.g if r.startswith("MaterialLot/")
                  and any(x.startswith("Shipment/") for x in p.downstream(r)))
    seed = min(lots, key=lambda r: (len(p.downstream(r)), r))
    scope = p.downstream(seed)
    done = gql(demo, INITIATE, {"seed": key(seed), "p": PASSWORD})["initiateRecall"]
    assert done == {"ok": True, "problems": []}

    unit = sorted(r for r in scope if r.startswith("SerializedUnit/"))[0]
    up = p.upstream(unit)
    page.fill("#search-text", key(unit))
    page.click("#search button[type=submit]")
    wait_count(page, len(up))
    want = {key(r) for r in up & scope}
    assert len(want) < len(up)  # the outline tells the recalled part from the rest
    page.wait_for_function("n => document.getElementById('graph').dataset.recalledCount "
                           "=== String(n)", arg=len(want))
    badged = page.locator("#node-list tbody tr:has(.badge.rec)").evaluate_all(
        "rows => rows.map(r => r.dataset.key)")
    assert set(badged) == want
    title = page.get_attribute(f"#node-list tbody tr[data-key='{key(unit)}'] .badge.rec",
                               "title")
    assert title == "RCL-BROWSER-1"
    shot(page, "recall-outline")
