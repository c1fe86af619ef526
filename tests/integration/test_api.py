"""GraphQL over HTTP: capture, lookups and genealogy, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests import plantlet
from tests.conftest import bearer, make_user, migrate
from tracegraph.runtime import Runtime


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """An HTTP client signed in as an engineer (reads and captures), over the plantlet's master
    data (migrated: it holds Effective versions and approved suppliers)."""
    migrate(runtime, plantlet.master_data())
    make_user(runtime, "eng.ellis", ["engineer"])
    with TestClient(create_app(runtime.settings, runtime)) as c:
        c.headers.update(bearer(c, "eng.ellis"))
        yield c


def gql(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    r = client.post("/graphql", json={"query": query, "variables": variables})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]  # JSON body of a GraphQL answer


CAPTURE = """mutation($doc: JSON!) { capture(document: $doc) {
  ok eventsWritten eventsSkipped nodesCreated edgesCreated
  problems { rule message field value focus } } }"""


@pytest.mark.req("URS-TRC-01")
def test_capture_then_genealogy_over_graphql(client: TestClient) -> None:
    assert gql(client, CAPTURE, doc=plantlet.execution())["data"]["capture"]["ok"] is True
    again = gql(client, CAPTURE, doc=plantlet.execution())["data"]["capture"]
    assert again["ok"] and again["eventsWritten"] == 0 and again["eventsSkipped"] > 0

    q = """query($of: String!) { genealogy(of: $of, direction: UPSTREAM, maxDepth: 10) {
      watermark nodes { depth node { class key } } edges { source target properties } } }"""
    g = gql(client, q, of="SN-1")["data"]["genealogy"]
    keys = {(n["node"]["class"], n["node"]["key"], n["depth"]) for n in g["nodes"]}
    assert keys == {("SerializedUnit", "SN-1", 0), ("Batch", "B-ASSY", 1),
                    ("Batch", "B-MOULD", 2), ("MaterialLot", "RL-PP", 2),
                    ("MaterialLot", "RL-TUBE", 2)}
    assert g["watermark"] >= 2
    assert any(e["properties"].get("quantity") == 0.5 for e in g["edges"])


def test_lookup_by_identifier_and_a_clear_not_found(client: TestClient) -> None:
    gql(client, CAPTURE, doc=plantlet.execution())
    n = gql(client, '{ node(id: "PA-778") { class key properties } }')["data"]["node"]
    assert (n["class"], n["key"]) == ("MaterialLot", "RL-PP")
    assert gql(client, '{ node(id: "NOPE") { key } }')["data"]["node"] is None
    r = gql(client, '{ genealogy(of: "NOPE") { watermark } }')
    assert r["data"] is None and "not found" in r["errors"][0]["message"]


@pytest.mark.req("URS-DATA-01")
def test_a_rejected_capture_lists_problems_and_writes_nothing(client: TestClient) -> None:
    doc = plantlet.master_data()
    doc["events"][0]["eventId"] = "md-again"
    doc["events"][0]["nodes"][4]["properties"]["gtin"] = "not-a-gtin"
    before = client.get("/health").json()["watermark"]
    res = gql(client, CAPTURE, doc=doc)["data"]["capture"]
    assert res["ok"] is False
    assert any(p["field"] == "gtin" and p["value"] == "not-a-gtin" for p in res["problems"])
    assert client.get("/health").json()["watermark"] == before


def load(client: TestClient) -> None:
    """The plantlet's execution captured over GraphQL, then its legacy release and shipment."""
    assert gql(client, CAPTURE, doc=plantlet.execution())["data"]["capture"]["ok"] is True
    migrate(client.app.state.runtime, plantlet.shipping())  # type: ignore[attr-defined]  # Starlette app state


