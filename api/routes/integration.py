"""HTTP routes of the integration events (issue 18 item 6, :mod:`graph.integration`):
``GET /api/integration/events?after=N&limit=M`` (the events after cursor ``N`` and the cursor to
continue from: a QMS catching up, or replaying), ``GET``/``POST /api/integration/webhooks`` (the
administrator lists and registers endpoints; a registration is a capture of a
``WebhookSubscription`` through the Writer, whose authority table lets only the admin assert
one). The signing secret is a server setting: no route returns it."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import CurrentUser, RuntimeDep, require
from graph.authority import Principal
from graph.errors import WriteRejectedError
from graph.integration import event_types, events_since
from ontology.terms import C
from tracegraph.integration import subscriptions

__all__ = ["WebhookRequest", "router"]

router = APIRouter()


class WebhookRequest(BaseModel):
    key: str = Field(min_length=1, max_length=200, description="a name for the endpoint")
    url: str = Field(min_length=1, max_length=2000, description="the http(s) URL to POST to")
    active: bool = True
    reason: str = Field(min_length=1, max_length=2000)


@router.get("/api/integration/events")
def integration_events(rt: RuntimeDep, user: CurrentUser, after: int = Query(0, ge=0),
                       limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """The events after cursor ``after`` (oldest first) and ``next``, the cursor to pass
    next; ``types`` lists the event types there are."""
    require("GET /api/integration/events", user)
    found, nxt = events_since(rt.store, rt.vocab, after, limit)
    return {"events": [e.as_dict() for e in found], "next": nxt,
            "types": event_types(rt.vocab)}


@router.get("/api/integration/webhooks")
def list_webhooks(rt: RuntimeDep, user: CurrentUser) -> dict[str, Any]:
    """The active endpoints with their delivery cursor and last failure (never the secret)."""
    require("GET /api/integration/webhooks", user)
    return {"signed": bool(rt.settings.webhook_secret), "webhooks": [
        {"key": w.key, "url": w.url, "cursor": w.cursor, "failures": w.failures,
         "lastError": w.last_error}
        for w in subscriptions(rt.store, rt.settings.data_dir) if w.active]}


@router.post("/api/integration/webhooks", status_code=201)
async def register_webhook(body: WebhookRequest, rt: RuntimeDep,
                           user: CurrentUser) -> dict[str, Any]:
    """Register (or change) an endpoint: written through the Writer as the admin."""
    who = require("POST /api/integration/webhooks", user)
    doc = {"format": "tracegraph.capture/1", "events": [{
        "eventId": f"webhook:{uuid.uuid4().hex}", "reason": body.reason, "nodes": [{
            "class": C.WebhookSubscription, "key": body.key,
            "properties": {"endpointUrl": body.url, "webhookActive": body.active}}]}]}
    try:
        await run_in_threadpool(rt.capture, doc, None, False,
                                Principal(who.username, who.roles))
    except WriteRejectedError as e:
        raise HTTPException(400, {"problems": [p.as_dict() for p in e.problems]}) from None
    return {"key": body.key, "url": body.url, "active": body.active}
