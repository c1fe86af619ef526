"""The worklists over GraphQL: Relay connections page by cursor to the same rows as the domain
list, and every wrong argument (a code outside its code list, a cursor, a sort field, a record
that does not exist) is a ``BAD_INPUT`` error naming that argument; "my work" answers for the
signed-in user's roles."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from quality import worklists as W
from tests import plantlet
from tests.conftest import bearer, make_user, migrate
from tracegraph.runtime import Runtime

PAGE_QUERY = """query($first: Int!, $after: String, $grade: [DeviationGrade!]) {
  deviations(first: $first, after: $after, grade: $grade, sortBy: "key") {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { key grade state owner } } } }"""


@pytest.fixture
def client(runtime: Runtime) -> Iterator[tuple[TestClient, dict[str, str], Runtime]]:
    plantlet.load(runtime)
    migrate(runtime, {"format": "tracegraph.capture/1", "events": [{
        "eventId": "api-devs", "reason": "fixture", "nodes": [
            {"class": "Deviation", "key": f"DEV-A-{i:02d}",
             "properties": {"title": f"d{i}", "description": "x", "deviationState": "Open",
                            "deviationGrade": ("minor", "major", "critical")[i % 3],
                            "openedAt": f"2026-03-{i + 1:02d}T08:00:00Z"},
             "links": {"concerns": ["Batch/B-MOULD"]}} for i in range(7)]}]})
    make_user(runtime, "w.qa", ["qa"])
    make_user(runtime, "w.op", ["operator"])
    with TestClient(create_app(runtime.settings, runtime)) as c:
        yield c, {"qa": bearer(c, "w.qa")["Authorization"],
                  "operator": bearer(c, "w.op")["Authorization"]}, runtime


def gql(c: tuple[TestClient, dict[str, str], Runtime], query: str, role: str = "qa",
        **variables: Any) -> dict[str, Any]:
    r = c[0].post("/graphql", json={"query": query, "variables": variables},
                  headers={"Authorization": c[1][role]})
    return dict(r.json())


def test_pages_by_cursor_to_the_rows_of_the_domain_list(
        client: tuple[TestClient, dict[str, str], Runtime]) -> None:
    keys, after, pages = [], None, 0
    while True:
        body = gql(client, PAGE_QUERY, first=3, after=after, grade=["major", "critical"])
        conn = body["data"]["deviations"]
        assert conn["pageInfo"]["hasPreviousPage"] == (after is not None)
        keys += [e["node"]["key"] for e in conn["edges"]]
        assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]
        pages += 1
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    want = [f"DEV-A-{i:02d}" for i in range(7) if i % 3]  # grades major and critical
    assert keys == want and conn["totalCount"] == len(want) and pages == 2
    domain = W.deviations(client[2], grades=["major", "critical"], first=50)
    assert {r.key for r in domain.rows} == set(want)


@pytest.mark.parametrize(("query", "variables", "field"), [
    ('{ deviations(grade: [severe]) { totalCount } }', {}, "grade"),
    ("query($s: [HoldState!]) { holds(state: $s) { totalCount } }", {"s": ["Frozen"]}, "state"),
    ('{ deviations(after: "bm90IGEgY3Vyc29y") { totalCount } }', {}, "after"),
    ('{ deviations(sortBy: "title") { totalCount } }', {}, "sortBy"),
    ('{ deviations(equipment: "NO-SUCH-TAG") { totalCount } }', {}, "equipment"),
    ('{ batches(product: "RL-PP") { totalCount } }', {}, "product"),
    ('{ holds(since: "yesterday") { totalCount } }', {}, "since"),
    ('{ capaActions(first: 100000) { totalCount } }', {}, "first"),
    ("{ changeRequests(awaitingRole: operator) { totalCount } }", {}, "awaitingRole"),
    ("{ myWork(first: -1) { username } }", {}, "first"),
])
def test_a_wrong_argument_is_bad_input_naming_it(
        client: tuple[TestClient, dict[str, str], Runtime], query: str,
        variables: dict[str, Any], field: str) -> None:
    body = gql(client, query, **variables)
    assert body.get("data") is None or not any((body.get("data") or {}).values())
    (err,) = body["errors"]
    assert err["extensions"]["code"] == "BAD_INPUT", err
    assert err["extensions"]["field"] == field and err["extensions"]["rule"], err


def test_a_cursor_of_another_order_is_bad_input(
        client: tuple[TestClient, dict[str, str], Runtime]) -> None:
    end = gql(client, PAGE_QUERY, first=2)["data"]["deviations"]["pageInfo"]["endCursor"]
    body = gql(client, 'query($a: String) { deviations(after: $a, sortBy: "grade") '
                       "{ totalCount } }", a=end)
    assert body["errors"][0]["extensions"]["field"] == "after"


def test_my_work_is_by_the_signed_in_users_roles(
        client: tuple[TestClient, dict[str, str], Runtime]) -> None:
    q = ("{ myWork { username roles sections { kind total items { key } } "
         "plant { openDeviations } } }")
    qa = gql(client, q)["data"]["myWork"]
    assert qa["username"] == "w.qa" and qa["roles"] == ["qa"]
    sections = {s["kind"]: s for s in qa["sections"]}
    assert sections["deviations"]["total"] == 7  # all Open: QA triages them
    assert len(sections["deviations"]["items"]) == 7
    assert qa["plant"]["openDeviations"] == 7
    op = gql(client, q, role="operator")["data"]["myWork"]
    assert op["sections"] == [] and op["plant"]["openDeviations"] == 7
