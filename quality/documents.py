"""Document control (issue 18 item 1): the lifecycle of a controlled document revision and the
training it asks for, as workflow commands through the one write path.

A revision (a ``tg:Document`` record, Draft when an engineer captures it, linked to the revision
it replaces by ``wasRevisionOf``) moves

- Draft → InReview: :func:`submit` (engineer or QA);
- InReview → Approved (or back to Draft when rejected): :func:`approve` — QA only, re-entering
  the password: an ``Approval`` that ``approves`` the revision in role qa, naming the sha256 of
  the revision's content (:func:`content_fingerprint`), signed 'approved';
- Approved → Effective: :func:`make_effective` (QA), only with a valid signed QA approval of the
  current content; the chain's previous Effective revision becomes Superseded (effective to =
  the new revision's effective from), and ``trainingDueBy`` = effective from + grace period
  (argument, else the revision's ``trainingGraceDays``, else the plant setting).

:func:`record_training` records that a person trained on a revision (QA or engineer as
trainer, never for themselves; re-authenticated, signed 'verified'); the record renews the
qualification the governed operations require. The guard :func:`document_lifecycle` holds the
same lifecycle on every write path; the operation-start rule is
:func:`quality.document_training.training_problems`.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from graph.errors import Problem
from graph.model import NodeRecord, Props
from graph.port import GraphStore
from graph.session import Session, write_nodes
from graph.versions import FROZEN, LIFECYCLE
from graph.write import PRIOR_VERSION, NodeUpsert, PendingWrite
from ontology.codes import ApprovalDecision, RoleName, SignatureMeaning
from ontology.codes import ProcessVersionStatus as V
from ontology.datatypes import TypeRuleError, to_utc_text
from ontology.terms import C, P, R
from quality.accounts import authenticate
from quality.document_training import chains, governed_operations
from quality.rules import RequiresSignatures
from quality.signatures import content_hash, sign
from quality.workflow import WorkflowRefused, linked_from, require_user, resolve

__all__ = ["APPROVERS", "AUTHORS", "TRAINERS", "approval_problems", "approve",
           "content_fingerprint", "document_lifecycle", "make_effective", "record_training",
           "submit"]

AUTHORS = frozenset({RoleName.ENGINEER, RoleName.QA})
APPROVERS = frozenset({RoleName.QA})
TRAINERS = frozenset({RoleName.ENGINEER, RoleName.QA})
QA_APPROVED = RequiresSignatures({RoleName.QA: {SignatureMeaning.APPROVED}})
#: set by the lifecycle (and the record-version counter), not part of the approved content
LIFECYCLE_PROPS = frozenset({P.versionStatus, P.effectiveFrom, P.effectiveTo, P.trainingDueBy,
                             "versionNumber"})
_FP = "content sha256 "


def _time(rt: Session, at: str | None, field: str = "at") -> str:
    """``at`` (default now) as stored UTC text; a bad time is refused naming the field."""
    try:
        return to_utc_text(at or rt.clock())
    except TypeRuleError as e:
        raise WorkflowRefused("time", f"must be {e.rule}", field, at) from None


def _plus_days(when: str, days: int) -> str:
    return to_utc_text(datetime.fromisoformat(when.replace("Z", "+00:00")) + timedelta(days=days))


def _status(n: NodeRecord) -> str:
    return str(n.props.get(P.versionStatus, ""))


def _expect(doc: NodeRecord, status: str, step: str) -> None:
    if _status(doc) != status:
        raise WorkflowRefused("document-lifecycle", f"{step} needs a {status} revision; "
                              f"{doc.key} is {_status(doc) or 'without status'}",
                              "versionStatus", _status(doc))


def content_fingerprint(store: GraphStore, doc: NodeRecord) -> str:
    """sha256 of the revision's content: its properties and links without the lifecycle ones
    (status, effectivity, training due date) and the record-version bookkeeping."""
    bare = replace(doc, props={k: v for k, v in doc.props.items() if k not in LIFECYCLE_PROPS})
    links = [e for e in store.links([doc.iri]) if e.type != PRIOR_VERSION]
    return content_hash(bare, links)


def submit(rt: Session, document: str, username: str, reason: str) -> NodeRecord:
    """Put a Draft revision in review."""
    require_user(rt, username, AUTHORS, "submitting a document for review")
    doc = resolve(rt, C.Document, document)
    _expect(doc, V.DRAFT, "submitting for review")
    write_nodes(rt, [NodeUpsert(C.Document, doc.key, doc.iri, {P.versionStatus: V.IN_REVIEW})],
                username, reason, f"document:{doc.key}:submit:{uuid.uuid4().hex[:8]}",
                command="submitDocument")
    return resolve(rt, C.Document, doc.iri)


def approve(rt: Session, document: str, username: str, password: str, reason: str,
            decision: str = ApprovalDecision.APPROVED) -> str:
    """QA's approval (or rejection: back to Draft) of a revision in review, signed."""
    user = require_user(rt, username, APPROVERS, "approving a document")
    doc = resolve(rt, C.Document, document)
    _expect(doc, V.IN_REVIEW, "approval")
    if decision not in set(ApprovalDecision):
        raise WorkflowRefused("approval-decision", f"must be one of "
                              f"{', '.join(ApprovalDecision)}", "decision", decision)
    roles = rt.store.get_many([e.dst for e in rt.store.links([user.iri], [R.HAS_ROLE])])
    qa = sorted(i for i, n in roles.items() if n.props.get(P.roleName, n.key) == RoleName.QA)
    authenticate(rt, username, password, purpose=f"approval of document {doc.key}")
    number = f"{doc.key}-A-{uuid.uuid4().hex[:8]}"
    iri = rt.vocab.mint_iri(C.Approval, number)
    status = V.APPROVED if decision == ApprovalDecision.APPROVED else V.DRAFT
    write_nodes(rt, [
        NodeUpsert(C.Approval, number, iri, {
            P.recordNumber: number, P.approvalDecision: decision,
            P.decidedAt: to_utc_text(rt.clock()),
            "description": f"{decision} in role qa: document {doc.key} revision "
                           f"{doc.props.get(P.revision)} {_FP}"
                           f"{content_fingerprint(rt.store, doc)}"},
            {P.approves: [doc.iri], P.inRole: qa[:1], P.wasAssociatedWith: [user.iri]}),
        NodeUpsert(C.Document, doc.key, doc.iri, {P.versionStatus: status})],
        username, reason, f"document:{doc.key}:approval:{number}", command="approveDocument")
    sign(rt, iri, username, password, SignatureMeaning.APPROVED
         if decision == ApprovalDecision.APPROVED else SignatureMeaning.REVIEWED, reason)
    return iri


