"""The store port, its two engines and the one write path."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graph.port import GraphStore
    from tracegraph.settings import Settings

__all__ = ["open_store"]


def open_store(cfg: Settings | None = None) -> GraphStore:
    """The store the configuration names: embedded SQLite (default) or Neo4j."""
    from tracegraph.settings import settings

    s = cfg or settings()
    if s.store == "neo4j":
        from graph.neo4j_store import Neo4jStore

        if not s.neo4j_uri:
            raise ValueError("TRACEGRAPH_STORE=neo4j needs NEO4J_URI (e.g. bolt://127.0.0.1:7687)")
        return Neo4jStore(s.neo4j_uri, s.neo4j_user, s.neo4j_password, s.neo4j_database)
    from graph.sqlite_store import SQLiteStore

    return SQLiteStore(s.sqlite_path)
