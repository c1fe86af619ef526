"""The explorer in the plant's time zone and the reader's language (issue 15 item 4), on the demo
plant served a second time by ``tracegraph serve`` with TRACEGRAPH_PLANT_TIMEZONE=Asia/Shanghai:
the shared formatter (format.js) writes times on the plant's clock in the reader's locale and
units as people write them; the worklists show code values by the ontology's Chinese labels
(read here from the Turtle with rdflib) and their times on the plant's clock (zoneinfo)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rdflib import Graph, Literal, Namespace
from rdflib.namespace import SKOS

from ontology.vocab import ONTOLOGY_PATH
from tests.browser.clock import shown_time
from tests.browser.conftest import PASSWORD, Demo, shot, signed_in_page
from tests.serving import answering, free_port

pytestmark = pytest.mark.browser
TG = Namespace("https://w3id.org/tracegraph#")
ZONE = "Asia/Shanghai"


@pytest.fixture(scope="module")
def shanghai(demo: Demo) -> Iterator[str]:
    """The demo's store served by a second process whose plant is in Shanghai."""
    port = free_port()
    env = {**os.environ, "TRACEGRAPH_DATA_DIR": str(demo.data_dir / "demo"),
           "TRACEGRAPH_STORE": "embedded", "TRACEGRAPH_PLANT_TIMEZONE": ZONE}
    log_path = demo.data_dir / "shanghai.log"
    exe = Path(sys.executable).with_name("tracegraph")
    with log_path.open("w") as log:
        proc = subprocess.Popen([str(exe), "serve", "--port", str(port)], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            answering(proc, url, log_path, 120)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


FORMAT = """async (cases) => {
  const f = await import('/explorer/js/format.js');
  return {
    zone: f.plantTimeZone,
    times: cases.map((c) => f.fmtTime(c)),
    date: f.fmtDate(cases[1]), plainDate: f.fmtDate('2026-01-05'),
    units: ['Cel', '{pc}', 'um', 'KGM', '%', 'mJ/cm2'].map((u) => f.fmtUnit(u)),
    qty: [f.fmtQty(21.5, 'Cel'), f.fmtQty(1234.5, 'kg'), f.fmtQty(144, '{pc}'), f.fmtQty(3, null)],
    notATime: f.fmtTime('lot PA-778'),
  };
}"""
TIMES = ["2026-01-05T15:07:31.000000Z", "2026-01-05T20:30:00Z", "2026-07-01T00:00:00.5Z"]


def test_the_formatter_writes_the_plants_clock_and_units(browser: Any, shanghai: str) -> None:
    with signed_in_page(browser, shanghai, "demo.qa", PASSWORD, view="") as page:
        served = httpx.get(f"{shanghai}/api/formatting").json()["units"]
        en = page.evaluate(FORMAT, TIMES)
        assert en["zone"] == ZONE
        assert en["times"] == [shown_time(t, ZONE, "en") for t in TIMES]
        assert en["date"] == shown_time(TIMES[1], ZONE, "en").split(" ")[0] == "01/06/2026"
        assert en["plainDate"] == "01/05/2026"  # a calendar date stays that date
        assert en["units"] == ["°C", "pcs", "µm", "kg", "%", served.get("mJ/cm2", "mJ/cm2")]
        assert en["qty"] == ["21.5 °C", "1,234.5 kg", "144 pcs", "3"]
        assert en["notATime"] == "lot PA-778"
        page.click("#lang")
        page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
        zh = page.evaluate(FORMAT, TIMES)
        assert zh["times"] == [shown_time(t, ZONE, "zh") for t in TIMES]
        assert zh["date"] == "2026/01/06" and zh["plainDate"] == "2026/01/05"
        page.click("#lang")  # the choice is kept per browser: leave it English


def zh_label(scheme: str, notation: str) -> str:
    g = Graph().parse(ONTOLOGY_PATH)
    for c in g.subjects(SKOS.inScheme, TG[scheme]):
        if str(g.value(c, SKOS.notation)) == notation:
            return next(str(o) for o in g.objects(c, SKOS.prefLabel)
                        if isinstance(o, Literal) and o.language == "zh")
    raise KeyError((scheme, notation))


def test_worklists_in_chinese_on_the_plants_clock(browser: Any, shanghai: str) -> None:
    with signed_in_page(browser, shanghai, "demo.qa", PASSWORD, view="work/holds") as page:
        page.click("#lang")
        page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
        page.goto(f"{shanghai}/explorer#/work/holds")
        page.wait_for_selector("#worklist-holds tbody tr td[data-col=state] span")
        rows = page.locator("#worklist-holds tbody tr").evaluate_all("""trs => trs.map(tr => {
            const s = tr.querySelector('td[data-col=state] span');
            const t = tr.querySelector('td[data-col=openedAt] span');
            return [s.dataset.code, s.textContent, t ? t.title : null, t ? t.textContent : null];
        })""")
        assert rows
        for code, text, stored, written in rows:
            assert text == zh_label("HoldStateScheme", code), (code, text)
            if stored:
                assert written == shown_time(stored, ZONE, "zh"), (stored, written)
        assert any(stored for _, _, stored, _ in rows)
        shot(page, "worklist-holds-zh-shanghai")
        page.click("#lang")
        page.wait_for_function("() => document.documentElement.lang === 'en'")
