"""Document control in the sample plant's history (issue 18 item 1): revision D of the EO
sterilisation SOP (SOP-STE-070, revision C at go-live) is drafted by an engineer after the
production days, reviewed, approved by QA with an e-signature and made Effective the day after;
its training falls due 30 days later (``trainingGraceDays``). One EO operator is trained on it
at once, the others stay due — pending within the grace period, overdue after it — so the
explorer, GraphQL ``documents`` and ``tracegraph documents show SOP-STE-070/D`` show both. No
EO run of the demo starts after the revision became Effective, so nothing of the history is
refused."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.plant_catalog import PlantSize
from bench.plant_master import event, node
from bench.plant_people import StaffMember
from bench.plant_stock import DAY, HOUR
from graph.session import Session
from quality import documents as dc

__all__ = ["DocumentRevisionPlan", "document_revision_plan", "draft_event",
           "run_document_control"]

Json = dict[str, Any]
SOP, REVISION = "SOP-STE-070", "D"


@dataclass(frozen=True)
class DocumentRevisionPlan:
    key: str
    drafted: int  # seconds from T0
    author: str
    approver: str
    trainer: str
    trainee: str | None


def document_revision_plan(size: PlantSize, people: Sequence[StaffMember]
                           ) -> DocumentRevisionPlan:
    by_role = {str(p.role): p.username for p in reversed(people)}  # the first of each role
    eo = [p.username for p in people if "Q-EO" in p.qualifications]
    qa = [p.username for p in people if p.role == "qa"]
    return DocumentRevisionPlan(f"{SOP}/{REVISION}", (size.days + 1) * DAY, by_role["engineer"],
                                qa[0], qa[-1], eo[0] if eo else None)


def draft_event(plan: DocumentRevisionPlan) -> Json:
    return event(f"doc/{plan.key}/draft", plan.drafted, [node(
        "Document", plan.key, {
            "title": "Training and work standard: EO sterilisation cycle operation",
            "revision": REVISION, "documentType": "sop", "versionStatus": "Draft",
            "trainingGraceDays": 30,
            "description": "Revision D: preconditioning dwell extended; load pattern drawing "
                           "updated."}, {"wasRevisionOf": f"Document/{SOP}"})],
        actor=plan.author, reason="SOP revision drafted")


def run_document_control(at: Callable[[int], Session], plan: DocumentRevisionPlan,
                         password: str) -> None:
    t = plan.drafted
    dc.submit(at(t + HOUR), plan.key, plan.author, "revision D ready for review")
    dc.approve(at(t + 4 * HOUR), plan.key, plan.approver, password,
               "reviewed against the EO revalidation report")
    dc.make_effective(at(t + 5 * HOUR), plan.key, plan.approver, "revision D in force",
                      at=None)
    if plan.trainee:
        dc.record_training(at(t + 6 * HOUR), plan.key, plan.trainee, plan.trainer, password,
                           "read-and-understood with demonstration")
