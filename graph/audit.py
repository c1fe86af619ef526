"""The audit trail's hash chain: how entries are hashed, appended and verified.

Each entry's hash covers its own fields and the previous entry's hash, so flipping a byte,
deleting or reordering entries breaks the chain at the first affected entry. Cutting entries off
the end leaves a shorter chain that still verifies: a signed checkpoint (:func:`checkpoint`, a
tree head kept outside the system) is what detects truncation and rewrites after it
(:func:`verify_checkpoint`).

Also here, because they decide what an entry holds: which fields are secrets (redacted to a
digest before they are chained) and which records are GMP records (a change to one needs a
reason, 21 CFR 11.10(e), EU GMP Annex 11 §9).
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from graph.audit_chain import (
    GENESIS,
    ChainBreak,
    entry_hash,
    no_gc,
    walk_rows,
)
from graph.audit_parallel import StatePool
from graph.audit_state import SECRET_FIELDS, Progress, StateReport, mask_secret, verify_state
from graph.errors import Problem
from graph.model import AuditEntry
from ontology.codes import AuditAction

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from graph.port import GraphStore
    from ontology.vocab import Vocabulary

__all__ = [
    "CHECKPOINT_FORMAT",
    "GENESIS",
    "GMP_ROOTS",
    "SECRET_FIELDS",
    "AuditDraft",
    "ChainBreak",
    "CheckpointError",
    "Progress",
    "VerifyReport",
    "chain",
    "checkpoint",
    "entry_hash",
    "is_gmp_class",
    "load_or_create_key",
    "load_public_key",
    "mask_secret",
    "paged",
    "public_key_of",
    "reason_problem",
    "redact",
    "verify_chain",
    "verify_checkpoint",
    "verify_store",
]

#: Properties whose values never enter the audit trail in clear: the entry keeps a digest that
#: shows a change happened without revealing the value (the argon2 hash of a password).
#: (:data:`SECRET_FIELDS`: the properties the ontology marks ``tg:secret``)
#: A record of one of these classes (or a subclass) is a GMP record: changing it needs a reason.
GMP_ROOTS = ("QualityRecord", "ComplianceRecord", "ExecutionRecord", "TraceableEntity")
CHECKPOINT_FORMAT = "tracegraph.audit-checkpoint/1"

@dataclass(frozen=True)
class AuditDraft:
    """An audit entry before it is numbered and chained."""

    action: str
    record: str
    record_class: str
    field: str | None
    old: Any
    new: Any


def chain(drafts: Iterable[AuditDraft], head: tuple[int, str], tx: int, at: str, actor: str,
          reason: str | None, event_id: str | None) -> list[AuditEntry]:
    """Number and chain drafts after ``head`` = ``(last seq, last hash)``."""
    seq, prev = head
    out: list[AuditEntry] = []
    for draft in drafts:
        d = redact(draft)
        seq += 1
        h = entry_hash(seq, tx, at, actor, d.action, d.record, d.record_class, d.field, d.old,
                       d.new, reason, event_id, prev)
        out.append(AuditEntry(seq, tx, at, actor, d.action, d.record, d.record_class, d.field,
                              d.old, d.new, reason, event_id, prev, h))
        prev = h
    return out


def verify_chain(entries: Iterable[AuditEntry]) -> tuple[int, ChainBreak | None]:
    """Walk the chain from the start; return the number of entries checked and the first break."""
    prev = GENESIS
    n = 0
    for n, e in enumerate(entries, start=1):
        broken = _check(e, n, prev)
        if broken is not None:
            return n, broken
        prev = e.hash
    return n, None


def _check(e: AuditEntry, expected_seq: int, prev: str) -> ChainBreak | None:
    """Why entry ``e`` does not continue a chain ending in ``prev`` at ``expected_seq``."""
    if e.seq != expected_seq:
        return ChainBreak(e.seq, f"sequence gap: expected {expected_seq}, found {e.seq}")
    if e.prev_hash != prev:
        return ChainBreak(e.seq, "previous-hash link broken (entry removed or reordered)")
    h = entry_hash(e.seq, e.tx, e.at, e.actor, e.action, e.record, e.record_class, e.field,
                   e.old, e.new, e.reason, e.event_id, e.prev_hash)
    if h != e.hash:
        return ChainBreak(e.seq, "content does not match its hash (entry altered)")
    return None


def paged(fetch: Callable[..., list[AuditEntry]], batch: int) -> Iterator[AuditEntry]:
    """Every entry in sequence order, read ``batch`` at a time from ``fetch(after_seq, limit)``."""
    after = 0
    while True:
        page = fetch(after_seq=after, limit=batch)
        if not page:
            return
        yield from page
        after = page[-1].seq


# -- secrets ---------------------------------------------------------------------------------
def redact(d: AuditDraft) -> AuditDraft:
    """The draft with every :data:`SECRET_FIELDS` value replaced by a short digest.

    >>> redact(AuditDraft("update", "urn:u", "User", "passwordHash", None, "x")).new[:17]
    '[redacted sha256:'
    """
    if d.field in SECRET_FIELDS:
        return replace(d, old=mask_secret(d.old), new=mask_secret(d.new))
    if d.action == AuditAction.CREATE and isinstance(d.new, dict):
        props = d.new.get("props")
        if isinstance(props, dict) and SECRET_FIELDS & props.keys():
            masked = {k: mask_secret(v) if k in SECRET_FIELDS else v for k, v in props.items()}
            return replace(d, new={**d.new, "props": masked})
    return d


# -- GMP records need a reason ---------------------------------------------------------------
def is_gmp_class(vocab: Vocabulary, cls: str) -> bool:
    """Whether nodes of class ``cls`` are GMP records: quality, compliance and execution records
    and traceable entities (lots, batches, units, packaging, shipments). Master data (products,
    process definitions, equipment, people, accounts) is versioned through change control
    instead and is audited without a mandatory reason."""
    c = vocab.classes.get(cls)
    return c is not None and any(c.is_a(root) for root in GMP_ROOTS)


def reason_problem(vocab: Vocabulary, cls: str, iri: str, fields: Collection[str],
                   reason: str | None, event_id: str | None) -> Problem | None:
    """The problem with changing ``fields`` of the existing GMP record ``iri`` without a reason
    (21 CFR 11.10(e), EU GMP Annex 11 §9), or ``None`` when a reason is given or not needed."""
    if not fields or (reason is not None and reason.strip()) or not is_gmp_class(vocab, cls):
        return None
    return Problem(
        rule="reason-required", field="reason", value=reason, focus=iri, event_id=event_id,
        message=f"{cls} is a GMP record: changing {', '.join(sorted(fields))} needs a reason "
                "(21 CFR 11.10(e), EU GMP Annex 11 §9); send the change with a reason")


# -- end-to-end verification -----------------------------------------------------------------
@dataclass(frozen=True)
class VerifyReport:
    """Outcome of verifying a store's audit trail from the first entry to the last, and (when
    asked) its stored state against the trail's replay (:mod:`graph.audit_state`)."""

    engine: str
    checked: int  # entries examined (up to and including the first bad one)
    seconds: float
    head_seq: int  # last entry that verified (0 when none)
    head_hash: str
    first_bad: ChainBreak | None
    checkpoint_seq: int | None = None  # the checkpoint's head, when one was verified too
    state: StateReport | None = None  # the state check, when it ran
    chain_seconds: float = 0.0  # of the chain pass alone
    parallel: bool = False  # whether the state check ran in a second process, beside the chain

    @property
    def ok(self) -> bool:
        return self.first_bad is None and (self.state is None or self.state.ok)

    def as_dict(self) -> dict[str, Any]:
        out = {**asdict(self), "ok": self.ok}
        if self.state is not None:
            out["state"]["ok"] = self.state.ok
            out["state"]["diffs"] = [{**asdict(d), "message": d.describe()}
                                     for d in self.state.diffs]
        return out




