"""The one write path (DESIGN.md §6), engine-independent.

Every write — a capture document, a GraphQL mutation, an EPCIS event, a signal excursion — arrives
here as :class:`WriteEvent` commands and goes through the same steps in one store transaction:

1. idempotency: an event id already committed with the same content is skipped; with different
   content it is refused;
2. the delta is merged onto the stored state of the nodes it touches;
3. referential integrity and the ontology's domains/ranges are checked, then the compiled SHACL
   shapes run on the focus nodes (the touched nodes plus the classes of their link targets);
4. nodes, edges, audit entries (hash-chained) and idempotency records are written together;
   the caller is acknowledged only after commit.

Anything wrong raises :class:`graph.errors.WriteRejectedError` listing every problem, and nothing is
written.
"""

from __future__ import annotations

import gc
import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson

from graph.audit import AuditDraft, chain, reason_problem
from graph.authority import MIGRATED, MIGRATION_STAGE, event_problems
from graph.dag import cycle_problems
from graph.errors import EventConflictError, Problem, WriteRejectedError
from graph.model import AuditEntry, CapturedEvent, EdgeRecord, NodeRecord
from graph.port import GraphStore, StoreTx
from graph.schema import DERIVATION
from ontology.codes import AuditAction, DerivationKind
from ontology.datatypes import StoredValue
from ontology.terms import R
from ontology.vocab import Vocabulary
from shapes.validator import NodeView, ShapeResult, ShapesValidator

__all__ = ["Derivation", "Guard", "NodeUpsert", "PendingWrite", "WriteEvent", "WriteResult",
           "Writer", "paused_gc"]

CONSUMPTION = DerivationKind.CONSUMPTION
VERSION = "versionNumber"
PRIOR_VERSION = R.PRIOR_VERSION


@dataclass
class NodeUpsert:
    """Create or update one node: given properties overwrite, links are added."""

    cls: str
    key: str
    iri: str
    props: dict[str, StoredValue] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Derivation:
    """One materialised genealogy edge: ``output`` was derived from ``input``."""

    kind: str
    output: str
    input: str
    quantity: float | None = None
    unit: str | None = None
    at: str | None = None
    via: str | None = None


@dataclass
class WriteEvent:
    """One idempotent unit of input, with who sent it and why: ``command`` names the workflow
    command that issued it (``None``: a capture), ``roles`` the sender's roles (``None``: the
    system loader), ``migration`` marks an admin-run, signed migration (see graph.authority),
    ``stage`` the migration stage it belongs to (``tracegraph migrate``)."""

    event_id: str
    content_hash: str
    actor: str
    reason: str | None = None
    nodes: list[NodeUpsert] = field(default_factory=list)
    derivations: list[Derivation] = field(default_factory=list)
    command: str | None = None
    roles: frozenset[str] | None = None
    migration: bool = False
    stage: str | None = None


@dataclass
class WriteResult:
    tx: int
    events_written: int
    events_skipped: int
    nodes_created: int
    nodes_updated: int
    edges_created: int
    audit_entries: int
    warnings: list[ShapeResult]


