"""The hash chain's arithmetic: how an entry is hashed, and the chain walk over raw rows.

An entry's hash is the SHA-256 of ``[seq, tx, at, actor, action, record, record_class, field,
old, new, reason, event_id, prev_hash]`` as canonical JSON (orjson, keys sorted). Hashes cover
decoded values, so a byte change in a stored value that decodes to the very same value
(``1.0`` written as ``1.00``, keys in another order) is not a change.

The walk reads raw rows (:data:`AuditRow`: ``old`` and ``new`` as the stored JSON text) and first
hashes the stored text as it is (:class:`orjson.Fragment`): when the store wrote the canonical
form (the embedded engine does since issue 14) that hash matches and nothing is decoded. Only
when it does not match are ``old`` and ``new`` decoded and the canonical hash computed — that
hash decides, so a non-canonical entry (written before, or re-encoded) still verifies, and an
altered one is reported at its own sequence number either way. A match of the raw hash is as
good as the canonical one: the raw bytes are then the very bytes that were hashed (short of a
SHA-256 collision). The walk tries first whichever of the two hashes matched the entry before.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from graph.model import AuditEntry

__all__ = ["FINGERPRINT", "GENESIS", "AuditRow", "ChainBreak", "canonical_text", "entry_hash",
           "no_gc", "row_of", "walk_rows"]

GENESIS = "0" * 64
#: bytes of each entry hash a checkpoint keeps, to name the first rewritten entry
FINGERPRINT = 4
#: an audit entry as stored: the fields of :class:`graph.model.AuditEntry` in order, with
#: ``old`` and ``new`` as their JSON text (``str`` or ``bytes``)
AuditRow = tuple[Any, ...]
#: what a stored entry that cannot be decoded raises
UNREADABLE = (ValueError, KeyError, TypeError)


def entry_hash(seq: int, tx: int, at: str, actor: str, action: str, record: str,
               record_class: str, field: str | None, old: Any, new: Any, reason: str | None,
               event_id: str | None, prev_hash: str) -> str:
    body = orjson.dumps(
        [seq, tx, at, actor, action, record, record_class, field, old, new, reason, event_id,
         prev_hash],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(body).hexdigest()


def canonical_text(value: Any) -> str:
    """``value`` as the JSON text its entry hash covers (what a store should write)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def row_of(e: AuditEntry) -> AuditRow:
    """The raw row of a decoded entry (its values in canonical text)."""
    return (e.seq, e.tx, e.at, e.actor, e.action, e.record, e.record_class, e.field,
            canonical_text(e.old), canonical_text(e.new), e.reason, e.event_id, e.prev_hash,
            e.hash)


@dataclass(frozen=True)
class ChainBreak:
    """The first entry at which the chain does not verify, and why."""

    seq: int
    reason: str


_Fragment = orjson.Fragment


def _raw_hash(r: AuditRow) -> str | None:
    """The hash of the row with its stored JSON text taken as it is (``None``: not text)."""
    try:
        body = orjson.dumps([r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], _Fragment(r[8]),
                             _Fragment(r[9]), r[10], r[11], r[12]])
    except (TypeError, orjson.JSONEncodeError):
        return None
    return hashlib.sha256(body).hexdigest()


def _decoded_hash(r: AuditRow) -> str:
    """The canonical hash of the row's decoded values (raises when they do not decode)."""
    return entry_hash(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], orjson.loads(r[8]),
                      orjson.loads(r[9]), r[10], r[11], r[12])


def content_ok(r: AuditRow, raw_first: bool) -> tuple[bool, bool]:
    """Whether the row's content matches its stored hash, and whether the raw hash did.

    Raises (:data:`UNREADABLE`) when the content does not match raw and does not decode."""
    if raw_first:
        if _raw_hash(r) == r[13]:
            return True, True
        return _decoded_hash(r) == r[13], False
    try:
        if _decoded_hash(r) == r[13]:
            return True, False
    except UNREADABLE:
        if _raw_hash(r) == r[13]:  # (cannot happen for JSON orjson wrote; kept to be exact)
            return True, True
        raise
    hit = _raw_hash(r) == r[13]
    return hit, hit


@contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector off for a bulk pass (nothing it builds is cyclic; a page of
    records otherwise makes the collector rescan every live object, half the pass's time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


Fetch = Callable[[int, int], list[AuditRow]]  # (after seq, limit) → rows in sequence order


def walk_rows(fetch: Fetch, batch: int, tick: Callable[[int], None] | None = None,
              signed: bytes | None = None, fingerprints: bytearray | None = None
              ) -> tuple[int, int, str, ChainBreak | None]:
    """Walk the chain from the start, ``batch`` rows at a time, to the first bad entry:
    ``(entries checked, last good seq, its hash, first break)``.

    With ``signed`` (the fingerprints of a checkpoint) an entry whose hash is not the one the
    checkpoint saw at its sequence number is the first bad one (rewritten); ``fingerprints``
    collects the fingerprints of the entries walked (to sign a checkpoint). ``tick(checked)``
    is called after each page."""
    prev, expected, checked, after = GENESIS, 1, 0, 0
    broken: ChainBreak | None = None
    size, raw_first = batch, True
    n_signed = 0 if signed is None else len(signed) // FINGERPRINT
    while broken is None:
        try:
            page = fetch(after, size)
        except UNREADABLE as err:
            if size > 1:  # halve the page until it is the one entry that cannot be read
                size //= 2
                continue
            checked += 1
            broken = _unreadable(after, err)
            break
        if not page:
            break
        for r in page:
            checked += 1
            try:
                ok, raw_first = content_ok(r, raw_first)
            except UNREADABLE as err:
                broken = _unreadable(after, err)
                break
            seq, h = r[0], r[13]
            if signed is not None and isinstance(seq, int) and 0 < seq <= n_signed:
                at = (seq - 1) * FINGERPRINT
                if str(h)[:2 * FINGERPRINT] != signed[at:at + FINGERPRINT].hex():
                    broken = ChainBreak(seq, f"rewritten: entry {seq} is not the entry the "
                                             "checkpoint signed (its hash differs)")
                    break
            if seq != expected:
                broken = ChainBreak(seq, f"sequence gap: expected {expected}, found {seq}")
            elif r[12] != prev:
                broken = ChainBreak(seq, "previous-hash link broken (entry removed or reordered)")
            elif not ok:
                broken = ChainBreak(seq, "content does not match its hash (entry altered)")
            if broken is not None:
                break
            if fingerprints is not None:
                fingerprints += bytes.fromhex(h[:2 * FINGERPRINT])
            prev, expected, after = h, expected + 1, seq
        if tick is not None:
            tick(checked)
    return checked, expected - 1, prev, broken


def _unreadable(after: int, err: BaseException) -> ChainBreak:
    return ChainBreak(after + 1, f"entry after seq {after} cannot be read (entry altered: "
                                 f"{type(err).__name__}: {err})")
