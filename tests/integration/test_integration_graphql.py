"""GraphQL surface of the integration events (issue 18 item 6): ``integrationEvents`` answers
exactly what :func:`graph.integration.events_since` reads (the REST route, the webhooks and the
CLI read the same), pages by cursor and filters by type; ``webhookSubscriptions`` is the
administrator's alone and never carries the signing secret."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from graph.integration import events_since
from ontology.codes import IntegrationEventType as T
from ontology.codes import RoleName
from tests.conftest import bearer, make_user
from tests.integration.test_integration_events import EXPECTED, SECRET, _workflow, capture_as_admin
from tests.rules_plant import plant
from tracegraph.integration import DeliveryState, state_path
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

EVENTS = """query($after: Int!, $first: Int!, $types: [String!]) {
  integrationEvents(after: $after, first: $first, types: $types) {
    next types events { id cursor type at actor reason record key class field from to tx
                        writeEvent } } }"""
SUBSCRIPTIONS = "{ webhookSubscriptions { key endpoint active cursor failures lastError } }"


@pytest.fixture
def client(runtime: Runtime) -> Any:
    plant(runtime)
    for name, role in (("q.c", RoleName.QC), ("q.a", RoleName.QA), ("op", RoleName.OPERATOR),
                       ("adm", RoleName.ADMIN), ("aud", RoleName.AUDITOR)):
        make_user(runtime, name, [role])
    runtime.settings = Settings(data_dir=runtime.settings.data_dir, webhook_secret=SECRET)
    with TestClient(create_app(runtime.settings, runtime)) as c:
        yield c, runtime


def _gql(c: TestClient, who: dict[str, str], query: str, **vs: Any) -> dict[str, Any]:
    body: dict[str, Any] = c.post("/graphql", json={"query": query, "variables": vs},
                                  headers=who).json()
    return body


def _plain(e: Any) -> dict[str, Any]:
    """An event as JSON carries it (the reference: events_since itself)."""
    out: dict[str, Any] = orjson.loads(orjson.dumps(e.as_dict()))
    return out


@pytest.mark.req("URS-INT-01")
def test_graphql_events_are_the_events_since_a_cursor_paged_and_filtered(client: Any) -> None:
    c, rt = client
    assert _workflow(rt) == EXPECTED  # deviations raised and advanced, a hold opened, disposed
    reference, head = events_since(rt.store, rt.vocab, 0)
    assert [(e.type, e.key) for e in reference] == EXPECTED
    for role in ("q.c", "q.a", "aud", "adm"):
        got = _gql(c, bearer(c, role), EVENTS, after=0, first=100)
        page = got["data"]["integrationEvents"]
        assert page["events"] == [_plain(e) for e in reference], role
        assert page["next"] == head and T.HOLD_DISPOSED in page["types"]
    qc = bearer(c, "q.c")
    # paged two at a time by the returned cursor: the same events, in order
    paged, cursor = [], 0
    while True:
        page = _gql(c, qc, EVENTS, after=cursor, first=2)["data"]["integrationEvents"]
        if not page["events"]:
            break
        assert len(page["events"]) <= 2
        paged += page["events"]
        cursor = page["next"]
    assert paged == [_plain(e) for e in reference]
    # after any event's cursor: exactly the events after it
    third = reference[2].cursor
    after = _gql(c, qc, EVENTS, after=third, first=100)["data"]["integrationEvents"]["events"]
    assert after == [_plain(e) for e in reference[3:]]
    # by type, one at a time: the hold events only, and the cursor continues past them
    holds = {T.HOLD_OPENED, T.HOLD_DISPOSED}
    first = _gql(c, qc, EVENTS, after=0, first=1, types=sorted(holds))["data"]
    first_page = first["integrationEvents"]
    assert [e["key"] for e in first_page["events"]] == ["HLD-1"]
    assert first_page["events"][0]["type"] == T.HOLD_OPENED
    rest = _gql(c, qc, EVENTS, after=first_page["next"], first=1,
                types=sorted(holds))["data"]["integrationEvents"]["events"]
    assert [(e["type"], e["key"]) for e in rest] == [(T.HOLD_DISPOSED, "HLD-1")]
    # nothing after the last cursor
    assert _gql(c, qc, EVENTS, after=head, first=100)["data"]["integrationEvents"][
        "events"] == []


@pytest.mark.req("URS-INT-01")
def test_bad_cursor_page_or_type_is_bad_input_naming_the_field(client: Any) -> None:
    c, _rt = client
    qc = bearer(c, "q.c")
    for vs, field in (({"after": -1, "first": 5}, "after"),
                      ({"after": 0, "first": 100_000}, "first"),
                      ({"after": 0, "first": 5, "types": ["batchExploded"]}, "types")):
        errors = _gql(c, qc, EVENTS, **vs)["errors"]
        assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in errors] == [
            ("BAD_INPUT", field)], vs


@pytest.mark.req("URS-INT-01", "URS-ACC-01")
def test_operator_is_refused_and_admin_and_auditor_see_subscriptions_without_the_secret(
        client: Any) -> None:
    c, rt = client
    _workflow(rt)
    op, qc, aud, adm = (bearer(c, u) for u in ("op", "q.c", "aud", "adm"))
    refused = _gql(c, op, EVENTS, after=0, first=100)
    assert refused.get("data") is None or refused["data"].get("integrationEvents") is None
    assert {e["extensions"]["code"] for e in refused["errors"]} == {"FORBIDDEN"}
    capture_as_admin(rt, "QMS", "https://qms.example.org/hook")
    capture_as_admin(rt, "ERP", "https://erp.example.org/hook")
    head = events_since(rt.store, rt.vocab, 0)[0][-1].cursor
    state = DeliveryState(state_path(rt.settings.data_dir))
    try:
        state.advance("QMS", head)
        state.failed("ERP", "503 Service Unavailable")
    finally:
        state.close()
    for who in (op, qc):
        body = _gql(c, who, SUBSCRIPTIONS)
        assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
        assert not (body.get("data") or {}).get("webhookSubscriptions")
    # the auditor reads the configuration (where records go), as the administrator does
    seen = c.post("/graphql", json={"query": SUBSCRIPTIONS}, headers=aud)
    assert SECRET not in seen.text
    raw = c.post("/graphql", json={"query": SUBSCRIPTIONS}, headers=adm)
    assert seen.json() == raw.json()
    subs = raw.json()["data"]["webhookSubscriptions"]
    assert subs == [
        {"key": "ERP", "endpoint": "https://erp.example.org/hook", "active": True,
         "cursor": 0, "failures": 1, "lastError": "503 Service Unavailable"},
        {"key": "QMS", "endpoint": "https://qms.example.org/hook", "active": True,
         "cursor": head, "failures": 0, "lastError": None}]
    assert SECRET not in raw.text
    # nor can a query ask for one: the type has no such field
    probe = _gql(c, adm, "{ webhookSubscriptions { key secret } }")
    assert probe["errors"] and SECRET not in orjson.dumps(probe).decode()
