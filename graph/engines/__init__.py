"""The engines behind the store port (:mod:`graph.port`), one package each.

* :mod:`graph.engines.sqlite`: the embedded default, one SQLite file, traversal over an in-memory
  CSR index of the derivation edges.
* :mod:`graph.engines.neo4j`: a Neo4j 5 server over the official driver, traversal one Cypher
  round trip per breadth-first level.
* :mod:`graph.engines.common`: what both share, written once (chunked reads, ``find`` and
  ``links`` shaping, as-of seed filtering, audit paging, the dict-held walk).
* :mod:`graph.engines.traversal`: the reference breadth-first search whose semantics both
  engines' traversals follow.

Importing this package imports no engine; :func:`graph.open_store` picks one.
"""
