"""Signed actions in the explorer (issue 15 item 2), in headless Chromium on the demo plant.

A QA lead finds the excursion's deviation on the home worklist, triages it, moves it to
investigation, records the impact assessment and the root cause (6M, 5-why), opens a CAPA with an
action, links it, dispositions the hold — every step in the page's e-signature dialog — and the
release of the held batch is refused with the exception list the API gives (the deviation is
still open: its CAPA's effectiveness is not proven yet). In English and Chinese, on a laptop and
on a phone (390x844). A minor deviation closed without CAPA lets the batch be released, signed.
An operator gets the refusal with its rule and nothing is written.

Each walk runs on its own copy of the demo plant's store (the session's demo stays as loaded),
served by ``tracegraph serve``; what was written is read back from the copy's store itself.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rdflib import Graph, Literal, Namespace
from rdflib.namespace import SKOS

from graph.engines.sqlite import SQLiteStore
from graph.model import Direction, NodeRecord
from ontology.terms import C, R
from ontology.vocab import ONTOLOGY_PATH
from tests.browser.conftest import PASSWORD, Demo, shot, signed_in_page
from tests.serving import answering, free_port

pytestmark = pytest.mark.browser
TG = Namespace("https://w3id.org/tracegraph#")
LEAD = "qa.lead"  # QA who also holds QC: Open → Triaged needs a QC 'reviewed' signature
PHONE = (390, 844)
DESKTOP = (1366, 860)


def zh_code(scheme: str, code: str) -> str:
    g = Graph().parse(ONTOLOGY_PATH)
    return next(str(o) for o in g.objects(TG[f"{scheme}-{code}"], SKOS.prefLabel)
                if isinstance(o, Literal) and o.language == "zh")


def gql(url: str, user: str, query: str, **variables: Any) -> Any:
    token = httpx.post(f"{url}/auth/token", data={"username": user, "password": PASSWORD}
                       ).json()["access_token"]
    r = httpx.post(f"{url}/graphql", headers={"Authorization": f"Bearer {token}"},
                   json={"query": query, "variables": variables}, timeout=120).json()
    assert "errors" not in r, r
    return r["data"]


@pytest.fixture
def plant_copy(demo: Demo, tmp_path: Path) -> Iterator[Demo]:
    """The demo plant as loaded, copied (the store by SQLite's backup) and served on its own
    port, with a QA lead account (roles qa and qc) created by the demo's administrator."""
    src, dst = demo.data_dir / "demo", tmp_path / "plant"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("tracegraph.sqlite*", "*.log"))
    with sqlite3.connect(src / "tracegraph.sqlite") as a, \
            sqlite3.connect(dst / "tracegraph.sqlite") as b:
        a.backup(b)
    port = free_port()
    env = {**os.environ, "TRACEGRAPH_DATA_DIR": str(dst), "TRACEGRAPH_STORE": "embedded",
           "TRACEGRAPH_PORT": str(port)}
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("tracegraph")), "serve"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        answering(proc, url, tmp_path / "serve.log", 120)
        gql(url, "demo.admin", """mutation($u: String!, $p: String!) { createUser(username: $u,
            password: $p, roles: [qa, qc], printedName: "QA Lead", reason: "walk-through")
            { username } }""", u=LEAD, p=PASSWORD)
        yield Demo(url, dst)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def read(d: Demo) -> SQLiteStore:
    return SQLiteStore(d.data_dir / "tracegraph.sqlite")


def excursion_deviation(d: Demo) -> tuple[str, str, str]:
    """(deviation, hold, held batch) of the newest excursion (the cleanroom's particles),
    read from the store: the deviation raised by it, the hold raised by that, what it holds."""
    st = read(d)
    try:
        exc = max(st.nodes_of_class(C.Excursion), key=lambda n: str(n.props.get("detectedAt")))
        def node(iri: str) -> NodeRecord:
            n = st.get(iri)
            assert n is not None, iri
            return n

        def raised(by: str, cls: str) -> str:
            return next(e.src for e in st.links([by], [R.RAISED_BY], Direction.DOWNSTREAM)
                        if node(e.src).label == cls)
        dev = raised(exc.iri, C.Deviation)
        hold = raised(dev, C.Hold)
        batch = st.links([hold], [R.HOLDS])[0].dst
        return node(dev).key, node(hold).key, node(batch).key
    finally:
        st.close()


def sign(page: Any, action: str, reason: str, **fields: str) -> None:
    """Open an action's e-signature dialog, fill its fields, sign; wait for it to close."""
    page.click(f"[data-action='{action}']")
    page.wait_for_selector("#sign-dialog[open]")
    for name, value in fields.items():
        sel = f"#sign-dialog [data-field={name}]"
        if page.eval_on_selector(sel, "e => e.tagName") == "SELECT":
            page.select_option(sel, value)
        else:
            page.fill(sel, value)
    page.fill("#sign-dialog [data-field=reason]", reason)
    page.fill("#sign-dialog [data-field=password]", PASSWORD)
    page.click("#sign-submit")
    page.wait_for_selector("#sign-dialog", state="detached", timeout=60_000)


