"""HTTP route for the device history record as a document: ``GET /api/edhr/{id}`` with
``format=html`` (default), ``pdf`` or ``json``; ``id`` is a batch or a serialized unit (any
identifier). HTML and PDF in English or Chinese (``lang``, else ``Accept-Language``), times in the
plant's time zone (``TRACEGRAPH_PLANT_TIMEZONE``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import CurrentUser, RuntimeDep, require
from api.language import negotiate, primary
from graph.identifiers.identify import identify
from ingest.signals.environment import raw_samples
from ontology.datatypes import TypeRuleError
from ontology.terms import C
from quality.edhr import PAPER, PdfUnavailable, batch_dhr, render_html, render_pdf, unit_dhr

__all__ = ["router"]

router = APIRouter()


@router.get("/api/edhr/{ident}", responses={200: {"content": {"text/html": {},
                                                                 "application/pdf": {}}}})
def edhr(ident: str, rt: RuntimeDep, user: CurrentUser, request: Request, format: str = "html",
         paper: str | None = None,
         as_of: Annotated[str | None, Query(alias="asOf")] = None,
         lang: str | None = None) -> Response:
    """The eDHR of a batch or unit as HTML, PDF or JSON; ``paper`` A4 or Letter (default:
    TRACEGRAPH_EDHR_PAPER); ``asOf`` a past record time: the record as known then (issue 18
    item 4); ``lang`` en or zh (default: the request's Accept-Language; issue 15 item 4)."""
    require("GET /api/edhr", user)
    chosen = negotiate(request.headers.get("accept-language")) if lang is None else primary(lang)
    if chosen is None:
        raise HTTPException(400, {"code": "BAD_INPUT", "field": "lang", "value": lang,
                                  "message": "a language is en or zh"})
    if format not in ("html", "pdf", "json"):
        raise HTTPException(400, {"code": "BAD_INPUT", "field": "format", "value": format,
                                  "message": "format is html, pdf or json"})
    paper = paper or rt.settings.edhr_paper
    if paper not in PAPER:
        raise HTTPException(400, {"code": "BAD_INPUT", "field": "paper", "value": paper,
                                  "message": "paper is A4 or Letter"})
    try:
        rt = rt.as_of(as_of)
    except TypeRuleError as e:
        raise HTTPException(400, {"code": "BAD_INPUT", "field": "asOf", "value": as_of,
                                  "message": e.rule}) from None
    found = [n for n in identify(rt.store, ident)
             if rt.vocab.cls(n.label).is_a(C.TraceableEntity)]
    if len(found) != 1:
        raise HTTPException(404, {"code": "NOT_FOUND", "field": "id", "value": ident,
                                  "message": "no single batch or unit has this identifier"})
    node = found[0]
    with raw_samples(rt.settings.data_dir) as raw:  # room conditions (issue 17 item 1)
        doc = (unit_dhr(rt, node.iri, samples=raw) if node.label == C.SerializedUnit
               else batch_dhr(rt, node.iri, samples=raw))
    doc["asOf"] = getattr(rt.store, "at", None)
    if format == "json":
        return JSONResponse(doc)
    html = render_html(doc, paper, chosen, rt.settings.plant_timezone)
    if format == "html":
        return HTMLResponse(html, headers={"Content-Language": chosen})
    try:
        pdf = render_pdf(html)
    except PdfUnavailable as e:
        raise HTTPException(503, {"code": "PDF_UNAVAILABLE", "message": str(e)}) from None
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="edhr-{node.key}.pdf"',
                             "Content-Language": chosen})
