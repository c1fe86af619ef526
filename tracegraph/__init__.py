"""tracegraph: a traceability knowledge graph for medical-device manufacturing."""

__version__ = "0.1.0"
