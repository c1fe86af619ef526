"""All Cypher of the Neo4j engine, parameterised and named by what it answers.

Labels and relationship types cannot be parameters in Cypher; the builders below interpolate only
names taken from the ontology's closed vocabulary (checked by the caller), never user input.
"""

from __future__ import annotations

_NODE_RETURN = "n {.*} AS props, labels(n) AS labels"

NEXT_TX = """
MERGE (w:GraphWatermark {code: 'main'})
SET w.lastTx = coalesce(w.lastTx, 0) + 1
RETURN w.lastTx AS tx
"""
#: the store's identity and schema version: one StoreSchema node (unique code, not a Record)
STORE_SCHEMA = """
OPTIONAL MATCH (s:StoreSchema {code: 'main'})
RETURN s.schemaVersion AS version, s.storeId AS storeId,
       EXISTS { MATCH (w:GraphWatermark) } OR EXISTS { MATCH (:Record) } AS holdsData
"""
#: inside a write transaction: the record locked (a write to it), then read
LOCK_STORE_SCHEMA = """
OPTIONAL MATCH (s:StoreSchema {code: 'main'}) SET s.code = s.code
RETURN s.schemaVersion AS version
"""
#: the step to version 3: the record, with a new store id unless it has one
STEP_3_STORE_SCHEMA = """
MERGE (s:StoreSchema {code: 'main'}) ON CREATE SET s.storeId = $storeId
"""
SET_SCHEMA_VERSION = "MATCH (s:StoreSchema {code: 'main'}) SET s.schemaVersion = $version"
LAST_TX = "OPTIONAL MATCH (w:GraphWatermark {code: 'main'}) RETURN coalesce(w.lastTx, 0) AS tx"

NODES_BY_IRIS = f"UNWIND $iris AS i MATCH (n:Record {{iri: i}}) RETURN {_NODE_RETURN}"

OUT_EDGES_OF_IRIS = """
UNWIND $iris AS i
MATCH (s:Record {iri: i})-[e]->(d:Record)
RETURN s.iri AS src, type(e) AS type, d.iri AS dst, properties(e) AS props
"""
IN_EDGES_OF_IRIS = """
UNWIND $iris AS i
MATCH (s:Record)-[e]->(d:Record {iri: i})
RETURN s.iri AS src, type(e) AS type, d.iri AS dst, properties(e) AS props
"""


def typed_links(rel_types: list[str], outgoing: bool) -> str:
    """Edges of the given types out of or into the nodes ``$iris``: the store seeks by type
    instead of reading every edge of a hub (a material's thousands of lots) and dropping them."""
    typ = "|".join(rel_types)
    pattern = (f"(s:Record {{iri: i}})-[e:{typ}]->(d:Record)" if outgoing
               else f"(s:Record)-[e:{typ}]->(d:Record {{iri: i}})")
    return (f"UNWIND $iris AS i MATCH {pattern} "
            "RETURN s.iri AS src, type(e) AS type, d.iri AS dst, properties(e) AS props")

EVENTS_BY_IDS = """
UNWIND $ids AS i MATCH (e:CaptureEvent {eventId: i})
RETURN e.eventId AS id, e.contentHash AS hash, e.txId AS tx, e.recordedAt AS at
"""
INSERT_EVENTS = """
UNWIND $rows AS r
CREATE (:CaptureEvent {eventId: r.id, contentHash: r.hash, txId: r.tx, recordedAt: r.at})
"""

#: removal of a rolled-back migration stage (graph.retract)
REMOVE_NODES = "UNWIND $iris AS i MATCH (n:Record {iri: i}) DETACH DELETE n"
REMOVE_EVENTS = "MATCH (e:CaptureEvent) WHERE e.eventId STARTS WITH $prefix DELETE e"

AUDIT_HEAD = """
MATCH (a:AuditEvent) RETURN a.chainIndex AS seq, a.entryHash AS hash
ORDER BY a.chainIndex DESC LIMIT 1
"""
INSERT_AUDIT = "UNWIND $rows AS r CREATE (a:AuditEvent) SET a = r"
_AUDIT_RETURN = "RETURN a {.*} AS a ORDER BY a.chainIndex LIMIT $limit"


