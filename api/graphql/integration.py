"""GraphQL surface of the integration events (issue 18 item 6): ``integrationEvents(after,
first, types)`` — the workflow events after a cursor, oldest first, and the cursor to continue
from (the same :func:`graph.integration.events_since` as ``GET /api/integration/events``, the
webhooks and ``tracegraph events replay``) — and ``webhookSubscriptions`` (administrator and
auditor: each endpoint, whether it is active and the cursor delivered through; never the signing
secret, a server setting)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.types import as_json, bad_input, page, runtime_of
from graph.integration import IntegrationEvent, event_types, events_since
from graph.port import GraphStore
from ontology.vocab import Vocabulary
from tracegraph.integration import subscriptions

__all__ = ["Query", "select"]


@strawberry.type(name="IntegrationEvent", description="A workflow event (a deviation raised "
                 "or advanced, a hold opened or disposed, a batch released …): the audit "
                 "entry of its change.")
class EventItem:
    id: str = strawberry.field(description="Stable across re-deliveries (receivers "
                                           "deduplicate by it).")
    cursor: int = strawberry.field(description="Its position (the audit sequence number).")
    type: str = strawberry.field(description="Its IntegrationEventType code.")
    at: str = strawberry.field(description="When it was recorded (UTC).")
    actor: str = strawberry.field(description="The user whose command wrote it.")
    reason: str | None
    record: str = strawberry.field(description="The IRI of the record it changed.")
    key: str | None = strawberry.field(description="The record's business key.")
    cls: str = strawberry.field(name="class", description="The record's class.")
    field: str | None = strawberry.field(description="The property set (null: created).")
    old: JSON | None = strawberry.field(name="from", description="The value before.")
    new: JSON | None = strawberry.field(name="to", description="The value after (created: "
                                                               "the record's properties).")
    tx: int
    write_event: str | None = strawberry.field(description="The write's event id.")

    @classmethod
    def of(cls, e: IntegrationEvent) -> EventItem:
        return cls(id=e.id, cursor=e.cursor, type=e.type, at=e.at, actor=e.actor,
                   reason=e.reason, record=e.record, key=e.key, cls=e.record_class,
                   field=e.field, old=as_json(e.old), new=as_json(e.new), tx=e.tx,
                   write_event=e.write_event)


@strawberry.type(description="A page of integration events.")
class IntegrationEventPage:
    events: list[EventItem]
    next: int = strawberry.field(description="The cursor to pass as `after` for the next page.")
    types: list[str] = strawberry.field(description="Every event type there is.")


@strawberry.type(description="A webhook endpoint (never its signing secret).")
class WebhookSubscription:
    key: str
    endpoint: str = strawberry.field(description="The URL events are POSTed to.")
    active: bool
    cursor: int = strawberry.field(description="Delivered through this event cursor.")
    failures: int = strawberry.field(description="Failed attempts since the last delivery.")
    last_error: str | None


def select(store: GraphStore, vocab: Vocabulary, after: int, first: int,
           types: frozenset[str] | None) -> tuple[list[IntegrationEvent], int]:
    """Up to ``first`` events after ``after`` of ``types`` (None: all), and the next cursor:
    :func:`events_since` pages, filtered."""
    out: list[IntegrationEvent] = []
    cursor = after
    while len(out) < first:
        found, nxt = events_since(store, vocab, cursor, first)
        for e in found:
            if types is None or e.type in types:
                out.append(e)
                if len(out) == first:
                    return out, e.cursor
        cursor = max(cursor, nxt)
        if len(found) < first:
            break
    return out, cursor


@strawberry.type
class Query:
    @strawberry.field(description="The integration events after cursor `after`, oldest "
                                  "first, at most `first`, of `types` (default: all), and "
                                  "the cursor to continue from.")
    def integration_events(self, info: Info[Any, None], after: int = 0, first: int = 100,
                           types: list[str] | None = None) -> IntegrationEventPage:
        rt = runtime_of(info)
        if after < 0:
            raise bad_input("after", after, "a cursor is 0 or more")
        n = page("first", first)
        known = event_types(rt.vocab)
        unknown = [t for t in types or () if t not in known]
        if unknown:
            raise bad_input("types", unknown[0], "one of " + ", ".join(known))
        found, nxt = select(rt.store, rt.vocab, after, n,
                            frozenset(types) if types else None)
        return IntegrationEventPage(events=[EventItem.of(e) for e in found], next=nxt,
                                    types=known)

    @strawberry.field(description="The webhook subscriptions (administrator only): endpoint, "
                                  "active, delivery cursor, last failure; never the secret.")
    def webhook_subscriptions(self, info: Info[Any, None]) -> list[WebhookSubscription]:
        rt = runtime_of(info)
        return [WebhookSubscription(key=s.key, endpoint=s.url, active=s.active,
                                    cursor=s.cursor, failures=s.failures,
                                    last_error=s.last_error)
                for s in subscriptions(rt.store, rt.settings.data_dir)]
