"""A migration stage: its dry run, its load, its reconciliation and its rollback.

- :func:`dry_run` writes nothing: the rows go through the mapping, the capture translation and
  the Writer (authority table, guards, shapes) inside a transaction that is rolled back; rows
  whose events the Writer refuses are set aside and the rest checked again, so the report lists
  every problem of every row, each as the Writer words it, with file, row and column.
- :func:`apply` loads the whole stage as one migration batch in one transaction (all or
  nothing), as an administrator's signed, reasoned migration: the Writer marks every record
  ``migrated`` and with the stage id.
- :func:`verify` reconciles the source files with the graph: records per class, every mapped
  value of every record, sums of every numeric property, derivations and quantities per lot.
- :func:`rollback` removes the stage (:mod:`graph.retract`), audited, refused once in use.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graph.authority import MIGRATION_STAGE, Migration
from graph.errors import Problem, WriteRejectedError
from graph.retract import RetractResult, retract_stage
from graph.schema import DERIVATION
from graph.session import Session
from graph.write import WriteEvent, WriteResult
from ingest.capture import FORMAT, parse_document, to_write_events
from ingest.migration.mapping import Mapping, plan_problems
from ingest.migration.rows import Finding, RowEvents, build_events, find_column
from ingest.migration.source import Source, sha256_of
from ontology.vocab import Vocabulary

__all__ = ["Check", "Reconciliation", "StageRefusedError", "StageReport", "apply", "dry_run",
           "plan", "rollback", "verify"]

_MAX_PASSES = 8


@dataclass
class StageReport:
    stage: str
    mapping: dict[str, str]
    sources: list[dict[str, Any]]
    rows: int = 0
    rows_ok: int = 0
    records: dict[str, int] = field(default_factory=dict)  # would be / were created, per class
    derivations: int = 0
    problems: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # the shapes' warnings (they do not block)
    seconds: dict[str, float] = field(default_factory=dict)
    written: WriteResult | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "mapping": self.mapping, "sources": self.sources,
                "rows": self.rows, "rowsOk": self.rows_ok, "records": self.records,
                "derivations": self.derivations, "ok": self.ok, "seconds": self.seconds,
                "warnings": self.warnings,
                "problems": [p.as_dict() for p in self.problems]}


class StageRefusedError(ValueError):
    """The stage was not loaded: ``report.problems`` names every problem; nothing was written."""

    def __init__(self, report: StageReport) -> None:
        self.report = report
        super().__init__(f"migration stage {report.stage} refused: {len(report.problems)} "
                         "problem(s); nothing was written")


def plan(rt: Session, m: Mapping, sources: Sequence[Source]) -> list[Problem]:
    """The mapping checked against the ontology and the sources' headers (reads no rows)."""
    out: list[Problem] = []
    for s in sources:
        out.extend(p for p in plan_problems(m, rt.vocab, s.columns())
                   if p not in out)
    return out if sources else plan_problems(m, rt.vocab)


def _report(m: Mapping, sources: Sequence[Source], stage: str) -> StageReport:
    return StageReport(stage, {"path": str(m.path), "sha256": sha256_of(m.path)},
                       [{"path": str(s.path), "sha256": sha256_of(s.path)} for s in sources])


def _build(rt: Session, m: Mapping, sources: Sequence[Source], stage: str,
           report: StageReport) -> RowEvents:
    t0 = time.perf_counter()
    problems = plan(rt, m, sources)
    if problems:
        report.problems = [Finding.of(p) for p in problems]
        raise StageRefusedError(report)
    built = RowEvents()
    for s in sources:
        before = built.rows
        build_events(m, stage, s.name, s.rows(), built)
        next(x for x in report.sources if x["path"] == str(s.path))["rows"] = built.rows - before
    report.rows = built.rows
    report.problems.extend(built.findings)
    report.seconds["read"] = time.perf_counter() - t0
    return built


