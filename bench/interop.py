"""Interoperability figures (issue 18 item 6) on a generated plant in a scratch embedded store:
``python -m bench.interop [SIZE] [SEED]`` prints the time to read every integration event from
the audit trail (a replay from cursor 0), the EPCIS events of the plant's own records
(``GET /events`` without parameters) and one batch's ``/epcis/genealogy``, and the RDF export of
one batch's trace with its pySHACL check (``tracegraph export``). Figures, never assertions."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from bench.plant import PLANT_MIGRATION, generate_plant
from graph.engines.sqlite import SQLiteStore
from graph.integration import events_since
from graph.model import Direction
from graph.rdf_export import export_trace
from ingest.epcis_native import native_events
from ingest.epcis_query import genealogy_document
from shapes.validator import reference_validate
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


def main(size: str = "demo", seed: int = 7) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        rt = Runtime.open(Settings(data_dir=d), store=SQLiteStore(d / "bench.sqlite"))
        t = time.perf_counter()
        for doc in generate_plant(size, seed):
            rt.capture(doc, migration=PLANT_MIGRATION)
        print(f"plant {size} seed {seed}: loaded in {time.perf_counter() - t:.1f} s, "
              f"{rt.store.audit_head()[0]:,} audit entries")
        t, events, cursor, n = time.perf_counter(), [], 0, 0
        while True:
            page, cursor = events_since(rt.store, rt.vocab, cursor, 1000)
            events.extend(page)
            n += 1
            if not page:
                break
        print(f"integration events: {len(events):,} replayed from cursor 0 in "
              f"{time.perf_counter() - t:.2f} s ({n} pages)")
        t = time.perf_counter()
        native = native_events(rt.store)
        print(f"EPCIS events of the plant's own records: {len(native):,} in "
              f"{time.perf_counter() - t:.2f} s")
        batch = sorted(rt.store.nodes_of_class("Batch"), key=lambda b: b.key)[0]
        t = time.perf_counter()
        doc = genealogy_document(rt.store, batch.iri, "2026-01-01T00:00:00Z")
        print(f"/epcis/genealogy of {batch.key}: {len(doc['epcisBody']['eventList'])} events in "
              f"{time.perf_counter() - t:.2f} s")
        t = time.perf_counter()
        g = export_trace(rt.store, batch.iri, Direction.UPSTREAM, rt.vocab)
        exported = time.perf_counter() - t
        t = time.perf_counter()
        broken = [r for r in reference_validate(g, rt.vocab) if r.severity == "Violation"]
        print(f"RDF export of {batch.key} upstream: {len(g):,} triples in {exported:.2f} s; "
              f"pySHACL {len(broken)} violations in {time.perf_counter() - t:.2f} s")
        rt.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo",
         int(sys.argv[2]) if len(sys.argv) > 2 else 7)
