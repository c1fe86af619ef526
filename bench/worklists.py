"""Worklist first-page latency: each list of :mod:`quality.worklists` (default order and filters
a user starts from) and "my work" of a QA user, on the demo plant and, when the store exists,
on MD-S. Prints the first (cold) call and the median of the next runs; asserts nothing (the
issue's target: a worklist's first page on MD-S within 300 ms). The exception counts of the
batches awaiting release (one release report each, read over the batch's upstream) are timed
apart: the explorer shows the page first and fills them in.

    python -m bench.worklists                                   # demo plant + MD-S if present
    python -m bench.worklists --mds /path/to/bench-load/tracegraph.sqlite --runs 5

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
from graph.engines.sqlite import SQLiteStore
from graph.engines.sqlite.adjacency import DerivationIndex
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.worklists", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mds", type=Path, default=MDS, help="the MD-S embedded store (read-only)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-demo", action="store_true")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="tg-bench-worklists-"))
    if not a.no_demo:
        rt = Runtime.open(Settings(data_dir=tmp), store=SQLiteStore(tmp / "demo.sqlite"))
        for d in generate_plant(size="demo", seed=7):
            rt.capture(d, migration=PLANT_MIGRATION)
        run("demo plant (seed 7, embedded)", rt, a.runs)
        rt.store.close()
    if a.mds.exists():
        rt = Runtime.open(Settings(data_dir=tmp), store=ReadOnlySQLiteStore(a.mds))
        run(f"MD-S ({a.mds}, embedded, read-only)", rt, a.runs)
    else:
        print(f"\nMD-S: no store at {a.mds} (bench/load.sh makes one)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