def approval_problems(store: GraphStore, doc: NodeRecord) -> list[Problem]:
    """Why ``doc`` cannot become Effective: it needs an approval of its current content, in
    role qa, with a valid 'approved' signature by a user holding qa."""
    fp = content_fingerprint(store, doc)
    approvals = linked_from(store, [doc.iri], R.APPROVES, C.Approval)
    fresh = sorted(i for i, n in approvals.items()
                   if n.props.get(P.approvalDecision) == ApprovalDecision.APPROVED
                   and str(n.props.get("description", "")).endswith(_FP + fp))
    checks = QA_APPROVED.check_many(store, fresh) if fresh else {}
    if any(not ps for ps in checks.values()):
        return []
    detail = "; ".join(p.message for ps in checks.values() for p in ps[:1])
    return [Problem(rule="requires-signature", field="approval", value=doc.key, focus=doc.iri,
                    message=f"document {doc.key} becomes Effective only with a QA approval of "
                            "its current content signed 'approved' by a user holding qa"
                            + (f" ({detail})" if detail else " (none recorded)"))]


def make_effective(rt: Session, document: str, username: str, reason: str,
                   at: str | None = None, grace_days: int | None = None,
                   default_grace_days: int = 14) -> NodeRecord:
    """Make an Approved revision Effective from ``at`` (default now), superseding the chain's
    Effective revision; sets when training on it falls due."""
    require_user(rt, username, APPROVERS, "making a document effective")
    doc = resolve(rt, C.Document, document)
    _expect(doc, V.APPROVED, "making effective")
    problems = approval_problems(rt.store, doc)
    if problems:
        raise WorkflowRefused("requires-signature", problems[0].message, "approval", doc.key,
                              problems)
    days = grace_days if grace_days is not None else doc.props.get(P.trainingGraceDays)
    days = default_grace_days if days is None else days
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 366:
        raise WorkflowRefused("grace-days", "the training grace period is 0 to 366 days",
                              "graceDays", days)
    when = _time(rt, at)
    due = _plus_days(when, days)
    ups = [NodeUpsert(C.Document, doc.key, doc.iri, {
        P.versionStatus: V.EFFECTIVE, P.effectiveFrom: when, P.trainingDueBy: due})]
    for old in chains(rt.store, [doc.iri])[doc.iri]:
        if old.iri != doc.iri and _status(old) == V.EFFECTIVE:
            ups.append(NodeUpsert(C.Document, old.key, old.iri, {
                P.versionStatus: V.SUPERSEDED, P.effectiveTo: when}))
    write_nodes(rt, ups, username, reason, f"document:{doc.key}:effective",
                command="makeDocumentEffective")
    return resolve(rt, C.Document, doc.iri)


