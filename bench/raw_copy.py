"""The raw-copy peer of a load (bench/README.md §1): the rows a load wrote, copied as they are
into a fresh store of the same schema — no parsing, no checks, no audit computed — in
transactions of about the size a capture document writes, each committed with
``synchronous=FULL``. What the schema itself lets a load reach on this machine.

    .venv/bin/python -m bench.raw_copy data/bench-load/tracegraph.sqlite [--out /tmp/copy.sqlite]
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import tempfile
import time
from pathlib import Path

from graph.engines.sqlite.store import SQLiteStore

__all__ = ["main", "raw_copy"]

#: (table, columns) in the order a load writes them
TABLES = (
    ("nodes", "id, iri, label, key, props, recorded_at, updated_at, tx"),
    ("identifiers", "value, prop, node"),
    ("edges", "src, type, dst, eid, props, recorded_at, tx"),
    ("audit_terms", "id, term"),  # (schema 4: the trail's codes, then its entries as stored)
    ("audit_log", "seq, tx, at, actor, action, record, record_class, field, old, new, reason, "
                  "event_id, hash, prev"),
    ("events", "event_id, content_hash, tx, recorded_at"),
)
BATCH = 20_000  # rows per transaction, as a capture document's


def raw_copy(src: Path, dst: Path) -> dict[str, float]:
    """Copy every row of ``src`` into a fresh store at ``dst``; rows and seconds per table."""
    dst.unlink(missing_ok=True)
    store = SQLiteStore(dst)  # the schema, pragmas (WAL, synchronous=FULL) and version
    out = store._conn()
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    figures: dict[str, float] = {}
    t_all = time.perf_counter()
    for table, cols in TABLES:
        marks = ", ".join("?" * len(cols.split(",")))
        sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"
        cur = source.execute(f"SELECT {cols} FROM {table}")
        n, t = 0, time.perf_counter()
        while rows := cur.fetchmany(BATCH):
            out.execute("BEGIN IMMEDIATE")
            out.executemany(sql, rows)
            out.execute("COMMIT")
            n += len(rows)
        figures[f"{table}_rows"] = n
        figures[f"{table}_s"] = time.perf_counter() - t
    figures["total_s"] = time.perf_counter() - t_all
    source.close()
    store.close()
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("store", type=Path, help="a loaded store (tracegraph.sqlite) of the current "
                    "schema")
    ap.add_argument("--out", type=Path, help="where to copy (default: a temporary file)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dst = args.out or Path(tmp) / "copy.sqlite"
        f = raw_copy(args.store, dst)
        size = dst.stat().st_size
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"raw copy: {f['nodes_rows']:,.0f} nodes, {f['edges_rows']:,.0f} edges, "
          f"{f['audit_log_rows']:,.0f} audit entries in {f['total_s']:.1f} s — "
          f"{f['edges_rows'] / f['total_s']:,.0f} edges/s; "
          + " · ".join(f"{t} {f[t + '_s']:.1f} s" for t, _ in TABLES)
          + f"; {size / 1e6:,.0f} MB; peak RSS {rss:,.0f} MB")


if __name__ == "__main__":
    main()
