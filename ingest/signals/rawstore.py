"""Raw signal samples, append-only, outside the graph: one SQLite file per UTC day under
``<data dir>/signals/``. A sample's identity is (equipment, tag, source time); storing it again
(a QoS 1 re-delivery, a replayed file) changes nothing. There is no update and no delete.
"""

from __future__ import annotations

import functools
import math
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from ingest.signals.model import Observation

__all__ = ["RawStore", "Summary"]

DAY_MS = 86_400_000
OPEN_DAYS = 3  # day files kept open (each connection has its own page cache)
CACHE_KB = 1024  # page cache per connection (SQLite's default, 2 MB, filled over the first
# minutes of a consumer and showed as RSS growth: issue 17 G; appends touch few pages)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
  equipment TEXT NOT NULL, tag TEXT NOT NULL, t_ms INTEGER NOT NULL, value REAL NOT NULL,
  unit TEXT NOT NULL, quality TEXT NOT NULL, seq INTEGER NOT NULL, received_ms INTEGER NOT NULL,
  PRIMARY KEY (equipment, tag, t_ms)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS integrity_events (
  at_ms INTEGER NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL, first_missing INTEGER,
  last_missing INTEGER, detail TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS samples_append_only_u BEFORE UPDATE ON samples
  BEGIN SELECT RAISE(ABORT, 'raw samples are append-only'); END;
CREATE TRIGGER IF NOT EXISTS samples_append_only_d BEFORE DELETE ON samples
  BEGIN SELECT RAISE(ABORT, 'raw samples are append-only'); END;
"""


_GOOD = ("FROM samples WHERE equipment=? AND tag=? AND t_ms BETWEEN ? AND ? "
         "AND quality='good'")
_SUMMARY = "SELECT count(*), total(value), min(value), max(value), min(t_ms), max(t_ms) " + _GOOD
_FIRST_UNIT = "SELECT unit " + _GOOD + " ORDER BY t_ms LIMIT 1"
_SQUARES = "SELECT total((value - ?) * (value - ?)) " + _GOOD


class Summary(NamedTuple):
    """The good samples of one stream in a window (see :meth:`RawStore.summary`)."""

    n: int
    mean: float
    sd: float
    min: float
    max: float
    first_ms: int
    last_ms: int
    unit: str


@functools.lru_cache(maxsize=64)
def _day_name(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%d")


def _day(ms: int) -> str:
    return _day_name(ms // DAY_MS)


class RawStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._cons: dict[str, sqlite3.Connection] = {}
        self._lock = threading.Lock()

    def _con(self, day: str) -> sqlite3.Connection:
        con = self._cons.pop(day, None)  # re-inserted below: most recently used last
        if con is None:
            while len(self._cons) >= OPEN_DAYS:  # the least recently used day: a consumer
                self._cons.pop(next(iter(self._cons))).close()  # runs for months (17 G)
            con = sqlite3.connect(self.root / f"{day}.sqlite", check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            con.execute(f"PRAGMA cache_size=-{CACHE_KB}")
            con.executescript(_SCHEMA)
        self._cons[day] = con
        return con

    def append(self, samples: Sequence[Observation]) -> int:
        """Store samples durably (committed when this returns); returns how many were new."""
        return len(self.append_new(samples))

    def append_new(self, samples: Sequence[Observation]) -> list[Observation]:
        """Store samples durably (committed when this returns); returns those that were new
        (not already stored with the same stream and source time), in the given order."""
        by_day: dict[str, list[Observation]] = {}
        for s in samples:
            by_day.setdefault(_day(s.source_ms), []).append(s)
        new: list[Observation] = []
        sql = "INSERT OR IGNORE INTO samples VALUES (?,?,?,?,?,?,?,?)"
        with self._lock:
            for day, rows in by_day.items():
                con = self._con(day)
                with con:
                    for s in rows:
                        if con.execute(sql, (s.equipment, s.tag, s.source_ms, s.value, s.unit,
                                             s.quality, s.sequence, s.received_ms)).rowcount:
                            new.append(s)
        return new

    def record_gap(self, source: str, first_missing: int, last_missing: int, at_ms: int,
                   detail: str = "") -> None:
        """A data-integrity event: transport sequence numbers that never arrived."""
        with self._lock:
            con = self._con(_day(at_ms))
            with con:
                con.execute("INSERT INTO integrity_events VALUES (?,?,?,?,?,?)",
                            (at_ms, source, "sequence-gap", first_missing, last_missing, detail))

    def gaps(self) -> list[tuple[int, str, int, int]]:
        with self._lock:
            return [r for f in sorted(self.root.glob("*.sqlite"))
                    for r in self._con(f.stem).execute(
                        "SELECT at_ms, source, first_missing, last_missing "
                        "FROM integrity_events ORDER BY at_ms").fetchall()]

    def _days(self, start_ms: int, end_ms: int) -> Iterable[str]:
        d = datetime.fromtimestamp(start_ms / 1000, tz=UTC).date()
        last = datetime.fromtimestamp(end_ms / 1000, tz=UTC).date()
        while d <= last:
            if (self.root / f"{d.isoformat()}.sqlite").exists():
                yield d.isoformat()
            d += timedelta(days=1)

    def window(self, equipment: str, tag: str, start_ms: int, end_ms: int,
               limit: int = 100_000) -> list[Observation]:
        """Samples of one stream with source time in [start, end], oldest first."""
        out: list[Observation] = []
        with self._lock:
            for day in self._days(start_ms, end_ms):
                rows = self._con(day).execute(
                    "SELECT equipment, tag, value, unit, t_ms, received_ms, quality, seq "
                    "FROM samples WHERE equipment=? AND tag=? AND t_ms BETWEEN ? AND ? "
                    "ORDER BY t_ms LIMIT ?", (equipment, tag, start_ms, end_ms, limit - len(out)))
                out.extend(Observation(*r) for r in rows)
        return out

    def summary(self, equipment: str, tag: str, start_ms: int, end_ms: int
                ) -> Summary | None:
        """Count, mean, sample standard deviation, min, max, first and last source time and
        unit of the good samples of one stream in [start, end], computed inside SQLite (two
        passes: the mean, then the squared deviations from it), so an aggregate costs the same
        memory however long the run (issue 17 G). ``None``: no good sample in the window."""
        args = (equipment, tag, start_ms, end_ms)
        n, total, lo, hi, first, last, unit = 0, 0.0, math.inf, -math.inf, 0, 0, ""
        with self._lock:
            days = list(self._days(start_ms, end_ms))
            for day in days:
                c, s, mn, mx, t0, t1 = self._con(day).execute(_SUMMARY, args).fetchone()
                if not c:
                    continue
                if n == 0:
                    first = int(t0)
                    unit = self._con(day).execute(_FIRST_UNIT, args).fetchone()[0]
                n, total, last = n + int(c), total + float(s), int(t1)
                lo, hi = min(lo, float(mn)), max(hi, float(mx))
            if n == 0:
                return None
            mean = total / n
            ss = math.fsum(self._con(day).execute(_SQUARES, (mean, mean, *args)).fetchone()[0]
                           for day in days)
        sd = math.sqrt(ss / (n - 1)) if n > 1 else 0.0
        return Summary(n, min(max(mean, lo), hi), sd, lo, hi, first, last, str(unit))

    def last(self, equipment: str, tag: str, n: int, before_ms: int | None = None
             ) -> list[Observation]:
        """The ``n`` most recent samples of a stream (searching back up to two days)."""
        end = before_ms if before_ms is not None else self.latest_ms()
        if end is None:
            return []
        out: list[Observation] = []
        with self._lock:
            for day in sorted(self._days(end - 2 * DAY_MS, end), reverse=True):
                rows = self._con(day).execute(
                    "SELECT equipment, tag, value, unit, t_ms, received_ms, quality, seq "
                    "FROM samples WHERE equipment=? AND tag=? AND t_ms <= ? "
                    "ORDER BY t_ms DESC LIMIT ?", (equipment, tag, end, n - len(out)))
                out.extend(Observation(*r) for r in rows)
                if len(out) >= n:
                    break
        return out[::-1]

    def latest_ms(self) -> int | None:
        files = sorted(self.root.glob("*.sqlite"))
        if not files:
            return None
        with self._lock:
            row = self._con(files[-1].stem).execute("SELECT max(t_ms) FROM samples").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def streams(self) -> list[tuple[str, str]]:
        files = sorted(self.root.glob("*.sqlite"))[-2:]
        out: set[tuple[str, str]] = set()
        with self._lock:
            for f in files:
                out.update(self._con(f.stem).execute(
                    "SELECT DISTINCT equipment, tag FROM samples").fetchall())
        return sorted(out)

    def count(self) -> int:
        with self._lock:
            return sum(self._con(f.stem).execute("SELECT count(*) FROM samples").fetchone()[0]
                       for f in sorted(self.root.glob("*.sqlite")))

    def close(self) -> None:
        with self._lock:
            for c in self._cons.values():
                c.close()
            self._cons.clear()
