"""All SQL of the embedded engine, named by what it answers."""

from __future__ import annotations

from typing import Any

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=OFF",
    "PRAGMA cache_size=-262144",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA mmap_size=1073741824",
    "PRAGMA busy_timeout=60000",
)

SCHEMA_BASE = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta(k, v) VALUES ('last_tx', '0');
CREATE TABLE IF NOT EXISTS nodes (
  id INTEGER PRIMARY KEY,
  iri TEXT NOT NULL UNIQUE,
  label TEXT NOT NULL,
  key TEXT NOT NULL,
  props TEXT NOT NULL,
  recorded_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  tx INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS nodes_key ON nodes(key);
CREATE INDEX IF NOT EXISTS nodes_label_key ON nodes(label, key, iri);
CREATE TABLE IF NOT EXISTS edges (
  src INTEGER NOT NULL,
  type TEXT NOT NULL,
  dst INTEGER NOT NULL,
  eid TEXT NOT NULL,
  props TEXT NOT NULL,
  recorded_at TEXT NOT NULL,
  tx INTEGER NOT NULL,
  kind TEXT GENERATED ALWAYS AS (props ->> '$.derivationKind') VIRTUAL,
  PRIMARY KEY (src, type, dst, eid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_in ON edges(dst, type, src);
CREATE INDEX IF NOT EXISTS edges_tx ON edges(type, tx);
CREATE TABLE IF NOT EXISTS identifiers (
  value TEXT NOT NULL,
  prop TEXT NOT NULL,
  node INTEGER NOT NULL,
  PRIMARY KEY (value, prop, node)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS identifiers_node ON identifiers(node);
CREATE TABLE IF NOT EXISTS events (
  event_id TEXT PRIMARY KEY,
  content_hash TEXT NOT NULL,
  tx INTEGER NOT NULL,
  recorded_at TEXT NOT NULL
) WITHOUT ROWID;
"""

#: the audit trail as versions 1-3 stored it (one table, every value as text)
AUDIT_V3 = """
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY,
  tx INTEGER NOT NULL,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  record TEXT NOT NULL,
  record_class TEXT NOT NULL,
  field TEXT,
  old TEXT NOT NULL,
  new TEXT NOT NULL,
  reason TEXT,
  event_id TEXT,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_record ON audit(record, seq);
CREATE INDEX IF NOT EXISTS audit_actor ON audit(actor, seq);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""
#: the layout of versions 1-3 (every statement ``IF NOT EXISTS``)
SCHEMA = SCHEMA_BASE + AUDIT_V3

GENESIS_HEX = "0" * 64



def _hex(col: str) -> str:
    """A stored hash as 64 hex digits (it is text already where the upgrade kept it so)."""
    return f"CASE typeof({col}) WHEN 'blob' THEN lower(hex({col})) ELSE {col} END"


#: the entries of ``audit_log`` with every value as text, in the columns of the version-3 table;
#: ``{prev}`` is what ``prev_hash`` reads
_AUDIT_DECODED = """SELECT a.seq AS seq, a.tx AS tx, a.at AS at, ac.term AS actor,
  an.term AS action, a.record AS record, rc.term AS record_class, fd.term AS field,
  a.old AS old, a.new AS new, rs.term AS reason, a.event_id AS event_id, {prev} AS prev_hash,
  """ + _hex("a.hash") + """ AS hash
FROM audit_log a
LEFT JOIN audit_terms ac ON ac.id = a.actor
LEFT JOIN audit_terms an ON an.id = a.action
LEFT JOIN audit_terms rc ON rc.id = a.record_class
LEFT JOIN audit_terms fd ON fd.id = a.field
LEFT JOIN audit_terms rs ON rs.id = a.reason"""
#: the previous hash: the one stored, else the hash of the entry before (64 zeros for the first)
_PREV_DERIVED = (f"CASE WHEN a.prev IS NOT NULL THEN {_hex('a.prev')} "
                 f"WHEN a.seq = 1 THEN '{GENESIS_HEX}' "
                 f"ELSE (SELECT {_hex('p.hash')} FROM audit_log p WHERE p.seq = a.seq - 1) END")
#: The audit trail of version 4 (step :func:`graph.engines.sqlite.migrations._compact_audit`),
#: each statement on its own (a step runs them one by one in the caller's transaction):
#:
#: * ``audit_log`` holds the entries: ``actor``, ``action``, ``record_class``, ``field`` and
#:   ``reason`` as integer codes of ``audit_terms``; the entry hash as its 32 bytes; no
#:   ``prev_hash`` (it is the hash of the entry before: ``prev`` holds it only where it is not,
#:   which a chain written by tracegraph never has);
#: * ``audit_terms`` the dictionary of those codes;
#: * ``audit``, a view, gives the entries with every value as text, exactly the columns of the
#:   version-3 table (the readers' SQL is the same for both layouts; an auditor reads it with
#:   the ``sqlite3`` shell, docs/audit.md). A value the upgrade could not store as a code or as
#:   bytes (a hash that is not 64 lower-case hex digits) stays as the text it was.
#:
#: Both tables refuse updates and deletes. The index names are the version-3 ones.
AUDIT_V4 = (
    """CREATE TABLE IF NOT EXISTS audit_terms (
  id INTEGER PRIMARY KEY,
  term TEXT NOT NULL UNIQUE
)""",
    """CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY,
  tx INTEGER NOT NULL,
  at TEXT NOT NULL,
  actor INTEGER NOT NULL,
  action INTEGER NOT NULL,
  record TEXT NOT NULL,
  record_class INTEGER NOT NULL,
  field INTEGER,
  old TEXT NOT NULL,
  new TEXT NOT NULL,
  reason INTEGER,
  event_id TEXT,
  hash BLOB NOT NULL,
  prev BLOB
)""",
    "CREATE INDEX IF NOT EXISTS audit_record ON audit_log(record, seq)",
    "CREATE INDEX IF NOT EXISTS audit_actor ON audit_log(actor, seq)",
    "CREATE INDEX IF NOT EXISTS audit_at ON audit_log(at)",
    """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_terms_no_update BEFORE UPDATE ON audit_terms
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_terms_no_delete BEFORE DELETE ON audit_terms
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    "CREATE VIEW IF NOT EXISTS audit AS\n" + _AUDIT_DECODED.format(prev=_PREV_DERIVED),
)
#: the view's statement as ``sqlite_master`` keeps it (SQLite drops the ``IF NOT EXISTS``)
AUDIT_VIEW_STORED = AUDIT_V4[-1].replace(" IF NOT EXISTS", "", 1)
AUDIT_VIEW_IN_FILE = "SELECT type, sql FROM sqlite_master WHERE name = 'audit'"
#: the layout of version 4 (what runs on every open of a version-4 file)
SCHEMA_V4 = SCHEMA_BASE + "".join(f"{s};\n" for s in AUDIT_V4)
#: step 4: the terms of the version-3 table, its entries into ``audit_log`` (``tg_hash``: the
#: stored hash text as bytes when it is 64 lower-case hex digits, else the text), the old table
#: dropped (its indexes and triggers with it)
COPY_AUDIT_TERMS = """
INSERT OR IGNORE INTO audit_terms (term)
SELECT actor FROM audit UNION SELECT action FROM audit UNION SELECT record_class FROM audit
UNION SELECT field FROM audit WHERE field IS NOT NULL
UNION SELECT reason FROM audit WHERE reason IS NOT NULL
"""
COPY_AUDIT = """
INSERT INTO audit_log (seq, tx, at, actor, action, record, record_class, field, old, new,
                       reason, event_id, hash, prev)
SELECT a.seq, a.tx, a.at, ac.id, an.id, a.record, rc.id, fd.id, a.old, a.new, rs.id,
       a.event_id, tg_hash(a.hash),
       CASE WHEN a.prev_hash IS (CASE WHEN a.seq = 1 THEN '{genesis}'
                                 ELSE (SELECT p.hash FROM audit p WHERE p.seq = a.seq - 1) END)
            THEN NULL ELSE tg_hash(a.prev_hash) END
FROM audit a
JOIN audit_terms ac ON ac.term = a.actor
JOIN audit_terms an ON an.term = a.action
JOIN audit_terms rc ON rc.term = a.record_class
LEFT JOIN audit_terms fd ON fd.term = a.field
LEFT JOIN audit_terms rs ON rs.term = a.reason
ORDER BY a.seq
""".replace("{genesis}", GENESIS_HEX)
COUNT_AUDIT = "SELECT count(*) FROM audit"
DROP_AUDIT_V3 = "DROP TABLE audit"
#: the codes of some terms, and new ones
TERM_CODES = "SELECT term, id FROM audit_terms WHERE term IN (SELECT value FROM json_each(?))"
INSERT_TERM = "INSERT OR IGNORE INTO audit_terms (term) VALUES (?)"
INSERT_AUDIT_LOG = """
INSERT INTO audit_log (seq, tx, at, actor, action, record, record_class, field, old, new,
                       reason, event_id, hash, prev)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


#: the stored schema version (graph.schema.SCHEMA_VERSION; steps in
#: graph.engines.sqlite.migrations)
GET_SCHEMA_VERSION = "SELECT v FROM meta WHERE k = 'schema_version'"
SET_SCHEMA_VERSION = "INSERT OR REPLACE INTO meta(k, v) VALUES ('schema_version', ?)"
#: (re)index every identifier value of every node (the step to schema 2, or repair)
REINDEX_IDENTIFIERS = """
INSERT OR IGNORE INTO identifiers (value, prop, node)
SELECT CAST(j.value AS TEXT), j.key, n.id FROM nodes n, json_each(n.props) AS j
WHERE j.key IN (SELECT value FROM json_each(?))
"""
LAST_TX = "SELECT v FROM meta WHERE k = 'last_tx'"
STORE_ID = "SELECT v FROM meta WHERE k = 'store_id'"
SET_STORE_ID = "INSERT OR IGNORE INTO meta(k, v) VALUES ('store_id', ?)"
SET_LAST_TX = "UPDATE meta SET v = ? WHERE k = 'last_tx'"

_NODE_COLS = "iri, label, key, props, recorded_at, updated_at, tx"
NODES_BY_IRIS = f"SELECT {_NODE_COLS} FROM nodes WHERE iri IN (SELECT value FROM json_each(?))"
IDS_BY_IRIS = "SELECT iri, id FROM nodes WHERE iri IN (SELECT value FROM json_each(?))"
IRIS_BY_IDS = "SELECT id, iri FROM nodes WHERE id IN (SELECT value FROM json_each(?))"

UPSERT_NODE = f"""
INSERT INTO nodes ({_NODE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(iri) DO UPDATE SET label = excluded.label, key = excluded.key,
  props = excluded.props, updated_at = excluded.updated_at, tx = excluded.tx
"""
DELETE_IDENTIFIERS = "DELETE FROM identifiers WHERE node IN (SELECT value FROM json_each(?))"
#: removal of a rolled-back migration stage (graph.retract): nodes, their edges, their events
DELETE_EDGES_OF = """
DELETE FROM edges WHERE src IN (SELECT value FROM json_each(?1))
   OR dst IN (SELECT value FROM json_each(?1))
"""
DELETE_NODES = "DELETE FROM nodes WHERE id IN (SELECT value FROM json_each(?))"
DELETE_EVENTS_PREFIX = "DELETE FROM events WHERE event_id >= ? AND event_id < ?"
#: the last transaction that removed records: in-memory indexes built before it are rebuilt
PRUNED_TX = "SELECT v FROM meta WHERE k = 'pruned_tx'"
SET_PRUNED_TX = "INSERT OR REPLACE INTO meta(k, v) VALUES ('pruned_tx', ?)"
INSERT_IDENTIFIER = "INSERT OR IGNORE INTO identifiers (value, prop, node) VALUES (?, ?, ?)"
INSERT_EDGE = """
INSERT OR IGNORE INTO edges (src, type, dst, eid, props, recorded_at, tx)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
INSERT_AUDIT = """
INSERT INTO audit (seq, tx, at, actor, action, record, record_class, field, old, new, reason,
                   event_id, prev_hash, hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
INSERT_EVENT = "INSERT INTO events (event_id, content_hash, tx, recorded_at) VALUES (?, ?, ?, ?)"
EVENTS_BY_IDS = """
SELECT event_id, content_hash, tx, recorded_at FROM events
WHERE event_id IN (SELECT value FROM json_each(?))
"""
AUDIT_HEAD = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"

_EDGE_SELECT = """
SELECT s.iri, e.type, d.iri, e.eid, e.props, e.recorded_at, e.tx
FROM edges e JOIN nodes s ON s.id = e.src JOIN nodes d ON d.id = e.dst
"""

#: derivation edges committed after a transaction (to keep the in-memory index in step)
DERIVATIONS_SINCE = "SELECT src, dst, kind, recorded_at, tx FROM edges WHERE type = ? AND tx > ?"
#: all of them (a table scan beats the tx index when reading everything)
ALL_DERIVATIONS = """
SELECT src, dst, kind, recorded_at, tx FROM edges NOT INDEXED WHERE type = ? AND tx > ?
"""
#: edges of one type out of a set of nodes, with their details
EDGES_OF_SOURCES = """
SELECT e.src, e.type, e.dst, e.eid, e.props, e.recorded_at, e.tx FROM edges e
WHERE e.src IN (SELECT value FROM json_each(?1)) AND e.type = ?2
"""

#: node classes by id, for nodes created after a known id (the class of a node never changes)
LABELS_AFTER = "SELECT id, label FROM nodes WHERE id > ? ORDER BY id"
LINKS_OUT = _EDGE_SELECT + """
WHERE e.src IN (SELECT id FROM nodes WHERE iri IN (SELECT value FROM json_each(?1)))
"""
LINKS_IN = _EDGE_SELECT + """
WHERE e.dst IN (SELECT id FROM nodes WHERE iri IN (SELECT value FROM json_each(?1)))
"""
#: the same, of some types only (a seek on the edges' (src, type …) / (dst, type …) keys)
TYPED_LINKS_OUT = LINKS_OUT + "AND e.type IN (SELECT value FROM json_each(?2))\n"
TYPED_LINKS_IN = LINKS_IN + "AND e.type IN (SELECT value FROM json_each(?2))\n"
#: ``id`` and the columns ``{cols}`` (empty, or ``", a, b"``) of nodes by id, and of one class in
#: (key, iri) order (streamed: a first page, or the recall export's units file)
ROWS_BY_IDS = "SELECT id{cols} FROM nodes WHERE id IN (SELECT value FROM json_each(?))"
ROWS_OF_LABEL_IN_KEY_ORDER = "SELECT id{cols} FROM nodes WHERE label = ? ORDER BY key, iri"
COUNT_OF_LABEL = "SELECT count(*) FROM nodes WHERE label = ?"
KEY_IRI_ID_BY_IDS = "SELECT key, iri, id FROM nodes WHERE id IN (SELECT value FROM json_each(?))"
KEYS_BY_IDS = "SELECT id, key FROM nodes WHERE id IN (SELECT value FROM json_each(?))"
NODES_BY_IDS = f"SELECT id, {_NODE_COLS} FROM nodes WHERE id IN (SELECT value FROM json_each(?))"

#: the whole state, streamed in IRI order for the audit's state check (index order, no sort),
#: or the part in an IRI range ``[:start, :stop)`` (:func:`in_range`)
NODES_IN_IRI_ORDER = f"SELECT {_NODE_COLS} FROM nodes {{where}} ORDER BY iri"
EDGES_IN_SOURCE_ORDER = """
SELECT s.iri, e.type, d.iri, e.eid, e.props, e.recorded_at, e.tx
FROM nodes s JOIN edges e ON e.src = s.id JOIN nodes d ON d.id = e.dst {where} ORDER BY s.iri
"""
#: edges of one type in a range of transactions, by the (type, tx) index
EDGES_OF_TYPE_IN_TX = _EDGE_SELECT + """
WHERE e.type = ?1 AND e.tx > ?2 AND e.tx <= ?3 ORDER BY e.tx
"""
AUDIT_IN_RECORD_ORDER = """
SELECT seq, tx, at, actor, action, record, record_class, field, old, new, reason, event_id,
       prev_hash, hash FROM audit {where} ORDER BY record, seq
"""
#: the entries of some records recorded by a time, and the last transaction by a time (asOf)
AUDIT_OF_RECORDS = """
SELECT seq, tx, at, actor, action, record, record_class, field, old, new, reason, event_id,
       prev_hash, hash FROM audit WHERE record IN (SELECT value FROM json_each(?)) AND at <= ?
"""
TX_AT = "SELECT tx FROM audit WHERE at <= ? ORDER BY at DESC, seq DESC LIMIT 1"
#: the node IRI at an offset in IRI order (to cut the state into ranges)
IRI_AT = "SELECT iri FROM nodes ORDER BY iri LIMIT 1 OFFSET ?"
COUNT_ALL_NODES = "SELECT count(*) FROM nodes"


def in_range(sql: str, column: str, start: str | None, stop: str | None) -> str:
    """``sql`` restricted to the rows whose ``column`` lies in ``[:start, :stop)``."""
    cond = [c for c, v in ((f"{column} >= :start", start), (f"{column} < :stop", stop))
            if v is not None]
    return sql.format(where=("WHERE " + " AND ".join(cond)) if cond else "")

COUNT_NODES = "SELECT label, count(*) FROM nodes GROUP BY label"
COUNT_EDGES = "SELECT type, count(*) FROM edges GROUP BY type"


FIND_BY_PROPERTY = f"""
SELECT {_NODE_COLS} FROM nodes
WHERE id IN (SELECT node FROM identifiers WHERE value = :v AND prop = :p)
"""
NODES_OF_LABEL = f"SELECT {_NODE_COLS} FROM nodes WHERE label = ? ORDER BY iri"
FIND_ANY = f"""
SELECT {_NODE_COLS} FROM nodes
WHERE id IN (SELECT node FROM identifiers WHERE value = :v) OR key = :v
"""


def audit_query(record: str | None, actor: str | None, since: str | None, until: str | None,
                after_seq: int, limit: int | None) -> tuple[str, dict[str, Any]]:
    """Audit entries in sequence order, filtered so that each filter can use its index."""
    where = ["seq > :after"]
    params: dict[str, Any] = {"after": after_seq, "limit": -1 if limit is None else limit}
    for name, value, cond in (("record", record, "record = :record"),
                              ("actor", actor, "actor = :actor"),
                              ("since", since, "at >= :since"),
                              ("until", until, "at <= :until")):
        if value is not None:
            where.append(cond)
            params[name] = value
    sql = ("SELECT seq, tx, at, actor, action, record, record_class, field, old, new, reason, "
           "event_id, prev_hash, hash FROM audit WHERE " + " AND ".join(where) +
           " ORDER BY seq LIMIT :limit")
    return sql, params

DISTINCT_LABELS = "SELECT DISTINCT label FROM nodes"
DISTINCT_TYPES = "SELECT DISTINCT type FROM edges"
DISTINCT_NODE_KEYS = "SELECT DISTINCT j.key FROM nodes, json_each(nodes.props) AS j"
DISTINCT_EDGE_KEYS = "SELECT DISTINCT j.key FROM edges, json_each(edges.props) AS j"
