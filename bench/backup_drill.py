"""The kill -9 restore drill (issue 19 item 2): ``python -m bench.backup_drill [--trials 20]``.

A writer process (:mod:`bench.backup_writer`) writes through the Writer and the raw store the
whole time. Each trial starts ``tracegraph backup`` into its own directory and kills it with
SIGKILL at a random moment of the backup (between the appearance of its partial directory and
the typical duration of a full backup, measured first), then tries to restore every directory the
trial left. Printed: how many backups were killed half-way and refused, how many completed before
the kill and restored, corrupt restores (accepted, yet ``audit verify`` failed or an acknowledged
write is missing) and acknowledged writes missing. Figures, never assertions.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from graph.engines.sqlite.store import SQLiteStore
from tracegraph.backup import BackupRefused
from tracegraph.restore import restore

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).with_name("tracegraph"))


def _pad(data: Path, mb: int) -> None:
    """A large raw day file, so the backup takes long enough to be killed inside."""
    (data / "signals").mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(data / "signals" / "2026-06-01.sqlite")
    con.execute("CREATE TABLE IF NOT EXISTS pad (b BLOB)")
    con.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                "INSERT INTO pad SELECT randomblob(1 << 20) FROM n", (mb,))
    con.commit()
    con.close()


class Writer:
    def __init__(self, data: Path) -> None:
        self.acks: list[tuple[str, int]] = []
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.backup_writer", str(data)],
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            p = line.split()
            if p and p[0] == "ack":
                self.acks.append((p[1], int(p[2])))

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


def _backup(data: Path, dest: Path, kill_after: float | None) -> float:
    """Run ``tracegraph backup``; with ``kill_after``, SIGKILL it that long after its partial
    directory appears. Returns seconds from the partial directory to the end."""
    env = {**os.environ, "TRACEGRAPH_DATA_DIR": str(data), "TRACEGRAPH_STORE": "embedded"}
    proc = subprocess.Popen([EXE, "backup", str(dest)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while not (dest.is_dir() and any(dest.iterdir())) and proc.poll() is None:
        time.sleep(0.001)
    t0 = time.perf_counter()
    if kill_after is not None:
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
    proc.wait(120)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--pad-mb", type=int, default=48, help="size of the padded raw day file")
    ap.add_argument("--seed", type=int, default=19)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="backup-drill-"))
    data = root / "data"
    _pad(data, args.pad_mb)
    w = Writer(data)
    try:
        while len(w.acks) < 5:
            time.sleep(0.05)
        full = _backup(data, root / "calibrate", None)
        killed = completed = refused = accepted = corrupt = missing = 0
        for i in range(args.trials):
            dest = root / f"trial-{i}"
            _backup(data, dest, rng.uniform(0, full))
            for d in sorted(dest.iterdir()):
                sealed = not d.name.startswith(".partial-")
                killed += not sealed
                completed += sealed
                target = root / f"restored-{i}-{d.name}"
                try:
                    r = restore(d, target)
                except BackupRefused:
                    refused += 1
                    corrupt += sealed  # a complete backup must restore
                    continue
                accepted += 1
                acked = {k for k, tx in list(w.acks) if tx <= r.manifest["watermark"]}
                store = SQLiteStore(target / "tracegraph.sqlite")
                present = {n.key for n in store.nodes_of_class("Material")}
                store.close()
                missing += len(acked - present)
                corrupt += (not r.report.ok) or bool(acked - present) or not sealed
                shutil.rmtree(target)
    finally:
        w.stop()
    print(f"backup drill: {args.trials} trials, kill -9 during backup under concurrent writes "
          f"({len(w.acks):,} writes acknowledged by the writer process; a full backup took "
          f"{full:.2f} s with a {args.pad_mb} MB raw file)")
    print(f"  killed half-way: {killed} (refused by restore: {refused}); completed before the "
          f"kill: {completed} (restored and verified: {accepted})")
    print(f"  corrupt restores: {corrupt}; acknowledged writes missing after restore: {missing}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
