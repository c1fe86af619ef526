"""`tracegraph recall` of many lots on a large store, before and after, same seeds, one run
(issue 16 item 1): walk time, counts time (traversal + classification, what the command prints
first), complete-export time, CPU seconds and peak RSS of the process, and the ratio to the walk.

Each measurement runs in a fresh process doing what ``tracegraph recall`` does
(``Runtime.recall(unit_limit=0)`` then ``graph.recall.write_export``), on the store opened as the
command opens it. ``--before-src DIR`` names a source tree of the old code (e.g.
``git archive main | tar -x -C DIR``): the same worker runs there too, on the same seeds, and the
command exits 1 when the answers differ (the summary counts, or any export file's SHA-256).
Timings are printed, never asserted; ``uptime``'s load is printed next to every figure, since the
machine may be shared.

    .venv/bin/python -m bench.recall_cli --sqlite data/bench-load/tracegraph.sqlite \\
        --lots 1000 --runs 3 --before-src /tmp/main-src

The worker part of this file imports nothing from ``bench`` so that it runs under the old tree.
"""

from __future__ import annotations

import argparse
import hashlib
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

LOT_POOL = ("SELECT n.iri FROM nodes n WHERE n.label = 'MaterialLot' AND EXISTS (SELECT 1 FROM "
            "edges e WHERE e.dst = n.id AND e.type = 'WAS_DERIVED_FROM') ORDER BY n.id")


def _worker(store_path: str, seeds_file: str, out: str, lean: bool,
            consignees: bool = False) -> dict[str, Any]:
    from graph.engines.sqlite import SQLiteStore
    from graph.model import Direction
    from graph.recall import write_export
    from tracegraph.runtime import Runtime

    seeds = Path(seeds_file).read_text().split()
    store = SQLiteStore(store_path)
    if lean:  # what `tracegraph recall` does now
        store.limit_memory(16, 0)
    rt = Runtime.open(store=store)
    store.walk(seeds[:1], Direction.DOWNSTREAM)  # loads the derivation index, as any first call
    t0, c0 = time.perf_counter(), time.process_time()
    walk = store.walk(seeds, Direction.DOWNSTREAM)
    t_walk, c_walk = time.perf_counter() - t0, time.process_time() - c0
    del walk
    t0, c0 = time.perf_counter(), time.process_time()
    lists = {"package_limit": 0} if lean else {}  # the command lists no package (new code)
    answer = rt.recall(seeds, unit_limit=0, **lists)
    t_counts, c_counts = time.perf_counter() - t0, time.process_time() - c0
    # --consignees: the units file with each unit's shipment and customer, as the command
    # writes it (issue 15 item 11)
    files = write_export(answer, Path(out), store) if consignees else \
        write_export(answer, Path(out))
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
            "rss_mb": rss_mb,
            "summary": answer.summary(), "sha256": hashes}


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _measure(src: Path, store: Path, seeds_file: Path, out: Path, lean: bool,
             consignees: bool = False) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(seeds_file),
           "--sqlite", str(store), "--out", str(out), *(["--lean"] if lean else []),
           *(["--consignees"] if consignees else [])]
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sqlite", type=Path, required=True, help="the store (read only)")
    ap.add_argument("--lots", type=int, default=1000, help="seed lots per recall")
    ap.add_argument("--runs", type=int, default=3, help="draws of seeds")
    ap.add_argument("--seed", type=int, default=1, help="RNG seed of the draws")
    ap.add_argument("--before-src", type=Path, help="source tree of the old code to compare")
    ap.add_argument("--out", type=Path, help="scratch directory for the export files")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--lean", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--consignees", action="store_true",
                    help="also the export with each unit's shipment and customer (a row "
                         "'after + consignees': what `tracegraph recall` writes)")
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(str(args.sqlite), args.worker, str(args.out), args.lean,
                                 args.consignees)))
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
          "before→after\n")
    print("| run / code | walk ms | counts s | complete export s | peak RSS MB "
          "| counts / export vs walk | load |")
    print("|---|---|---|---|---|---|---|")
    for run in range(args.runs):
        seeds = sorted(random.Random(f"{args.seed}/{run}").sample(pool, args.lots))
        seeds_file = scratch / f"seeds-{run}.txt"
        seeds_file.write_text("\n".join(seeds))
        after = _measure(here, args.sqlite, seeds_file, scratch / "after", lean=True)
        print(_row(f"{run} after", after), flush=True)
        if args.consignees:
            with_c = _measure(here, args.sqlite, seeds_file, scratch / "consignees", lean=True,
                              consignees=True)
            print(_row(f"{run} after + consignees", with_c), flush=True)
        if args.before_src:
            before = _measure(args.before_src.resolve(), args.sqlite, seeds_file,
                              scratch / "before", lean=False)
            print(_row(f"{run} before", before), flush=True)
            for k in ("summary", "sha256"):
                if before[k] != after[k]:
                    mismatches += 1
                    print(f"MISMATCH run {run} {k}: before {before[k]} after {after[k]}")
        print(f"<!-- run {run}: {json.dumps(after['summary'])} -->")
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
