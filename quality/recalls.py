"""The recall as a record (issue 18 item 5): its lifecycle, consignee tracking and effectiveness.

A ``tg:Recall`` moves Initiated → CustomersNotified → EffectivenessChecks → Terminated, only
through the workflow commands here (``tg:recallState`` is changed by ``initiateRecall``,
``notifyRecallCustomer``, ``startRecallChecks`` and ``terminateRecall`` alone; the class is
command-only, so no capture writes one):

- :func:`initiate_recall` — QA, re-authenticated: class (FDA I/II/III = NMPA 一级/二级/三级),
  health hazard (which must match the class, 21 CFR 7.3(m) / 召回管理办法 召回分级), depth,
  correction or removal, hypothesis and seeds. The scope is frozen in the same write
  (:mod:`quality.recall_scope`): ``tg:recalls`` to every affected item and the scope summary;
  the initiation is an approval carrying the scope digest, signed 'approved'.
- :func:`notify_customer` — QA or QC: one consignee of the frozen scope notified (a
  ``tg:RecallNotification``); the last one moves the recall to CustomersNotified.
- :func:`record_response` — QA or QC: a notified consignee's answer and the units it returned
  or had corrected (each must be in the frozen scope).
- :func:`start_checks` — QA: CustomersNotified → EffectivenessChecks.
- :func:`terminate_recall` — QA, re-authenticated: every consignee answered; the termination is
  an approval signed 'approved' (21 CFR 7.55).

An operator or engineer is refused every step (rule ``role``); nothing is written then.
:func:`effectiveness` is the share of affected units accounted for (returned or corrected).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from graph.session import Session, write_nodes
from graph.write import NodeUpsert
from ontology.authority import Command
from ontology.codes import (
    ApprovalDecision,
    HealthHazard,
    RecallAction,
    RecallClass,
    RecallDepth,
    RecallState,
    RoleName,
    SignatureMeaning,
)
from ontology.datatypes import Clock, StoredValue, to_utc_text
from ontology.terms import C, P, R
from quality.accounts import authenticate
from quality.recall_scope import canonical, freeze_scope
from quality.signatures import sign
from quality.workflow import WorkflowRefused, linked_from, require_user, resolve

__all__ = ["DECIDERS", "HAZARD_CLASS", "NOTIFY_DAYS", "TRACKERS", "Consignee",
           "Effectiveness", "effectiveness", "initiate_recall", "notify_customer",
           "recalled_by", "recalls_list", "record_response", "scope_of", "start_checks",
           "terminate_recall"]

#: who decides a recall (initiation, effectiveness checks, termination)
DECIDERS = (RoleName.QA,)
#: who records consignee notifications and responses (the recall coordinator's work)
TRACKERS = (RoleName.QA, RoleName.QC)
#: the recall class a health hazard evaluation leads to (21 CFR 7.3(m); 召回管理办法 召回分级)
HAZARD_CLASS = {HealthHazard.SERIOUS: RecallClass.CLASS_I,
                HealthHazard.TEMPORARY: RecallClass.CLASS_II,
                HealthHazard.UNLIKELY: RecallClass.CLASS_III}
#: days to notify consignees after the decision, by class (召回管理办法: 1, 3, 7 days)
NOTIFY_DAYS = {RecallClass.CLASS_I: 1, RecallClass.CLASS_II: 3, RecallClass.CLASS_III: 7}
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
OPEN_STATES = (RecallState.INITIATED, RecallState.CUSTOMERS_NOTIFIED,
               RecallState.EFFECTIVENESS_CHECKS)


def _code(field_: str, value: str, allowed: Sequence[str], scheme: str) -> None:
    if value not in allowed:
        raise WorkflowRefused("code-list", f"must be one of {', '.join(allowed)} (code list "
                              f"tg:{scheme})", field_, value)


def _reason(reason: str) -> None:
    if not reason or not reason.strip():
        raise WorkflowRefused("reason-required", "a recall step needs a reason", "reason",
                              reason)


def _state(rec: NodeRecord, allowed: Sequence[str], step: str) -> str:
    state = str(rec.props.get(P.recallState, ""))
    if state not in allowed:
        raise WorkflowRefused("recall-state", f"{step} needs a recall in state "
                              f"{' or '.join(allowed)}; {rec.key} is {state}", "recallState",
                              state)
    return state


def _approval(rt: Session, rec_key: str, rec_iri: str, step: str, user_iri: str,
              at: str, extra: dict[str, StoredValue]) -> NodeUpsert:
    key = f"{rec_key}/{step}"
    return NodeUpsert(C.Approval, key, rt.vocab.mint_iri(C.Approval, key), {
        P.recordNumber: key, P.approvalDecision: ApprovalDecision.APPROVED, P.decidedAt: at,
        **extra}, {P.approves: [rec_iri], P.wasAssociatedWith: [user_iri]})


def initiate_recall(rt: Session, username: str, password: str, key: str, seeds: Sequence[str],
                    recall_class: str, health_hazard: str, depth: str, action: str,
                    hypothesis: str, title: str, reason: str, clock: Clock | None = None
                    ) -> NodeRecord:
    """Decide a recall and freeze its scope at the current watermark (QA, signed)."""
    clock = rt.clock if clock is None else clock
    user = require_user(rt, username, DECIDERS, "initiating a recall")
    _code("recallClass", recall_class, list(RecallClass), "RecallClassScheme")
    _code("healthHazard", health_hazard, list(HealthHazard), "HealthHazardScheme")
    _code("recallDepth", depth, list(RecallDepth), "RecallDepthScheme")
    _code("recallAction", action, list(RecallAction), "RecallActionScheme")
    if HAZARD_CLASS[HealthHazard(health_hazard)] != recall_class:
        raise WorkflowRefused("hazard-class", f"a {health_hazard} health hazard makes a class "
                              f"{HAZARD_CLASS[HealthHazard(health_hazard)]} recall",
                              "recallClass", recall_class)
    if not _KEY.match(key):
        raise WorkflowRefused("record-number", "1 to 40 letters, digits and . _ / - starting "
                              "with a letter or digit", "recordNumber", key)
    iri = rt.vocab.mint_iri(C.Recall, key)
    if rt.store.get(iri) is not None:
        raise WorkflowRefused("duplicate", "a recall has this record number", "recordNumber",
                              key)
    _reason(reason)
    scope = freeze_scope(rt.store, seeds)
    if not scope.seeds or scope.unknown:
        raise WorkflowRefused("unknown-seed", "every seed must name a traceable item; "
                              "these match nothing", "seeds", scope.unknown or list(seeds))
    authenticate(rt, username, password, clock, purpose=f"initiation of recall {key}")
    at = to_utc_text(clock())
    rec = NodeUpsert(C.Recall, key, iri, {
        P.recordNumber: key, P.title_: title, P.recallHypothesis: hypothesis,
        P.recallClass: recall_class, P.healthHazard: health_hazard, P.recallDepth: depth,
        P.recallAction: action, P.recallState: RecallState.INITIATED, P.openedAt: at,
        P.scopeWatermark: scope.watermark, P.scopeDigest: scope.digest,
        P.scopeDocument: canonical(scope.document)},
        {P.recallSeed: scope.seeds, P.recalls: scope.items})
    approval = _approval(rt, key, iri, "initiate", user.iri, at, {P.scopeDigest: scope.digest})
    write_nodes(rt, [rec, approval], username, reason, f"recall:{key}:initiate",
                command=Command.INITIATE_RECALL)
    sign(rt, approval.iri, username, password, SignatureMeaning.APPROVED, reason, clock)
    return resolve(rt, C.Recall, iri)


def scope_of(rec: NodeRecord) -> dict[str, Any]:
    """The frozen scope summary of a recall record."""
    doc = orjson.loads(str(rec.props.get(P.scopeDocument, "{}")))
    return doc if isinstance(doc, dict) else {}


def _notifications(store: GraphStore, recall_iri: str) -> dict[str, NodeRecord]:
    """The recall's notifications by the IRI of the customer notified."""
    notes = linked_from(store, [recall_iri], R.NOTIFICATION_OF, C.RecallNotification)
    out: dict[str, NodeRecord] = {}
    for e in store.links(sorted(notes), [R.NOTIFIED_CUSTOMER]) if notes else []:
        out[e.dst] = notes[e.src]
    return out


