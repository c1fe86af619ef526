"""EPCIS 2.0 queries over captured events: the common SimpleEventQuery parameters, an
EPCISQueryDocument answer, and a lot's or unit's genealogy as an EPCIS document."""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from ingest.epcis import _cbv, canonical_id
from ingest.epcis_native import native_events, recorded_events
from ingest.strict_json import clip
from ontology.datatypes import now_utc_text, to_utc_text
from ontology.terms import R

__all__ = ["CONTEXT", "DEFAULT_PER_PAGE", "MAX_PER_PAGE", "PARAMETERS", "QueryError",
           "event_by_id", "genealogy_document", "query_events", "query_page"]

CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
PARAMETERS = ("eventType", "GE_eventTime", "LT_eventTime", "GE_recordTime", "LT_recordTime",
              "EQ_bizStep", "EQ_disposition", "MATCH_epc", "MATCH_anyEPC", "MATCH_epcClass",
              "EQ_bizLocation", "EXISTS_errorDeclaration", "eventCountLimit", "perPage",
              "nextPageToken")
_PAGE_PARAMS = ("perPage", "nextPageToken")
#: the binding's default page size (once a client pages) and this server's upper limit
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 10_000
_EPC_FIELDS = ("epcList", "childEPCs")
_ANY_FIELDS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_CLASS_FIELDS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")


class QueryError(ValueError):
    """A query parameter the interface cannot answer (EPCIS QueryParameterException)."""

    def __init__(self, field: str, value: str, rule: str) -> None:
        super().__init__(f"{field}={value!r}: {rule}")
        self.field, self.value, self.rule = field, value, rule


def _ids(ev: Mapping[str, Any], fields: tuple[str, ...], parent: bool) -> set[str]:
    out = {canonical_id(ev["parentID"])} if parent and "parentID" in ev else set()
    for f in fields:
        out |= {canonical_id(x) for x in ev.get(f, [])}
    return out


def _classes(ev: Mapping[str, Any]) -> set[str]:
    return {canonical_id(q["epcClass"]) for f in _CLASS_FIELDS for q in ev.get(f, [])}


def _event(n: NodeRecord) -> dict[str, Any]:
    ev: dict[str, Any] = orjson.loads(str(n.props["epcisDocument"]))
    ev["recordTime"] = n.recorded_at
    ev.setdefault("eventID", n.key)
    return ev


def event_by_id(store: GraphStore, event_id: str) -> dict[str, Any] | None:
    """One captured event by its hash ID or by the eventID it was captured with."""
    for prop in ("epcisEventHash", "epcisEventId"):
        hits = [n for n in store.find(event_id, prop) if n.label == "EPCISEvent"]
        if hits:
            return _event(hits[0])
    return None


