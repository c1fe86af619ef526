"""As known at (issue 18 item 4), on both engines: the graph as of a record time equals what
the store held at that time, node by node and property by property.

The reference is independent of :mod:`graph.as_of`: the demo plant's capture documents are
loaded in order (one event per document, so each is its own transaction) into a fresh store, and
at five record times the store's own current state — its node and edge tables, read before
anything later is written — is kept. After the whole plant is loaded, the answers as of each of
those record times must equal the kept state exactly: the same nodes (none recorded later),
class, key, every property, record times and transaction; the same edges with their
properties; the watermark of then.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from bench.plant import PLANT_MIGRATION, generate_plant
from graph.as_of import AsOfStore
from graph.errors import RefusedError
from graph.model import Direction, EdgeRecord, NodeRecord
from graph.port import GraphStore
from ontology.datatypes import TypeRuleError
from ontology.terms import C, P, R
from quality.edhr import batch_dhr
from quality.release import release_report
from tests.conftest import ENGINES, engine_store
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

#: where the five record times fall, as shares of the plant's events
CUTS = (0.15, 0.35, 0.55, 0.75, 0.92)


@dataclass
class Then:
    """The store as it stood after one event: its record time, watermark, nodes and edges."""

    at: str
    watermark: int
    nodes: dict[str, NodeRecord]
    edges: set[tuple[str, str, str, str]]
    edge_props: dict[tuple[str, str, str, str], tuple[object, str, int]]


def kept(store: GraphStore) -> Then:
    head_seq, _ = store.audit_head()
    (last,) = store.audit_entries(after_seq=head_seq - 1)
    edges = list(store.edges_by_source())
    return Then(last.at, store.watermark(), {n.iri: n for n in store.nodes_by_iri()},
                {(e.src, e.type, e.dst, e.eid) for e in edges},
                {(e.src, e.type, e.dst, e.eid): (e.props, e.recorded_at, e.tx) for e in edges})


@dataclass
class Plant:
    rt: Runtime
    thens: list[Then]


@pytest.fixture(scope="module", params=ENGINES)
def plant(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Plant]:
    tmp_path = tmp_path_factory.mktemp("as-of")
    rt = Runtime.open(Settings(data_dir=tmp_path),
                      store=engine_store(request, tmp_path / "s.sqlite"))
    events = [(doc, ev) for doc in generate_plant(size="demo", seed=7) for ev in doc["events"]]
    cuts = {int(len(events) * c) for c in CUTS}
    thens = []
    for i, (doc, ev) in enumerate(events):
        rt.capture({**doc, "events": [ev]}, migration=PLANT_MIGRATION)
        if i in cuts:
            thens.append(kept(rt.store))
    yield Plant(rt, thens)
    if request.param == "embedded":
        rt.store.close()


def edge_key(e: EdgeRecord) -> tuple[str, str, str, str]:
    return (e.src, e.type, e.dst, e.eid)


@pytest.mark.req("URS-AUD-03")
def test_answers_as_of_equal_the_store_as_it_stood_then(plant: Plant) -> None:
    st = plant.rt.store
    now = {n.iri: n for n in st.nodes_by_iri()}
    assert len(plant.thens) == 5
    changed_later = 0
    for then in plant.thens:
        view = AsOfStore(st, then.at)
        assert view.watermark() == then.watermark
        # every node of the plant, as one page: those recorded later do not appear
        got = view.get_many(sorted(now))
        assert sorted(got) == sorted(then.nodes)
        for iri, want in then.nodes.items():
            n = got[iri]
            assert (n.label, n.key) == (want.label, want.key), iri
            assert n.props == want.props, iri  # property by property
            assert (n.recorded_at, n.updated_at, n.tx) == (
                want.recorded_at, want.updated_at, want.tx), iri
        changed_later += sum(now[i].props != w.props for i, w in then.nodes.items())
        # edges out of and into every node, with their properties
        out = view.links(sorted(now))
        assert {edge_key(e) for e in out} == then.edges
        assert {edge_key(e): (e.props, e.recorded_at, e.tx) for e in out} == then.edge_props
        into = view.links(sorted(now), None, Direction.DOWNSTREAM)
        assert {edge_key(e) for e in into} == then.edges
        # lookups and class lists: nothing recorded later
        units = view.nodes_of_class(C.SerializedUnit)
        assert [n.iri for n in units] == sorted(
            i for i, n in then.nodes.items() if n.label == C.SerializedUnit)
        assert all(n == then.nodes[n.iri] for n in units)
    assert changed_later > 50  # the test is not vacuous: many nodes changed after the cuts


@pytest.mark.req("URS-AUD-03")
def test_genealogy_and_recall_as_of_read_the_nodes_as_then(plant: Plant) -> None:
    st = plant.rt.store
    then = plant.thens[2]
    view = AsOfStore(st, then.at)
    batches = [n for n in then.nodes.values() if n.label == C.Batch]
    changed = [b for b in batches if st.get(b.iri).props != b.props]  # type: ignore[union-attr]  # stored
    assert changed, "some batch changed after the cut"
    b = changed[0]
    for direction in (Direction.UPSTREAM, Direction.DOWNSTREAM):
        g = view.genealogy([b.iri], direction)
        assert g.watermark == then.watermark
        assert all(n == then.nodes[i] for i, n in g.nodes.items())
        assert {edge_key(e) for e in g.edges} <= then.edges
    answer = plant.rt.as_of(then.at).recall([b.iri], unit_limit=10_000)
    assert answer.watermark == then.watermark
    units = [u for u in answer.units]
    assert units and all(u.iri in then.nodes for u in units)
    # a seed not yet recorded then is unknown, not traced
    later = next(i for i in sorted({n.iri for n in st.nodes_by_iri()} - set(then.nodes)))
    assert plant.rt.as_of(then.at).recall([later]).unknown_seeds == [later]


@pytest.mark.req("URS-AUD-03")
def test_release_report_and_edhr_as_of_show_the_status_then(plant: Plant) -> None:
    rt, st = plant.rt, plant.rt.store
    for then in plant.thens:
        moved = [n for n in then.nodes.values() if n.label == C.Batch
                 and st.get(n.iri).props.get(P.batchStatus) != n.props.get(P.batchStatus)]  # type: ignore[union-attr]  # stored
        if moved:
            break
    else:
        pytest.fail("no batch changed status after a cut")
    b = moved[0]
    past = rt.as_of(then.at)
    report = release_report(past, b.iri)
    assert (report.status, report.watermark) == (b.props.get(P.batchStatus), then.watermark)
    assert release_report(rt, b.iri).status == st.get(b.iri).props[P.batchStatus]  # type: ignore[union-attr]  # stored
    assert report.upstream and set(report.upstream) <= set(then.nodes)
    doc = batch_dhr(past, b.iri)
    assert doc["watermark"] == then.watermark
    assert doc["batch"]["status"] == b.props.get(P.batchStatus)
    assert doc["batch"]["quantityMade"] == b.props.get(P.quantity)
    ran = {e[0] for e in then.edges if e[1] == R.FOR_BATCH and e[2] == b.iri}
    assert {o["execution"] for o in doc["operations"]} == {then.nodes[x].key for x in ran}


def test_as_of_refuses_writes_and_bad_times(plant: Plant) -> None:
    rt = plant.rt
    past = rt.as_of(plant.thens[0].at)
    with pytest.raises(RefusedError, match="read-only"):
        past.capture({"format": "tracegraph.capture/1", "events": [{
            "eventId": "x", "reason": "r", "nodes": [{"class": "Site", "key": "S-X"}]}]})
    assert rt.store.find("S-X") == []
    with pytest.raises(TypeRuleError):
        rt.as_of("yesterday")
    with pytest.raises(TypeRuleError):
        rt.as_of("2026-03-01T00:00:00")  # no zone
    # before anything was recorded: an empty graph at watermark 0
    empty = AsOfStore(rt.store, "1970-01-01T00:00:00Z")
    assert empty.watermark() == 0 and empty.nodes_of_class(C.Batch) == []


def status_moved(plant: Plant) -> tuple[Then, NodeRecord]:
    """A record time and a batch (as it was then) whose status changed afterwards."""
    st = plant.rt.store
    for then in plant.thens:
        for n in sorted(then.nodes.values(), key=lambda n: n.key):
            now = st.get(n.iri)
            assert now is not None
            if n.label == C.Batch and now.props.get(P.batchStatus) != n.props.get(
                    P.batchStatus):
                return then, n
    raise AssertionError("no batch changed status after a cut")


@pytest.mark.req("URS-AUD-03")
def test_graphql_answers_as_of_state_the_record_time_and_watermark(plant: Plant) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.conftest import bearer, make_user

    rt = plant.rt
    then, b = status_moved(plant)
    if rt.store.find("a.reader") == []:
        make_user(rt, "a.reader", ["operator"])
    with TestClient(create_app(rt.settings, rt)) as c:
        h = bearer(c, "a.reader")

        def gql(query: str, **variables: Any) -> Any:
            body = c.post("/graphql", json={"query": query, "variables": variables},
                          headers=h).json()
            assert not body.get("errors"), body
            return body["data"]

        g = gql("""query($b: String!, $t: String) { genealogy(of: $b, direction: UPSTREAM,
                 asOf: $t) { watermark asOf nodes { node { iri properties links { type target } } }
                 } }""", b=b.key, t=then.at)["genealogy"]
        assert (g["watermark"], g["asOf"]) == (then.watermark, then.at)
        seed = next(n["node"] for n in g["nodes"] if n["node"]["iri"] == b.iri)
        assert seed["properties"]["batchStatus"] == b.props[P.batchStatus]
        assert {(e["type"], e["target"]) for e in seed["links"]} == {
            (t, d) for s, t, d, _ in then.edges if s == b.iri}
        now = gql("""query($b: String!) { genealogy(of: $b) { asOf nodes { node { iri
                   properties } } } }""", b=b.key)["genealogy"]
        assert now["asOf"] is None and next(
            n["node"] for n in now["nodes"] if n["node"]["iri"] == b.iri)["properties"][
                "batchStatus"] != b.props[P.batchStatus]

        k = gql("""query($b: String!, $t: String!) { knownAt(id: $b, asOf: $t) { asOf
                 watermark node { properties } links { source type target } } }""",
                b=b.key, t=then.at)["knownAt"]
        assert (k["asOf"], k["watermark"]) == (then.at, then.watermark)
        assert k["node"]["properties"] == orjson_roundtrip(b.props)
        assert {(e["source"], e["type"], e["target"]) for e in k["links"]} == {
            (s, t, d) for s, t, d, _ in then.edges if b.iri in (s, d)}
        later = sorted(set(rt.store.get_many([n.iri for n in rt.store.nodes_by_iri()]))
                       - set(then.nodes))[0]
        assert gql("""query($i: String!, $t: String!) { knownAt(id: $i, asOf: $t) { node {
                   iri } } }""", i=later, t=then.at)["knownAt"]["node"] is None

        r = gql("""query($b: String!, $t: String) { releaseReport(batch: $b, asOf: $t) {
                 status asOf watermark } }""", b=b.key, t=then.at)["releaseReport"]
        assert r == {"status": b.props[P.batchStatus], "asOf": then.at,
                     "watermark": then.watermark}
        doc = gql("""query($b: String!, $t: String) { edhr(batch: $b, asOf: $t) }""",
                  b=b.key, t=then.at)["edhr"]
        assert (doc["batch"]["status"], doc["watermark"], doc["asOf"]) == (
            b.props[P.batchStatus], then.watermark, then.at)
        rec = gql("""query($b: String!, $t: String) { recall(seeds: [$b], asOf: $t) {
                  watermark } }""", b=b.key, t=then.at)["recall"]
        assert rec["watermark"] == then.watermark
        html = c.get(f"/api/edhr/{b.key}", params={"asOf": then.at}, headers=h).text
        assert f"as known at {then.at}" in html
        bad = c.post("/graphql", json={"query": '{ knownAt(id: "x", asOf: "yesterday") { '
                                                'watermark } }'}, headers=h).json()
        assert bad["errors"][0]["extensions"]["code"] == "BAD_INPUT"
        assert bad["errors"][0]["extensions"]["field"] == "asOf"
        assert c.get(f"/api/edhr/{b.key}", params={"asOf": "yesterday"},
                     headers=h).status_code == 400
        # signed in only: the past is no more open than the present
        anon = c.post("/graphql", json={"query": '{ knownAt(id: "x", asOf: "2026-01-01T00:00:'
                                                 '00Z") { watermark } }'}).json()
        assert anon["errors"] and not anon.get("data")


def orjson_roundtrip(props: dict[str, Any]) -> Any:
    return orjson.loads(orjson.dumps(props))


@pytest.mark.req("URS-AUD-03")
def test_equipment_impact_as_of_shows_the_executions_links_then(plant: Plant) -> None:
    """equipmentImpact(asOf): the executions' nested links are those recorded by then — a link
    recorded after asOf does not appear (asof UI, issue 18 item 4); without asOf it does."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.conftest import bearer, make_user

    rt = plant.rt
    both = (Direction.UPSTREAM, Direction.DOWNSTREAM)
    # an execution recorded by a cut that gained a link after it, and the equipment it ran on
    picked = next(
        (then, x, d) for then in plant.thens
        for x in sorted(then.nodes.values(), key=lambda n: n.iri)
        if x.label == C.OperationExecution
        for s, t, d, _ in sorted(then.edges) if s == x.iri and t == R.ON_EQUIPMENT
        if {edge_key(e) for w in both for e in rt.store.edges(x.iri, w)}
        - {k for k in then.edges if x.iri in (k[0], k[2])})
    then, x, equipment = picked
    began = str(x.props["startedAtTime"])
    later = {edge_key(e) for w in both for e in rt.store.edges(x.iri, w)} - then.edges
    assert later  # the test can fail: the execution has links recorded after asOf
    if rt.store.find("an.impact.reader") == []:
        make_user(rt, "an.impact.reader", ["operator"])
    q = """query($e: String!, $f: String!, $t: String!, $at: String) {
      equipmentImpact(equipment: $e, from: $f, to: $t, unitLimit: 0, asOf: $at) {
        recall { watermark } executions { execution { iri
          out: links(direction: UPSTREAM) { source type target }
          in: links(direction: DOWNSTREAM) { source type target } } } } }"""
    with TestClient(create_app(rt.settings, rt)) as c:
        h = bearer(c, "an.impact.reader")

        def impact(at: str | None) -> dict[str, Any]:
            body = c.post("/graphql", json={"query": q, "variables": {
                "e": equipment, "f": began, "t": began, "at": at}}, headers=h).json()
            assert not body.get("errors"), body
            return dict(body["data"]["equipmentImpact"])

        def links_of(answer: dict[str, Any]) -> set[tuple[str, str, str]]:
            ex = next(y["execution"] for y in answer["executions"]
                      if y["execution"]["iri"] == x.iri)
            return {(e["source"], e["type"], e["target"]) for e in ex["out"] + ex["in"]}

        past = impact(then.at)
        assert past["recall"]["watermark"] == then.watermark
        assert links_of(past) == {(s, t, d) for s, t, d, _ in then.edges if x.iri in (s, d)}
        assert not links_of(past) & {(s, t, d) for s, t, d, _ in later}
        assert {(s, t, d) for s, t, d, _ in later} <= links_of(impact(None))
