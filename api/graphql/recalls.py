"""GraphQL of recall records (issue 18 item 5): the recalls, one recall with its frozen scope,
consignee tracking, effectiveness and the 806 / NMPA report document, and the lifecycle
mutations (:mod:`quality.recalls`). The roles are checked twice: by :data:`api.auth.RULES` per
mutation and by the workflow per step (an operator is refused both ways, nothing written).

The codes (recall class, health hazard, depth, action) are strings checked by the workflow
against the ontology's code lists: a wrong one is refused naming the field, value and list.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.quality import QualityResult, _run
from api.graphql.types import Node, as_json, runtime_of, user_of
from graph.model import NodeRecord
from graph.port import GraphStore
from ontology.codes import RecallState
from ontology.terms import C, P
from quality import recalls as rc
from quality.recall_report import recall_report
from quality.workflow import WorkflowRefused, resolve

__all__ = ["Mutation", "Query", "RecallRecord"]


@strawberry.type
class ConsigneeStatus:
    customer: str
    name: str
    units: int
    notified_at: str | None
    method: str | None
    responded_at: str | None
    returned: list[str]
    corrected: list[str]


@strawberry.type
class RecallEffectiveness:
    units: int
    returned: int
    corrected: int
    accounted: int
    share: float | None = strawberry.field(description="Share of the affected units "
                                                       "accounted for (returned or corrected).")
    notified: int
    responded: int
    consignees: list[ConsigneeStatus]


@strawberry.type
class RecallRecord:
    record: Node
    key: str
    state: str
    recall_class: str
    health_hazard: str
    depth: str
    action: str
    scope_watermark: int
    scope: JSON = strawberry.field(description="The frozen scope summary (counts, lots, "
                                               "consignees, products, dates).")
    _store: strawberry.Private[GraphStore]
    _rec: strawberry.Private[NodeRecord]

    @classmethod
    def of(cls, store: GraphStore, n: NodeRecord) -> RecallRecord:
        p = n.props
        return cls(record=Node.of(n), key=n.key, state=str(p.get(P.recallState, "")),
                   recall_class=str(p.get(P.recallClass, "")),
                   health_hazard=str(p.get(P.healthHazard, "")),
                   depth=str(p.get(P.recallDepth, "")), action=str(p.get(P.recallAction, "")),
                   scope_watermark=int(p.get(P.scopeWatermark, 0) or 0),  # type: ignore[arg-type]  # tg:scopeWatermark is an xsd:integer property
                   scope=as_json(rc.scope_of(n)), _store=store, _rec=n)

    @strawberry.field(description="Consignees notified and answered, units accounted for.")
    def effectiveness(self) -> RecallEffectiveness:
        e = rc.effectiveness(self._store, self._rec)
        return RecallEffectiveness(
            units=e.units, returned=e.returned, corrected=e.corrected, accounted=e.accounted,
            share=e.share, notified=e.notified, responded=e.responded,
            consignees=[ConsigneeStatus(customer=c.key, name=c.name, units=c.units,
                                        notified_at=c.notified_at, method=c.method,
                                        responded_at=c.responded_at, returned=c.returned,
                                        corrected=c.corrected) for c in e.consignees])

    @strawberry.field(description="The data of a 21 CFR 806.10 report and an NMPA recall "
                                  "report, bilingual field names (quality/recall_report.py).")
    def report(self) -> JSON:
        return as_json(recall_report(self._store, self._rec.iri))


@strawberry.type
class Query:
    @strawberry.field(description="Recall records, newest first.")
    def recalls(self, info: Info[Any, None]) -> list[RecallRecord]:
        store = runtime_of(info).store
        return [RecallRecord.of(store, n) for n in rc.recalls_list(store)]

    @strawberry.field(description="One recall record by IRI or record number; null when none.")
    def recall_record(self, info: Info[Any, None], id: str) -> RecallRecord | None:
        rt = runtime_of(info)
        try:
            return RecallRecord.of(rt.store, resolve(rt, C.Recall, id))
        except WorkflowRefused:
            return None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Initiate a recall (QA, signed 'approved'): the scope is "
                                     "everything downstream of the seeds, frozen now.")
    def initiate_recall(self, info: Info[Any, None], key: str, seeds: list[str],
                        recall_class: str, health_hazard: str, depth: str, action: str,
                        hypothesis: str, title: str, password: str,
                        reason: str) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: rc.initiate_recall(
            rt, user_of(info).username, password, key, seeds, recall_class, health_hazard,
            depth, action, hypothesis, title, reason), state=RecallState.INITIATED)

    @strawberry.mutation(description="Record a consignee's notification (QA or QC).")
    def notify_recall_customer(self, info: Info[Any, None], recall: str, customer: str,
                               method: str, reason: str) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: rc.notify_customer(rt, user_of(info).username, recall, customer,
                                               method, reason))

    @strawberry.mutation(description="Record a consignee's response and the units it returned "
                                     "or had corrected (QA or QC).")
    def record_recall_response(self, info: Info[Any, None], recall: str, customer: str,
                               note: str, reason: str, returned: list[str] | None = None,
                               corrected: list[str] | None = None) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: rc.record_response(rt, user_of(info).username, recall, customer,
                                               note, reason, returned or [], corrected or []))

    @strawberry.mutation(description="Start the effectiveness checks of a recall (QA).")
    def start_recall_checks(self, info: Info[Any, None], recall: str,
                            reason: str) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: rc.start_checks(rt, user_of(info).username, recall, reason),
                    state=RecallState.EFFECTIVENESS_CHECKS)

    @strawberry.mutation(description="Terminate a recall once every consignee answered (QA, "
                                     "signed 'approved').")
    def terminate_recall(self, info: Info[Any, None], recall: str, password: str,
                         reason: str) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: rc.terminate_recall(rt, user_of(info).username, password, recall,
                                                reason), state=RecallState.TERMINATED)