def _problem_of(r: ShapeResult, event_id: str | None) -> Problem:
    return Problem(rule=f"sh:{r.component}", message=r.message, field=r.path, value=r.value,
                   focus=r.focus, event_id=event_id, severity=r.severity)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is built and written.

    A batch allocates many containers that live until it commits; meanwhile the collector would
    rescan the growing heap again and again (a third of bulk-load time, measured on the demo
    plant). Nothing a batch builds forms reference cycles, so collection simply waits.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class PendingWrite:
    """What a batch is about to write, shown to guards after merging and the ontology checks
    and before the shapes run, inside the write transaction (``tx`` reads its snapshot)."""

    tx: StoreTx
    store: GraphStore
    before: Mapping[str, NodeRecord]  # stored state of every node the batch touches
    after: Mapping[str, NodeRecord]  # full new state of every node the batch writes
    new_edges: Sequence[EdgeRecord]
    events: Sequence[WriteEvent]
    _by_type: dict[str, list[EdgeRecord]] = field(default_factory=dict, compare=False,
                                                  repr=False)
    _by_label: dict[str, dict[str, NodeRecord]] = field(default_factory=dict, compare=False,
                                                        repr=False)

    def current(self, iri: str) -> NodeRecord | None:
        return self.after.get(iri) or self.before.get(iri)

    def new_edges_of(self, types: Sequence[str]) -> list[EdgeRecord]:
        """The new edges of ``types`` (indexed by type once per write, so guards that read
        links many times do not rescan every new edge)."""
        if not self._by_type and self.new_edges:
            for e in self.new_edges:
                self._by_type.setdefault(e.type, []).append(e)
        return [e for t in dict.fromkeys(types) for e in self._by_type.get(t, ())]

    def after_of(self, label: str) -> dict[str, NodeRecord]:
        """The nodes of ``after`` whose class is ``label``, in ``after``'s order (indexed by
        class once per write, so a guard about one class does not rescan every node)."""
        if not self._by_label and self.after:
            for iri, n in self.after.items():
                self._by_label.setdefault(n.label, {})[iri] = n
        return self._by_label.get(label, {})


#: a business rule over a pending write (held material, immutable versions, lifecycle
#: transitions …): the problems it finds refuse the whole batch. Registered in quality.guards.
Guard = Callable[[PendingWrite], list[Problem]]


