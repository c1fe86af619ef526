"""GraphQL: the outline of a genealogy answer (``genealogy { outline { … } }``), what the
explorer draws for a large trace: units and packages grouped per batch with their counts, the
other nodes with a caption, and the aggregated edges between them (:mod:`graph.trace_outline`).
Every list is paged."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.limits import LIST_BOUNDS
from api.graphql.types import Edge, Node, Stat, page, runtime_of
from graph import trace_outline as T

__all__ = ["OutlineEdge", "OutlineNode", "TraceGroup", "TraceOutline", "outline_of"]

LIST_BOUNDS["TraceGroup.counts"] = 10  # one count per member class (units, packages)
#: the edges of a page of members: a unit has its batch and its case, a case its units (≤ 100
#: in the plants this serves) and its shipment; counted as this many per member asked
LIST_BOUNDS["TraceGroup.memberEdges"] = 5_000


@strawberry.type(description="A drawn node of the outline: a record not folded into a group.")
class OutlineNode:
    node: Node
    depth: int
    caption: str | None = strawberry.field(description="What it is: the name of its product "
                                                       "or material (a lot's also its "
                                                       "supplier's, a shipment its customer's).")
    made_in: str | None = strawberry.field(description="A unit's or package's one batch in "
                                                       "the trace (IRI), whose status it shares.")


@strawberry.type(description="The units (and the packages made only of them) of one batch.")
class TraceGroup:
    id: str
    batch: str = strawberry.field(description="The batch's IRI.")
    batch_key: str
    depth: int = strawberry.field(description="The smallest depth of a member.")
    count: int = strawberry.field(description="Members (units and packages).")
    counts: list[Stat] = strawberry.field(description="Members per class.")
    caption: str | None
    _members: strawberry.Private[list[str]]
    _t: strawberry.Private[T.Trace]
    _as_of: strawberry.Private[str | None]

    @strawberry.field(description="The members, by class and key (paged; captioned as their "
                                  "batch).")
    def members(self, first: int = 100, offset: int = 0) -> list[OutlineNode]:
        shown = self._members[offset:offset + page("first", first)]
        records, depth = self._t.records(shown), self._t.genealogy.depth
        return [OutlineNode(node=Node.of(records[i], self._as_of), depth=depth[i],
                            caption=self.caption, made_in=self.batch) for i in shown]

    @strawberry.field(description="The derivation edges of the trace that touch the members "
                                  "of one page of members(first, offset): inside the group and "
                                  "out of it.")
    def member_edges(self, first: int = 100, offset: int = 0) -> list[Edge]:
        page_of = set(self._members[offset:offset + page("first", first)])
        touching = [e for e in self._t.genealogy.edges if e.src in page_of or e.dst in page_of]
        touching.sort(key=lambda e: (e.src, e.dst, e.eid))
        return [Edge.of(e) for e in self._t.edges(touching)]


@strawberry.type(description="Derivation edges between two drawn things (a node's IRI or a "
                             "group's id), output → input like the edges they stand for.")
class OutlineEdge:
    source: str
    target: str
    count: int
    quantity: float | None = strawberry.field(description="Summed, when every edge has a "
                                                          "quantity in the same unit.")
    unit_code: str | None
    kinds: list[str]


@strawberry.type(description="A genealogy answer as drawn: grouped, captioned, paged.")
class TraceOutline:
    node_count: int = strawberry.field(description="Nodes drawn on their own.")
    group_count: int
    member_count: int = strawberry.field(description="Records folded into the groups.")
    edge_count: int
    _o: strawberry.Private[T.TraceOutline]
    _t: strawberry.Private[T.Trace]
    _captions: strawberry.Private[dict[str, str]]
    _as_of: strawberry.Private[str | None]

    @strawberry.field(description="Nodes drawn on their own, by depth, class and key.")
    def nodes(self, first: int = 500, offset: int = 0) -> list[OutlineNode]:
        o = self._o
        shown = o.nodes[offset:offset + page("first", first)]
        records, depth = self._t.records(shown), self._t.genealogy.depth
        return [OutlineNode(node=Node.of(records[i], self._as_of), depth=depth[i],
                            caption=self._captions.get(i), made_in=o.made_in.get(i))
                for i in shown]

    @strawberry.field(description="The groups, by depth and batch key.")
    def groups(self, first: int = 500, offset: int = 0) -> list[TraceGroup]:
        g = self._t.genealogy
        return [TraceGroup(id=x.id, batch=x.batch, batch_key=g.nodes[x.batch].key,
                           depth=x.depth, count=len(x.members),
                           counts=[Stat(label=k, count=v) for k, v in x.counts.items()],
                           caption=self._captions.get(x.batch), _members=x.members, _t=self._t,
                           _as_of=self._as_of)
                for x in self._o.groups[offset:offset + page("first", first)]]

    @strawberry.field(description="The aggregated edges, by source and target.")
    def edges(self, first: int = 1000, offset: int = 0) -> list[OutlineEdge]:
        return [OutlineEdge(source=e.source, target=e.target, count=e.count,
                            quantity=e.quantity, unit_code=e.unit_code, kinds=list(e.kinds))
                for e in self._o.edges[offset:offset + page("first", first)]]


def outline_of(info: Info[Any, None], t: T.Trace, as_of: str | None) -> TraceOutline:
    """The outline of a genealogy answer, captions read as of the answer's record time."""
    g = t.genealogy
    o = T.outline(g)
    shown = {i: g.nodes[i] for i in o.nodes} | {x.batch: g.nodes[x.batch] for x in o.groups}
    captions = T.captions(runtime_of(info).as_of(as_of).store, shown)
    return TraceOutline(node_count=len(o.nodes), group_count=len(o.groups),
                        member_count=len(o.group_of), edge_count=len(o.edges), _o=o, _t=t,
                        _captions=captions, _as_of=as_of)
