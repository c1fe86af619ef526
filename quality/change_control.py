"""Change control of process definitions: ChangeRequest → computed impact assessment → approvals
by role with electronic signatures → the new version Effective (the old one Superseded).

The change record links everything: the request ``affects`` the base version, the proposed
version was ``introducedBy`` the request, the ``ImpactAssessment`` ``assesses`` it (with the
semantic diff and the impact counts in its description), and each ``Approval`` ``approves`` it,
in a role, signed by the approver with meaning ``approved``. An approval binds to the proposed
definition: it names the definition's fingerprint (:func:`graph.versions.fingerprint`), so an
edit of the proposal after approval makes the approval stale.

The proposed version becomes Effective only when, for every role of :data:`APPROVERS`, a valid
signed approval of the current definition exists (:func:`effectivity_problems`); the version
guard checks the same on every write path.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from graph.change_impact import ChangeImpact, change_impact
from graph.errors import Problem, RefusedError
from graph.model import Direction, EdgeRecord
from graph.port import GraphStore
from graph.session import Session, write_nodes
from graph.versions import Change, diff_report, diff_versions, fingerprint, load_tree
from graph.write import NodeUpsert
from ontology.authority import Command
from ontology.codes import (
    ApprovalDecision,
    ChangeState,
    ChangeType,
    ImpactLevel,
    ProcessVersionStatus,
    RoleName,
    SignatureMeaning,
)
from ontology.datatypes import to_utc_text
from ontology.terms import C, P, R
from quality.accounts import authenticate
from quality.rules import RequiresSignatures
from quality.signatures import sign

__all__ = ["APPROVERS", "Assessment", "ChangeControlError", "approve", "assess",
           "effectivity_problems", "make_effective", "propose"]

#: who must approve a process change, with which signature meaning
APPROVERS: Mapping[str, str] = {RoleName.ENGINEER: SignatureMeaning.APPROVED,
                                 RoleName.QA: SignatureMeaning.APPROVED}
_FP = re.compile(r"definition sha256 ([0-9a-f]{64})")


class ChangeControlError(RefusedError):
    """A change-control step refused; ``problems`` lists every reason."""

    def __init__(self, code: str, message: str, field: str, value: object = None,
                 problems: Sequence[Problem] = ()) -> None:
        super().__init__(code, message, field, value)
        self.problems = list(problems)


@dataclass
class Assessment:
    record: str  # the ImpactAssessment IRI
    changes: list[Change]
    report: str
    impacts: list[ChangeImpact]
    impact_level: str
    affected: int


def _one(store: GraphStore, iri: str, rel: str, direction: Direction = Direction.UPSTREAM
         ) -> list[str]:
    es = store.links([iri], [rel], direction)
    return sorted({e.src if direction == Direction.DOWNSTREAM else e.dst for e in es})


def _request(rt: Session, cr: str) -> tuple[str, str]:
    """(base version, proposed version) of a change request."""
    node = rt.store.get(cr)
    if node is None or node.label != C.ChangeRequest:
        raise ChangeControlError("no-such-record", "no change request has this IRI",
                                 "changeRequest", cr)
    proposed = _one(rt.store, cr, R.INTRODUCED_BY, Direction.DOWNSTREAM)
    found = rt.store.get_many(_one(rt.store, cr, R.AFFECTS))
    bases = [i for i, n in found.items() if n.label == C.ProcessVersion]
    if len(proposed) != 1 or len(bases) != 1:
        raise ChangeControlError("change-scope", "a process change request affects exactly one "
                                 "base version and introduces exactly one proposed version",
                                 "changeRequest", cr)
    return bases[0], proposed[0]


def propose(rt: Session, number: str, title: str, reason: str, base: str, proposed: str,
            actor: str, change_type: str = ChangeType.PROCESS) -> str:
    """Open a change request for ``proposed`` (a Draft version) replacing ``base``."""
    nodes = rt.store.get_many([base, proposed])
    if proposed not in nodes or nodes[proposed].props.get(P.versionStatus) != \
            ProcessVersionStatus.DRAFT:
        raise ChangeControlError("version-not-draft", "the proposed version must exist and be "
                                 "a Draft", "proposed", proposed)
    if base not in nodes:
        raise ChangeControlError("no-such-record", "no base version has this IRI", "base", base)
    iri = rt.vocab.mint_iri(C.ChangeRequest, number)
    write_nodes(rt, [
        NodeUpsert(C.ChangeRequest, number, iri, {
            P.recordNumber: number, "title": title, "description": reason,
            P.changeType: change_type, P.changeState: ChangeState.SUBMITTED,
            P.openedAt: to_utc_text(rt.clock())}, {P.affects: [base]}),
        NodeUpsert(C.ProcessVersion, nodes[proposed].key, proposed, {},
                   {P.introducedBy: [iri]})], actor, reason, f"change:{number}:propose",
        command=Command.PROPOSE_CHANGE)
    return iri


def assess(rt: Session, cr: str, actor: str) -> Assessment:
    """Compute the impact (semantic diff + impact of every changed element of the base version),
    record it as the request's ImpactAssessment and put the proposal in review."""
    base, proposed = _request(rt, cr)
    old, new = load_tree(rt.store, base), load_tree(rt.store, proposed)
    changes = diff_versions(old, new)
    touched = sorted({old.elements[c.path].node.iri for c in changes
                      if c.path in old.elements and c.kind != "version"})
    impacts = [change_impact(rt.store, e, base) for e in touched]
    batches = {i.iri for ci in impacts for i in ci.items
               if i.category in ("wip-batch", "released-batch")}
    units = max((ci.released.units_total for ci in impacts if ci.released), default=0)
    critical = any(c.kind == "parameter" and (old.elements.get(c.path) or new.elements[c.path])
                   .props.get(P.isCPP) for c in changes) or any(
        c.kind == "characteristic" and (old.elements.get(c.path) or new.elements[c.path])
        .props.get(P.isCTQ) for c in changes)
    level = ImpactLevel.HIGH if critical and batches else \
        ImpactLevel.MEDIUM if critical or batches else \
        ImpactLevel.LOW if changes else ImpactLevel.NONE
    report = diff_report(old, new, changes) + "\n" + "\n".join(
        f"Impact of changing {ci.element.key}: " + ", ".join(
            f"{k} {v}" for k, v in sorted(ci.counts().items())) for ci in impacts)
    number = f"IA-{rt.store.get(cr).key}"  # type: ignore[union-attr]  # _request() found the change request, so get() returns it
    ia = rt.vocab.mint_iri(C.ImpactAssessment, number)
    cr_key = rt.store.get(cr).key  # type: ignore[union-attr]  # _request() found the change request, so get() returns it
    write_nodes(rt, [
        NodeUpsert(C.ImpactAssessment, number, ia, {
            P.recordNumber: number, P.impactLevel: level, P.affectedCount: len(batches) + units,
            "description": report, P.performedAt: to_utc_text(rt.clock())}, {P.assesses: [cr]}),
        NodeUpsert(C.ChangeRequest, cr_key, cr, {P.changeState: ChangeState.IMPACT_ASSESSED}),
        NodeUpsert(C.ProcessVersion, new.version.key, proposed,
                   {P.versionStatus: ProcessVersionStatus.IN_REVIEW})],
        actor, "change impact assessed", f"change:{cr_key}:assess:{uuid.uuid4().hex[:8]}",
        command=Command.ASSESS_CHANGE)
    return Assessment(ia, changes, report, impacts, level, len(batches) + units)


