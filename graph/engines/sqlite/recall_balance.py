"""The recall's mass balance from one walk of every seed (issue 16 item 1).

The engine-independent file (:func:`graph.recall_balance.balance_rows`) reads a full genealogy
per seed — a thousand seeds, a thousand genealogies, most of them overlapping. Here one
downstream walk from all the seeds gives every edge any seed's genealogy holds; each edge's share
is computed once per distinct (edge quantity, kind, source class and quantity, derived class) by
:func:`graph.massbalance.share_of`, and :func:`graph.massbalance.propagate` — the arithmetic
:func:`graph.massbalance.mass_balance` runs for one seed — carries every seed at once, a group of
seeds at a time. Only what a share reads is fetched: the quantity and unit of the edges and nodes
that have one (their properties name them; every other edge passes on by its kind, every other
node is counted by its class), and the records of the things the file lists.

A node sums its sources in the order the genealogy lists its edges (source id, then edge id), so
every figure is the same float as the per-seed computation's.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from graph.engines.common import chunks
from graph.engines.sqlite.pages import EDGES_OF_PAIRS
from graph.engines.sqlite.store import SQLiteStore
from graph.engines.sqlite.walk import ArrayWalk
from graph.massbalance import SHARE_PROPS, Flow, propagate, seed_line, share_of
from graph.model import Direction, EdgeRecord, NodeRecord
from graph.schema import DERIVATION

__all__ = ["array_balance"]

IntArray = npt.NDArray[np.int64]
#: seeds carried through the arrays at a time (bounds the memory of the (node, seed) entries)
GROUP = 25
#: the derivations out of runs of node ids ``[first, last]`` whose properties name a quantity or
#: unit (a range scan of the edges' primary key per run, not a seek per node; ``+e.type`` keeps
#: the planner off the (type, tx) index)
_WITH_QUANTITY = """
SELECT e.src, e.dst, e.eid, e.props FROM json_each(?1) AS r CROSS JOIN edges e
WHERE e.src BETWEEN r.value ->> 0 AND r.value ->> 1 AND +e.type = ?2
  AND (instr(e.props, '"quantity"') > 0 OR instr(e.props, '"unitCode"') > 0)
"""
#: nodes in runs of ids whose properties name a quantity or unit
_NODES_WITH_QUANTITY = """
SELECT n.id, n.props FROM json_each(?1) AS r CROSS JOIN nodes n
WHERE n.id BETWEEN r.value ->> 0 AND r.value ->> 1
  AND (instr(n.props, '"quantity"') > 0 OR instr(n.props, '"unitCode"') > 0)
"""
#: the derivations from the seeds (what was consumed from each)
_FROM_SEEDS = """
SELECT e.src, e.dst, e.eid, e.props FROM edges e
WHERE e.dst IN (SELECT value FROM json_each(?1)) AND e.type = ?2
"""
UNIT = "SerializedUnit"

Row = list[Any]
SeedRows = Callable[[str, str | None, float | None, float, float | None,
                     Iterable[tuple[str, str, float | None, str | None]]], list[Row]]


def _as_json(ids: Iterable[Any]) -> str:
    return orjson.dumps(list(ids)).decode()


def _runs(ids: IntArray) -> list[list[int]]:
    """``[first, last]`` of each run of consecutive values of ``ids`` (sorted, distinct)."""
    if ids.size == 0:
        return []
    cut = np.flatnonzero(np.diff(ids) != 1)
    firsts = np.concatenate(([ids[0]], ids[cut + 1]))
    lasts = np.concatenate((ids[cut], [ids[-1]]))
    return np.stack([firsts, lasts], axis=1).tolist()  # type: ignore[no-any-return]  # ints


def _props(props: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {k: props[k] for k in keys if k in props}


class _Signatures:
    """Distinct property subsets, numbered (0: none)."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = [{}]
        self._ids: dict[bytes, int] = {orjson.dumps({}): 0}

    def id(self, props: dict[str, Any]) -> int:
        key = orjson.dumps(props, option=orjson.OPT_SORT_KEYS)
        got = self._ids.get(key)
        if got is None:
            got = self._ids[key] = len(self.items)
            self.items.append(props)
        return got