def _findings(m: Mapping, vocab: Vocabulary, built: RowEvents, problems: list[Problem],
              who: dict[str, list[str]]) -> tuple[list[Finding], set[str]]:
    """The Writer's (or the capture translation's) problems named by file, row and column, and
    the events to set aside."""
    ids = [e["eventId"] for e in built.events]
    out: list[Finding] = []
    drop: set[str] = set()
    for p in problems:
        eids: list[str] = []
        spec: int | None = None
        prop = p.field.rsplit(".", 1)[-1]
        if p.field.startswith("events."):  # the capture translation's path into the document
            parts = p.field.split(".")
            eid = ids[int(parts[1])]
            eids = [eid]
            if parts[2] == "nodes" and len(parts) > 3:
                specs = built.specs.get(eid, [])
                spec = specs[int(parts[3])] if int(parts[3]) < len(specs) else None
                prop = parts[5] if len(parts) > 5 else parts[4]
        elif p.event_id in built.origin:
            eids = [p.event_id]
        elif p.focus is not None and p.focus in who:
            eids = who[p.focus]
        if prop.isupper() and prop in vocab.relationship_types:  # a relationship type: its property
            prop = vocab.rel(prop).name
        cls = (p.focus or "").split("/id/", 1)[-1].split("/", 1)[0] or None
        where = built.origin.get(eids[0]) if eids else None
        column = find_column(m, spec, cls, prop)
        if column is None and p.event_id in built.origin and m.derivations:
            column = find_column(m, None, None, "input")  # a plant rule on what it consumed
        out.append(Finding.of(p, where[0] if where else None, where[1] if where else None,
                              column))
        drop.update(eids)
    return out, drop


def _events(rt: Session, m: Mapping, built: RowEvents, migration: Migration,
            dry: bool) -> tuple[list[WriteEvent], list[Finding], WriteResult | None]:
    """Translate and write (or dry-run) the built events; in a dry run, set refused rows
    aside and check the rest again until they pass."""
    findings: list[Finding] = []
    for _ in range(_MAX_PASSES):
        who: dict[str, list[str]] = defaultdict(list)  # record → the events that write it
        try:
            doc = parse_document({"format": FORMAT, "events": built.events})
            events = to_write_events(doc, rt.vocab, migration.admin, migration=migration)
            for ev in events:
                for n in ev.nodes:
                    who[n.iri].append(ev.event_id)
                for d in ev.derivations:
                    who[d.output].append(ev.event_id)
            result = rt.writer.apply(events, dry_run=dry)
            return events, findings, result
        except WriteRejectedError as e:
            found, drop = _findings(m, rt.vocab, built, e.problems, who)
            findings.extend(found)
            if not dry or not drop:
                return [], findings, None
            built.events = [ev for ev in built.events if ev["eventId"] not in drop]
    return [], findings, None


def _count(events: Sequence[WriteEvent], report: StageReport) -> None:
    seen: dict[str, str] = {}
    for ev in events:
        for n in ev.nodes:
            seen[n.iri] = n.cls
    report.records = dict(sorted(Counter(seen.values()).items()))
    report.derivations = sum(len(ev.derivations) for ev in events)
    report.rows_ok = len(events)


def dry_run(rt: Session, m: Mapping, sources: Sequence[Source], stage: str,
            migration: Migration | None = None) -> StageReport:
    """Everything :func:`apply` would do and every problem it would meet; writes nothing."""
    report = _report(m, sources, stage)
    try:
        built = _build(rt, m, sources, stage, report)
    except StageRefusedError as e:
        return e.report
    t0 = time.perf_counter()
    mig = migration or Migration("dry-run", "dry run", stage)
    events, found, result = _events(rt, m, built, Migration(mig.admin, mig.reason, stage),
                                    dry=True)
    report.problems.extend(found)
    report.warnings = [] if result is None else [
        f"{w.severity} {w.focus} {w.path}: {w.message}" for w in result.warnings]
    _count(events, report)
    report.seconds["check"] = time.perf_counter() - t0
    return report


def apply(rt: Session, m: Mapping, sources: Sequence[Source], migration: Migration
          ) -> StageReport:
    """Load the stage ``migration.stage`` in one transaction, or raise
    :class:`StageRefusedError` (nothing written). ``migration`` comes from
    :func:`quality.accounts.begin_migration` (an administrator, re-authenticated, with a
    reason)."""
    if not migration.stage:
        raise ValueError("a staged migration needs a stage id")
    report = _report(m, sources, migration.stage)
    built = _build(rt, m, sources, migration.stage, report)
    if report.problems:
        raise StageRefusedError(report)
    t0 = time.perf_counter()
    events, found, result = _events(rt, m, built, migration, dry=False)
    report.seconds["write"] = time.perf_counter() - t0
    if found or result is None:
        report.problems.extend(found)
        raise StageRefusedError(report)
    _count(events, report)
    report.written = result
    return report


