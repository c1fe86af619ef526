"""Mass balance of a downstream trace: how much of the seed reached each affected thing.

Every derivation edge carries the quantity of its source that went into the derived thing. The
seed's exposure flows downstream in topological order: a source passes on the share
``quantity / source quantity`` of what it holds of the seed (a whole unit into a case or a
shipment when the edge has no quantity). A share that cannot be computed (no quantity on the
source, units that differ) leaves the exposure unknown rather than guessed. A serialized unit
records no quantity: it is one piece (``1 {pc}``), so what reached it passes on whole, through a
rework too; and a unit made without a recorded quantity is one piece of a source counted in
pieces. The reconciliation
line compares what the seed lot received with what was consumed from it.

>>> from graph.model import EdgeRecord, Genealogy, NodeRecord
>>> lot = NodeRecord("L", "MaterialLot", "L", {"quantity": 100.0, "unitCode": "kg"})
>>> bat = NodeRecord("B", "Batch", "B", {"quantity": 10.0, "unitCode": "{pc}"})
>>> e = EdgeRecord("B", "WAS_DERIVED_FROM", "L", "e1",
...                {"derivationKind": "consumption", "quantity": 25.0, "unitCode": "kg"})
>>> mb = mass_balance(Genealogy(["L"], {"L": lot, "B": bat}, {"L": 0, "B": 1}, [e], 1))
>>> mb.exposure["B"], mb.received, mb.consumed, mb.on_hand
(25.0, 100.0, 25.0, 75.0)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from graphlib import CycleError

import numpy as np
import numpy.typing as npt

from graph.model import EdgeRecord, Genealogy, NodeRecord
from ontology.codes import DerivationKind
from ontology.terms import C

__all__ = ["Exposures", "Flow", "MassBalance", "fraction", "mass_balance", "propagate",
           "seed_line", "share_of"]

PIECE = "{pc}"
UNKNOWN_SOURCE = "exposure of a source is unknown"
#: the properties :func:`share_of` reads, of the edge and of its source
SHARE_PROPS = ("quantity", "unitCode")


@dataclass
class MassBalance:
    seed: str
    unit: str | None
    received: float | None
    consumed: float
    on_hand: float | None
    #: quantity of the seed (in its unit) contained in each reached node; None when unknown
    exposure: dict[str, float | None] = field(default_factory=dict)
    #: problems met (missing quantities, unit mismatches), by node
    notes: dict[str, str] = field(default_factory=dict)

    def fraction(self, iri: str) -> float | None:
        return fraction(self.exposure.get(iri), self.received)


def fraction(exposure: float | None, received: float | None) -> float | None:
    """The share of what the seed received that ``exposure`` is (None when unknown)."""
    if exposure is None or not received:
        return None
    return exposure / received


def share_of(edge: EdgeRecord, source: NodeRecord, derived: NodeRecord | None = None
           ) -> tuple[float | None, str]:
    source_qty, source_unit = source.props.get("quantity"), source.props.get("unitCode")
    piece = source.label == C.SerializedUnit and source_qty is None
    if piece:  # a serialized unit is one piece
        source_qty, source_unit = 1.0, "{pc}"
    q = edge.props.get("quantity")
    if q is None and derived is not None and derived.label == C.SerializedUnit:
        q = 1.0  # a unit made without a recorded quantity is one piece of its source
        if source_unit != PIECE:
            return None, f"one piece made from a source counted in {source_unit}"
    if q is None:
        if piece or edge.props.get("derivationKind") in (DerivationKind.AGGREGATION,
                                                         DerivationKind.SHIPMENT):
            return 1.0, ""
        return None, "derivation without a quantity"
    if not isinstance(source_qty, (int, float)) or source_qty <= 0:
        return None, "source without a quantity"
    unit = edge.props.get("unitCode")
    if unit is not None and source_unit is not None and unit != source_unit:
        return None, f"quantity in {unit} but the source is counted in {source_unit}"
    return float(q) / float(source_qty), ""  # type: ignore[arg-type]  # q is a stored quantity (xsd:decimal), typed as any property value


@dataclass
class Flow:
    """Derivation edges in arrays, for :func:`propagate`: node positions ``0 … n-1``; edge ``i``
    makes ``derived[i]`` from ``source[i]``, passing on ``share[i]`` of what the source holds
    (NaN: unknown, for the reason ``reasons[why[i]]``). A node sums its sources in the order of
    its edges here."""

    n: int
    derived: npt.NDArray[np.int64]
    source: npt.NDArray[np.int64]
    share: npt.NDArray[np.float64]
    why: npt.NDArray[np.int64]
    reasons: list[str]
    #: topological layer of each node (computed once, see :func:`propagate`)
    layer: npt.NDArray[np.int64] | None = None


@dataclass
class Exposures:
    """What :func:`propagate` found: one entry per (node, column) reached — the quantity of the
    column's seed the node holds (NaN: unknown, with ``notes[note]``; ``note`` is -1 when
    known), in (node, column) order, and its fewest hops from the seed."""

    node: npt.NDArray[np.int64]
    col: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    depth: npt.NDArray[np.int64]
    note: npt.NDArray[np.int64]
    notes: list[str]


def _layers(flow: Flow) -> npt.NDArray[np.int64]:
    """Topological layer of each node (a node comes after all its sources); a cycle raises
    :class:`graphlib.CycleError` as :class:`graphlib.TopologicalSorter` does."""
    n = flow.n
    left = np.bincount(flow.derived, minlength=n).astype(np.int64)
    order = np.argsort(flow.source, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(flow.source, minlength=n), out=indptr[1:])
    layer = np.full(n, -1, dtype=np.int64)
    frontier = np.flatnonzero(left == 0)
    level = 0
    while frontier.size:
        layer[frontier] = level
        edges = order[_ranges(indptr[frontier], indptr[frontier + 1] - indptr[frontier])]
        targets = flow.derived[edges]
        left -= np.bincount(targets, minlength=n)
        ready = np.zeros(n, dtype=bool)
        ready[targets[left[targets] == 0]] = True
        frontier = np.flatnonzero(ready)
        level += 1
    if (layer < 0).any():
        raise CycleError("the derivations form a cycle", np.flatnonzero(layer < 0).tolist())
    return layer


def _ranges(starts: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]
            ) -> npt.NDArray[np.int64]:
    """``starts[i] … starts[i] + counts[i] - 1`` for every ``i``, concatenated."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    return np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total,
                                                                             dtype=np.int64)