def _flow(store: SQLiteStore, walk: ArrayWalk, records: dict[Hashable, NodeRecord]) -> Flow:
    """The walk's derivations as a :class:`Flow` over positions in ``walk.result.ids``."""
    conn = walk._conn()
    r = walk.result
    ids, n = r.ids, int(r.ids.size)
    state = store._index.state()
    src, dst = state["src"][r.edges], state["dst"][r.edges]
    kind_names = [None, *store._index.kinds]  # index kind code + 1 (code -1: none known)
    kind = state["kind"][r.edges] + 1
    ps, pd = np.searchsorted(ids, src), np.searchsorted(ids, dst)
    pair = ps * n + pd
    order = np.argsort(pair, kind="stable")
    ps, pd, kind, pair = ps[order], pd[order], kind[order], pair[order]
    twin = np.zeros(pair.size, dtype=bool)  # pairs joined by more than one edge
    if pair.size > 1:
        same = pair[1:] == pair[:-1]
        twin[1:] |= same
        twin[:-1] |= same
    edge_sig = _Signatures()
    plain = [edge_sig.id({"derivationKind": k} if k is not None else {}) for k in kind_names]
    esig = np.asarray(plain, dtype=np.int64)[kind]
    # edges with a quantity or unit (their own properties decide their share)
    found: dict[tuple[int, int], dict[str, Any]] = {}
    derived = np.sort(src)
    derived = derived[np.concatenate(([True], derived[1:] != derived[:-1]))] if src.size \
        else derived
    for part in chunks(_runs(derived), 20_000):
        for s, d, _eid, p in conn.execute(_WITH_QUANTITY, (_as_json(part), DERIVATION)):
            props = orjson.loads(p)
            found[(s, d)] = _props(props, ("derivationKind", *SHARE_PROPS))
    if found:
        keys = np.fromiter(((int(np.searchsorted(ids, s)) * n + int(np.searchsorted(ids, d)))
                            if d <= ids[-1] and ids[np.searchsorted(ids, d)] == d else -1
                            for s, d in found), dtype=np.int64, count=len(found))
        sigs = np.fromiter((edge_sig.id(v) for v in found.values()), dtype=np.int64,
                           count=len(found))
        at = np.searchsorted(pair, keys)
        ok = (keys >= 0) & (at < pair.size)
        ok[ok] &= pair[at[ok]] == keys[ok]
        esig[at[ok]] = sigs[ok]
    rank = np.zeros(pair.size, dtype=np.int64)
    if twin.any():  # each edge of a twin pair from its own record, in edge id order
        pairs = sorted({(int(ids[a]), int(ids[b])) for a, b in zip(ps[twin], pd[twin],
                                                                   strict=True)})
        bits = max(max(max(p) for p in pairs).bit_length(), 1)
        packed = [s << bits | d for s, d in pairs]  # EDGES_OF_PAIRS takes each pair packed
        rows = sorted(conn.execute(EDGES_OF_PAIRS, (orjson.dumps(packed).decode(), DERIVATION,
                                                     bits)),
                      key=lambda x: (x[0], x[1], x[2]))
        keep = ~twin
        t_ps = np.searchsorted(ids, np.fromiter((x[0] for x in rows), dtype=np.int64))
        t_pd = np.searchsorted(ids, np.fromiter((x[1] for x in rows), dtype=np.int64))
        t_sig = np.fromiter((edge_sig.id(_props(orjson.loads(x[5]),
                                                ("derivationKind", *SHARE_PROPS)))
                             for x in rows), dtype=np.int64, count=len(rows))
        ps = np.concatenate([ps[keep], t_ps])
        pd = np.concatenate([pd[keep], t_pd])
        esig = np.concatenate([esig[keep], t_sig])
        rank = np.concatenate([rank[keep], np.arange(len(rows), dtype=np.int64)])
        order = np.lexsort((rank, pd, ps))
        ps, pd, esig = ps[order], pd[order], esig[order]
    # what a share reads of a node: its class, and its quantity and unit when it has them
    node_sig = _Signatures()
    nsig = np.zeros(n, dtype=np.int64)
    held = list(records.items())
    at = np.searchsorted(ids, np.array([h for h, _ in held], dtype=np.int64))
    for i, (_, rec) in zip(at.tolist(), held, strict=True):
        nsig[i] = node_sig.id(_props(rec.props, SHARE_PROPS))
    labels = walk.labels
    code = labels.by_id[np.minimum(ids, labels.by_id.size - 1)].astype(np.int64)
    unit_code = labels.codes.get(UNIT, -2)
    units = ids[code == unit_code]
    for part in chunks(_runs(units), 20_000):
        for i, p in conn.execute(_NODES_WITH_QUANTITY, (_as_json(part),)):
            nsig[int(np.searchsorted(ids, i))] = node_sig.id(_props(orjson.loads(p),
                                                                    SHARE_PROPS))
    n_labels = len(labels.names) + 1
    combo = ((esig * len(node_sig.items) + nsig[pd]) * n_labels + code[pd] + 1) * n_labels \
        + code[ps] + 1
    uniq, inverse = np.unique(combo, return_inverse=True)
    share = np.empty(uniq.size, dtype=np.float64)
    why = np.full(uniq.size, -1, dtype=np.int64)
    reasons: dict[str, int] = {}
    names = [None, *labels.names]
    for j, c in enumerate(uniq.tolist()):
        c, derived = divmod(c, n_labels)
        c, source = divmod(c, n_labels)
        e, s = divmod(c, len(node_sig.items))
        value, reason = share_of(
            EdgeRecord("", DERIVATION, "", "", edge_sig.items[e]),
            NodeRecord("", names[source] or "", "", node_sig.items[s]),
            NodeRecord("", names[derived] or "", "", {}))
        share[j] = np.nan if value is None else value
        if value is None and reason:
            why[j] = reasons.setdefault(reason, len(reasons))
    inverse = inverse.reshape(-1)
    del combo, esig, nsig, code
    return Flow(n, ps, pd, share[inverse], why[inverse], list(reasons))


