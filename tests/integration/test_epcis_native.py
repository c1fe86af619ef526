"""EPCIS 2.0 for the plant's own records (issue 18 item 6): receipts, production, aggregation and
shipping captured in the native format answer ``GET /events`` and ``/epcis/genealogy`` as EPCIS
events that validate against GS1's JSON schema (read as-is from the shared standards corpus),
and a partner can capture the export (a fresh store then has the same genealogy)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft7Validator  # type: ignore[import-untyped]  # jsonschema ships no type hints
from referencing import Registry, Resource

from api.app import create_app
from graph.model import Direction
from ingest.epcis import capture_epcis
from tests import plantlet
from tests.conftest import bearer, make_user
from tracegraph.runtime import Runtime

GS1 = Path("/work/shared/standards/gs1-epcis/JSON-Schema")
if not GS1.exists():  # the worktree's view of ../shared
    GS1 = Path(__file__).resolve().parents[3] / "shared" / "standards" / "gs1-epcis" / "JSON-Schema"
DL = "https://id.gs1.org"
SN = {i: f"{DL}/01/09506000134352/21/SN-{i}" for i in (1, 2, 3)}
CASE = f"{DL}/00/095060001000000012"
RECEIPTS = {"RL-PP": "2026-02-20T07:00:00Z", "RL-TUBE": "2026-02-21T07:00:00Z"}


def gs1_validator() -> Draft7Validator:
    """GS1's EPCIS 2.0 document schema, every file as published (no format checks added)."""
    registry: Registry[Any] = Registry()
    for f in sorted([*GS1.glob("*.json"), *(GS1 / "schemas").glob("*.json")]):
        schema = orjson.loads(f.read_bytes())
        if "$id" in schema:
            registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
    root = orjson.loads((GS1 / "EPCIS-JSON-Schema-root.json").read_bytes())
    return Draft7Validator(root, registry=registry)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    plantlet.load(runtime)  # native captures only: no EPCIS document anywhere
    runtime.capture({"format": "tracegraph.capture/1", "events": [{
        "eventId": "receipts", "reason": "goods receipt", "nodes": [
            {"class": "MaterialLot", "key": k, "properties": {"receivedAt": t}}
            for k, t in RECEIPTS.items()]}]})
    make_user(runtime, "aud.ames", ["auditor"])
    with TestClient(create_app(runtime.settings, runtime)) as c:
        yield c


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iri(rt: Runtime, cls: str, key: str) -> str:
    return rt.vocab.mint_iri(cls, key)


def expected_events(rt: Runtime) -> set[tuple[Any, ...]]:
    """The events the plantlet's capture documents imply, read from the documents themselves:
    (type, bizStep, inputs, outputs) with things as identifiers."""
    lot = {"RL-PP": _iri(rt, "MaterialLot", "RL-PP"), "RL-TUBE": _iri(rt, "MaterialLot",
                                                                     "RL-TUBE"),
           "B-MOULD": f"{DL}/01/09506000134369/10/B-MOULD",
           "B-ASSY": f"{DL}/01/09506000134352/10/B-ASSY"}
    out: set[tuple[Any, ...]] = {("ObjectEvent", "receiving", (), ((lot[k], None),))
                                 for k in RECEIPTS}
    into: dict[str, list[tuple[str, Any]]] = {}
    made: list[str] = []
    took = 0.0
    packed: list[str] = []
    shipped: list[str] = []
    units = {f"SerializedUnit/SN-{i}": SN[i] for i in (1, 2, 3)}
    rec20 = {"kg": "KGM", "m": "MTR", "{pc}": "H87"}
    for doc in (plantlet.execution(), plantlet.shipping()):
        for ev in doc["events"]:
            for d in ev.get("derivations", []):
                src = d["input"].split("/", 1)[1]
                if d["kind"] == "consumption":
                    into.setdefault(d["output"].split("/", 1)[1], []).append(
                        (lot[src], (float(d["quantity"]), rec20[d["unit"]])))
                elif d["kind"] == "production":
                    made.append(units[d["output"]])
                    took += d["quantity"]
                elif d["kind"] == "aggregation":
                    packed.append(units[d["input"]])
                elif d["kind"] == "shipment":
                    shipped.append(CASE)
    for batch, inputs in into.items():
        out.add(("TransformationEvent", "creating_class_instance", tuple(sorted(inputs)),
                 ((lot[batch], None),)))
    out.add(("TransformationEvent", "commissioning", ((lot["B-ASSY"], (took, "H87")),),
             tuple(sorted((u, None) for u in made))))
    out.add(("AggregationEvent", "packing", tuple(sorted((u, None) for u in packed)),
             ((CASE, None),)))
    out.add(("ObjectEvent", "shipping", tuple((s, None) for s in shipped), ()))
    return out


def _things(ev: dict[str, Any], epcs: str, quantities: str) -> list[tuple[str, Any]]:
    return [(e, None) for e in ev.get(epcs, [])] + [
        (q["epcClass"], (q["quantity"], q["uom"]) if "quantity" in q else None)
        for q in ev.get(quantities, [])]


