"""GraphQL lookups and genealogy: store counts, a node by any identifier, what an identifier
names, the genealogy of a node (paged nodes and edges, the as-built context of its batches and
witness paths to chosen targets) and the mass balance of a lot.

A lookup that finds nothing answers ``null`` (or a ``NOT_FOUND`` error where the argument must
name a node), never a server error.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.as_of import as_of_text
from api.graphql.enums import DerivationKind
from api.graphql.genealogy_rows import page_rows
from api.graphql.trace_outline import TraceOutline, outline_of
from api.graphql.types import (
    MAX_DEPTH,
    Direction,
    Edge,
    Node,
    Stat,
    bad_input,
    not_found,
    page,
    resolve_one,
    runtime_of,
)
from graph.context import as_built
from graph.identifiers.identify import identify_or_explain
from graph.massbalance import mass_balance
from graph.model import Direction as StoreDirection
from graph.pages import GenealogyPage, genealogy_page
from graph.trace_outline import trace

__all__ = ["AsBuiltView", "Exposure", "Genealogy", "GenealogyNode", "MassBalance", "Query"]


@strawberry.type
class GenealogyNode:
    node: Node
    depth: int


@strawberry.type
class AsBuiltView:
    node_count: int
    edge_count: int
    nodes: list[Node]
    edges: list[Edge]


@strawberry.type
class Genealogy:
    seed: str
    direction: Direction
    watermark: int = strawberry.field(description="The watermark the answer is as of (with "
                                                  "asOf: the last transaction recorded by it).")
    as_of: str | None = strawberry.field(description="The record time asked (UTC): nodes, "
                                                     "their properties and edges as recorded "
                                                     "then; null: now.")
    node_count: int
    edge_count: int
    _max_depth: strawberry.Private[int]
    _kinds: strawberry.Private[list[str] | None]
    _as_of: strawberry.Private[str | None]
    _page: strawberry.Private[GenealogyPage]

    # typed objects are made only when these fields are selected (a client asking for
    # ``rows`` alone, or for the counts, pays for none of them)
    @strawberry.field
    def nodes(self) -> list[GenealogyNode]:
        return [GenealogyNode(node=Node.of(n, self._as_of), depth=d) for n, d in self._page.nodes]

    @strawberry.field
    def edges(self) -> list[Edge]:
        return [Edge.of(e) for e in self._page.edges]

    @strawberry.field(description="The same page of nodes and edges as one typed JSON value "
                                  "(for bulk pages: no per-field resolution): {nodes: [{iri, "
                                  "class, key, depth, properties, recordedAt, updatedAt}], "
                                  "edges: [{source, type, target, edgeId, properties, "
                                  "recordedAt}]}, in the order of nodes and edges.")
    def rows(self) -> JSON:
        return page_rows(self._page)

    @strawberry.field(description="The answer as the explorer draws it: units and packages "
                                  "grouped per batch with their counts, captions, aggregated "
                                  "edges (every list paged).")
    def outline(self, info: Info[Any, None]) -> TraceOutline:
        rt = runtime_of(info).as_of(self._as_of)
        answer = trace(rt.store, [self.seed], StoreDirection(self.direction.value),
                       self._max_depth, self._kinds, self._as_of)
        return outline_of(info, answer, self._as_of)

    @strawberry.field(description="As-built context of every batch in the trace: executions, "
                                  "equipment, fixtures, operators, operation, process version, "
                                  "inspections, observations (paged).")
    def as_built(self, info: Info[Any, None], first: int = 1000, offset: int = 0) -> AsBuiltView:
        rt = runtime_of(info).as_of(self._as_of)
        ways = ([StoreDirection.UPSTREAM, StoreDirection.DOWNSTREAM]
                if self.direction == Direction.BOTH else [StoreDirection(self.direction.value)])
        found: set[str] = set()
        for way in ways:  # the trace's batches, from the walk (no other record read)
            walk = rt.store.walk([self.seed], way, self._max_depth, self._kinds, self._as_of)
            groups = walk.by_label()
            found.update(walk.iris([h for c in ("Batch", "Sublot")
                                    for h in groups.get(c, ())]).values())
        batches = sorted(found)
        ctx = as_built(rt.store, batches)
        nodes = sorted(ctx.nodes.values(), key=lambda n: (n.label, n.key))
        return AsBuiltView(node_count=len(nodes), edge_count=len(ctx.edges),
                           nodes=[Node.of(n, self._as_of)
                                  for n in nodes[offset:offset + page("first", first)]],
                           edges=[Edge.of(e) for e in ctx.edges[offset:offset + first]])

    @strawberry.field(description="One shortest path from the seed to each target (IRIs; "
                                  "targets named by any identifier; [] when not reached).")
    def paths(self, info: Info[Any, None], to: list[str]) -> list[list[str]]:
        rt = runtime_of(info)
        if self.direction == Direction.BOTH:
            raise bad_input("direction", "BOTH", "witness paths need UPSTREAM or DOWNSTREAM")
        targets = []  # any identifier names a target, as it names the seed
        for ident in to:
            node = resolve_one(rt, ident)
            if node is None:
                raise not_found("to", ident)
            targets.append(node.iri)
        walk = rt.store.walk([self.seed], StoreDirection(self.direction.value),
                             self._max_depth, self._kinds, self._as_of)
        handles = {iri: h for h, iri in walk.iris(list(_handles(walk))).items()}
        out: list[list[str]] = []
        for target in targets:
            h = handles.get(target)
            if h is None:  # not reached within the depth and kinds asked
                out.append([])
                continue
            path = walk.witness(h)
            names = walk.iris(path)
            out.append([names[x] for x in path])
        return out


def _handles(walk: Any) -> list[Any]:
    return [h for hs in walk.by_label().values() for h in hs]


@strawberry.type
class Exposure:
    node: Node
    depth: int
    quantity: float | None = strawberry.field(description="Quantity of the seed (in its unit) "
                                                          "contained in this node; null when "
                                                          "it cannot be computed.")
    fraction: float | None = strawberry.field(description="Share of the seed lot.")
    note: str | None


@strawberry.type
class MassBalance:
    seed: str
    unit: str | None
    received: float | None
    consumed: float
    on_hand: float | None
    watermark: int
    node_count: int
    items: list[Exposure]


@strawberry.type
class Query:
    @strawberry.field(description="Node counts per class and edge counts per type.")
    def stats(self, info: Info[Any, None]) -> list[Stat]:
        return [Stat(label=k, count=v)
                for k, v in sorted(runtime_of(info).store.counts().items())]

    @strawberry.field(description="A node by IRI, business key or any identifier; null if none "
                                  "or several match.")
    def node(self, info: Info[Any, None], id: str) -> Node | None:
        n = resolve_one(runtime_of(info), id)
        return None if n is None else Node.of(n)

    @strawberry.field(description="Every node an identifier names: IRI, business key, any "
                                  "identifier property, GS1 barcode / Digital Link / element "
                                  "string / EPC URN. Errors with NOT_FOUND and the reason when "
                                  "nothing matches.")
    def identify(self, info: Info[Any, None], text: str) -> list[Node]:
        found, why = identify_or_explain(runtime_of(info).store, text)
        if not found:
            raise GraphQLError(why or "not found",
                               extensions={"code": "NOT_FOUND", "field": "text", "value": text})
        return [Node.of(n) for n in found]

    @strawberry.field(description="Every node whose key or identifier equals the value.")
    def find(self, info: Info[Any, None], value: str, property: str | None = None,
             class_name: Annotated[str | None, strawberry.argument(name="class")] = None,
             first: int = 100) -> list[Node]:
        rt = runtime_of(info)
        try:
            found = rt.store.find(value, property, class_name)
        except (KeyError, ValueError) as e:
            raise bad_input("property" if property else "class", property or class_name,
                            str(e)) from None
        return [Node.of(n) for n in found[:page("first", first)]]

    @strawberry.field(description="Genealogy over the materialised derivation edges: a flat, "
                                  "paged list of nodes (by depth) and edges.")
    def genealogy(self, info: Info[Any, None], of: str,
                  direction: Direction = Direction.UPSTREAM, max_depth: int = 20,
                  edge_kinds: list[DerivationKind] | None = None, as_of: str | None = None,
                  first: int = 1000, offset: int = 0) -> Genealogy:
        rt = runtime_of(info)
        if not 1 <= max_depth <= MAX_DEPTH:
            raise bad_input("maxDepth", max_depth, f"between 1 and {MAX_DEPTH}")
        kinds = None if edge_kinds is None else [k.value for k in edge_kinds]
        seed = resolve_one(rt, of)
        if seed is None:
            raise not_found("of", of)
        as_of = as_of_text(as_of)
        page("first", first)
        # counts from the walk, records only for the page asked for (graph.pages)
        g = genealogy_page(rt.as_of(as_of).store, [seed.iri], StoreDirection(direction.value),
                           max_depth, kinds, as_of, first=first, offset=offset)
        return Genealogy(
            seed=seed.iri, direction=direction, watermark=g.watermark, as_of=as_of,
            node_count=g.node_count, edge_count=g.edge_count, _max_depth=max_depth,
            _kinds=kinds, _as_of=as_of, _page=g)

    @strawberry.field(description="How much of a seed lot reached each downstream node "
                                  "(exposure along consumption edges), with the seed's "
                                  "reconciliation line (received, consumed, on hand).")
    def mass_balance(self, info: Info[Any, None], of: str, max_depth: int = 20,
                     first: int = 1000, offset: int = 0) -> MassBalance:
        rt = runtime_of(info)
        if not 1 <= max_depth <= MAX_DEPTH:
            raise bad_input("maxDepth", max_depth, f"between 1 and {MAX_DEPTH}")
        seed = resolve_one(rt, of)
        if seed is None:
            raise not_found("of", of)
        g = rt.store.genealogy([seed.iri], StoreDirection.DOWNSTREAM, max_depth)
        mb = mass_balance(g)
        ordered = sorted(g.depth.items(), key=lambda x: (x[1], x[0]))
        return MassBalance(
            seed=seed.iri, unit=mb.unit, received=mb.received, consumed=mb.consumed,
            on_hand=mb.on_hand, watermark=g.watermark, node_count=len(ordered),
            items=[Exposure(node=Node.of(g.nodes[i]), depth=d, quantity=mb.exposure.get(i),
                            fraction=mb.fraction(i), note=mb.notes.get(i))
                   for i, d in ordered[offset:offset + page("first", first)]])
