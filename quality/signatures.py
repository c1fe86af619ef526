"""Electronic signatures (21 CFR 11.50, 11.70, 11.100, 11.200).

A signature is an ``ElectronicSignature`` node linked ``signs`` → the record and ``signedBy`` →
the user, holding the signer's printed name, the UTC time, the meaning and the SHA-256 of a
canonical form of exactly the signed content (:func:`canonical_content`). Signing
re-authenticates with the password (a failure counts toward lockout, like a failed login), and
the signature is written through the one write path, so the audit trail records it.

A signature is valid while the record still hashes to the signed hash: any later change to the
record's properties or links shows it as invalid (:func:`signatures_of`). Every rendering of a
record for people (:func:`render_record`) carries its signature manifestations (§11.50(b)).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from graph.errors import RefusedError
from graph.model import Direction, EdgeRecord, NodeRecord
from graph.port import GraphStore
from graph.schema import EDGE_SYSTEM_PROPS, NODE_SYSTEM_PROPS
from graph.session import Session, write_nodes
from graph.write import NodeUpsert
from ontology.authority import Command
from ontology.codes import RoleName, SignatureMeaning
from ontology.datatypes import Clock, StoredValue, to_utc_text
from ontology.terms import C, P, R
from quality.accounts import AuthError, authenticate, public_props, users_by_iri

__all__ = [
    "SIGNED_CONTENT_FORMAT",
    "SIGNER_ROLES",
    "Signature",
    "SignatureError",
    "canonical_content",
    "content_hash",
    "current_hash",
    "human_time",
    "manifestation",
    "manifestation_text",
    "render_record",
    "sign",
    "signatures_by_record",
    "signatures_of",
]

#: Version of the canonical form: a signature binds to content hashed this way.
SIGNED_CONTENT_FORMAT = "tracegraph.signed-content/1"
#: Records that are not signed themselves: signatures and the system's own bookkeeping.
NOT_SIGNABLE = frozenset({C.ElectronicSignature, C.AuditEvent, C.CaptureEvent,
                          C.GraphWatermark})
#: Records only holders of these roles may sign (any other account is refused, ``not-permitted``).
SIGNER_ROLES: dict[str, frozenset[str]] = {C.ValidationReport: frozenset({RoleName.QA}),
                                           C.ExposureProof: frozenset({RoleName.QA})}
#: Links that belong to signatures, never to the signed content.
_SIGNATURE_LINKS = frozenset({R.SIGNS, R.SIGNED_BY})


class SignatureError(RefusedError, ValueError):
    """A signature that cannot be applied: ``code`` says why, the message names the field, the
    value and the rule."""


@dataclass(frozen=True)
class Signature:
    """One electronic signature of a record, with whether it is still valid."""

    iri: str
    record_number: str
    record: str
    username: str
    printed_name: str
    signed_at: str  # stored UTC text
    meaning: str
    content_hash: str
    valid: bool
    signer: str = ""  # IRI of the signing user


def canonical_content(node: NodeRecord, links: Iterable[EdgeRecord]) -> bytes:
    """Canonical JSON bytes of exactly what a signature of ``node`` covers.

    That is the record's class, its own properties (without the system properties iri, key,
    recordedAt, updatedAt, txId) and its outgoing links (type, target and the link's own
    properties, without edgeId/recordedAt/txId), excluding signature links; keys sorted, links
    sorted, no whitespace. Record times are excluded so that only a change of content, not a
    re-write of the same content, invalidates a signature.
    """
    props = {k: v for k, v in node.props.items() if k not in NODE_SYSTEM_PROPS}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for e in links:
        if e.src != node.iri or e.type in _SIGNATURE_LINKS:
            continue
        own = {k: v for k, v in e.props.items() if k not in EDGE_SYSTEM_PROPS}
        grouped.setdefault(e.type, []).append({"target": e.dst, **own})
    for items in grouped.values():
        items.sort(key=lambda x: orjson.dumps(x, option=orjson.OPT_SORT_KEYS))
    doc = {"format": SIGNED_CONTENT_FORMAT, "class": node.label, "properties": props,
           "links": grouped}
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def content_hash(node: NodeRecord, links: Iterable[EdgeRecord]) -> str:
    """SHA-256 (lower-case hex) of :func:`canonical_content`."""
    return hashlib.sha256(canonical_content(node, links)).hexdigest()


def current_hash(store: GraphStore, iri: str) -> str | None:
    """The content hash of the record as stored now, or ``None`` if there is no such record."""
    return _hashes(store, [iri]).get(iri)


def _hashes(store: GraphStore, iris: Sequence[str]) -> dict[str, str]:
    nodes = store.get_many(iris)
    by_src: dict[str, list[EdgeRecord]] = {}
    for e in store.links(list(nodes)) if nodes else []:
        by_src.setdefault(e.src, []).append(e)
    return {i: content_hash(n, by_src.get(i, [])) for i, n in nodes.items()}


def sign(rt: Session, record_iri: str, username: str, password: str, meaning: str,
         reason: str, clock: Clock | None = None, expected_hash: str | None = None) -> Signature:
    """Apply an electronic signature of ``username`` with ``meaning`` to a record.

    Re-authenticates with ``password`` (``AuthError`` on failure, counted toward lockout);
    refuses accounts that hold only the read-only auditor role. ``expected_hash``, when given,
    is the hash of the content the signer was shown: if the record changed since, nothing is
    signed (``SignatureError`` code ``content-changed``).
    """
    clock = rt.clock if clock is None else clock
    if meaning not in set(SignatureMeaning):
        raise SignatureError("signature-meaning", f"must be one of "
                             f"{', '.join(SignatureMeaning)} (code list "
                             "tg:SignatureMeaningScheme)", "signatureMeaning", meaning)
    if not reason or not reason.strip():
        raise SignatureError("reason-required", "a signature needs a reason", "reason", reason)
    node = rt.store.get(record_iri)
    if node is None:
        raise SignatureError("no-such-record", "no record has this IRI", "record", record_iri)
    if node.label in NOT_SIGNABLE:
        raise SignatureError("not-signable", f"a {node.label} is not signed itself", "record",
                             record_iri)
    user = authenticate(rt, username, password, clock,
                        purpose=f"signature ({meaning}) of {record_iri}")
    if not user.roles - {RoleName.AUDITOR}:
        raise AuthError("not-permitted", "the auditor role reads and never signs",
                        value=username)
    if node.label in SIGNER_ROLES and not user.roles & SIGNER_ROLES[node.label]:
        raise AuthError("not-permitted", f"a {node.label} is signed only by the role(s) "
                        f"{', '.join(sorted(SIGNER_ROLES[node.label]))}", value=username)
    signed = current_hash(rt.store, record_iri)
    assert signed is not None
    if expected_hash is not None and expected_hash != signed:
        raise SignatureError("content-changed", "the record changed after it was shown to the "
                             f"signer (now {signed}); review it again", "expectedHash",
                             expected_hash)
    now = clock()
    number = f"SIG-{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:12]}"
    iri = rt.vocab.mint_iri(C.ElectronicSignature, number)
    at = to_utc_text(now)
    props: dict[str, StoredValue] = {
        P.recordNumber: number, P.printedName: user.printed_name, P.signedAt: at,
        P.signatureMeaning: meaning, P.contentHash: signed}
    write_nodes(rt, [NodeUpsert(C.ElectronicSignature, number, iri, props,
                                {P.signs: [record_iri], P.signedBy: [user.iri]})],
                username, reason, f"signature:{number}", command=Command.SIGN)
    return Signature(iri, number, record_iri, user.username, user.printed_name, at, meaning,
                     signed, True, user.iri)


def signatures_by_record(store: GraphStore, records: Sequence[str]) -> dict[str, list[Signature]]:
    """The signatures of each record, oldest first, each checked against the record's current
    content (batched reads, whatever the number of records)."""
    signs = store.links(list(records), [R.SIGNS], Direction.DOWNSTREAM) if records else []
    sig_iris = sorted({e.src for e in signs})
    nodes = store.get_many(sig_iris)
    signer = {e.src: e.dst for e in store.links(sig_iris, [R.SIGNED_BY])} if sig_iris else {}
    users = users_by_iri(store, set(signer.values()))
    hashes = _hashes(store, sorted({e.dst for e in signs}))
    out: dict[str, list[Signature]] = {r: [] for r in records}
    for e in signs:
        n = nodes.get(e.src)
        if n is None:
            continue
        p = n.props
        user = users.get(signer.get(e.src, ""))
        signed_hash = str(p.get(P.contentHash, ""))
        valid = (signed_hash == hashes.get(e.dst) and P.invalidatedAt not in p)
        out.setdefault(e.dst, []).append(Signature(
            n.iri, n.key, e.dst, user.username if user else "(unknown account)",
            str(p.get(P.printedName, "")), str(p.get(P.signedAt, "")),
            str(p.get(P.signatureMeaning, "")), signed_hash, valid, signer.get(e.src, "")))
    for sigs in out.values():
        sigs.sort(key=lambda s: (s.signed_at, s.record_number))
    return out


def signatures_of(rt: Session, record_iri: str) -> list[Signature]:
    """The signatures of one record, oldest first, with ``valid`` = the record's current
    content still hashes to the signed hash."""
    return signatures_by_record(rt.store, [record_iri])[record_iri]


def human_time(text: str, tz: str = "UTC") -> str:
    """A stored UTC time as people read it: ``2026-03-03 08:00:00 UTC``; in time zone ``tz``
    (an IANA name, the plant's) with its offset: ``2026-03-03 16:00:00 UTC+08:00``. Text that is
    no time is returned as given.

    >>> human_time("2026-03-03T08:00:00.000000Z", "Asia/Shanghai")
    '2026-03-03 16:00:00 UTC+08:00'
    """
    if len(text) < 19 or text[10:11] != "T":
        return text
    if tz == "UTC":
        return f"{text[:10]} {text[11:19]} UTC"
    try:
        at = datetime.fromisoformat(text).astimezone(ZoneInfo(tz))
    except ValueError:
        return text
    off = at.strftime("%z")
    return f"{at:%Y-%m-%d %H:%M:%S} UTC{off[:3]}:{off[3:]}"


#: the signature line's words in Chinese (21 CFR 11.50 manifestation, issue 15 item 4)
_SIGNED_ZH = "由 {name}（{user}）于 {at} 签署 — {meaning}"  # noqa: RUF001


def manifestation_text(printed_name: str, username: str, signed_at: str, meaning: str,
                       lang: str = "en", tz: str = "UTC") -> str:
    """The signature line of :func:`manifestation` from its parts, in English or Chinese
    (``lang``; the meaning as the caller names it) and the time in ``tz``."""
    at = human_time(signed_at, tz)
    if lang == "zh":
        return _SIGNED_ZH.format(name=printed_name, user=username, at=at, meaning=meaning)
    return f"Signed by {printed_name} ({username}) on {at} — {meaning}"


def manifestation(sig: Signature) -> str:
    """The human-readable signature line (21 CFR 11.50): printed name, username, UTC time and
    meaning."""
    return manifestation_text(sig.printed_name, sig.username, sig.signed_at, sig.meaning)


def _show(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def render_record(rt: Session, iri: str) -> str:
    """A record as text for people: class, key, properties, links, and always its signatures
    (invalidated ones marked), with the content hash they are checked against."""
    node = rt.store.get(iri)
    if node is None:
        raise SignatureError("no-such-record", "no record has this IRI", "record", iri)
    links = rt.store.links([iri])
    label = rt.vocab.classes[node.label].label if node.label in rt.vocab.classes else node.label
    label = label[:1].upper() + label[1:]
    lines = [f"{label} {node.key}", f"  IRI: {iri}",
             f"  recorded {human_time(node.recorded_at)}, last changed "
             f"{human_time(node.updated_at)}", "Properties:"]
    lines += [f"  {k}: {_show(v)}" for k, v in sorted(public_props(node).items())]
    shown = [e for e in links if e.type not in _SIGNATURE_LINKS]
    if shown:
        lines.append("Links:")
        lines += [f"  {rt.vocab.rel(e.type).name} → {e.dst}"
                  + (f" ({', '.join(f'{k}={v}' for k, v in sorted(e.props.items()))})"
                     if e.props else "")
                  for e in sorted(shown, key=lambda e: (e.type, e.dst, e.eid))]
    sigs = signatures_of(rt, iri)
    lines.append(f"Signatures ({len(sigs)}):" if sigs else "Signatures: none")
    for s in sigs:
        mark = "  ✔ " if s.valid else "  ✘ INVALID (the record changed after signing): "
        lines.append(mark + manifestation(s))
    lines.append(f"Content hash: {content_hash(node, links)}")
    return "\n".join(lines)