def approve(rt: Session, cr: str, username: str, password: str, role: str, reason: str,
            decision: str = ApprovalDecision.APPROVED) -> str:
    """Record ``username``'s approval (or rejection) of the change in ``role`` and sign it."""
    _base, proposed = _request(rt, cr)
    user = rt.store.find(username, label=C.User)
    if not user:
        raise ChangeControlError("no-such-user", "no such account", "username", username)
    roles = rt.store.get_many(_one(rt.store, user[0].iri, R.HAS_ROLE))
    in_role = [i for i, n in roles.items() if n.props.get(P.roleName, n.key) == role]
    if not in_role:
        raise ChangeControlError("not-permitted", f"{username} does not hold role {role}",
                                 "role", role)
    cr_key = rt.store.get(cr).key  # type: ignore[union-attr]  # _request() found the change request, so get() returns it
    # re-authenticate before anything is written: a wrong password leaves no approval behind
    authenticate(rt, username, password, purpose=f"approval of {cr_key}")
    fp = fingerprint(load_tree(rt.store, proposed))
    number = f"{cr_key}-A-{uuid.uuid4().hex[:8]}"
    iri = rt.vocab.mint_iri(C.Approval, number)
    write_nodes(rt, [NodeUpsert(C.Approval, number, iri, {
        P.recordNumber: number, P.approvalDecision: decision,
        P.decidedAt: to_utc_text(rt.clock()),
        "description": f"{decision} in role {role}: {cr_key}, proposed version "
                       f"{rt.store.get(proposed).key} definition sha256 {fp}"},  # type: ignore[union-attr]  # _request() found the proposed version
        {P.approves: [cr], P.inRole: in_role[:1], P.wasAssociatedWith: [user[0].iri]})],
        username, reason, f"change:{cr_key}:approval:{number}", command=Command.APPROVE_CHANGE)
    sign(rt, iri, username, password, SignatureMeaning.APPROVED
         if decision == ApprovalDecision.APPROVED else SignatureMeaning.REVIEWED, reason)
    return iri


