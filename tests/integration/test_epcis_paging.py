"""EPCIS 2.0 query paging on ``GET /events`` (the REST binding's ``perPage`` and
``nextPageToken``, the next page's URL in a ``Link: <…>; rel="next"`` header): the pages give
every event of the unpaged answer exactly once, in its order; a capture between pages neither
repeats nor skips an event of the paged answer; record-time bounds (read by transaction from
the store's index) answer what filtering every event by record time answers; a bad
``perPage`` or token is the structured QueryParameterException naming field, value and rule.
Captured EPCIS events (a GS1 example document) and the plant's own records (the plantlet's
native captures) together."""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ontology.datatypes import to_utc_text
from tests import plantlet
from tests.conftest import bearer, make_user, migrate
from tests.integration.test_epcis import CAPTURE
from tracegraph.runtime import Runtime

Json = dict[str, Any]
pytestmark = pytest.mark.skipif(not CAPTURE.is_dir(), reason="shared standards corpus absent")


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    plantlet.load(runtime)
    receipt(runtime, "RL-PP", "2026-02-20T07:00:00Z")
    make_user(runtime, "op.olsen", ["operator"])
    make_user(runtime, "aud.ames", ["auditor"])
    with TestClient(create_app(runtime.settings, runtime)) as c:
        doc = (CAPTURE / "Documents" / "Combination_of_different_event.json").read_bytes()
        assert c.post("/capture", content=doc, headers=bearer(c, "op.olsen")).status_code == 201
        yield c


def receipt(rt: Runtime, lot: str, at: str) -> None:
    """A lot of the plantlet's resin received at ``at`` (an ObjectEvent, receiving)."""
    props = {"receivedAt": at}
    if rt.store.get(rt.vocab.mint_iri("MaterialLot", lot)) is None:
        props |= {"supplierLotNumber": f"S-{lot}", "quantity": 100, "unitCode": "kg",
                  "expiryDate": "2027-03-01", "materialLotStatus": "Approved"}
    migrate(rt, {"format": "tracegraph.capture/1", "events": [{
        "eventId": f"receipt-{lot}", "reason": "goods receipt", "nodes": [
            {"class": "MaterialLot", "key": lot, "properties": props,
             "links": {"ofMaterial": "Material/PP-H350", "suppliedBy": "Supplier/SUP-PP"}}]}]})


def order(e: Json) -> tuple[str, str]:
    return to_utc_text(e["eventTime"]), e["eventID"]


def answer(r: Any) -> list[Json]:
    assert r.status_code == 200, r.text
    return r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]  # type: ignore[no-any-return]  # an EPCISQueryDocument


def query(c: TestClient, **params: Any) -> list[Json]:
    return answer(c.get("/events", params=params, headers=bearer(c, "aud.ames")))


def next_url(r: Any) -> str | None:
    link = r.headers.get("link")
    if link is None:
        return None
    m = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert m, link
    return m.group(1)


def pages(c: TestClient, per_page: int, **params: Any) -> list[list[Json]]:
    h = bearer(c, "aud.ames")
    r = c.get("/events", params={**params, "perPage": per_page}, headers=h)
    out = [answer(r)]
    while (url := next_url(r)) is not None:
        r = c.get(url, headers=h)
        out.append(answer(r))
    return out


