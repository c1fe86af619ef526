"""The quality loop over HTTP (GraphQL and the eDHR route), on both engines: a deviation raised
and triaged with QC's signature, release refused with its exception list, the eDHR as JSON,
HTML and PDF."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests import plantlet
from tests.conftest import PASSWORD, bearer, make_user
from tracegraph.runtime import Runtime

Client = tuple[TestClient, dict[str, dict[str, str]]]


@pytest.fixture
def client(runtime: Runtime) -> Iterator[Client]:
    plantlet.load(runtime)
    users = {"qc": make_user(runtime, "q.clark", ["qc"]),
             "qa": make_user(runtime, "q.adams", ["qa"])}
    with TestClient(create_app(runtime.settings, runtime)) as c:
        yield c, {r: bearer(c, u) for r, u in users.items()}


def gql(c: TestClient, headers: dict[str, str], query: str, **variables: Any) -> Any:
    body = c.post("/graphql", json={"query": query, "variables": variables},
                  headers=headers).json()
    assert not body.get("errors"), body
    return body["data"]


@pytest.mark.req("URS-REC-02", "URS-DHR-01")
def test_deviation_release_and_edhr_over_http(client: Client) -> None:
    c, h = client
    opened = gql(c, h["qc"], """mutation { openDeviation(key: "DEV-API-1", title: "Kinked tubing",
        description: "kinks found at final inspection", grade: major,
        reason: "final inspection", concerns: ["B-ASSY"]) { ok state record { key } } }""")
    assert opened["openDeviation"] == {"ok": True, "state": "Open",
                                       "record": {"key": "DEV-API-1"}}
    moved = gql(c, h["qc"], """mutation($p: String!) { advanceDeviation(deviation: "DEV-API-1",
        target: Triaged, grade: minor, password: $p, reason: "cosmetic only")
        { ok state problems { rule } } }""", p=PASSWORD)["advanceDeviation"]
    assert moved == {"ok": True, "state": "Triaged", "problems": []}
    wrong = gql(c, h["qc"], """mutation($p: String!) { advanceDeviation(deviation: "DEV-API-1",
        target: Closed, password: $p, reason: "close") { ok problems { rule field value } }
        }""", p=PASSWORD)["advanceDeviation"]
    assert wrong == {"ok": False, "problems": [{"rule": "deviation-transition",
                                                "field": "deviationState", "value": "Closed"}]}
    dev = gql(c, h["qa"], """{ deviation(id: "DEV-API-1") { state grade nextSteps { target }
        approvals(first: 5) { key signatures { username meaning valid manifestation } } } }""")
    d = dev["deviation"]
    assert (d["state"], d["grade"]) == ("Triaged", "minor")
    assert [s["target"] for s in d["nextSteps"]] == ["Investigation"]
    (approval,) = d["approvals"]
    assert approval["key"] == "APR-DEV-API-1-TRI-qc"
    (sig,) = approval["signatures"]
    assert (sig["username"], sig["meaning"], sig["valid"]) == ("q.clark", "reviewed", True)
    assert "Q.Clark" in sig["manifestation"]

    report = gql(c, h["qa"], '{ releaseReport(batch: "B-ASSY") { releasable exceptions '
                             '{ rule value } } }')["releaseReport"]
    assert report == {"releasable": False,
                      "exceptions": [{"rule": "open-deviation", "value": "Triaged"}]}
    refused = gql(c, h["qa"], """mutation($p: String!) { releaseBatch(batch: "B-ASSY",
        password: $p, reason: "review") { ok problems { rule } } }""", p=PASSWORD)
    assert refused["releaseBatch"] == {"ok": False, "problems": [{"rule": "open-deviation"}]}

    doc = gql(c, h["qa"], '{ edhr(batch: "B-ASSY") }')["edhr"]
    assert doc["batch"]["key"] == "B-ASSY"
    assert {m["lot"] for m in doc["materials"]} == {"B-MOULD", "RL-PP", "RL-TUBE"}
    assert [x["key"] for x in doc["deviations"]] == ["DEV-API-1"]
    assert c.get("/api/edhr/B-ASSY").status_code == 401
    html = c.get("/api/edhr/B-ASSY", headers=h["qc"])
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    for text in ("B-ASSY", "RL-TUBE", "DEV-API-1", "(01)09506000134352"):
        assert text in html.text
    unit = c.get("/api/edhr/SN-2", params={"format": "json"}, headers=h["qc"]).json()
    assert unit["unit"]["serial"] == "SN-2" and unit["udi"]["humanReadable"].endswith("(21)SN-2")
    assert c.get("/api/edhr/NOPE", headers=h["qc"]).status_code == 404


@pytest.mark.browser
@pytest.mark.req("URS-REC-02", "URS-DHR-01")
def test_the_edhr_prints_to_pdf(client: Client) -> None:
    import shutil

    c, h = client
    if shutil.which("chromium") is None:
        from tests.conftest import _need_service

        _need_service("headless Chromium (Debian package chromium)")
    import io

    import pypdf

    gql(c, h["qc"], """mutation { openDeviation(key: "DEV-PDF-1", title: "Kinked tubing",
        description: "kinks", grade: major, reason: "final inspection", concerns: ["B-ASSY"])
        { ok } }""")
    gql(c, h["qc"], """mutation($p: String!) { advanceDeviation(deviation: "DEV-PDF-1",
        target: Triaged, grade: minor, password: $p, reason: "cosmetic") { ok } }""", p=PASSWORD)
    r = c.get("/api/edhr/B-ASSY", params={"format": "pdf"}, headers=h["qa"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-") and b"/Type /Page" in r.content
    pages = pypdf.PdfReader(io.BytesIO(r.content)).pages
    texts = [" ".join(p.extract_text().split()) for p in pages]
    for i, text in enumerate(texts, 1):  # every page: its number of the total, and the record
        assert f"page {i} of {len(pages)}" in text, text[:300]
        assert "batch B-ASSY" in text and "product CATH-14G" in text, text[:300]
    every = " ".join(texts)
    # nothing clipped: the widest tables' last columns are on the page; people's headings,
    # units and times, not field names, UCUM codes and raw timestamps
    for heading in ("Operator", "Supplier lot", "Quantity", "Kind", "Signature (printed name"):
        assert heading in every, heading
    assert "{pc}" not in every and "pcs" in every and ".000000Z" not in every
    assert "%2F" not in every and "Signed by" in every and "q.clark" in every
    a4 = pages[0].mediabox
    assert (round(float(a4.width)), round(float(a4.height))) == (595, 842)  # A4 by default
    letter = c.get("/api/edhr/B-ASSY", params={"format": "pdf", "paper": "Letter"},
                   headers=h["qa"])
    box = pypdf.PdfReader(io.BytesIO(letter.content)).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)
    bad = c.get("/api/edhr/B-ASSY", params={"format": "pdf", "paper": "A5"}, headers=h["qa"])
    assert bad.status_code == 400 and bad.json()["detail"]["field"] == "paper"
    # the widest table (operations, 12 columns of long values) wraps inside the page: its last
    # column is printed whole (it was clipped at the right edge: "operato")
    from quality.edhr import render_html, render_pdf

    doc = c.get("/api/edhr/B-ASSY", params={"format": "json"}, headers=h["qa"]).json()
    doc["operations"] = [{
        "execution": f"EX-B-ASSY-{i:03d}-MOULDING-LINE-7", "operation": "OP-0040-US-WELD",
        "name": "Ultrasonic welding of the catheter hub to the tubing", "sequence": 40,
        "startedAt": "2026-03-03T08:00:00.000000Z", "endedAt": "2026-03-03T09:30:00.000000Z",
        "status": "Completed", "quantity": 1000.0, "scrap": 3.0,
        "equipment": "USW-BRANSON-2000X-07", "fixture": "FX-HUB-NEST-14G-02",
        "operator": f"operator.zhang.wei.{i}"} for i in range(3)]
    for paper in ("A4", "Letter"):
        pdf = pypdf.PdfReader(io.BytesIO(render_pdf(render_html(doc, paper))))
        flat = "".join("".join(p.extract_text().split()) for p in pdf.pages)
        for i in range(3):
            assert f"operator.zhang.wei.{i}" in flat and f"EX-B-ASSY-{i:03d}" in flat, paper
        assert "Operator" in flat and "Fixture" in flat


def test_overdue_capa_actions_plant_wide_or_filtered(client: Client, runtime: Runtime) -> None:
    from quality import capa as capa_mod
    from quality.deviations import open_deviation

    c, h = client
    rt = runtime
    open_deviation(rt, "DEV-OD-1", "Kinked tubing", "kinks at final inspection", "major",
                   "q.clark", "final inspection",
                   concerns=[rt.vocab.mint_iri("Batch", "B-ASSY")])
    due = {("CAPA-OD-1", "A1", "q.adams"): "2026-05-01", ("CAPA-OD-1", "A2", "q.clark"):
           "2026-07-01", ("CAPA-OD-2", "A1", "q.clark"): "2026-05-21"}
    for capa in ("CAPA-OD-1", "CAPA-OD-2"):
        capa_mod.open_capa(rt, "DEV-OD-1", capa, "Tubing kinks", "kinks", "2026-08-01",
                           "q.adams", "deviation needs CAPA")
    for (capa, action, owner), day in due.items():
        capa_mod.add_action(rt, capa, f"{capa}-{action}", "corrective", owner, day,
                            "fix the spool tension", "q.adams", "plan")
    query = """query($capas: [String!], $owners: [String!]) { overdueCapaActions(
        today: "2026-06-01", capas: $capas, owners: $owners) { key capa owner daysOverdue } }"""
    every = gql(c, h["qa"], query)["overdueCapaActions"]
    assert [(a["key"], a["daysOverdue"]) for a in every] == [
        ("CAPA-OD-1-A1", 31), ("CAPA-OD-2-A1", 11)]  # A2 is not due yet
    assert {a["capa"] for a in every} == {rt.vocab.mint_iri("CAPA", k)
                                         for k in ("CAPA-OD-1", "CAPA-OD-2")}
    of_one = gql(c, h["qa"], query, capas=["CAPA-OD-2"])["overdueCapaActions"]
    assert [a["key"] for a in of_one] == ["CAPA-OD-2-A1"]
    of_adams = gql(c, h["qa"], query, owners=["q.adams"])["overdueCapaActions"]
    assert [a["key"] for a in of_adams] == ["CAPA-OD-1-A1"]
