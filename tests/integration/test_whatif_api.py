"""What-if recall and proof of non-exposure over GraphQL (issue 18 item 3), on the plantlet:
resin lot RL-PP → moulded batch B-MOULD → assembly B-ASSY (with tube lot RL-TUBE) → SN-1..3 →
case → SHIP-1 → HOSP-1. Which lot is upstream of what is read off the plantlet's documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests import plantlet
from tests.conftest import bearer, make_user, migrate
from tracegraph.runtime import Runtime

WHAT_IF = """query($hs: [HypothesisInput!]!) { whatIf(hypotheses: $hs) {
  watermark scopes { name spec counts { label count } items(class: "SerializedUnit") }
  shared { label count } sharedItems(class: "Batch")
  adds { name counts { label count } items(class: "MaterialLot") } union { label count } } }"""
PROVE = """mutation($h: HypothesisInput!, $t: String!, $pw: String!) {
  proveNonExposure(hypothesis: $h, item: $t, password: $pw, reason: "recall scoping") {
    ok problems { rule field value message }
    proof { number intact document signatures { username meaning valid } }
    finding { exposed witness shares { seed fraction } statement } } }"""
TUBE = {"name": "tube", "spec": "lot:RL-TUBE"}


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    migrate(runtime, *plantlet.documents())
    for name, role in (("qa.quinn", "qa"), ("op.otto", "operator"), ("eng.ellis", "engineer")):
        make_user(runtime, name, [role])
    with TestClient(create_app(runtime.settings, runtime)) as c:
        yield c


def gql(c: TestClient, who: str, query: str, **variables: Any) -> dict[str, Any]:
    r = c.post("/graphql", json={"query": query, "variables": variables},
               headers=bearer(c, who))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]  # JSON body of a GraphQL answer


@pytest.mark.req("URS-TRC-02")
def test_two_hypotheses_side_by_side(client: TestClient) -> None:
    r = gql(client, "eng.ellis", WHAT_IF, hs=[
        {"name": "resin", "seeds": [{"kind": "lot", "ref": "PA-778"}]}, TUBE])
    assert "errors" not in r, r
    w = r["data"]["whatIf"]
    resin, tube = w["scopes"]
    assert tube["spec"] == "tube=lot:RL-TUBE" and len(tube["items"]) == 3
    assert resin["spec"] == "resin=lot:PA-778" and len(resin["items"]) == 3
    shared = {s["label"]: s["count"] for s in w["shared"]}
    assert shared == {"Batch": 1, "Customer": 1, "PackagingAggregation": 1,
                      "SerializedUnit": 3, "Shipment": 1}
    assert [b.rsplit("/", 1)[1] for b in w["sharedItems"]] == ["B-ASSY"]
    adds = {a["name"]: a for a in w["adds"]}
    assert {s["label"]: s["count"] for s in adds["resin"]["counts"]} == {"Batch": 1,
                                                                       "MaterialLot": 1}
    assert [x.rsplit("/", 1)[1] for x in adds["tube"]["items"]] == ["RL-TUBE"]


def test_bad_hypothesis_is_a_structured_error(client: TestClient) -> None:
    r = gql(client, "eng.ellis", WHAT_IF, hs=[{"name": "uv", "seeds": [
        {"kind": "equipment", "ref": "IMM-01"}]}])
    [err] = r["errors"]
    assert err["extensions"]["code"] == "BAD_INPUT" and err["extensions"]["field"] == "seed"
    assert "window-required" in err["message"]


@pytest.mark.req("URS-TRC-02", "URS-ACC-01")
def test_proof_outside_refusal_inside_and_operator_refused(client: TestClient) -> None:
    ok = gql(client, "qa.quinn", PROVE, h=TUBE, t="B-MOULD", pw="correct horse battery staple")
    p = ok["data"]["proveNonExposure"]
    assert p["ok"] and p["proof"]["intact"] and p["proof"]["document"]["exposed"] is False
    assert p["proof"]["signatures"] == [{"username": "qa.quinn", "meaning": "verified",
                                         "valid": True}]
    assert p["proof"]["document"]["examined"]["upstreamNodes"] == 2  # B-MOULD and RL-PP

    inside = gql(client, "qa.quinn", PROVE, h=TUBE, t="SN-1",
                 pw="correct horse battery staple")["data"]["proveNonExposure"]
    assert not inside["ok"] and inside["proof"] is None
    assert inside["problems"][0]["rule"] == "exposed"
    f = inside["finding"]
    assert [x.rsplit("/", 1)[1] for x in f["witness"]] == ["RL-TUBE", "B-ASSY", "SN-1"]
    [share] = f["shares"]
    assert share["fraction"] is not None and 0 < share["fraction"] <= 1

    for who in ("op.otto", "eng.ellis"):  # attacker: only QA may prove
        r = gql(client, who, PROVE, h=TUBE, t="B-MOULD", pw="correct horse battery staple")
        assert r["data"] is None and r["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    e = gql(client, "eng.ellis", """{ exposure(hypothesis: {name: "tube", spec: "lot:RL-TUBE"},
      item: "HOSP-1") { exposed witness statement } }""")["data"]["exposure"]
    assert e["exposed"] and e["witness"][-1].endswith("Customer/HOSP-1")
