"""The genealogy benchmark's runner (:mod:`bench.genealogy`): the stores and seed pools of one
graph, each engine's call and the reduction of its answer, the timed runs with their checks, a
cProfile of one run per engine, and the note on the machine and code a run was taken on."""

from __future__ import annotations

import cProfile
import datetime as dt
import gc
import io
import os
import platform
import pstats
import random
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from bench.genealogy_csr import CSRRoofline
from bench.genealogy_model import PAGE, REFERENCE, Answer, Cell, Question, compare, console
from bench.genealogy_pg import PostgresPeer
from bench.neo4j_copy import open_readonly
from graph.engines.sqlite import SQLiteStore
from graph.model import Direction
from graph.pages import GenealogyPage, genealogy_page
from graph.schema import DERIVATION

__all__ = ["Bench", "machine_note", "profile"]


class Bench:
    def __init__(self, sqlite_path: Path, neo4j_uri: str | None, user: str, password: str,
                 engines: Sequence[str], max_depth: int) -> None:
        self.engines = list(engines)
        self.max_depth = max_depth
        self.store = SQLiteStore(sqlite_path)
        self.ro = open_readonly(sqlite_path)
        self.timings: dict[str, float] = {}
        t0 = time.perf_counter()
        n = int(self.ro.execute("SELECT max(id) FROM nodes").fetchone()[0]) + 1
        self.iri_of = np.empty(n, dtype=object)
        ids, iris = zip(*self.ro.execute("SELECT id, iri FROM nodes"), strict=True)
        self.iri_of[np.array(ids)] = iris
        self.lots = [int(r[0]) for r in self.ro.execute(
            "SELECT n.id FROM nodes n WHERE n.label = 'MaterialLot' AND EXISTS (SELECT 1 FROM "
            "edges e WHERE e.dst = n.id AND e.type = ?) ORDER BY n.id", (DERIVATION,))]
        self.units = [int(r[0]) for r in self.ro.execute(
            "SELECT id FROM nodes WHERE label = 'SerializedUnit' ORDER BY id")]
        self.timings["load id/iri map and seed pools (s)"] = time.perf_counter() - t0
        self.neo: Any = None
        if any(e.startswith("neo4j") for e in self.engines):
            if not neo4j_uri:
                raise SystemExit("a neo4j engine was asked for but no --neo4j-uri / NEO4J_URI")
            from graph.engines.neo4j import Neo4jStore

            self.neo = Neo4jStore(neo4j_uri, user, password)
        self.csr: CSRRoofline | None = None
        self.pg: PostgresPeer | None = None
        if "csr" in self.engines or "postgres.cte" in self.engines:
            t0 = time.perf_counter()
            rows = self.ro.execute("SELECT src, dst FROM edges WHERE type = ?",
                                   (DERIVATION,)).fetchall()
            arr = np.array(rows, dtype=np.int64).reshape(-1, 2)
            del rows
            self.timings["read derivation edges (s)"] = time.perf_counter() - t0
            if "csr" in self.engines:
                t0 = time.perf_counter()
                self.csr = CSRRoofline(arr[:, 0], arr[:, 1])
                self.timings["csr: build (s)"] = time.perf_counter() - t0
            if "postgres.cte" in self.engines:
                self.pg = PostgresPeer(np.ascontiguousarray(arr[:, 0]),
                                       np.ascontiguousarray(arr[:, 1]))
                self.timings.update(self.pg.timings)
                if self.pg.rows != arr.shape[0]:
                    raise SystemExit(f"PostgreSQL holds {self.pg.rows} edges, the store "
                                     f"{arr.shape[0]}")
            del arr
        if any(e.startswith("embedded") for e in self.engines):
            t0 = time.perf_counter()
            self.store.reach([str(self.iri_of[self.lots[0]])], Direction.DOWNSTREAM, 1)
            self.timings["embedded: first reach, builds DerivationIndex (s)"] = (
                time.perf_counter() - t0)

    # seeds ------------------------------------------------------------------------------------
    def seeds(self, q: Question, seed: int, run: int | str) -> list[int]:
        rng = random.Random(f"{seed}/{q.name}/{run}")
        pool = self.lots if q.pool == "lots" else self.units
        return sorted(rng.sample(pool, q.k))

    # engines ----------------------------------------------------------------------------------
    def runner(self, engine: str, q: Question, ids: list[int]
               ) -> tuple[Callable[[], Any], Callable[[Any], Answer]]:
        """``(call, reduce)``: ``call`` is what is timed, ``reduce`` turns its result into an
        :class:`Answer` (untimed)."""
        iris = [str(self.iri_of[i]) for i in ids]
        d, md = q.direction, self.max_depth
        if engine == "embedded.reach":
            def reduce_reach(r: Any) -> Answer:
                depth = {str(self.iri_of[k]): v for k, v in r[0].items()}
                return Answer(depth, set(depth), len(r[1]))
            return (lambda: self.store.reach(iris, d, md)), reduce_reach
        if engine == "embedded.walk":
            def reduce_walk(w: Any) -> Answer:
                handles = [h for hs in w.by_label().values() for h in hs]
                names = w.iris(handles)
                depth = {names[h]: w.depth_of(h) for h in handles}
                return Answer(depth, set(depth), -1)
            return (lambda: self.store.walk(iris, d, md)), reduce_walk
        if engine == "embedded.page":
            def reduce_page(p: GenealogyPage) -> Answer:
                rows = [(n.iri, d) for n, d in p.nodes]
                return Answer(None, {i for i, _ in rows}, p.edge_count, rows, p.node_count)
            return (lambda: genealogy_page(self.store, iris, d, md, first=PAGE)), reduce_page
        if engine == "postgres.cte":
            assert self.pg is not None
            pg = self.pg

            def reduce_pg(r: list[tuple[int, int]]) -> Answer:
                dd = {str(self.iri_of[k]): v for k, v in r}
                return Answer(dd, set(dd), -1)
            return (lambda: pg.walk(ids, d == Direction.UPSTREAM, md)), reduce_pg
        if engine in ("embedded.genealogy", "neo4j.genealogy"):
            st = self.store if engine.startswith("embedded") else self.neo

            def reduce_gen(g: Any) -> Answer:
                if set(g.nodes) != set(g.depth):
                    raise AssertionError(f"{engine}: records missing for "
                                         f"{len(set(g.depth) - set(g.nodes))} reached nodes")
                return Answer(dict(g.depth), set(g.depth), len(g.edges))
            return (lambda: st.genealogy(iris, d, md)), reduce_gen
        if engine == "neo4j.cypher":
            arrow = ("-[:{t}*0..{m}]->" if d == Direction.UPSTREAM else "<-[:{t}*0..{m}]-")
            query = ("UNWIND $iris AS i MATCH (s:Record {iri: i})"
                     + arrow.format(t=DERIVATION, m=md)
                     + "(t:Record) RETURN DISTINCT t.iri AS iri")

            def call_cypher() -> list[str]:
                recs, _, _ = self.neo.driver.execute_query(query, {"iris": iris},
                                                           database_=self.neo.database,
                                                           routing_="r")
                return [r["iri"] for r in recs]
            return call_cypher, lambda r: Answer(None, set(r), -1)
        if engine == "csr":
            assert self.csr is not None
            csr = self.csr

            def reduce_csr(r: Any) -> Answer:
                found, depth, walked = r
                dd = dict(zip(self.iri_of[found].tolist(), depth.tolist(), strict=True))
                return Answer(dd, set(dd), walked)
            return (lambda: csr.walk(ids, d == Direction.UPSTREAM, md)), reduce_csr
        raise ValueError(engine)

    def engines_for(self, q: Question, cypher_max_seeds: int) -> list[str]:
        return [e for e in self.engines if e != "neo4j.cypher" or q.k <= cypher_max_seeds]

    def run(self, questions: Sequence[Question], runs: int, recall_runs: int, warmup: int,
            seed: int, cypher_max_seeds: int, first_run: int = 0
            ) -> dict[str, dict[str, Cell]]:
        cells: dict[str, dict[str, Cell]] = {}
        for q in questions:
            n = runs if q.k == 1 else recall_runs
            engines = self.engines_for(q, cypher_max_seeds)
            cells[q.name] = row = {e: Cell() for e in engines}
            t_q = time.perf_counter()
            for i in [f"warmup{w}" for w in range(warmup)] + list(range(first_run,
                                                                         first_run + n)):
                ids = self.seeds(q, seed, i)
                ref: Answer | None = None
                answers: dict[str, Answer] = {}
                for e in engines:
                    call, reduce = self.runner(e, q, ids)
                    gc.collect()
                    t0 = time.perf_counter()
                    result = call()
                    elapsed = time.perf_counter() - t0
                    ans = reduce(result)
                    del result
                    if isinstance(i, int):
                        row[e].seconds.append(elapsed)
                        row[e].reached.append(len(ans.nodes))
                        row[e].edges.append(ans.edges)
                    answers[e] = ans
                ref = answers.get(REFERENCE) or next(iter(answers.values()))
                for e, ans in answers.items():
                    problem = compare(ref, ans)
                    if problem:
                        row[e].mismatches.append(f"run {i} seeds {ids[:3]}…: {problem}")
                del answers, ref
                console.log(f"{q.name} run {i}: " + ", ".join(
                    f"{e} {row[e].seconds[-1] * 1000:,.1f} ms" for e in engines
                    if isinstance(i, int) and row[e].seconds), highlight=False)
            self.timings[f"{q.name}: wall time incl. warm-up and checks (s)"] = (
                time.perf_counter() - t_q)
        return cells

    def close(self) -> None:
        if self.pg is not None:
            self.pg.close()
        if self.neo is not None:
            self.neo.close()
        self.store.close()
        self.ro.close()



