"""Timings of the version and change-impact queries on the demo plant (embedded store, and
Neo4j when ``NEO4J_URI`` is set): prints the median and max of repeated runs.

    .venv/bin/python -m bench.versions_bench [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.plant import PLANT_MIGRATION, generate_plant
from graph.change_impact import change_impact
from graph.engines.sqlite import SQLiteStore
from graph.port import GraphStore
from graph.versions import diff_versions, effective_version, load_tree
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs), max(runs)


def run(store: GraphStore, tmp: Path, repeat: int) -> None:
    rt = Runtime.open(Settings(data_dir=tmp), store=store)
    t = time.perf_counter()
    for doc in generate_plant(size="demo", seed=7):
        rt.capture(doc, migration=PLANT_MIGRATION)
    print(f"[{store.engine}] demo plant loaded with the guards in {time.perf_counter() - t:.1f} s")
    m = rt.vocab.mint_iri
    v1, v2 = m("ProcessVersion", "CATH-ASSY/v1"), m("ProcessVersion", "CATH-ASSY/v2")
    cases: dict[str, Callable[[], object]] = {
        "diff v1→v2": lambda: diff_versions(load_tree(store, v1), load_tree(store, v2)),
        "effective version at t": lambda: effective_version(
            store, m("ProcessDefinition", "CATH-ASSY"), "2026-02-01T00:00:00.000000Z"),
        "impact: parameter spec": lambda: change_impact(
            store, m("ParameterSpec", "CATH-ASSY/v1/OP20/UV-DOSE")),
        "impact: fixture": lambda: change_impact(store, m("Fixture", "MLD-CONN-01")),
        "impact: material (lots)": lambda: change_impact(store, m("Material", "ADH-UV")),
    }
    for name, fn in cases.items():
        med, worst = _time(fn, repeat)
        print(f"[{store.engine}] {name:28s} median {med:8.2f} ms   max {worst:8.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        store = SQLiteStore(Path(d) / "s.sqlite")
        run(store, Path(d), args.repeat)
        store.close()
        uri = os.environ.get("NEO4J_URI")
        if uri:
            from graph.engines.neo4j import Neo4jStore

            neo = Neo4jStore(uri, os.environ.get("NEO4J_USER", "neo4j"),
                             os.environ.get("NEO4J_PASSWORD", ""))
            neo.wipe()
            run(neo, Path(d), args.repeat)
            neo.close()


if __name__ == "__main__":
    main()
