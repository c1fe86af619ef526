"""Shared GraphQL types and helpers every domain module of :mod:`api.graphql` builds on.

Types: a node, its relationships and superseded versions (``Node``, ``Edge``, ``Version``), a
count (``Stat``), a refusal reason (``Problem``) and an electronic signature (``Signature``).

One pattern throughout :mod:`api.graphql`: a domain record whose fields are exactly the GraphQL
fields is registered as the GraphQL type itself (``strawberry.type(Record)``, next to the fields
that answer it); any other type is a view with an ``of(record)`` classmethod that converts the
domain record (renamed fields, hidden secrets, JSON values, computed fields).

Helpers: :func:`runtime_of` and :func:`user_of` (the request's runtime and signed-in user),
:func:`not_found` and :func:`bad_input` (GraphQL errors with ``extensions.code``), :func:`page`
(capped page sizes), :func:`resolve_one` (one node by any identifier) and :func:`context_for`
(the per-request context with one DataLoader per relation, so a relation costs one store call
per request, whatever the number of nodes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from enum import Enum
from typing import Any, TypeVar, cast

import orjson
import strawberry
from graphql import GraphQLError
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON
from strawberry.types import Info

from api.bodies import clip
from api.graphql.enums import SignatureMeaning
from api.graphql.shown import ShownProperty, pick, shown_properties
from api.language import LANGUAGES, negotiate
from graph.errors import Problem as ProblemRecord
from graph.identifiers.identify import identify
from graph.model import Direction as StoreDirection
from graph.model import EdgeRecord, NodeRecord
from graph.write import PRIOR_VERSION
from ontology.vocab import vocabulary
from quality import accounts, signatures
from shapes.validator import ShapeResult
from tracegraph.runtime import Runtime

__all__ = ["MAX_DEPTH", "MAX_PAGE", "MAX_SEEDS", "Direction", "Edge", "Node", "Problem",
           "Signature", "Stat", "Version", "as_json", "bad_input", "context_for", "language",
           "not_found", "page", "page_of", "resolve_one", "runtime_of", "user_of"]

_SECRETS = vocabulary().secrets
MAX_PAGE = 5_000
MAX_DEPTH = 50
MAX_SEEDS = 10_000
T = TypeVar("T")


# ---- helpers ----------------------------------------------------------------------------------


def as_json(value: object) -> JSON:
    """A value as the ``JSON`` scalar (a mapping copied into a plain dict)."""
    return cast(JSON, dict(value) if isinstance(value, dict) else value)


def runtime_of(info: Info[Any, None]) -> Runtime:
    """The runtime of the request (:func:`context_for`)."""
    return cast(Runtime, info.context["runtime"])


def user_of(info: Info[Any, None]) -> accounts.User:
    """The signed-in user (resolvers run only after the authorization check let them in)."""
    return cast(accounts.User, info.context["user"])


def not_found(field: str, value: str) -> GraphQLError:
    """``NOT_FOUND`` naming the field and the value (clipped: echoes are bounded)."""
    shown = clip(value)
    return GraphQLError(f"not found: no node has IRI or identifier {shown!r}",
                        extensions={"code": "NOT_FOUND", "field": field, "value": shown})


def bad_input(field: str, value: object, rule: str) -> GraphQLError:
    """``BAD_INPUT`` naming the field, the value (clipped) and the rule."""
    return GraphQLError(f"{field}={clip(value)!r}: {rule}",
                        extensions={"code": "BAD_INPUT", "field": field, "rule": rule})


def language(info: Info[Any, None], lang: str | None) -> str:
    """``lang`` if given (``en`` or ``zh``), else the best of ``Accept-Language``, else ``en``
    (:mod:`api.language`, the rule the REST routes follow too)."""
    if lang is not None:
        if lang not in LANGUAGES:
            raise bad_input("lang", lang, "a language is en or zh")
        return lang
    request = info.context.get("request")
    return negotiate(request.headers.get("accept-language") if request is not None else None)


def page(field: str, first: int) -> int:
    """``first`` if it is an allowed page size (0 to :data:`MAX_PAGE`), else ``BAD_INPUT``."""
    if not 0 <= first <= MAX_PAGE:
        raise bad_input(field, first, f"a page holds 0 to {MAX_PAGE} items")
    return first


def page_of(items: Sequence[T], first: int, offset: int) -> list[T]:
    """The page of ``items`` a list field's ``first`` and ``offset`` arguments ask for;
    ``BAD_INPUT`` naming the argument if ``first`` is not a page size (:func:`page`) or
    ``offset`` is negative."""
    if offset < 0:
        raise bad_input("offset", offset, "an offset is 0 or more")
    return list(items[offset:offset + page("first", first)])


def resolve_one(rt: Runtime, ident: str) -> NodeRecord | None:
    """The node an IRI, key or identifier names; ``None`` if none or several match."""
    found = identify(rt.store, ident)
    return found[0] if len(found) == 1 else None


# ---- nodes and relationships ------------------------------------------------------------------


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
                   properties=as_json(e.props), recorded_at=e.recorded_at)

    @strawberry.field(description="The node this relationship starts from.")
    async def source_node(self, info: Info[Any, None]) -> Node | None:
        n = await info.context["nodes"].load(self.source)
        return None if n is None else Node.of(n)

    @strawberry.field(description="The node this relationship points to.")
    async def target_node(self, info: Info[Any, None]) -> Node | None:
        n = await info.context["nodes"].load(self.target)
        return None if n is None else Node.of(n)


@strawberry.type
class Version:
    version_number: int
    superseded_at: str
    properties: JSON

    @classmethod
    def of(cls, n: NodeRecord) -> Version:
        snap = orjson.loads(str(n.props.get("snapshot", "{}")))
        public = {k: v for k, v in snap.items() if k not in _SECRETS}
        return cls(version_number=int(str(n.props.get("versionNumber", 0))),
                   superseded_at=str(n.props.get("supersededAt", "")),
                   properties=as_json(public))


@strawberry.type
class Node:
    iri: str
    class_name: str = strawberry.field(name="class")
    key: str
    properties: JSON
    recorded_at: str
    updated_at: str
    #: the record time of an answer "as known at" (issue 18 item 4): its relationships then
    _as_of: strawberry.Private[str | None] = None

    @classmethod
    def of(cls, n: NodeRecord, as_of: str | None = None) -> Node:
        public = {k: v for k, v in n.props.items() if k not in _SECRETS}
        return cls(iri=n.iri, class_name=n.label, key=n.key, properties=as_json(public),
                   recorded_at=n.recorded_at, updated_at=n.updated_at, _as_of=as_of)

    def _known(self, edges: list[EdgeRecord]) -> list[EdgeRecord]:
        at = self._as_of
        return edges if at is None else [e for e in edges if e.recorded_at <= at]

    @strawberry.field(description="Superseded states of this record (records are never "
                                  "overwritten: each correction keeps the prior state).")
    async def versions(self, info: Info[Any, None]) -> list[Version]:
        loader: DataLoader[tuple[str, str], list[EdgeRecord]] = info.context["links"]
        prior = [e.dst for e in self._known(await loader.load((self.iri, "UPSTREAM")))
                 if e.type == PRIOR_VERSION]
        found = [await info.context["nodes"].load(i) for i in prior]
        return sorted((Version.of(n) for n in found if n is not None),
                      key=lambda v: v.version_number)

    @strawberry.field(description="The record's class by its ontology label in English or "
                                  "Chinese (lang, else Accept-Language; issue 15 item 4).")
    def class_label(self, info: Info[Any, None], lang: str | None = None) -> str:
        c = vocabulary().classes.get(self.class_name)
        return pick(c.label, c.label_zh, language(info, lang)) if c else self.class_name

    @strawberry.field(description="The record's properties as people read them: labels, "
                                  "code values and times (in the plant's time zone) in English "
                                  "or Chinese (lang, else Accept-Language; issue 15 item 4).")
    def shown(self, info: Info[Any, None], lang: str | None = None) -> list[ShownProperty]:
        props = self.properties if isinstance(self.properties, dict) else {}
        return shown_properties(props, language(info, lang),
                                runtime_of(info).settings.plant_timezone)

    @strawberry.field(description="Relationships of this node (UPSTREAM = outgoing).")
    async def links(self, info: Info[Any, None],
                    direction: Direction = Direction.UPSTREAM) -> list[Edge]:
        loader: DataLoader[tuple[str, str], list[EdgeRecord]] = info.context["links"]
        return [Edge.of(e) for e in self._known(await loader.load((self.iri, direction.value)))]


# ---- counts, refusals, signatures -------------------------------------------------------------


@strawberry.type
class Stat:
    label: str
    count: int


@strawberry.type
class Problem:
    rule: str
    message: str
    field: str
    value: JSON | None
    focus: str | None
    event_id: str | None
    severity: str

    @classmethod
    def of(cls, p: ProblemRecord) -> Problem:
        """A refusal reason of the write path or a workflow rule."""
        return cls(rule=p.rule, message=p.message, field=p.field, value=clip(p.value),
                   focus=p.focus, event_id=p.event_id, severity=p.severity)

    @classmethod
    def of_warning(cls, w: ShapeResult) -> Problem:
        """A SHACL result below Violation that did not stop the write."""
        return cls(rule=f"sh:{w.component}", message=w.message, field=w.path,
                   value=as_json(clip(w.value)), focus=w.focus, event_id=None,
                   severity=w.severity)


@strawberry.type
class Signature:
    iri: str
    record: str
    username: str
    printed_name: str
    signed_at: str
    meaning: SignatureMeaning
    content_hash: str
    valid: bool
    manifestation: str

    @classmethod
    def of(cls, s: signatures.Signature) -> Signature:
        return cls(iri=s.iri, record=s.record, username=s.username,
                   printed_name=s.printed_name, signed_at=s.signed_at,
                   meaning=SignatureMeaning(s.meaning),
                   content_hash=s.content_hash, valid=s.valid,
                   manifestation=signatures.manifestation(s))


# ---- per-request context ----------------------------------------------------------------------


def context_for(rt: Runtime) -> dict[str, Any]:
    """Per-request context: the runtime and one DataLoader per relation."""

    async def load_links(keys: Sequence[tuple[str, str]]) -> list[list[EdgeRecord]]:
        by_dir: dict[str, list[str]] = defaultdict(list)
        for iri, d in keys:
            by_dir[d].append(iri)
        found: dict[tuple[str, str], list[EdgeRecord]] = defaultdict(list)
        for d, iris in by_dir.items():
            for e in rt.store.links(iris, None, StoreDirection(d)):
                if d in ("UPSTREAM", "BOTH") and e.src in iris:
                    found[(e.src, d)].append(e)
                if d in ("DOWNSTREAM", "BOTH") and e.dst in iris and (
                        d == "DOWNSTREAM" or e.src != e.dst):
                    found[(e.dst, d)].append(e)
        return [found[k] for k in keys]

    async def load_nodes(keys: Sequence[str]) -> list[NodeRecord | None]:
        found = rt.store.get_many(keys)
        return [found.get(k) for k in keys]

    return {"runtime": rt, "links": DataLoader(load_fn=load_links),
            "nodes": DataLoader(load_fn=load_nodes)}
