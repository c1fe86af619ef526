"""GS1 EPCIS 2.0 capture (JSON-LD): validation, the CBV 2.0 event hash, and translation into the
one write path.

A document is checked against the EPCIS 2.0 JSON schema (``ingest/epcis_schema/``, GS1's schema
files unchanged) with ``uri`` / ``date-time`` formats enforced, so a non-CBV bare business step or
disposition, an un-namespaced ILMD or extension field and a malformed time are refused like any
other schema breach. Each event then becomes one ``tracegraph.capture/1`` event keyed by its
event hash: an :data:`EPCISEvent` node (the fields the query interface filters on, and the event
as received), the things it names (a plant record when the identifier resolves to one, else an
``EPCISObject``) and derivation edges -- aggregation (parent from each child) and transformation
(each output from each input) -- so genealogy and recall run over EPCIS data.

An error declaration names an event already captured: the event's record gains the declaration
(its prior state is kept as a record version by the write path); nothing is deleted.
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft7Validator, FormatChecker  # type: ignore[import-untyped]  # jsonschema ships no type hints (no stubs pinned)
from referencing import Registry, Resource

from graph.authority import Principal
from graph.errors import Problem, WriteRejectedError
from graph.identifiers.gs1 import GS1Error, parse_identifier, to_digital_link
from graph.identifiers.identify import identify
from graph.port import GraphStore
from graph.write import Writer, WriteResult
from ingest.capture import parse_document, to_write_events
from ingest.epcis_hash import event_hash, namespaces_of
from ontology.codes import DerivationKind
from ontology.datatypes import now_utc_text
from ontology.vocab import Vocabulary

__all__ = ["EVENT_TYPES", "canonical_id", "capture_epcis", "epcis_events", "epcis_single_event",
           "event_hash", "to_capture_document"]

SCHEMA_DIR = Path(__file__).parent / "epcis_schema"
SINGLE_EVENT_CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransformationEvent", "AssociationEvent",
               "TransactionEvent")
CBV = "https://ref.gs1.org/cbv/"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_IDENTIFIER_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList",
                   "outputQuantityList")


def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(_URI.match(value))


def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@functools.cache
def _validator() -> Draft7Validator:
    registry: Registry[Any] = Registry()
    root: dict[str, Any] = {}
    for f in sorted(SCHEMA_DIR.rglob("*.json")):
        schema = orjson.loads(f.read_bytes())
        registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
        if f.name == "EPCIS-JSON-Schema-root.json":
            root = schema
    formats = FormatChecker(formats=())
    formats.checks("uri")(_is_uri)
    formats.checks("date-time")(_is_datetime)
    return Draft7Validator(root, registry=registry, format_checker=formats)


def _reject(problems: list[Problem]) -> WriteRejectedError:
    return WriteRejectedError(problems)


def epcis_events(data: bytes | str | dict[str, Any]) -> list[dict[str, Any]]:
    """The events of a valid EPCIS 2.0 capture document, or ``WriteRejectedError`` naming every
    problem (field as a JSON path, value, rule, message)."""
    try:
        doc = orjson.loads(data) if isinstance(data, (bytes, str)) else data
    except orjson.JSONDecodeError as e:
        raise _reject([Problem(rule="json", message=f"not JSON: {e}")]) from None
    if not isinstance(doc, dict) or doc.get("type") != "EPCISDocument":
        value = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise _reject([Problem(rule="epcis-capture-document", field="type", value=value,
                               message="POST /capture takes an EPCISDocument")])
    problems = []
    for err in sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path)):
        inst = err.instance
        problems.append(Problem(
            rule=f"epcis-schema:{err.validator}",
            field="/".join(str(p) for p in err.absolute_path) or "(document)",
            value=inst if not isinstance(inst, (dict, list)) else None,
            message=err.message[:300]))
    if problems:
        raise _reject(problems)
    body = doc["epcisBody"]
    events: list[dict[str, Any]] = body.get("eventList", [body["event"]] if "event" in body
                                            else [])
    return _with_prefixes(events, doc.get("@context"))


def _with_prefixes(events: list[dict[str, Any]], context: Any) -> list[dict[str, Any]]:
    """The events, each carrying the document's namespace prefixes in its own ``@context``
    (the event hash and the export need them once the event is out of its document)."""
    prefixes = namespaces_of(context)
    if not prefixes:
        return events
    out = []
    for ev in events:
        own = ev.get("@context")
        if own is None:
            ev = {"@context": [prefixes], **ev}
        elif not set(prefixes) <= set(namespaces_of(own)):
            ev = {**ev, "@context": [prefixes, *(own if isinstance(own, list) else [own])]}
        out.append(ev)
    return out


# --- the CBV 2.0 event hash ------------------------------------------------------------------


def canonical_id(text: str) -> str:
    """A GS1 key (EPC URN, Digital Link, element string) as its canonical Digital Link URI;
    anything else unchanged."""
    if not text.startswith(("urn:epc:id:", "urn:epc:class:", "http://", "https://", "(")):
        return text
    try:
        return to_digital_link(parse_identifier(text))
    except GS1Error:
        return text


def _cbv(word: str, prefix: str) -> str:
    return word if ":" in word else CBV + prefix + word


# --- translation into a tracegraph.capture/1 document ----------------------------------------


def _ids(event: dict[str, Any], *fields: str) -> list[str]:
    out: list[str] = []
    for f in fields:
        v = event.get(f)
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, list):
            out.extend(x for x in v if isinstance(x, str))
    return out


def _quantities(event: dict[str, Any], field: str) -> list[tuple[str, float | None, str | None]]:
    return [(q["epcClass"], q.get("quantity"), q.get("uom")) for q in event.get(field, [])]


def _location(event: dict[str, Any], field: str) -> str | None:
    v = event.get(field)
    return v.get("id") if isinstance(v, dict) else None


class _Things:
    """Resolves the identifiers an event names to graph nodes: a plant record (traceable) when
    the identifier resolves to exactly one, else an EPCIS object minted in the document."""

    def __init__(self, store: GraphStore, vocab: Vocabulary) -> None:
        self.store = store
        self.vocab = vocab
        self.traceable = set(vocab.subclasses_of("TraceableEntity"))
        self.new: dict[str, dict[str, Any]] = {}
        self._memo: dict[str, str] = {}

    def iri(self, ident: str) -> str:
        canon = canonical_id(ident)
        hit = self._memo.get(canon)
        if hit is None:
            found = [n for n in identify(self.store, canon) if n.label in self.traceable]
            if len(found) == 1:
                hit = found[0].iri
            else:
                hit = self.vocab.mint_iri("EPCISObject", canon)
                if not found:
                    self.new[canon] = {"class": "EPCISObject", "key": canon}
            self._memo[canon] = hit
        return hit


def to_capture_document(events: list[dict[str, Any]], store: GraphStore,
                        vocab: Vocabulary) -> dict[str, Any]:
    """The ``tracegraph.capture/1`` document that writes these (validated) EPCIS events."""
    things = _Things(store, vocab)
    out: list[dict[str, Any]] = []
    keyed = [(ev, event_hash(ev)) for ev in events]
    eids = [f"{h}#error-declaration" if "errorDeclaration" in ev else h for ev, h in keyed]
    seen = set(store.events(eids))  # the same event (same hash) captured before: nothing new
    for (ev, h), eid in zip(keyed, eids, strict=True):
        declared = "errorDeclaration" in ev
        if eid in seen:
            continue
        seen.add(eid)
        etype = ev["type"]
        when = ev["eventTime"]
        names = _ids(ev, "parentID", *_IDENTIFIER_LISTS)
        names += [c for f in _QUANTITY_LISTS for c, _, _ in _quantities(ev, f)]
        props: dict[str, Any] = {"epcisEventType": etype, "epcisEventTime": when,
                                 "epcisDocument": orjson.dumps(ev).decode()}
        if "eventID" in ev:
            props["epcisEventId"] = ev["eventID"]
        for field, prop in (("bizStep", "epcisBizStep"), ("disposition", "epcisDisposition")):
            if field in ev:
                props[prop] = _cbv(ev[field], "BizStep-" if field == "bizStep" else "Disp-")
        loc = _location(ev, "bizLocation")
        if loc:
            props["epcisBizLocation"] = canonical_id(loc)
        node = {"class": "EPCISEvent", "key": h, "properties": props,
                "links": {"epcisObject": list(dict.fromkeys(things.iri(n) for n in names))}}
        derivations = [] if declared else _derivations(ev, things, when)
        reason = (f"EPCIS error declaration ({ev['errorDeclaration'].get('reason', 'no reason')})"
                  if declared else f"EPCIS capture: {etype}")
        minted = [things.new.pop(k) for k in list(things.new)]
        out.append({"eventId": eid, "reason": reason, "nodes": [*minted, node],
                    "derivations": derivations})
    return {"format": "tracegraph.capture/1", "source": "epcis", "events": out}


def _derivations(ev: dict[str, Any], things: _Things, when: str) -> list[dict[str, Any]]:
    etype, action = ev["type"], ev.get("action")
    out: list[dict[str, Any]] = []
    if etype == "AggregationEvent" and action in ("ADD", "OBSERVE") and "parentID" in ev:
        parent = things.iri(ev["parentID"])
        for c in _ids(ev, "childEPCs"):
            out.append({"kind": DerivationKind.AGGREGATION, "output": parent,
                        "input": things.iri(c), "time": when})
        for c, q, uom in _quantities(ev, "childQuantityList"):
            out.append({"kind": DerivationKind.AGGREGATION, "output": parent,
                        "input": things.iri(c), "quantity": q, "unit": uom, "time": when})
    elif etype == "TransformationEvent":
        inputs: list[tuple[str, float | None, str | None]] = [
            (things.iri(i), None, None) for i in _ids(ev, "inputEPCList")]
        inputs += [(things.iri(c), q, u) for c, q, u in _quantities(ev, "inputQuantityList")]
        outputs = [things.iri(o) for o in _ids(ev, "outputEPCList")]
        outputs += [things.iri(c) for c, _, _ in _quantities(ev, "outputQuantityList")]
        for o in dict.fromkeys(outputs):
            for i, q, u in inputs:
                if i != o:
                    out.append({"kind": DerivationKind.CONSUMPTION, "output": o, "input": i,
                                "quantity": q, "unit": u, "time": when})
    return [{k: v for k, v in d.items() if v is not None} for d in out]


def epcis_single_event(data: bytes | str | dict[str, Any]) -> list[dict[str, Any]]:
    """The one event of a single-event capture (``POST /events``): a bare EPCIS 2.0 event with
    its ``@context``, validated as the only event of a document; problems name the event's own
    fields (``bizStep``, not ``epcisBody/eventList/0/bizStep``)."""
    try:
        ev = orjson.loads(data) if isinstance(data, (bytes, str)) else data
    except orjson.JSONDecodeError as e:
        raise _reject([Problem(rule="json", message=f"not JSON: {e}")]) from None
    if not isinstance(ev, dict) or ev.get("type") not in EVENT_TYPES:
        value = ev.get("type") if isinstance(ev, dict) else type(ev).__name__
        raise _reject([Problem(rule="epcis-capture-event", field="type", value=value,
                               message="POST /events takes one EPCIS event: "
                                       + ", ".join(EVENT_TYPES))])
    doc = {"@context": ev.get("@context", SINGLE_EVENT_CONTEXT), "type": "EPCISDocument",
           "schemaVersion": "2.0", "creationDate": now_utc_text(),
           "epcisBody": {"eventList": [ev]}}
    try:
        return epcis_events(doc)
    except WriteRejectedError as e:
        inner = "epcisBody/eventList/0"
        raise _reject([replace(p, field=p.field.removeprefix(inner).lstrip("/") or "(event)")
                       for p in e.problems]) from None


def capture_epcis(writer: Writer, store: GraphStore, vocab: Vocabulary,
                  data: bytes | str | dict[str, Any], actor: str,
                  dry_run: bool = False, single_event: bool = False,
                  principal: Principal | None = None) -> tuple[list[str], WriteResult]:
    """Validate and write one EPCIS document (or, with ``single_event``, one bare event)
    atomically as ``principal`` (the signed-in user; none: the system loader as ``actor``);
    the events' hash IDs and the result."""
    events = epcis_single_event(data) if single_event else epcis_events(data)
    doc = to_capture_document(events, store, vocab)
    result = writer.apply(to_write_events(parse_document(doc), vocab, actor, principal),
                          dry_run=dry_run)
    return [event_hash(e) for e in events], result