def array_balance(store: SQLiteStore, seeds: Sequence[str], max_depth: int,
                  listed: Sequence[str], seed_rows: SeedRows
                  ) -> tuple[Iterator[Row], list[dict[str, Any]]]:
    """The mass-balance file's rows and per-seed summaries of
    :func:`graph.recall_balance.balance_rows` (classes ``listed``; each seed's lines made by
    ``seed_rows``), from one walk. The rows are streamed; each seed's summary is there once its
    rows have been read."""
    walk = store.walk(list(seeds), Direction.DOWNSTREAM, max_depth)
    assert isinstance(walk, ArrayWalk)
    conn = walk._conn()
    ids = walk.result.ids
    labels = walk.labels
    code = labels.by_id[np.minimum(ids, labels.by_id.size - 1)].astype(np.int64)
    unit_code = labels.codes.get(UNIT, -2)
    records = walk.records([*ids[code != unit_code].tolist(), *walk.seeds.values()])
    flow = _flow(store, walk, records)
    order = [s for s in seeds if s in walk.seeds]
    seed_ids = [int(walk.seeds[s]) for s in order]  # type: ignore[call-overload]  # int node ids
    from_seed: dict[int, list[tuple[Any, ...]]] = {}
    for part in chunks(seed_ids, 10_000):
        for row in conn.execute(_FROM_SEEDS, (_as_json(part), DERIVATION)):
            from_seed.setdefault(row[1], []).append(row)
    lines = []
    for s in seed_ids:
        edges = [EdgeRecord("", DERIVATION, "", eid, orjson.loads(p))
                 for _, _, eid, p in sorted(from_seed.get(s, []), key=lambda x: (x[0], x[2]))]
        lines.append(seed_line(records[s], edges))
    listed_codes = np.array([labels.codes[c] for c in listed if c in labels.codes],
                            dtype=np.int64)
    shown = np.isin(code, listed_codes)
    by_class = sorted(np.flatnonzero(shown).tolist(),
                      key=lambda i: (records[int(ids[i])].label, records[int(ids[i])].key))
    place = np.full(ids.size, -1, dtype=np.int64)
    place[np.array(by_class, dtype=np.int64)] = np.arange(len(by_class), dtype=np.int64)
    seed_pos = np.searchsorted(ids, np.array(seed_ids, dtype=np.int64))
    summary: list[dict[str, Any]] = []

    def rows() -> Iterator[Row]:  # streamed: the file is written as the groups are computed
        for lo in range(0, len(seed_ids), GROUP):
            cols = np.arange(lo, min(lo + GROUP, len(seed_ids)), dtype=np.int64)
            received = np.array([np.nan if lines[c][1] is None else lines[c][1]
                                 for c in cols.tolist()], dtype=np.float64)
            x = propagate(flow, seed_pos[cols], cols - lo, received, int(cols.size), max_depth)
            keep = (place[x.node] >= 0) & (x.node != seed_pos[cols][x.col])
            node, col, value, note = x.node[keep], x.col[keep], x.value[keep], x.note[keep]
            by = np.lexsort((place[node], col))
            node, col, value, note = node[by], col[by], value[by], note[by]
            bounds = np.searchsorted(col, np.arange(cols.size + 1))
            for c in range(cols.size):
                k = lo + c
                unit, got, consumed, on_hand = lines[k]
                rec = records[seed_ids[k]]
                summary.append({"seed": order[k], "key": rec.key, "unit": unit,
                                "received": got, "consumed": consumed, "onHand": on_hand})
                span = slice(int(bounds[c]), int(bounds[c + 1]))
                items = []
                for i, v, m in zip(node[span].tolist(), value[span].tolist(),
                                   note[span].tolist(), strict=True):
                    r = records[int(ids[i])]
                    items.append((r.label, r.key, None if v != v else v,
                                  x.notes[m] if m >= 0 else None))
                yield from seed_rows(rec.key, unit, got, consumed, on_hand, items)

    return rows(), summary
