"""A genealogy answer as a page (issue 16 item 1): counts and one page of nodes by (depth, IRI)
and of edges by (source, target, edge id), cut from the embedded walk's arrays. Checked against
networkx over the store's own edge rows (read with plain SQL), on the demo plant, also after
records were added since the store's IRI order was read, and with an edge-kind filter."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import orjson
import pytest

from bench.plant import PLANT_MIGRATION, generate_plant
from graph.engines.sqlite import SQLiteStore
from graph.model import Direction
from graph.pages import genealogy_page
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

LATE = 0.2  # share of the production document's events captured after the first page


class Oracle:
    """Derivation edges (derived → source) and classes straight from the file's rows."""

    def __init__(self, path: Path) -> None:
        con = sqlite3.connect(path)
        self.cls = dict(con.execute("SELECT iri, label FROM nodes"))
        self.edges = con.execute(
            "SELECT s.iri, d.iri, e.eid, e.props ->> '$.derivationKind' FROM edges e "
            "JOIN nodes s ON s.id = e.src JOIN nodes d ON d.id = e.dst "
            "WHERE e.type = 'WAS_DERIVED_FROM'").fetchall()
        con.close()

    def answer(self, seed: str, direction: Direction, depth: int, kinds: set[str] | None = None
               ) -> tuple[list[tuple[str, int]], list[tuple[str, str, str]], dict[str, int]]:
        rows = [e for e in self.edges if kinds is None or e[3] in kinds]
        g = nx.MultiDiGraph()  # walked from near to far end
        g.add_node(seed)
        for s, d, eid, _ in rows:
            a, b = (s, d) if direction == Direction.UPSTREAM else (d, s)
            g.add_edge(a, b, key=eid)
        dist = nx.single_source_shortest_path_length(g, seed, cutoff=depth)
        nodes = sorted(dist.items(), key=lambda x: (x[1], x[0]))
        walked = sorted((s, d, eid) for s, d, eid, _ in rows
                        if dist.get(s if direction == Direction.UPSTREAM else d, depth) < depth)
        return nodes, walked, dict(Counter(self.cls[n] for n in dist))


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, Path, int]]:
    tmp = tmp_path_factory.mktemp("pages")
    path = tmp / "s.sqlite"
    rt = Runtime.open(Settings(data_dir=tmp), store=SQLiteStore(path))
    docs = list(generate_plant(size="demo", seed=11))
    big = max(range(len(docs)), key=lambda i: len(docs[i]["events"]))
    cut = int(len(docs[big]["events"]) * (1 - LATE))
    early = [*docs[:big], {**docs[big], "events": docs[big]["events"][:cut]}]
    late = [{**docs[big], "events": docs[big]["events"][cut:]}, *docs[big + 1:]]
    for d in early:
        rt.capture(d, migration=PLANT_MIGRATION)
    first = str(_pick(Oracle(path), "MaterialLot"))
    genealogy_page(rt.store, [first], Direction.DOWNSTREAM)  # reads the IRI order now
    con = sqlite3.connect(path)
    last_id = int(con.execute("SELECT max(id) FROM nodes").fetchone()[0])
    con.close()
    for d in late:
        rt.capture(d, migration=PLANT_MIGRATION)
    yield rt, path, last_id
    rt.close()


