"""GraphQL root fields of supplier quality (issue 18 item 2): suppliers with their approved
supplier list entries, the list itself, the supplier scorecard for a period, corrective action
requests (SCAR); mutations for the ASL entry (QA), the incoming inspection of a lot in quarantine
(QC or QA) and the SCAR lifecycle. Each mutation runs the workflow command of
:mod:`quality.suppliers` and answers with a ``QualityResult`` (``ok``, or the problems that
refused it: nothing is written then).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.enums import InspectionLevel, SupplierStatus
from api.graphql.quality import QualityResult, _run
from api.graphql.types import runtime_of, user_of
from graph.model import NodeRecord
from graph.port import GraphStore
from ontology.codes import SupplierStatus as SupplierStatusCode
from ontology.datatypes import to_utc_text
from ontology.terms import C, P, R
from quality import suppliers as sup_mod
from quality.supplier_scorecard import scorecard
from quality.workflow import WorkflowRefused, linked_from, resolve

__all__ = ["AslEntry", "Mutation", "Query", "Scar", "Scorecard", "Supplier"]


def _text(n: NodeRecord, prop: str) -> str | None:
    v = n.props.get(prop)
    return None if v is None else str(v)


@strawberry.type(description="An entry of the approved supplier list: one supplier approved "
                             "(or conditional, or disqualified) for one material.")
class AslEntry:
    key: str
    supplier: str = strawberry.field(description="The supplier's IRI.")
    material: str = strawberry.field(description="The material's IRI.")
    status: str
    scope: str | None
    approved_until: str | None

    @classmethod
    def of(cls, e: sup_mod.AslEntry) -> AslEntry:
        return cls(key=e.key, supplier=e.supplier, material=e.material, status=e.status,
                   scope=e.scope, approved_until=e.until)


@strawberry.type
class Supplier:
    iri: str
    key: str
    name: str | None
    status: str | None = strawberry.field(description="The supplier's own qualification.")
    approvals: list[AslEntry]


@strawberry.type(description="A supplier's scorecard for the period [start, end), computed from "
                             "the graph (lots received and rejected, deviations traced to it "
                             "by genealogy, SCARs on time).")
class Scorecard:
    supplier: str
    key: str
    start: str
    end: str
    lots_received: list[str]
    lots_rejected: list[str]
    rejection_rate: float | None
    deviations: list[str]
    scars_on_time: list[str]
    scars_late: list[str]
    scars_pending: list[str]
    scar_on_time_rate: float | None


@strawberry.type(description="A supplier corrective action request.")
class Scar:
    iri: str
    key: str
    state: str | None
    supplier: str | None
    title: str | None
    due_date: str | None
    opened_at: str | None
    closed_at: str | None
    response: str | None
    deviations: list[str]
    capas: list[str]

    @classmethod
    def of(cls, n: NodeRecord, store: GraphStore) -> Scar:
        out: dict[str, list[str]] = {}
        for e in store.links([n.iri], [R.REQUESTED_OF, R.RAISED_BY, R.FOR_CAPA]):
            out.setdefault(e.type, []).append(e.dst)
        keys = {i: x.key for i, x in store.get_many(
            [d for ds in out.values() for d in ds]).items()}
        return cls(iri=n.iri, key=n.key, state=_text(n, P.scarState),
                   supplier=next((keys.get(s, s) for s in out.get(R.REQUESTED_OF, [])), None),
                   title=_text(n, P.title_), due_date=_text(n, P.dueDate),
                   opened_at=_text(n, P.openedAt), closed_at=_text(n, P.closedAt),
                   response=_text(n, P.supplierResponse),
                   deviations=sorted(keys.get(d, d) for d in out.get(R.RAISED_BY, [])),
                   capas=sorted(keys.get(c, c) for c in out.get(R.FOR_CAPA, [])))


def _ref(rt: Any, cls: str, ref: str) -> str | None:
    try:
        return resolve(rt, cls, ref).iri
    except WorkflowRefused:
        return None


@strawberry.type
class Query:
    @strawberry.field(description="Suppliers with their qualification and approved supplier "
                                  "list entries.")
    def suppliers(self, info: Info[Any, None]) -> list[Supplier]:
        store = runtime_of(info).store
        entries = sup_mod.approved_supplier_list(store)
        return [Supplier(iri=s.iri, key=s.key, name=_text(s, P.name), status=_text(
            s, P.supplierStatus), approvals=[AslEntry.of(e) for e in entries
                                             if e.supplier == s.iri])
            for s in store.nodes_of_class(C.Supplier)]

    @strawberry.field(description="The approved supplier list, optionally of one supplier or "
                                  "material (IRI or key).")
    def approved_supplier_list(self, info: Info[Any, None], supplier: str | None = None,
                               material: str | None = None) -> list[AslEntry]:
        rt = runtime_of(info)
        s = _ref(rt, C.Supplier, supplier) if supplier else None
        m = _ref(rt, C.Material, material) if material else None
        if (supplier and s is None) or (material and m is None):
            return []
        return [AslEntry.of(e) for e in sup_mod.approved_supplier_list(rt.store, s, m)]

    @strawberry.field(description="A supplier's scorecard for [start, end) (ISO dates or UTC "
                                  "times); SCAR lateness judged now.")
    def supplier_scorecard(self, info: Info[Any, None], supplier: str, start: str,
                           end: str) -> Scorecard | None:
        rt = runtime_of(info)
        iri = _ref(rt, C.Supplier, supplier)
        if iri is None:
            return None
        c = scorecard(rt.store, iri, start, end, to_utc_text(datetime.now(UTC)))
        return Scorecard(supplier=c.supplier, key=c.key, start=c.start, end=c.end,
                         lots_received=c.lots_received, lots_rejected=c.lots_rejected,
                         rejection_rate=c.rejection_rate, deviations=c.deviations,
                         scars_on_time=c.scars_on_time, scars_late=c.scars_late,
                         scars_pending=c.scars_pending, scar_on_time_rate=c.scar_on_time_rate)

    @strawberry.field(description="A supplier corrective action request by IRI or key.")
    def scar(self, info: Info[Any, None], id: str) -> Scar | None:
        rt = runtime_of(info)
        try:
            return Scar.of(resolve(rt, C.SupplierCorrectiveAction, id), rt.store)
        except WorkflowRefused:
            return None

    @strawberry.field(description="The corrective action requests of a supplier (IRI or key).")
    def scars(self, info: Info[Any, None], supplier: str) -> list[Scar]:
        rt = runtime_of(info)
        iri = _ref(rt, C.Supplier, supplier)
        if iri is None:
            return []
        found = linked_from(rt.store, [iri], R.REQUESTED_OF, C.SupplierCorrectiveAction)
        return [Scar.of(n, rt.store) for n in sorted(found.values(), key=lambda n: n.key)]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Set the approved supplier list entry of a supplier for a "
                                     "material: status, scope, last valid day (QA, "
                                     "re-authenticated).")
    def approve_supplier_material(self, info: Info[Any, None], supplier: str, material: str,
                                  status: SupplierStatus, password: str, reason: str,
                                  scope: str | None = None,
                                  approved_until: str | None = None) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: resolve(rt, C.SupplierApproval, sup_mod.approve_supplier_material(
            rt, supplier, material, SupplierStatusCode(status), user_of(info).username,
            password, reason, scope, approved_until)), state=status)

    @strawberry.mutation(description="Inspect a lot in quarantine with the ISO 2859-1 single "
                                     "sampling plan for its lot size, AQL and level; the lot "
                                     "is approved or rejected by the verdict (QC or QA, "
                                     "re-authenticated).")
    def inspect_incoming_lot(self, info: Info[Any, None], lot: str, lot_size: int, aql: float,
                             nonconforming: int, password: str, reason: str,
                             level: InspectionLevel = InspectionLevel.GII) -> QualityResult:
        rt = runtime_of(info)

        def step() -> NodeRecord:
            iri, _plan, _accepted = sup_mod.inspect_incoming_lot(
                rt, lot, lot_size, aql, nonconforming, user_of(info).username, password,
                reason, level)
            return resolve(rt, C.IncomingInspection, iri)
        return _run(step)

    @strawberry.mutation(description="Issue a corrective action request to a supplier, raised "
                                     "by deviations and serving CAPAs (QA, QC or engineer).")
    def issue_scar(self, info: Info[Any, None], key: str, supplier: str, title: str,
                   description: str, due_date: str, reason: str,
                   deviations: list[str] | None = None,
                   capas: list[str] | None = None) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: sup_mod.issue_scar(
            rt, key, supplier, title, description, due_date, user_of(info).username, reason,
            deviations or [], capas or []))

    @strawberry.mutation(description="Record the supplier's response to a SCAR (QA, QC or "
                                     "engineer).")
    def record_scar_response(self, info: Info[Any, None], scar: str, response: str,
                             reason: str) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: sup_mod.record_scar_response(
            rt, scar, response, user_of(info).username, reason))

    @strawberry.mutation(description="Close a responded SCAR after verification, or cancel an "
                                     "open one (QA, re-authenticated).")
    def close_scar(self, info: Info[Any, None], scar: str, password: str, reason: str,
                   cancel: bool = False) -> QualityResult:
        rt = runtime_of(info)
        return _run(lambda: sup_mod.close_scar(
            rt, scar, user_of(info).username, password, reason, cancel))
