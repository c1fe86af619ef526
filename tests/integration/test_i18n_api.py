"""Chinese and English from the API (issue 15 item 4): a record's class, properties and code
values by the ontology's labels in the language asked for (argument, else Accept-Language, else
English); times in the plant's time zone; units as people write them; the eDHR in either
language. Expected labels are read straight from the Turtle with rdflib, expected times computed
with zoneinfo from the stored UTC text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import datetime
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from rdflib import Graph, Literal, Namespace
from rdflib.namespace import RDFS, SKOS

from api.app import create_app
from graph.port import GraphStore
from ontology.vocab import ONTOLOGY_PATH
from tests import plantlet
from tests.conftest import PASSWORD, bearer, make_user
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

TG = Namespace("https://w3id.org/tracegraph#")
ZONE = "Asia/Shanghai"
TTL = Graph().parse(ONTOLOGY_PATH)

Client = tuple[TestClient, Runtime, dict[str, str]]


def label(term: str, lang: str) -> str:
    """rdfs:label of a class or property, or skos:prefLabel of a concept, in ``lang``."""
    for p in (RDFS.label, SKOS.prefLabel):
        for o in TTL.objects(TG[term], p):
            if isinstance(o, Literal) and o.language == lang:
                return str(o)
    raise KeyError((term, lang))


def concept(scheme: str, notation: str) -> str:
    """The local name of the concept of ``scheme`` whose skos:notation is ``notation``."""
    for c in TTL.subjects(SKOS.inScheme, TG[scheme]):
        if str(TTL.value(c, SKOS.notation)) == notation:
            return str(c).rsplit("#", 1)[1]
    raise KeyError((scheme, notation))


def plant_time(stored: str) -> str:
    at = datetime.fromisoformat(stored.replace("Z", "+00:00")).astimezone(ZoneInfo(ZONE))
    return at.strftime("%Y-%m-%d %H:%M:%S") + " UTC+08:00"


@pytest.fixture
def client(store: GraphStore, tmp_path: Path) -> Iterator[Client]:
    rt = Runtime.open(Settings(data_dir=tmp_path, plant_timezone=ZONE), store=store)
    plantlet.load(rt)
    make_user(rt, "q.clark", ["qc"])
    with TestClient(create_app(rt.settings, rt)) as c:
        yield c, rt, bearer(c, "q.clark")


def post(c: TestClient, h: dict[str, str], query: str, lang_header: str | None = None,
         **variables: Any) -> Any:
    headers = {**h, **({"Accept-Language": lang_header} if lang_header is not None else {})}
    return c.post("/graphql", json={"query": query, "variables": variables},
                  headers=headers).json()


NODE = """query($lang: String, $id: String! = "B-ASSY") { node(id: $id) { class
          classLabel(lang: $lang) properties shown(lang: $lang) { name label value text } } }"""


def test_a_record_in_the_readers_language(client: Client) -> None:
    c, _, h = client
    zh = post(c, h, NODE, lang="zh")["data"]["node"]
    assert zh["class"] == "Batch" and zh["classLabel"] == label("Batch", "zh") == "批次"
    shown = {s["name"]: s for s in zh["shown"]}
    status = zh["properties"]["batchStatus"]
    assert shown["batchStatus"]["label"] == label("batchStatus", "zh")
    assert shown["batchStatus"]["value"] == status
    assert shown["batchStatus"]["text"] == label(concept("BatchStatusScheme", status), "zh")
    _open_deviation(c, h)
    dev = post(c, h, NODE, lang="zh", id="DEV-ZH-1")["data"]["node"]
    assert dev["classLabel"] == label("Deviation", "zh") == "偏差"
    d = {s["name"]: s for s in dev["shown"]}
    state = dev["properties"]["deviationState"]
    assert d["deviationState"]["text"] == label(concept("DeviationStateScheme", state), "zh")
    opened = dev["properties"]["openedAt"]
    assert d["openedAt"]["text"] == plant_time(opened)  # the plant's clock, not stored UTC
    en = post(c, h, NODE, lang="en")["data"]["node"]
    assert en["classLabel"] == label("Batch", "en")
    en_shown = {s["name"]: s for s in en["shown"]}
    assert en_shown["batchStatus"]["text"] == label(concept("BatchStatusScheme", status), "en")
    assert en_shown["lotNumber"]["label"] == label("lotNumber", "en")


@pytest.mark.parametrize(("header", "lang"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("en-US,en;q=0.9,zh;q=0.5", "en"),
    ("en;q=0.4, zh-Hans;q=0.6", "zh"), ("fr-FR,de;q=0.9", "en"), ("", "en")])
def test_without_an_argument_accept_language_decides(client: Client, header: str,
                                                     lang: str) -> None:
    c, _, h = client
    q = '{ node(id: "B-ASSY") { classLabel } }'
    got = post(c, h, q, lang_header=header)["data"]["node"]["classLabel"]
    assert got == label("Batch", lang), header


def test_the_argument_wins_and_an_unknown_language_is_refused(client: Client) -> None:
    c, _, h = client
    q = 'query($l: String) { node(id: "B-ASSY") { classLabel(lang: $l) } }'
    assert post(c, h, q, "zh-CN", l="en")["data"]["node"]["classLabel"] == label("Batch", "en")
    assert post(c, h, q, "en", l="zh")["data"]["node"]["classLabel"] == label("Batch", "zh")
    bad = post(c, h, q, l="fr")
    assert bad["errors"][0]["extensions"] == {"code": "BAD_INPUT", "field": "lang",
                                              "rule": "a language is en or zh"}


def test_the_formatting_the_explorer_loads(client: Client) -> None:
    c, rt, _ = client
    r = c.get("/api/formatting")  # open: the page needs it before sign-in
    assert r.status_code == 200
    f = r.json()
    assert f["plantTimeZone"] == ZONE
    for code, written in {"Cel": "°C", "{pc}": "pcs", "um": "µm", "KGM": "kg", "H87": "pcs",
                          "[psi]": "psi"}.items():
        assert f["units"][code] == written, code
    specs = {s.props.get("unitCode") for s in rt.store.nodes_of_class("ParameterSpec")}
    assert {u for u in specs if isinstance(u, str)} <= set(f["units"])


def test_an_unknown_plant_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="Mars/Olympus"):
        Settings(plant_timezone="Mars/Olympus")
    assert Settings().plant_timezone == "UTC"


def _open_deviation(c: TestClient, h: dict[str, str]) -> None:
    for q in ("""mutation { openDeviation(key: "DEV-ZH-1", title: "Kinked tubing",
                 description: "kinks", grade: major, reason: "final inspection",
                 concerns: ["B-ASSY"]) { ok } }""",
              """mutation($p: String!) { advanceDeviation(deviation: "DEV-ZH-1",
                 target: Triaged, grade: minor, password: $p, reason: "cosmetic") { ok } }"""):
        body = c.post("/graphql", json={"query": q, "variables": {"p": PASSWORD}},
                      headers=h).json()
        assert not body.get("errors") and all(v["ok"] for v in body["data"].values()), body


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "\n", html))


def _section(html: str, ident: str) -> str:
    m = re.search(rf'<section id="{ident}"[^>]*>(.*?)</section>', html, re.S)
    assert m, ident
    return m.group(1)


def test_the_edhr_in_chinese(client: Client) -> None:
    c, _, h = client
    _open_deviation(c, h)
    doc = c.get("/api/edhr/B-ASSY", params={"format": "json"}, headers=h).json()
    r = c.get("/api/edhr/B-ASSY", params={"lang": "zh"}, headers=h)
    assert r.status_code == 200 and r.headers["content-language"] == "zh"
    html = r.text
    assert '<html lang="zh-CN">' in html
    # headings: the ontology's Chinese labels of the classes the sections list
    for section, cls in (("batch", "Batch"), ("deviations", "Deviation"), ("holds", "Hold"),
                         ("signatures", "ElectronicSignature")):
        title = re.search(r"<h2>(.*?)</h2>", _section(html, section))
        assert title and title.group(1) == label(cls, "zh"), section
    # column headings that are ontology properties, by their Chinese labels
    devs = _section(html, "deviations")
    heads = re.findall(r"<th>(.*?)</th>", devs)
    for prop in ("deviationState", "deviationGrade", "openedAt"):
        assert label(prop, "zh") in heads, (prop, heads)
    # code values by their Chinese labels: the deviation's state and grade, the batch status
    (dev,) = doc["deviations"]
    cells = _text(devs).split("\n")
    assert label(concept("DeviationStateScheme", dev["deviationState"]), "zh") in cells
    assert label(concept("DeviationGradeScheme", dev["deviationGrade"]), "zh") in cells
    status = doc["batch"]["status"]
    assert label(concept("BatchStatusScheme", status), "zh") in _text(_section(html, "batch"))
    # times in the plant's time zone, never the stored UTC text
    assert plant_time(dev["openedAt"]) in cells
    for sig in doc["signatures"]:
        assert plant_time(sig["signedAt"]) in html and sig["username"] in html
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", _text(html))
    assert "第 \" counter(page) \" 页" in html  # page n of m, in Chinese
    # Accept-Language chooses the same; English by default and for an unknown language
    same = c.get("/api/edhr/B-ASSY", headers={**h, "Accept-Language": "zh-CN,zh;q=0.9"})
    assert _section(same.text, "deviations") == devs
    en = c.get("/api/edhr/B-ASSY", headers={**h, "Accept-Language": "fr"}).text
    assert '<html lang="en">' in en and "<h2>Deviations</h2>" in en
    assert plant_time(dev["openedAt"]) in en  # the plant's clock in English too
    bad = c.get("/api/edhr/B-ASSY", params={"lang": "fr"}, headers=h)
    assert bad.status_code == 400 and bad.json()["detail"]["field"] == "lang"


@pytest.mark.browser
def test_the_chinese_edhr_prints_to_pdf(client: Client) -> None:
    import io
    import shutil

    import pypdf

    if shutil.which("chromium") is None:
        from tests.conftest import _need_service

        _need_service("headless Chromium (Debian package chromium)")
    c, _, h = client
    _open_deviation(c, h)
    r = c.get("/api/edhr/B-ASSY", params={"format": "pdf", "lang": "zh"}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pages = pypdf.PdfReader(io.BytesIO(r.content)).pages
    # the PDF's text as extracted: Kangxi radicals folded back (NFKC, which also makes the
    # full-width comma ","); 页 may come out as the simplified radical ⻚ (no NFKC mapping)
    texts = [unicodedata.normalize("NFKC", "".join(p.extract_text().split())) for p in pages]
    for i, text in enumerate(texts, 1):
        assert re.search(f"第{i}[页⻚],共{len(pages)}[页⻚]", text), text[:300]
        assert "批次B-ASSY" in text, text[:300]
    every = "".join(texts)
    assert label("Deviation", "zh") in every and label("deviationState", "zh") in every
