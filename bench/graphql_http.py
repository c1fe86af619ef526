"""GraphQL over HTTP benchmark (issue 16): a 1,000-node genealogy page as a client receives it.

The API is served by uvicorn in its own process (production mode, embedded store); the client
is this process (httpx, one keep-alive connection, requests one after another). Timed, per
request, wall time from send to the parsed body:

* ``trivial``  ``{ me { username } }``: the floor of a request (auth, parsing, validation)
* ``rows``     ``genealogy(of: lot, direction: DOWNSTREAM, first: 1000) { nodeCount edgeCount
               rows }``: the page as one typed JSON value (nodes with depth, class, key,
               properties and record times; edges)
* ``typed``    (fewer runs) the same page field by field, ``nodes { depth node { iri class key
               properties recordedAt updatedAt } } edges { source type target edgeId
               properties recordedAt }``

Seeds are forward lots (``MaterialLot`` nodes something was derived from) whose downstream
genealogy has at least 1,000 nodes, drawn by a seeded RNG, requests cycling through them. Every
answer is checked against :func:`graph.pages.genealogy_page` computed in this process on the
same store (and the typed answer against ``rows``); a mismatch makes the command exit 1. The
server's CPU seconds (user + sys, from ``/proc``) are printed with the wall times: on a shared
machine they are the comparable figure. Timings are printed, never asserted.

``--store DIR`` serves an existing store (``DIR/tracegraph.sqlite``), read only: the server
opens it through a symbolic link in a temp directory (so its index snapshot is written there)
and the client signs a token for an existing active account with the server's key. Without it
the demo plant (``--seed``, default 7) is generated into a temp store with a reader account.

    .venv/bin/python -m bench.graphql_http --runs 100
    .venv/bin/python -m bench.graphql_http --store /work/bench-data/mds --runs 100
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from api.auth import issue_token
from api.graphql.genealogy_rows import page_rows
from graph.model import Direction
from graph.pages import genealogy_page
from quality.accounts import create_user, get_user
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

__all__ = ["main"]

KEY = "bench-graphql-http-key"
PASSWORD = "bench password 2026"
TARGET_MS = 50.0  # issue 16: a 1,000-node genealogy page p99 over HTTP
TRIVIAL = "{ me { username } }"
PAGE = """query ($of: String!) { genealogy(of: $of, direction: DOWNSTREAM, maxDepth: 50,
first: 1000) { nodeCount edgeCount %s } }"""
ROWS = PAGE % "rows"
TYPED = PAGE % ("nodes { depth node { iri class key properties recordedAt updatedAt } } "
                "edges { source type target edgeId properties recordedAt }")
LOTS = """SELECT DISTINCT n.iri FROM edges e JOIN nodes n ON n.id = e.dst
WHERE e.type = 'WAS_DERIVED_FROM' AND n.label = 'MaterialLot' ORDER BY n.iri"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _server(data_dir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    env = {**os.environ, "TRACEGRAPH_DATA_DIR": str(data_dir), "TRACEGRAPH_STORE": "embedded",
           "TRACEGRAPH_ENV": "production", "TRACEGRAPH_SECRET_KEY": KEY}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level",
                             "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                httpx.get(f"{url}/health", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(60)


def _token(rt: Runtime, demo: bool) -> str:
    if demo:
        create_user(rt, "bench.reader", PASSWORD, ["auditor"], "Bench Reader", "bench",
                    "benchmark account")
        user = get_user(rt, "bench.reader")
    else:  # an existing account: nothing is written to the store
        con = sqlite3.connect(f"file:{rt.settings.sqlite_path}?mode=ro", uri=True)
        names = [r[0] for r in con.execute("SELECT key FROM nodes WHERE label = 'User'")]
        con.close()
        user = next((u for u in (get_user(rt, n) for n in names)
                     if u is not None and u.status == "active" and u.roles), None)
    if user is None:
        raise SystemExit("no active account to sign a token for")
    return str(issue_token(user, KEY)["access_token"])


