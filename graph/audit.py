"""The audit trail's hash chain: how entries are hashed, appended and verified.

Each entry's hash covers its own fields and the previous entry's hash, so flipping a byte,
deleting, reordering or truncating entries breaks the chain at the first affected entry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from graph.model import AuditEntry

__all__ = ["GENESIS", "AuditDraft", "ChainBreak", "chain", "entry_hash", "paged", "verify_chain"]

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditDraft:
    """An audit entry before it is numbered and chained."""

    action: str
    record: str
    record_class: str
    field: str | None
    old: Any
    new: Any


def entry_hash(seq: int, tx: int, at: str, actor: str, action: str, record: str,
               record_class: str, field: str | None, old: Any, new: Any, reason: str | None,
               event_id: str | None, prev_hash: str) -> str:
    body = orjson.dumps(
        [seq, tx, at, actor, action, record, record_class, field, old, new, reason, event_id,
         prev_hash],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(body).hexdigest()


def chain(drafts: Iterable[AuditDraft], head: tuple[int, str], tx: int, at: str, actor: str,
          reason: str | None, event_id: str | None) -> list[AuditEntry]:
    """Number and chain drafts after ``head`` = ``(last seq, last hash)``."""
    seq, prev = head
    out: list[AuditEntry] = []
    for d in drafts:
        seq += 1
        h = entry_hash(seq, tx, at, actor, d.action, d.record, d.record_class, d.field, d.old,
                       d.new, reason, event_id, prev)
        out.append(AuditEntry(seq, tx, at, actor, d.action, d.record, d.record_class, d.field,
                              d.old, d.new, reason, event_id, prev, h))
        prev = h
    return out


@dataclass(frozen=True)
class ChainBreak:
    """The first entry at which the chain does not verify, and why."""

    seq: int
    reason: str


def verify_chain(entries: Iterable[AuditEntry]) -> tuple[int, ChainBreak | None]:
    """Walk the chain from the start; return the number of entries checked and the first break."""
    prev = GENESIS
    n = 0
    for n, e in enumerate(entries, start=1):
        expected_seq = n
        if e.seq != expected_seq:
            return n, ChainBreak(e.seq, f"sequence gap: expected {expected_seq}, found {e.seq}")
        if e.prev_hash != prev:
            return n, ChainBreak(e.seq, "previous-hash link broken (entry removed or reordered)")
        h = entry_hash(e.seq, e.tx, e.at, e.actor, e.action, e.record, e.record_class, e.field,
                       e.old, e.new, e.reason, e.event_id, e.prev_hash)
        if h != e.hash:
            return n, ChainBreak(e.seq, "content does not match its hash (entry altered)")
        prev = e.hash
    return n, None


def paged(fetch: Callable[..., list[AuditEntry]], batch: int) -> Iterator[AuditEntry]:
    """Every entry in sequence order, read ``batch`` at a time from ``fetch(after_seq, limit)``."""
    after = 0
    while True:
        page = fetch(after_seq=after, limit=batch)
        if not page:
            return
        yield from page
        after = page[-1].seq
