"""`tracegraph recall` of many lots on a large store, before and after, same seeds, one run
(issue 16 item 1): walk time, counts time (traversal + classification, what the command prints
first), complete-export time (counts + every file the command writes: the lists, the units file
with each unit's shipment and customer, the mass balance of every seed), CPU seconds and peak
RSS of the process, each against issue 16's target (counts <= 0.5 s, complete export <= 3 s,
RSS <= 600 MB on MD-S) and against the walk.

Each measurement runs in a fresh process doing what ``tracegraph recall --seeds`` does (the store
opened as the command opens it, ``Runtime.recall(unit_limit=0, package_limit=0)`` — counts only,
``lazy``, where the code has it — then ``graph.recall_balance.write_export`` with the store).
``--before-src DIR`` names a source tree of the old code (e.g. ``git archive main | tar -x -C
DIR``): the same worker runs there too, on the same seeds, and the command exits 1 when the
answers differ (the summary counts, or any export file's SHA-256). Timings are printed, never
asserted; ``uptime``'s load is printed next to every figure, since the machine may be shared.

    .venv/bin/python -m bench.recall_cli --sqlite data/bench-load/tracegraph.sqlite \\
        --lots 1000 --runs 3 --before-src /tmp/main-src

The worker part of this file imports nothing from ``bench`` so that it runs under the old tree.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: issue 16's targets for a recall of 1,000 lots on MD-S
TARGETS = {"counts_s": 0.5, "export_s": 3.0, "rss_mb": 600.0}
LOT_POOL = ("SELECT n.iri FROM nodes n WHERE n.label = 'MaterialLot' AND EXISTS (SELECT 1 FROM "
            "edges e WHERE e.dst = n.id AND e.type = 'WAS_DERIVED_FROM') ORDER BY n.id")


def _worker(store_path: str, seeds_file: str, out: str, max_depth: int = 50) -> dict[str, Any]:
    from graph.engines.sqlite import SQLiteStore
    from graph.model import Direction
    from graph.recall_balance import write_export
    from tracegraph.runtime import Runtime

    seeds = Path(seeds_file).read_text().split()
    store = SQLiteStore(store_path)
    store.limit_memory(16, 0)  # as `tracegraph recall` does
    rt = Runtime.open(store=store)
    store.walk(seeds[:1], Direction.DOWNSTREAM)  # loads the derivation index, as any first call
    t0, c0 = time.perf_counter(), time.process_time()
    walk = store.walk(seeds, Direction.DOWNSTREAM)
    t_walk, c_walk = time.perf_counter() - t0, time.process_time() - c0
    del walk
    lazy = {"lazy": True} if "lazy" in inspect.signature(rt.recall).parameters else {}
    t0, c0 = time.perf_counter(), time.process_time()
    answer = rt.recall(seeds, unit_limit=0, max_depth=max_depth, package_limit=0, **lazy)
    summary = answer.summary()
    t_counts, c_counts = time.perf_counter() - t0, time.process_time() - c0
    files = write_export(answer, Path(out), store, max_depth, True)
    t_all, c_all = time.perf_counter() - t0, time.process_time() - c0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before hashing
    hashes = {}
    for k, p in sorted(files.items()):
        h = hashlib.sha256()
        with p.open("rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        hashes[k] = h.hexdigest()
    for p in files.values():
        p.unlink()
    rt.close()
    return {"walk_s": t_walk, "walk_cpu_s": c_walk, "counts_s": t_counts,
            "counts_cpu_s": c_counts, "export_s": t_all, "export_cpu_s": c_all,
            "rss_mb": rss_mb, "summary": summary, "sha256": hashes}


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _measure(src: Path, store: Path, seeds_file: Path, out: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(seeds_file),
           "--sqlite", str(store), "--out", str(out)]
    load = _load()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=src)
    if done.returncode:
        raise SystemExit(f"worker in {src} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = f"{load}→{_load()}"
    return result


def _row(name: str, r: dict[str, Any]) -> str:
    return (f"| {name} | {r['walk_s'] * 1e3:,.0f} | {r['counts_s']:.2f} ({r['counts_cpu_s']:.2f}) "
            f"| {r['export_s']:.2f} ({r['export_cpu_s']:.2f}) | {r['rss_mb']:,.0f} "
            f"| {r['counts_s'] / r['walk_s']:.0f}x / {r['export_s'] / r['walk_s']:.0f}x "
            f"| {r['load']} |")


def _against(name: str, r: dict[str, Any], before: dict[str, Any] | None) -> str:
    """Each figure over its target (<= 1.00 meets it; wall and CPU seconds), and how many
    times faster than the old code."""
    parts = []
    for k, label in (("counts_s", "counts"), ("export_s", "export")):
        cpu = r[k.replace("_s", "_cpu_s")]
        parts.append(f"{label} {r[k] / TARGETS[k]:.2f} (CPU {cpu / TARGETS[k]:.2f})")
    parts.append(f"RSS {r['rss_mb'] / TARGETS['rss_mb']:.2f}")
    if before is not None:
        parts.append(f"before/after: counts {before['counts_s'] / r['counts_s']:.1f}x, "
                     f"export {before['export_s'] / r['export_s']:.1f}x "
                     f"(CPU {before['export_cpu_s'] / r['export_cpu_s']:.1f}x), "
                     f"RSS {before['rss_mb'] / r['rss_mb']:.1f}x")
    return f"{name} vs target: " + "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sqlite", type=Path, required=True, help="the store (read only)")
    ap.add_argument("--lots", type=int, default=1000, help="seed lots per recall")
    ap.add_argument("--runs", type=int, default=3, help="draws of seeds")
    ap.add_argument("--seed", type=int, default=1, help="RNG seed of the draws")
    ap.add_argument("--before-src", type=Path, help="source tree of the old code to compare")
    ap.add_argument("--out", type=Path, help="scratch directory for the export files")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(str(args.sqlite), args.worker, str(args.out))))
        return 0
    ro = sqlite3.connect(f"file:{args.sqlite}?mode=ro", uri=True)
    pool = [r[0] for r in ro.execute(LOT_POOL)]
    ro.close()
    here = Path(__file__).resolve().parents[1]
    scratch = Path(args.out or tempfile.mkdtemp(prefix="recall-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    mismatches = 0
    print(f"recall of {args.lots:,} lots on {args.sqlite} (pool {len(pool):,} lots), "
          f"{os.cpu_count()} CPUs; times in s wall (CPU), walk in ms, load = 1-min loadavg "
          "before→after; targets (issue 16, MD-S): counts <= "
          f"{TARGETS['counts_s']} s, complete export <= {TARGETS['export_s']} s, "
          f"RSS <= {TARGETS['rss_mb']:.0f} MB\n")
    print("| run / code | walk ms | counts s | complete export s | peak RSS MB "
          "| counts / export vs walk | load |")
    print("|---|---|---|---|---|---|---|")
    notes: list[str] = []
    for run in range(args.runs):
        seeds = sorted(random.Random(f"{args.seed}/{run}").sample(pool, args.lots))
        seeds_file = scratch / f"seeds-{run}.txt"
        seeds_file.write_text("\n".join(seeds))
        after = _measure(here, args.sqlite, seeds_file, scratch / "after")
        print(_row(f"{run} after", after), flush=True)
        before = None
        if args.before_src:
            before = _measure(args.before_src.resolve(), args.sqlite, seeds_file,
                              scratch / "before")
            print(_row(f"{run} before", before), flush=True)
            for k in ("summary", "sha256"):
                if before[k] != after[k]:
                    mismatches += 1
                    notes.append(f"MISMATCH run {run} {k}: before {before[k]} after {after[k]}")
        notes.append(_against(f"run {run} after", after, before))
        notes.append(f"<!-- run {run}: {json.dumps(after['summary'])} -->")
    print()
    for line in notes:
        print(line)
    if mismatches:
        print(f"{mismatches} mismatch(es) between the old and the new answer")
        return 1
    print("answers (summary counts, every export file's SHA-256) "
          + ("equal before and after" if args.before_src else "not compared (no --before-src)"))
    return 0


if __name__ == "__main__":  # run as a file (the worker): this directory must not shadow the
    here_dir = str(Path(__file__).resolve().parent)  # project's packages (bench/quality.py)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != here_dir]
    raise SystemExit(main())