class _Pairs:
    """The (node, column) entries found so far, each node's entries contiguous."""

    def __init__(self, n: int) -> None:
        self.start = np.zeros(n, dtype=np.int64)
        self.count = np.zeros(n, dtype=np.int64)
        self.size = 0
        self.value = np.zeros(1024, dtype=np.float64)
        self.node, self.col, self.depth, self.note = (np.zeros(1024, dtype=np.int64)
                                                      for _ in range(4))

    def add(self, node: npt.NDArray[np.int64], col: npt.NDArray[np.int64],
            value: npt.NDArray[np.float64], depth: npt.NDArray[np.int64],
            note: npt.NDArray[np.int64]) -> None:
        """Entries of nodes seen for the first time, in (node, column) order."""
        if node.size == 0:
            return
        first = np.flatnonzero(np.concatenate(([True], node[1:] != node[:-1])))
        nodes = node[first]
        self.start[nodes] = self.size + first
        self.count[nodes] = np.diff(np.append(first, node.size))
        end = self.size + int(node.size)
        if end > self.node.size:  # grow the buffers (doubling)
            cap = max(end, 2 * self.node.size)
            for name in ("node", "col", "value", "depth", "note"):
                old = getattr(self, name)
                grown = np.zeros(cap, dtype=old.dtype)
                grown[:self.size] = old[:self.size]
                setattr(self, name, grown)
        for name, part in (("node", node), ("col", col), ("value", value), ("depth", depth),
                           ("note", note)):
            getattr(self, name)[self.size:end] = part
        self.size = end

    def result(self, notes: list[str]) -> Exposures:
        k = self.size
        return Exposures(self.node[:k], self.col[:k], self.value[:k], self.depth[:k],
                         self.note[:k], notes)


