"""GraphQL over HTTP: capture, lookups and genealogy, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests import plantlet
from tracegraph.runtime import Runtime


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime.settings, runtime)) as c:
        yield c


def gql(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    r = client.post("/graphql", json={"query": query, "variables": variables})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


CAPTURE = """mutation($doc: JSON!) { capture(document: $doc) {
  ok eventsWritten eventsSkipped nodesCreated edgesCreated
  problems { rule message field value focus } } }"""


def test_capture_then_genealogy_over_graphql(client: TestClient) -> None:
    for doc in (plantlet.master_data(), plantlet.execution()):
        assert gql(client, CAPTURE, doc=doc)["data"]["capture"]["ok"] is True
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
    gql(client, CAPTURE, doc=plantlet.master_data())
    gql(client, CAPTURE, doc=plantlet.execution())
    n = gql(client, '{ node(id: "PA-778") { class key properties } }')["data"]["node"]
    assert (n["class"], n["key"]) == ("MaterialLot", "RL-PP")
    assert gql(client, '{ node(id: "NOPE") { key } }')["data"]["node"] is None
    r = gql(client, '{ genealogy(of: "NOPE") { watermark } }')
    assert r["data"] is None and "not found" in r["errors"][0]["message"]


def test_a_rejected_capture_lists_problems_and_writes_nothing(client: TestClient) -> None:
    doc = plantlet.master_data()
    doc["events"][0]["nodes"][4]["properties"]["gtin"] = "not-a-gtin"
    res = gql(client, CAPTURE, doc=doc)["data"]["capture"]
    assert res["ok"] is False
    assert any(p["field"] == "gtin" and p["value"] == "not-a-gtin" for p in res["problems"])
    assert client.get("/health").json()["watermark"] == 0