def _walk_chain(store: GraphStore, batch: int, progress: Progress | None,
                signed: bytes | None = None, fingerprints: bytearray | None = None,
                poll: Callable[[], None] | None = None) -> VerifyReport:
    """The chain pass (:func:`graph.audit_chain.walk_rows` over the store's raw rows);
    ``poll()`` is called after each page (to serve a state worker)."""
    t0 = time.perf_counter()

    def tick(done: int) -> None:
        if progress is not None:
            progress("chain", done)
        if poll is not None:
            poll()

    with no_gc():
        checked, head, prev, broken = walk_rows(
            lambda after, limit: store.audit_rows(after_seq=after, limit=limit), batch, tick,
            signed, fingerprints)
    took = time.perf_counter() - t0
    return VerifyReport(store.engine, checked, took, head, prev, broken, chain_seconds=took)


def verify_store(store: GraphStore, batch: int = 10_000, state: bool = True,
                 progress: Progress | None = None, parallel: bool | None = None
                 ) -> VerifyReport:
    """Verify the whole audit trail of ``store`` and report the first bad entry; with
    ``state`` also compare the stored state with the trail's replay (one read snapshot).

    Entries are read in sequence order, ``batch`` at a time. An entry whose stored value no
    longer decodes (a flipped byte in its JSON) is reported as altered, at the first entry
    after the last one that verified. Hashes cover decoded values, so a byte change that
    decodes to the very same value (``1.0`` written as ``1.00``) is not a change.

    With ``parallel`` (by default: when the trail has :data:`PARALLEL_AT` entries or more) and
    a store that offers a reader, the state is compared in a second process while the chain
    is walked, on the same snapshot (:mod:`graph.audit_parallel`); the findings are the same.
    """
    return _verify(store, batch, state, progress, None, parallel)


