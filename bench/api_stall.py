"""API stall benchmark: how long the server takes to refuse the fragment-doubling query (21
fragments, each spreading the previous one twice; COST_LIMIT) and how long a trivial query
sent at the same moment by another client waits meanwhile. Figures are printed, never asserted
(DESIGN.md §10).

The API is served by uvicorn in its own process (production mode, embedded store); the clients
are threads of this one.

    .venv/bin/python -m bench.api_stall --rounds 30
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from quality.accounts import create_user
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

__all__ = ["doubling", "main"]

TRIVIAL = "{ me { username } }"
PASSWORD = "bench password 2026"


def doubling(levels: int) -> str:
    """A short document whose fragments each spread the previous one twice (2**levels
    selections once expanded)."""
    frags = ["fragment F0 on Stat { label count }"] + [
        f"fragment F{i} on Stat {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    return f"{{ stats {{ ...F{levels} }} }} " + " ".join(frags)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _timed(client: httpx.Client, query: str, out: list[float], codes: list[str]) -> None:
    t = time.perf_counter()
    body = client.post("/graphql", json={"query": query}).json()
    out.append((time.perf_counter() - t) * 1000)
    errors = body.get("errors") or []
    codes.append(errors[0]["extensions"].get("code", "?") if errors else "ok")


def _ms(xs: list[float]) -> str:
    xs = sorted(xs)
    return (f"p50 {statistics.median(xs):7.1f} ms   p90 {xs[int(len(xs) * 0.9) - 1]:7.1f} ms   "
            f"max {xs[-1]:7.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--levels", type=int, default=21, help="fragments in the doubling query")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rt = Runtime.open(Settings(data_dir=Path(tmp), store="embedded"))
        create_user(rt, "bench.reader", PASSWORD, ["auditor"], "Bench Reader", "bench",
                    "benchmark account")
        rt.close()
        port = _free_port()
        env = {**os.environ, "TRACEGRAPH_DATA_DIR": tmp, "TRACEGRAPH_STORE": "embedded",
               "TRACEGRAPH_ENV": "production", "TRACEGRAPH_SECRET_KEY": "bench-key"}
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:create_app",
                                 "--factory", "--host", "127.0.0.1", "--port", str(port),
                                 "--log-level", "warning"], env=env,
                                stderr=subprocess.DEVNULL)  # the refusals it logs
        try:
            _run(f"http://127.0.0.1:{port}", args.rounds, doubling(args.levels))
        finally:
            proc.terminate()
            proc.wait(30)


def _run(url: str, rounds: int, attack: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            token = httpx.post(f"{url}/auth/token", data={
                "username": "bench.reader", "password": PASSWORD}).json()["access_token"]
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=auth, timeout=120) as a, \
            httpx.Client(base_url=url, headers=auth, timeout=120) as b:
        alone: list[float] = []
        for _ in range(5):  # warm-up (worker threads, first validation)
            _timed(b, TRIVIAL, [], [])
            _timed(a, attack, [], [])
        for _ in range(rounds):
            _timed(b, TRIVIAL, alone, [])
        refused: list[float] = []
        concurrent: list[float] = []
        codes: list[str] = []
        for _ in range(rounds):
            t = threading.Thread(target=_timed, args=(a, attack, refused, codes))
            t.start()
            time.sleep(0.002)  # the attack is in flight when the trivial query arrives
            _timed(b, TRIVIAL, concurrent, [])
            t.join()
    print(f"fragment-doubling query ({len(attack)} characters): refused "
          f"{sorted(set(codes))}  {_ms(refused)}")
    print(f"trivial query, concurrent with it:                {_ms(concurrent)}")
    print(f"trivial query, alone:                             {_ms(alone)}")


if __name__ == "__main__":
    main()
