"""The sample plant built through the workflow commands (what ``tracegraph demo`` loads).

:func:`workflow_steps` turns the generator's history into typed steps, in load order:

- :class:`GoLive` — the state at go-live (site, rooms, documents, qualifications, suppliers with
  their approved status, materials, products, equipment and calibrations, process definitions
  with the versions then Effective, training records, customers): one admin-signed migration
  (:data:`GO_LIVE`), so these records — and only these — are marked migrated;
- :class:`Account` — each of the plant's staff is a real account
  (:func:`quality.accounts.create_user`, role and qualifications), so every command below is
  authenticated and signed by the named person;
- :class:`Fact` — what people and machines record (receipts into quarantine, batches,
  executions, consumptions, observations, inspections, units, cases, calibrations,
  maintenance, shipments, the draft of CATH-ASSY v2), captured by the in-process loader with
  the event's actor, in event-time order;
- :class:`LotDecision` — incoming inspection: :func:`quality.lots.decide_lot` by the QC
  inspector; :class:`~bench.plant_exec.BatchRelease` — :func:`quality.release.release_batch` by
  QA (re-authenticated, signed 'released'), before the batch's shipments; a batch the generator
  leaves Completed because it is held stays unreleased;
- :class:`ChangeControl` — CR-2026-0007 through :mod:`quality.change_control`: proposed,
  assessed, approved (and signed) by each approver, made effective at its day;
- :class:`Quality` — the quality phase (:mod:`bench.plant_quality`): the supplier's notice
  (``openDeviation``, ``placeHold`` on the lot and every batch made with it, ``assessImpact``)
  and the UV-dose excursion (``openDeviation`` raised by the alarm, ``placeHold`` on the
  batch, ``assessImpact``, ``recordRootCause``, ``openCapa``, ``addCapaAction``,
  ``completeCapaAction``; the corrective maintenance is a fact), by the named QC lead, QA and
  maintenance technician, at the story's times;
- :class:`Legacy` — what no command writes: the excursion's Excursion and Alarm (the live
  signal pipeline, :mod:`quality.exception_loop`, is the only writer of these, from a live
  sample; the exception loop would also raise its own deviation and hold on every lot consumed
  in the execution, which is not this story): a second signed migration with its own reason
  (:data:`LEGACY`).

Each command runs in a session whose clock is the step's event time, so ``decidedAt``,
``signedAt``, ``openedAt`` and ``effectiveFrom`` read as the plant lived them; the audit trail
keeps the real recording time.

:func:`load_workflow` executes the steps: consecutive captures of one kind are packed into
documents of at most :data:`bench.plant.MAX_EVENTS` events.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bench.plant import INCOMING_INSPECTION, MAX_EVENTS, MAX_ITEMS, _size, receipt_event
from bench.plant_documents import (
    DocumentRevisionPlan,
    document_revision_plan,
    draft_event,
    run_document_control,
)
from bench.plant_exec import BatchRelease, Production
from bench.plant_master import (
    ADMIN,
    ChangeRequestPlan,
    change_request_plan,
    draft_version_event,
    event,
    master_events,
    training_records,
)
from bench.plant_people import StaffMember, staff
from bench.plant_quality import ExcursionCase, SupplierCase, quality_cases, run_case
from bench.plant_shipping import shipping_events
from bench.plant_sim import Planner
from bench.plant_stock import DAY, HOUR, T0, Receipt
from graph.authority import Migration
from graph.port import GraphStore
from graph.session import Session
from graph.write import Writer
from ontology.codes import MaterialLotStatus, RoleName
from ontology.datatypes import Clock
from ontology.vocab import Vocabulary
from quality.accounts import begin_migration, create_user
from quality.change_control import approve, assess, make_effective, propose
from quality.lots import decide_lot
from quality.release import release_batch
from quality.sampling import plan_for
from quality.suppliers import inspect_incoming_lot
from tracegraph.runtime import Runtime

__all__ = ["GO_LIVE", "LEGACY", "Account", "ChangeControl", "Fact", "GoLive", "IncomingRejection",
           "Legacy", "LotDecision", "Quality", "Step", "load_workflow", "workflow_steps"]

Json = dict[str, Any]
GO_LIVE = "state at go-live, migrated from the legacy system"
LEGACY = ("excursion and alarm records of the run, migrated from the legacy system: only the "
          "live signal pipeline writes them")


@dataclass(frozen=True)
class GoLive:
    event: Json


@dataclass(frozen=True)
class Fact:
    event: Json


@dataclass(frozen=True)
class Legacy:
    event: Json


@dataclass(frozen=True)
class Quality:
    case: ExcursionCase | SupplierCase


@dataclass(frozen=True)
class Account:
    person: StaffMember


@dataclass(frozen=True)
class LotDecision:
    lot: str
    inspector: str
    at: int
    reason: str


@dataclass(frozen=True)
class IncomingRejection:
    """Issue 18 item 2: one extra receipt fails its ISO 2859-1 incoming inspection (AQL 1.0,
    level II, as many nonconforming items as the plan's rejection number) and is Rejected —
    never consumed, counted on its supplier's scorecard."""

    lot: str
    inspector: str
    at: int
    lot_size: int


@dataclass(frozen=True)
class ChangeControl:
    plan: ChangeRequestPlan


@dataclass(frozen=True)
class DocumentControl:  # issue 18 item 1
    plan: DocumentRevisionPlan


Step = (GoLive | Fact | Legacy | Account | LotDecision | BatchRelease | ChangeControl
        | Quality | DocumentControl | IncomingRejection)


def workflow_steps(size: str = "demo", seed: int = 7) -> Iterator[Step]:
    """The plant's history as typed steps, in load order (see the module docstring)."""
    plant = _size(size)
    prod = Production(plant, seed, workflow=True)
    people = staff(plant, seed)
    for ev in master_events(plant, seed, go_live=True):
        yield GoLive(ev)
    for p in people:
        yield Account(p)
    training = [n for ns in training_records(plant, seed).values() for n in ns]
    yield GoLive(event("md/training", -90 * DAY + 3 * HOUR, training, actor=ADMIN,
                       reason="training records"))
    yield GoLive(prod.calibration_event)
    plan = change_request_plan(plant, people)
    yield Fact(draft_version_event(plant, plan.process, plan.proposed, plan.opened - HOUR,
                                   plan.raised_by))
    yield ChangeControl(plan)
    inspectors = prod.qc
    for _day, receipts, _batches in Planner(plant, seed).days():
        for i, r in enumerate(receipts):
            yield Fact(receipt_event(r))
            yield LotDecision(r.key, inspectors[i % len(inspectors)], r.approved,
                              INCOMING_INSPECTION)
    # one receipt more than the plan needs, rejected at incoming inspection (issue 18 item 2)
    extra = Receipt(f"{r.key[:-1]}X", r.material, f"{r.supplier_lot}X", r.quantity,
                    r.received + HOUR, r.approved + HOUR, r.expiry)
    yield Fact(receipt_event(extra))
    yield IncomingRejection(extra.key, inspectors[0], extra.approved,
                            max(2, int(extra.quantity)))
    for s in prod.steps():
        yield s if isinstance(s, BatchRelease) else Fact(s)
    for ev in shipping_events(prod):
        yield Fact(ev)
    for case in quality_cases(prod):
        if isinstance(case, ExcursionCase):
            yield Legacy(case.signal_event())
            yield Fact(case.maintenance_event())
        yield Quality(case)
    docs = document_revision_plan(plant, people)  # issue 18 item 1: an SOP revision
    yield Fact(draft_event(docs))
    yield DocumentControl(docs)


@dataclass
class _At:
    """A session whose clock is an event time of the plant (a :class:`graph.session.Session`)."""

    store: GraphStore
    vocab: Vocabulary
    writer: Writer
    clock: Clock


def _at(rt: Session, sec: int) -> Session:
    when = T0 + timedelta(seconds=sec)
    return _At(rt.store, rt.vocab, rt.writer, lambda: when)


@dataclass
class _Loader:
    rt: Runtime
    admin: str
    password: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("events", "nodes", "edges", "commands"), 0))
    _kind: type | None = None
    _events: list[Json] = field(default_factory=list)
    _items: int = 0
    _migrations: dict[type, Migration] = field(default_factory=dict)

    def capture(self, kind: type, ev: Json) -> None:
        """Pack ``ev`` into the pending document (one kind, bounded like bench.plant's)."""
        n = len(ev.get("nodes", ())) + len(ev.get("derivations", ()))
        if self._events and (kind is not self._kind or len(self._events) >= MAX_EVENTS
                             or self._items + n > MAX_ITEMS):
            self.flush()
        self._kind = kind
        self._events.append(ev)
        self._items += n

    def flush(self) -> None:
        if not self._events:
            return
        kind, events = self._kind, self._events
        self._events, self._items = [], 0
        migration = None
        if kind in (GoLive, Legacy):
            migration = self._migrations.get(kind)
            if migration is None:
                migration = self._migrations[kind] = begin_migration(
                    self.rt, self.admin, self.password, GO_LIVE if kind is GoLive else LEGACY)
        r = self.rt.capture({"format": "tracegraph.capture/1", "source": "bench.plant workflow",
                             "events": events}, migration=migration)
        self.counts["events"] += r.events_written
        self.counts["nodes"] += r.nodes_created
        self.counts["edges"] += r.edges_created

    def run(self, step: Step) -> None:
        if isinstance(step, GoLive | Fact | Legacy):
            self.capture(type(step), step.event)
            return
        self.flush()
        self.counts["commands"] += 1
        rt, pw = self.rt, self.password
        if isinstance(step, Account):
            p = step.person
            create_user(rt, p.username, pw, [p.role], p.name, self.admin,
                        f"plant staff account: {p.title}", employee_code=p.key,
                        qualifications=[rt.vocab.mint_iri("Qualification", q)
                                        for q in p.qualifications])
        elif isinstance(step, LotDecision):
            decide_lot(_at(rt, step.at), step.lot, MaterialLotStatus.APPROVED, step.inspector,
                       pw, step.reason)
        elif isinstance(step, IncomingRejection):
            found = plan_for(step.lot_size, "1.0").reject
            inspect_incoming_lot(_at(rt, step.at), step.lot, step.lot_size, "1.0", found,
                                 step.inspector, pw, f"incoming inspection: {found} "
                                 "nonconforming in the sample (AQL 1.0, level II): rejected")
        elif isinstance(step, BatchRelease):
            release_batch(_at(rt, step.at), step.batch, step.qa, pw, step.reason)
        elif isinstance(step, Quality):
            run_case(lambda sec: _at(rt, sec), step.case, pw)
        elif isinstance(step, DocumentControl):
            run_document_control(lambda sec: _at(rt, sec), step.plan, pw)
        else:
            self.change_control(step.plan)

    def change_control(self, plan: ChangeRequestPlan) -> None:
        rt, v = self.rt, self.rt.vocab
        base = v.mint_iri("ProcessVersion", f"{plan.process}/{plan.base}")
        proposed = v.mint_iri("ProcessVersion", f"{plan.process}/{plan.proposed}")
        cr = propose(_at(rt, plan.opened), plan.number, plan.title, plan.description, base,
                     proposed, plan.raised_by)
        assess(_at(rt, plan.opened + HOUR), cr, plan.raised_by)
        for role, user, at in plan.approvals:
            approve(_at(rt, at), cr, user, self.password, role,
                    f"{plan.number} reviewed: validation report and impact accepted ({role})")
        qa = next(u for r, u, _at_ in plan.approvals if r == RoleName.QA)
        make_effective(_at(rt, plan.effective), cr, qa)


def load_workflow(rt: Runtime, admin: str, password: str, size: str = "demo",
                  seed: int = 7) -> dict[str, int]:
    """Load the plant through the workflow commands; ``admin`` (an administrator account)
    signs the migrations and creates the staff accounts, every account gets ``password``.
    Returns counts (events, nodes, edges written by capture; commands run)."""
    loader = _Loader(rt, admin, password)
    for step in workflow_steps(size, seed):
        loader.run(step)
    loader.flush()
    if size == "demo":  # the drifting extruder (issue 17 item 2): pipeline and commands
        from bench.plant_health import load_health
        loader.counts.update(load_health(rt, size, seed))
    return loader.counts