def audit_query(record: bool, actor: bool, since: bool, until: bool) -> str:
    where = ["a.chainIndex > $after"]
    if record:
        where.append("a.targetIri = $record")
    if actor:
        where.append("a.actorName = $actor")
    if since:
        where.append("a.recordedAt >= $since")
    if until:
        where.append("a.recordedAt <= $until")
    return "MATCH (a:AuditEvent) WHERE " + " AND ".join(where) + " " + _AUDIT_RETURN


#: full node states, every class in one statement: ``r.labels`` (the class and its superclasses,
#: checked against the vocabulary by the caller) set as dynamic labels (Neo4j 5.26)
UPSERT_NODES = ("UNWIND $rows AS r MERGE (n:Record {iri: r.iri}) SET n = r.props "
                "SET n:$(r.labels)")
#: new edges, every type in one statement (``r.type`` checked by the caller). The caller passes
#: only edges not stored (the Writer checks them against the stored out-edges of their sources;
#: an import fills an empty store): CREATE, not MERGE, which would look through every edge of
#: that type at both ends, a hub's thousands.
CREATE_EDGES = ("UNWIND $rows AS r MATCH (s:Record {iri: r.src}) MATCH (d:Record {iri: r.dst}) "
                "CREATE (s)-[e:$(r.type)]->(d) SET e = r.props")


def upsert_nodes(labels: tuple[str, ...]) -> str:
    """Full node states for nodes of one class (labels = the class and its superclasses):
    :mod:`bench.neo4j_copy` resuming an interrupted copy."""
    label_set = ":".join(labels)
    return f"UNWIND $rows AS r MERGE (n:Record {{iri: r.iri}}) SET n = r.props SET n:{label_set}"


def merge_edges(rel_type: str) -> str:
    """Edges of one type, each once by ``edgeId``: :mod:`bench.neo4j_copy` resuming."""
    return (
        "UNWIND $rows AS r "
        "MATCH (s:Record {iri: r.src}) MATCH (d:Record {iri: r.dst}) "
        f"MERGE (s)-[e:{rel_type} {{edgeId: r.eid}}]->(d) "
        "ON CREATE SET e += r.props"
    )


def expand(rel_type: str, upstream: bool) -> str:
    """One breadth-first level over ``rel_type`` from a frontier of IRIs, as ONE record
    holding every row (per-record decoding in the driver dominated the time otherwise)."""
    pattern = (f"(f:Record {{iri: i}})-[e:{rel_type}]->(t:Record)" if upstream
               else f"(f:Record {{iri: i}})<-[e:{rel_type}]-(t:Record)")
    return (
        f"UNWIND $frontier AS i MATCH {pattern} "
        "WHERE ($asOf IS NULL OR e.recordedAt <= $asOf) "
        "AND ($kinds IS NULL OR e.derivationKind IN $kinds) "
        "AND ($maxTx IS NULL OR e.txId <= $maxTx) "
        "RETURN collect([f.iri, t.iri, startNode(e).iri, endNode(e).iri, properties(e)]) "
        "AS rows"
    )


#: is the APOC path expander served (Neo4j with APOC core: the test launcher, docker-compose, Aura)
HAS_APOC = ("SHOW PROCEDURES YIELD name WHERE name = 'apoc.path.spanningTree' "
            "RETURN count(*) > 0 AS ok")


def _tree(rel_type: str, upstream: bool) -> str:
    """The breadth-first spanning tree from ``$seeds`` (indexed start, pinned), one way over
    ``rel_type`` to at most ``$maxDepth`` levels, all seeds at once (APOC: one multi-source BFS,
    each node once, first reached = at its shortest depth)."""
    arrow = f"{rel_type}>" if upstream else f"<{rel_type}"
    return (
        "UNWIND $seeds AS i MATCH (s:Record {iri: i}) USING INDEX s:Record(iri) "
        "WITH collect(DISTINCT s) AS starts "
        "CALL apoc.path.spanningTree(starts, {relationshipFilter: '" + arrow + "', "
        "minLevel: 0, maxLevel: $maxDepth, bfs: true, uniqueness: 'NODE_GLOBAL'}) "
        "YIELD path WITH path, last(nodes(path)) AS n, length(path) AS d "
    )


#: after the tree, the watermark as committed NOW: equal to the snapshot's, no edge written since
#: was visible to the traversal (else the engine walks again with the per-edge filter)
_THEN_WATERMARK = ("OPTIONAL MATCH (w:GraphWatermark {code: 'main'}) "
                   "RETURN rows, coalesce(w.lastTx, 0) AS tx")


