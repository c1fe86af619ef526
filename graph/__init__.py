"""The graph layer: the store port (:mod:`graph.port`), its two engines (:mod:`graph.engines`),
the one write path (:mod:`graph.write`) and the engine-independent queries on top (genealogy,
recall, impact, audit, versions …).

This layer knows nothing of settings: :func:`open_store` takes the engine and its connection
values as arguments; the composition root (the runtime) passes the configured ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from graph.port import GraphStore

__all__ = ["open_store"]


def open_store(kind: Literal["embedded", "neo4j"] = "embedded", *,
               sqlite_path: Path | str | None = None, neo4j_uri: str | None = None,
               neo4j_user: str = "neo4j", neo4j_password: str = "",
               neo4j_database: str | None = None) -> GraphStore:
    """The store of engine ``kind``: embedded SQLite at ``sqlite_path`` (the default engine), or
    the Neo4j server at ``neo4j_uri``. Each engine is imported only when chosen."""
    if kind == "neo4j":
        if not neo4j_uri:
            raise ValueError("TRACEGRAPH_STORE=neo4j needs NEO4J_URI (e.g. bolt://127.0.0.1:7687)")
        from graph.engines.neo4j import Neo4jStore

        return Neo4jStore(neo4j_uri, neo4j_user, neo4j_password, neo4j_database)
    if sqlite_path is None:
        raise ValueError("the embedded store needs a file path (or ':memory:')")
    from graph.engines.sqlite import SQLiteStore

    return SQLiteStore(sqlite_path)
