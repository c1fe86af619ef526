"""Records that cross the store port: nodes, edges, audit entries, traversal answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ontology.datatypes import StoredValue

__all__ = [
    "AuditEntry",
    "CapturedEvent",
    "Direction",
    "EdgeRecord",
    "Genealogy",
    "NodeRecord",
]

Props = dict[str, StoredValue]


class Direction(StrEnum):
    """Genealogy direction over derivation edges (derived thing → source)."""

    UPSTREAM = "UPSTREAM"  # towards sources: what went into it
    DOWNSTREAM = "DOWNSTREAM"  # towards products: where it went
    BOTH = "BOTH"


@dataclass
class NodeRecord:
    """A node as stored: identity, class, business key, typed properties and record times."""

    iri: str
    label: str
    key: str
    props: Props
    recorded_at: str = ""
    updated_at: str = ""
    tx: int = 0


@dataclass(frozen=True)
class EdgeRecord:
    """A relationship ``src -[type]-> dst``; ``eid`` tells parallel edges of one type apart."""

    src: str
    type: str
    dst: str
    eid: str = ""
    props: Props = field(default_factory=dict, compare=False, hash=False)
    recorded_at: str = field(default="", compare=False, hash=False)
    tx: int = field(default=0, compare=False, hash=False)


@dataclass(frozen=True)
class AuditEntry:
    """One append-only audit trail entry, chained to the previous one by ``prev_hash``."""

    seq: int
    tx: int
    at: str
    actor: str
    action: str  # create | update | link
    record: str
    record_class: str
    field: str | None
    old: Any
    new: Any
    reason: str | None
    event_id: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class CapturedEvent:
    """Idempotency record of a capture event: its id and the hash of its content."""

    event_id: str
    content_hash: str
    tx: int
    recorded_at: str


@dataclass
class Genealogy:
    """Answer of a genealogy traversal: reached nodes with their depth, and the edges walked."""

    seeds: list[str]
    nodes: dict[str, NodeRecord]
    depth: dict[str, int]
    edges: list[EdgeRecord]
    watermark: int
