"""The GS1 EPCIS 2.0 REST binding: ``POST /capture`` (an EPCISDocument, JSON-LD),
``POST /events`` (one event), ``GET /events`` (SimpleEventQuery parameters, an
EPCISQueryDocument back) and
``GET /epcis/genealogy`` (a lot's or unit's trace as an EPCISDocument).

Errors are RFC 7807 problem details in the binding's style (``type``, ``title``, ``status``,
``detail``) with every problem's field, value and rule; nothing is written on an error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.bodies import ECHO_ITEMS, clip
from api.deps import AccessRefused, CurrentUser, RuntimeDep, require
from graph.authority import Principal
from graph.errors import WriteRejectedError
from graph.identifiers.identify import identify_or_explain
from ingest.epcis import capture_epcis
from ingest.epcis_query import (
    QueryError,
    event_by_id,
    genealogy_document,
    query_document,
    query_page,
)
from ontology.datatypes import now_utc_text
from quality.accounts import User
from tracegraph.runtime import Runtime

__all__ = ["router"]

router = APIRouter(tags=["EPCIS 2.0"])
_EXC = "epcisException:"
_LD = "application/ld+json"


def _problem(status: int, kind: str, title: str, detail: str,
             problems: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": _EXC + kind, "title": title, "status": status,
                            "detail": detail}
    if problems is not None:
        body["problems"] = problems
    return JSONResponse(body, status, media_type="application/problem+json")


def _auth(operation: str, user: User | None) -> JSONResponse | str:
    """The user's name if they may perform ``operation``, else the refusal as a problem."""
    try:
        return require(operation, user).username
    except AccessRefused as e:
        return _problem(e.status_code, "SecurityException", e.code, e.message)


async def _capture(request: Request, rt: Runtime, user: User | None, operation: str,
                   single_event: bool) -> JSONResponse:
    who = _auth(operation, user)
    if isinstance(who, JSONResponse):
        return who
    what = "event" if single_event else "document"
    principal = None if user is None else Principal(user.username, user.roles)
    body = await request.body()
    try:  # validating and writing is CPU work: off the event loop
        hashes, result = await run_in_threadpool(capture_epcis, rt.writer, rt.store, rt.vocab,
                                                 body, who, single_event=single_event,
                                                 principal=principal)
    except WriteRejectedError as e:
        n = len(e.problems)
        first = e.problems[0]
        return _problem(400, "ValidationException", f"The EPCIS {what} was not captured",
                        f"{n} problem(s); first: {first.field or '(document)'}="
                        f"{clip(first.value)!r} breaks {first.rule}: {clip(first.message)}",
                        [clip(p.as_dict()) for p in e.problems[:ECHO_ITEMS]])
    headers = {"GS1-EPCIS-Version": "2.0.0"}
    if single_event:
        headers["Location"] = "/events/" + quote(hashes[0], safe="")
    return JSONResponse({"eventIDs": hashes, "captured": result.events_written,
                         "alreadyCaptured": len(hashes) - result.events_written,
                         "watermark": result.tx}, 201, headers=headers)


@router.post("/capture", status_code=201)
async def capture(request: Request, rt: RuntimeDep, user: CurrentUser) -> JSONResponse:
    """Capture an EPCISDocument synchronously: 201 with the events' hash IDs, or 400."""
    return await _capture(request, rt, user, "POST /capture", single_event=False)


@router.post("/events", status_code=201)
async def capture_event(request: Request, rt: RuntimeDep, user: CurrentUser) -> JSONResponse:
    """Capture one EPCIS event (the REST binding's single-event capture): 201 with its hash
    ID and a ``Location``, or 400 naming field, value and rule; nothing written on a 400."""
    return await _capture(request, rt, user, "POST /events", single_event=True)


@router.get("/events")
def events(request: Request, rt: RuntimeDep, user: CurrentUser) -> JSONResponse:
    """SimpleEventQuery over the captured events, as an EPCISQueryDocument; with ``perPage``
    a page, and while more remain a ``Link: <…>; rel="next"`` header to the next (the same
    query with its ``nextPageToken``)."""
    who = _auth("GET /events", user)
    if isinstance(who, JSONResponse):
        return who
    params: dict[str, list[str]] = {}
    for k, v in request.query_params.multi_items():
        params.setdefault(k, []).append(v)
    try:
        found, token = query_page(rt.store, params)
    except QueryError as e:
        return _problem(400, "QueryParameterException", "Invalid query parameter", str(e),
                        [{"field": e.field, "value": e.value, "rule": e.rule}])
    headers = {"GS1-EPCIS-Version": "2.0.0"}
    if token is not None:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "nextPageToken"]
        nxt = request.url.replace(query=urlencode([*query, ("nextPageToken", token)]))
        headers["Link"] = f'<{nxt}>; rel="next"'
    return JSONResponse(query_document(found, now_utc_text()), media_type=_LD,
                        headers=headers)


@router.get("/events/{event_id:path}")
def event(event_id: str, rt: RuntimeDep, user: CurrentUser) -> JSONResponse:
    """One captured event by its hash ID (the ``Location`` of a single-event capture) or the
    eventID it was captured with; an event declared in error shows its errorDeclaration."""
    who = _auth("GET /events/{eventID}", user)
    if isinstance(who, JSONResponse):
        return who
    found = event_by_id(rt.store, event_id)
    if found is None:
        return _problem(404, "NoSuchResourceException", "Unknown event",
                        f"no captured event has the ID {clip(event_id)!r}",
                        [{"field": "eventID", "value": clip(event_id),
                          "rule": "captured event"}])
    return JSONResponse(found, media_type=_LD, headers={"GS1-EPCIS-Version": "2.0.0"})


@router.get("/epcis/genealogy")
def genealogy(rt: RuntimeDep, user: CurrentUser, of: str, maxDepth: int = 50,
              declaredInError: bool = True) -> JSONResponse:
    """Every captured EPCIS event on the genealogy (both ways) of a lot or unit; events
    declared in error carry their ``errorDeclaration`` (``declaredInError=false``: left out)."""
    who = _auth("GET /epcis/genealogy", user)
    if isinstance(who, JSONResponse):
        return who
    nodes, why = identify_or_explain(rt.store, of)
    if len(nodes) != 1:
        return _problem(404, "NoSuchResourceException", "Unknown identifier",
                        clip(why or f"{of!r} names {len(nodes)} nodes; give the IRI", 400),
                        [{"field": "of", "value": clip(of), "rule": "identify"}])
    return JSONResponse(genealogy_document(rt.store, nodes[0].iri, now_utc_text(),
                                           max_depth=min(maxDepth, 50),
                                           declared_in_error=declaredInError),
                        media_type=_LD)
