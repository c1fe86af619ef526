"""GraphQL "as known at" (issue 18 item 4): what the system said about a record at a past
record time, and the request runtime as of an ``asOf`` argument for the answers that take one
(genealogy, recall, equipment impact, release report, eDHR; :mod:`graph.as_of`).

Every such answer states the watermark it answered at: the last transaction recorded by
``asOf``.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.types import Edge, Node, bad_input, resolve_one, runtime_of
from graph.model import Direction
from ontology.datatypes import TypeRuleError, to_utc_text
from tracegraph.runtime import Runtime

__all__ = ["KnownAt", "Query", "as_of_text", "past_at", "runtime_at"]


def as_of_text(as_of: str | None) -> str | None:
    """``asOf`` as stored UTC text, or ``BAD_INPUT`` naming it and the rule."""
    if as_of is None:
        return None
    try:
        return to_utc_text(as_of)
    except TypeRuleError as e:
        raise bad_input("asOf", as_of, e.rule) from None


def past_at(rt: Runtime) -> str | None:
    """The record time ``rt`` reads the graph as of (``None``: now)."""
    return getattr(rt.store, "at", None)


def runtime_at(info: Info[Any, None], as_of: str | None) -> Runtime:
    """The request's runtime reading the graph as recorded at ``asOf`` (itself when null)."""
    return runtime_of(info).as_of(as_of_text(as_of))


@strawberry.type(description="A record as the system knew it at a record time.")
class KnownAt:
    as_of: str = strawberry.field(description="The record time asked (UTC).")
    watermark: int = strawberry.field(description="The last transaction recorded by asOf: "
                                                  "the answer is the graph as of it.")
    node: Node | None = strawberry.field(description="The record with its properties as "
                                                     "recorded then; null when it was not "
                                                     "recorded yet (or the identifier named "
                                                     "none or several).")
    links: list[Edge] = strawberry.field(description="Its relationships recorded by then, "
                                                     "out of and into it.")


@strawberry.type
class Query:
    @strawberry.field(description="What the system said about a record (IRI, business key or "
                                  "any identifier) at a past record time: its properties and "
                                  "relationships as recorded then, with the watermark of then.")
    def known_at(self, info: Info[Any, None], id: str, as_of: str) -> KnownAt:
        past = runtime_at(info, as_of)
        node = resolve_one(past, id)
        links = [] if node is None else past.store.edges(node.iri, Direction.BOTH)
        return KnownAt(as_of=str(as_of_text(as_of)), watermark=past.store.watermark(),
                       node=None if node is None else Node.of(node, past_at(past)),
                       links=[Edge.of(e) for e in sorted(links, key=lambda e: (
                           e.src, e.type, e.dst, e.eid))])
