"""The GraphQL schema (strawberry): lookups, genealogy and capture."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.errors import WriteRejectedError
from graph.model import Direction as StoreDirection
from graph.model import EdgeRecord, NodeRecord
from tracegraph.runtime import Runtime

__all__ = ["schema"]


def _json(value: object) -> JSON:
    return cast(JSON, dict(value) if isinstance(value, dict) else value)


@strawberry.enum
class Direction(Enum):
    UPSTREAM = "UPSTREAM"
    DOWNSTREAM = "DOWNSTREAM"
    BOTH = "BOTH"


@strawberry.type
class Edge:
    source: str
    type: str
    target: str
    edge_id: str
    properties: JSON
    recorded_at: str

    @classmethod
    def of(cls, e: EdgeRecord) -> Edge:
        return cls(source=e.src, type=e.type, target=e.dst, edge_id=e.eid,
                   properties=_json(e.props), recorded_at=e.recorded_at)


@strawberry.type
class Node:
    iri: str
    class_name: str = strawberry.field(name="class")
    key: str
    properties: JSON
    recorded_at: str
    updated_at: str

    @classmethod
    def of(cls, n: NodeRecord) -> Node:
        return cls(iri=n.iri, class_name=n.label, key=n.key, properties=_json(n.props),
                   recorded_at=n.recorded_at, updated_at=n.updated_at)

    @strawberry.field(description="Relationships of this node (UPSTREAM = outgoing).")
    def links(self, info: Info[Any, None], direction: Direction = Direction.UPSTREAM) -> list[Edge]:
        rt: Runtime = info.context["runtime"]
        return [Edge.of(e) for e in rt.store.edges(self.iri, StoreDirection(direction.value))]


@strawberry.type
class GenealogyNode:
    node: Node
    depth: int


@strawberry.type
class Genealogy:
    seeds: list[str]
    watermark: int
    nodes: list[GenealogyNode]
    edges: list[Edge]


@strawberry.type
class Problem:
    rule: str
    message: str
    field: str
    value: JSON | None
    focus: str | None
    event_id: str | None
    severity: str


@strawberry.type
class CaptureResult:
    ok: bool
    tx: int | None = None
    events_written: int = 0
    events_skipped: int = 0
    nodes_created: int = 0
    nodes_updated: int = 0
    edges_created: int = 0
    problems: list[Problem] = strawberry.field(default_factory=list)
    warnings: list[Problem] = strawberry.field(default_factory=list)


def _resolve_one(rt: Runtime, ident: str) -> NodeRecord | None:
    n = rt.store.get(ident)
    if n is not None:
        return n
    found = rt.store.find(ident)
    return found[0] if len(found) == 1 else None


@strawberry.type
class Stat:
    label: str
    count: int


@strawberry.type
class Query:
    @strawberry.field(description="Node counts per class and edge counts per type.")
    def stats(self, info: Info[Any, None]) -> list[Stat]:
        rt: Runtime = info.context["runtime"]
        return [Stat(label=k, count=v) for k, v in sorted(rt.store.counts().items())]

    @strawberry.field(description="A node by IRI, business key or any identifier.")
    def node(self, info: Info[Any, None], id: str) -> Node | None:
        n = _resolve_one(info.context["runtime"], id)
        return None if n is None else Node.of(n)

    @strawberry.field(description="Every node whose key or identifier equals the value.")
    def find(self, info: Info[Any, None], value: str, property: str | None = None,
             class_name: Annotated[str | None, strawberry.argument(name="class")] = None
             ) -> list[Node]:
        rt: Runtime = info.context["runtime"]
        return [Node.of(n) for n in rt.store.find(value, property, class_name)]

    @strawberry.field(description="Genealogy over materialised derivation edges.")
    def genealogy(self, info: Info[Any, None], of: str,
                  direction: Direction = Direction.UPSTREAM, max_depth: int = 20,
                  as_of: str | None = None) -> Genealogy:
        rt: Runtime = info.context["runtime"]
        seed = _resolve_one(rt, of)
        if seed is None:
            raise ValueError(f"not found: no node has IRI or identifier {of!r}")
        g = rt.store.genealogy([seed.iri], StoreDirection(direction.value), min(max_depth, 50),
                               as_of=as_of)
        return Genealogy(
            seeds=g.seeds, watermark=g.watermark,
            nodes=[GenealogyNode(node=Node.of(g.nodes[i]), depth=d)
                   for i, d in sorted(g.depth.items(), key=lambda x: (x[1], x[0]))],
            edges=[Edge.of(e) for e in g.edges])


def _problem(p: Any) -> Problem:
    return Problem(rule=p.rule, message=p.message, field=p.field, value=p.value, focus=p.focus,
                   event_id=p.event_id, severity=p.severity)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Write one tracegraph.capture/1 document atomically.")
    def capture(self, info: Info[Any, None], document: JSON) -> CaptureResult:
        rt: Runtime = info.context["runtime"]
        try:
            r = rt.capture(cast(dict[str, Any], document))
        except WriteRejectedError as e:
            return CaptureResult(ok=False, problems=[_problem(p) for p in e.problems])
        return CaptureResult(
            ok=True, tx=r.tx, events_written=r.events_written, events_skipped=r.events_skipped,
            nodes_created=r.nodes_created, nodes_updated=r.nodes_updated,
            edges_created=r.edges_created,
            warnings=[Problem(rule=f"sh:{w.component}", message=w.message, field=w.path,
                              value=_json(w.value), focus=w.focus, event_id=None,
                              severity=w.severity)
                      for w in r.warnings])


schema = strawberry.Schema(query=Query, mutation=Mutation)