def walk_tree(rel_type: str, upstream: bool) -> str:
    """One round trip: per reached node its IRI, depth, the node it was reached from, its
    labels and key (classification and ordering need no second read), as ONE record."""
    return (_tree(rel_type, upstream)
            + "WITH collect([n.iri, d, CASE WHEN d > 0 THEN nodes(path)[-2].iri END, "
              "labels(n), n.key]) AS rows " + _THEN_WATERMARK)


def genealogy_tree(rel_type: str, upstream: bool) -> str:
    """One round trip: every reached node (record and depth) and, for each closer than
    ``$maxDepth``, the ``rel_type`` edges it is walked along (the far node's IRI, properties)."""
    edge = f"(n)-[e:{rel_type}]->(t:Record)" if upstream else f"(n)<-[e:{rel_type}]-(t:Record)"
    return (_tree(rel_type, upstream)
            + "CALL (n, d) { OPTIONAL MATCH " + edge + " WHERE d < $maxDepth "
              "RETURN collect([t.iri, properties(e)]) AS out } "
              "WITH collect([n {.*}, labels(n), d, out]) AS rows " + _THEN_WATERMARK)


def find_by(props: list[str]) -> str:
    """Lookup by the business key or any of ``props`` (each an indexed identifier)."""
    branches = [f"MATCH (n:Record) WHERE n.{p} = $v RETURN {_NODE_RETURN}"
                for p in ["key", *props]]
    return " UNION ".join(branches)


def nodes_of_label(label: str) -> str:
    """Nodes carrying ``label`` (a vocabulary class, checked by the caller); the store keeps the
    ones whose most specific class it is."""
    return f"MATCH (n:`{label}`) RETURN {_NODE_RETURN} ORDER BY n.iri"


#: the whole state, streamed in IRI order for the audit's state check
NODES_IN_IRI_ORDER = (f"MATCH (n:Record) WHERE n.iri IS NOT NULL RETURN {_NODE_RETURN} "
                      "ORDER BY n.iri")
EDGES_IN_SOURCE_ORDER = """
MATCH (s:Record) WHERE s.iri IS NOT NULL WITH s ORDER BY s.iri
MATCH (s)-[e]->(d:Record)
RETURN s.iri AS src, type(e) AS type, d.iri AS dst, properties(e) AS props
"""


def edges_of_type_in_tx(rel_type: str) -> str:
    """Edges of one (declared) type recorded by transactions in ``($after, $until]``."""
    return (f"MATCH (s:Record)-[e:{rel_type}]->(d:Record) "
            "WHERE e.txId > $after AND e.txId <= $until "
            "RETURN s.iri AS src, type(e) AS type, d.iri AS dst, properties(e) AS props "
            "ORDER BY e.txId")


AUDIT_IN_RECORD_ORDER = ("MATCH (a:AuditEvent) RETURN a {.*} AS a "
                         "ORDER BY a.targetIri, a.chainIndex")

#: the entries of some records recorded by a time, and the last transaction by a time (asOf)
AUDIT_OF_RECORDS = ("UNWIND $records AS r MATCH (a:AuditEvent {targetIri: r}) "
                    "WHERE a.recordedAt <= $until RETURN a {.*} AS a")
TX_AT = ("MATCH (a:AuditEvent) WHERE a.recordedAt <= $at RETURN a.txId AS tx "
         "ORDER BY a.recordedAt DESC, a.chainIndex DESC LIMIT 1")

COUNT_NODES = "MATCH (n:Record) RETURN labels(n) AS labels, count(*) AS n"
COUNT_EDGES = "MATCH ()-[e]->() RETURN type(e) AS type, count(*) AS n"
WIPE = "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
DISTINCT_LABELS = "MATCH (n) UNWIND labels(n) AS l RETURN DISTINCT l AS v"
DISTINCT_TYPES = "MATCH ()-[e]->() RETURN DISTINCT type(e) AS v"
DISTINCT_NODE_KEYS = "MATCH (n) UNWIND keys(n) AS k RETURN DISTINCT k AS v"
DISTINCT_EDGE_KEYS = "MATCH ()-[e]->() UNWIND keys(e) AS k RETURN DISTINCT k AS v"
