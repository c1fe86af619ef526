"""The outline of a genealogy (:mod:`graph.trace_outline`) from the embedded walk's arrays.

The outline groups and orders every reached node by its class and key and aggregates every
walked edge by its quantity, unit and kind; it draws full records only for a few of them. So
instead of the whole genealogy (every record decoded), this reads in set-based SQL the IRI and
key of each reached node (classes come from the label index) and those three fields of each
walked edge; records, and the full edges of a page of members, are read when drawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import orjson

from graph.engines.common import chunks
from graph.engines.sqlite.rows import CHUNK, as_json, edge_of
from graph.engines.sqlite.store import SQLiteStore
from graph.engines.sqlite.walk import ArrayWalk
from graph.model import Direction, EdgeRecord, Genealogy, NodeRecord
from graph.schema import DERIVATION, KIND_PROPERTY

__all__ = ["EmbeddedTrace", "trace_of"]

IRI_KEY_BY_IDS = "SELECT id, iri, key FROM nodes WHERE id IN (SELECT value FROM json_each(?))"
#: the fields the outline aggregates, of the edges of walked (src, dst) pairs (each pair one
#: integer ``src << ?3 | dst``, as in :data:`graph.engines.sqlite.pages.EDGES_OF_PAIRS`); the
#: quantity as its JSON text (parsed as the record's own decode would)
OUTLINE_FIELDS_OF_PAIRS = """
SELECT e.src, e.dst, e.eid, e.kind, e.props -> '$.quantity', e.props ->> '$.unitCode'
FROM json_each(?1) AS p CROSS JOIN edges e
WHERE e.src = (p.value >> ?3) AND e.type = ?2 AND e.dst = (p.value & ((1 << ?3) - 1))
"""
#: full edges of (src, dst) pairs, by IRI
FULL_EDGES_OF_PAIRS = """
SELECT s.iri, e.type, d.iri, e.eid, e.props, e.recorded_at, e.tx
FROM json_each(?1) AS p
  JOIN nodes s ON s.iri = (p.value ->> 0) JOIN nodes d ON d.iri = (p.value ->> 1)
  CROSS JOIN edges e ON e.src = s.id AND e.type = ?2 AND e.dst = d.id
"""


class EmbeddedTrace:
    """A genealogy of light records (class, key; edges with only the outline's fields) and the
    store to read full records from when they are drawn."""

    def __init__(self, store: SQLiteStore, g: Genealogy) -> None:
        self.store = store
        self.genealogy = g

    def records(self, iris: Iterable[str]) -> dict[str, NodeRecord]:
        wanted = list(iris)
        got = self.store.get_many(wanted) if wanted else {}
        light = self.genealogy.nodes  # (a record removed since: its class and key)
        return {i: got.get(i) or light[i] for i in wanted}

    def edges(self, edges: Sequence[EdgeRecord]) -> list[EdgeRecord]:
        pairs = sorted({(e.src, e.dst) for e in edges})
        full: dict[tuple[str, str, str], EdgeRecord] = {}
        conn = self.store._conn()
        for chunk in chunks(pairs, CHUNK):
            for row in conn.execute(FULL_EDGES_OF_PAIRS, (as_json(chunk), DERIVATION)):
                e = edge_of(row)
                full[(e.src, e.dst, e.eid)] = e
        return [full.get((e.src, e.dst, e.eid), e) for e in edges]


def trace_of(store: SQLiteStore, seeds: Sequence[str], direction: Direction, max_depth: int,
             kinds: Sequence[str] | None) -> EmbeddedTrace:
    """The light genealogy of ``seeds`` in one direction, as of now."""
    with store.snapshot() as watermark:
        walk = store.walk(seeds, direction, max_depth, kinds)
        assert isinstance(walk, ArrayWalk)
        r, labels, conn = walk.result, walk.labels, walk._conn()
        ids = r.ids.tolist()
        names: dict[int, str] = {}
        nodes: dict[str, NodeRecord] = {}
        codes = labels.by_id[np.minimum(r.ids, labels.by_id.size - 1)].tolist()
        label_of = dict(zip(ids, codes, strict=True))
        for chunk in chunks(ids, CHUNK):
            for i, iri, key in conn.execute(IRI_KEY_BY_IDS, (as_json(chunk),)):
                names[i] = iri
                nodes[iri] = NodeRecord(iri, labels.names[label_of[i]], key, {})
        depth = {names[i]: d for i, d in zip(ids, r.depth.tolist(), strict=True)}
        src, dst = store._index.endpoints(r.edges)
        edges: list[EdgeRecord] = []
        if src.size:
            bits = max(int(src.max()).bit_length(), int(dst.max()).bit_length(), 1)
            packed = np.unique(np.left_shift(src, bits) | dst).tolist()
            wanted = None if kinds is None else set(kinds)
            for s, d, eid, kind, quantity, unit in conn.execute(
                    OUTLINE_FIELDS_OF_PAIRS, (as_json(packed), DERIVATION, bits)):
                if wanted is not None and kind not in wanted:
                    continue
                props: dict[str, Any] = {KIND_PROPERTY: kind} if kind is not None else {}
                if quantity is not None:
                    props["quantity"] = orjson.loads(quantity)
                if unit is not None:
                    props["unitCode"] = unit
                edges.append(EdgeRecord(names[s], DERIVATION, names[d], eid, props))
        return EmbeddedTrace(store, Genealogy(seeds=list(seeds), nodes=nodes, depth=depth,
                                              edges=edges, watermark=watermark))
