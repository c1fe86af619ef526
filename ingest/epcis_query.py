"""EPCIS 2.0 queries over captured events: the common SimpleEventQuery parameters, an
EPCISQueryDocument answer, and a lot's or unit's genealogy as an EPCIS document."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import orjson

from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from ingest.epcis import _cbv, canonical_id
from ingest.epcis_native import native_events
from ontology.datatypes import to_utc_text
from ontology.terms import R

__all__ = ["CONTEXT", "PARAMETERS", "QueryError", "event_by_id", "genealogy_document",
           "query_events"]

CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
PARAMETERS = ("eventType", "GE_eventTime", "LT_eventTime", "GE_recordTime", "LT_recordTime",
              "EQ_bizStep", "EQ_disposition", "MATCH_epc", "MATCH_anyEPC", "MATCH_epcClass",
              "EQ_bizLocation", "EXISTS_errorDeclaration", "eventCountLimit")
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
    time order."""
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
    limit = one("eventCountLimit")
    if limit is not None and (not limit.isdigit() or int(limit) < 1):
        raise QueryError("eventCountLimit", limit, "a positive integer")
    types = split("eventType")
    steps = {_cbv(s, "BizStep-") for s in split("EQ_bizStep")}
    disps = {_cbv(s, "Disp-") for s in split("EQ_disposition")}
    locs = {canonical_id(s) for s in split("EQ_bizLocation")}
    epc, any_epc, cls = (({canonical_id(s) for s in split(p)})
                         for p in ("MATCH_epc", "MATCH_anyEPC", "MATCH_epcClass"))
    out: list[tuple[str, dict[str, Any]]] = []
    captured = (_event(n) for n in store.nodes_of_class("EPCISEvent"))
    for ev in itertools.chain(captured, native_events(store)):  # issue 18 item 6
        et, rt = to_utc_text(str(ev["eventTime"])), str(ev["recordTime"])
        loc = ev.get("bizLocation")
        if ((types and ev["type"] not in types)
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
        out.append((et, ev))
    out.sort(key=lambda x: x[0])
    events = [ev for _, ev in out]
    return events[:int(limit)] if limit else events


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
