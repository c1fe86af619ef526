"""Closed-loop quality figures on a generated plant (embedded store, or Neo4j with --neo4j):
release review by exception per batch, eDHR per batch (JSON and HTML), deviation impact, and
the commonality analysis over all batches. Prints medians and p99; asserts nothing.

    python -m bench.quality                      # demo plant, seed 7, embedded
    python -m bench.quality --neo4j bolt://127.0.0.1:7687
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.plant import PLANT_MIGRATION, generate_plant
from graph.engines.sqlite import SQLiteStore
from graph.port import GraphStore
from quality.commonality import commonality
from quality.deviations import compute_impact
from quality.edhr import batch_dhr, render_html
from quality.release import release_report
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


def _times(fn: Callable[[str], object], items: Sequence[str]) -> list[float]:
    out = []
    for i in items:
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def _line(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"{name:<28} n={len(ms):<5} median {statistics.median(ms):8.2f} ms   p99 {p99:8.2f} ms"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="demo")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--neo4j", help="bolt URI of a Neo4j to load the plant into (wiped)")
    ap.add_argument("--batches", type=int, default=200, help="at most this many batches")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="tg-bench-quality-"))
    store: GraphStore
    if a.neo4j:
        from graph.engines.neo4j import Neo4jStore

        store = Neo4jStore(a.neo4j, "neo4j", "")
        store.wipe()
    else:
        store = SQLiteStore(tmp / "s.sqlite")
    rt = Runtime.open(Settings(data_dir=tmp), store=store)
    keys: set[str] = set()
    t = time.perf_counter()
    for d in generate_plant(a.size, a.seed):
        rt.capture(d, migration=PLANT_MIGRATION)
        keys.update(n["key"] for ev in d["events"] for n in ev.get("nodes", ())
                    if n["class"] == "Batch")
    print(f"loaded plant {a.size} (seed {a.seed}) in {time.perf_counter() - t:.1f} s "
          f"on {store.engine}")
    batches = [rt.vocab.mint_iri("Batch", k) for k in sorted(keys)][: a.batches]
    devs = [n.iri for n in rt.store.find("DEV-2026-0001") + rt.store.find("DEV-2026-0002")]
    print(_line("release report / batch", _times(lambda b: release_report(rt, b), batches)))
    print(_line("eDHR JSON / batch", _times(lambda b: batch_dhr(rt, b), batches)))
    print(_line("eDHR JSON+HTML / batch",
                _times(lambda b: render_html(batch_dhr(rt, b)), batches)))
    print(_line("deviation impact", _times(lambda d: compute_impact(rt, d), devs)))
    flagged = [b for b in batches if release_report(rt, b).exceptions]
    good = [b for b in batches if b not in flagged]
    t = time.perf_counter()
    ranked = commonality(rt, flagged, good, limit=3) if flagged else []
    print(f"{'commonality (all batches)':<28} {len(flagged)} deviating vs {len(good)} good "
          f"in {(time.perf_counter() - t) * 1000:.1f} ms; top: "
          + ", ".join(f"{f.kind} {f.key} (lift {f.lift})" for f in ranked))
    rt.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
