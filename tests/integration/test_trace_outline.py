"""The outline of a large trace (``genealogy { outline }``), on the demo plant's busiest lot:
the groups per batch, their counts, the captions and the aggregated edges equal a networkx
computation over the plant's capture documents (never the code under test)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from bench.plant import PLANT_MIGRATION, generate_plant
from graph import trace_outline as T
from graph.engines.sqlite import SQLiteStore
from graph.model import Direction, EdgeRecord
from graph.port import GraphStore
from tests.browser.test_explorer import DEMO_SEED, Plant, key, plant
from tests.conftest import bearer, make_user
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

OUTLINE = """query($of: String!, $first: Int!, $offset: Int!) {
  genealogy(of: $of, direction: DOWNSTREAM, maxDepth: 20, first: 0) {
    nodeCount edgeCount
    outline { nodeCount groupCount memberCount edgeCount
      nodes(first: 500) { depth caption madeIn node { class key } }
      groups(first: $first, offset: $offset) { id batch batchKey depth count caption
        counts { label count } members(first: 3) { node { key } depth } }
      edges(first: 2000) { source target count quantity unitCode kinds } } } }"""


def busiest_lot(p: Plant) -> str:
    lots = [r for r in p.g if r.startswith("MaterialLot/")]
    return min(lots, key=lambda r: (-len(p.downstream(r)), r))


def oracle_members(p: Plant, seed: str) -> dict[str, str]:
    """Member → batch: units made in exactly one batch (or sublot) of the trace, then the
    packages all of whose parts in the trace are one batch's (a pallet after its cases); only
    batches with two or more members form a group."""
    down = p.downstream(seed)
    sub = p.g.subgraph(down)  # output → input
    cls = {r: r.split("/")[0] for r in down}
    member: dict[str, str] = {}
    for u in down - {seed}:
        made = [b for b in sub.successors(u) if cls[b] in ("Batch", "Sublot")]
        if cls[u] == "SerializedUnit" and len(made) == 1:
            member[u] = made[0]
    packages = [r for r in down - {seed} if cls[r] == "PackagingAggregation"]
    changed = True
    while changed:
        changed = False
        for pk in packages:
            parts = {member.get(x) for x in sub.successors(pk)}
            if pk not in member and len(parts) == 1 and None not in parts:
                member[pk] = str(parts.pop())
                changed = True
    size = Counter(member.values())
    return {m: b for m, b in member.items() if size[b] >= 2}


def expected_groups(p: Plant, seed: str) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for m, b in oracle_members(p, seed).items():
        out.setdefault(b, Counter())[m.split("/")[0]] += 1
    return out


@pytest.fixture(scope="module", params=["embedded", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tmp: Path = tmp_path_factory.mktemp("trace-outline")
    store: GraphStore
    if request.param == "embedded":
        store = SQLiteStore(tmp / "s.sqlite")
    else:
        store = request.getfixturevalue("_neo4j_store")
        store.wipe()  # type: ignore[attr-defined]  # a Neo4jStore: wipe() is not on the port
    rt = Runtime.open(Settings(data_dir=tmp), store=store)
    for d in generate_plant(size="demo", seed=DEMO_SEED):
        rt.capture(d, migration=PLANT_MIGRATION)
    user = make_user(rt, "trace.qa", ["qa"])
    with TestClient(create_app(rt.settings, rt)) as c:
        yield c, bearer(c, user)


def ask(api: tuple[TestClient, dict[str, str]], query: str, **variables: Any) -> Any:
    body = api[0].post("/graphql", json={"query": query, "variables": variables},
                       headers=api[1]).json()
    return body


def test_the_busiest_lot_is_drawn_as_its_batches_with_their_counts(
        api: tuple[TestClient, dict[str, str]]) -> None:
    p = plant()
    seed = busiest_lot(p)
    down = p.downstream(seed)
    body = ask(api, OUTLINE, of=key(seed), first=500, offset=0)
    assert "errors" not in body, body
    g = body["data"]["genealogy"]
    o = g["outline"]
    assert g["nodeCount"] == len(down) == 4285  # the trace

    want = expected_groups(p, seed)
    got = {f"Batch/{x['batchKey']}": Counter({c["label"]: c["count"] for c in x["counts"]})
           for x in o["groups"]}
    assert got == want
    assert all(x["count"] == sum(want[f"Batch/{x['batchKey']}"].values()) for x in o["groups"])
    # every record of the trace is drawn once: on its own or in its batch's group
    assert o["memberCount"] == sum(sum(c.values()) for c in want.values())
    assert o["nodeCount"] + o["memberCount"] == len(down)
    assert o["nodeCount"] == len(o["nodes"]) and o["groupCount"] == len(o["groups"])
    members = oracle_members(p, seed)
    assert {n["node"]["class"] + "/" + n["node"]["key"] for n in o["nodes"]} \
        == down - set(members)
    # the edges: each group's edge to its batch counts its units; all edges are accounted for
    to_batch = {(e["source"], e["target"]): e for e in o["edges"]}
    for x in o["groups"]:
        e = to_batch[(x["id"], x["batch"])]
        assert e["count"] == want[f"Batch/{x['batchKey']}"]["SerializedUnit"]
        assert e["kinds"] == ["production"]
    sub = p.g.subgraph(down)
    inside = sum(1 for a, b in sub.edges if a in members and members[a] == members.get(b))
    assert sum(e["count"] for e in o["edges"]) + inside == sub.number_of_edges()


def test_captions_name_the_material_supplier_product_and_customer(
        api: tuple[TestClient, dict[str, str]]) -> None:
    p = plant()
    seed = busiest_lot(p)
    o = ask(api, OUTLINE, of=key(seed), first=500, offset=0)["data"]["genealogy"]["outline"]
    name = lambda ref: p.props[str(ref)]["name"]  # noqa: E731
    cap = {n["node"]["class"] + "/" + n["node"]["key"]: n["caption"] for n in o["nodes"]}
    links = p.links[seed]
    assert cap[seed] == f"{name(links['ofMaterial'])} · {name(links['suppliedBy'])}"
    for ref, c in cap.items():
        if ref.startswith("Shipment/"):
            assert c == name(p.links[ref]["shippedTo"])
        if ref.startswith("Batch/") and "ofProduct" in p.links[ref]:
            assert c == name(p.links[ref]["ofProduct"])
    for x in o["groups"]:
        assert x["caption"] == name(p.links[f"Batch/{x['batchKey']}"]["ofProduct"])
        assert len(x["members"]) == 3


def test_groups_are_paged_and_a_page_too_large_is_refused(
        api: tuple[TestClient, dict[str, str]]) -> None:
    seed = key(busiest_lot(plant()))
    whole = ask(api, OUTLINE, of=seed, first=500, offset=0)["data"]["genealogy"]["outline"]
    part = ask(api, OUTLINE, of=seed, first=5, offset=5)["data"]["genealogy"]["outline"]
    assert part["groups"] == whole["groups"][5:10] and part["groupCount"] == whole["groupCount"]
    bad = ask(api, OUTLINE, of=seed, first=100_000, offset=0)
    ext = bad["errors"][0]["extensions"]
    assert ext["code"] == "BAD_INPUT" and ext["field"] == "first" and bad["data"] is None


def test_a_group_opens_into_its_members_and_their_edges(
        api: tuple[TestClient, dict[str, str]]) -> None:
    p = plant()
    seed = busiest_lot(p)
    members = oracle_members(p, seed)
    q = """query($of: String!, $at: Int!) { genealogy(of: $of, direction: DOWNSTREAM,
      maxDepth: 20, first: 0) { outline { groups(first: 1, offset: $at) { batchKey count
        members(first: 500) { depth madeIn node { class key } }
        memberEdges(first: 500) { source target } } } } }"""
    g = ask(api, q, of=key(seed), at=3)["data"]["genealogy"]["outline"]["groups"][0]
    batch = f"Batch/{g['batchKey']}"
    mine = {m for m, b in members.items() if b == batch}
    assert {f"{m['node']['class']}/{m['node']['key']}" for m in g["members"]} == mine
    assert g["count"] == len(mine) and all(m["madeIn"].endswith(batch) for m in g["members"])
    down = p.downstream(seed)
    depth = nx.single_source_shortest_path_length(p.g.reverse(copy=False), seed)
    assert all(m["depth"] == depth[f"{m['node']['class']}/{m['node']['key']}"]
               for m in g["members"])
    touching = [(a, b) for a, b in p.g.subgraph(down).edges if a in mine or b in mine]
    assert sorted((e["source"].split("/id/")[1], e["target"].split("/id/")[1])
                  for e in g["memberEdges"]) == sorted(touching)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> SQLiteStore:
    tmp: Path = tmp_path_factory.mktemp("outline-paths")
    store = SQLiteStore(tmp / "s.sqlite")
    rt = Runtime.open(Settings(data_dir=tmp), store=store)
    for d in generate_plant(size="demo", seed=DEMO_SEED):
        rt.capture(d, migration=PLANT_MIGRATION)
    return store


def _full_edge(e: EdgeRecord) -> tuple[Any, ...]:
    return e.src, e.type, e.dst, e.eid, e.props, e.recorded_at, e.tx


@pytest.mark.parametrize(("which", "direction", "kinds"), [
    ("busiest lot", Direction.DOWNSTREAM, None),
    ("busiest lot", Direction.DOWNSTREAM, ["split", "consumption", "production"]),
    ("a unit", Direction.UPSTREAM, None),
    ("a batch", Direction.DOWNSTREAM, None),
    ("a batch", Direction.UPSTREAM, None)])
def test_the_outline_from_the_walk_is_the_outline_of_the_whole_genealogy(
        demo_store: SQLiteStore, which: str, direction: Direction,
        kinds: list[str] | None) -> None:
    """The embedded engine outlines from the walk (classes, keys, the edges' quantity, unit and
    kind), reading full records only when drawn: the same outline, depths, captions, drawn
    records and member edges as from the full genealogy the other engines read."""
    p = plant()
    ref = {"busiest lot": busiest_lot(p),
           "a unit": min(r for r in p.g if r.startswith("SerializedUnit/")),
           "a batch": min((r for r in p.g if r.startswith("Batch/")),
                          key=lambda r: (-len(p.downstream(r)), r))}[which]
    cls, k = ref.split("/", 1)
    seeds = [demo_store.find(k, label=cls)[0].iri]
    light = T.trace(demo_store, seeds, direction, 20, kinds)
    assert not isinstance(light, T.FullTrace)  # the embedded path is the one under test
    full = T.FullTrace(demo_store.genealogy(seeds, direction, 20, kinds))
    lg, fg = light.genealogy, full.genealogy
    assert len(fg.nodes) > 3 and len(fg.edges) > 2
    assert lg.depth == fg.depth and lg.watermark == fg.watermark
    assert {i: (n.label, n.key) for i, n in lg.nodes.items()} \
        == {i: (n.label, n.key) for i, n in fg.nodes.items()}
    o = T.outline(lg)
    assert o == T.outline(fg)
    drawn = o.nodes + [x.batch for x in o.groups] + [m for x in o.groups for m in x.members]
    assert light.records(drawn) == full.records(drawn)
    shown = light.records(o.nodes + [x.batch for x in o.groups])
    assert T.captions(demo_store, shown) == T.captions(demo_store, full.records(shown))
    order = lambda e: (e.src, e.dst, e.eid)  # noqa: E731
    assert [_full_edge(e) for e in light.edges(sorted(lg.edges, key=order))] \
        == [_full_edge(e) for e in sorted(fg.edges, key=order)]