@pytest.mark.req("URS-TRC-01")
def test_genealogy_paths_kinds_paging_and_relations(client: TestClient) -> None:
    load(client)
    q = """query($of: String!, $to: [String!]!) {
      genealogy(of: $of, direction: DOWNSTREAM, edgeKinds: [consumption, production],
                first: 2) {
        nodeCount edgeCount nodes { depth node { key } } paths(to: $to)
        edges { type targetNode { key links(direction: DOWNSTREAM) { sourceNode { key } } } }
      } }"""
    ship = "https://w3id.org/tracegraph/id/Shipment/SHIP-1"
    sn1 = "https://w3id.org/tracegraph/id/SerializedUnit/SN-1"
    g = gql(client, q, of="RL-PP", to=[sn1, ship])["data"]["genealogy"]
    assert g["nodeCount"] == 6  # RL-PP, B-MOULD, B-ASSY, SN-1..3: no case or shipment by kind
    assert len(g["nodes"]) == 2 and g["nodes"][0]["node"]["key"] == "RL-PP"
    sn1_path, ship_path = g["paths"]
    assert sn1_path[0].endswith("MaterialLot/RL-PP") and sn1_path[-1] == sn1
    assert len(sn1_path) == 3 and ship_path == []  # the shipment is beyond the kinds asked
    # any identifier names a target, as it names the seed: a key, a GS1 element string
    by_key = gql(client, q, of="RL-PP", to=["SN-1", "(01)09506000134352(21)SN-2"])
    assert "errors" not in by_key, by_key
    p1, p2 = by_key["data"]["genealogy"]["paths"]
    assert p1 == sn1_path and p2[-1].endswith("SerializedUnit/SN-2") and len(p2) == 3
    unknown = gql(client, q, of="RL-PP", to=["SN-1", "NO-SUCH-UNIT"])
    assert unknown["data"] is None or unknown["data"]["genealogy"] is None
    [err] = unknown["errors"]
    assert err["extensions"]["code"] == "NOT_FOUND" and err["extensions"]["field"] == "to"
    assert err["extensions"]["value"] == "NO-SUCH-UNIT"
    for e in g["edges"]:
        assert e["type"] == "WAS_DERIVED_FROM"
        assert e["targetNode"]["key"] in {"RL-PP", "B-MOULD", "B-ASSY"}
        assert e["targetNode"]["links"], "the source is consumed somewhere (DataLoader relation)"


@pytest.mark.req("URS-TRC-02")
def test_recall_over_graphql_and_the_export(client: TestClient) -> None:
    load(client)
    q = """query($seeds: [String!]!) { recall(seeds: $seeds, unitLimit: 2) {
      unknownSeeds unitsTotal units { key witness } shipments { key }
      customers { key name shipments firstShipped } counts { label count } } }"""
    r = gql(client, q, seeds=["PA-778", "NOPE"])["data"]["recall"]
    assert r["unknownSeeds"] == ["NOPE"] and r["unitsTotal"] == 3
    assert [u["key"] for u in r["units"]] == ["SN-1", "SN-2"]
    assert r["customers"] == [{"key": "HOSP-1", "name": "St. Mary Hospital",
                               "shipments": ["SHIP-1"],
                               "firstShipped": "2026-03-05T10:00:00.000000Z"}]
    z = client.post("/api/recall", json={"seeds": ["PA-778"]})
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    import io
    import zipfile

    names = set(zipfile.ZipFile(io.BytesIO(z.content)).namelist())
    assert {"recall.json", "recall-units.csv", "recall-customers.csv"} <= names
    missing = client.post("/api/recall", json={"seeds": ["NOPE"]})
    assert missing.status_code == 404 and missing.json()["detail"]["code"] == "NOT_FOUND"
    # a CSV with a header and other columns: the seeds are the lot column, as in the CLI
    sheet = "\ufeffBatch;Lot;Qty\nB-1;PA-778;3\nB-2;RL-PP;4\nB-3;PA-778;1\n"
    seeds = client.post("/api/recall/seeds", json={"text": sheet})
    assert seeds.status_code == 200 and seeds.json() == {"seeds": ["PA-778", "RL-PP"]}
    assert client.post("/api/recall/seeds", headers={"Authorization": ""},
                       json={"text": sheet}).status_code == 401


DEEP = '{ node(id: "x") { ' + "links { targetNode { " * 7 + "key" + " } }" * 7 + " } }"
ALIASES = ("query { ...A ...A ...A } fragment A on Query { "
           + " ".join(f"a{i}: stats {{ label }}" for i in range(10)) + " }")
COSTLY = ('{ recall(seeds: ["x"], unitLimit: 5000) { units { witness properties } '
          'batches { witness } } genealogy(of: "x", first: 5000) { nodes { node { links {'
          ' targetNode { key } } } } } }')