def record_training(rt: Session, document: str, person: str, username: str, password: str,
                    reason: str, qualification: str | None = None,
                    at: str | None = None) -> str:
    """Record that ``person`` completed training on a revision at ``at`` (default now), signed
    'verified' by the trainer; grants (renews) the qualification of the governed operations."""
    trainer = require_user(rt, username, TRAINERS, "recording training")
    doc = resolve(rt, C.Document, document)
    if _status(doc) not in (V.APPROVED, V.EFFECTIVE):
        raise WorkflowRefused("document-lifecycle", f"training is recorded on an Approved or "
                              f"Effective revision; {doc.key} is {_status(doc)}",
                              "versionStatus", _status(doc))
    who = resolve(rt, C.Person, person)
    if who.iri == trainer.iri or who.key == username:
        raise WorkflowRefused("self-training", "a trainer cannot record their own training: "
                              "another trainer (QA or engineer) records it", "person", who.key)
    ops = governed_operations(rt.store, chains(rt.store, [doc.iri])[doc.iri])
    needed = sorted({e.dst for e in rt.store.links(sorted(o.iri for o in ops),
                                                   [R.REQUIRES_QUALIFICATION])}) if ops else []
    held = sorted({e.dst for e in rt.store.links([who.iri], [R.HAS_QUALIFICATION])} &
                  set(needed))
    if qualification is not None:
        q = resolve(rt, C.Qualification, qualification)
        held = [q.iri] if q.iri in needed else []
    if len(held) != 1:
        raise WorkflowRefused(
            "qualification", f"{who.key} holds {len(held)} of the qualifications the operations "
            f"under {doc.key} require; name exactly one that they hold" if qualification is None
            else f"{qualification} is not a qualification the operations under {doc.key} "
                 "require", "qualification", qualification or who.key)
    qual = rt.store.get(held[0])
    when = _time(rt, at)
    days = qual.props.get(P.validityDays) if qual else None
    until = _plus_days(when, days) if isinstance(days, int) else None
    authenticate(rt, username, password, purpose=f"training record on {doc.key}")
    number = f"TRN-{doc.key}-{who.key}-{uuid.uuid4().hex[:6]}"
    iri = rt.vocab.mint_iri(C.TrainingRecord, number)
    props: Props = {P.recordNumber: number, P.effectiveFrom: when,
             **({P.effectiveTo: until} if until else {})}
    write_nodes(rt, [NodeUpsert(C.TrainingRecord, number, iri, props,
        {P.trainee: [who.iri], P.trainedOn: [doc.iri], P.grantsQualification: held})],
        username, reason, f"training:{number}", command="recordTraining")
    sign(rt, iri, username, password, SignatureMeaning.VERIFIED, reason)
    return iri


def document_lifecycle(p: PendingWrite) -> list[Problem]:
    """Stored document revisions move along the version lifecycle; becoming Effective (other
    than by a signed migration of legacy records) needs a valid signed QA approval; an
    Approved, Effective, Superseded or Obsolete revision is never edited (its properties other
    than the lifecycle ones, its own links) except by a signed migration (a legacy correction,
    which leaves any approval of the old content stale): a change is a new revision."""
    migration = any(ev.migration for ev in p.events)
    problems: list[Problem] = []
    for e in [] if migration else p.new_edges:
        old = p.before.get(e.src)
        if old is not None and old.label == C.Document and e.type != PRIOR_VERSION \
                and _status(old) in FROZEN:
            problems.append(_frozen(old, e.type, e.dst))
    for iri, new in p.after_of(C.Document).items():
        old = p.before.get(iri)
        if old is None:
            continue
        if _status(old) in FROZEN and not migration:
            edited = sorted(k for k in {*old.props, *new.props} - LIFECYCLE_PROPS
                            if old.props.get(k) != new.props.get(k))
            if edited:
                problems.append(_frozen(old, edited[0], new.props.get(edited[0])))
        was, now = old.props.get(P.versionStatus), new.props.get(P.versionStatus)
        if was == now or was is None:
            continue
        allowed = LIFECYCLE.get(str(was), frozenset())
        if now not in allowed:
            problems.append(Problem(
                rule="document-lifecycle", field="versionStatus", value=now, focus=iri,
                message=f"a {was} document revision cannot become {now}; from {was} it can "
                        f"become {', '.join(sorted(allowed)) or 'nothing (final)'}"))
        elif now == V.EFFECTIVE and not migration:
            problems.extend(approval_problems(p.store, new))
    return problems


def _frozen(doc: NodeRecord, field: str, value: object) -> Problem:
    return Problem(rule="document-immutable", field=field, value=value, focus=doc.iri,
                   message=f"document revision {doc.key} is {_status(doc)}: its content is "
                           "frozen; make the change in a new revision (wasRevisionOf "
                           f"{doc.key}) through review and approval")
