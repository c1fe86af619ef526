"""The explorer in Chinese and in English: the page's own words from its one translation table,
the ontology's words (classes, properties, codes) from the ontology's labels, read here straight
from the Turtle with rdflib."""

from __future__ import annotations

from typing import Any

import pytest
from rdflib import Graph, Literal, Namespace
from rdflib.namespace import RDFS

from ontology.vocab import ONTOLOGY_PATH
from tests.browser.conftest import shot
from tests.browser.test_explorer import key, plant, wait_count

pytestmark = pytest.mark.browser
TG = Namespace("https://w3id.org/tracegraph#")


def zh(term: str) -> str:
    g = Graph().parse(ONTOLOGY_PATH)
    return next(str(o) for o in g.objects(TG[term], RDFS.label)
                if isinstance(o, Literal) and o.language == "zh")


def test_the_page_switches_between_english_and_chinese(page: Any) -> None:
    p = plant()
    unit = sorted(r for r in p.g if r.startswith("SerializedUnit/"))[0]
    up = p.upstream(unit)
    assert page.inner_text("#tabs a[data-view=trace]") == "Genealogy"
    page.click("#lang")
    page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
    assert page.inner_text("#tabs a[data-view=trace]") == "追溯"
    assert page.get_attribute("#search-text", "placeholder").startswith("批号")
    page.fill("#search-text", key(unit))
    page.click("#search button[type=submit]")
    wait_count(page, len(up))
    # classes in the node list by their Chinese ontology label, e.g. 批次 for every batch
    shown = page.locator("#node-list tbody td[data-class]").evaluate_all(
        "cells => cells.map(c => [c.dataset.class, c.textContent])")
    assert ["Batch", zh("Batch")] in shown and ["SerializedUnit", zh("SerializedUnit")] in shown
    # a record's properties by their Chinese label
    page.click(f"#node-list tbody tr[data-key='{key(unit)}']")
    page.wait_for_selector("#panel tr[data-prop=gtin]")
    assert page.inner_text("#panel tr[data-prop=gtin] td:first-child") == zh("gtin")
    panel = page.inner_text("#panel")
    assert "null" not in panel.split() and ".000000Z" not in panel  # no absent parts, UTC words
    shot(page, "language-zh")
    page.click("#lang")  # and back; the choice is kept for the next visit
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.inner_text("#tabs a[data-view=trace]") == "Genealogy"
    assert page.evaluate("localStorage.getItem('tracegraph.lang')") == "en"