def test_pages_give_every_event_once_in_the_unpaged_order(client: TestClient) -> None:
    whole = query(client)
    assert len(whole) >= 12
    assert {e["type"] for e in whole} >= {"ObjectEvent", "TransformationEvent",
                                          "AggregationEvent"}
    assert whole == sorted(whole, key=order)  # event time, ties by event ID
    assert len({e["eventID"] for e in whole}) == len(whole)
    for n in (1, 4, len(whole) - 1, len(whole), len(whole) + 5):
        got = pages(client, n)
        assert [e for p in got for e in p] == whole, n
        assert [len(p) for p in got] == \
            [n] * (len(whole) // n) + ([len(whole) % n] if len(whole) % n else []), n
        assert len(got) == math.ceil(len(whole) / n)
    # filters and the total limit page the same way
    objects = query(client, eventType="ObjectEvent")
    assert [e for p in pages(client, 2, eventType="ObjectEvent") for e in p] == objects
    assert [len(p) for p in pages(client, 2, eventCountLimit=5)] == [2, 2, 1]
    assert [e for p in pages(client, 2, eventCountLimit=5) for e in p] == whole[:5]


def test_a_capture_between_pages_neither_repeats_nor_skips(client: TestClient,
                                                            runtime: Runtime) -> None:
    h = bearer(client, "aud.ames")
    whole = query(client)
    r = client.get("/events", params={"perPage": 3}, headers=h)
    got = answer(r)
    # between pages: one receipt sorts before everything, one after (event time)
    receipt(runtime, "RL-EARLY", "2020-01-01T00:00:00Z")
    receipt(runtime, "RL-LATE", "2026-11-30T00:00:00Z")
    while (url := next_url(r)) is not None:
        r = client.get(url, headers=h)
        got.extend(answer(r))
    assert got == whole
    now = query(client)
    assert len(now) == len(whole) + 2
    new = [e for e in now if e not in whole]
    assert [e["quantityList"][0]["epcClass"].rsplit("/", 1)[1] for e in new] == \
        ["RL-EARLY", "RL-LATE"]
    assert now == sorted(now, key=order)
    assert [e for p in pages(client, 5) for e in p] == now  # a new paged query sees them


def test_record_time_bounds_answer_what_filtering_by_record_time_answers(
        client: TestClient, runtime: Runtime) -> None:
    receipt(runtime, "RL-LATER", "2026-03-01T00:00:00Z")
    whole = query(client)
    times = sorted({e["recordTime"] for e in whole})
    assert len(times) >= 4
    for t in times:
        assert query(client, GE_recordTime=t) == [e for e in whole if e["recordTime"] >= t], t
        assert query(client, LT_recordTime=t) == [e for e in whole if e["recordTime"] < t], t
    t = times[len(times) // 2]
    assert [e for p in pages(client, 2, GE_recordTime=t) for e in p] == \
        [e for e in whole if e["recordTime"] >= t]


@pytest.mark.parametrize(("field", "value"), [
    ("perPage", "0"), ("perPage", "-1"), ("perPage", "x"), ("perPage", "1.5"),
    ("perPage", "10001"), ("nextPageToken", "not a token"), ("nextPageToken", "e30"),
    ("nextPageToken", base64.urlsafe_b64encode(b'[1, "a", "b", "c", 0, "q"]').decode())])
def test_a_bad_page_size_or_token_is_refused_naming_it(client: TestClient, field: str,
                                                       value: str) -> None:
    r = client.get("/events", params={field: value}, headers=bearer(client, "aud.ames"))
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["type"] == "epcisException:QueryParameterException"
    (p,) = body["problems"]
    assert p["field"] == field and p["rule"]
    assert p["value"] == value or p["value"].startswith(value[:24] + "…")  # echoes are clipped


def test_a_token_serves_only_the_query_it_came_from(client: TestClient) -> None:
    h = bearer(client, "aud.ames")
    r = client.get("/events", params={"perPage": 2, "eventType": "ObjectEvent"}, headers=h)
    url = next_url(r)
    assert url is not None
    token = re.search(r"nextPageToken=([^&]+)", url).group(1)  # type: ignore[union-attr]  # in the link
    other = client.get("/events", params={"perPage": 2, "eventType": "AggregationEvent",
                                          "nextPageToken": token}, headers=h)
    assert other.status_code == 400
    assert other.json()["problems"][0]["field"] == "nextPageToken"
    raw = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[5] = "0" * 16  # another query's digest
    forged = base64.urlsafe_b64encode(orjson.dumps(raw)).decode().rstrip("=")
    bad = client.get("/events", params={"perPage": 2, "eventType": "ObjectEvent",
                                        "nextPageToken": forged}, headers=h)
    assert bad.status_code == 400 and bad.json()["problems"][0]["field"] == "nextPageToken"
    # the same token with the same query (perPage may change) goes on
    assert client.get("/events", params={"perPage": 5, "eventType": "ObjectEvent",
                                         "nextPageToken": token}, headers=h).status_code == 200
