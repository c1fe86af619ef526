"""PostgreSQL as a peer in the genealogy benchmark (:mod:`bench.genealogy`, issue 16 item 6).

The engine an ERP user would otherwise query: Debian's PostgreSQL server (``postgresql`` in
tools/debian-packages.txt), started by the benchmark in a temporary directory, listening on
127.0.0.1 only, and stopped at the end. It holds the same derivation edges as the embedded store
(``src`` derived from ``dst``, node ids as the embedded store numbers them) in one table with an
index per direction, and answers each question with one recursive CTE: every node reached within
``max_depth`` hops with its fewest hops, as the other engines do.

As root (a container), the server runs as the ``postgres`` account the Debian package creates
(PostgreSQL refuses to run as root); the data directory is handed to that account.

Server settings: the defaults, except memory sized to this machine (``shared_buffers`` 1 GB,
``work_mem`` 64 MB, ``effective_cache_size`` 4 GB), ``jit`` off (its compile time is paid per
query; an OLTP server turns it off), and durability off while loading (``fsync``,
``synchronous_commit``, ``full_page_writes``; the table is unlogged): none of these touch what
the timed read queries do.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["PostgresPeer", "pg_bin"]

#: one recursive CTE per question: (node id, fewest hops) of everything reached
WALK = """
WITH RECURSIVE walk(id, depth) AS (
    SELECT s, 0 FROM unnest(%(seeds)s::bigint[]) AS s
  UNION
    SELECT e.{far}, w.depth + 1 FROM walk w JOIN derivation e ON e.{near} = w.id
    WHERE w.depth < %(max_depth)s
)
SELECT id, min(depth) FROM walk GROUP BY id
"""

SETTINGS = ("shared_buffers=1GB", "work_mem=64MB", "effective_cache_size=4GB", "jit=off",
            "fsync=off", "synchronous_commit=off", "full_page_writes=off",
            "listen_addresses=127.0.0.1", "max_connections=10")


def pg_bin() -> Path:
    """The directory of Debian's PostgreSQL server programs (the newest installed)."""
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                       key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
                       reverse=True):
        if (base / "initdb").exists() and (base / "pg_ctl").exists():
            return base
    raise SystemExit("PostgreSQL server not installed: `make system-deps` (Debian package "
                     "postgresql, tools/debian-packages.txt)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresPeer:
    """A private PostgreSQL server holding one edge table, for the duration of a run."""

    def __init__(self, src: npt.NDArray[np.int64], dst: npt.NDArray[np.int64]) -> None:
        import psycopg

        self.bin = pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="tracegraph-pg-"))
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses root: the Debian package's account
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.timings: dict[str, float] = {}
        t0 = time.perf_counter()
        self._run("initdb", "-D", str(self.dir / "data"), "-U", "bench", "--auth=trust",
                  "-E", "UTF8", "--no-locale", "--no-sync")
        opts = " ".join(f"-c {s}" for s in SETTINGS) + f" -p {self.port} -k {self.dir}"
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"),
                  "-o", opts, "-w", "start")
        self.timings["postgres: initdb + start (s)"] = time.perf_counter() - t0
        self.conn: Any = psycopg.connect(host="127.0.0.1", port=self.port, user="bench",
                                         dbname="postgres", autocommit=True)
        self.version = str(self._one("SHOW server_version"))
        t0 = time.perf_counter()
        self._load(src, dst)
        self.timings["postgres: load edges + index + analyze (s)"] = time.perf_counter() - t0

    def _run(self, prog: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / prog), *args], check=True,
                       capture_output=True, cwd=self.dir)

    def _load(self, src: npt.NDArray[np.int64], dst: npt.NDArray[np.int64]) -> None:
        c = self.conn
        c.execute("CREATE UNLOGGED TABLE derivation (src bigint NOT NULL, dst bigint NOT NULL)")
        per = 500_000
        with c.cursor() as cur, cur.copy("COPY derivation (src, dst) FROM STDIN") as cp:
            for i in range(0, src.size, per):
                s, d = src[i:i + per].tolist(), dst[i:i + per].tolist()
                cp.write("".join(f"{a}\t{b}\n" for a, b in zip(s, d, strict=True)))
        c.execute("CREATE INDEX derivation_out ON derivation (src, dst)")
        c.execute("CREATE INDEX derivation_in ON derivation (dst, src)")
        c.execute("VACUUM ANALYZE derivation")
        self.rows = int(self._one("SELECT count(*) FROM derivation"))

    def _one(self, sql: str) -> Any:
        row = self.conn.execute(sql).fetchone()
        return None if row is None else row[0]

    def walk(self, seeds: Sequence[int], upstream: bool, max_depth: int
             ) -> list[tuple[int, int]]:
        """``(node id, depth)`` of everything reached (derived things downstream, sources
        upstream), as the server returns them."""
        near, far = ("src", "dst") if upstream else ("dst", "src")
        sql = WALK.format(near=near, far=far)
        return list(self.conn.execute(sql, {"seeds": list(seeds), "max_depth": max_depth}))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
