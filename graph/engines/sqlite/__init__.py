"""The embedded engine: :class:`SQLiteStore` (``store``), its SQL (``queries``), row decoding
(``rows``), the in-memory CSR index of the derivation edges (``adjacency``) and the array walk
read from it (``walk``)."""

from graph.engines.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