def shape(ev: dict[str, Any]) -> tuple[Any, ...]:
    t = ev["type"]
    if t == "TransformationEvent":
        ins = _things(ev, "inputEPCList", "inputQuantityList")
        outs = _things(ev, "outputEPCList", "outputQuantityList")
    elif t == "AggregationEvent":
        ins, outs = _things(ev, "childEPCs", "childQuantityList"), [(ev["parentID"], None)]
    elif ev["bizStep"] == "receiving":
        ins, outs = [], [(q["epcClass"], None) for q in ev["quantityList"]]
    else:
        ins, outs = _things(ev, "epcList", "quantityList"), []
    return (t, ev["bizStep"], tuple(sorted(ins)), tuple(sorted(outs)))


@pytest.mark.req("URS-DATA-02")
def test_native_records_export_as_gs1_valid_epcis_events(client: TestClient,
                                                         runtime: Runtime) -> None:
    aud = bearer(client, "aud.ames")
    assert runtime.store.nodes_of_class("EPCISEvent") == []
    g = client.get("/epcis/genealogy", params={"of": "SN-1"}, headers=aud)
    assert g.status_code == 200, g.text
    doc = g.json()
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in gs1_validator().iter_errors(doc)]
    assert not errors, errors
    events = doc["epcisBody"]["eventList"]
    assert {shape(e) for e in events} == expected_events(runtime)
    assert len(events) == len(expected_events(runtime))
    ship = next(e for e in events if e["bizStep"] == "shipping")
    assert ship["destinationList"] == [{"type": "owning_party",
                                        "destination": _iri(runtime, "Customer", "HOSP-1")}]
    receipt = next(e for e in events if e["bizStep"] == "receiving"
                   and e["quantityList"][0]["epcClass"].endswith("RL-PP"))
    assert receipt["quantityList"][0] == {"epcClass": _iri(runtime, "MaterialLot", "RL-PP"),
                                          "quantity": 500, "uom": "KGM"}
    assert _at(receipt["eventTime"]) == _at(RECEIPTS["RL-PP"])
    assert receipt["sourceList"][0]["source"] == _iri(runtime, "Supplier", "SUP-PP")
    # the query interface answers the same events, and its filters apply to them
    q = client.get("/events", headers=aud).json()
    assert not list(gs1_validator().iter_errors({**q, "type": "EPCISDocument", "epcisBody": {
        "eventList": q["epcisBody"]["queryResults"]["resultsBody"]["eventList"]}}))
    found = q["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert {e["eventID"] for e in found} == {e["eventID"] for e in events}

    def ids(**params: str) -> set[str]:
        r = client.get("/events", params=params, headers=aud)
        assert r.status_code == 200, r.text
        return {e["eventID"] for e in r.json()["epcisBody"]["queryResults"]["resultsBody"][
            "eventList"]}

    assert ids(eventType="AggregationEvent") == {e["eventID"] for e in events
                                                 if e["type"] == "AggregationEvent"}
    assert ids(MATCH_anyEPC=SN[2]) == {e["eventID"] for e in events if SN[2] in
                                       e.get("childEPCs", []) + e.get("outputEPCList", [])}
    assert ids(EQ_bizStep="shipping") == {ship["eventID"]}
    assert ids(GE_eventTime="2026-03-05T00:00:00Z", LT_eventTime="2026-03-06T00:00:00+00:00"
               ) == {ship["eventID"]}
    # stable: the same records export the same event IDs
    again = client.get("/epcis/genealogy", params={"of": "SN-1"}, headers=aud).json()
    assert [e["eventID"] for e in again["epcisBody"]["eventList"]] == [
        e["eventID"] for e in events]



@pytest.mark.req("URS-DATA-02")
def test_a_partner_captures_the_export_and_gets_the_same_genealogy(
        client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    aud = bearer(client, "aud.ames")
    doc = client.get("/epcis/genealogy", params={"of": "SN-1"}, headers=aud).content
    from graph.engines.sqlite.store import SQLiteStore
    from tracegraph.settings import Settings

    partner = Runtime.open(Settings(data_dir=tmp_path / "partner"),
                           store=SQLiteStore(tmp_path / "partner.sqlite"))
    try:
        capture_epcis(partner.writer, partner.store, partner.vocab, doc, "partner")
        seed = partner.vocab.mint_iri("EPCISObject", SN[1])
        walk = partner.store.genealogy([seed], Direction.UPSTREAM, 50)
        reached = {partner.store.get(i).key for i in walk.nodes}  # type: ignore[union-attr]  # nodes of the walk exist
        # SN-1 ← B-ASSY ← B-MOULD ← RL-PP, and ← RL-TUBE: the plant's genealogy, by identifier
        assert {f"{DL}/01/09506000134352/10/B-ASSY", f"{DL}/01/09506000134369/10/B-MOULD",
                _iri(runtime, "MaterialLot", "RL-PP"),
                _iri(runtime, "MaterialLot", "RL-TUBE")} <= reached, reached
    finally:
        partner.close()


@pytest.mark.req("URS-DATA-02")
@pytest.mark.parametrize("element", [
    "(01)09506000134352(21)SN-1", "(00)095060001000000012", "(01)09506000134369(10)B-MOULD",
    "(01)09506000134352(21)A.b_c-9", "(01)09506000134352(10)LOT/1", "(01)09506000134352(21)x%y",
    "(01)09506000134352(10)ABCDEFGHIJKLMNOPQRST"])
def test_the_digital_link_fast_path_equals_the_gs1_parser(element: str) -> None:
    from graph.identifiers.gs1 import parse_identifier, to_digital_link
    from ingest.epcis_native import _digital_link

    assert _digital_link(element) == to_digital_link(parse_identifier(element))
