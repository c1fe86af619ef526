"""Worklist first-page latency: each list of :mod:`quality.worklists` (default order and filters
a user starts from) and "my work" of a QA user, on the demo plant and, when the store exists,
on MD-S. Prints the first (cold) call and the median of the next runs; asserts nothing (the
issue's target: a worklist's first page on MD-S within 300 ms). The exception counts of the
batches awaiting release (one release report each, read over the batch's upstream) are timed
apart: the explorer shows the page first and fills them in.

    python -m bench.worklists                                   # demo plant + MD-S if present
    python -m bench.worklists --mds /path/to/bench-load/tracegraph.sqlite --runs 5
    python -m bench.worklists --explorer http://127.0.0.1:8765 --user demo.qa  # + the page

The large trace (issue 15 item 5): the demo plant's busiest lot downstream (4,285 nodes),
its genealogy and the grouped outline the explorer draws (graph/trace_outline.py); with
``--explorer`` (a running ``tracegraph demo``; password in ``TRACEGRAPH_DEMO_PASSWORD``) also
the page's render time of that trace in headless Chromium (request to laid-out graph, as the
page measures it: ``#graph[data-render-ms]``).

The MD-S store is opened read-only (SQLite ``mode=ro&immutable=1``: no lock, no journal file,
no derivation snapshot written next to it), so a shared store is never changed.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import graph.engines.sqlite.queries as Q
from bench.plant import PLANT_MIGRATION, generate_plant
from graph import trace_outline as T
from graph.engines.sqlite import SQLiteStore
from graph.engines.sqlite.adjacency import DerivationIndex
from graph.model import Direction
from quality import my_work as M
from quality import worklists as W
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

MDS = Path("/work/wt/rules/data/bench-load/tracegraph.sqlite")
#: the read-only connection's settings (no journal mode: it is the writer's choice)
_READ_PRAGMAS = ("PRAGMA cache_size=-262144", "PRAGMA temp_store=MEMORY",
                 "PRAGMA mmap_size=1073741824")


class ReadOnlySQLiteStore(SQLiteStore):
    """An embedded store opened for reading only: nothing is created, migrated or persisted."""

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{quote(self.path)}?mode=ro&immutable=1", uri=True,
                                   isolation_level=None, check_same_thread=False)
            for pragma in _READ_PRAGMAS:
                conn.execute(pragma)
            self._local.conn = conn
        return conn

    def _migrate(self) -> None:
        row = self._conn().execute(Q.STORE_ID).fetchone()
        self.store_id = str(row[0]) if row else ""

    def _save_snapshot(self, idx: DerivationIndex) -> None:
        return None


LISTS: dict[str, Callable[[Runtime], Any]] = {
    "deviations (open)": lambda rt: W.deviations(rt, open_only=True),
    "holds (active)": lambda rt: W.holds(rt, active_only=True),
    "capas (open)": lambda rt: W.capas(rt, open_only=True),
    "capa actions (overdue)": lambda rt: W.actions(rt, overdue=True),
    "change requests": lambda rt: W.change_requests(rt),
    "batches (all)": lambda rt: W.batches(rt),
    "batches awaiting release": lambda rt: W.batches(rt, awaiting_release=True, first=10,
                                                     exception_counts=False),
    "  + their exception counts": lambda rt: W.batches(rt, awaiting_release=True, first=10),
    "excursions": lambda rt: W.excursions(rt),
    "alarms": lambda rt: W.alarms(rt),
    "my work (qa)": lambda rt: M.my_work(rt, "bench.qa", frozenset({"qa"})),
    "my work (engineer)": lambda rt: M.my_work(rt, "bench.eng", frozenset({"engineer"})),
}


def run(name: str, rt: Runtime, runs: int) -> None:
    print(f"\n{name}: {sum(rt.store.counts().get(c, 0) for c in ('Deviation', 'Batch'))} "
          "deviations + batches")
    for label, fn in LISTS.items():
        t = time.perf_counter()
        fn(rt)
        cold = (time.perf_counter() - t) * 1000
        warm = []
        for _ in range(runs):
            t = time.perf_counter()
            fn(rt)
            warm.append((time.perf_counter() - t) * 1000)
        print(f"  {label:<26} first call {cold:8.1f} ms   "
              f"median of {runs} {statistics.median(warm):8.1f} ms")


def busiest_lot(store: SQLiteStore) -> tuple[str, int]:
    """The material lot with the largest downstream trace, and its size."""
    sizes = [(len(store.walk([n.iri], Direction.DOWNSTREAM, 20)), n.key)
             for n in store.nodes_of_class("MaterialLot")]
    size, lot = max(sizes, key=lambda x: (x[0], x[1]))
    return lot, size


def large_trace(rt: Runtime, runs: int) -> str:
    """Genealogy + outline + captions + the drawn records of the busiest lot's downstream
    trace, printed: from the full genealogy (every engine but the embedded one as of now) and
    from the walk (the embedded engine: records read only for what is drawn), side by side;
    exits non-zero when their outlines differ."""
    store = rt.store
    assert isinstance(store, SQLiteStore)
    lot, size = busiest_lot(store)
    iri = store.find(lot, None, "MaterialLot")[0].iri

    def full() -> T.Trace:
        return T.FullTrace(store.genealogy([iri], Direction.DOWNSTREAM, 20))

    def walked() -> T.Trace:
        return T.trace(store, [iri], Direction.DOWNSTREAM, 20)

    def once(read: Callable[[], T.Trace]) -> T.TraceOutline:
        t = read()
        o = T.outline(t.genealogy)
        shown = t.records(o.nodes[:500] + [x.batch for x in o.groups])
        T.captions(store, shown)
        return o

    outlines = []
    for label, read in (("full genealogy", full), ("from the walk", walked)):
        times, cpu = [], []
        for _ in range(runs + 1):
            t, c = time.perf_counter(), time.process_time()
            o = once(read)
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        outlines.append(o)
        print(f"  {'outline ' + lot + ', ' + label:<40} first call {times[0]:8.1f} ms   "
              f"median of {runs} {statistics.median(times[1:]):8.1f} ms "
              f"(CPU {statistics.median(cpu[1:]):7.1f} ms)   ({size} nodes downstream, "
              f"{len(o.nodes) + len(o.groups)} drawn: trace + outline + captions + records)")
    if outlines[0] != outlines[1]:
        raise SystemExit("the outline from the walk differs from the full genealogy's")
    return lot


def explorer_render(url: str, user: str, lot: str, runs: int) -> None:
    """The page's render time of the large trace in headless Chromium (Playwright)."""
    import os

    from playwright.sync_api import sync_playwright

    password = os.environ.get("TRACEGRAPH_DEMO_PASSWORD", "")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=os.environ.get("TRACEGRAPH_CHROMIUM",
                                                             "/usr/bin/chromium"),
                              headless=True, args=["--disable-gpu"])
        page = b.new_page(viewport={"width": 1366, "height": 860})
        page.goto(f"{url}/explorer#/work")
        page.fill("#signin input[name=username]", user)
        page.fill("#signin input[name=password]", password)
        page.click("#signin button[type=submit]")
        page.wait_for_selector("#work-view:not([hidden])", timeout=60_000)
        ms: list[float] = []
        for i in range(2 * runs + 1):
            # the view loads again when the direction changes: downstream runs are the ones timed
            page.evaluate("delete document.getElementById('graph').dataset.renderMs")
            direction = "DOWNSTREAM" if i % 2 == 0 else "UPSTREAM"
            page.evaluate(f"location.hash = '#/trace/{lot}/{direction}'")
            page.wait_for_function("document.getElementById('graph').dataset.renderMs",
                                   timeout=120_000)
            if i % 2 == 0:
                ms.append(float(page.get_attribute("#graph", "data-render-ms") or "nan"))
        b.close()
    print(f"  {'explorer: large trace':<26} first load {ms[0]:8.1f} ms   "
          f"median of {len(ms) - 1} {statistics.median(ms[1:]) if len(ms) > 1 else ms[0]:8.1f} ms"
          "   (request → laid-out graph, in the page)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.worklists", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mds", type=Path, default=MDS, help="the MD-S embedded store (read-only)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-demo", action="store_true")
    ap.add_argument("--explorer", help="URL of a running `tracegraph demo`: also time the page")
    ap.add_argument("--user", default="demo.qa", help="the explorer's user (with --explorer)")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="tg-bench-worklists-"))
    if not a.no_demo:
        rt = Runtime.open(Settings(data_dir=tmp), store=SQLiteStore(tmp / "demo.sqlite"))
        for d in generate_plant(size="demo", seed=7):
            rt.capture(d, migration=PLANT_MIGRATION)
        run("demo plant (seed 7, embedded)", rt, a.runs)
        lot = large_trace(rt, a.runs)
        rt.store.close()
        if a.explorer:
            explorer_render(a.explorer, a.user, lot, a.runs)
    if a.mds.exists():
        rt = Runtime.open(Settings(data_dir=tmp), store=ReadOnlySQLiteStore(a.mds))
        run(f"MD-S ({a.mds}, embedded, read-only)", rt, a.runs)
    else:
        print(f"\nMD-S: no store at {a.mds} (bench/load.sh makes one)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
