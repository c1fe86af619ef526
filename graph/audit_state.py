"""Tamper evidence for the state: the stored nodes and edges equal what the audit trail wrote.

The hash chain (:mod:`graph.audit`) proves the trail was not altered; this module proves the
store's current state is the trail's replay. Every write goes through :class:`graph.write.Writer`,
which audits it whole:

* ``create`` — the node's class (``record_class``), business key (``new.key``; for entries
  written before the key was audited, the IRI's last segment), every property (``new.props``)
  and every link it was created with (``new.links``: target, edge id and edge properties);
* ``update`` — one property's new value (a superseded state is itself created as a
  ``RecordVersion`` node with a ``priorVersion`` link, all audited);
* ``link`` — one edge out of an existing node (type from the property, target, edge id,
  properties).
* ``delete`` — the node was removed, with every edge out of it (a rolled-back migration
  stage, :mod:`graph.retract`: nothing outside the stage pointed to it); it is absent from the
  store until a later ``create``.

So every stored node property, every edge and its properties, and the system fields — when a
node was recorded (``at`` of its create entry), last updated and by which transaction (``at``
and ``tx`` of its last create/update entry), when an edge was recorded and by which transaction —
are derivable from the trail, and are compared. Secret values (``tg:secret``) are compared as the
digests the trail keeps. A property whose value is null counts as absent (Neo4j cannot store a
null). Not covered, on purpose: the idempotency records (event id → content hash; a fresh event
that changed nothing leaves no entry), the identifier index and the in-memory/persisted
derivation index (both rebuilt from the nodes and edges), and the watermark beyond "not behind
the trail".

Both sides are streamed in IRI order and compared record by record (a merge join), so memory
holds one record's entries at a time, never the graph.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import orjson

from graph.audit_chain import no_gc
from graph.model import AuditEntry, EdgeRecord, NodeRecord
from ontology.codes import AuditAction
from ontology.vocab import rel_type_of, vocabulary

if TYPE_CHECKING:
    from graph.port import GraphStore

__all__ = ["Progress", "StateDiff", "StateReport", "compare_state", "mask_secret",
           "merge_reports", "replay_record", "verify_state"]

#: ``progress(phase, done)``: entries of the chain checked, records of the state compared
Progress = Callable[[str, int], None]
#: properties the ontology marks ``tg:secret``: audited (and compared) as digests only
SECRET_FIELDS = vocabulary().secrets


def mask_secret(value: Any) -> Any:
    """The digest a secret value is audited as (``None`` stays ``None``)."""
    if value is None:
        return None
    digest = hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"[redacted sha256:{digest[:16]}]"

EdgeKey = tuple[str, str, str]  # (type, target, edge id)


@dataclass(frozen=True)
class StateDiff:
    """One way the stored state departs from the audit trail.

    ``problem`` is ``differs`` (a field's stored value is not the audited one), ``not audited``
    (stored, but no entry created it) or ``missing`` (audited, but not in the store)."""

    kind: str  # node | edge
    record: str  # node IRI, or "src -[TYPE]-> dst" (with "#edge id" when it has one)
    field: str | None  # a property, or class / key / recordedAt / updatedAt / txId
    stored: Any
    audited: Any
    seq: int | None  # the audit entry that wrote the audited value
    problem: str = "differs"

    def describe(self) -> str:
        where = f"{self.kind} {self.record}"
        if self.problem == "not audited":
            return f"{where} is in the store but no audit entry created it"
        if self.problem == "missing":
            return f"{where} was created by audit entry {self.seq} but is not in the store"
        return (f"{where}: {self.field} is {self.stored!r} in the store but {self.audited!r} "
                f"in the audit trail (entry {self.seq})")


@dataclass
class StateReport:
    """Outcome of comparing the stored state with the trail's replay."""

    nodes: int = 0  # stored nodes compared
    edges: int = 0  # stored edges compared
    entries: int = 0  # audit entries replayed
    seconds: float = 0.0
    differences: int = 0
    diffs: list[StateDiff] = field(default_factory=list)  # the first ones, in IRI order

    @property
    def ok(self) -> bool:
        return self.differences == 0

    @property
    def first(self) -> StateDiff | None:
        return self.diffs[0] if self.diffs else None


@dataclass
class _Node:
    """A node as the trail says it is: each value with the entry that wrote it."""

    label: str | None = None
    key: str | None = None
    props: dict[str, tuple[Any, int]] = field(default_factory=dict)
    recorded_at: tuple[str, int] | None = None
    updated: tuple[str, int, int] | None = None  # (at, tx, seq) of the last create/update
    edges: dict[EdgeKey, tuple[dict[str, Any], str, int, int]] = field(default_factory=dict)


_REL_TYPES: dict[str, str] = {}


def _link(n: _Node, prop: str, link: dict[str, Any], e: AuditEntry) -> None:
    rel = _REL_TYPES.get(prop)
    if rel is None:
        rel = _REL_TYPES[prop] = rel_type_of(prop)
    props = dict(link)
    target, eid = props.pop("target", None), props.pop("edgeId", "")
    n.edges[(rel, str(target), str(eid))] = (props, e.at, e.tx, e.seq)


def replay_record(entries: Iterable[AuditEntry]) -> _Node:
    """The state the entries of one record (in sequence order) leave it in."""
    n = _Node()
    for e in entries:
        if e.action == AuditAction.CREATE and isinstance(e.new, dict):
            n.label = e.record_class
            n.key = str(e.new["key"]) if "key" in e.new else unquote(e.record.rsplit("/", 1)[-1])
            n.props = {k: (v, e.seq) for k, v in (e.new.get("props") or {}).items()}
            n.recorded_at = (e.at, e.seq)
            n.updated = (e.at, e.tx, e.seq)
            for prop, links in (e.new.get("links") or {}).items():
                for link in links:
                    _link(n, prop, link, e)
        elif e.action == AuditAction.UPDATE and e.field is not None:
            n.props[e.field] = (e.new, e.seq)
            n.updated = (e.at, e.tx, e.seq)
        elif e.action == "link" and e.field is not None and isinstance(e.new, dict):
            _link(n, e.field, e.new, e)
        elif e.action == AuditAction.DELETE:  # removed with its edges (graph.retract)
            n = _Node()
    return n


def _stored_props(props: dict[str, Any]) -> dict[str, Any]:
    return {k: mask_secret(v) if k in SECRET_FIELDS else v
            for k, v in props.items() if v is not None}


def _edge_name(src: str, key: EdgeKey) -> str:
    typ, dst, eid = key
    return f"{src} -[{typ}]-> {dst}" + (f" #{eid}" if eid else "")


def _node_diffs(iri: str, stored: NodeRecord | None, a: _Node) -> Iterator[StateDiff]:
    if a.recorded_at is None:  # no create entry
        if stored is not None:
            yield StateDiff("node", iri, None, stored.label, None, None, "not audited")
        return
    if stored is None:
        yield StateDiff("node", iri, None, None, a.label, a.recorded_at[1], "missing")
        return
    assert a.updated is not None
    if stored.label != a.label:
        yield StateDiff("node", iri, "class", stored.label, a.label, a.recorded_at[1])
    if stored.key != a.key:
        yield StateDiff("node", iri, "key", stored.key, a.key, a.recorded_at[1])
    have = _stored_props(stored.props)
    want = {k: v for k, v in a.props.items() if v[0] is not None}
    for k in sorted(have.keys() | want.keys()):
        value, seq = want.get(k, (None, None))
        if have.get(k) != value or (k in have) != (k in want):
            yield StateDiff("node", iri, k, have.get(k), value, seq)
    at, tx, seq = a.updated
    for name, got, expected, by in (("recordedAt", stored.recorded_at, a.recorded_at[0],
                                      a.recorded_at[1]),
                                     ("updatedAt", stored.updated_at, at, seq),
                                     ("txId", stored.tx, tx, seq)):
        if got != expected:
            yield StateDiff("node", iri, name, got, expected, by)


def _edge_diffs(iri: str, stored: list[EdgeRecord], a: _Node) -> Iterator[StateDiff]:
    have = {(e.type, e.dst, e.eid): e for e in stored}
    if len(have) == len(a.edges):  # the usual case, first: every edge as audited
        for key, rec in have.items():
            w = a.edges.get(key)
            if w is None or rec.props != w[0] or rec.recorded_at != w[1] or rec.tx != w[2]:
                break
        else:
            return
    for key in sorted(have.keys() | a.edges.keys()):
        name, e, want = _edge_name(iri, key), have.get(key), a.edges.get(key)
        if want is None:
            assert e is not None
            yield StateDiff("edge", name, None, e.props, None, None, "not audited")
            continue
        props, at, tx, seq = want
        if e is None:
            yield StateDiff("edge", name, None, None, props, seq, "missing")
            continue
        got = {k: v for k, v in e.props.items() if v is not None}
        expected = {k: v for k, v in props.items() if v is not None}
        for k in sorted(got.keys() | expected.keys()):
            if got.get(k) != expected.get(k) or (k in got) != (k in expected):
                yield StateDiff("edge", name, k, got.get(k), expected.get(k), seq)
        if e.recorded_at != at:
            yield StateDiff("edge", name, "recordedAt", e.recorded_at, at, seq)
        if e.tx != tx:
            yield StateDiff("edge", name, "txId", e.tx, tx, seq)


def _keyed(items: Iterator[Any], key: Callable[[Any], str]) -> Iterator[tuple[str, list[Any]]]:
    """Consecutive items of one key, checking the stream really is in key order."""
    last: str | None = None
    for k, group in groupby(items, key):
        if last is not None and k <= last:
            raise ValueError(f"stream not in IRI order: {k!r} after {last!r}")
        last = k
        yield k, list(group)


def compare_state(audit: Iterator[AuditEntry], nodes: Iterator[NodeRecord],
                  edges: Iterator[EdgeRecord], max_diffs: int = 20,
                  progress: Progress | None = None, watermark: int | None = None
                  ) -> StateReport:
    """Merge-join three streams in IRI order — audit entries by record (then seq), stored
    nodes, stored edges by source — and compare each record's stored state with its replay;
    the store's ``watermark`` must not be behind the last transaction the trail names."""
    t0 = time.perf_counter()
    report = StateReport()
    last_tx = 0
    streams = [_keyed(audit, lambda e: e.record), _keyed(nodes, lambda n: n.iri),
               _keyed(edges, lambda e: e.src)]
    heads: list[tuple[str, list[Any]] | None] = [next(s, None) for s in streams]
    done = 0
    while any(h is not None for h in heads):
        iri = min(h[0] for h in heads if h is not None)
        got: list[list[Any]] = []
        for i, h in enumerate(heads):
            if h is not None and h[0] == iri:
                got.append(h[1])
                heads[i] = next(streams[i], None)
            else:
                got.append([])
        entries, stored_nodes, stored_edges = got
        report.entries += len(entries)
        last_tx = max([last_tx, *(e.tx for e in entries)])
        report.nodes += len(stored_nodes)
        report.edges += len(stored_edges)
        replayed = replay_record(entries)
        for d in (*_node_diffs(iri, stored_nodes[0] if stored_nodes else None, replayed),
                  *_edge_diffs(iri, stored_edges, replayed)):
            report.differences += 1
            if len(report.diffs) < max_diffs:
                report.diffs.append(d)
        done += 1
        if progress is not None and done % 10_000 == 0:
            progress("state", report.nodes + report.edges)
    if progress is not None:
        progress("state", report.nodes + report.edges)
    if watermark is not None and watermark < last_tx:
        report.differences += 1
        report.diffs.append(StateDiff("store", "watermark", "lastTx", watermark, last_tx, None))
    report.seconds = time.perf_counter() - t0
    return report


def verify_state(store: GraphStore, max_diffs: int = 20, progress: Progress | None = None,
                 watermark: int | None = None, start: str | None = None,
                 stop: str | None = None) -> StateReport:
    """Compare the whole stored state of ``store`` (or the records whose IRI lies in ``[start,
    stop)``) with the replay of its audit trail (call it inside ``store.snapshot()`` to compare
    one consistent state)."""
    with no_gc():  # (nothing here is cyclic: the collector would only rescan the records)
        return compare_state(store.audit_by_record(start, stop), store.nodes_by_iri(start, stop),
                             store.edges_by_source(start, stop), max_diffs, progress, watermark)


def merge_reports(parts: list[StateReport], max_diffs: int = 20) -> StateReport:
    """The report of the whole state from the reports of consecutive IRI ranges (in order): what
    :func:`verify_state` over the whole store reports."""
    out = StateReport(seconds=max((p.seconds for p in parts), default=0.0))
    behind: list[StateDiff] = []  # the store's watermark behind the trail, once
    for p in parts:
        out.nodes, out.edges, out.entries = (out.nodes + p.nodes, out.edges + p.edges,
                                             out.entries + p.entries)
        found = [d for d in p.diffs if d.kind != "store"]
        behind += [d for d in p.diffs if d.kind == "store"]
        out.differences += p.differences - (len(p.diffs) - len(found))
        out.diffs += found[:max_diffs - len(out.diffs)]
    if behind:
        out.differences += 1
        out.diffs.append(max(behind, key=lambda d: int(d.audited)))
    return out
