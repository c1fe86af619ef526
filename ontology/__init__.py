"""The tracegraph ontology (``tracegraph.ttl``) and the vocabulary derived from it."""