def effectivity_problems(store: GraphStore, version: str,
                         new_edges: Sequence[EdgeRecord] = ()) -> list[Problem]:
    """Why ``version`` cannot become Effective now (empty when it can)."""
    crs = sorted({*_one(store, version, R.INTRODUCED_BY),
                  *(e.dst for e in new_edges if e.src == version and e.type == R.INTRODUCED_BY)})
    if not crs:
        return [Problem(rule="change-control", field="introducedBy", value=version,
                        focus=version, message="a process version becomes Effective only "
                        "through a change request (introducedBy) with its approvals")]
    fp = fingerprint(load_tree(store, version))
    problems: list[Problem] = []
    for cr in crs:
        approvals = _one(store, cr, R.APPROVES, Direction.DOWNSTREAM)
        nodes = store.get_many(approvals)
        role_of: dict[str, str] = {}
        role_nodes = store.get_many(sorted({e.dst for e in store.links(approvals, [R.IN_ROLE])})
                                    ) if approvals else {}
        for e in store.links(approvals, [R.IN_ROLE]) if approvals else []:
            r = role_nodes.get(e.dst)
            role_of[e.src] = str(r.props.get(P.roleName, r.key)) if r else ""
        for n in nodes.values():
            if n.props.get(P.approvalDecision) == ApprovalDecision.REJECTED:
                problems.append(Problem(rule="change-rejected", field="approvalDecision",
                                        value=n.key, focus=cr,
                                        message=f"{n.key} rejected the change"))
        for role, meaning in sorted(APPROVERS.items()):
            fresh = [a for a, n in nodes.items() if role_of.get(a) == role
                     and n.props.get(P.approvalDecision) == ApprovalDecision.APPROVED
                     and (m := _FP.search(str(n.props.get("description", ""))))
                     and m.group(1) == fp]
            rule = RequiresSignatures({role: {meaning}})
            checks = rule.check_many(store, fresh) if fresh else {}
            if any(not ps for ps in checks.values()):
                continue
            detail = "; ".join(p.message for ps in checks.values() for p in ps[:1])
            problems.append(Problem(
                rule="requires-signature", field="approval", value=role, focus=cr,
                message=f"needs an approval in role {role} of the current definition, signed "
                        f"'{meaning}' by a user holding {role}"
                        + (f" ({detail})" if detail else " (none recorded)")))
    return problems


def make_effective(rt: Session, cr: str, actor: str, at: str | None = None) -> str:
    """Approve and make the proposed version Effective from ``at`` (default now), superseding
    the base version; refused (nothing written) without the required signed approvals."""
    base, proposed = _request(rt, cr)
    problems = effectivity_problems(rt.store, proposed)
    if problems:
        raise ChangeControlError("requires-signature", "; ".join(p.message for p in problems),
                                 "changeRequest", cr, problems)
    when = to_utc_text(at or rt.clock())
    nodes = rt.store.get_many([cr, base, proposed])
    key = nodes[cr].key
    write_nodes(rt, [
        NodeUpsert(C.ProcessVersion, nodes[proposed].key, proposed,
                   {P.versionStatus: ProcessVersionStatus.APPROVED}),
        NodeUpsert(C.ChangeRequest, key, cr, {P.changeState: ChangeState.APPROVED})],
        actor, "change approved", f"change:{key}:approved",
        command=Command.MAKE_CHANGE_EFFECTIVE)
    ups = [NodeUpsert(C.ProcessVersion, nodes[proposed].key, proposed,
                      {P.versionStatus: ProcessVersionStatus.EFFECTIVE, P.effectiveFrom: when}),
           NodeUpsert(C.ChangeRequest, key, cr, {P.changeState: ChangeState.IMPLEMENTED})]
    if nodes[base].props.get(P.versionStatus) == ProcessVersionStatus.EFFECTIVE:
        ups.append(NodeUpsert(C.ProcessVersion, nodes[base].key, base,
                              {P.versionStatus: ProcessVersionStatus.SUPERSEDED,
                               P.effectiveTo: when}))
    write_nodes(rt, ups, actor, "change implemented: new version effective",
                f"change:{key}:effective", command=Command.MAKE_CHANGE_EFFECTIVE)
    return proposed