def propagate(flow: Flow, start_node: npt.NDArray[np.int64], start_col: npt.NDArray[np.int64],
              start_value: npt.NDArray[np.float64], n_cols: int,
              max_depth: int | None = None) -> Exposures:
    """The exposure arithmetic, for many seeds at once (one column each): each start node holds
    its start value of its column; every other node reached holds, per column, the sum over its
    edges (in order, from ``0.0``) of what the source holds times the edge's share — unknown
    (NaN) as soon as one term is, with the note of the first unknown term: the share's reason,
    else the source's note, else "exposure of a source is unknown". With ``max_depth`` an edge
    passes on only from a node fewer hops than that from the column's start (a walk's bound).
    """
    if flow.layer is None:
        flow.layer = _layers(flow)
    layer = flow.layer
    by_layer = np.argsort(layer[flow.derived], kind="stable")
    bounds = np.searchsorted(layer[flow.derived][by_layer],
                             np.arange(int(layer.max(initial=-1)) + 2))
    start_layer = layer[start_node]
    notes = [*flow.reasons, UNKNOWN_SOURCE]
    unknown = len(flow.reasons)
    pairs = _Pairs(flow.n)
    for level in range(int(layer.max(initial=-1)) + 1):
        edges = by_layer[bounds[level]:bounds[level + 1]]
        edges = edges[pairs.count[flow.source[edges]] > 0]  # from sources holding a seed
        src = flow.source[edges]
        counts = pairs.count[src]
        at = _ranges(pairs.start[src], counts)  # the sources' entries, edge by edge
        e = np.repeat(edges, counts)
        if max_depth is not None:
            keep = pairs.depth[at] < max_depth
            at, e = at[keep], e[keep]
        node, col = flow.derived[e], pairs.col[at]
        key = node * n_cols + col
        if key.size > 1 and not bool((key[1:] >= key[:-1]).all()):
            order = np.argsort(key, kind="stable")  # each sum keeps the order of the edges
            at, e, node, col, key = at[order], e[order], node[order], col[order], key[order]
        new = np.concatenate(([True], key[1:] != key[:-1])) if key.size else key.astype(bool)
        group = np.cumsum(new) - 1
        firsts = np.flatnonzero(new)
        held, share = pairs.value[at], flow.share[e]
        value = np.bincount(group, weights=held * share,
                            minlength=firsts.size).astype(np.float64, copy=False)
        depth: npt.NDArray[np.int64] = (np.minimum.reduceat(pairs.depth[at] + 1, firsts)
                                        if firsts.size else firsts)
        note = np.full(firsts.size, -1, dtype=np.int64)
        bad = np.flatnonzero(np.isnan(held) | np.isnan(share))
        if bad.size:
            at_bad = group[bad]  # non-decreasing: the first of each group is where it changes
            first_bad = bad[np.concatenate(([True], at_bad[1:] != at_bad[:-1]))]
            reason = np.where(np.isnan(share[first_bad]), flow.why[e[first_bad]], -1)
            held_note = pairs.note[at[first_bad]]
            why = np.where(reason >= 0, reason, np.where(held_note >= 0, held_note, unknown))
            note[group[first_bad]] = why
        here = np.flatnonzero(start_layer == level)
        nodes, cols = node[firsts], col[firsts]
        if here.size:  # a start holds its own value (nothing flows into it from its column)
            keep = ~np.isin(nodes * n_cols + cols, start_node[here] * n_cols + start_col[here])
            nodes = np.concatenate([nodes[keep], start_node[here]])
            cols = np.concatenate([cols[keep], start_col[here]])
            value = np.concatenate([value[keep], start_value[here].astype(np.float64)])
            depth = np.concatenate([depth[keep], np.zeros(here.size, dtype=np.int64)])
            note = np.concatenate([note[keep], np.full(here.size, -1, dtype=np.int64)])
            order = np.lexsort((cols, nodes))
            nodes, cols, value, depth, note = (nodes[order], cols[order], value[order],
                                               depth[order], note[order])
        pairs.add(nodes, cols, value, depth, note)
    return pairs.result(notes)


def seed_line(node: NodeRecord, edges: Iterable[EdgeRecord]
              ) -> tuple[str | None, float | None, float, float | None]:
    """``(unit, received, consumed, on hand)`` of a seed: ``edges`` are the derivations from it,
    in the order their consumed quantities are added."""
    received = node.props.get("quantity")
    unit = node.props.get("unitCode")
    consumed = 0.0
    for e in edges:
        q = e.props.get("quantity")
        if e.props.get("derivationKind") == DerivationKind.CONSUMPTION and \
                isinstance(q, (int, float)):
            consumed += float(q)
    if isinstance(received, (int, float)):
        return (str(unit) if unit is not None else None, float(received), consumed,
                float(received) - consumed)
    return str(unit) if unit is not None else None, None, consumed, None


def mass_balance(g: Genealogy) -> MassBalance:
    """Mass balance of a DOWNSTREAM genealogy from exactly one seed."""
    if len(g.seeds) != 1:
        raise ValueError("mass balance is computed for one seed")
    seed = g.seeds[0]
    node = g.nodes[seed]
    names = list(dict.fromkeys([*g.nodes, *(x for e in g.edges for x in (e.dst, e.src))]))
    pos = {iri: i for i, iri in enumerate(names)}
    derived, source, shares, why = [], [], [], []
    reasons: dict[str, int] = {}
    for e in g.edges:
        src = g.nodes.get(e.dst)
        if src is None:
            continue  # a source outside the trace holds none of the seed
        share, reason = share_of(e, src, g.nodes.get(e.src))
        derived.append(pos[e.src])
        source.append(pos[e.dst])
        shares.append(np.nan if share is None else share)
        why.append(reasons.setdefault(reason, len(reasons)) if share is None and reason
                   else -1)
    flow = Flow(len(names), np.array(derived, dtype=np.int64), np.array(source, dtype=np.int64),
                np.array(shares, dtype=np.float64), np.array(why, dtype=np.int64),
                list(reasons))
    unit, received, consumed, on_hand = seed_line(node, (e for e in g.edges if e.dst == seed))
    # every node is in the trace: a root other than the seed (none in a genealogy) holds none
    roots = np.setdiff1d(np.arange(flow.n), flow.derived)
    roots = roots[roots != pos[seed]]
    starts = np.concatenate([[pos[seed]], roots]).astype(np.int64)
    values = np.concatenate([[np.nan if received is None else received],
                             np.zeros(roots.size)])
    x = propagate(flow, starts, np.zeros(starts.size, dtype=np.int64), values, 1)
    exposure: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    for i, v, k in zip(x.node.tolist(), x.value.tolist(), x.note.tolist(), strict=True):
        exposure[names[i]] = None if v != v else v
        if k >= 0:
            notes[names[i]] = x.notes[k]
    return MassBalance(seed=seed, unit=unit, received=received, consumed=consumed,
                       on_hand=on_hand, exposure=exposure, notes=notes)
