"""Closed quality loops: deviations, holds, CAPA, change control, batch release, e-signatures.

Every workflow function takes a :class:`graph.session.Session` (store, vocabulary, writer,
clock), never the runtime, and writes through :func:`graph.session.write_nodes`; the write
guards the features define are registered in :func:`quality.guards.default_guards`. This layer
imports only ``graph``, ``shapes`` and ``ontology`` (tests/unit/test_layers.py).
"""