@pytest.mark.parametrize(("query", "code_or_text"), [
    (DEEP, "exceeds maximum operation depth"),
    (ALIASES, "aliases found"),
    (COSTLY, "COST_LIMIT"),
])
@pytest.mark.req("URS-SEC-01")
def test_abusive_queries_are_refused_before_execution(client: TestClient, query: str,
                                                     code_or_text: str) -> None:
    r = client.post("/graphql", json={"query": query})
    body = r.json()
    assert body.get("data") is None, body
    text = " ".join(e["message"] + str(e.get("extensions", "")) for e in body["errors"])
    assert code_or_text in text, text


def test_a_modest_recall_with_every_list_and_its_witnesses_is_answered(
        client: TestClient) -> None:
    """A recall team's ordinary question (every list, with witness paths, 100 units) is not a
    COST_LIMIT: a witness is one list of IRIs, not 100 resolved objects."""
    load(client)
    r = gql(client, """{ recall(seeds: ["PA-778"], unitLimit: 100) {
      batches { key witness } units { key witness } packages { key witness }
      shipments { key witness } customers { key shipments } counts { label count } } }""")
    assert "errors" not in r, r
    assert [u["key"] for u in r["data"]["recall"]["units"]] == ["SN-1", "SN-2", "SN-3"]
    assert all(u["witness"][-1].endswith(u["key"]) for u in r["data"]["recall"]["units"])


def test_batched_operations_are_refused(client: TestClient) -> None:
    r = client.post("/graphql", json=[{"query": "{ stats { label } }"}] * 50)
    assert r.status_code == 400


def test_bad_arguments_are_structured_errors_not_500(client: TestClient) -> None:
    load(client)
    for q, field in (('{ genealogy(of: "SN-1", maxDepth: 500) { nodeCount } }', "maxDepth"),
                     ('{ genealogy(of: "SN-1", edgeKinds: [teleport]) { nodeCount } }',
                      "edgeKinds"),
                     ('{ genealogy(of: "SN-1", asOf: "yesterday") { nodeCount } }', "asOf"),
                     ('{ find(value: "x", property: "colour") { key } }', "property")):
        r = client.post("/graphql", json={"query": q})
        assert r.status_code == 200
        [err] = r.json()["errors"]
        assert err["extensions"]["code"] == "BAD_INPUT" and err["extensions"]["field"] == field


def test_a_code_outside_its_code_list_is_bad_input_naming_the_allowed_codes(
        client: TestClient) -> None:
    """edgeKinds is the GraphQL enum DerivationKind: GraphQL validation (a literal) or variable
    coercion (JSON) refuses a wrong code before anything runs, and the error says so the way
    every BAD_INPUT does: the argument, the value and the allowed codes."""
    load(client)
    allowed = "one of aggregation, consumption, merge, production, rework, shipment, split"
    for q, variables in (('{ genealogy(of: "SN-1", edgeKinds: [teleport]) { nodeCount } }', {}),
                         ('query($k: [DerivationKind!]) { genealogy(of: "SN-1", edgeKinds: $k)'
                          ' { nodeCount } }', {"k": ["consumption", "teleport"]})):
        r = client.post("/graphql", json={"query": q, "variables": variables})
        assert r.status_code == 200 and r.json()["data"] is None
        [err] = r.json()["errors"]
        assert err["extensions"] == {"code": "BAD_INPUT", "field": "edgeKinds",
                                     "rule": f"{allowed} (code list DerivationKind)"}
        assert err["message"].startswith("edgeKinds='teleport': one of aggregation")
    # a right code written as a quoted string is refused too (GraphQL enums are unquoted)
    r = client.post("/graphql", json={
        "query": '{ genealogy(of: "SN-1", edgeKinds: ["consumption"]) { nodeCount } }'})
    [err] = r.json()["errors"]
    assert err["extensions"]["field"] == "edgeKinds" and "without quotes" in err["message"]
    # JSON variables carry the codes as strings, as before
    r = client.post("/graphql", json={
        "query": 'query($k: [DerivationKind!]) { genealogy(of: "SN-1", edgeKinds: $k) '
                 '{ nodeCount } }', "variables": {"k": ["consumption", "production"]}})
    assert "errors" not in r.json() and r.json()["data"]["genealogy"]["nodeCount"] >= 1


