"""tracegraph's own capture format (``tracegraph.capture/1``) and its translation into write
commands.

A capture document is a list of events. Each event has an ``eventId`` (its idempotency key), may
upsert nodes (master data or execution records) and may record derivations (genealogy edges)::

    {"format": "tracegraph.capture/1",
     "events": [
       {"eventId": "md-1", "actor": "system", "reason": "supplier onboarding",
        "nodes": [{"class": "Supplier", "key": "SUP-1", "properties": {"name": "Polymer AG"}},
                  {"class": "MaterialLot", "key": "RL-1",
                   "properties": {"supplierLotNumber": "PA-778"},
                   "links": {"ofMaterial": "Material/PP-H350", "suppliedBy": "Supplier/SUP-1"}}]},
       {"eventId": "ex-1",
        "derivations": [{"kind": "consumption", "output": "Batch/B-1", "input": "MaterialLot/RL-1",
                          "quantity": 12.5, "unit": "kg", "time": "2026-01-05T08:00:00Z",
                          "execution": "OperationExecution/B-1/OP20"}]}]}

References are ``Class/key`` (the key may contain ``/``) or a full IRI. A consumption into a batch
also records its qualified :class:`Consumption` node (quantity, unit, time, execution) for evidence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graph.authority import SYSTEM_LOADER, Migration, Principal
from graph.errors import Problem, WriteRejectedError
from graph.schema import NODE_SYSTEM_PROPS
from graph.write import Derivation, NodeUpsert, WriteEvent
from ontology.codes import DerivationKind
from ontology.datatypes import Scalar, StoredValue, TypeRuleError, coerce, to_utc_text
from ontology.vocab import UnknownTermError, Vocabulary

__all__ = ["FORMAT", "CaptureDocument", "CaptureEvent", "parse_document", "to_write_events"]

FORMAT = "tracegraph.capture/1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NodeIn(_Strict):
    cls: str = Field(alias="class", min_length=1)
    key: str = Field(min_length=1)
    properties: dict[str, Any] = Field(default_factory=dict)
    links: dict[str, str | list[str]] = Field(default_factory=dict)


class DerivationIn(_Strict):
    kind: str
    output: str = Field(min_length=1)
    input: str = Field(min_length=1)
    quantity: float | None = None
    unit: str | None = None
    time: str | None = None
    execution: str | None = None


class CaptureEvent(_Strict):
    event_id: str = Field(alias="eventId", min_length=1, max_length=200)
    event_time: str | None = Field(default=None, alias="eventTime")
    actor: str | None = None
    reason: str | None = None
    nodes: list[NodeIn] = Field(default_factory=list)
    derivations: list[DerivationIn] = Field(default_factory=list)


class CaptureDocument(_Strict):
    format: Literal["tracegraph.capture/1"]
    source: str | None = None
    actor: str | None = None
    events: list[CaptureEvent]


def parse_document(data: bytes | str | dict[str, Any]) -> CaptureDocument:
    """Parse and structurally validate a capture document, or raise ``WriteRejectedError``."""
    try:
        raw = orjson.loads(data) if isinstance(data, (bytes, str)) else data
    except orjson.JSONDecodeError as e:
        raise WriteRejectedError([Problem(rule="json", message=f"not JSON: {e}")]) from None
    try:
        return CaptureDocument.model_validate(raw)
    except ValidationError as e:
        raise WriteRejectedError([
            Problem(rule=f"schema:{err['type']}", message=err["msg"],
                    field=".".join(str(x) for x in err["loc"]),
                    value=err.get("input") if not isinstance(err.get("input"), dict) else None)
            for err in e.errors()]) from None


def event_hash(ev: CaptureEvent) -> str:
    body = orjson.dumps(ev.model_dump(mode="json", by_alias=True, exclude_none=True),
                        option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()


class _Resolver:
    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self.base = vocab.instance_base
        self._seen: dict[str, tuple[str, str | None]] = {}

    def ref(self, ref: str) -> tuple[str, str | None]:
        """IRI of a reference and, when the reference names it, its class."""
        hit = self._seen.get(ref)
        if hit is None:
            hit = self._seen[ref] = self._resolve(ref)
        return hit

    def _resolve(self, ref: str) -> tuple[str, str | None]:
        if ref.startswith(self.base):
            cls = ref[len(self.base):].split("/", 1)[0]
            return ref, cls if cls in self.vocab.classes else None
        if "://" in ref or ref.startswith("urn:"):
            return ref, None
        cls, sep, key = ref.partition("/")
        if not sep or not key:
            raise ValueError("a reference is 'Class/key' or an IRI")
        self.vocab.cls(cls)
        return self.vocab.mint_iri(cls, key), cls


def _consumption_key(event_id: str, index: int) -> str:
    """Business key of the qualified consumption record: short enough for a tg:code."""
    if len(event_id) <= 56:
        return f"{event_id}#{index}"
    return f"c-{hashlib.sha256(event_id.encode()).hexdigest()[:40]}#{index}"


def _coerce_props(vocab: Vocabulary, cls: str, props: dict[str, Any], where: str,
                  event_id: str, focus: str, problems: list[Problem],
                  read: dict[tuple[Any, str], Scalar] | None = None) -> dict[str, StoredValue]:
    """The properties as stored; ``read`` memoises the reading of text values (datatype,
    text) → value within a document (a pure function: a document repeats the same times,
    codes and numbers on thousands of records)."""
    c = vocab.cls(cls)
    read = {} if read is None else read
    out: dict[str, StoredValue] = {}
    for name, value in props.items():
        if name in vocab.system_managed_properties:
            problems.append(Problem(
                rule="system-managed-property", field=f"{where}.{name}", value="(withheld)",
                focus=focus, event_id=event_id,
                message=f"{name} is written only by tracegraph's account workflows"))
            continue
        if name in NODE_SYSTEM_PROPS:
            problems.append(Problem(
                rule="system-property", field=f"{where}.{name}", value=value, focus=focus,
                event_id=event_id, message=f"{name} is kept by tracegraph itself and cannot be "
                                           "written (use the node's key / class)"))
            continue
        p = c.data_properties.get(name)
        if p is None:
            rule = "ontology-domain" if name in vocab.properties else "ontology-unknown-term"
            problems.append(Problem(rule=rule, field=f"{where}.{name}", value=value, focus=focus,
                                    event_id=event_id,
                                    message=f"{name!r} is not a datatype property of {cls}"))
            continue
        try:
            if type(value) is str:
                hit = read.get((p.datatype, value))
                if hit is None:
                    hit = read[p.datatype, value] = coerce(p.datatype, value)
                out[name] = hit
            elif isinstance(value, list):
                out[name] = [coerce(p.datatype, v) for v in value]
            else:
                out[name] = coerce(p.datatype, value)
        except TypeRuleError as e:
            problems.append(Problem(rule=f"datatype:{e.rule}", field=f"{where}.{name}",
                                    value=value, focus=focus, event_id=event_id,
                                    message=f"{name} must be {e.rule}"))
    return out


def to_write_events(doc: CaptureDocument, vocab: Vocabulary, default_actor: str = "system",
                    principal: Principal | None = None,
                    migration: Migration | None = None) -> list[WriteEvent]:
    """Translate a parsed document into write commands, collecting every problem first.

    Who writes (graph.authority): a signed-in ``principal`` is the actor of every event, and a
    document or event naming another actor is refused (rule ``actor-mismatch``); without one
    the system loader writes, as the document's actor or ``default_actor``. A ``migration``
    writes as its administrator, with the legacy actor and the migration's reason in each
    event's reason.
    """
    problems: list[Problem] = []
    if principal is not None and principal is not SYSTEM_LOADER:
        claims = [("actor", doc.actor)] + [(f"events.{i}.actor", ev.actor)
                                           for i, ev in enumerate(doc.events)]
        problems += [Problem(rule="actor-mismatch", field=f, value=a,
                             message=f"the actor of a capture is the signed-in user "
                                     f"{principal.name}; a document may not claim another")
                     for f, a in claims if a is not None and a != principal.name]
    out = list(_events(doc.events, vocab, doc.actor or default_actor, problems))
    for we in out:
        if migration is not None:
            legacy = f"; legacy actor {we.actor}" if we.actor != migration.admin else ""
            we.reason = f"migration ({migration.reason}){legacy}" + \
                (f": {we.reason}" if we.reason else "")
            we.actor, we.migration, we.stage = migration.admin, True, migration.stage
        elif principal is not None:
            we.actor, we.roles = principal.name, principal.roles
    if problems:
        raise WriteRejectedError(problems)
    return out


def _events(events: Iterable[CaptureEvent], vocab: Vocabulary, actor: str,
            problems: list[Problem]) -> Iterator[WriteEvent]:
    resolve = _Resolver(vocab)
    read: dict[tuple[Any, str], Scalar] = {}  # (datatype, text) → value, this document
    times: dict[str, str] = {}  # derivation time → stored UTC text, this document
    kinds = vocab.prop("derivationKind").code_list or ()
    for ei, ev in enumerate(events):
        eid = ev.event_id
        we = WriteEvent(eid, event_hash(ev), ev.actor or actor, ev.reason)
        for ni, n in enumerate(ev.nodes):
            where = f"events.{ei}.nodes.{ni}"
            try:
                c = vocab.cls(n.cls)
            except UnknownTermError as e:
                problems.append(Problem(rule="ontology-unknown-term", field=f"{where}.class",
                                        value=n.cls, event_id=eid, message=str(e)))
                continue
            if n.cls in vocab.system_managed:
                problems.append(Problem(
                    rule="system-managed-class", field=f"{where}.class", value=n.cls,
                    event_id=eid, message=f"{n.cls} records are written only by tracegraph's "
                                          "own workflows (accounts, signatures, audit)"))
                continue
            if c.abstract or c.key_property is None:
                problems.append(Problem(rule="ontology-abstract", field=f"{where}.class",
                                        value=n.cls, event_id=eid,
                                        message=f"{n.cls} is abstract: use a concrete subclass"))
                continue
            iri = vocab.mint_iri(n.cls, n.key)
            props = _coerce_props(vocab, n.cls, n.properties, f"{where}.properties", eid, iri,
                                  problems, read)
            kp = c.key_property
            if kp in props and props[kp] != n.key:
                problems.append(Problem(
                    rule="business-key", field=f"{where}.properties.{kp}", value=props[kp],
                    focus=iri, event_id=eid,
                    message=f"{kp} is the business key of {n.cls} and must equal key {n.key!r}"))
            props[kp] = n.key
            links: dict[str, list[str]] = {}
            for name, refs in n.links.items():
                if name not in c.object_properties:
                    rule = "ontology-domain" if name in vocab.properties else \
                        "ontology-unknown-term"
                    problems.append(Problem(rule=rule, field=f"{where}.links.{name}", value=refs,
                                            focus=iri, event_id=eid,
                                            message=f"{name!r} is not a link of {n.cls}"))
                    continue
                for r in [refs] if isinstance(refs, str) else refs:
                    try:
                        links.setdefault(name, []).append(resolve.ref(r)[0])
                    except (ValueError, UnknownTermError) as e:
                        problems.append(Problem(rule="reference", field=f"{where}.links.{name}",
                                                value=r, focus=iri, event_id=eid, message=str(e)))
            we.nodes.append(NodeUpsert(n.cls, n.key, iri, props, links))
        for di, d in enumerate(ev.derivations):
            where = f"events.{ei}.derivations.{di}"
            if d.kind not in kinds:
                problems.append(Problem(rule="code-list:derivationKind", field=f"{where}.kind",
                                        value=d.kind, event_id=eid,
                                        message=f"kind must be one of {', '.join(kinds)}"))
                continue
            try:
                at = None if d.time is None else times.get(d.time) or \
                    times.setdefault(d.time, to_utc_text(d.time))
            except TypeRuleError as e:  # an empty or naive time is refused, never dropped
                problems.append(Problem(rule="time-aware", field=f"{where}.time", value=d.time,
                                        event_id=eid, message=str(e)))
                continue
            try:
                output, out_cls = resolve.ref(d.output)
                inp, _ = resolve.ref(d.input)
                via = resolve.ref(d.execution)[0] if d.execution else None
            except (ValueError, UnknownTermError) as e:
                problems.append(Problem(rule="reference", field=where, value=d.model_dump(),
                                        event_id=eid, message=str(e)))
                continue
            if d.quantity is not None and d.quantity < 0:
                problems.append(Problem(rule="quantity-non-negative", field=f"{where}.quantity",
                                        value=d.quantity, event_id=eid,
                                        message="a derived quantity cannot be negative"))
            we.derivations.append(Derivation(d.kind, output, inp, d.quantity, d.unit, at, via))
            if d.kind == DerivationKind.CONSUMPTION and out_cls == "Batch":
                key = _consumption_key(eid, di)
                given: dict[str, StoredValue | None] = {
                    "quantity": d.quantity, "unitCode": d.unit, "atTime": at}
                links = {"consumedEntity": [inp], "intoBatch": [output]}
                if via:
                    links["duringExecution"] = [via]
                ckey = vocab.cls("Consumption").key_property or "code"
                we.nodes.append(NodeUpsert(
                    "Consumption", key, vocab.mint_iri("Consumption", key),
                    {ckey: key, **{k: v for k, v in given.items() if v is not None}}, links))
        yield we
