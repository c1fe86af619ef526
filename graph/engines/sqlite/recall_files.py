"""The recall's units file from the embedded walk's arrays (issue 16 item 1).

The generic writer (:func:`graph.recall.write_export`) streams a row per unit from
:meth:`graph.port.Walk.unit_rows`, decoding each unit's properties in Python, and — for the
shipment and customer columns — reads every shipped unit a second time from the packaging walk
(:mod:`graph.recall_consignees`) and merges the two streams. Here the same bytes come from one
SQL statement: what a row takes from the walk (the batch it was made from, its depth, its seed,
the shipment it went in) is one of a small number of distinct *tails* (one per batch, seed and
shipment), formatted once by :mod:`csv`; each unit's id and tail number go into a temporary
table, and SQLite returns every unit's head (``serial,gtin,iri``, the GTIN read without parsing
the JSON) with its tail number in (serial, IRI) order: by the class's (label, key, iri) index
when the recall holds most units, else sorted. Python appends the tails and writes a chunk at a
time. A unit whose serial, GTIN or IRI the CSV writer would quote (or whose GTIN is stored
otherwise) gets no head from SQL, and its chunk is written field by field as the generic writer
writes it.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt
import orjson

from graph.engines.sqlite.rows import iris_of
from graph.engines.sqlite.walk import ArrayWalk

__all__ = ["unit_ids", "units_with_seeds", "write_units"]

IntArray = npt.NDArray[np.int64]
UNIT = "SerializedUnit"
#: lines fetched and written at a time
PER = 50_000

_TEMP = """
CREATE TEMP TABLE IF NOT EXISTS recall_unit (id INTEGER PRIMARY KEY, tail INTEGER NOT NULL);
DELETE FROM recall_unit;
"""
_DROP = "DROP TABLE IF EXISTS temp.recall_unit;"
#: one unit per packed value (id << 32 | tail)
_FILL_UNITS = """
INSERT INTO recall_unit (id, tail) SELECT value >> 32, value & 4294967295 FROM json_each(?)
"""
#: a unit's serial, GTIN and IRI as a line's head; the GTIN read without parsing the JSON when
#: it is the properties' first member, 14 digits (as the write path stores a unit), else NULL
#: (that unit's chunk is then written field by field)
_HEAD = """
SELECT n.id, CASE
  WHEN n.props GLOB '{"gtin":"DIGITS",*'
    THEN n.key || ',' || substr(n.props, 10, 14) || ',' || n.iri
  WHEN instr(n.props, '"gtin"') = 0 THEN n.key || ',,' || n.iri END, u.tail
FROM {order}
WHERE n.label = ?
ORDER BY n.key, n.iri
""".replace("DIGITS", "[0-9]" * 14)
_DENSE = "nodes n INDEXED BY nodes_label_key CROSS JOIN recall_unit u ON u.id = n.id"
_SPARSE = "recall_unit u CROSS JOIN nodes n ON n.id = u.id"
_FIELDS = "SELECT id, key, props, iri FROM nodes WHERE id IN (SELECT value FROM json_each(?))"


def unit_ids(walk: ArrayWalk, label: str = UNIT) -> IntArray:
    """Node ids (sorted) of the walk's nodes of class ``label``, from the label index."""
    ids, labels = walk.result.ids, walk.labels
    code = labels.codes.get(label)
    if code is None:
        return np.zeros(0, dtype=np.int64)
    found: IntArray = ids[labels.by_id[np.minimum(ids, labels.by_id.size - 1)] == code]
    return found


def _roots(walk: ArrayWalk, ids: IntArray) -> IntArray:
    """The seed each node was first reached from (climbing the breadth-first tree)."""
    root = ids.copy()
    while True:
        up = walk.result.parents_of(root)
        more = up >= 0
        if not more.any():
            return root
        root[more] = up[more]


def units_with_seeds(walk: ArrayWalk, units: IntArray) -> tuple[IntArray, IntArray]:
    """``(parent, seed)`` of each unit: the node it was first reached from (``-1`` for a seed)
    and its seed."""
    return walk.result.parents_of(units), _roots(walk, units)


def _shipment_of(units: IntArray, consignees: Any) -> tuple[IntArray, dict[int, tuple[str, ...]]]:
    """The shipment (node id, ``-1`` for none) each unit was reached from in the consignees'
    packaging walk, and the consignee columns of each shipment by id."""
    ship = np.full(units.size, -1, dtype=np.int64)
    pack: ArrayWalk | None = consignees.walk
    if pack is None or not isinstance(pack, ArrayWalk):
        return ship, {}
    by_iri = pack.seeds  # shipment IRI → node id
    cols = {int(by_iri[i]): c  # type: ignore[call-overload]  # handles are int node ids
            for i, c in consignees.shipments.items() if i in by_iri}
    reached = pack.result.ids
    pos = np.searchsorted(reached, units)
    inside = (pos < reached.size) & (reached[np.minimum(pos, max(reached.size - 1, 0))]
                                     == units) if reached.size else np.zeros(units.size, bool)
    ship[inside] = _roots(pack, units[inside])
    return ship, cols