@pytest.mark.req("URS-SEC-01")
def test_production_hides_introspection_and_masks_unexpected_errors(runtime: Runtime) -> None:
    from tracegraph.settings import Settings

    prod = Settings(data_dir=runtime.settings.data_dir, env="production")
    make_user(runtime, "qa.quinn", ["qa"])
    with TestClient(create_app(prod, runtime)) as c:
        c.headers.update(bearer(c, "qa.quinn"))
        r = c.post("/graphql", json={"query": "{ __schema { types { name } } }"})
        assert r.json().get("data") is None
        assert c.get("/graphql").status_code != 200 or "graphiql" not in c.get("/graphql").text
        nf = c.post("/graphql", json={"query": '{ genealogy(of: "NOPE") { nodeCount } }'})
        assert nf.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(("text", "cls", "key"), [
    ("(01)09506000134352(21)SN-2", "SerializedUnit", "SN-2"),
    ("]C1010950600013435221SN-3", "SerializedUnit", "SN-3"),
    ("https://id.gs1.org/01/09506000134352/10/B-ASSY", "Batch", "B-ASSY"),
    ("https://id.gs1.org/01/09506000134352/21/SN-1", "SerializedUnit", "SN-1"),
    ("urn:epc:id:sgtin:9506000.013435.SN-1", "SerializedUnit", "SN-1"),
    ("(00)095060001000000012", "PackagingAggregation", "095060001000000012"),
    ("09506000134352", "Product", "CATH-14G"),
    ("PA-778", "MaterialLot", "RL-PP"),
    ("IMM-01", "Equipment", "IMM-01"),
])
@pytest.mark.req("URS-ID-01", "URS-TRC-03")
def test_identify_by_any_identifier_including_gs1(client: TestClient, text: str, cls: str,
                                                  key: str) -> None:
    load(client)
    r = gql(client, "query($t: String!) { identify(text: $t) { class key } }", t=text)
    assert r["data"]["identify"] == [{"class": cls, "key": key}], r


@pytest.mark.req("URS-ID-01")
def test_identify_explains_a_bad_check_digit(client: TestClient) -> None:
    load(client)
    r = gql(client, '{ identify(text: "(01)09506000134353(21)SN-2") { key } }')
    [err] = r["errors"]
    assert err["extensions"]["code"] == "NOT_FOUND"
    assert "check digit" in err["message"] and "expected check digit 2" in err["message"]


@pytest.mark.req("URS-TRC-03")
def test_upstream_genealogy_shows_the_as_built_context(client: TestClient) -> None:
    # the operation was executed before B-ASSY's release (after it, the record is closed)
    assert gql(client, CAPTURE, doc=plantlet.execution())["data"]["capture"]["ok"] is True
    doc = {"format": "tracegraph.capture/1", "events": [{"eventId": "exec-1", "nodes": [
        {"class": "Person", "key": "OP-7", "properties": {"name": "A. Operator"}},
        {"class": "Operation", "key": "CATH-ASSY/v1/OP10",
         "properties": {"name": "Bonding", "sequence": 10}},
        {"class": "OperationExecution", "key": "B-ASSY/OP10",
         "properties": {"startedAtTime": "2026-03-03T07:00:00Z",
                        "endedAtTime": "2026-03-03T09:00:00Z", "executionStatus": "Completed"},
         "links": {"forBatch": "Batch/B-ASSY", "onEquipment": "Equipment/IMM-01",
                   "wasAssociatedWith": "Person/OP-7",
                   "executesOperation": "Operation/CATH-ASSY/v1/OP10"}}]}]}
    res = gql(client, CAPTURE, doc=doc)["data"]["capture"]
    if not res["ok"]:  # the shapes may ask for more on an execution; show what
        pytest.fail(str(res["problems"]))
    migrate(client.app.state.runtime, plantlet.shipping())  # type: ignore[attr-defined]  # Starlette app state
    q = """{ genealogy(of: "SN-1", direction: UPSTREAM) {
      asBuilt { nodeCount nodes { class key } edges { type } } } }"""
    ab = gql(client, q)["data"]["genealogy"]["asBuilt"]
    got = {(n["class"], n["key"]) for n in ab["nodes"]}
    assert {("OperationExecution", "B-ASSY/OP10"), ("Equipment", "IMM-01"),
            ("Person", "OP-7"), ("ProcessVersion", "CATH-ASSY/v1")} <= got
    assert {"FOR_BATCH", "ON_EQUIPMENT", "WAS_ASSOCIATED_WITH"} <= {e["type"] for e in ab["edges"]}


