"""The write path on both engines, measured side by side: a generated plant (default: demo,
seed 7) loaded through ``Runtime.capture`` (every check, guard and audit entry) into a fresh
embedded store and into a Neo4j (wiped first), the times and their ratio printed, and the two
stores' genealogy answers compared (exit 1 on any difference). Asserts no timing.

    python -m bench.write_path --neo4j bolt://127.0.0.1:7687 [--size demo] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.plant import PLANT_MIGRATION, generate_plant
from graph.engines.sqlite import SQLiteStore
from graph.model import Direction, EdgeRecord
from graph.port import GraphStore
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


def load(store: GraphStore, size: str, seed: int, tmp: Path) -> tuple[Runtime, float, int]:
    """The plant captured into ``store``: the runtime, seconds and documents."""
    rt = Runtime.open(Settings(data_dir=tmp), store=store)
    t = time.perf_counter()
    docs = 0
    for d in generate_plant(size, seed):
        rt.capture(d, migration=PLANT_MIGRATION)
        docs += 1
    return rt, time.perf_counter() - t, docs


def _edges(edges: list[EdgeRecord]) -> list[str]:
    """Edges as loaded, less when (record time and transaction differ between two loads)."""
    return sorted(repr((e.src, getattr(e.type, "value", e.type), e.dst, e.eid,
                        sorted(e.props.items()))) for e in edges)


def differences(a: GraphStore, b: GraphStore, seeds: list[str]) -> list[str]:
    """Seeds whose genealogy (reached nodes with depth, edges walked) differs, both ways."""
    bad = []
    for s in seeds:
        for way in (Direction.UPSTREAM, Direction.DOWNSTREAM):
            x, y = a.genealogy([s], way), b.genealogy([s], way)
            if x.depth != y.depth or _edges(x.edges) != _edges(y.edges):
                bad.append(f"{s} {way.name}")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.write_path", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="demo")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--neo4j", default=os.environ.get("NEO4J_URI"),
                    help="bolt URI of a Neo4j to load into (WIPED); default $NEO4J_URI")
    ap.add_argument("--check", type=int, default=200, help="seeds whose answers are compared")
    a = ap.parse_args(argv)
    if not a.neo4j:
        ap.error("--neo4j (or NEO4J_URI) is required")
    from graph.engines.neo4j import Neo4jStore

    tmp = Path(tempfile.mkdtemp(prefix="tg-bench-write-"))
    emb, t_emb, docs = load(SQLiteStore(tmp / "s.sqlite"), a.size, a.seed, tmp / "e")
    neo_store = Neo4jStore(a.neo4j, "neo4j", os.environ.get("NEO4J_PASSWORD", ""))
    neo_store.wipe()
    neo, t_neo, _ = load(neo_store, a.size, a.seed, tmp / "n")
    print(f"plant {a.size} (seed {a.seed}), {docs} capture documents, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"  embedded  {t_emb:7.2f} s")
    print(f"  neo4j     {t_neo:7.2f} s   = {t_neo / t_emb:.1f}x embedded (target <= 3x)")
    nodes = sorted(n.iri for cls in ("MaterialLot", "Batch", "SerializedUnit", "Shipment")
                   for n in emb.store.nodes_of_class(cls))
    seeds = nodes[:: max(1, len(nodes) // a.check)][: a.check]
    bad = differences(emb.store, neo.store, seeds)
    print(f"  genealogy answers compared for {len(seeds)} seeds both ways: "
          + ("equal" if not bad else f"{len(bad)} DIFFER, e.g. {bad[:3]}"))
    emb.close()
    neo.close()
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