# -- profiling ---------------------------------------------------------------------------------

def profile(bench: Bench, q: Question, seed: int, top: int) -> None:
    """cProfile one run of ``q`` per engine; for Neo4j also time each BFS round trip."""
    import graph.engines.neo4j.tree as ns

    ids = bench.seeds(q, seed, "profile")
    for e in bench.engines_for(q, 10**9):
        call, _ = bench.runner(e, q, ids)
        trips: list[tuple[int, int, float]] = []
        orig = ns.expand
        if e == "neo4j.genealogy":
            def timed(tx: Any, frontier: list[str], *a: Any,
                      orig: Any = orig, trips: list[tuple[int, int, float]] = trips
                      ) -> Iterator[Any]:
                t0 = time.perf_counter()
                rows = list(orig(tx, frontier, *a))
                trips.append((len(frontier), len(rows), time.perf_counter() - t0))
                yield from rows
            ns.expand = timed  # type: ignore[assignment]  # profiling wraps the engine's BFS step
        prof = cProfile.Profile()
        gc.collect()
        t0 = time.perf_counter()
        try:
            prof.runcall(call)
        finally:
            ns.expand = orig
        total = time.perf_counter() - t0
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
        lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()][3:]
        console.rule(f"profile {q.name} ({len(ids)} seeds) · {e} · {total * 1000:,.0f} ms "
                     "under cProfile")
        console.print("\n".join(lines), highlight=False, markup=False, soft_wrap=True)
        if trips:
            t = Table(title="Neo4j BFS levels (per-level search only: no APOC, "
                              "filters; one round trip per 5,000 frontier IRIs)")
            for c in ("level", "frontier", "rows", "ms"):
                t.add_column(c, justify="right")
            for n, (f, r, s) in enumerate(trips, 1):
                t.add_row(str(n), f"{f:,}", f"{r:,}", f"{s * 1000:,.1f}")
            console.print(t)


# -- the run's note ----------------------------------------------------------------------------

def machine_note(bench: Bench) -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    note = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} · {os.cpu_count()} cores · {mem} · {cpu}",
        "python / sqlite": f"{platform.python_version()} / {sqlite3.sqlite_version}",
        "load average (1/5/15 min)": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    try:
        root = Path(__file__).resolve().parents[1]
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "graph"],
                               capture_output=True, text=True, check=True).stdout.strip()
        note["code"] = f"git {head}" + (" + uncommitted changes in graph/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        pass
    if bench.pg is not None:
        note["postgres"] = f"PostgreSQL {bench.pg.version} (Debian), loopback, recursive CTE"
    if bench.neo is not None:
        v = bench.neo._read("CALL dbms.components() YIELD name, versions, edition "
                            "RETURN name + ' ' + versions[0] + ' ' + edition AS v")[0]["v"]
        note["neo4j"] = str(v)
    return note