@pytest.mark.req("URS-REC-01")
def test_a_corrected_record_shows_its_prior_versions(client: TestClient) -> None:
    load(client)
    doc = {"format": "tracegraph.capture/1", "events": [{
        "eventId": "fix-1", "reason": "typo in the supplier lot number",
        "nodes": [{"class": "MaterialLot", "key": "RL-PP",
                   "properties": {"supplierLotNumber": "PA-787"}}]}]}
    assert gql(client, CAPTURE, doc=doc)["data"]["capture"]["ok"]
    q = '{ node(id: "RL-PP") { properties versions { versionNumber properties } } }'
    n = gql(client, q)["data"]["node"]
    assert n["properties"]["supplierLotNumber"] == "PA-787"
    assert n["properties"]["versionNumber"] == 2
    [v1] = n["versions"]
    assert v1["versionNumber"] == 1 and v1["properties"]["supplierLotNumber"] == "PA-778"
    # without a reason a GMP record is not changed at all
    doc["events"][0].update(eventId="fix-2", reason=None)
    doc["events"][0]["nodes"][0]["properties"]["supplierLotNumber"] = "PA-788"
    res = gql(client, CAPTURE, doc=doc)["data"]["capture"]
    assert not res["ok"] and res["problems"][0]["rule"] == "reason-required"


def test_introspection_for_signed_in_users_in_development(client: TestClient) -> None:
    r = gql(client, "{ __schema { queryType { name } } __type(name: \"Batch\") { name } }")
    assert "errors" not in r, r
    assert r["data"]["__schema"]["queryType"]["name"] == "Query"
    anonymous = client.post("/graphql", headers={"Authorization": ""},
                            json={"query": "{ __schema { queryType { name } } }"}).json()
    assert anonymous["data"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_vocabulary_in_the_readers_language(client: TestClient) -> None:
    """Classes, properties and codes in Chinese or English, as the ontology labels them (read
    here straight from the Turtle with rdflib)."""
    from rdflib import Graph, Literal, Namespace
    from rdflib.namespace import RDFS, SKOS

    from ontology.vocab import ONTOLOGY_PATH

    tg = Namespace("https://w3id.org/tracegraph#")
    ttl = Graph().parse(ONTOLOGY_PATH)

    def zh(s: object, p: object) -> str:
        return next(str(o) for o in ttl.objects(s, p)  # type: ignore[arg-type]  # rdflib terms
                    if isinstance(o, Literal) and o.language == "zh")

    q = """query($lang: String) { vocabulary(lang: $lang) { lang classes { name label }
           properties { name label } codeLists { scheme codes { code label } } } }"""
    v = gql(client, q, lang="zh")["data"]["vocabulary"]
    classes = {c["name"]: c["label"] for c in v["classes"]}
    props = {p["name"]: p["label"] for p in v["properties"]}
    codes = {cl["scheme"]: {c["code"]: c["label"] for c in cl["codes"]} for cl in v["codeLists"]}
    assert v["lang"] == "zh" and classes["Batch"] == zh(tg.Batch, RDFS.label) == "批次"
    assert props["lotNumber"] == zh(tg.lotNumber, RDFS.label)
    assert codes["DeviationStateScheme"]["Open"] == zh(tg["DeviationState-Open"], SKOS.prefLabel)
    # without the argument, the request's Accept-Language decides
    for header, lang in (("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("en-US,en;q=0.9,zh;q=0.5", "en"),
                         ("fr-FR", "en"), ("", "en")):
        r = client.post("/graphql", headers={"Accept-Language": header},
                        json={"query": "{ vocabulary { lang classes { name label } } }"}).json()
        assert r["data"]["vocabulary"]["lang"] == lang, (header, r)
    bad = gql(client, q, lang="fr")
    assert bad["errors"][0]["extensions"] == {"code": "BAD_INPUT", "field": "lang",
                                              "rule": "a language is en or zh"}
