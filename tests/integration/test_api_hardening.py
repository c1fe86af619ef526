"""Hostile requests, on both engines, in production mode: oversized bodies are refused before
parsing, malformed JSON is a structured 400 naming the problem (never a 500 or a masked
"Internal error."), a fragment-doubling query is refused by the cost estimate, a document with
several operations must name one, the schema is not leaked through suggestions, and nothing a
client sends is echoed or logged whole."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from bench.api_stall import doubling
from tests.conftest import bearer, make_user
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

LIMIT = 300_000  # a small GraphQL body limit keeps the oversized bodies cheap to send
JSON = {"content-type": "application/json"}
CAPTURE = "mutation($d: JSON!) { capture(document: $d) { ok } }"
FIND = "query($v: String!) { find(value: $v) { key } }"


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    prod = Settings(data_dir=runtime.settings.data_dir, env="production",
                    max_request_bytes=LIMIT, max_upload_bytes=4 * LIMIT)
    make_user(runtime, "eng.ellis", ["engineer"])
    with TestClient(create_app(prod, runtime), raise_server_exceptions=False) as c:
        c.headers.update(bearer(c, "eng.ellis"))
        yield c


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.req("URS-SEC-01")
def test_bodies_over_the_limit_are_refused_before_parsing(client: TestClient) -> None:
    big = '{"query": "{ me { username } }", "pad": "' + "x" * LIMIT + '"}'
    r = client.post("/graphql", content=big, headers=JSON)
    assert r.status_code == 413 and r.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the stream itself is counted
        yield b'{"query": "{ me { username } }", "pad": "'
        for _ in range(20):
            yield b"x" * (LIMIT // 10)
        yield b'"}'

    assert client.post("/graphql", content=chunks(), headers=JSON).status_code == 413
    # capture uploads have their own, larger limit: the same body reaches the route
    r = client.post("/capture", content=big, headers=JSON)
    assert r.status_code == 400 and "ValidationException" in r.text, r.text


GRAPHQL_BAD = [
    ('{"query": "{ me { username } }", "variables": {"d": ' + "[" * 100_000 + "]" * 100_000
     + "}}", "json-depth"),
    ('{"query": "' + CAPTURE + '", "variables": {"d": ' + nested(5_000) + "}}", "json-depth"),
    (b'{"query": "{ me { username } }", "x": "\xff\xfe"}', "json-utf8"),
    ('{"query": "' + FIND + '", "variables": {"v": "\\ud800"}}', "json-text"),
    ('{"query": "' + CAPTURE + '", "variables": {"d": {"n": 1' + "0" * 400 + "}}}",
     "json-integer"),
    ('{"query": "' + CAPTURE + '", "variables": {"d": {"q": 1e400}}}', "json-number"),
]


@pytest.mark.parametrize(("body", "rule"), GRAPHQL_BAD)
@pytest.mark.req("URS-SEC-01", "URS-DATA-01")
def test_malformed_json_is_a_bad_input_naming_the_problem(client: TestClient, body: Any,
                                                          rule: str) -> None:
    r = client.post("/graphql", content=body, headers=JSON)
    assert r.status_code == 400, r.text
    [err] = r.json()["errors"]
    assert err["extensions"]["code"] == "BAD_INPUT" and err["extensions"]["rule"] == rule
    assert "Internal error" not in err["message"]
    epcis = client.post("/capture", content=body, headers=JSON)  # the same for capture
    assert epcis.status_code == 400 and epcis.json()["detail"]["rule"] == rule


def test_a_lone_surrogate_in_a_query_literal_is_a_syntax_error(client: TestClient) -> None:
    r = client.post("/graphql", json={"query": '{ find(value: "\\ud800") { key } }'})
    [err] = r.json()["errors"]
    assert "Invalid Unicode escape" in err["message"]


@pytest.mark.parametrize("levels", [21, 100])
@pytest.mark.req("URS-SEC-01")
def test_fragment_doubling_is_refused_by_the_cost_estimate(client: TestClient,
                                                           levels: int) -> None:
    body = client.post("/graphql", json={"query": doubling(levels)}).json()
    assert body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["COST_LIMIT"], body
    assert len(body["errors"][0]["message"]) < 200  # 2**100 is not spelled out


def test_several_operations_need_an_operation_name(client: TestClient) -> None:
    for doc in (" ".join(["{ me { username } }"] * 300),
                "query A { me { username } } query B { stats { label } }"):
        body = client.post("/graphql", json={"query": doc}).json()
        assert body.get("data") is None
        [err] = body["errors"]
        assert err["extensions"]["code"] == "BAD_INPUT"
        assert err["extensions"]["field"] == "operationName"
    named = client.post("/graphql", json={
        "query": "query A { me { username } } query B { stats { label } }",
        "operationName": "A"}).json()
    assert named["data"] == {"me": {"username": "eng.ellis"}}


@pytest.mark.req("URS-SEC-01")
def test_production_does_not_suggest_field_names(client: TestClient) -> None:
    [err] = client.post("/graphql", json={"query": "{ stat { label } }"}).json()["errors"]
    assert "stat" in err["message"] and "Did you mean" not in err["message"]


def test_echoed_and_logged_values_are_clipped(client: TestClient,
                                              caplog: pytest.LogCaptureFixture) -> None:
    huge = "S" * 1_000_000
    r = client.post("/api/recall", json={"seeds": [huge]})
    assert r.status_code == 404 and len(r.content) < 2_000
    assert r.json()["detail"]["unknownSeeds"][0].startswith("SSSS")
    with caplog.at_level(logging.ERROR, logger="strawberry.execution"):
        body = client.post("/graphql", json={
            "query": "query($v: String!) { genealogy(of: $v) { nodeCount } }",
            "variables": {"v": huge[:LIMIT // 2]}}).json()
    [err] = body["errors"]
    assert err["extensions"]["code"] == "NOT_FOUND" and len(err["message"]) < 1_000
    assert caplog.records and all(len(r.getMessage()) < 10_000 for r in caplog.records)
