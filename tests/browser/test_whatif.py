"""The explorer's what-if page (issue 18 item 3) in headless Chromium on the demo plant: two
hypotheses — a supplier lot, and an equipment window — compared side by side; every count the
page shows equals the API's (whatIf) and a computation here with networkx over the demo plant's
own capture documents; QA proves a unit outside the window's scope (the signed proof is shown)
and is refused for a unit inside, with the witness path and the exposure fraction; the page in
Chinese."""

from __future__ import annotations

from itertools import pairwise
from types import SimpleNamespace
from typing import Any, cast

import pytest

from bench.plant import generate_plant
from ontology.vocab import vocabulary
from tests.browser.conftest import PASSWORD, Demo, shot, signed_in_page
from tests.integration.test_whatif import Plant
from tracegraph.runtime import Runtime

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def plant() -> Plant:
    """The demo plant's documents (tracegraph demo loads size demo, seed 7)."""
    return Plant(cast(Runtime, SimpleNamespace(vocab=vocabulary())),
                 list(generate_plant(size="demo", seed=7)))


def cells(pg: Any) -> dict[str, dict[str, str]]:
    """The comparison table as {class: {column: text}} (columns: A, B, shared, only A …)."""
    return cast(dict[str, dict[str, str]], pg.eval_on_selector_all(
        "#whatif-table tbody tr", """rows => Object.fromEntries(rows.map(r => [r.dataset.class,
          Object.fromEntries([...r.querySelectorAll('td[data-col]')].map(td =>
            [td.dataset.col === 'shared' ? 'shared' : td.dataset.col + ':' + td.dataset.name,
             td.textContent]))]))"""))


def test_whatif_comparison_and_proof_in_the_page(browser: Any, demo: Demo,
                                                  plant: Plant) -> None:
    adhesive, uv, _both = (x.split("=", 1) for x in plant.texts())
    want_a = plant.scope({plant.lot})
    want_b = plant.scope(plant.window_seeds())
    with signed_in_page(browser, demo.url, "demo.qa", PASSWORD, view="whatif") as pg:
        rows = pg.locator("#whatif-view .hypothesis")
        for i, (name, spec) in enumerate((adhesive, uv)):
            rows.nth(i).locator(".h-name").fill(name)
            rows.nth(i).locator(".h-spec").fill(spec)
        pg.click("#run-whatif")
        pg.wait_for_selector("#whatif-table tbody tr")
        got = cells(pg)
        for c in sorted(set(want_a) | set(want_b)):
            a, b = want_a.get(c, set()), want_b.get(c, set())
            assert got[c] == {"scope:adhesive": str(len(a)), "scope:uv": str(len(b)),
                              "shared": str(len(a & b)), "adds:adhesive": str(len(a - b)),
                              "adds:uv": str(len(b - a))}, c
        assert set(got) == set(want_a) | set(want_b)
        shot(pg, "whatif-compare")

        units = sorted(n for n, k in plant.d.cls.items() if k == "SerializedUnit")
        outside = next(u for u in units if u not in want_b["SerializedUnit"])
        inside = sorted(want_b["SerializedUnit"])[0]
        pg.select_option("#proof-hypothesis", "uv")
        pg.fill("#proof-target", outside.rsplit("/", 1)[1])
        pg.fill("#proof-reason", "UV window recall scoping")
        pg.fill("#proof-password", PASSWORD)
        pg.click("#prove")
        proof = pg.wait_for_selector("#proof")
        assert proof.get_attribute("data-intact") == "true"
        assert "No derivation path leads" in proof.inner_text()
        assert "demo.qa" in proof.inner_text() and "verified" in proof.inner_text()

        pg.fill("#proof-target", inside.rsplit("/", 1)[1])
        pg.fill("#proof-password", PASSWORD)
        pg.click("#prove")
        pg.wait_for_selector("#exposure[data-exposed=true]")
        path = pg.eval_on_selector_all("#exposure-witness li", "ls => ls.map(l => l.dataset.iri)")
        assert path[0] in plant.window_seeds() and path[-1] == inside
        assert all(plant.d.derived.has_edge(x, y) for x, y in pairwise(path))
        fractions = pg.eval_on_selector_all("#exposure-shares td[data-col=fraction]",
                                            "ts => ts.map(t => t.dataset.value)")
        assert fractions and all(0 < float(f) <= 1 for f in fractions)
        assert "exposed" in pg.inner_text("#proof-error")
        shot(pg, "whatif-refused")

        pg.click("#lang")  # the page in Chinese, the comparison kept
        pg.wait_for_selector("#whatif-view h2:has-text('并列比较各假设')")
        assert cells(pg) == got
        pg.click("#lang")