def _tails(conn: sqlite3.Connection, walk: ArrayWalk, units: IntArray,
           consignees: Any | None) -> tuple[IntArray, list[tuple[Any, ...]]]:
    """Each unit's tail number and the tails' fields (batch, depth, seed and, with the
    consignees, shipment, shipped at, customer, name, GLN)."""
    parent, root = units_with_seeds(walk, units)
    depth = walk.result.depth[walk.result.position(units)]
    if consignees is not None:
        ship, cols = _shipment_of(units, consignees)
    else:
        ship, cols = np.full(units.size, -1, dtype=np.int64), {}
    parts = [np.unique(a, return_inverse=True) for a in (parent, root, depth, ship)]
    sizes = [int(p[0].size) for p in parts]
    key = np.zeros(units.size, dtype=np.int64)
    if float(np.prod(np.array(sizes, dtype=np.float64))) < 2.0 ** 62:
        for (_, inv), n in zip(parts, sizes, strict=True):
            key = key * n + inv.reshape(-1)
        combos, tail = np.unique(key, return_inverse=True)
        first = np.zeros(combos.size, dtype=np.int64)
        first[tail.reshape(-1)[::-1]] = np.arange(units.size - 1, -1, -1, dtype=np.int64)
    else:  # too many distinct parts for one integer key: rows of the four
        stacked = np.stack([parent, root, depth, ship], axis=1)
        _, first, tail = np.unique(stacked, axis=0, return_index=True, return_inverse=True)
    tail = tail.reshape(-1)
    names = iris_of(conn, np.unique(np.concatenate([parent[parent >= 0], root])).tolist())
    blank = ("",) * 5
    fields: list[tuple[Any, ...]] = []
    for i in first.tolist():
        p, r, d, s = int(parent[i]), int(root[i]), int(depth[i]), int(ship[i])
        fields.append((names.get(p, ""), d, names[r],
                       *(() if consignees is None else cols.get(s, blank))))
    return tail.astype(np.int64), fields


def _csv_tail(fields: tuple[Any, ...]) -> str:
    """``fields`` as :mod:`csv` writes them, after the head's last comma."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(fields)
    return "," + buf.getvalue()


def _fields(conn: sqlite3.Connection, ids: Sequence[int], tails: dict[int, int],
            fields: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """The rows of ``ids`` field by field (the generic writer's values), in their order."""
    got = {r[0]: r for r in conn.execute(_FIELDS, (orjson.dumps(list(ids)).decode(),))}
    for i in ids:
        _, key, props, iri = got[i]
        gtin = orjson.loads(props).get("gtin")
        yield (key, "" if gtin is None else gtin, iri, *fields[tails[i]])


def write_units(f: TextIO, walk: ArrayWalk, consignees: Any | None = None) -> int:
    """Write the recall's unit rows (header excluded) as :func:`graph.recall.write_export`
    writes them; ``consignees``: a :class:`graph.recall_consignees.Consignees` for the shipment
    and customer columns. Returns the number of rows."""
    conn = walk._conn()
    units = unit_ids(walk)
    if units.size == 0:
        return 0
    tail, fields = _tails(conn, walk, units, consignees)
    total = int(conn.execute("SELECT count(*) FROM nodes WHERE label = ?", (UNIT,)).fetchone()[0])
    conn.executescript(_TEMP)
    try:
        packed = (units << np.int64(32)) | tail
        conn.execute(_FILL_UNITS, (orjson.dumps(packed, option=orjson.OPT_SERIALIZE_NUMPY)
                                   .decode(),))
        order = _SPARSE if units.size * 4 < total else _DENSE
        cur = conn.execute(_HEAD.replace("{order}", order), (UNIT,))
        texts = [_csv_tail(t) for t in fields]
        w = csv.writer(f)
        tails: dict[int, int] | None = None
        while rows := cur.fetchmany(PER):
            heads = [r[1] for r in rows]
            n = len(heads)
            if None not in heads:
                text = "\r\n".join(heads)  # heads that csv would write as they are
                if (text.count(",") == 2 * n and '"' not in text
                        and text.count("\n") == n - 1 and text.count("\r") == n - 1):
                    f.write("".join([h + texts[r[2]] + "\r\n"
                                     for h, r in zip(heads, rows, strict=True)]))
                    continue
            if tails is None:  # rare: a field to quote; written as csv writes it
                tails = dict(zip(units.tolist(), tail.tolist(), strict=True))
            w.writerows(_fields(conn, [r[0] for r in rows], tails, fields))
        return int(units.size)
    finally:
        conn.executescript(_DROP)
