"""GraphQL for versioned process definitions and change control: versions of a process, the
version effective at a time, the semantic diff of two versions, the impact of a proposed change
(each item with its explaining path), the change record, and the change-control mutations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.enums import ApprovalDecision, RoleName
from api.graphql.recall import Recall
from api.graphql.types import (
    Node,
    Problem,
    Stat,
    as_json,
    bad_input,
    not_found,
    resolve_one,
    runtime_of,
    user_of,
)
from graph.change_impact import ImpactItem as ImpactRecord
from graph.change_impact import change_impact
from graph.errors import RefusedError, WriteRejectedError
from graph.model import Direction
from graph.versions import (
    Change,
    diff_report,
    diff_versions,
    effective_version,
    fingerprint,
    load_tree,
    versions_of,
)
from ontology.codes import ProcessVersionStatus, SignatureMeaning
from ontology.datatypes import TypeRuleError, to_utc_text
from ontology.terms import R
from quality import change_control as cc
from quality.signatures import signatures_by_record
from tracegraph.runtime import Runtime

__all__ = ["ChangeApproval", "ChangeImpact", "ChangeRecord", "ImpactItem", "Mutation", "Query",
           "VersionChange", "VersionDiff"]


def _node_of(rt: Runtime, field: str, ident: str, cls: str | None = None) -> Any:
    n = resolve_one(rt, ident)
    if n is None and cls is not None:
        n = rt.store.get(rt.vocab.mint_iri(cls, ident))
    if n is None:
        raise not_found(field, ident)
    if cls is not None and n.label != cls:
        raise bad_input(field, ident, f"must name a {cls}, not a {n.label}")
    return n


def _refused(e: RefusedError) -> GraphQLError:
    problems = [p.as_dict() for p in getattr(e, "problems", [])]
    return GraphQLError(str(e), extensions={"code": e.code.upper().replace("-", "_"),
                                            "field": e.field, "problems": problems})


@strawberry.type
class VersionChange:
    change: str
    kind: str
    path: str
    field: str | None
    old: JSON | None
    new: JSON | None

    @classmethod
    def of(cls, c: Change) -> VersionChange:
        return cls(change=c.change, kind=c.kind, path=c.path, field=c.field, old=as_json(c.old),
                   new=as_json(c.new))


@strawberry.type
class VersionDiff:
    from_version: Node
    to_version: Node
    changes: list[VersionChange]
    report: str = strawberry.field(description="The diff as text for people.")
    from_fingerprint: str
    to_fingerprint: str


def _diff(rt: Runtime, a: str, b: str) -> VersionDiff:
    old, new = load_tree(rt.store, a), load_tree(rt.store, b)
    changes = diff_versions(old, new)
    return VersionDiff(
        from_version=Node.of(old.version), to_version=Node.of(new.version),
        changes=[VersionChange.of(c) for c in changes],
        report=diff_report(old, new, changes), from_fingerprint=fingerprint(old),
        to_fingerprint=fingerprint(new))


@strawberry.type
class ImpactItem:
    category: str
    iri: str
    class_name: str = strawberry.field(name="class")
    key: str
    note: str
    path: list[str] = strawberry.field(description="IRIs from the changed element to this "
                                                   "item: why it is affected.")

    @classmethod
    def of(cls, i: ImpactRecord) -> ImpactItem:
        return cls(category=i.category, iri=i.iri, class_name=i.cls, key=i.key, note=i.note,
                   path=list(i.path))


@strawberry.type
class ChangeImpact:
    element: Node
    counts: list[Stat]
    items: list[ImpactItem]
    released: Recall | None = strawberry.field(
        description="Downstream of the released batches (and of the material's lots): units, "
                    "shipments and customers built under the affected versions.")


@strawberry.type
class ChangeApproval:
    approval: Node
    role: str
    signed: bool = strawberry.field(description="Signed 'approved' and still valid.")


@strawberry.type
class ChangeRecord:
    request: Node
    base_version: Node | None
    proposed_version: Node | None
    assessments: list[Node]
    approvals: list[ChangeApproval]
    diff: VersionDiff | None
    effectivity_problems: list[Problem] = strawberry.field(
        description="What still prevents the proposed version from becoming Effective.")


def _record(rt: Runtime, cr: str) -> ChangeRecord:
    s = rt.store
    out = s.links([cr], [R.AFFECTS])
    into = s.links([cr], [R.INTRODUCED_BY, R.ASSESSES, R.APPROVES], Direction.DOWNSTREAM)
    nodes = s.get_many(sorted({cr, *(e.dst for e in out), *(e.src for e in into)}))
    base = next((nodes[e.dst] for e in out if nodes.get(e.dst) and
                 nodes[e.dst].label == "ProcessVersion"), None)
    proposed = next((nodes[e.src] for e in into if e.type == R.INTRODUCED_BY
                     and e.src in nodes), None)
    approvals = sorted({e.src for e in into if e.type == R.APPROVES})
    roles = {e.src: e.dst for e in s.links(approvals, [R.IN_ROLE])} if approvals else {}
    role_nodes = s.get_many(sorted(set(roles.values())))
    sigs = signatures_by_record(s, approvals) if approvals else {}
    return ChangeRecord(
        request=Node.of(nodes[cr]),
        base_version=Node.of(base) if base else None,
        proposed_version=Node.of(proposed) if proposed else None,
        assessments=[Node.of(nodes[e.src]) for e in into if e.type == R.ASSESSES],
        approvals=[ChangeApproval(
            approval=Node.of(nodes[a]),
            role=str(role_nodes[roles[a]].props.get("roleName", role_nodes[roles[a]].key))
            if roles.get(a) in role_nodes else "",
            signed=any(x.valid and x.meaning == SignatureMeaning.APPROVED
                       for x in sigs.get(a, [])))
            for a in approvals],
        diff=_diff(rt, base.iri, proposed.iri) if base and proposed else None,
        effectivity_problems=[Problem.of(p) for p in cc.effectivity_problems(s, proposed.iri)]
        if proposed and proposed.props.get("versionStatus") not in (
            ProcessVersionStatus.EFFECTIVE, ProcessVersionStatus.SUPERSEDED)
        else [])


@strawberry.type
class Query:
    @strawberry.field(description="The versions of a process definition (by code or IRI), "
                                  "ordered by effectivity.")
    def process_versions(self, info: Info[Any, None], process: str) -> list[Node]:
        rt = runtime_of(info)
        pd = _node_of(rt, "process", process, "ProcessDefinition")
        return [Node.of(v) for v in versions_of(rt.store, pd.iri)]

    @strawberry.field(description="The version of a process that governed production at a "
                                  "time (UTC); null if none was effective then.")
    def effective_version(self, info: Info[Any, None], process: str, at: str) -> Node | None:
        rt = runtime_of(info)
        pd = _node_of(rt, "process", process, "ProcessDefinition")
        try:
            when = to_utc_text(at)
        except TypeRuleError as e:
            raise bad_input("at", e.value, e.rule) from None
        v = effective_version(rt.store, pd.iri, when)
        return Node.of(v) if v else None

    @strawberry.field(description="Semantic diff of two process versions: operations added, "
                                  "removed or reordered, parameter limits, BOM lines and "
                                  "inspection changed (old → new), as data and as a report.")
    def version_diff(self, info: Info[Any, None],
                     from_version: str, to_version: str) -> VersionDiff:
        rt = runtime_of(info)
        a = _node_of(rt, "fromVersion", from_version, "ProcessVersion")
        b = _node_of(rt, "toVersion", to_version, "ProcessVersion")
        return _diff(rt, a.iri, b.iri)

    @strawberry.field(description="Impact of a proposed change to a parameter spec, operation, "
                                  "BOM line, inspection plan/characteristic/method, material, "
                                  "equipment, fixture, equipment class or qualification; each "
                                  "item with the path that explains it.")
    def change_impact(self, info: Info[Any, None], element: str,
                      base_version: str | None = None, unit_limit: int = 100) -> ChangeImpact:
        rt = runtime_of(info)
        n = _node_of(rt, "element", element)
        base = _node_of(rt, "baseVersion", base_version, "ProcessVersion").iri \
            if base_version else None
        try:
            ci = change_impact(rt.store, n.iri, base, max(1, min(unit_limit, 5000)))
        except ValueError as e:
            raise bad_input("element", element, str(e)) from None
        return ChangeImpact(
            element=Node.of(ci.element),
            counts=[Stat(label=k, count=v) for k, v in sorted(ci.counts().items())],
            items=[ImpactItem.of(i) for i in ci.items],
            released=Recall.of(ci.released) if ci.released else None)

    @strawberry.field(description="A change request (by record number) with its base and "
                                  "proposed versions, diff, impact assessments, approvals and "
                                  "what still blocks effectivity; null if there is none.")
    def change_request(self, info: Info[Any, None], number: str) -> ChangeRecord | None:
        rt = runtime_of(info)
        found = [n for n in rt.store.find(number, label="ChangeRequest")]
        return _record(rt, found[0].iri) if len(found) == 1 else None


def _step(rt: Runtime, cr: str, step: Callable[[], object]) -> ChangeRecord:
    """Run one change-control step; a refusal becomes a GraphQL error with its code."""
    try:
        step()
    except TypeRuleError as e:
        raise bad_input("at", e.value, e.rule) from None
    except RefusedError as e:
        raise _refused(e) from None
    except WriteRejectedError as e:
        raise GraphQLError(str(e), extensions={
            "code": "REJECTED", "problems": [p.as_dict() for p in e.problems]}) from None
    return _record(rt, cr)


def _request(rt: Runtime, number: str) -> str:
    return str(_node_of(rt, "number", number, "ChangeRequest").iri)


@strawberry.type
class Mutation:
    # mutations answer null with an error (NOT_FOUND, BAD_INPUT, a refusal code) when refused
    @strawberry.mutation(description="Open a change request proposing a Draft version to "
                                     "replace a base version.")
    def propose_change(self, info: Info[Any, None], number: str, title: str, reason: str,
                       base_version: str, proposed_version: str) -> ChangeRecord | None:
        rt = runtime_of(info)
        base = _node_of(rt, "baseVersion", base_version, "ProcessVersion")
        new = _node_of(rt, "proposedVersion", proposed_version, "ProcessVersion")
        cr = rt.vocab.mint_iri("ChangeRequest", number)
        return _step(rt, cr, lambda: cc.propose(rt, number, title, reason, base.iri, new.iri,
                                                user_of(info).username))

    @strawberry.mutation(description="Compute and record the change's impact assessment (diff "
                                     "and impact of every changed element); puts the proposed "
                                     "version in review.")
    def assess_change(self, info: Info[Any, None], number: str) -> ChangeRecord | None:
        rt = runtime_of(info)
        cr = _request(rt, number)
        return _step(rt, cr, lambda: cc.assess(rt, cr, user_of(info).username))

    @strawberry.mutation(description="Approve (or reject) the change in one of your roles and "
                                     "sign the approval (re-enter your password).")
    def approve_change(self, info: Info[Any, None], number: str, role: RoleName, password: str,
                       reason: str, decision: ApprovalDecision = ApprovalDecision.APPROVED
                       ) -> ChangeRecord | None:
        rt = runtime_of(info)
        cr = _request(rt, number)
        return _step(rt, cr, lambda: cc.approve(rt, cr, user_of(info).username, password, role,
                                                reason, decision))

    @strawberry.mutation(description="Make the proposed version Effective (superseding the base "
                                     "version); refused without the required signed approvals.")
    def make_change_effective(self, info: Info[Any, None], number: str,
                              at: str | None = None) -> ChangeRecord | None:
        rt = runtime_of(info)
        cr = _request(rt, number)
        return _step(rt, cr, lambda: cc.make_effective(rt, cr, user_of(info).username, at))
