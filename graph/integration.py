"""Integration events (issue 18 item 6): the workflow events QMS/MES/ERP systems subscribe to,
read from the audit trail.

The outbox is the audit trail itself. Every write — each workflow command, the exception loop,
a capture — goes through the one Writer, which appends the hash-chained audit entries in the
SAME transaction as the nodes it changes; an entry that records a change named by a concept of
``tg:IntegrationEventTypeScheme`` (``tg:eventClass`` created, or its ``tg:eventProperty`` set to
a ``tg:eventValue``) *is* that event's outbox entry. So no command can change a state without
its event being committed with it, and none can emit an event that was rolled back; there is
one classifier, not one hook per command, and a new record type (a Recall) adds its events to
the code list in the ontology. The entry's sequence number is the event's cursor: events are
totally ordered and can be replayed from any cursor (:func:`events_since`).

Records entering through a migration (legacy records in later states) are not workflow
events: a created record marked migrated, or a change written together with the migration
mark, is skipped.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from rdflib import Literal as RDFLiteral
from rdflib import URIRef
from rdflib.namespace import SKOS

from graph.authority import MIGRATED
from graph.model import AuditEntry
from graph.port import GraphStore
from ontology.codes import AuditAction
from ontology.vocab import TG, Vocabulary, local_name

__all__ = ["IntegrationEvent", "Trigger", "event_types", "events_since", "triggers"]

PAGE = 5_000


@dataclass(frozen=True)
class Trigger:
    """One event type: ``cls`` records created (``prop`` None) or ``prop`` set to one of
    ``values`` (empty: any change)."""

    event_type: str
    cls: str
    prop: str | None
    values: frozenset[str]


@dataclass(frozen=True)
class IntegrationEvent:
    """One delivered event: ``id`` is stable across re-deliveries (receivers deduplicate by
    it), ``cursor`` its position (the audit sequence number of the change)."""

    id: str
    cursor: int
    type: str
    at: str
    tx: int
    actor: str
    reason: str | None
    record: str
    record_class: str
    key: str | None
    field: str | None
    old: Any
    new: Any
    write_event: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "cursor": self.cursor, "type": self.type, "at": self.at,
                "tx": self.tx, "actor": self.actor, "reason": self.reason,
                "record": self.record, "class": self.record_class, "key": self.key,
                "field": self.field, "from": self.old, "to": self.new,
                "writeEvent": self.write_event}


def triggers(vocab: Vocabulary) -> tuple[Trigger, ...]:
    """The event types of the ontology's ``tg:IntegrationEventTypeScheme``."""
    return _triggers(vocab)


@functools.cache
def _triggers(vocab: Vocabulary) -> tuple[Trigger, ...]:
    g = vocab.graph
    out = []
    for concept in g.subjects(SKOS.inScheme, TG.IntegrationEventTypeScheme):
        notation, cls = g.value(concept, SKOS.notation), g.value(concept, TG.eventClass)
        if notation is None or not isinstance(cls, URIRef):
            continue
        prop = g.value(concept, TG.eventProperty)
        out.append(Trigger(str(notation), local_name(cls),
                           local_name(prop) if isinstance(prop, URIRef) else None,
                           frozenset(str(v) for v in g.objects(concept, TG.eventValue)
                                     if isinstance(v, RDFLiteral))))
    return tuple(sorted(out, key=lambda t: t.event_type))


def event_types(vocab: Vocabulary) -> list[str]:
    return [t.event_type for t in triggers(vocab)]


class _Classifier:
    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self.all = triggers(vocab)
        self._by_class: dict[str, tuple[Trigger, ...]] = {}

    def of(self, label: str) -> tuple[Trigger, ...]:
        found = self._by_class.get(label)
        if found is None:
            known = label in self.vocab.classes
            found = self._by_class[label] = tuple(
                t for t in self.all if known and self.vocab.cls(label).is_a(t.cls))
        return found

    def type_of(self, e: AuditEntry, migrated: bool) -> str | None:
        for t in self.of(e.record_class):
            if t.prop is None and e.action == AuditAction.CREATE:
                props = e.new.get("props", {}) if isinstance(e.new, Mapping) else {}
                if not props.get(MIGRATED):
                    return t.event_type
            elif (t.prop is not None and e.action == AuditAction.UPDATE and e.field == t.prop
                  and not migrated and (not t.values or str(e.new) in t.values)):
                return t.event_type
        return None


def _pages(store: GraphStore, after: int, page: int) -> Iterator[list[AuditEntry]]:
    """Audit entries after ``after`` in pages that end at a transaction's end (so a change
    and the migration mark written with it are classified together)."""
    while True:
        entries = store.audit_entries(after_seq=after, limit=page)
        if not entries:
            return
        if len(entries) == page:
            last_tx = entries[-1].tx
            while True:
                more = store.audit_entries(after_seq=entries[-1].seq, limit=page)
                same = [e for e in more if e.tx == last_tx]
                entries.extend(same)
                if len(same) < len(more) or not more:
                    break
        yield entries
        after = entries[-1].seq


def events_since(store: GraphStore, vocab: Vocabulary, after: int = 0, limit: int = 1000,
                 page: int = PAGE) -> tuple[list[IntegrationEvent], int]:
    """Up to ``limit`` events after cursor ``after``, and the cursor to continue from (the
    last audit entry examined: the entries between events are skipped once)."""
    c = _Classifier(vocab)
    out: list[IntegrationEvent] = []
    cursor = after
    for entries in _pages(store, after, page):
        marked = {(e.tx, e.record) for e in entries
                  if e.field == MIGRATED and e.new is True}
        for e in entries:
            kind = c.type_of(e, (e.tx, e.record) in marked)
            if kind is not None:
                out.append(IntegrationEvent(
                    f"evt-{e.seq}-{e.hash[:12]}", e.seq, kind, e.at, e.tx, e.actor, e.reason,
                    e.record, e.record_class, None, e.field,
                    e.old if e.action == AuditAction.UPDATE else None,
                    e.new if e.action == AuditAction.UPDATE else e.new.get("props"),
                    e.event_id))
            if len(out) >= limit:
                return _keyed(store, out), e.seq
        cursor = entries[-1].seq
    return _keyed(store, out), cursor


def _keyed(store: GraphStore, events: list[IntegrationEvent]) -> list[IntegrationEvent]:
    nodes = store.get_many({e.record for e in events})
    return [replace(e, key=nodes[e.record].key) if e.record in nodes else e for e in events]