def _consignee(rt: Session, rec: NodeRecord, customer: str) -> dict[str, Any]:
    wanted = {customer, rt.vocab.mint_iri(C.Customer, customer)}
    for c in scope_of(rec).get("consignees", []):
        if c["iri"] in wanted or c["key"] == customer:
            return dict(c)
    raise WorkflowRefused("not-in-scope", f"the customer received nothing of recall {rec.key}",
                          "customer", customer)


def notify_customer(rt: Session, username: str, recall: str, customer: str, method: str,
                    reason: str, clock: Clock | None = None) -> NodeRecord:
    """Record that a consignee of the frozen scope was notified (QA or QC)."""
    clock = rt.clock if clock is None else clock
    require_user(rt, username, TRACKERS, "notifying a recall consignee")
    rec = resolve(rt, C.Recall, recall)
    state = _state(rec, OPEN_STATES, "notifying a consignee")
    cons = _consignee(rt, rec, customer)
    _reason(reason)
    done = _notifications(rt.store, rec.iri)
    if cons["iri"] in done:
        raise WorkflowRefused("already-notified", f"{cons['key']} was notified "
                              f"({done[cons['iri']].props.get(P.notifiedAt)})", "customer",
                              customer)
    key = f"{rec.key}/{cons['key']}"
    iri = rt.vocab.mint_iri(C.RecallNotification, key)
    nodes = [NodeUpsert(C.RecallNotification, key, iri, {
        P.recordNumber: key, P.notifiedAt: to_utc_text(clock()), P.notificationMethod: method},
        {P.notificationOf: [rec.iri], P.notifiedCustomer: [cons["iri"]]})]
    everyone = {c["iri"] for c in scope_of(rec).get("consignees", [])}
    if state == RecallState.INITIATED and everyone <= {*done, cons["iri"]}:
        nodes.append(NodeUpsert(C.Recall, rec.key, rec.iri,
                                {P.recallState: RecallState.CUSTOMERS_NOTIFIED}))
    write_nodes(rt, nodes, username, reason, f"recall:{key}:notify",
                command=Command.NOTIFY_RECALL_CUSTOMER)
    return resolve(rt, C.RecallNotification, iri)


