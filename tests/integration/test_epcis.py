"""GS1 EPCIS 2.0 capture, query and genealogy export over the shared standards corpus
(../shared/standards, read in place), on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from graph.errors import WriteRejectedError
from graph.model import Direction
from ingest.epcis import canonical_id, capture_epcis, epcis_events, event_hash
from tests.conftest import bearer, make_user
from tracegraph.runtime import Runtime

STANDARDS = Path("/work/shared/standards")
if not STANDARDS.exists():  # another checkout's view of ../shared
    STANDARDS = Path(__file__).resolve().parents[2] / ".." / "shared" / "standards"
CAPTURE = (STANDARDS / "openepcis-test-resources/core/src/main/resources/2.0/EPCIS/JSON/"
           "Capture")
GS1_JSON = STANDARDS / "gs1-epcis" / "JSON"

#: documents filed as valid that we reject, and why (the GS1 EPCIS 2.0 JSON schema refuses them)
MISFILED: dict[str, str] = {
    "SensorData_with_combined_events.json":
        "sensorReport type 'Molar_concentration' (and reports without a type) is neither a "
        "CBV measurement type nor a URI: the EPCIS 2.0 JSON schema refuses it",
    "TransactionEvent_with_userExtensions.json":
        "sensorReport type 'EffectiveDoseRate' is not in the schema's measurement types and "
        "not a URI",
    "AggregationEvent_with_persistentDisposition.json":
        "the GS1 JSON schema has no persistentDisposition on AggregationEvent, so it is read "
        "as an extension whose name must be a namespaced URI",
    "EPCISQueryDocument.jsonld":
        "an EPCISQueryDocument (a query answer), not a capture document",
}

pytestmark = pytest.mark.skipif(not CAPTURE.is_dir(), reason="shared standards corpus absent")


def _docs(*paths: Path) -> list[Path]:
    return sorted(p for d in paths for p in d.rglob("*.json*") if p.suffix in (".json", ".jsonld"))


VALID = [p for p in _docs(CAPTURE / "Documents", GS1_JSON) if p.name not in MISFILED]
INVALID = _docs(CAPTURE / "Invalid")


def capture(rt: Runtime, doc: Path | dict[str, Any]) -> tuple[list[str], Any]:
    data = doc.read_bytes() if isinstance(doc, Path) else doc
    return capture_epcis(rt.writer, rt.store, rt.vocab, data, "epcis.test")


@pytest.mark.req("URS-DATA-02")
def test_every_valid_document_is_captured_and_resending_writes_nothing(runtime: Runtime
                                                                       ) -> None:
    assert len(VALID) > 80
    for path in VALID:
        hashes, _ = capture(runtime, path)
        assert hashes, path.name
        before = runtime.store.watermark()
        _, again = capture(runtime, path)
        assert again.events_written == 0 and runtime.store.watermark() == before, path.name
    stored = {n.key for n in runtime.store.nodes_of_class("EPCISEvent")}
    expected = {event_hash(e) for p in VALID for e in epcis_events(p.read_bytes())}
    assert stored == expected


@pytest.mark.parametrize("path", INVALID + [p for p in _docs(CAPTURE / "Documents", GS1_JSON)
                                            if p.name in MISFILED], ids=lambda p: p.name)
@pytest.mark.req("URS-DATA-02")
def test_invalid_documents_are_refused_naming_field_value_rule(path: Path) -> None:
    with pytest.raises(WriteRejectedError) as info:
        epcis_events(path.read_bytes())
    for p in info.value.problems:
        assert p.rule and p.message and p.field


@pytest.mark.req("URS-DATA-02")
def test_a_rejected_document_writes_nothing(runtime: Runtime) -> None:
    before = runtime.store.watermark()
    for path in INVALID:
        with pytest.raises(WriteRejectedError):
            capture(runtime, path)
    assert runtime.store.watermark() == before
    assert runtime.store.nodes_of_class("EPCISEvent") == []


@pytest.mark.req("URS-DATA-02")
def test_same_event_in_another_field_order_or_identifier_syntax_has_the_same_hash() -> None:
    ev = {"type": "ObjectEvent", "eventTime": "2026-03-01T09:00:00+01:00",
          "eventTimeZoneOffset": "+01:00", "action": "OBSERVE", "bizStep": "shipping",
          "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"]}
    other = {"epcList": ["https://id.gs1.org/01/10614141073464/21/2017"],
             "bizStep": "https://ref.gs1.org/cbv/BizStep-shipping", "action": "OBSERVE",
             "eventTimeZoneOffset": "+01:00", "eventTime": "2026-03-01T08:00:00.000Z",
             "type": "ObjectEvent", "eventID": "urn:uuid:anything"}
    assert event_hash(ev) == event_hash(other)
    assert event_hash(ev) != event_hash({**ev, "action": "ADD"})
    assert event_hash(ev).startswith("ni:///sha-256;") and event_hash(ev).endswith("?ver=CBV2.0")


@pytest.mark.req("URS-DATA-02")
def test_transformation_events_produce_the_genealogy_the_document_implies(runtime: Runtime
                                                                          ) -> None:
    for path in (GS1_JSON / "Example_9.6.4-TransformationEvent.jsonld",
                 CAPTURE / "Documents" / "TransformationEvent_all_possible_fields.json"):
        capture(runtime, path)
        for ev in epcis_events(path.read_bytes()):
            if "errorDeclaration" in ev:  # declared in error: recorded, no genealogy from it
                continue
            ins = [*ev.get("inputEPCList", []),
                   *(q["epcClass"] for q in ev.get("inputQuantityList", []))]
            outs = [*ev.get("outputEPCList", []),
                    *(q["epcClass"] for q in ev.get("outputQuantityList", []))]
            for out in outs:
                seed = runtime.vocab.mint_iri("EPCISObject", canonical_id(out))
                up = runtime.store.genealogy([seed], Direction.UPSTREAM, 5)
                want = {runtime.vocab.mint_iri("EPCISObject", canonical_id(i)) for i in ins}
                assert want - {seed} <= set(up.nodes), out
    # recall from an input reaches the outputs
    ev = epcis_events((GS1_JSON / "Example_9.6.4-TransformationEvent.jsonld").read_bytes())[0]
    answer = runtime.recall([canonical_id(ev["inputQuantityList"][0]["epcClass"])])
    assert answer.seeds


@pytest.mark.req("URS-DATA-02")
def test_error_declaration_keeps_the_original_event(runtime: Runtime) -> None:
    doc = orjson.loads((GS1_JSON / "Example_9.6.2-ObjectEvent.jsonld").read_bytes())
    capture(runtime, doc)
    ev = epcis_events(doc)[0]  # with the document's namespace prefixes
    declared = {**ev, "errorDeclaration": {"declarationTime": "2026-01-02T00:00:00Z",
                                           "reason": "incorrect_data"}}
    capture(runtime, {**doc, "epcisBody": {"eventList": [declared]}})
    node = runtime.store.find(event_hash(ev), "epcisEventHash")[0]
    assert "errorDeclaration" in orjson.loads(str(node.props["epcisDocument"]))
    versions = runtime.store.links([node.iri], ["PRIOR_VERSION"])
    prior = runtime.store.get(versions[0].dst)
    assert prior is not None and "errorDeclaration" not in str(prior.props["snapshot"])


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    make_user(runtime, "op.olsen", ["operator"])
    make_user(runtime, "aud.ames", ["auditor"])
    with TestClient(create_app(runtime.settings, runtime)) as c:
        yield c


def test_rest_capture_query_and_genealogy_export(client: TestClient) -> None:
    op, aud = bearer(client, "op.olsen"), bearer(client, "aud.ames")
    doc = (CAPTURE / "Documents" / "Combination_of_different_event.json").read_bytes()
    assert client.post("/capture", content=doc).status_code == 401
    assert client.post("/capture", content=doc, headers=aud).status_code == 403
    r = client.post("/capture", content=doc, headers=op)
    assert r.status_code == 201, r.text
    events = epcis_events(doc)
    assert r.json()["eventIDs"] == [event_hash(e) for e in events]
    bad = client.post("/capture", headers=op, content=(CAPTURE / "Invalid" /
                      "ObjectEvent_with_non_standard_bizStep.json").read_bytes())
    assert bad.status_code == 400
    body = bad.json()
    assert body["type"] == "epcisException:ValidationException"
    assert {(p["field"], p["value"]) for p in body["problems"]} >= {
        ("epcisBody/eventList/0/bizStep", "transforming")}

    def query(**params: Any) -> list[dict[str, Any]]:
        r = client.get("/events", params=params, headers=aud)
        assert r.status_code == 200, r.text
        assert r.json()["type"] == "EPCISQueryDocument"
        return r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]  # type: ignore[no-any-return]  # JSON body of an EPCIS query answer

    assert len(query()) == len(events)
    for etype in {e["type"] for e in events}:
        assert len(query(eventType=etype)) == sum(e["type"] == etype for e in events)
    assert len(query(eventCountLimit="1")) == 1
    first = next(e for e in events if e.get("epcList"))
    hits = query(MATCH_epc=first["epcList"][0])
    assert hits and all(canonical_id(first["epcList"][0]) in {canonical_id(x) for x in
                        h.get("epcList", []) + h.get("childEPCs", [])} for h in hits)
    assert query(GE_eventTime="2999-01-01T00:00:00Z") == []
    bad_q = client.get("/events", params={"EQ_nothing": "x"}, headers=aud)
    assert bad_q.status_code == 400 and bad_q.json()["problems"][0]["field"] == "EQ_nothing"

    tf = next(e for e in events if e["type"] == "TransformationEvent")
    seed = (tf.get("outputEPCList") or [q["epcClass"] for q in tf["outputQuantityList"]])[0]
    g = client.get("/epcis/genealogy", params={"of": canonical_id(seed)}, headers=aud)
    assert g.status_code == 200, g.text
    assert event_hash(tf) in {event_hash(e) for e in g.json()["epcisBody"]["eventList"]}
    assert epcis_events(g.content)  # the export is itself a valid capture document


EVENTS = sorted((CAPTURE / "Events").glob("*.json"))


def _events(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = client.get("/events", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]  # type: ignore[no-any-return]  # JSON body of an EPCIS query answer


@pytest.mark.req("URS-DATA-02")
def test_single_event_capture_post_events(client: TestClient, runtime: Runtime) -> None:
    op, aud = bearer(client, "op.olsen"), bearer(client, "aud.ames")
    assert len(EVENTS) == 5
    body = EVENTS[0].read_bytes()
    assert client.post("/events", content=body).status_code == 401
    assert client.post("/events", content=body, headers=aud).status_code == 403
    for path in EVENTS:
        sent = orjson.loads(path.read_bytes())
        r = client.post("/events", content=path.read_bytes(), headers=op)
        assert r.status_code == 201, (path.name, r.text)
        assert r.json()["eventIDs"] == [event_hash(sent)] and r.json()["captured"] == 1
        got = client.get(r.headers["location"], headers=aud)
        assert got.status_code == 200, got.text
        assert got.json()["type"] == sent["type"] and got.json()["eventTime"] == sent["eventTime"]
        again = client.post("/events", content=path.read_bytes(), headers=op)
        assert again.status_code == 201 and again.json()["captured"] == 0
    assert len(_events(client, aud)) == len(EVENTS)
    assert client.get("/events/ni%3A%2F%2F%2Fsha-256%3Bnothing", headers=aud).status_code == 404


@pytest.mark.parametrize(("change", "field", "value", "rule"), [
    ({"bizStep": "transforming"}, "bizStep", "transforming", "epcis-schema:"),
    ({"eventTime": "yesterday"}, "eventTime", "yesterday", "epcis-schema:format"),
    ({"eventTimeZoneOffset": None}, "(event)", None, "epcis-schema:required"),
    ({"epcList": ["not an identifier"]}, "epcList/0", "not an identifier", "epcis-schema:"),
    ({"type": "EPCISDocument"}, "type", "EPCISDocument", "epcis-capture-event"),
], ids=["non-CBV bizStep", "bad time", "no time zone", "bad EPC", "not an event"])
def test_invalid_single_event_is_refused_naming_field_value_rule(
        client: TestClient, runtime: Runtime, change: dict[str, Any], field: str, value: Any,
        rule: str) -> None:
    op = bearer(client, "op.olsen")
    ev = orjson.loads((CAPTURE / "Events" / "ObjectEvent.json").read_bytes())
    bad = {k: v for k, v in {**ev, **change}.items() if v is not None}
    before = runtime.store.watermark()
    r = client.post("/events", content=orjson.dumps(bad), headers=op)
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "epcisException:ValidationException"
    assert any(p["field"] == field and p["value"] == value and p["rule"].startswith(rule)
               for p in r.json()["problems"]), r.json()["problems"]
    assert runtime.store.watermark() == before
    assert runtime.store.nodes_of_class("EPCISEvent") == []


def test_events_declared_in_error_are_marked_in_queries_and_the_genealogy_export(
        client: TestClient) -> None:
    op, aud = bearer(client, "op.olsen"), bearer(client, "aud.ames")
    path = GS1_JSON / "Example_9.6.4-TransformationEvent.jsonld"
    assert client.post("/capture", content=path.read_bytes(), headers=op).status_code == 201
    tf = epcis_events(path.read_bytes())[0]
    out = canonical_id((tf.get("outputEPCList")
                        or [q["epcClass"] for q in tf["outputQuantityList"]])[0])

    def exported(**params: Any) -> list[dict[str, Any]]:
        r = client.get("/epcis/genealogy", params={"of": out, **params}, headers=aud)
        assert r.status_code == 200, r.text
        return r.json()["epcisBody"]["eventList"]  # type: ignore[no-any-return]  # JSON body of an EPCIS query answer

    assert [e for e in exported() if "errorDeclaration" in e] == []
    assert _events(client, aud, EXISTS_errorDeclaration="") == []
    declaration = {"declarationTime": "2026-02-01T00:00:00Z", "reason": "incorrect_data"}
    r = client.post("/events", headers=op,
                    content=orjson.dumps({**tf, "errorDeclaration": declaration}))
    assert r.status_code == 201 and r.json()["eventIDs"] == [event_hash(tf)], r.text
    marked = [e for e in exported() if event_hash(e) == event_hash(tf)]
    assert len(marked) == 1 and marked[0]["errorDeclaration"] == declaration
    assert event_hash(tf) not in {event_hash(e) for e in exported(declaredInError="false")}
    declared = _events(client, aud, EXISTS_errorDeclaration="")
    assert [event_hash(e) for e in declared] == [event_hash(tf)]
    assert client.get(r.headers["location"], headers=aud).json()["errorDeclaration"] \
        == declaration
