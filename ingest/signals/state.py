"""The signal loop's own durable state, next to the raw store (``<raw root>/loop-state.db``):

- **checkpoints**: per stream, the detector state after every processed batch and the source
  time it has evaluated up to. Saved only after the batch's findings are committed, so on
  restart detection resumes from the last checkpoint and re-evaluates every raw sample after it
  (a committed sample's findings are re-found with the same identity and written once). A late
  sample re-evaluates its stream from the newest checkpoint before it; checkpoints at or after
  it are dropped (they did not know it).
- **episodes**: the excursion episodes recorded per stream and execution (start, end). A
  re-evaluation that finds an episode overlapping a recorded one (it starts earlier because a
  late sample arrived) gives it the recorded start, so its identity does not change.
- **delivered**: the QC notifications (by alarm) a dispatcher has delivered.

Not evidence (the graph and the raw samples are): this file can be deleted; detection then
re-derives from the start of the running execution and every alarm is notified again (receivers
deduplicate by id).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

__all__ = ["Checkpoint", "LoopState"]

Checkpoint = tuple[int, str | None, dict[str, Any] | None]  # (t_ms, execution, detector state)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
  equipment TEXT NOT NULL, tag TEXT NOT NULL, t_ms INTEGER NOT NULL, execution TEXT,
  state BLOB, PRIMARY KEY (equipment, tag, t_ms)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS episodes (
  equipment TEXT NOT NULL, tag TEXT NOT NULL, execution TEXT NOT NULL, start_ms INTEGER NOT NULL,
  end_ms INTEGER, PRIMARY KEY (equipment, tag, execution, start_ms)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS delivered (alarm TEXT PRIMARY KEY, at_ms INTEGER NOT NULL)
  WITHOUT ROWID;
"""


class LoopState:
    def __init__(self, root: Path, keep: int = 2000) -> None:
        Path(root).mkdir(parents=True, exist_ok=True)
        self.keep = keep  # checkpoints kept per stream (how late a sample re-evaluates cheaply)
        self._con = sqlite3.connect(Path(root) / "loop-state.db", check_same_thread=False)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=FULL")
        self._con.execute("PRAGMA cache_size=-1024")  # 1 MB, bounded from the start (17 G)
        self._con.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._saves = 0

    # -- checkpoints ----------------------------------------------------------------------------
    def save(self, rows: Iterable[tuple[tuple[str, str], Checkpoint]]) -> None:
        """Checkpoints (one or more per stream), in one transaction."""
        data = [(eq, tag, t, ex, orjson.dumps(st) if st is not None else None)
                for (eq, tag), (t, ex, st) in rows]
        if not data:
            return
        with self._lock, self._con:
            self._con.executemany("INSERT OR REPLACE INTO checkpoints VALUES (?,?,?,?,?)", data)
            self._saves += 1
            if self._saves % 200 == 0:
                self._prune()

    def _prune(self) -> None:
        for eq, tag in self._con.execute("SELECT DISTINCT equipment, tag FROM checkpoints"
                                         ).fetchall():
            self._con.execute(
                "DELETE FROM checkpoints WHERE equipment=? AND tag=? AND t_ms < (SELECT t_ms "
                "FROM checkpoints WHERE equipment=? AND tag=? ORDER BY t_ms DESC LIMIT 1 "
                "OFFSET ?)", (eq, tag, eq, tag, self.keep))

    def before(self, stream: tuple[str, str], t_ms: int | None = None) -> Checkpoint | None:
        """The newest checkpoint of a stream (strictly before ``t_ms`` when given)."""
        q = "SELECT t_ms, execution, state FROM checkpoints WHERE equipment=? AND tag=?"
        args: list[object] = list(stream)
        if t_ms is not None:
            q += " AND t_ms < ?"
            args.append(t_ms)
        with self._lock:
            row = self._con.execute(q + " ORDER BY t_ms DESC LIMIT 1", args).fetchone()
        if row is None:
            return None
        return int(row[0]), row[1], orjson.loads(row[2]) if row[2] is not None else None

    def drop_from(self, stream: tuple[str, str], t_ms: int) -> None:
        with self._lock, self._con:
            self._con.execute("DELETE FROM checkpoints WHERE equipment=? AND tag=? AND t_ms>=?",
                              (*stream, t_ms))

    # -- episodes -------------------------------------------------------------------------------
    def episode(self, stream: tuple[str, str], execution: str, start_ms: int,
                at_ms: int) -> int | None:
        """The recorded start of an episode overlapping [start, at], if any."""
        with self._lock:
            row = self._con.execute(
                "SELECT start_ms FROM episodes WHERE equipment=? AND tag=? AND execution=? "
                "AND start_ms <= ? AND (end_ms IS NULL OR end_ms >= ?) ORDER BY start_ms "
                "LIMIT 1", (*stream, execution, at_ms, start_ms)).fetchone()
        return int(row[0]) if row is not None else None

    def next_episode(self, stream: tuple[str, str], execution: str, after_ms: int
                     ) -> int | None:
        """The start of the first recorded episode starting after ``after_ms``."""
        with self._lock:
            row = self._con.execute(
                "SELECT min(start_ms) FROM episodes WHERE equipment=? AND tag=? AND "
                "execution=? AND start_ms > ?", (*stream, execution, after_ms)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def open_episode(self, stream: tuple[str, str], execution: str, start_ms: int) -> None:
        with self._lock, self._con:
            self._con.execute("INSERT OR IGNORE INTO episodes VALUES (?,?,?,?,NULL)",
                              (*stream, execution, start_ms))

    def close_episode(self, stream: tuple[str, str], execution: str, start_ms: int,
                      end_ms: int) -> None:
        with self._lock, self._con:
            self._con.execute("UPDATE episodes SET end_ms=max(coalesce(end_ms, ?), ?) WHERE "
                              "equipment=? AND tag=? AND execution=? AND start_ms=?",
                              (end_ms, end_ms, *stream, execution, start_ms))

    # -- notification delivery ----------------------------------------------------------------
    def delivered(self, alarms: Iterable[str]) -> set[str]:
        ids = list(alarms)
        out: set[str] = set()
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                out.update(r[0] for r in self._con.execute(
                    f"SELECT alarm FROM delivered WHERE alarm IN ({','.join('?' * len(chunk))})",
                    chunk))
        return out

    def mark_delivered(self, alarm: str, at_ms: int) -> None:
        with self._lock, self._con:
            self._con.execute("INSERT OR IGNORE INTO delivered VALUES (?,?)", (alarm, at_ms))

    def close(self) -> None:
        with self._lock:
            self._con.close()