def record_response(rt: Session, username: str, recall: str, customer: str, note: str,
                    reason: str, returned: Sequence[str] = (), corrected: Sequence[str] = (),
                    clock: Clock | None = None) -> NodeRecord:
    """A notified consignee's answer, with the units it returned or had corrected (QA or QC);
    every unit must be in the recall's frozen scope."""
    clock = rt.clock if clock is None else clock
    require_user(rt, username, TRACKERS, "recording a recall response")
    rec = resolve(rt, C.Recall, recall)
    _state(rec, OPEN_STATES, "recording a response")
    cons = _consignee(rt, rec, customer)
    _reason(reason)
    note_rec = _notifications(rt.store, rec.iri).get(cons["iri"])
    if note_rec is None:
        raise WorkflowRefused("not-notified", f"{cons['key']} has not been notified yet",
                              "customer", customer)
    scoped = {e.dst for e in rt.store.links([rec.iri], [R.RECALLS])}
    links: dict[str, list[str]] = {}
    for prop, refs in ((P.returnedUnit, returned), (P.correctedUnit, corrected)):
        for ref in refs:
            unit = resolve(rt, C.TraceableEntity, ref)
            if unit.iri not in scoped:
                raise WorkflowRefused("not-in-scope", f"{unit.key} is not in the frozen scope "
                                      f"of {rec.key}", str(prop), ref)
            links.setdefault(str(prop), []).append(unit.iri)
    write_nodes(rt, [NodeUpsert(C.RecallNotification, note_rec.key, note_rec.iri, {
        P.respondedAt: to_utc_text(clock()), P.responseNote: note}, links)],
        username, reason, None, command=Command.NOTIFY_RECALL_CUSTOMER)
    return resolve(rt, C.RecallNotification, note_rec.iri)


def start_checks(rt: Session, username: str, recall: str, reason: str) -> NodeRecord:
    """CustomersNotified → EffectivenessChecks (QA); from Initiated when the scope reached no
    consignee (nothing shipped)."""
    require_user(rt, username, DECIDERS, "starting recall effectiveness checks")
    rec = resolve(rt, C.Recall, recall)
    shipped = bool(scope_of(rec).get("consignees"))
    _state(rec, (RecallState.CUSTOMERS_NOTIFIED,) if shipped else
           (RecallState.INITIATED, RecallState.CUSTOMERS_NOTIFIED),
           "starting effectiveness checks")
    _reason(reason)
    write_nodes(rt, [NodeUpsert(C.Recall, rec.key, rec.iri,
                                {P.recallState: RecallState.EFFECTIVENESS_CHECKS})],
                username, reason, f"recall:{rec.key}:checks", command=Command.START_RECALL_CHECKS)
    return resolve(rt, C.Recall, rec.iri)