def _seeds(rt: Runtime, path: Path, n: int, seed: int) -> list[str]:
    """Up to ``n`` forward lots with a downstream genealogy of ≥ 1,000 nodes (else the one
    with the most)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    lots = [r[0] for r in con.execute(LOTS)]
    con.close()
    random.Random(seed).shuffle(lots)
    sized: list[tuple[int, str]] = []
    for lot in lots[:400]:
        count = genealogy_page(rt.store, [lot], Direction.DOWNSTREAM, 50, first=0).node_count
        sized.append((count, lot))
        if sum(1 for c, _ in sized if c >= 1000) >= n:
            break
    big = [lot for c, lot in sized if c >= 1000]
    return big or [max(sized)[1]]


def _timed(client: httpx.Client, query: str, variables: dict[str, Any], pid: int
           ) -> tuple[float, float, int, Any]:
    c0, t0 = _cpu(pid), time.perf_counter()
    r = client.post("/graphql", json={"query": query, "variables": variables})
    body = orjson.loads(r.content)
    wall = (time.perf_counter() - t0) * 1000
    if body.get("errors"):
        raise SystemExit(f"errors: {body['errors']}")
    return wall, (_cpu(pid) - c0) * 1000, len(r.content), body["data"]


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs)) - 1))]


def _line(name: str, walls: list[float], cpus: list[float], size: int) -> str:
    return (f"{name:8s} n={len(walls):4d}  p50 {_pct(walls, 50):7.1f}  p99 {_pct(walls, 99):7.1f}"
            f"  max {max(walls):7.1f} ms   server CPU p50 {_pct(cpus, 50):6.1f} ms"
            f"   body {size / 1000:7.1f} kB")


def run(data_dir: Path, demo: bool, runs: int, typed_runs: int, n_seeds: int, seed: int) -> int:
    rt = Runtime.open(Settings(data_dir=data_dir, store="embedded", secret_key=KEY))
    try:
        token = _token(rt, demo)
        seeds = _seeds(rt, rt.settings.sqlite_path, n_seeds, seed)
        expected = {s: orjson.loads(orjson.dumps(page_rows(genealogy_page(
            rt.store, [s], Direction.DOWNSTREAM, 50, first=1000)))) for s in seeds}
    finally:
        rt.close()
    print(f"seeds: {len(seeds)} forward lots, {runs} requests cycling through them; "
          f"load {os.getloadavg()}")
    bad = 0
    with _server(data_dir) as (url, proc), httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300) as client:
        for s in seeds:  # warm-up: one of each, the server's indexes and IRI order read
            _timed(client, ROWS, {"of": s}, proc.pid)
        cpu0 = _cpu(proc.pid)
        floor = [_timed(client, TRIVIAL, {}, proc.pid) for _ in range(runs)]
        rows = []
        for i in range(runs):
            s = seeds[i % len(seeds)]
            got = _timed(client, ROWS, {"of": s}, proc.pid)
            if got[3]["genealogy"]["rows"] != expected[s]:
                bad += 1
                print(f"MISMATCH: rows of {s} differ from genealogy_page")
            rows.append(got)
        typed = []
        for i in range(typed_runs):
            s = seeds[i % len(seeds)]
            got = _timed(client, TYPED, {"of": s}, proc.pid)
            g, want = got[3]["genealogy"], expected[s]
            if ([(n["node"]["iri"], n["depth"]) for n in g["nodes"]]
                    != [(n["iri"], n["depth"]) for n in want["nodes"]]
                    or [e["edgeId"] for e in g["edges"]] != [e["edgeId"] for e in want["edges"]]):
                bad += 1
                print(f"MISMATCH: typed page of {s} differs from rows")
            typed.append(got)
        cpu = _cpu(proc.pid) - cpu0
    sizes = [len(orjson.dumps(expected[s])) for s in seeds]
    counts = [len(expected[s]["nodes"]) for s in seeds]
    print(f"page: {min(counts)}-{max(counts)} nodes, {min(sizes) / 1000:.0f}-"
          f"{max(sizes) / 1000:.0f} kB of rows; server CPU over the timed runs {cpu:.2f} s")
    print(_line("trivial", [x[0] for x in floor], [x[1] for x in floor], floor[0][2]))
    print(_line("rows", [x[0] for x in rows], [x[1] for x in rows], rows[0][2]))
    if typed:
        print(_line("typed", [x[0] for x in typed], [x[1] for x in typed], typed[0][2]))
    p50s = {k: _pct([x[0] for x in v], 50) for k, v in
            (("trivial", floor), ("rows", rows), ("typed", typed)) if v}
    p99 = _pct([x[0] for x in rows], 99)
    print(f"target: rows p99 ≤ {TARGET_MS:.0f} ms: {p99:.1f} ms "
          f"({'met' if p99 <= TARGET_MS else 'NOT met'}, {p99 / TARGET_MS:.2f}x the target); "
          f"rows p50 ÷ trivial p50 {p50s['rows'] / p50s['trivial']:.1f}x"
          + (f"; typed p50 ÷ rows p50 {p50s['typed'] / p50s['rows']:.1f}x" if typed else ""))
    print(f"load {os.getloadavg()}; answers {'checked equal' if not bad else f'{bad} MISMATCHES'}")
    return 1 if bad else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, help="a directory holding tracegraph.sqlite (read only)")
    ap.add_argument("--seed", type=int, default=7, help="demo plant seed, and the seed draw")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--typed-runs", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=10, help="forward lots to cycle through")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        if args.store is None:
            from bench.plant import PLANT_MIGRATION, generate_plant

            rt = Runtime.open(Settings(data_dir=data, store="embedded"))
            for doc in generate_plant(size="demo", seed=args.seed):
                rt.capture(doc, migration=PLANT_MIGRATION)
            rt.close()
        else:
            src = args.store.resolve() / "tracegraph.sqlite"
            (data / "tracegraph.sqlite").symlink_to(src)
            snap = src.with_name(src.name + ".derivations.npz")
            if snap.exists():  # the index snapshot, so the server need not rebuild it
                (data / snap.name).symlink_to(snap)
        sys.exit(run(data, args.store is None, args.runs, args.typed_runs, args.seeds,
                     args.seed))


if __name__ == "__main__":
    main()