#: trail length from which ``verify_store`` compares the state in a second process by default
PARALLEL_AT = 200_000
#: IRI ranges the state is cut into, one worker process each, beside the chain pass (ranges of
#: equal node counts are not of equal work; three keep two cores busy to the end on MD-S)
STATE_PARTS = 3


def _verify(store: GraphStore, batch: int, state: bool, progress: Progress | None,
            signed: bytes | None, parallel: bool | None = None) -> VerifyReport:
    t0 = time.perf_counter()
    with store.snapshot() as watermark:
        worker = _worker(store, watermark, progress, parallel) if state else None
        try:
            report = _walk_chain(store, batch, progress, signed,
                                 poll=None if worker is None else worker.poll)
            if state and report.first_bad is None:  # (a broken trail is no replay to compare)
                st = None if worker is None else worker.result()
                if st is None:
                    st = verify_state(store, progress=progress, watermark=watermark)
                report = replace(report, state=st, seconds=time.perf_counter() - t0,
                                 parallel=worker is not None and worker.why is None)
        finally:
            if worker is not None:
                worker.close()
    return report


def _worker(store: GraphStore, watermark: int, progress: Progress | None,
            parallel: bool | None) -> StatePool | None:
    """The state pass started in other processes (one per IRI range of :data:`STATE_PARTS`),
    when asked (or worth it) and possible."""
    opener = store.reader()
    if opener is None or parallel is False:
        return None
    head = store.audit_head()
    if parallel is None and head[0] < PARALLEL_AT:
        return None
    return StatePool(opener, watermark, head, progress, store.iri_splits(STATE_PARTS))


# -- signed checkpoints (tree heads kept outside the system) ------------------------------------
class CheckpointError(ValueError):
    """A checkpoint that cannot be trusted or cannot be made: names what and why."""


