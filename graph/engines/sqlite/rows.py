"""Rows of the embedded engine's tables as records, and the IRI ↔ node id lookups.

Keys go to SQLite as one JSON array parameter (``IN (SELECT value FROM json_each(?))``), in
chunks of :data:`CHUNK`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import orjson

import graph.engines.sqlite.queries as Q
from graph.engines.common import chunks
from graph.model import AuditEntry, EdgeRecord, NodeRecord

__all__ = ["CHUNK", "as_json", "audit_of", "edge_of", "ids_of", "iris_of", "node_of"]

CHUNK = 20_000


def as_json(items: Iterable[Any]) -> str:
    return orjson.dumps(list(items)).decode()


def node_of(row: sqlite3.Row | tuple[Any, ...]) -> NodeRecord:
    iri, label, key, props, recorded_at, updated_at, tx = row
    return NodeRecord(iri, label, key, orjson.loads(props), recorded_at, updated_at, tx)


def edge_of(row: tuple[Any, ...]) -> EdgeRecord:
    s, t, d, eid, props, rec, tx = row
    return EdgeRecord(s, t, d, eid, orjson.loads(props), rec, tx)


def audit_of(row: tuple[Any, ...]) -> AuditEntry:
    (seq, tx, at, actor, action, record, record_class, fld, old, new, reason, event_id, prev,
     h) = row
    return AuditEntry(seq, tx, at, actor, action, record, record_class, fld,
                      orjson.loads(old), orjson.loads(new), reason, event_id, prev, h)


def ids_of(conn: sqlite3.Connection, iris: Iterable[str]) -> dict[str, int]:
    """Node id of each stored IRI."""
    out: dict[str, int] = {}
    for chunk in chunks(iris, CHUNK):
        out.update(conn.execute(Q.IDS_BY_IRIS, (as_json(chunk),)).fetchall())
    return out


def iris_of(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, str]:
    """IRI of each node id."""
    out: dict[int, str] = {}
    for chunk in chunks(ids, CHUNK):
        out.update(conn.execute(Q.IRIS_BY_IDS, (as_json(chunk),)).fetchall())
    return out
