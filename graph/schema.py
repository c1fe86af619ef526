"""Store schemas derived from the ontology: nothing here names a class or property by hand
except the genealogy edge and its kind, which are checked against the ontology on import."""

from __future__ import annotations

from collections.abc import Iterable

from graph.model import NodeRecord
from ontology.terms import R
from ontology.vocab import Vocabulary, vocabulary

__all__ = [
    "DERIVATION",
    "EDGE_SYSTEM_PROPS",
    "KIND_PROPERTY",
    "LEGACY_VERSION",
    "NODE_SYSTEM_PROPS",
    "ROOT_LABEL",
    "SCHEMA_VERSION",
    "StoreVersionError",
    "identifier_properties",
    "neo4j_schema_statements",
    "of_class",
]

#: Relationship type of materialised genealogy edges (``prov:wasDerivedFrom``).
DERIVATION = R.WAS_DERIVED_FROM
#: Edge property telling consumption, production, aggregation … apart.
KIND_PROPERTY = "derivationKind"
#: Label every stored node carries in Neo4j (the ontology's root class).
ROOT_LABEL = "Record"
#: Properties each engine keeps on every node / derivation edge besides the ontology's own.
NODE_SYSTEM_PROPS = ("iri", "key", "recordedAt", "updatedAt", "txId")
EDGE_SYSTEM_PROPS = ("edgeId", "recordedAt", "txId")

#: The store schema this code reads and writes, one number for both engines (issue 19 item 3).
#: A store records the version it was written with; :mod:`tracegraph.upgrade` brings an older
#: one forward (each engine's steps in one transaction, after a backup) and every engine refuses
#: to open a newer one.
#:
#: 1. first embedded layout (nodes, edges, audit, events, meta);
#: 2. the ``identifiers`` index table (embedded; re-indexes every identifier value). Every
#:    release up to this one wrote version 2; a Neo4j store of those releases records no
#:    version and reads as 2;
#: 3. the store's identity and version as one guarded record on both engines: embedded, the
#:    file's header says it is a tracegraph store (``PRAGMA application_id``) and holds the
#:    version (``PRAGMA user_version``), so a tool, a backup copy or another program sees it
#:    without tracegraph's tables; Neo4j, one ``StoreSchema`` node (unique code) holds the
#:    version and a store id, which Neo4j stores lacked (their backups, portable exports and
#:    audit checkpoints named no store, so a checkpoint of another store was not told apart).
#: 4. embedded: the audit trail stored compactly (``audit_log``: repeated terms as integer codes
#:    of an ``audit_terms`` dictionary, hashes as 32 bytes, the previous hash not stored twice;
#:    the ``audit`` view reads it as version 3 stored it, so every entry and its hash are
#:    unchanged); Neo4j: no change (the version only).
SCHEMA_VERSION = 4
#: The version of a store that records none but holds data (a Neo4j store of releases <= 2).
LEGACY_VERSION = 2


class StoreVersionError(RuntimeError):
    """A store this tracegraph must not open: written by a newer tracegraph (``found`` above
    ``supported``), or not a tracegraph store at all. Nothing was written to it."""

    def __init__(self, where: str, found: int, supported: int = SCHEMA_VERSION,
                 message: str | None = None) -> None:
        self.where, self.found, self.supported = where, found, supported
        super().__init__(message or (
            f"the store at {where} has schema version {found}, newer than this tracegraph's "
            f"schema version {supported}: it was written by a newer tracegraph. Run that "
            f"version (or later) against it, or restore a backup taken before its upgrade; "
            f"nothing was written to the store"))


def check_against(vocab: Vocabulary) -> None:
    """Raise if the names this module fixes are not what the ontology declares."""
    rel = vocab.rel(DERIVATION)
    if rel.edge_class is None or KIND_PROPERTY not in vocab.edge_properties(DERIVATION):
        raise RuntimeError(f"{KIND_PROPERTY} is not an edge property of {DERIVATION}")
    vocab.cls(ROOT_LABEL)


def identifier_properties(vocab: Vocabulary | None = None) -> tuple[str, ...]:
    """The ``tg:identifier`` properties: both engines index every value of each."""
    v = vocab or vocabulary()
    return tuple(p.name for p in v.identifiers)


def neo4j_schema_statements(vocab: Vocabulary | None = None) -> list[str]:
    """Constraints and indexes for Neo4j: IRI uniqueness, key and identifier lookups,
    record-time and audit-sequence indexes."""
    v = vocab or vocabulary()
    out = [
        f"CREATE CONSTRAINT record_iri IF NOT EXISTS FOR (n:{ROOT_LABEL}) REQUIRE n.iri IS UNIQUE",
        f"CREATE INDEX record_key IF NOT EXISTS FOR (n:{ROOT_LABEL}) ON (n.key)",
        "CREATE CONSTRAINT audit_seq IF NOT EXISTS FOR (a:AuditEvent) "
        "REQUIRE a.chainIndex IS UNIQUE",
        "CREATE INDEX audit_record IF NOT EXISTS FOR (a:AuditEvent) ON (a.targetIri)",
        "CREATE INDEX audit_actor IF NOT EXISTS FOR (a:AuditEvent) ON (a.actorName)",
        "CREATE INDEX audit_at IF NOT EXISTS FOR (a:AuditEvent) ON (a.recordedAt)",
        "CREATE CONSTRAINT event_id IF NOT EXISTS FOR (e:CaptureEvent) REQUIRE e.eventId IS UNIQUE",
        "CREATE CONSTRAINT store_schema IF NOT EXISTS FOR (s:StoreSchema) REQUIRE s.code IS UNIQUE",
    ]
    for name in identifier_properties(v):
        out.append(
            f"CREATE INDEX ident_{name} IF NOT EXISTS FOR (n:{ROOT_LABEL}) ON (n.{name})"
        )
    return out


def of_class(vocab: Vocabulary, nodes: Iterable[NodeRecord], label: str | None) -> list[NodeRecord]:
    """Nodes of class ``label`` or a subclass (all when ``None``), in IRI order: the one
    filter both engines apply to lookups."""
    found = list(nodes)
    if label is not None:
        allowed = set(vocab.subclasses_of(label))
        found = [n for n in found if n.label in allowed]
    return sorted(found, key=lambda n: n.iri)
