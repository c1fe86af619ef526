"""GraphQL for document control (issue 18 item 1): controlled documents as chains of revisions,
the revision in force, each revision's approvals and the training it asks for; the lifecycle
and training mutations run the commands of :mod:`quality.documents` (their role checks,
re-authentication and signatures), so a refusal is the command's structured error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.graphql.enums import ApprovalDecision
from api.graphql.types import Node, Signature, not_found, page_of, runtime_of, user_of
from graph.documents import chains, in_force
from graph.errors import RefusedError, WriteRejectedError
from graph.model import NodeRecord
from ontology.datatypes import to_utc_text
from ontology.terms import C, P, R
from quality import documents as dc
from quality.document_training import governed_operations, training_status
from quality.signatures import Signature as SignatureRecord
from quality.signatures import signatures_by_record
from quality.workflow import linked_from
from tracegraph.runtime import Runtime

__all__ = ["DocumentChain", "DocumentRevision", "Mutation", "Query", "TrainingState"]


@strawberry.type(description="One person's training on a document revision.")
class TrainingState:
    person: str
    name: str
    due_by: str
    trained_at: str | None
    state: str = strawberry.field(description="trained, pending (within the grace period) or "
                                              "overdue")


@strawberry.type(description="An approval (or rejection) of a document revision with its "
                             "signatures.")
class DocumentApproval:
    record: Node
    _signatures: strawberry.Private[list[SignatureRecord]]

    @strawberry.field(description="Its signatures, a page (first, offset).")
    def signatures(self, first: int = 20, offset: int = 0) -> list[Signature]:
        return [Signature.of(s) for s in page_of(self._signatures, first, offset)]


@strawberry.type(description="One revision of a controlled document.")
class DocumentRevision:
    record: Node
    key: str
    revision: str | None
    status: str | None
    effective_from: str | None
    effective_to: str | None
    training_due_by: str | None
    _approvals: strawberry.Private[list[DocumentApproval]]
    approval_problems: list[str] = strawberry.field(
        description="What still keeps an Approved revision from becoming Effective.")
    training: list[TrainingState]

    @strawberry.field(description="Its approvals (review rounds), a page (first, offset).")
    def approvals(self, first: int = 20, offset: int = 0) -> list[DocumentApproval]:
        return page_of(self._approvals, first, offset)


@strawberry.type(description="A controlled document: its revisions (oldest first), the one in "
                             "force now and the operations executed under it.")
class DocumentChain:
    code: str
    title: str | None
    in_force: DocumentRevision | None
    operations: list[str]
    revision_count: int = strawberry.field(description="How many revisions it has (revisions "
                                                       "pages them).")
    _revisions: strawberry.Private[list[NodeRecord]]
    _rt: strawberry.Private[Runtime]
    _now: strawberry.Private[str]

    @strawberry.field(description="Its revisions oldest first, a page (first, offset).")
    def revisions(self, first: int = 50, offset: int = 0) -> list[DocumentRevision]:
        return [_revision(self._rt, r, self._now)
                for r in page_of(self._revisions, first, offset)]


def _revision(rt: Runtime, n: NodeRecord, now: str) -> DocumentRevision:
    approvals = linked_from(rt.store, [n.iri], R.APPROVES, C.Approval)
    sigs = signatures_by_record(rt.store, sorted(approvals))
    return DocumentRevision(
        record=Node.of(n), key=n.key, revision=_s(n, P.revision), status=_s(n, P.versionStatus),
        effective_from=_s(n, P.effectiveFrom), effective_to=_s(n, P.effectiveTo),
        training_due_by=_s(n, P.trainingDueBy),
        _approvals=[DocumentApproval(record=Node.of(a), _signatures=sigs.get(i, []))
                    for i, a in sorted(approvals.items())],
        approval_problems=[p.message for p in dc.approval_problems(rt.store, n)]
        if n.props.get(P.versionStatus) == "Approved" else [],
        training=[TrainingState(person=t.person_key, name=t.name, due_by=t.due_by,
                                trained_at=t.trained_at, state=t.state)
                  for t in training_status(rt.store, n, now)])


def _s(n: NodeRecord, prop: str) -> str | None:
    v = n.props.get(prop)
    return None if v is None else str(v)


def _chain(rt: Runtime, revisions: list[NodeRecord], now: str) -> DocumentChain:
    revs = sorted(revisions, key=lambda r: (str(r.props.get(P.effectiveFrom) or "~"), r.key))
    current = in_force(revs, now)
    first = revs[0]
    return DocumentChain(
        code=first.key, title=_s(current or revs[-1], "title"),
        in_force=_revision(rt, current, now) if current else None,
        operations=[o.key for o in governed_operations(rt.store, revs)],
        revision_count=len(revs), _revisions=revs, _rt=rt, _now=now)


def _now(rt: Runtime) -> str:
    return to_utc_text(rt.clock())


@strawberry.type
class Query:
    @strawberry.field(description="Every controlled document (revision chain), by code of its "
                                  "first revision.")
    def documents(self, info: Info[Any, None]) -> list[DocumentChain]:
        rt = runtime_of(info)
        docs = rt.store.nodes_of_class(C.Document)
        groups = chains(rt.store, [d.iri for d in docs])
        seen: set[str] = set()
        out: list[DocumentChain] = []
        for d in docs:
            if d.iri in seen:
                continue
            seen.update(r.iri for r in groups[d.iri])
            out.append(_chain(rt, groups[d.iri], _now(rt)))
        return sorted(out, key=lambda c: c.code)

    @strawberry.field(description="One controlled document, named by any of its revisions "
                                  "(code or IRI); null if there is none.")
    def document(self, info: Info[Any, None], key: str) -> DocumentChain | None:
        rt = runtime_of(info)
        n = _find(rt, key)
        return _chain(rt, chains(rt.store, [n.iri])[n.iri], _now(rt)) if n else None


def _find(rt: Runtime, key: str) -> NodeRecord | None:
    n = rt.store.get(key) if "://" in key else rt.store.get(rt.vocab.mint_iri(C.Document, key))
    return n if n is not None and n.label == C.Document else None


def _step(rt: Runtime, key: str, step: Callable[[], object]) -> DocumentRevision:
    if _find(rt, key) is None:
        raise not_found("document", key)
    try:
        step()
    except RefusedError as e:
        raise GraphQLError(str(e), extensions={
            "code": e.code.upper().replace("-", "_"), "field": e.field,
            "problems": [p.as_dict() for p in getattr(e, "problems", [])]}) from None
    except WriteRejectedError as e:
        raise GraphQLError(str(e), extensions={
            "code": "REJECTED", "problems": [p.as_dict() for p in e.problems]}) from None
    n = _find(rt, key)
    assert n is not None
    return _revision(rt, n, _now(rt))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Put a Draft document revision in review.")
    def submit_document(self, info: Info[Any, None], document: str,
                        reason: str) -> DocumentRevision | None:
        rt = runtime_of(info)
        return _step(rt, document, lambda: dc.submit(rt, document, user_of(info).username,
                                                     reason))

    @strawberry.mutation(description="QA approves (or rejects) a revision in review and signs "
                                     "the approval (re-enter your password).")
    def approve_document(self, info: Info[Any, None], document: str, password: str,
                         reason: str, decision: ApprovalDecision = ApprovalDecision.APPROVED
                         ) -> DocumentRevision | None:
        rt = runtime_of(info)
        return _step(rt, document, lambda: dc.approve(
            rt, document, user_of(info).username, password, reason, decision.value))

    @strawberry.mutation(description="QA makes an Approved revision Effective (superseding the "
                                     "revision in force); training on it falls due after the "
                                     "grace period (graceDays, else the revision's, else the "
                                     "plant's setting).")
    def make_document_effective(self, info: Info[Any, None], document: str, reason: str,
                                at: str | None = None, grace_days: int | None = None
                                ) -> DocumentRevision | None:
        rt = runtime_of(info)
        return _step(rt, document, lambda: dc.make_effective(
            rt, document, user_of(info).username, reason, at, grace_days,
            rt.settings.document_training_grace_days))

    @strawberry.mutation(description="A trainer (QA or engineer; never for themselves) records "
                                     "that a person trained on a revision, signed 'verified'.")
    def record_training(self, info: Info[Any, None], document: str, person: str,
                        password: str, reason: str, qualification: str | None = None,
                        at: str | None = None) -> DocumentRevision | None:
        rt = runtime_of(info)
        return _step(rt, document, lambda: dc.record_training(
            rt, document, person, user_of(info).username, password, reason, qualification, at))