def _signed_bytes(head: dict[str, Any]) -> bytes:
    body = {k: v for k, v in head.items() if k != "signature"}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def _raw_public(key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def checkpoint(store: GraphStore, key: Ed25519PrivateKey,
               now: datetime | None = None) -> dict[str, Any]:
    """A signed tree head of the audit trail: head seq and hash, entry count, UTC time, engine,
    and the first :data:`FINGERPRINT` bytes of every entry's hash (4 bytes an entry: 4.6 MB
    for 1.15M entries), so that a chain rewritten from entry k is reported at k, not at the
    head. Detection rests on the full head hash and the signature; the fingerprints only
    locate the rewrite (a forger grinding 2^32 hashes per entry could shift the reported
    entry, never hide the rewrite).

    The trail is verified first; a broken trail gets no checkpoint (``CheckpointError``).
    Keep the result outside the system: :func:`verify_checkpoint` then detects entries cut off
    or rewritten after it.
    """
    prints = bytearray()
    with store.snapshot():
        report = _walk_chain(store, 10_000, None, fingerprints=prints)
    if report.first_bad is not None:
        raise CheckpointError(
            f"the audit trail does not verify at entry {report.first_bad.seq} "
            f"({report.first_bad.reason}); no checkpoint is signed over a broken trail")
    at = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    head: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT, "engine": store.engine,
        "storeId": getattr(store, "store_id", None), "seq": report.head_seq,
        "hash": report.head_hash, "count": report.checked, "at": at,
        "publicKey": _raw_public(key.public_key()),
        "fingerprints": base64.b64encode(bytes(prints)).decode(),
    }
    head["signature"] = base64.b64encode(key.sign(_signed_bytes(head))).decode()
    return head


def verify_checkpoint(store: GraphStore, cp: dict[str, Any], public_key: Ed25519PublicKey,
                      batch: int = 10_000, state: bool = True,
                      progress: Progress | None = None, parallel: bool | None = None
                      ) -> VerifyReport:
    """Verify the trail end to end and against a checkpoint signed with ``public_key``.

    Raises ``CheckpointError`` when the checkpoint itself is malformed, belongs to another
    store or its signature does not verify. A trail that ends before the checkpoint's head
    (truncated) or whose entries differ from the ones it signed (rewritten: reported at the
    first entry whose fingerprint differs) is reported as the first bad entry.
    """
    from cryptography.exceptions import InvalidSignature

    missing = [k for k in ("format", "seq", "hash", "count", "at", "signature") if k not in cp]
    if missing or cp.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"not a {CHECKPOINT_FORMAT} checkpoint (missing {missing})")
    try:
        public_key.verify(base64.b64decode(cp["signature"]), _signed_bytes(cp))
    except (InvalidSignature, ValueError):
        raise CheckpointError("checkpoint signature does not verify with the given public key: "
                              "the checkpoint was altered or signed by another key") from None
    mine = getattr(store, "store_id", None)
    if cp.get("storeId") and mine and cp["storeId"] != mine:
        raise CheckpointError(f"checkpoint belongs to store {cp['storeId']}, not {mine}")
    try:
        signed = base64.b64decode(cp["fingerprints"]) if "fingerprints" in cp else None
    except ValueError:
        raise CheckpointError("checkpoint fingerprints are not base64") from None
    report = _verify(store, batch, state, progress, signed, parallel)
    seq, broken = int(cp["seq"]), report.first_bad
    if broken is None and report.head_seq < seq:
        broken = ChainBreak(report.head_seq + 1,
                            f"truncated: the checkpoint of {cp['at']} covers entries up to seq "
                            f"{seq}, the trail ends at seq {report.head_seq}")
    elif broken is None and seq > 0:
        at_head = store.audit_entries(after_seq=seq - 1, limit=1)
        if not at_head or at_head[0].hash != cp["hash"]:
            broken = ChainBreak(seq, f"rewritten: entry {seq} no longer has the hash the "
                                     f"checkpoint of {cp['at']} signed")
    return replace(report, first_bad=broken, checkpoint_seq=seq)


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 signing key in ``path`` (PEM, PKCS#8), generated when the file is missing.

    A new key is written readable by its owner only, with its public key beside it
    (``<path>.pub``) for whoever verifies checkpoints.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise CheckpointError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    Path(f"{path}.pub").write_bytes(pub)
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in ``path`` (PEM public key, or the private key it belongs to)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    data = path.read_bytes()
    key: Any = (serialization.load_pem_private_key(data, password=None)
                if b"PRIVATE KEY" in data else serialization.load_pem_public_key(data))
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def public_key_of(cp: dict[str, Any]) -> Ed25519PublicKey:
    """The public key a checkpoint names itself (trust it only if it is the one you expect)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(cp["publicKey"]))
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"checkpoint has no usable publicKey ({e})") from None