def state_is(page: Any, state: str) -> None:
    page.wait_for_selector(f"#lifecycle[data-state={state}]", timeout=60_000)


def signed_by(d: Demo, username: str) -> dict[str, set[str]]:
    """Class of each record → meanings ``username`` signed it with, read from the store."""
    st = read(d)
    try:
        users = {n.iri for n in st.nodes_of_class("User") if n.key == username}
        sigs = {n.iri: n for n in st.nodes_of_class("ElectronicSignature")}
        mine = {e.src for e in st.links(list(sigs), [R.SIGNED_BY]) if e.dst in users}
        out: dict[str, set[str]] = {}
        for e in st.links(sorted(mine), [R.SIGNS]):
            rec = st.get(e.dst)
            assert rec is not None
            out.setdefault(rec.label, set()).add(str(sigs[e.src].props["signatureMeaning"]))
        return out
    finally:
        st.close()


@pytest.mark.parametrize(("lang", "viewport"), [("en", DESKTOP), ("zh", DESKTOP),
                                                 ("en", PHONE), ("zh", PHONE)],
                         ids=["en-desktop", "zh-desktop", "en-phone", "zh-phone"])
def test_qa_works_the_excursion_deviation_every_step_signed(browser: Any, plant_copy: Demo,
                                                             lang: str,
                                                             viewport: tuple[int, int]) -> None:
    d = plant_copy
    dev, hold, batch = excursion_deviation(d)
    name = f"walk-{lang}-{'phone' if viewport == PHONE else 'desktop'}"
    st = read(d)
    decisions = len(st.nodes_of_class("ReleaseDecision"))
    st.close()
    with signed_in_page(browser, d.url, LEAD, PASSWORD, view="", viewport=viewport) as page:
        if lang == "zh":
            page.click("#lang")
            page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
        link = f"#my-work [data-section=deviations] li[data-key='{dev}'] a"
        page.wait_for_selector(link)
        shot(page, f"{name}-1-home")
        page.locator(link).click()  # found again if the page re-rendered in the language
        state_is(page, "Open")
        if lang == "zh":  # the lifecycle in the ontology's Chinese labels
            assert page.inner_text("#lifecycle li.current") == zh_code("DeviationState", "Open")
        sign(page, "advance-Triaged", "graded at triage", grade="major")
        state_is(page, "Triaged")
        sign(page, "advance-Investigation", "investigate the particle excursion")
        state_is(page, "Investigation")
        if lang == "zh":
            assert page.inner_text("#lifecycle li.current") == zh_code("DeviationState",
                                                                     "Investigation")
        sign(page, "impact", "impact computed from the graph")
        page.wait_for_selector("#deviation .impact[data-key]")
        sign(page, "root-cause", "fishbone and 5-why", category="environment",
             why1="particles above the action limit in RM-CR7A",
             why2="the HEPA filter's pressure drop rose", why3="the filter change was overdue")
        page.wait_for_selector("#investigation .root-cause ol.whys li >> nth=2")
        sign(page, "open-capa", "CAPA for the cleanroom filters", title="HEPA filter changes",
             description="Change HEPA filters on pressure drop; add it to the PM plan.")
        capa = page.wait_for_selector("#capas .capa[data-capa]")
        assert capa is not None
        capa_key = capa.get_attribute("data-capa")
        sign(page, f"add-action-{capa_key}", "corrective action", actionType="corrective",
             owner=LEAD, description="Change the RM-CR7A HEPA filters")
        page.wait_for_selector(f"#capas .capa[data-capa='{capa_key}'] li[data-action-key]")
        sign(page, "advance-CAPALinked", "CAPA raised and linked")
        state_is(page, "CAPALinked")
        assert page.inner_text("#lifecycle-records").count("✓") == 3
        shot(page, f"{name}-2-investigated")
        sign(page, f"dispose-{hold}", "particles cleared, units tested", kind="release")
        page.wait_for_selector(f"#holds li[data-key='{hold}'][data-active=false]")
        # the held batch's release report, and its release: refused with the exception list
        page.click(f"#held li[data-key='{batch}'] a[data-link=report]")
        page.wait_for_selector("#record-view:not([hidden]) #release-report")
        page.click(f"[data-action='release-{batch}']")
        page.wait_for_selector("#sign-dialog[open]")
        page.fill("#sign-dialog [data-field=reason]", "batch review")
        page.fill("#sign-dialog [data-field=password]", PASSWORD)
        page.click("#sign-submit")
        page.wait_for_selector("#sign-problems li")
        shown = page.locator("#sign-problems li").evaluate_all(
            "els => els.map(e => [e.dataset.rule, e.textContent])")
        shot(page, f"{name}-3-release-refused")
        page.click("#sign-cancel")
    # what the API lists, and what the store says: the deviation still open, on the batch
    report = gql(d.url, LEAD, "query($b: String!) { releaseReport(batch: $b) "
                 "{ exceptions { rule message } } }", b=batch)["releaseReport"]["exceptions"]
    assert [r for r, _ in shown] == [e["rule"] for e in report] == ["open-deviation"]
    assert dev in shown[0][1]
    st = read(d)
    try:
        b = next(n for n in st.nodes_of_class("Batch") if n.key == batch)
        assert b.props["batchStatus"] == "Completed"  # released from hold, not released
        assert len(st.nodes_of_class("ReleaseDecision")) == decisions  # nothing written
        dv = next(n for n in st.nodes_of_class("Deviation") if n.key == dev)
        assert dv.props["deviationState"] == "CAPALinked"
    finally:
        st.close()
    signed = signed_by(d, LEAD)
    assert signed["Approval"] == {"reviewed"}  # triage (QC) and CAPA linked (QA)
    for cls in ("ImpactAssessment", "RootCause", "CAPA", "CAPAAction"):
        assert signed[cls] == {"authored"}, cls
    assert signed["Disposition"] == {"approved"}


