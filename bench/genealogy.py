"""Genealogy benchmark: the same traceability questions on the embedded engine, on Neo4j and
on an in-memory CSR roofline, on one graph, in one run on one machine (DESIGN.md §5, §10).

Questions (derivation edges ``WAS_DERIVED_FROM`` only, ``max_depth`` 50):

* ``forward``      DOWNSTREAM from one supplier material lot — where did it go?
* ``backward``     UPSTREAM from one serialised unit — what went into it?
* ``recall-10``, ``recall-100``, ``recall-1000``
                   DOWNSTREAM from 10 / 100 / 1,000 lots at once (a recall).

Lots are the ``MaterialLot`` nodes that something was derived from, units the
``SerializedUnit`` nodes; both are drawn by a seeded RNG, a different draw per run and the same
draw for every engine. Engines:

* ``embedded.reach``      ``SQLiteStore.reach``: node ids and depths, edges as id pairs
* ``embedded.walk``       (extra, opt-in) ``SQLiteStore.walk``, the traversal behind recall: one
                          walk as arrays, nothing materialised
* ``embedded.page``       ``graph.pages.genealogy_page``: what a user receives — counts and the
                          first 1,000 node and edge records (checked: counts and page order)
* ``embedded.genealogy``  ``SQLiteStore.genealogy``: the full answer (node and edge records)
* ``neo4j.genealogy``     ``Neo4jStore.genealogy``: the full answer
* ``neo4j.cypher``        (extra, opt-in) one variable-length Cypher query returning the distinct
                          reached IRIs, to show what a server-side traversal costs
* ``postgres.cte``        Debian's PostgreSQL server started by the bench on loopback, the same
                          edges, one recursive CTE (:mod:`bench.genealogy_pg`)
* ``csr``                 roofline: numpy BFS over CSR arrays of the same edges, built once,
                          seeds given as ids; depths and walked-edge indices as arrays

Every run's reached node sets (and depths, where an engine gives them) are checked against
``embedded.genealogy``; mismatches are reported, and make the command exit 1. Timings are
printed, never asserted.

This module is the command line; the runner (timed runs, checks, profiling) is
:mod:`bench.genealogy_runner`, the questions, engines and answers :mod:`bench.genealogy_model`,
the roofline :mod:`bench.genealogy_csr`, the JSON figures and printed tables
:mod:`bench.genealogy_report`.

    .venv/bin/python -m bench.genealogy --sqlite data/bench-load/tracegraph.sqlite \\
        --neo4j-uri bolt://127.0.0.1:7687 --runs 20 --recall-runs 5
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import orjson

from bench.genealogy_csr import CSRRoofline
from bench.genealogy_model import DEFAULT_ENGINES, ENGINES, QUESTIONS, REFERENCE, console
from bench.genealogy_report import merge_json, report, to_json
from bench.genealogy_runner import Bench, machine_note, profile
from bench.neo4j_copy import neo4j_counts, sqlite_counts
from graph.schema import DERIVATION

__all__ = ["QUESTIONS", "CSRRoofline", "main"]


# -- command line ------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.genealogy", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sqlite", type=Path, help="embedded store (bench/load.sh)")
    ap.add_argument("--neo4j-uri", default=os.environ.get("NEO4J_URI"),
                    help="bolt URI of a Neo4j holding the same graph (bench.neo4j_copy); "
                         "default $NEO4J_URI; without it the Neo4j engines are left out")
    ap.add_argument("--neo4j-user", default=os.environ.get("NEO4J_USER", "neo4j"))
    ap.add_argument("--neo4j-password", default=os.environ.get("NEO4J_PASSWORD", ""))
    ap.add_argument("--runs", type=int, default=20, help="timed runs of forward/backward")
    ap.add_argument("--recall-runs", type=int, default=5, help="timed runs of each recall")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs first")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--first-run", type=int, default=0,
                    help="index of the first timed run (to split long runs over invocations "
                         "with the same seeds; merge them with --from-json)")
    ap.add_argument("--max-depth", type=int, default=50)
    ap.add_argument("--questions", default=",".join(q.name for q in QUESTIONS),
                    help="comma-separated subset of: " + ", ".join(q.name for q in QUESTIONS))
    ap.add_argument("--engines", default=None,
                    help=f"comma-separated subset of: {', '.join(ENGINES)} "
                         f"(default: {', '.join(DEFAULT_ENGINES)}; Neo4j ones need a URI)")
    ap.add_argument("--cypher-max-seeds", type=int, default=10,
                    help="run neo4j.cypher only on questions with at most this many seeds")
    ap.add_argument("--profile", action="store_true",
                    help="instead of timing, cProfile one run per question and engine")
    ap.add_argument("--top", type=int, default=14, help="profile: functions shown")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--from-json", type=Path, nargs="+", metavar="JSON",
                    help="print the figures of earlier --json files (merged) and exit")
    args = ap.parse_args(argv)
    if args.from_json:
        return report(merge_json(args.from_json))
    if args.sqlite is None:
        ap.error("--sqlite is required")
    if not args.sqlite.exists():
        ap.error(f"{args.sqlite} does not exist (run bench/load.sh first)")
    engines = (args.engines.split(",") if args.engines else
               [e for e in DEFAULT_ENGINES if args.neo4j_uri or not e.startswith("neo4j")])
    for e in engines:
        if e not in ENGINES:
            ap.error(f"unknown engine {e!r}")
    if REFERENCE not in engines:
        console.print(f"[yellow]{REFERENCE} not run: answers are checked against {engines[0]}")
    by_name = {q.name: q for q in QUESTIONS}
    try:
        questions = [by_name[n] for n in args.questions.split(",")]
    except KeyError as e:
        ap.error(f"unknown question {e}")

    bench = Bench(args.sqlite, args.neo4j_uri, args.neo4j_user, args.neo4j_password, engines,
                  args.max_depth)
    try:
        n_nodes, edge_counts = sqlite_counts(bench.ro)
        graph = {"nodes": n_nodes, "edges": sum(edge_counts.values()),
                 f"{DERIVATION} edges": edge_counts.get(DERIVATION, 0),
                 "lots used (forward/recall pool)": len(bench.lots),
                 "serialised units (backward pool)": len(bench.units),
                 "watermark": bench.store.watermark()}
        if bench.neo is not None:
            nn, ne = neo4j_counts(bench.neo, sorted(edge_counts))
            if nn != n_nodes or ne != edge_counts or bench.neo.watermark() != graph["watermark"]:
                raise SystemExit("Neo4j does not hold the same graph: run "
                                 "`python -m bench.neo4j_copy` first")
        if args.profile:
            for q in questions:
                profile(bench, q, args.seed, args.top)
            return 0
        cells = bench.run(questions, args.runs, args.recall_runs, args.warmup, args.seed,
                          args.cypher_max_seeds, args.first_run)
        settings = {"warmup": args.warmup, "seed": args.seed, "max_depth": args.max_depth,
                    "first_run": args.first_run, "engines": engines,
                    "sqlite": str(args.sqlite)}
        doc = to_json(cells, graph, machine_note(bench), bench.timings, settings)
        if args.json:
            args.json.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
            console.print(f"figures written to {args.json}")
        return report(doc)
    finally:
        bench.close()


if __name__ == "__main__":
    sys.exit(main())