@dataclass(frozen=True)
class Check:
    what: str
    source: float
    graph: float

    @property
    def ok(self) -> bool:
        return abs(self.source - self.graph) <= 1e-9 * max(1.0, abs(self.source))


@dataclass
class Reconciliation:
    stage: str
    checks: list[Check] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)  # record by record (the first 50)
    mismatch_count: int = 0
    rows: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.mismatch_count == 0 and all(c.ok for c in self.checks)

    def miss(self, text: str) -> None:
        self.mismatch_count += 1
        if len(self.mismatches) < 50:
            self.mismatches.append(text)


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def verify(rt: Session, m: Mapping, sources: Sequence[Source], stage: str) -> Reconciliation:
    """Reconcile the source files with the records of ``stage`` in the graph."""
    t0 = time.perf_counter()
    rec = Reconciliation(stage)
    report = _report(m, sources, stage)
    built = _build(rt, m, sources, stage, report)
    rec.rows = built.rows
    for f in built.findings:
        rec.miss(f"{f.file} row {f.row}: not loadable ({f.rule}: {f.message})")
    doc = parse_document({"format": FORMAT, "events": built.events})
    events = to_write_events(doc, rt.vocab, "verify", migration=Migration("verify", "", stage))
    want: dict[str, tuple[str, dict[str, Any]]] = {}
    for ev in events:
        for n in ev.nodes:
            props = want.setdefault(n.iri, (n.cls, {}))[1]
            props.update(n.props)
    stored = {n.iri: n for n in rt.store.find(stage, MIGRATION_STAGE)}
    classes = sorted({c for c, _ in want.values()} | {n.label for n in stored.values()})
    for cls in classes:
        rec.checks.append(Check(f"records of {cls}", sum(1 for c, _ in want.values() if c == cls),
                                sum(1 for n in stored.values() if n.label == cls)))
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for iri, (cls, props) in sorted(want.items()):
        node = stored.get(iri)
        if node is None:
            rec.miss(f"{cls} {iri}: in the source, not in the graph")
            continue
        for k, v in props.items():
            got = node.props.get(k)
            if _num(v) is not None:
                sums[(cls, k)][0] += float(v)
                sums[(cls, k)][1] += _num(got) or 0.0
                if not Check(k, float(v), _num(got) or 0.0).ok or _num(got) is None:
                    rec.miss(f"{cls} {iri}: {k} is {got!r} in the graph, {v!r} in the source")
            elif got != v:
                rec.miss(f"{cls} {iri}: {k} is {got!r} in the graph, {v!r} in the source")
    for iri in sorted(set(stored) - set(want)):
        rec.miss(f"{stored[iri].label} {iri}: in the graph (stage {stage}), not in the source")
    for (cls, k), (a, b) in sorted(sums.items()):
        rec.checks.append(Check(f"sum of {cls}.{k}", a, b))
    _derivations(rt, events, stored, rec)
    rec.seconds = time.perf_counter() - t0
    return rec


def _derivations(rt: Session, events: Sequence[WriteEvent], stored: dict[str, Any],
                 rec: Reconciliation) -> None:
    """Derivation edges and quantities per lot (per input), source against graph."""
    src: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for ev in events:
        for d in ev.derivations:
            src[d.input][0] += 1
            src[d.input][1] += d.quantity or 0.0
    got: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for e in rt.store.links(sorted(stored), [DERIVATION]):
        got[e.dst][0] += 1
        got[e.dst][1] += _num(e.props.get("quantity")) or 0.0
    rec.checks.append(Check("derivations", sum(v[0] for v in src.values()),
                            sum(v[0] for v in got.values())))
    rec.checks.append(Check("derived quantity", sum(v[1] for v in src.values()),
                            sum(v[1] for v in got.values())))
    for lot in sorted(src.keys() | got.keys()):
        a, b = src.get(lot, [0, 0.0]), got.get(lot, [0, 0.0])
        if a[0] != b[0] or not Check(lot, a[1], b[1]).ok:
            rec.miss(f"{lot}: {a[0]} derivation(s) of {a[1]:g} in the source, "
                     f"{b[0]} of {b[1]:g} in the graph")


def rollback(rt: Session, stage: str, migration: Migration) -> RetractResult:
    """Remove the records of ``stage`` (:func:`graph.retract.retract_stage`) as the signed
    migration's administrator with its reason; refused once the stage is in use."""
    return retract_stage(rt.store, stage, migration.admin, migration.reason)
