"""What "as known at" costs (issue 18 item 4): a genealogy page without ``asOf``, with ``asOf``
before (edges by record time only, nodes as now) and with it now (:class:`graph.as_of.AsOfStore`:
nodes as recorded then, replayed from one batched audit read).

Loads the demo plant one event per transaction into a fresh embedded store (so record times are
spread over the load), picks the record time half-way through, and for every material lot times
its downstream genealogy page (the lot, batches, units, packages, shipments) four ways, median of
``--repeat`` runs each::

    python -m bench.as_of [--size demo] [--repeat 5] [--at 0.5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.plant import PLANT_MIGRATION, generate_plant
from graph.as_of import AsOfStore
from graph.engines.sqlite import SQLiteStore
from graph.model import Direction, Genealogy
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


def _median_ms(fn: Callable[[str], Genealogy], lot: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(lot)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", default="demo")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--at", type=float, default=0.5, help="share of the events loaded by then")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "s.sqlite")
        rt = Runtime.open(Settings(data_dir=Path(tmp)), store=store)
        events = [(d, e) for d in generate_plant(size=a.size, seed=7) for e in d["events"]]
        cut = int(len(events) * a.at)
        at = ""
        t0 = time.perf_counter()
        for i, (doc, ev) in enumerate(events):
            rt.capture({**doc, "events": [ev]}, migration=PLANT_MIGRATION)
            if i == cut:
                head, _ = store.audit_head()
                at = store.audit_entries(after_seq=head - 1)[0].at
        print(f"loaded {len(events)} events (one transaction each) in "
              f"{time.perf_counter() - t0:.1f} s; asOf = {at} (after event {cut})")
        then, now = AsOfStore(store, at), AsOfStore(store, "9999-12-31T00:00:00Z")
        lots = [n.iri for n in store.nodes_of_class("MaterialLot") if n.recorded_at <= at]
        down = Direction.DOWNSTREAM
        ways: dict[str, Callable[[str], Genealogy]] = {
            "no asOf": lambda lot: store.genealogy([lot], down),
            "asOf edges only (before)": lambda lot: store.genealogy([lot], down, as_of=at),
            "asOf (nodes as then)": lambda lot: then.genealogy([lot], down),
            "asOf now (nothing replayed)": lambda lot: now.genealogy([lot], down)}
        rows: dict[str, list[float]] = {name: [] for name in ways}
        nodes = replayed = 0
        for lot in lots:
            nodes += len(then.genealogy([lot], down).nodes)
            replayed += sum(1 for n in store.genealogy([lot], down, as_of=at).nodes.values()
                            if n.updated_at > at)
            for name, way in ways.items():
                rows[name].append(_median_ms(way, lot, a.repeat))
        print(f"{len(lots)} lots recorded by then: {nodes} nodes in their pages as of then "
              f"({nodes / max(len(lots), 1):.0f} per page), {replayed} of them changed "
              "since (replayed from the audit)")
        print(f"{'genealogy page':32} {'median ms':>10} {'p90 ms':>8} {'total ms':>9}")
        for name, ms in rows.items():
            p90 = statistics.quantiles(ms, n=10)[-1] if len(ms) > 1 else ms[0]
            print(f"{name:32} {statistics.median(ms):10.2f} {p90:8.2f} {sum(ms):9.1f}")
        rt.close()


if __name__ == "__main__":
    main()
