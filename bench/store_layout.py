"""The store's size per table and per serialised unit, before and after the upgrade to the
current schema (issue 16 item 4: the compact audit trail of schema 4).

    python -m bench.store_layout <copy of a store.sqlite>   # upgrades THE COPY in place

Prints the size of every table with its indexes (``dbstat``), runs the upgrade steps on the file
exactly as an opened store does (:meth:`SQLiteStore.transaction` + ``migrate_schema``: one
``BEGIN IMMEDIATE`` transaction, ``synchronous=FULL``; the backup and the ``StoreUpgrade`` record
of ``tracegraph upgrade`` are not part of the timing), then ``VACUUM`` (the freed pages go back
to the file system; the file is vacuumed before too, so both sizes are of packed pages), and the
sizes again; checks that every audit entry reads back the same
(text of every column, compared through a digest of all rows in sequence order) and that the
trail verifies (chain only). Exits 1 on any difference.
"""

from __future__ import annotations

import hashlib
import os
import resource
import sqlite3
import sys
import time
from typing import Any

from graph.audit import verify_store
from graph.engines.sqlite.store import SQLiteStore

COLUMNS = ("seq, tx, at, actor, action, record, record_class, field, old, new, reason, "
           "event_id, prev_hash, hash")
GROUPS = {  # table → the tables and indexes counted with it
    "audit": ("audit", "audit_log", "audit_terms", "sqlite_autoindex_audit_terms_1"),
    "audit indexes": ("audit_record", "audit_actor", "audit_at"),
    "nodes": ("nodes", "sqlite_autoindex_nodes_1"),
    "node indexes": ("nodes_key", "nodes_label_key"),
    "edges": ("edges",),
    "edge indexes": ("edges_in", "edges_tx"),
    "identifiers": ("identifiers", "identifiers_node"),
}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def sizes(path: str) -> dict[str, Any]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        per = dict(con.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
        units = int(con.execute("SELECT count(*) FROM nodes WHERE label = 'SerializedUnit'"
                                ).fetchone()[0])
        entries = int(con.execute("SELECT count(*) FROM audit").fetchone()[0])
        free = int(con.execute("PRAGMA freelist_count").fetchone()[0])
        page = int(con.execute("PRAGMA page_size").fetchone()[0])
    finally:
        con.close()
    grouped = {g: sum(per.pop(n, 0) for n in names) for g, names in GROUPS.items()}
    grouped["other"] = sum(per.values())
    return {"file": os.path.getsize(path), "free": free * page, "units": units,
            "entries": entries, "tables": grouped}


def digest(path: str) -> str:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    h = hashlib.sha256()
    try:
        for row in con.execute(f"SELECT {COLUMNS} FROM audit ORDER BY seq"):
            h.update(repr(row).encode())
    finally:
        con.close()
    return h.hexdigest()


def show(title: str, s: dict[str, Any]) -> None:
    used = s["file"] - s["free"]
    print(f"{title}: file {s['file'] / 1e6:,.0f} MB ({s['free'] / 1e6:,.0f} MB free pages), "
          f"{s['units']:,} serialised units → {used / max(s['units'], 1):,.0f} bytes per unit; "
          f"{s['entries']:,} audit entries")
    for g, b in s["tables"].items():
        print(f"  {g:<14} {b / 1e6:9,.1f} MB  {b / max(s['units'], 1):7,.0f} B/unit"
              + (f"  {b / max(s['entries'], 1):6,.0f} B/entry" if g.startswith("audit") else ""))


def _vacuum(path: str, title: str) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    t = time.perf_counter()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("VACUUM")
    con.close()
    print(f"{title}: {time.perf_counter() - t:.1f} s")


def main(path: str) -> int:
    print(f"{path}; load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    _vacuum(path, "VACUUM before (both sizes without free pages)")
    before = sizes(path)
    show("before", before)
    d0 = digest(path)
    store = SQLiteStore(path)
    found = store.schema_version()
    t, c = time.perf_counter(), _cpu()
    with store.transaction() as tx:
        tx.migrate_schema()
    wall, cpu = time.perf_counter() - t, _cpu() - c
    print(f"upgrade {found} → {store.schema_version()}: {wall:.1f} s wall, {cpu:.1f} s CPU; "
          f"load average {os.getloadavg()[0]:.2f}")
    t = time.perf_counter()
    report = verify_store(store, state=False)
    print(f"audit verify (chain): {report.checked:,} entries in {time.perf_counter() - t:.1f} s,"
          f" ok={report.ok}")
    store.close()
    _vacuum(path, "VACUUM after")
    after = sizes(path)
    show("after", after)
    same = digest(path) == d0  # (the upgrade wrote no entry: the same rows)
    print(f"audit entries read back the same: {same}; bytes per unit "
          f"{(before['file'] - before['free']) / max(before['units'], 1):,.0f} → "
          f"{(after['file'] - after['free']) / max(after['units'], 1):,.0f}")
    return 0 if same and report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