def test_a_minor_deviation_closed_without_capa_lets_qa_release_the_batch(
        browser: Any, plant_copy: Demo) -> None:
    d = plant_copy
    dev, hold, batch = excursion_deviation(d)
    with signed_in_page(browser, d.url, LEAD, PASSWORD, view=f"deviation/{dev}") as page:
        state_is(page, "Open")
        sign(page, "advance-Triaged", "particles only, no product contact", grade="minor")
        state_is(page, "Triaged")
        sign(page, "advance-Investigation", "investigate")
        state_is(page, "Investigation")
        sign(page, "impact", "impact computed")
        page.wait_for_selector("#deviation .impact[data-key]")
        sign(page, "root-cause", "5-why", category="environment", why1="door left open")
        page.wait_for_selector("#investigation .root-cause")
        sign(page, "advance-Closed", "minor: closed after investigation")
        state_is(page, "Closed")
        sign(page, f"dispose-{hold}", "use as is: particles cleared", kind="useAsIs")
        page.wait_for_selector(f"#holds li[data-key='{hold}'][data-active=false]")
        page.click(f"#held li[data-key='{batch}'] a[data-link=report]")
        page.wait_for_selector("#release-report[data-releasable=true]")
        sign(page, f"release-{batch}", "review by exception: none")
        page.wait_for_selector("#release-decisions li span[data-meaning=released][data-valid=true]")
        shot(page, "walk-release-signed")
        # the record's audit history names the release; its eDHR opens as a document
        audit = page.inner_text("#record-audit")
        assert LEAD in audit and "Released" in audit
        with page.expect_popup() as popup:
            page.click("#record [data-link=edhr]")
        doc = popup.value
        doc.wait_for_url(lambda u: u.startswith("blob:"), wait_until="commit")
        doc.wait_for_function("b => document.body && document.body.innerText.includes(b)",
                              arg=batch)
        doc.close()
    st = read(d)
    try:
        assert next(n for n in st.nodes_of_class("Batch")
                    if n.key == batch).props["batchStatus"] == "Released"
    finally:
        st.close()
    assert signed_by(d, LEAD)["ReleaseDecision"] == {"released"}


def test_an_operator_is_refused_with_the_rule_and_nothing_is_written(browser: Any,
                                                                     plant_copy: Demo) -> None:
    d = plant_copy
    dev, hold, batch = excursion_deviation(d)

    def counts() -> dict[str, int]:
        st = read(d)
        try:
            return {c: len(st.nodes_of_class(c)) for c in
                    ("Approval", "ElectronicSignature", "ImpactAssessment", "Disposition",
                     "ReleaseDecision")} | {"audit": st.watermark()}
        finally:
            st.close()

    before = counts()
    with signed_in_page(browser, d.url, "demo.operator", PASSWORD,
                        view=f"deviation/{dev}") as page:
        state_is(page, "Open")
        for action, field in (("advance-Triaged", {"grade": "minor"}), ("impact", {}),
                              (f"dispose-{hold}", {"kind": "release"})):
            page.click(f"[data-action='{action}']")
            page.wait_for_selector("#sign-dialog[open]")
            for k, v in field.items():
                page.select_option(f"#sign-dialog [data-field={k}]", v)
            page.fill("#sign-dialog [data-field=reason]", "trying")
            page.fill("#sign-dialog [data-field=password]", PASSWORD)
            page.click("#sign-submit")
            rule = page.wait_for_selector("#sign-problems li")
            assert rule is not None and rule.get_attribute("data-rule") == "FORBIDDEN"
            assert "qa" in rule.inner_text()  # the roles the rule names
            shot(page, f"operator-refused-{action}")
            page.click("#sign-cancel")
        page.goto(f"{d.url}/explorer#/record/{batch}")
        page.click(f"[data-action='release-{batch}']")
        page.fill("#sign-dialog [data-field=reason]", "trying")
        page.fill("#sign-dialog [data-field=password]", PASSWORD)
        page.click("#sign-submit")
        assert page.wait_for_selector("#sign-problems li[data-rule=FORBIDDEN]") is not None
        assert "Mutation.releaseBatch" in page.inner_text("#sign-problems")
        page.click("#sign-cancel")
    assert counts() == before
