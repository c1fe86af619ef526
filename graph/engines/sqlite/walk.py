"""The embedded engine's walk: the CSR walk's numpy arrays, read back as a :class:`graph.port.Walk`.

Handles are integer node ids. Nothing is loaded until asked for: classes come from an in-memory
label index (one int16 code per node id), IRIs, keys and records from SQLite in chunks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

import graph.engines.sqlite.queries as Q
from graph.engines.common import chunks
from graph.engines.sqlite.adjacency import WalkResult
from graph.engines.sqlite.rows import CHUNK, as_json, iris_of, node_of
from graph.model import NodeRecord
from graph.port import UnitRow

__all__ = ["ArrayWalk", "LabelIndex"]

#: units whose export rows are read and written at a time (the export never holds them all)
UNIT_CHUNK = 50_000


def _distinct(handles: Sequence[Hashable] | npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Sorted distinct node ids (a walk's lists come sorted: the sort is then cheap)."""
    ids = np.sort(np.asarray(handles, dtype=np.int64))
    return ids[np.concatenate(([True], ids[1:] != ids[:-1]))] if ids.size else ids


class LabelIndex:
    """Class of every node by id (int16 codes), extended as nodes are created."""

    def __init__(self, classes: Sequence[str]) -> None:
        self.names = list(classes)
        self.codes = {c: i for i, c in enumerate(self.names)}
        self.by_id: npt.NDArray[np.int16] = np.full(1, -1, dtype=np.int16)
        self.max_id = 0

    def refresh(self, conn: sqlite3.Connection) -> None:
        rows = conn.execute(Q.LABELS_AFTER, (self.max_id,)).fetchall()
        if not rows:
            return
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        codes = np.fromiter((self.codes[r[1]] for r in rows), dtype=np.int16, count=len(rows))
        self.max_id = int(ids[-1])
        if self.by_id.size <= self.max_id:
            grown = np.full(self.max_id + 1 + self.max_id // 4, -1, dtype=np.int16)
            grown[:self.by_id.size] = self.by_id
            self.by_id = grown
        self.by_id[ids] = codes


class ArrayWalk:
    """A walk of the embedded engine: numpy arrays indexed by node id.

    ``conn`` gives the calling thread's connection to the store (the walk may be read on
    another thread than the one that made it).
    """

    def __init__(self, conn: Callable[[], sqlite3.Connection], seeds: dict[str, Hashable],
                 unknown: list[str], result: WalkResult, labels: LabelIndex) -> None:
        self._conn = conn
        self.seeds = seeds
        self.unknown = unknown
        self.result = result
        self.labels = labels

    def __len__(self) -> int:
        return int(self.result.ids.size)

    def by_label(self) -> dict[str, list[Hashable]]:
        ids = self.result.ids
        codes = self.labels.by_id[np.minimum(ids, self.labels.by_id.size - 1)]
        order = np.argsort(codes, kind="stable")
        ids, codes = ids[order], codes[order]
        bounds = np.flatnonzero(np.diff(codes)) + 1
        out: dict[str, list[Hashable]] = {}
        for part_ids, part_codes in zip(np.split(ids, bounds), np.split(codes, bounds),
                                        strict=True):
            if part_ids.size:
                out[self.labels.names[int(part_codes[0])]] = part_ids.tolist()
        return out

    def depth_of(self, h: Hashable) -> int:
        return self.result.depth_of(int(h))  # type: ignore[call-overload]  # handles are the engine's int node ids (Hashable on the port)

    def witness(self, h: Hashable) -> list[Hashable]:
        return list(self.result.witness(int(h)))  # type: ignore[call-overload]  # int node ids

    def iris(self, handles: Sequence[Hashable]) -> dict[Hashable, str]:
        return dict(iris_of(self._conn(), handles))  # type: ignore[arg-type]  # handles are int node ids

    def witnesses(self, handles: Sequence[Hashable]) -> dict[Hashable, list[Hashable]]:
        ids = np.asarray(list(handles), dtype=np.int64)
        levels = [ids]
        while True:  # climb the breadth-first tree, every handle at once
            cur = levels[-1]
            up = np.full(cur.size, -1, dtype=np.int64)
            live = cur >= 0
            up[live] = self.result.parents_of(cur[live])
            if not (up >= 0).any():
                break
            levels.append(up)
        rows = np.stack(levels[::-1], axis=1).tolist()
        return {h: [x for x in row if x >= 0] for h, row in zip(ids.tolist(), rows, strict=True)}

    def _in_key_order(self, ids: npt.NDArray[np.int64], cols: str = "", per: int = 0
                      ) -> Iterator[list[tuple[Any, ...]]]:
        """Rows ``(id, *cols)`` of ``ids`` (sorted, distinct, all of one class) in (key, IRI)
        order, in lists of at most ``per`` (default :data:`CHUNK`)."""
        if ids.size == 0:
            return
        per = per or CHUNK
        label = self.labels.names[int(self.labels.by_id[int(ids[0])])]
        conn = self._conn()
        total = conn.execute(Q.COUNT_OF_LABEL, (label,)).fetchone()
        if ids.size * 4 < int(total[0]):  # a sparse subset: order its own keys
            keyed: list[tuple[str, str, int]] = []
            for chunk in chunks(ids.tolist(), 100_000):
                keyed.extend(conn.execute(Q.KEY_IRI_ID_BY_IDS, (as_json(chunk),)))
            keyed.sort()
            for part in chunks([r[2] for r in keyed], per):
                got = {r[0]: r for r in conn.execute(Q.ROWS_BY_IDS.format(cols=cols),
                                                     (as_json(part),))}
                yield [got[i] for i in part]
            return
        cur = conn.execute(Q.ROWS_OF_LABEL_IN_KEY_ORDER.format(cols=cols), (label,))
        while rows := cur.fetchmany(per):  # most of the class: the (label, key, iri) index
            batch = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            pos = np.searchsorted(ids, batch)
            hit = (pos < ids.size) & (ids[np.minimum(pos, ids.size - 1)] == batch)
            if hit.any():
                yield [rows[k] for k in np.flatnonzero(hit).tolist()]

    def unit_rows(self, handles: Sequence[Hashable]) -> Iterator[UnitRow]:
        walk = self.result
        names: dict[int, str] = {}
        conn = self._conn()
        for rows in self._in_key_order(_distinct(handles), ", key, props, iri", UNIT_CHUNK):
            part = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            root = part.copy()
            while True:  # climb to each unit's seed, the whole part at once
                up = walk.parents_of(root)
                more = up >= 0
                if not more.any():
                    break
                root[more] = up[more]
            first = walk.parents_of(part)
            near = _distinct(np.concatenate([first[first >= 0], root])).tolist()
            names.update(iris_of(conn, [x for x in near if x not in names]))
            depth = walk.depth[walk.position(part)]
            for (_, key, props, iri), p, r, d in zip(rows, first.tolist(), root.tolist(),
                                                     depth.tolist(), strict=True):
                gtin = orjson.loads(props).get("gtin")
                yield (key, "" if gtin is None else gtin, iri, names.get(p, ""), d, names[r])

    def first_by_key(self, handles: Sequence[Hashable], n: int) -> list[Hashable]:
        out: list[Hashable] = []
        if n <= 0:
            return out
        for rows in self._in_key_order(_distinct(handles)):
            out.extend(r[0] for r in rows[: n - len(out)])
            if len(out) >= n:
                break
        return out

    def keys(self, handles: Sequence[Hashable]) -> dict[Hashable, str]:
        out: dict[Hashable, str] = {}
        conn = self._conn()
        for chunk in chunks(handles, 100_000):
            out.update(conn.execute(Q.KEYS_BY_IDS, (as_json(chunk),)).fetchall())
        return out

    def records(self, handles: Sequence[Hashable]) -> dict[Hashable, NodeRecord]:
        out: dict[Hashable, NodeRecord] = {}
        conn = self._conn()
        for chunk in chunks(handles, CHUNK):
            for row in conn.execute(Q.NODES_BY_IDS, (as_json(chunk),)):
                out[row[0]] = node_of(row[1:])
        return out
