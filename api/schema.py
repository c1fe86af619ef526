"""The GraphQL schema (strawberry): lookups, genealogy, recall and capture.

Relations resolve through DataLoaders (one store call per relation and request, whatever the
number of nodes); lists are paged with capped page sizes; anything larger goes to the recall
export. A lookup that finds nothing answers ``null`` (or a ``NOT_FOUND`` error where the
argument must name a node), never a server error.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Any, cast

import orjson
import strawberry
from graphql import GraphQLError
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.context import as_built
from graph.errors import WriteRejectedError
from graph.identifiers.identify import identify, identify_or_explain
from graph.massbalance import mass_balance
from graph.model import Direction as StoreDirection
from graph.model import EdgeRecord, NodeRecord
from graph.recall import Affected as AffectedRecord
from graph.recall import AffectedCustomer
from graph.write import PRIOR_VERSION
from ontology.vocab import vocabulary
from quality import accounts, signatures
from tracegraph.runtime import Runtime

__all__ = ["Mutation", "Query", "context_for"]

_SECRETS = vocabulary().secrets
MAX_PAGE = 5_000
MAX_DEPTH = 50
MAX_SEEDS = 10_000


def _json(value: object) -> JSON:
    return cast(JSON, dict(value) if isinstance(value, dict) else value)


def _rt(info: Info[Any, None]) -> Runtime:
    return cast(Runtime, info.context["runtime"])


def not_found(field: str, value: str) -> GraphQLError:
    return GraphQLError(f"not found: no node has IRI or identifier {value!r}",
                        extensions={"code": "NOT_FOUND", "field": field, "value": value})


def bad_input(field: str, value: object, rule: str) -> GraphQLError:
    return GraphQLError(f"{field}={value!r}: {rule}",
                        extensions={"code": "BAD_INPUT", "field": field, "rule": rule})


def _page(field: str, first: int) -> int:
    if not 0 <= first <= MAX_PAGE:
        raise bad_input(field, first, f"a page holds 0 to {MAX_PAGE} items")
    return first


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
                   properties=_json(public))


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
        public = {k: v for k, v in n.props.items() if k not in _SECRETS}
        return cls(iri=n.iri, class_name=n.label, key=n.key, properties=_json(public),
                   recorded_at=n.recorded_at, updated_at=n.updated_at)

    @strawberry.field(description="Superseded states of this record (records are never "
                                  "overwritten: each correction keeps the prior state).")
    async def versions(self, info: Info[Any, None]) -> list[Version]:
        loader: DataLoader[tuple[str, str], list[EdgeRecord]] = info.context["links"]
        prior = [e.dst for e in await loader.load((self.iri, "UPSTREAM"))
                 if e.type == PRIOR_VERSION]
        found = [await info.context["nodes"].load(i) for i in prior]
        return sorted((Version.of(n) for n in found if n is not None),
                      key=lambda v: v.version_number)

    @strawberry.field(description="Relationships of this node (UPSTREAM = outgoing).")
    async def links(self, info: Info[Any, None],
                    direction: Direction = Direction.UPSTREAM) -> list[Edge]:
        loader: DataLoader[tuple[str, str], list[EdgeRecord]] = info.context["links"]
        return [Edge.of(e) for e in await loader.load((self.iri, direction.value))]


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
    watermark: int
    node_count: int
    edge_count: int
    nodes: list[GenealogyNode]
    edges: list[Edge]
    _all: strawberry.Private[list[GenealogyNode]]
    _max_depth: strawberry.Private[int]
    _kinds: strawberry.Private[list[str] | None]
    _as_of: strawberry.Private[str | None]

    @strawberry.field(description="As-built context of every batch in the trace: executions, "
                                  "equipment, fixtures, operators, operation, process version, "
                                  "inspections, observations (paged).")
    def as_built(self, info: Info[Any, None], first: int = 1000, offset: int = 0) -> AsBuiltView:
        rt = _rt(info)
        batches = [n.node.iri for n in self._all if n.node.class_name in ("Batch", "Sublot")]
        ctx = as_built(rt.store, batches)
        nodes = sorted(ctx.nodes.values(), key=lambda n: (n.label, n.key))
        return AsBuiltView(node_count=len(nodes), edge_count=len(ctx.edges),
                           nodes=[Node.of(n) for n in nodes[offset:offset + _page("first", first)]],
                           edges=[Edge.of(e) for e in ctx.edges[offset:offset + first]])

    @strawberry.field(description="One shortest path from the seed to each target (IRIs).")
    def paths(self, info: Info[Any, None], to: list[str]) -> list[list[str]]:
        rt = _rt(info)
        if self.direction == Direction.BOTH:
            raise bad_input("direction", "BOTH", "witness paths need UPSTREAM or DOWNSTREAM")
        walk = rt.store.walk([self.seed], StoreDirection(self.direction.value),
                             self._max_depth, self._kinds, self._as_of)
        found = rt.store.get_many(to)
        handles = {iri: h for h, iri in walk.iris(list(_handles(walk))).items()}
        out: list[list[str]] = []
        for target in to:
            h = handles.get(target)
            if target not in found or h is None:
                out.append([])
                continue
            path = walk.witness(h)
            names = walk.iris(path)
            out.append([names[x] for x in path])
        return out


def _handles(walk: Any) -> list[Any]:
    return [h for hs in walk.by_label().values() for h in hs]


@strawberry.type
class Affected:
    iri: str
    class_name: str = strawberry.field(name="class")
    key: str
    depth: int
    witness: list[str]
    properties: JSON

    @classmethod
    def of(cls, a: AffectedRecord) -> Affected:
        return cls(iri=a.iri, class_name=a.cls, key=a.key, depth=a.depth, witness=a.witness,
                   properties=_json(a.properties))


# the recall's customer record itself is the GraphQL type (one definition)
strawberry.type(AffectedCustomer)


@strawberry.type
class Stat:
    label: str
    count: int


@strawberry.type
class Recall:
    watermark: int
    seeds: list[str]
    unknown_seeds: list[str]
    counts: list[Stat]
    batches: list[Affected]
    units_total: int
    units: list[Affected]
    packages: list[Affected]
    shipments: list[Affected]
    customers: list[AffectedCustomer]


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
class Me:
    username: str
    printed_name: str
    roles: list[str]


@strawberry.type
class AuditEntry:
    seq: int
    tx: int
    at: str
    actor: str
    action: str
    record: str
    record_class: str
    field: str | None
    old: JSON | None
    new: JSON | None
    reason: str | None
    event_id: str | None
    hash: str


@strawberry.type
class Signature:
    iri: str
    record: str
    username: str
    printed_name: str
    signed_at: str
    meaning: str
    content_hash: str
    valid: bool
    manifestation: str


def _signature(s: Any) -> Signature:
    return Signature(iri=s.iri, record=s.record, username=s.username,
                     printed_name=s.printed_name, signed_at=s.signed_at, meaning=s.meaning,
                     content_hash=s.content_hash, valid=s.valid,
                     manifestation=signatures.manifestation(s))


@strawberry.type
class ExposedExecution:
    execution: Node
    batches: list[str]


@strawberry.type
class EquipmentImpact:
    equipment: str
    window_start: str
    window_end: str
    executions: list[ExposedExecution]
    recall: Recall


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
    found = identify(rt.store, ident)
    return found[0] if len(found) == 1 else None


def _user(info: Info[Any, None]) -> accounts.User:
    return cast(accounts.User, info.context["user"])


def _refused(e: accounts.AuthError | signatures.SignatureError) -> GraphQLError:
    return GraphQLError(str(e), extensions={"code": e.code.upper().replace("-", "_"),
                                            "field": e.field})


@strawberry.type
class Query:
    @strawberry.field(description="The signed-in account.")
    def me(self, info: Info[Any, None]) -> Me:
        u = _user(info)
        return Me(username=u.username, printed_name=u.printed_name, roles=sorted(u.roles))

    @strawberry.field(description="Audit trail entries by record, user and/or UTC time window, "
                                  "in chain order (paged by sequence).")
    def audit_trail(self, info: Info[Any, None], record: str | None = None,
                    user: str | None = None, since: str | None = None,
                    until: str | None = None, after: int = 0,
                    first: int = 100) -> list[AuditEntry]:
        rt = _rt(info)
        entries = rt.store.audit_entries(record=record, actor=user, since=since, until=until,
                                         after_seq=after, limit=_page("first", first))
        return [AuditEntry(seq=e.seq, tx=e.tx, at=e.at, actor=e.actor, action=e.action,
                           record=e.record, record_class=e.record_class, field=e.field,
                           old=_json(e.old), new=_json(e.new), reason=e.reason,
                           event_id=e.event_id, hash=e.hash) for e in entries]

    @strawberry.field(description="Electronic signatures of a record, each with its validity "
                                  "(the record still has the signed content) and manifestation.")
    def signatures(self, info: Info[Any, None], record: str) -> list[Signature]:
        rt = _rt(info)
        node = _resolve_one(rt, record)
        if node is None:
            raise not_found("record", record)
        return [_signature(s) for s in signatures.signatures_of(rt, node.iri)]

    @strawberry.field(description="Node counts per class and edge counts per type.")
    def stats(self, info: Info[Any, None]) -> list[Stat]:
        return [Stat(label=k, count=v) for k, v in sorted(_rt(info).store.counts().items())]

    @strawberry.field(description="A node by IRI, business key or any identifier; null if none "
                                  "or several match.")
    def node(self, info: Info[Any, None], id: str) -> Node | None:
        n = _resolve_one(_rt(info), id)
        return None if n is None else Node.of(n)

    @strawberry.field(description="Every node an identifier names: IRI, business key, any "
                                  "identifier property, GS1 barcode / Digital Link / element "
                                  "string / EPC URN. Errors with NOT_FOUND and the reason when "
                                  "nothing matches.")
    def identify(self, info: Info[Any, None], text: str) -> list[Node]:
        found, why = identify_or_explain(_rt(info).store, text)
        if not found:
            raise GraphQLError(why or "not found",
                               extensions={"code": "NOT_FOUND", "field": "text", "value": text})
        return [Node.of(n) for n in found]

    @strawberry.field(description="Every node whose key or identifier equals the value.")
    def find(self, info: Info[Any, None], value: str, property: str | None = None,
             class_name: Annotated[str | None, strawberry.argument(name="class")] = None,
             first: int = 100) -> list[Node]:
        rt = _rt(info)
        try:
            found = rt.store.find(value, property, class_name)
        except (KeyError, ValueError) as e:
            raise bad_input("property" if property else "class", property or class_name,
                            str(e)) from None
        return [Node.of(n) for n in found[:_page("first", first)]]

    @strawberry.field(description="Genealogy over the materialised derivation edges: a flat, "
                                  "paged list of nodes (by depth) and edges.")
    def genealogy(self, info: Info[Any, None], of: str,
                  direction: Direction = Direction.UPSTREAM, max_depth: int = 20,
                  edge_kinds: list[str] | None = None, as_of: str | None = None,
                  first: int = 1000, offset: int = 0) -> Genealogy:
        rt = _rt(info)
        if not 1 <= max_depth <= MAX_DEPTH:
            raise bad_input("maxDepth", max_depth, f"between 1 and {MAX_DEPTH}")
        kinds = rt.vocab.prop("derivationKind").code_list or ()
        for k in edge_kinds or ():
            if k not in kinds:
                raise bad_input("edgeKinds", k, f"one of {', '.join(kinds)}")
        seed = _resolve_one(rt, of)
        if seed is None:
            raise not_found("of", of)
        if as_of is not None:
            from ontology.datatypes import TypeRuleError, to_utc_text
            try:
                as_of = to_utc_text(as_of)
            except TypeRuleError as e:
                raise bad_input("asOf", as_of, e.rule) from None
        _page("first", first)
        g = rt.store.genealogy([seed.iri], StoreDirection(direction.value), max_depth,
                               edge_kinds, as_of)
        ordered = sorted(g.depth.items(), key=lambda x: (x[1], x[0]))
        edges = sorted(g.edges, key=lambda e: (e.src, e.dst, e.eid))
        everything = [GenealogyNode(node=Node.of(g.nodes[i]), depth=d) for i, d in ordered]
        return Genealogy(
            seed=seed.iri, direction=direction, watermark=g.watermark,
            node_count=len(ordered), edge_count=len(edges),
            nodes=everything[offset:offset + first],
            edges=[Edge.of(e) for e in edges[offset:offset + first]],
            _all=everything, _max_depth=max_depth, _kinds=edge_kinds, _as_of=as_of)

    @strawberry.field(description="How much of a seed lot reached each downstream node "
                                  "(exposure along consumption edges), with the seed's "
                                  "reconciliation line (received, consumed, on hand).")
    def mass_balance(self, info: Info[Any, None], of: str, max_depth: int = 20,
                     first: int = 1000, offset: int = 0) -> MassBalance:
        rt = _rt(info)
        if not 1 <= max_depth <= MAX_DEPTH:
            raise bad_input("maxDepth", max_depth, f"between 1 and {MAX_DEPTH}")
        seed = _resolve_one(rt, of)
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
                   for i, d in ordered[offset:offset + _page("first", first)]])

    @strawberry.field(description="Equipment-window impact: executions on the equipment or "
                                  "fixture during [from, to] (e.g. out of calibration), their "
                                  "batches and everything downstream, as a recall.")
    def equipment_impact(self, info: Info[Any, None], equipment: str,
                         window_start: Annotated[str, strawberry.argument(name="from")],
                         window_end: Annotated[str, strawberry.argument(name="to")],
                         unit_limit: int = 100) -> EquipmentImpact:
        from ontology.datatypes import TypeRuleError

        rt = _rt(info)
        node = _resolve_one(rt, equipment)
        if node is None:
            raise not_found("equipment", equipment)
        try:
            exposures, a = rt.equipment_impact(node.iri, window_start, window_end,
                                               _page("unitLimit", unit_limit))
        except TypeRuleError as e:
            raise bad_input("from/to", e.value, e.rule) from None
        return EquipmentImpact(
            equipment=node.iri, window_start=window_start, window_end=window_end,
            executions=[ExposedExecution(execution=Node.of(x.execution), batches=list(x.batches))
                        for x in exposures],
            recall=_recall(a))

    @strawberry.field(description="Bulk recall: everything downstream of the seeds (any "
                                  "identifiers), in one traversal. Units are paged by "
                                  "unitLimit; the full list is in the export (/api/recall).")
    def recall(self, info: Info[Any, None], seeds: list[str], unit_limit: int = 100) -> Recall:
        if len(seeds) > MAX_SEEDS:
            raise bad_input("seeds", len(seeds), f"at most {MAX_SEEDS} seeds per request")
        return _recall(_rt(info).recall(seeds, unit_limit=_page("unitLimit", unit_limit)))


def _recall(a: Any) -> Recall:
    return Recall(
        watermark=a.watermark, seeds=a.seeds, unknown_seeds=a.unknown_seeds,
        counts=[Stat(label=k, count=v) for k, v in a.counts.items()],
        batches=[Affected.of(x) for x in a.batches], units_total=a.units_total,
        units=[Affected.of(x) for x in a.units],
        packages=[Affected.of(x) for x in a.packages],
        shipments=[Affected.of(x) for x in a.shipments],
        customers=a.customers)


def _problem(p: Any) -> Problem:
    return Problem(rule=p.rule, message=p.message, field=p.field, value=p.value, focus=p.focus,
                   event_id=p.event_id, severity=p.severity)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Write one tracegraph.capture/1 document atomically, as "
                                     "the signed-in user.")
    def capture(self, info: Info[Any, None], document: JSON) -> CaptureResult:
        rt = _rt(info)
        try:
            r = rt.capture(cast(dict[str, Any], document), actor=_user(info).username)
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


    @strawberry.mutation(description="Electronically sign a record (21 CFR 11.50/11.200): "
                                     "re-enter your password; the signature binds to the "
                                     "record's current content.")
    def sign(self, info: Info[Any, None], record: str, meaning: str, password: str,
             reason: str, expected_hash: str | None = None) -> Signature:
        rt = _rt(info)
        node = _resolve_one(rt, record)
        if node is None:
            raise not_found("record", record)
        try:
            sig = signatures.sign(rt, node.iri, _user(info).username, password, meaning, reason,
                                  expected_hash=expected_hash)
        except (accounts.AuthError, signatures.SignatureError) as e:
            raise _refused(e) from None
        return _signature(sig)

    @strawberry.mutation(description="Create a user account (admin).")
    def create_user(self, info: Info[Any, None], username: str, password: str,
                    roles: list[str], printed_name: str, reason: str) -> Me:
        rt = _rt(info)
        try:
            u = accounts.create_user(rt, username, password, roles, printed_name,
                                     actor=_user(info).username, reason=reason)
        except accounts.AuthError as e:
            raise _refused(e) from None
        return Me(username=u.username, printed_name=u.printed_name, roles=sorted(u.roles))


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
