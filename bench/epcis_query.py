"""``GET /events`` cost on a generated plant: ``python -m bench.epcis_query [STORE] [SIZE]``.

Loads the plant (default ``demo``, seed 7) into the embedded store file STORE (default a
scratch file; an existing file is reused, so the same store can be measured by two versions of
the code), captures one goods receipt after it (what a partner polling "what is new" asks
for), and prints wall and CPU seconds (user + sys of this process) with the load average of:

- the unpaged query (every event: captured EPCIS events and the plant's own records);
- the query bounded by record time (``GE_recordTime`` = the receipt's record time);
- with paging (``query_page`` present): the first page of 30, and every page of 100 in turn.

Answers are checked, never timed against a target: the bounded answer equals the unpaged one
filtered by record time, the pages concatenated equal the unpaged answer; the run exits 1 on a
mismatch. Figures, never assertions.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.plant import PLANT_MIGRATION, generate_plant
from graph.engines.sqlite import SQLiteStore
from ingest import epcis_query
from ontology.terms import R
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

RECEIPT = "RL-BENCH-POLL"


def timed(label: str, run: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    c, t = time.process_time(), time.perf_counter()
    events = run()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    digest = hashlib.sha256("".join(str(e["eventID"]) for e in events).encode()).hexdigest()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{label}: {len(events):,} events in {wall:.3f} s wall, {cpu:.3f} s CPU "
          f"(ids {digest[:12]}; load {load})")
    return events


def load(path: Path, size: str) -> None:
    """The plant into a new store file, then the receipt a poll finds (once)."""
    rt = Runtime.open(Settings(data_dir=path.parent), store=SQLiteStore(path))
    try:
        if rt.store.audit_head()[0] == 0:
            t = time.perf_counter()
            for doc in generate_plant(size, 7):
                rt.capture(doc, migration=PLANT_MIGRATION)
            print(f"plant {size} seed 7 loaded in {time.perf_counter() - t:.1f} s")
        if rt.store.get(rt.vocab.mint_iri("MaterialLot", RECEIPT)) is None:
            lot = sorted(rt.store.nodes_of_class("MaterialLot"), key=lambda n: n.key)[0]
            ends = rt.store.get_many([e.dst for e in rt.store.links([lot.iri])])
            links = {prop: f"{ends[e.dst].label}/{ends[e.dst].key}"
                     for e in rt.store.links([lot.iri])
                     for prop, rel in (("ofMaterial", R.OF_MATERIAL),
                                       ("suppliedBy", R.SUPPLIED_BY)) if e.type == rel}
            rt.capture({"format": "tracegraph.capture/1", "events": [{
                "eventId": "bench-poll-receipt", "reason": "goods receipt", "nodes": [{
                    "class": "MaterialLot", "key": RECEIPT, "links": links, "properties": {
                        "receivedAt": "2026-06-30T00:00:00Z", "supplierLotNumber": "BENCH",
                        "quantity": 10, "unitCode": "kg", "expiryDate": "2027-03-01",
                        "materialLotStatus": "Approved"}}]}]}, migration=PLANT_MIGRATION)
        print(f"store {path}: {rt.store.audit_head()[0]:,} audit entries")
    finally:
        rt.close()


def main(store: str | None = None, size: str = "demo") -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(store) if store else Path(tmp) / "tracegraph.sqlite"
        load(path, size)
        rt = Runtime.open(Settings(data_dir=path.parent), store=SQLiteStore(path))
        try:
            st = rt.store
            since = st.get(rt.vocab.mint_iri("MaterialLot", RECEIPT))
            assert since is not None, "the store has no bench receipt"
            whole = timed("unpaged GET /events", lambda: epcis_query.query_events(st, {}))
            timed("unpaged GET /events again", lambda: epcis_query.query_events(st, {}))
            bounded = timed(f"GE_recordTime={since.recorded_at}", lambda: epcis_query.query_events(
                st, {"GE_recordTime": [since.recorded_at]}))
            ok = bounded == [e for e in whole if str(e["recordTime"]) >= since.recorded_at]
            if hasattr(epcis_query, "query_page"):
                page = epcis_query.query_page
                timed("first page, perPage=30", lambda: page(st, {"perPage": ["30"]})[0])

                def every_page() -> list[dict[str, Any]]:
                    out, token = page(st, {"perPage": ["100"]})
                    while token is not None:
                        more, token = page(st, {"perPage": ["100"], "nextPageToken": [token]})
                        out.extend(more)
                    return out

                pages = timed("every page, perPage=100", every_page)
                ok = ok and pages == whole
            print("answers equal" if ok else "MISMATCH")
            return 0 if ok else 1
        finally:
            rt.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None,
                  sys.argv[2] if len(sys.argv) > 2 else "demo"))
