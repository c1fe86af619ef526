"""The Neo4j engine: :class:`Neo4jStore` (``store``) and its Cypher (``queries``)."""

from graph.engines.neo4j.store import Neo4jStore

__all__ = ["Neo4jStore"]