class Writer:
    """Applies batches of :class:`WriteEvent` to a store through the one write path."""

    def __init__(self, store: GraphStore, vocab: Vocabulary, shapes: ShapesValidator,
                 on_commit: Callable[[WriteResult], None] | None = None,
                 guards: Sequence[Guard] = ()) -> None:
        self.store = store
        self.vocab = vocab
        self.shapes = shapes
        self.on_commit = on_commit
        self.guards = tuple(guards)
        #: seconds spent in each step, summed over writes, when a loader asks (a dict)
        self.phases: dict[str, float] | None = None

    def _lap(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        if self.phases is not None:
            self.phases[phase] = self.phases.get(phase, 0.0) + now - since
        return now

    def apply(self, events: Sequence[WriteEvent] | Callable[[StoreTx], Sequence[WriteEvent]],
              dry_run: bool = False) -> WriteResult:
        """Write ``events`` atomically; with ``dry_run`` validate everything and write nothing.
        ``events`` may be a function of the open transaction: a read-modify-write (a counter)
        that reads the stored state there, so concurrent writers cannot interleave."""
        try:
            with paused_gc(), self.store.transaction() as tx:
                result = self._apply(tx, events(tx) if callable(events) else events)
                if dry_run or result.events_written == 0:
                    raise _DryRun(result)  # roll back: not even the watermark moves
                clock = time.perf_counter()
            self._lap("commit", clock)
        except _DryRun as d:
            return d.result
        if self.on_commit is not None:
            self.on_commit(result)
        return result

    # -- the steps --------------------------------------------------------------------------
    def _apply(self, tx: StoreTx, events: Sequence[WriteEvent]) -> WriteResult:
        clock = time.perf_counter()
        fresh, skipped = self._idempotency(tx, events)
        touched: set[str] = set()
        for ev in fresh:
            for n in ev.nodes:
                touched.add(n.iri)
                for targets in n.links.values():
                    touched.update(targets)
            for d in ev.derivations:
                touched.update(x for x in (d.output, d.input) if x)
        stored = tx.fetch_nodes(touched)
        state: dict[str, NodeRecord] = {}  # nodes this batch writes (merged full state)
        problems: list[Problem] = []
        new_edges: dict[EdgeRecord, EdgeRecord] = {}
        focus: set[str] = set()
        per_event: list[tuple[WriteEvent, list[AuditDraft]]] = []

        def current(iri: str) -> NodeRecord | None:
            return state.get(iri) or stored.get(iri)

        # existing out-edges of stored nodes that gain links (for dedupe and cardinality)
        gaining = {n.iri for ev in fresh for n in ev.nodes}
        gaining.update(d.output for ev in fresh for d in ev.derivations)
        stored_focus = [iri for iri in gaining if iri in stored]
        existing_out: dict[str, set[EdgeRecord]] = {}
        for e in tx.fetch_out_edges(stored_focus):
            existing_out.setdefault(e.src, set()).add(e)
        extra_targets = {e.dst for es in existing_out.values() for e in es} - set(stored)
        stored.update(tx.fetch_nodes(extra_targets))
        clock = self._lap("read", clock)

        for ev in fresh:
            drafts: list[AuditDraft] = []
            created_now: dict[str, dict[str, Any]] = {}
            problems.extend(event_problems(self.vocab, ev, current))  # who may assert what
            for up in ev.nodes:
                if ev.migration:
                    mark: dict[str, StoredValue] = {MIGRATED: True}
                    if ev.stage is not None:
                        mark[MIGRATION_STAGE] = ev.stage
                    up = NodeUpsert(up.cls, up.key, up.iri, {**up.props, **mark}, up.links)
                old = current(up.iri)
                if ev.stage is not None and up.iri in stored:
                    problems.append(stage_problem(up.iri, up.cls, ev))
                    continue
                if old is not None and old.label != up.cls:
                    problems.append(Problem(
                        rule="class-immutable", field="class", value=up.cls, focus=up.iri,
                        event_id=ev.event_id,
                        message=f"node is a {old.label}; a node keeps its class"))
                    continue
                if old is None:
                    rec = NodeRecord(up.iri, up.cls, up.key, dict(up.props), tx.at, tx.at, tx.tx_id)
                    created_now[up.iri] = {"key": up.key, "props": dict(up.props),
                                           "links": {}}
                    drafts.append(AuditDraft(AuditAction.CREATE, up.iri, up.cls, None, None,
                                             created_now[up.iri]))
                else:
                    props = dict(old.props)
                    changed = {k: v for k, v in up.props.items() if props.get(k) != v}
                    props.update(up.props)
                    rec = NodeRecord(up.iri, up.cls, old.key, props, old.recorded_at, tx.at,
                                     tx.tx_id)
                    for k, v in changed.items():
                        drafts.append(AuditDraft(AuditAction.UPDATE, up.iri, up.cls, k,
                                                 old.props.get(k), v))
                    no_reason = reason_problem(self.vocab, up.cls, up.iri, changed, ev.reason,
                                               ev.event_id)
                    if no_reason is not None:
                        problems.append(no_reason)
                    if not changed and up.iri not in state:
                        rec = old  # nothing new: no rewrite
                    elif changed and up.iri not in state and self._versioned(old):
                        version = self._prior_version(old, tx.at, tx.tx_id)
                        rec.props[VERSION] = _version(old) + 1
                        drafts.append(AuditDraft(AuditAction.UPDATE, up.iri, up.cls, VERSION,
                                                 old.props.get(VERSION, 1), rec.props[VERSION]))
                        state[version.iri] = version
                        focus.add(version.iri)
                        drafts.append(AuditDraft(AuditAction.CREATE, version.iri, version.label,
                                                 None, None,
                                                 {"key": version.key, "props": version.props,
                                                  "links": {}}))
                        self._add_edge(EdgeRecord(up.iri, PRIOR_VERSION, version.iri, "", {},
                                                  tx.at, tx.tx_id),
                                       up.cls, new_edges, existing_out, created_now, drafts,
                                       "priorVersion")
                if rec is not old:
                    state[up.iri] = rec
                focus.add(up.iri)
                for prop, targets in up.links.items():
                    rel = self.vocab.prop(prop).rel_type
                    assert rel is not None
                    for t in targets:
                        self._add_edge(EdgeRecord(up.iri, rel, t, "", {}, tx.at, tx.tx_id),
                                       up.cls, new_edges, existing_out, created_now, drafts,
                                       prop)
            for i, d in enumerate(ev.derivations):
                eid = f"{ev.event_id}#{i}"
                eprops: dict[str, StoredValue] = {"derivationKind": d.kind}
                optional: tuple[tuple[str, StoredValue | None], ...] = (
                    ("quantity", d.quantity), ("unitCode", d.unit), ("atTime", d.at),
                    ("viaActivity", d.via))
                for k, opt in optional:
                    if opt is not None:
                        eprops[k] = opt
                out_node = current(d.output)
                if ev.stage is not None and d.output in stored:
                    problems.append(stage_problem(d.output, out_node.label if out_node else "",
                                                  ev))
                    continue
                self._add_edge(EdgeRecord(d.output, DERIVATION, d.input, eid, eprops, tx.at,
                                          tx.tx_id),
                               out_node.label if out_node else "", new_edges, existing_out,
                               created_now, drafts, "wasDerivedFrom")
                focus.add(d.output)
            per_event.append((ev, drafts))

        # referential integrity and ontology domains/ranges of every new edge
        fits: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
        for e in new_edges:
            src, dst = current(e.src), current(e.dst)
            for end, node, role in ((e.src, src, "source"), (e.dst, dst, "target")):
                if node is None:
                    problems.append(Problem(
                        rule="referential-integrity", field=e.type, value=end, focus=e.src,
                        message=f"{role} {end} of {e.type} does not exist (neither stored nor "
                                "in this write)"))
            if src is None or dst is None:
                continue
            sig = (src.label, e.type, dst.label)
            misfits = fits.get(sig)
            if misfits is None:
                misfits = fits[sig] = self._misfits(*sig)
            problems.extend(Problem(rule=rule, field=self.vocab.rel(e.type).name,
                                    value=e.dst if rule == "ontology-range" else src.label,
                                    focus=e.src, message=msg) for rule, msg in misfits)
        problems.extend(cycle_problems(tx, [e for e in new_edges if e.type == DERIVATION],
                                     stored))
        if problems:
            raise WriteRejectedError(problems)
        clock = self._lap("checks", clock)
        if self.guards:
            pending = PendingWrite(tx, self.store, stored, state, list(new_edges), fresh)
            for guard in self.guards:
                problems.extend(guard(pending))
            if problems:
                raise WriteRejectedError(problems)
        clock = self._lap("guards", clock)

        results = self.shapes.validate(self._views(focus, current, existing_out, new_edges))
        blocking = [r for r in results if r.severity == "Violation"]
        if blocking:
            raise WriteRejectedError([_problem_of(r, None) for r in blocking])
        clock = self._lap("shapes", clock)

        audit: list[AuditEntry] = []
        head = tx.audit_head()
        for ev, drafts in per_event:
            entries = chain(drafts, head, tx.tx_id, tx.at, ev.actor, ev.reason, ev.event_id)
            if entries:
                head = (entries[-1].seq, entries[-1].hash)
            audit.extend(entries)
        captured = [CapturedEvent(ev.event_id, ev.content_hash, tx.tx_id, tx.at) for ev in fresh]
        clock = self._lap("audit", clock)
        tx.write(list(state.values()), list(new_edges), audit, captured)
        self._lap("write", clock)
        created = sum(1 for n in state.values() if n.iri not in stored)
        return WriteResult(tx.tx_id, len(fresh), skipped, created, len(state) - created,
                           len(new_edges), len(audit),
                           [r for r in results if r.severity != "Violation"])

    def _versioned(self, node: NodeRecord) -> bool:
        """Records keep their superseded states, except the system's own bookkeeping records
        (accounts change counters on every login; the audit trail covers them)."""
        return node.label not in self.vocab.system_managed and node.label != "User"

    def _prior_version(self, old: NodeRecord, at: str, tx_id: int) -> NodeRecord:
        """The superseded state of ``old``, kept whole as a RecordVersion node."""
        n = _version(old)
        key = f"{old.label}/{old.key}@v{n}"
        props: dict[str, StoredValue] = {
            "code": key, VERSION: n, "revisedRecord": old.iri, "revisedClass": old.label,
            "supersededAt": at,
            "snapshot": orjson.dumps(old.props, option=orjson.OPT_SORT_KEYS).decode()}
        iri = self.vocab.mint_iri("RecordVersion", key)
        return NodeRecord(iri, "RecordVersion", key, props, at, at, tx_id)

    def _misfits(self, src_label: str, rel_type: str, dst_label: str) -> list[tuple[str, str]]:
        """Ontology rules a relationship between nodes of these classes breaks."""
        p = self.vocab.rel(rel_type)
        out: list[tuple[str, str]] = []
        if not self.vocab.cls(src_label).allows(p.name):
            out.append(("ontology-domain", f"{p.name} is not a property of {src_label}"))
        if p.range_class and not self.vocab.cls(dst_label).is_a(p.range_class):
            out.append(("ontology-range",
                        f"{p.name} must point to a {p.range_class}, not a {dst_label}"))
        return out

    def _idempotency(self, tx: StoreTx,
                     events: Sequence[WriteEvent]) -> tuple[list[WriteEvent], int]:
        known = tx.fetch_events(ev.event_id for ev in events)
        seen: dict[str, str] = {k: v.content_hash for k, v in known.items()}
        fresh: list[WriteEvent] = []
        conflicts: list[Problem] = []
        skipped = 0
        for ev in events:
            h = seen.get(ev.event_id)
            if h is None:
                seen[ev.event_id] = ev.content_hash
                fresh.append(ev)
            elif h == ev.content_hash:
                skipped += 1
            else:
                conflicts.append(Problem(
                    rule="idempotency", field="eventId", value=ev.event_id,
                    event_id=ev.event_id,
                    message="this event id was already used for different content; "
                            "send a new event id (corrections are new events)"))
        if conflicts:
            raise EventConflictError(conflicts)
        return fresh, skipped

    @staticmethod
    def _add_edge(e: EdgeRecord, src_label: str, new_edges: dict[EdgeRecord, EdgeRecord],
                  existing_out: dict[str, set[EdgeRecord]], created_now: dict[str, Any],
                  drafts: list[AuditDraft], prop: str) -> None:
        if e in new_edges or e in existing_out.get(e.src, ()):
            return
        new_edges[e] = e
        link = {"target": e.dst, **({"edgeId": e.eid} if e.eid else {}), **e.props}
        if e.src in created_now:
            created_now[e.src]["links"].setdefault(prop, []).append(link)
        else:
            drafts.append(AuditDraft("link", e.src, src_label, prop, None, link))

    def _views(self, focus: set[str], current: Callable[[str], NodeRecord | None],
               existing_out: dict[str, set[EdgeRecord]],
               new_edges: dict[EdgeRecord, EdgeRecord]) -> list[NodeView]:
        by_src: dict[str, list[EdgeRecord]] = {}
        for e in itertools.chain(new_edges, *existing_out.values()):
            if e.src in focus:
                by_src.setdefault(e.src, []).append(e)
        views: list[NodeView] = []
        for iri in sorted(focus):
            node = current(iri)
            if node is None:
                continue
            links: dict[str, list[tuple[str, str | None]]] = {}
            for e in by_src.get(iri, []):
                target = current(e.dst)
                name = self.vocab.rel(e.type).name
                pair = (e.dst, target.label if target else None)
                if pair not in links.setdefault(name, []):
                    links[name].append(pair)
            views.append(NodeView(iri, node.label, node.props, links))
        return views


def stage_problem(iri: str, cls: str, ev: WriteEvent) -> Problem:
    """A migration stage only creates records (its rollback removes exactly them): one that
    names a record already stored is refused."""
    return Problem(rule="migration-stage-creates-only", field="key", value=iri, focus=iri,
                   event_id=ev.event_id,
                   message=f"{cls} {iri} already exists: a migration stage ({ev.stage}) only "
                           "creates records; link to the stored record instead of writing it")


def _version(node: NodeRecord) -> int:
    v = node.props.get(VERSION, 1)
    return v if isinstance(v, int) and not isinstance(v, bool) else 1


class _DryRun(Exception):
    def __init__(self, result: WriteResult) -> None:
        self.result = result
