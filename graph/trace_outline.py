"""The outline of a genealogy answer, as the explorer draws a large trace: the serialized units
and the packages made only of them grouped per batch (one group with its counts in place of
hundreds of nodes), every other node on its own, the derivation edges between them aggregated
(how many, the summed quantity), and a caption per node (what it is: the product, material,
supplier or customer it names).

A unit belongs to the group of the one batch (or sublot) it was made from when that batch is in
the answer; a package belongs to a group when everything it was made of in the answer belongs to
that group (so a case of one batch folds into the batch's group, a mixed case stays on its own
and its edges go to each group it draws from). A seed is never folded, and a group of fewer
than :data:`MIN_GROUP` members is drawn as its members. Computed here, once, for every engine:
the input is the engine-neutral :class:`graph.model.Genealogy` and :meth:`GraphStore.links`.

:func:`trace` gives that input: on the embedded engine (as of now, one direction) a genealogy of
light records read from the walk (:mod:`graph.engines.sqlite.outline`: classes, keys and the
edges' quantity, unit and kind), full records read only for what is drawn; on any other store
the full genealogy.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from graph.model import Direction, EdgeRecord, Genealogy, NodeRecord
from graph.port import GraphStore
from graph.write import paused_gc

__all__ = ["MIN_GROUP", "FullTrace", "OutlineEdge", "Trace", "TraceGroup", "TraceOutline",
           "captions", "outline", "trace"]

#: a batch's units are folded into a group from this many members on
MIN_GROUP = 2
UNIT, PACKAGE = "SerializedUnit", "PackagingAggregation"
MADE_IN = frozenset({"Batch", "Sublot"})
#: relationships that name what a record is, and the name they lead to
_NAMING = ("OF_PRODUCT", "OF_MATERIAL", "SUPPLIED_BY", "SHIPPED_TO")


@dataclass
class TraceGroup:
    """The units (and packages made only of them) of one batch in a trace."""

    id: str  # "group:" + the batch's IRI
    batch: str
    depth: int  # the smallest depth of a member
    members: list[str] = field(default_factory=list)  # IRIs, by (class, key)
    counts: dict[str, int] = field(default_factory=dict)  # members per class


@dataclass(frozen=True)
class OutlineEdge:
    """Derivation edges between two drawn things (node IRIs or group ids), drawn input → output
    as ``source`` (output) and ``target`` (input) like the edges they stand for."""

    source: str
    target: str
    count: int
    quantity: float | None  # summed, when every edge has one in the same unit
    unit_code: str | None
    kinds: tuple[str, ...]


@dataclass
class TraceOutline:
    nodes: list[str]  # IRIs drawn on their own, by (depth, class, key)
    groups: list[TraceGroup]  # by (depth, batch key)
    edges: list[OutlineEdge]  # by (source, target)
    group_of: dict[str, str]  # member IRI → group id
    made_in: dict[str, str]  # unit or package IRI → the one batch it was made in (in the answer)


class Trace(Protocol):
    """A genealogy answer to outline, and its full records when drawn."""

    @property
    def genealogy(self) -> Genealogy:
        """Every reached node's class, key and depth; every walked edge's quantity, unit and
        kind (its records may carry no more)."""

    def records(self, iris: Iterable[str]) -> dict[str, NodeRecord]:
        """The full records of reached nodes."""

    def edges(self, edges: Sequence[EdgeRecord]) -> list[EdgeRecord]:
        """The full records of walked edges, in the same order."""


@dataclass(frozen=True)
class FullTrace:
    """A genealogy read whole: its records are the full ones."""

    genealogy: Genealogy

    def records(self, iris: Iterable[str]) -> dict[str, NodeRecord]:
        return {i: self.genealogy.nodes[i] for i in iris}

    def edges(self, edges: Sequence[EdgeRecord]) -> list[EdgeRecord]:
        return list(edges)


def trace(store: Any, seeds: Sequence[str], direction: Direction, max_depth: int = 50,
          kinds: Sequence[str] | None = None, as_of: str | None = None) -> Trace:
    """The genealogy of ``seeds`` to outline (see the module's text). The cyclic garbage
    collector waits meanwhile, as for a page (:func:`graph.pages.genealogy_page`): the
    thousands of records form no cycles."""
    from graph.pages import embedded

    with paused_gc():
        sqlite = embedded(store, direction, as_of)
        if sqlite is not None:
            from graph.engines.sqlite.outline import trace_of

            return trace_of(sqlite, seeds, direction, max_depth, kinds)
        return FullTrace(store.genealogy(seeds, direction, max_depth, kinds, as_of))


def _made_in(g: Genealogy, out: dict[str, list[EdgeRecord]]) -> dict[str, str]:
    """Each unit's one batch (or sublot) in the answer; then each package all of whose parts
    were made in one batch, to a fixpoint (pallets of cases of units)."""
    found: dict[str, str] = {}
    for iri, n in g.nodes.items():
        if n.label == UNIT:
            made = {e.dst for e in out.get(iri, ()) if g.nodes[e.dst].label in MADE_IN}
            if len(made) == 1:
                found[iri] = made.pop()
    packages = [i for i, n in g.nodes.items() if n.label == PACKAGE]
    changed = True
    while changed:
        changed = False
        for iri in packages:
            if iri in found or not out.get(iri):
                continue
            parts = {found.get(e.dst, "") for e in out[iri]}
            if len(parts) == 1 and "" not in parts:
                found[iri] = parts.pop()
                changed = True
    return found


def outline(g: Genealogy) -> TraceOutline:
    """The grouped outline of a genealogy answer (see the module's text)."""
    with paused_gc():  # (as in :func:`trace`)
        return _outline(g)


def _outline(g: Genealogy) -> TraceOutline:
    out: dict[str, list[EdgeRecord]] = defaultdict(list)
    for e in g.edges:
        if e.src in g.nodes and e.dst in g.nodes:
            out[e.src].append(e)
    made_in = _made_in(g, out)
    seeds = set(g.seeds)
    by_batch: dict[str, list[str]] = defaultdict(list)
    for iri, batch in made_in.items():
        if iri not in seeds:
            by_batch[batch].append(iri)

    def order(i: str) -> tuple[str, str, str]:
        return g.nodes[i].label, g.nodes[i].key, i

    groups: list[TraceGroup] = []
    group_of: dict[str, str] = {}
    for batch, members in by_batch.items():
        if len(members) < MIN_GROUP:
            continue
        gid = f"group:{batch}"
        members.sort(key=order)
        groups.append(TraceGroup(gid, batch, min(g.depth[m] for m in members), members,
                                 dict(sorted(Counter(g.nodes[m].label for m in members).items()))))
        group_of.update((m, gid) for m in members)
    groups.sort(key=lambda x: (x.depth, g.nodes[x.batch].key, x.batch))
    nodes = sorted((i for i in g.nodes if i not in group_of),
                   key=lambda i: (g.depth[i], *order(i)))
    return TraceOutline(nodes, groups, _aggregate(g.edges, group_of, g.nodes), group_of, made_in)


def _aggregate(edges: Iterable[EdgeRecord], group_of: dict[str, str],
               nodes: dict[str, NodeRecord]) -> list[OutlineEdge]:
    joined: dict[tuple[str, str], list[EdgeRecord]] = defaultdict(list)
    for e in edges:
        if e.src not in nodes or e.dst not in nodes:
            continue
        s, t = group_of.get(e.src, e.src), group_of.get(e.dst, e.dst)
        if s != t:  # edges inside a group are the group
            joined[(s, t)].append(e)
    result = []
    for (s, t), es in sorted(joined.items()):
        units = {e.props.get("unitCode") for e in es}
        qs = [e.props.get("quantity") for e in es]
        summed = None
        if len(units) == 1 and all(isinstance(q, int | float) for q in qs):
            summed = float(sum(q for q in qs if isinstance(q, int | float)))
        unit = next(iter(units)) if summed is not None else None
        kinds = tuple(sorted({str(e.props.get("derivationKind") or "") for e in es} - {""}))
        result.append(OutlineEdge(s, t, len(es), summed, None if unit is None else str(unit),
                                  kinds))
    return result


def captions(store: GraphStore, records: dict[str, NodeRecord]) -> dict[str, str]:
    """What each record is, in words: the name of its product or material (a lot's also its
    supplier's, a shipment its customer's); a sublot the material of the lot it came from.
    Records without such a link get no caption."""
    iris = list(records)
    links = store.links(iris, list(_NAMING)) if iris else []
    names_of = store.get_many({e.dst for e in links})
    named: dict[str, dict[str, str]] = defaultdict(dict)
    for e in links:
        target = names_of.get(e.dst)
        if target is not None:
            named[e.src].setdefault(e.type, str(target.props.get("name") or target.key))
    # a sublot is named by what it was split or merged from
    sublots = [i for i, n in records.items() if n.label == "Sublot" and i not in named]
    if sublots:
        parents = {e.src: e.dst for e in store.links(sublots, ["WAS_DERIVED_FROM"])}
        more = captions(store, store.get_many(set(parents.values()))) if parents else {}
        for s, p in parents.items():
            if p in more:
                named[s]["OF_MATERIAL"] = more[p].split(" · ")[0]
    out = {}
    for iri, kinds in named.items():
        parts = [kinds[k] for k in _NAMING if k in kinds]
        if parts:
            out[iri] = " · ".join(parts)
    return out