def query_events(store: GraphStore, params: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    """The captured events matching every given parameter (each list value an OR), in event
    time order (ties by event ID); with ``perPage``, its first page (:func:`query_page`)."""
    return query_page(store, params)[0]


def query_page(store: GraphStore, params: Mapping[str, list[str]]
               ) -> tuple[list[dict[str, Any]], str | None]:
    """The events :func:`query_events` answers, paged by the EPCIS 2.0 REST binding's
    ``perPage`` (default 30 once a ``nextPageToken`` is given): one page and the token of the
    next (None on the last page or without ``perPage``).

    The first page pins the answer: the token carries the store's watermark and the record
    time of that page, and every page answers from what was recorded by then, so a capture
    between pages neither repeats nor skips an event (it comes in a later query). The token
    also carries where the page ended (event time, event ID) and a digest of the other
    parameters: a token from another query, or not from this server, is refused.

    The store is read by record time (the (type, tx) index of derivations): a query bounded by
    ``GE_recordTime`` reads the derivations recorded since, not every one."""
    for name in params:
        if name not in PARAMETERS:
            raise QueryError(name, ",".join(params[name]), "not a supported query parameter")

    def one(name: str) -> str | None:
        v = params.get(name)
        return v[-1] if v else None

    def split(name: str) -> set[str]:
        return {x.strip() for v in params.get(name, []) for x in v.split(",") if x.strip()}

    bounds: dict[str, str] = {}
    for name in ("GE_eventTime", "LT_eventTime", "GE_recordTime", "LT_recordTime"):
        v = one(name)
        if v is not None:
            try:
                bounds[name] = to_utc_text(v)
            except ValueError:
                raise QueryError(name, v, "a date-time with a time zone") from None
    limit = _positive(one("eventCountLimit"), "eventCountLimit", None)
    token = one("nextPageToken")
    per_page = _positive(one("perPage"), "perPage", MAX_PER_PAGE)
    if per_page is None and token is not None:
        per_page = DEFAULT_PER_PAGE
    cursor = _Cursor.decode(token, _digest(params)) if token is not None else None
    types = split("eventType")
    steps = {_cbv(s, "BizStep-") for s in split("EQ_bizStep")}
    disps = {_cbv(s, "Disp-") for s in split("EQ_disposition")}
    locs = {canonical_id(s) for s in split("EQ_bizLocation")}
    epc, any_epc, cls = (({canonical_id(s) for s in split(p)})
                         for p in ("MATCH_epc", "MATCH_anyEPC", "MATCH_epcClass"))
    pinned_at = cursor.at if cursor else now_utc_text() if per_page else None
    out: list[tuple[str, str, dict[str, Any]]] = []
    with store.snapshot() as watermark:
        pinned = cursor.tx if cursor else watermark if per_page else None
        since = bounds.get("GE_recordTime")
        after_tx = store.tx_at(_just_before(since)) if since else 0
        until_tx = store.tx_at(bounds["LT_recordTime"]) if "LT_recordTime" in bounds else None
        if pinned is not None:
            until_tx = pinned if until_tx is None else min(until_tx, pinned)
        captured = (_event(n) for n in store.nodes_of_class("EPCISEvent")
                    if since is None or n.recorded_at >= since)
        native = recorded_events(store, after_tx, until_tx, since)  # issue 18 item 6
        for ev in itertools.chain(captured, native):
            et, rt = to_utc_text(str(ev["eventTime"])), str(ev["recordTime"])
            loc = ev.get("bizLocation")
            if ((types and ev["type"] not in types)
                    or (pinned_at is not None and rt > pinned_at)
                    or ("GE_eventTime" in bounds and et < bounds["GE_eventTime"])
                    or ("LT_eventTime" in bounds and et >= bounds["LT_eventTime"])
                    or ("GE_recordTime" in bounds and rt < bounds["GE_recordTime"])
                    or ("LT_recordTime" in bounds and rt >= bounds["LT_recordTime"])
                    or (steps and _cbv(str(ev.get("bizStep")), "BizStep-") not in steps)
                    or (disps and _cbv(str(ev.get("disposition")), "Disp-") not in disps)
                    or (locs and not (isinstance(loc, dict)
                                      and canonical_id(str(loc.get("id"))) in locs))):
                continue
            if "EXISTS_errorDeclaration" in params and "errorDeclaration" not in ev:
                continue
            if ((epc and not epc & _ids(ev, _EPC_FIELDS, parent=False))
                    or (any_epc and not any_epc & _ids(ev, _ANY_FIELDS, parent=True))
                    or (cls and not cls & _classes(ev))):
                continue
            key = (et, str(ev["eventID"]))
            if cursor is None or key > (cursor.time, cursor.event):
                out.append((*key, ev))
    out.sort(key=lambda x: (x[0], x[1]))
    served = cursor.served if cursor else 0
    left = None if limit is None else max(limit - served, 0)
    size = per_page if left is None else left if per_page is None else min(per_page, left)
    page = out if size is None else out[:size]
    if (per_page is None or pinned is None or pinned_at is None or not page
            or len(out) <= len(page) or (left is not None and len(page) >= left)):
        return [ev for _, _, ev in page], None
    last = page[-1]
    nxt = _Cursor(pinned, pinned_at, last[0], last[1], served + len(page), _digest(params))
    return [ev for _, _, ev in page], nxt.encode()


def _positive(v: str | None, name: str, most: int | None) -> int | None:
    if v is None:
        return None
    if not v.isdigit() or int(v) < 1 or (most is not None and int(v) > most):
        raise QueryError(name, v, "a positive integer" if most is None
                         else f"an integer from 1 to {most}")
    return int(v)


def _just_before(at: str) -> str:
    """The record time one microsecond before ``at`` (UTC text): the transactions recorded by
    then are those before ``at``."""
    return to_utc_text(datetime.fromisoformat(at.replace("Z", "+00:00"))
                       - timedelta(microseconds=1))


def _digest(params: Mapping[str, list[str]]) -> str:
    """What a token is for: the query's parameters but the page's own."""
    kept = sorted((k, v) for k, vs in params.items() if k not in _PAGE_PARAMS for v in vs)
    return hashlib.sha256(orjson.dumps(kept)).hexdigest()[:16]


@dataclass(frozen=True)
class _Cursor:
    """Where a page ended, in a ``nextPageToken``: the pinned watermark and record time, the
    last event's (event time, event ID), how many events were served, the query's digest."""

    tx: int
    at: str
    time: str
    event: str
    served: int
    query: str

    def encode(self) -> str:
        raw = orjson.dumps([self.tx, self.at, self.time, self.event, self.served, self.query])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, query: str) -> _Cursor:
        rule = "a nextPageToken this server gave for the same query"
        try:
            v = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (ValueError, orjson.JSONDecodeError):
            raise QueryError("nextPageToken", clip(token), rule) from None
        if not (isinstance(v, list) and len(v) == 6
                and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0
                        for x in (v[0], v[4]))
                and all(isinstance(x, str) for x in (v[1], v[2], v[3], v[5]))
                and v[5] == query):
            raise QueryError("nextPageToken", clip(token), rule)
        return cls(*v)