def terminate_recall(rt: Session, username: str, password: str, recall: str, reason: str,
                     clock: Clock | None = None) -> NodeRecord:
    """EffectivenessChecks → Terminated once every consignee answered (QA, signed)."""
    clock = rt.clock if clock is None else clock
    user = require_user(rt, username, DECIDERS, "terminating a recall")
    rec = resolve(rt, C.Recall, recall)
    _state(rec, (RecallState.EFFECTIVENESS_CHECKS,), "terminating a recall")
    _reason(reason)
    silent = [c.key for c in effectiveness(rt.store, rec).consignees if not c.responded_at]
    if silent:
        raise WorkflowRefused("consignee-no-response", "every consignee must have answered "
                              f"before termination; no answer from {', '.join(silent)}",
                              "recallState", rec.key)
    authenticate(rt, username, password, clock, purpose=f"termination of recall {rec.key}")
    at = to_utc_text(clock())
    approval = _approval(rt, rec.key, rec.iri, "terminate", user.iri, at, {})
    write_nodes(rt, [NodeUpsert(C.Recall, rec.key, rec.iri, {
        P.recallState: RecallState.TERMINATED, P.closedAt: at}), approval],
        username, reason, f"recall:{rec.key}:terminate", command=Command.TERMINATE_RECALL)
    sign(rt, approval.iri, username, password, SignatureMeaning.APPROVED, reason, clock)
    return resolve(rt, C.Recall, rec.iri)


# -- reading ------------------------------------------------------------------------------------
@dataclass
class Consignee:
    iri: str
    key: str
    name: str
    units: int
    notified_at: str | None
    method: str | None
    responded_at: str | None
    returned: list[str] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)


@dataclass
class Effectiveness:
    """How much of the recall is accounted for: units returned or corrected (distinct, in the
    frozen scope) over the affected units; consignees notified and answered."""

    units: int
    returned: int
    corrected: int
    accounted: int
    share: float | None
    consignees: list[Consignee]

    @property
    def notified(self) -> int:
        return sum(1 for c in self.consignees if c.notified_at)

    @property
    def responded(self) -> int:
        return sum(1 for c in self.consignees if c.responded_at)


def effectiveness(store: GraphStore, rec: NodeRecord) -> Effectiveness:
    notes = _notifications(store, rec.iri)
    by_note: dict[str, dict[str, set[str]]] = {}
    for e in store.links([n.iri for n in notes.values()], [R.RETURNED_UNIT, R.CORRECTED_UNIT]) \
            if notes else []:
        by_note.setdefault(e.src, {}).setdefault(e.type, set()).add(e.dst)
    keys = store.get_many(sorted({i for d in by_note.values() for s in d.values() for i in s}))
    rows: list[Consignee] = []
    returned: set[str] = set()
    corrected: set[str] = set()
    for c in scope_of(rec).get("consignees", []):
        n = notes.get(c["iri"])
        got = by_note.get(n.iri, {}) if n else {}
        ret, cor = got.get(R.RETURNED_UNIT, set()), got.get(R.CORRECTED_UNIT, set())
        returned |= ret
        corrected |= cor
        rows.append(Consignee(
            c["iri"], c["key"], c["name"], int(c["units"]),
            str(n.props[P.notifiedAt]) if n and P.notifiedAt in n.props else None,
            str(n.props.get(P.notificationMethod, "")) if n else None,
            str(n.props[P.respondedAt]) if n and P.respondedAt in n.props else None,
            sorted(keys[i].key for i in ret if i in keys),
            sorted(keys[i].key for i in cor if i in keys)))
    units = int(scope_of(rec).get("counts", {}).get("units", 0))
    accounted = len(returned | corrected)
    return Effectiveness(units, len(returned), len(corrected), accounted,
                         accounted / units if units else None, rows)


def recalls_list(store: GraphStore) -> list[NodeRecord]:
    """Every recall record, newest first."""
    return sorted(store.nodes_of_class(C.Recall),
                  key=lambda n: (str(n.props.get(P.openedAt, "")), n.key), reverse=True)


def recalled_by(store: GraphStore, iris: Sequence[str]) -> dict[str, list[str]]:
    """For each item, the record numbers of the recalls whose frozen scope holds it (the
    recalled status: a ``tg:recalls`` link, never a derivation)."""
    if not iris:
        return {}
    edges = store.links(list(iris), [R.RECALLS], Direction.DOWNSTREAM)
    recs = store.get_many(sorted({e.src for e in edges}))
    out: dict[str, list[str]] = {}
    for e in edges:
        if e.src in recs:
            out.setdefault(e.dst, []).append(recs[e.src].key)
    return {k: sorted(v) for k, v in out.items()}