def _pick(o: Oracle, label: str, n: int = 1) -> list[str] | str:
    used = {e[1] for e in o.edges} if label == "MaterialLot" else set(o.cls)
    found = sorted(i for i, c in o.cls.items() if c == label and i in used)
    step = max(len(found) // max(n, 1), 1)
    picked = found[::step][:n]
    return picked[0] if n == 1 else picked


def _check(rt: Runtime, o: Oracle, seed: str, direction: Direction, depth: int, first: int,
           kinds: list[str] | None = None) -> int:
    nodes, edges, by_class = o.answer(seed, direction, depth, None if kinds is None
                                      else set(kinds))
    pages = 0
    for offset in range(0, max(len(nodes), len(edges)) + first, first):
        p = genealogy_page(rt.store, [seed], direction, depth, kinds, first=first,
                           offset=offset)
        assert (p.node_count, p.edge_count, p.by_class) == (len(nodes), len(edges), by_class)
        assert [(n.iri, d) for n, d in p.nodes] == nodes[offset:offset + first]
        assert [(e.src, e.dst, e.eid) for e in p.edges] == edges[offset:offset + first]
        assert all(n.label == o.cls[n.iri] for n, _ in p.nodes)
        pages += 1
    return pages


@pytest.mark.parametrize("direction", [Direction.DOWNSTREAM, Direction.UPSTREAM])
def test_pages_equal_networkx(plant: tuple[Runtime, Path, int], direction: Direction) -> None:
    rt, path, _ = plant
    o = Oracle(path)
    label = "MaterialLot" if direction == Direction.DOWNSTREAM else "SerializedUnit"
    for seed in _pick(o, label, 4):
        for depth, first in ((50, 1000), (50, 37), (2, 5)):
            _check(rt, o, str(seed), direction, depth, first)


def test_records_added_after_the_order_was_read_are_paged_in_order(
        plant: tuple[Runtime, Path, int]) -> None:
    rt, path, last_id = plant
    o = Oracle(path)
    con = sqlite3.connect(path)
    late = {r[0] for r in con.execute("SELECT iri FROM nodes WHERE id > ?", (last_id,))}
    con.close()
    # a seed whose downstream holds nodes created after the first page was asked for
    seeds = [s for s in _pick(o, "MaterialLot", 40)
             if set(dict(o.answer(str(s), Direction.DOWNSTREAM, 50)[0])) & late]
    assert seeds, "no lot reaches a late node: the fixture no longer covers new records"
    assert _check(rt, o, str(seeds[0]), Direction.DOWNSTREAM, 50, 11) > 1


def test_kind_filter_counts_and_pages_only_those_edges(plant: tuple[Runtime, Path, int]) -> None:
    rt, path, _ = plant
    o = Oracle(path)
    kinds = Counter(e[3] for e in o.edges)
    kind = min(kinds, key=lambda k: kinds[k] if k else 10**9)  # a rarer kind
    unit = _pick(o, "SerializedUnit")
    _check(rt, o, str(unit), Direction.UPSTREAM, 50, 13, [str(kind)])


def test_unknown_seed_and_an_empty_page(plant: tuple[Runtime, Path, int]) -> None:
    rt, path, _ = plant
    lot = str(_pick(Oracle(path), "MaterialLot"))
    p = genealogy_page(rt.store, [lot, "urn:nothing"], Direction.DOWNSTREAM, first=10,
                       offset=10**6)
    assert p.unknown == ["urn:nothing"] and p.seeds == [lot]
    assert p.nodes == [] and p.edges == [] and p.node_count > 1


def test_graphql_rows_are_the_page_as_one_json_value(plant: tuple[Runtime, Path, int]) -> None:
    """``Genealogy.rows`` (the bulk page without per-field resolution) holds the same nodes and
    edges, in the same order, as the typed fields, and both are networkx's page."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.conftest import bearer, make_user

    rt, path, _ = plant
    o = Oracle(path)
    lot = str(_pick(o, "MaterialLot"))
    nodes, edges, _ = o.answer(lot, Direction.DOWNSTREAM, 20)
    make_user(rt, "eng.rows", ["engineer"])
    q = """query($of: String!) { genealogy(of: $of, direction: DOWNSTREAM, first: 40,
      offset: 3) { nodeCount edgeCount rows
      nodes { depth node { iri class key properties recordedAt updatedAt } }
      edges { source type target edgeId properties recordedAt } } }"""
    with TestClient(create_app(rt.settings, rt)) as c:
        c.headers.update(bearer(c, "eng.rows"))
        r = c.post("/graphql", json={"query": q, "variables": {"of": lot}})
    assert r.status_code == 200 and "errors" not in r.json(), r.text[:300]
    g = r.json()["data"]["genealogy"]
    assert (g["nodeCount"], g["edgeCount"]) == (len(nodes), len(edges))
    typed = [{**n["node"], "depth": n["depth"]} for n in g["nodes"]]
    assert g["rows"]["nodes"] == typed
    assert g["rows"]["edges"] == g["edges"]
    assert [(n["iri"], n["depth"]) for n in typed] == nodes[3:43]
    assert [(e["source"], e["target"], e["edgeId"]) for e in g["edges"]] == edges[3:43]


class _OtherStore:
    """A store that is not the embedded one (as Neo4j is): pages are cut from its genealogy."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    def genealogy(self, *args: Any) -> Any:
        return self._store.genealogy(*args)


@pytest.mark.parametrize("direction", [Direction.DOWNSTREAM, Direction.UPSTREAM])
def test_rows_from_the_stored_json_text_are_the_bytes_of_the_decoded_records(
        plant: tuple[Runtime, Path, int], direction: Direction) -> None:
    """The embedded page hands ``rows`` the stored JSON text of each record's properties (never
    decoded and encoded again): the answer's bytes equal those of the decoded records another
    store's page gives."""
    from api.graphql.genealogy_rows import page_rows

    rt, path, _ = plant
    o = Oracle(path)
    seed = str(_pick(o, "MaterialLot" if direction == Direction.DOWNSTREAM
                     else "SerializedUnit"))
    assert isinstance(rt.store, SQLiteStore)
    for first, offset in ((1000, 0), (40, 3)):
        mine = genealogy_page(rt.store, [seed], direction, 20, first=first, offset=offset)
        other = genealogy_page(_OtherStore(rt.store), [seed], direction, 20, first=first,
                               offset=offset)
        assert all(isinstance(r[3], str) for r, _ in mine.raw_nodes)  # the text, as stored
        assert len(mine.raw_nodes) > 10 and len(mine.raw_edges) > 10
        assert orjson.dumps(page_rows(mine)) == orjson.dumps(page_rows(other))
        assert mine.nodes == other.nodes


def test_rows_leave_secrets_out_of_the_stored_json_text() -> None:
    from api.graphql.genealogy_rows import page_rows
    from graph.pages import GenealogyPage

    text = '{"name":"A. Operator","passwordHash":"scrypt$x","role":"qa"}'
    plain = '{"name":"Mould 3","note":"no passwordHash here"}'
    page = GenealogyPage([], [], 1, 2, 0, {}, [
        (("urn:a", "Person", "a", text, "t", "t", 1), 0),
        (("urn:b", "Equipment", "b", plain, "t", "t", 1), 1)], [])
    rows = orjson.loads(orjson.dumps(page_rows(page)))
    assert rows["nodes"][0]["properties"] == {"name": "A. Operator", "role": "qa"}
    assert rows["nodes"][1]["properties"] == orjson.loads(plain)