def query_document(events: list[dict[str, Any]], created: str) -> dict[str, Any]:
    return {"@context": CONTEXT, "type": "EPCISQueryDocument", "schemaVersion": "2.0",
            "creationDate": created,
            "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery",
                                           "resultsBody": {"eventList": events}}}}


def genealogy_document(store: GraphStore, seed: str, created: str,
                       direction: Direction = Direction.BOTH, max_depth: int = 50,
                       declared_in_error: bool = True) -> dict[str, Any]:
    """The EPCIS events naming any node of the seed's genealogy (upstream and downstream), as
    an EPCISDocument a partner can capture: the captured EPCIS events and the events of the
    plant's own records (:mod:`ingest.epcis_native`).

    An event declared in error is never silently mixed in: it is exported with its
    ``errorDeclaration`` (so a receiver sees the declaration, and the derivations the event
    implied are known to be in question), or left out with ``declared_in_error=False``. The
    genealogy walk itself is the engines' and still runs over the event's derivations: the
    write path keeps history and a correction never overwrites."""
    g = store.genealogy([seed], direction, max_depth)
    iris = list(dict.fromkeys([seed, *g.nodes]))
    events = {e.src: e for e in store.links(iris, [R.EPCIS_OBJECT], Direction.DOWNSTREAM)}
    nodes = store.get_many(list(events))
    evs = sorted([*(e for e in (_event(n) for n in nodes.values() if n.label == "EPCISEvent")
                    if declared_in_error or "errorDeclaration" not in e),
                  *native_events(store, iris)],  # the plant's own records (issue 18 item 6)
                 key=lambda e: to_utc_text(str(e["eventTime"])))
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": created, "epcisBody": {"eventList": evs}}
