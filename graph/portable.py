"""The portable store format: a whole store (nodes, edges, the audit trail, idempotency records)
as gzipped JSON lines, written and read through the store port only, so a store exported from
either engine loads into either engine with its audit trail intact (issue 19 item 2).

The first line is a header (format, source engine and store id, watermark, audit head, counts);
then one line per record: ``{"t": "node"|"edge"|"audit"|"event", …}`` with the record's fields.
Everything is read inside one snapshot, so the file is the store at one watermark.

:func:`import_store` loads into an **empty** store one transaction per original transaction id
(1 … watermark), each writing exactly the records that carry that id, so the target's
transaction ids, watermark and the audit chain are the source's, and ``audit verify`` (chain and
state) passes on the target. Records are grouped in memory (about the size of the store's
records as Python objects). Idempotency records no audit entry names (an event that wrote
nothing) are not exported; re-sending such an event is still harmless (it changes nothing).
"""

from __future__ import annotations

import dataclasses
import gzip
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from graph.model import AuditEntry, CapturedEvent, EdgeRecord, NodeRecord
from graph.port import GraphStore

__all__ = ["PORTABLE_FORMAT", "PortableError", "export_store", "import_store", "read_header"]

PORTABLE_FORMAT = "tracegraph-portable/1"
_KINDS: dict[str, type[Any]] = {"node": NodeRecord, "edge": EdgeRecord, "audit": AuditEntry,
                                "event": CapturedEvent}


class PortableError(ValueError):
    """A portable file that cannot be loaded, or a target that is not empty; nothing written."""


def _line(kind: str, record: Any) -> bytes:
    return orjson.dumps({"t": kind, **dataclasses.asdict(record)}) + b"\n"


def export_store(store: GraphStore, out: Path) -> dict[str, Any]:
    """Write the whole store to ``out`` (gzipped JSON lines, see the module docstring) as of one
    snapshot; returns the header."""
    with store.snapshot() as watermark, gzip.open(out, "wb", compresslevel=6) as f:
        seq, head = store.audit_head()
        header: dict[str, Any] = {
            "format": PORTABLE_FORMAT, "engine": store.engine,
            "storeId": getattr(store, "store_id", None), "watermark": watermark,
            "audit": {"headSeq": seq, "headHash": head}, "counts": {}}
        counts: dict[str, int] = defaultdict(int)
        body = out.with_name(out.name + ".body")
        try:  # the header (with counts) goes first: records go to a side file meanwhile
            with gzip.open(body, "wb", compresslevel=6) as b:
                event_ids: set[str] = set()
                for a in store.iter_audit():
                    b.write(_line("audit", a))
                    counts["audit"] += 1
                    if a.event_id:
                        event_ids.add(a.event_id)
                for n in store.nodes_by_iri():
                    b.write(_line("node", n))
                    counts["node"] += 1
                for e in store.edges_by_source():
                    b.write(_line("edge", e))
                    counts["edge"] += 1
                for ev in store.events(sorted(event_ids)).values():
                    b.write(_line("event", ev))
                    counts["event"] += 1
            header["counts"] = dict(counts)
            f.write(orjson.dumps(header) + b"\n")
            with gzip.open(body, "rb") as b:
                while chunk := b.read(1 << 20):
                    f.write(chunk)
        finally:
            body.unlink(missing_ok=True)
    return header


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                yield orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                raise PortableError(f"{path} line {n}: not JSON ({e})") from None


def read_header(path: Path) -> dict[str, Any]:
    try:
        header = next(_lines(path))
    except (StopIteration, OSError, EOFError) as e:
        raise PortableError(f"{path}: no header ({e or 'empty file'})") from None
    if header.get("format") != PORTABLE_FORMAT:
        raise PortableError(f"{path}: format {header.get('format')!r}, not {PORTABLE_FORMAT}")
    return header


def _by_transaction(records: dict[str, list[Any]]) -> dict[int, dict[str, list[Any]]]:
    """Each record under the transaction that writes it: its own, except a node, which is
    written (in its final state) in the first transaction that created, changed or linked it,
    so every edge finds its ends."""
    first: dict[str, int] = {}

    def seen(iri: str, tx: int) -> None:
        first[iri] = min(tx, first.get(iri, tx))

    for a in records["audit"]:
        seen(a.record, a.tx)
    for e in records["edge"]:
        seen(e.src, e.tx)
        seen(e.dst, e.tx)
    out: dict[int, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for kind, recs in records.items():
        for r in recs:
            tx = min(r.tx, first.get(r.iri, r.tx)) if kind == "node" else r.tx
            out[int(tx)][kind].append(r)
    return out


def import_store(store: GraphStore, path: Path) -> dict[str, Any]:
    """Load a portable file into the empty ``store``, one transaction per original
    transaction id; returns the header. Raises :class:`PortableError` (nothing written) when
    the target is not empty or the file is incomplete or malformed."""
    header = read_header(path)
    if store.watermark() != 0 or store.audit_head()[0] != 0:
        raise PortableError(f"the target {store.engine} store is not empty (watermark "
                            f"{store.watermark()}); import only into an empty store")
    records: dict[str, list[Any]] = {k: [] for k in _KINDS}
    try:
        for row in _lines(path):
            kind = row.pop("t", None)
            if kind is None and row.get("format") == PORTABLE_FORMAT:
                continue
            if kind not in _KINDS:
                raise PortableError(f"{path}: unknown record kind {kind!r}")
            records[kind].append(_KINDS[kind](**row))
    except (OSError, EOFError, TypeError) as e:  # truncated gzip, wrong fields
        raise PortableError(f"{path}: incomplete or malformed ({e})") from None
    counts = {k: len(v) for k, v in records.items() if v}
    if counts != header["counts"]:
        raise PortableError(f"{path}: holds {counts}, its header says {header['counts']}")
    watermark = int(header["watermark"])
    by_tx = _by_transaction(records)
    if by_tx and (min(by_tx) < 1 or max(by_tx) > watermark):
        raise PortableError(f"{path}: records carry transaction ids outside 1…{watermark}")
    for t in range(1, watermark + 1):
        recs = by_tx.pop(t, {})
        with store.transaction() as tx:
            if tx.tx_id != t:
                raise PortableError(f"the target assigned transaction {tx.tx_id}, not {t}")
            tx.write(recs.get("node", []), recs.get("edge", []),
                     sorted(recs.get("audit", []), key=lambda a: a.seq), recs.get("event", []))
    return header
