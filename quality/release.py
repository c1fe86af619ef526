"""Batch release by exception: the batch's subgraph checked against the release rules; the
list of exceptions *is* the review report. Release requires a QA signature and is refused with
the list while it is not empty.

Rules (each exception is a :class:`graph.errors.Problem` naming the rule, the focus record, the
field and the value):

- ``operation-missing`` / ``execution-incomplete`` / ``operation-sequence`` / ``route-variant``
  / ``route-branch`` / ``operation-not-in-version``: every step of the batch's route (the pinned
  version's routing, given the batch's variant and the branch it took) executed, completed,
  started after the previous step ended; nothing off the route — the precise semantics are
  :func:`quality.route_rules.route_exceptions`;
- ``inspection-nonconforming``; ``parameter-out-of-spec`` against the pinned version's spec;
- ``bom-quantity``: the batch's total on a BOM line with a tolerance outside its bounds
  (:func:`quality.bom.bom_exceptions`);
- ``inspection-missing`` / ``inspection-sample-size``: every characteristic of the inspection
  plans of the pinned version's operations (variants not run excepted) inspected on the batch,
  on at least its sample size (:func:`quality.inspection_rules.inspection_exceptions`);
  ``excursion`` — unless a deviation raised by the finding is closed;
- ``equipment-not-calibrated`` at time of use, ``fixture-out-of-life``;
- ``operator-not-qualified`` at time of use (training record in force for the operation's
  qualification);
- ``open-deviation`` / ``active-hold`` on the batch or anything upstream of it;
- ``signature-missing``: dispositions of holds on the batch or upstream signed by QA.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from graph.authority import MIGRATED
from graph.errors import Problem
from graph.fitness import (
    calibrated_during,
    calibrations_of,
    in_window,
    training_windows,
    usage_life,
)
from graph.model import Direction, EdgeRecord, NodeRecord
from graph.port import GraphStore
from graph.session import Session, write_nodes
from graph.status import is_open_deviation
from graph.write import NodeUpsert
from ontology.authority import Command
from ontology.codes import (
    BatchStatus,
    ExecutionStatus,
    HoldState,
    InspectionOutcome,
    ReleaseOutcome,
    RoleName,
    SignatureMeaning,
)
from ontology.datatypes import Clock, to_utc_text
from ontology.terms import C, P, R
from quality.accounts import authenticate
from quality.bom import bom_exceptions
from quality.inspection_rules import inspection_exceptions
from quality.pending_reads import Committed
from quality.route_rules import MAIN, applies, branch_of, route_exceptions, variant_of
from quality.rules import RequiresSignatures
from quality.signatures import sign
from quality.workflow import (
    WorkflowRefused,
    active_holds,
    linked_from,
    open_deviations,
    require_user,
    resolve,
)

__all__ = ["ReleaseReport", "release_batch", "release_report"]

QA_APPROVED = RequiresSignatures({RoleName.QA: {SignatureMeaning.APPROVED}})


@dataclass
class ReleaseReport:
    batch: str
    key: str
    exceptions: list[Problem]
    upstream: list[str]
    #: the batch and upstream records a signed migration wrote (tg:migrated): their states came
    #: from a legacy system, not through the workflow commands — shown to the reviewer
    migrated: list[str] = field(default_factory=list)
    #: the store's watermark the report was read at (one read snapshot)
    watermark: int = 0
    #: the batch's status as read (as known at the report's watermark: issue 18 item 4)
    status: str | None = None

    @property
    def releasable(self) -> bool:
        return not self.exceptions


def _by_src(edges: Iterable[EdgeRecord]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in edges:
        out.setdefault(e.src, []).append(e.dst)
    return out


def release_report(rt: Session, batch: str) -> ReleaseReport:
    """The review-by-exception report of one batch (or sublot), read in one snapshot: every
    record it judges is the store as of the watermark it reports."""
    with rt.store.snapshot() as watermark:
        return replace(_release_report(rt, batch), watermark=watermark)


def _release_report(rt: Session, batch: str) -> ReleaseReport:
    b = resolve(rt, C.TraceableEntity, batch)
    st = rt.store
    ex: list[Problem] = []

    def add(rule: str, focus: str, field: str, value: object, message: str) -> None:
        ex.append(Problem(rule=rule, field=field, value=value, focus=focus, message=message))

    executions = linked_from(st, [b.iri], R.FOR_BATCH, C.OperationExecution)
    links = st.links(sorted(executions), [R.EXECUTES_OPERATION, R.ON_EQUIPMENT, R.USED_FIXTURE,
                                          R.WAS_ASSOCIATED_WITH])
    op_of = {e.src: e.dst for e in links if e.type == R.EXECUTES_OPERATION}
    equip_of = _by_src(e for e in links if e.type in (R.ON_EQUIPMENT, R.USED_FIXTURE))
    people_of = _by_src(e for e in links if e.type == R.WAS_ASSOCIATED_WITH)

    # operations of the pinned version, in sequence
    version = next((e.dst for e in st.links([b.iri], [R.RUNS_PROCESS_VERSION])), None)
    routing_ops: dict[str, NodeRecord] = {}
    if version is None:
        add("process-version-missing", b.iri, "runsProcessVersion", None,
            "the batch is pinned to no process version")
    else:
        routings = [e.dst for e in st.links([version], [R.HAS_ROUTING])]
        ops = [e.dst for e in st.links(routings, [R.HAS_OPERATION])] if routings else []
        routing_ops = st.get_many(ops)
    runs_of: dict[str, list[NodeRecord]] = {}
    for x, op in op_of.items():
        runs_of.setdefault(op, []).append(executions[x])
    for xn in executions.values():
        if xn.props.get(P.executionStatus) != ExecutionStatus.COMPLETED:
            add("execution-incomplete", xn.iri, "executionStatus",
                xn.props.get(P.executionStatus), f"execution {xn.key} is not completed")
        xop = op_of.get(xn.iri)
        if xop is not None and routing_ops and xop not in routing_ops:
            add("operation-not-in-version", xn.iri, "executesOperation", xop,
                f"execution {xn.key} ran an operation outside the pinned version's routing")
    variant: dict[str, str] = {}
    if routing_ops:
        layers = st.links([b.iri], [R.OF_PRODUCT, R.FOR_WORK_ORDER])
        above = st.get_many(sorted({e.dst for e in layers}))
        variant = variant_of([*(above.get(e.dst) for e in layers if e.type == R.OF_PRODUCT),
                              *(above.get(e.dst) for e in layers if e.type == R.FOR_WORK_ORDER),
                              b])
        ex += route_exceptions(b, routing_ops, runs_of, variant)

    # findings during the executions: inspections, observations, excursions
    during = linked_from(st, sorted(executions), R.DURING_EXECUTION)
    inspected = linked_from(st, [b.iri], R.INSPECTED_ENTITY, C.InspectionResult)
    findings = {**during, **inspected}
    covered = _covered(st, sorted(findings))
    specs = _by_src(st.links(sorted(i for i, n in findings.items()
                                    if n.label == C.ParameterObservation), [R.OBSERVES]))
    spec_nodes = st.get_many(sorted({s for ss in specs.values() for s in ss}))
    spec_op = {e.src: e.dst for e in st.links(sorted(spec_nodes), [R.SPEC_OF])} \
        if spec_nodes else {}
    exc_specs = _by_src(st.links(sorted(i for i, n in findings.items()
                                        if n.label == C.Excursion), [R.VIOLATES_SPEC]))
    covered_specs = {s for i, ss in exc_specs.items() if i in covered for s in ss}
    for i, n in sorted(findings.items()):
        if n.label == C.InspectionResult and \
                n.props.get(P.inspectionOutcome) == InspectionOutcome.NONCONFORMING and \
                i not in covered:
            add("inspection-nonconforming", i, "inspectionOutcome",
                InspectionOutcome.NONCONFORMING,
                f"inspection {n.key} is nonconforming")
        elif n.label == C.Excursion and i not in covered:
            add("excursion", i, "excursionLevel", n.props.get(P.excursionLevel),
                f"excursion {n.key} has no closed deviation")
        elif n.label == C.ParameterObservation:
            for s in specs.get(i, []):
                spec = spec_nodes.get(s)
                if spec is None:
                    continue
                if routing_ops and spec_op.get(s) not in routing_ops:
                    add("spec-not-pinned", i, "observes", spec.key, f"observation {n.key} is "
                        "judged against a spec outside the pinned version")
                lo, hi = spec.props.get(P.lsl), spec.props.get(P.usl)
                vmin, vmax = n.props.get(P.minValue), n.props.get(P.maxValue)
                out = (isinstance(lo, (int, float)) and isinstance(vmin, (int, float))
                       and vmin < lo) or (isinstance(hi, (int, float))
                                          and isinstance(vmax, (int, float)) and vmax > hi)
                if out and s not in covered_specs:
                    add("parameter-out-of-spec", i, "minValue" if vmin is not None and
                        isinstance(lo, (int, float)) and isinstance(vmin, (int, float))
                        and vmin < lo else "maxValue", [vmin, vmax],
                        f"{spec.props.get(P.name, spec.key)} {vmin}..{vmax} outside "
                        f"[{lo}, {hi}] of the pinned spec {spec.key}")

    # every planned characteristic inspected, on its full sample size
    planned_ops = [o for o, n in routing_ops.items()  # what ran, and the main route's steps
                   if o in runs_of or (branch_of(n) == MAIN and applies(n, variant))]
    ex += inspection_exceptions(st, b.iri, planned_ops, {
        i: n for i, n in findings.items() if n.label == C.InspectionResult})
    # what the batch consumed on each BOM line within the line's tolerance
    ex += bom_exceptions(Committed(st), b, planned_ops)

    # equipment calibrated and fixtures in life at time of use
    tools = st.get_many(sorted({t for ts in equip_of.values() for t in ts}))
    cals = calibrations_of(st, sorted(tools))
    for x, ts in sorted(equip_of.items()):
        run = executions[x]
        start = str(run.props.get(P.startedAtTime, ""))
        end = str(run.props.get(P.endedAtTime, "")) or start
        for t in ts:
            tool = tools.get(t)
            if tool is None:
                continue
            if tool.props.get(P.requiresCalibration) is True and \
                    not calibrated_during(cals.get(t, []), start, end):
                add("equipment-not-calibrated", t, "calibrationDue", tool.key,
                    f"{tool.key} had no passing calibration in force during {run.key}")
            life = usage_life(tool)
            if life is not None and life.exceeded:
                add("fixture-out-of-life", t, "usageCount", life.count,
                    f"fixture {tool.key} used {life.count} cycles, beyond its life of "
                    f"{life.limit}")

    # operators qualified at time of use
    quals = _by_src(st.links(sorted(routing_ops), [R.REQUIRES_QUALIFICATION])) \
        if routing_ops else {}
    people = sorted({p for ps in people_of.values() for p in ps})
    windows = training_windows(st, people)
    for x, ps in sorted(people_of.items()):
        run = executions[x]
        start = str(run.props.get(P.startedAtTime, ""))
        for q in quals.get(op_of.get(x, ""), []):
            for p in ps:
                if not in_window(windows.get((p, q), []), start):
                    add("operator-not-qualified", x, "wasAssociatedWith", p,
                        f"{p.rsplit('/', 1)[-1]} held no training in force for "
                        f"{q.rsplit('/', 1)[-1]} when executing {run.key}")

    # open deviations and holds on the batch or upstream; signed dispositions
    walk = st.walk([b.iri], Direction.UPSTREAM)
    upstream = sorted({i for hs in walk.by_label().values() for i in walk.iris(hs).values()}
                      | {b.iri})
    for d in open_deviations(st, upstream):
        add("open-deviation", d.iri, "deviationState", d.props.get(P.deviationState),
            f"deviation {d.key} ({d.props.get(P.deviationState)}) concerns the batch or its "
            "inputs")
    for h in active_holds(st, upstream):
        add("active-hold", h.iri, "holdState", HoldState.ACTIVE,
            f"hold {h.key} is active on the batch or its inputs")
    holds = linked_from(st, upstream, R.HOLDS, C.Hold)
    disps = linked_from(st, sorted(holds), R.RESOLVES_HOLD, C.Disposition)
    if disps:
        for d_iri, missing in QA_APPROVED.check_many(st, sorted(disps)).items():
            for m in missing:
                add("signature-missing", d_iri, m.field, m.value,
                    f"disposition {disps[d_iri].key}: {m.message}")
    moved = [n.iri for n in st.get_many(upstream).values() if n.props.get(MIGRATED) is True]
    return ReleaseReport(b.iri, b.key, ex, upstream, sorted(moved),
                         status=_status(b.props.get(P.batchStatus)))


def _covered(st: GraphStore, findings: list[str]) -> set[str]:
    """Findings explained by a closed (not open) deviation raised by them (directly or via an
    alarm)."""
    if not findings:
        return set()
    raised = st.links(findings, [R.RAISED_BY], Direction.DOWNSTREAM)
    by_alarm = st.links(sorted({e.src for e in raised}), [R.RAISED_BY], Direction.DOWNSTREAM) \
        if raised else []
    origin = {e.src: e.dst for e in raised}
    nodes = st.get_many(sorted({e.src for e in raised} | {e.src for e in by_alarm}))
    out = set()
    for e in [*raised, *by_alarm]:
        dev = nodes.get(e.src)
        if dev is not None and dev.label == C.Deviation and not is_open_deviation(dev):
            out.add(origin.get(e.dst, e.dst))
    return out


def release_batch(rt: Session, batch: str, username: str, password: str, reason: str,
                  clock: Clock | None = None) -> NodeRecord:
    """Release a batch: refused with the exception list unless it is empty; else a
    ReleaseDecision (released, 0 exceptions) signed 'released' by QA, and the batch Released."""
    clock = rt.clock if clock is None else clock
    require_user(rt, username, (RoleName.QA,), "batch release")
    report = release_report(rt, batch)
    if report.exceptions:
        raise WorkflowRefused("release-exceptions", f"{len(report.exceptions)} exception(s) "
                              "block release", "batch", report.key, report.exceptions)
    authenticate(rt, username, password, clock, purpose=f"release of {report.key}")
    key = f"REL-{report.key}"
    iri = rt.vocab.mint_iri(C.ReleaseDecision, key)
    if rt.store.get(iri) is not None:
        key = f"REL-{report.key}-{uuid.uuid4().hex[:6]}"
        iri = rt.vocab.mint_iri(C.ReleaseDecision, key)
    b = resolve(rt, C.TraceableEntity, report.batch)
    write_nodes(rt, [
        NodeUpsert(C.ReleaseDecision, key, iri, {
            P.recordNumber: key, P.releaseOutcome: ReleaseOutcome.RELEASED, P.exceptionCount: 0,
            P.decidedAt: to_utc_text(clock()), P.description: reason},
            {P.releaseOf: [b.iri]}),
        NodeUpsert(b.label, b.key, b.iri, {P.batchStatus: BatchStatus.RELEASED}
                   if b.label == C.Batch else {})],
        username, reason, f"quality:{key}:{uuid.uuid4().hex}", command=Command.RELEASE_BATCH)
    sign(rt, iri, username, password, SignatureMeaning.RELEASED, reason, clock)
    return resolve(rt, C.ReleaseDecision, iri)


def _status(value: object) -> str | None:
    return None if value is None else str(value)
