"""The state pass of ``audit verify`` in a second process, beside the chain pass.

The chain pass and the state comparison read everything once each and share nothing, so on a
machine with two cores they run side by side: the caller keeps its read snapshot for the chain,
and a worker process (``spawn``: no inherited threads or connections) opens its own read
connection through the store's :meth:`~graph.port.GraphStore.reader` and compares the state in
its own read transaction.

**Both must verify the same snapshot.** The worker sends the watermark and the audit head
``(seq, hash)`` it reads first in its read transaction; the caller compares them with its own
(read in its snapshot) and tells the worker to go on only when they are equal. Every write
transaction advances the watermark (SQLite WAL readers keep their snapshot while writers
commit), so equal watermarks mean the two read transactions see the same committed state. When
they differ (a write committed between the two), or the worker fails, the worker stops and the
caller runs the state pass itself afterwards, in its own snapshot (:func:`graph.audit._verify`):
slower, never different. Only engines whose store can be opened again from another process
offer a reader (the embedded engine on a file); the others verify sequentially.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from graph.audit_state import Progress, StateReport, merge_reports, verify_state

if TYPE_CHECKING:
    from graph.port import GraphStore

__all__ = ["StatePool", "StateWorker"]

_JOIN_S = 5.0


def _run(opener: Callable[[], GraphStore], conn: Connection, start: str | None,
         stop: str | None) -> None:
    """The worker: open the store, report its snapshot, and on "go" compare the state."""
    store = opener()
    try:
        with store.snapshot() as watermark:
            conn.send(("snapshot", (watermark, store.audit_head())))
            if not conn.recv():
                return
            report = verify_state(store, watermark=watermark, start=start, stop=stop,
                                  progress=lambda _phase, done: conn.send(("progress", done)))
        conn.send(("report", report))
    except Exception as e:
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        store.close()
        conn.close()


class StateWorker:
    """The state pass of the snapshot ``(watermark, head)`` running in another process.

    :meth:`poll` (call it often: it answers the worker's snapshot and forwards its progress)
    never blocks; :meth:`result` waits for the report, and is ``None`` when the worker could
    not verify the same snapshot or failed (:attr:`why`) — then run the state pass yourself."""

    def __init__(self, opener: Callable[[], GraphStore], watermark: int,
                 head: tuple[int, str], progress: Callable[[int], None] | None,
                 start: str | None = None, stop: str | None = None) -> None:
        self._expected = (watermark, head)
        self._progress = progress
        self.report: StateReport | None = None
        self.why: str | None = None
        self.done = 0  # records compared so far
        self._done = False
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_run, args=(opener, child, start, stop), daemon=True,
                                 name="audit-verify-state")
        try:
            self._proc.start()
        except (OSError, RuntimeError) as e:  # (no process to be had: the caller compares)
            self._stop(f"no worker process could be started ({e})")
        finally:
            child.close()

    def _handle(self, kind: str, value: Any) -> None:
        if kind == "snapshot":
            watermark, head = value
            same = (watermark, tuple(head)) == self._expected
            if not same:
                self._stop(f"the worker's snapshot (watermark {watermark}, head {head[0]}) is "
                           f"not the chain's (watermark {self._expected[0]}, head "
                           f"{self._expected[1][0]}): a write committed in between")
            self._conn.send(same)
        elif kind == "progress":
            self.done = int(value)
            if self._progress is not None:
                self._progress(self.done)
        elif kind == "report":
            self.report, self._done = value, True
        else:
            self._stop(f"the worker failed: {value}")

    @property
    def finished(self) -> bool:
        """Whether the worker has reported, failed or been stopped."""
        return self._done

    def _stop(self, why: str) -> None:
        self.why, self._done = why, True

    def poll(self, timeout: float = 0.0) -> None:
        """Handle whatever the worker sent (waiting up to ``timeout`` for the first message)."""
        try:
            while not self._done and self._conn.poll(timeout):
                kind, value = self._conn.recv()
                self._handle(kind, value)
                timeout = 0.0
        except (EOFError, OSError):
            if not self._done:
                self._stop(f"the worker ended without a report (exit code "
                           f"{self._proc.exitcode})")

    def result(self) -> StateReport | None:
        """The worker's report, waiting for it; ``None`` when it has none (see :attr:`why`)."""
        while not self._done:
            self.poll(0.2)
        self.close()
        return self.report

    def close(self) -> None:
        """Stop the worker (if it still runs) and release it."""
        if self._proc.pid is None:  # never started
            self._conn.close()
            return
        if self._proc.is_alive() and not (self._done and self.report is not None):
            self._proc.terminate()
        self._proc.join(_JOIN_S)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._conn.close()


class StatePool:
    """The state pass cut into IRI ranges (:meth:`~graph.port.GraphStore.iri_splits`), one
    worker each: the caller's chain pass and ``parts`` workers share the cores, and the report
    is the merge of theirs (:func:`graph.audit_state.merge_reports`: the same findings as one
    pass). :meth:`result` is ``None`` when any worker has none."""

    def __init__(self, opener: Callable[[], GraphStore], watermark: int,
                 head: tuple[int, str], progress: Progress | None,
                 splits: list[str]) -> None:
        bounds: list[str | None] = [None, *splits, None]
        self._progress = progress
        self.workers = [StateWorker(opener, watermark, head, self._tick, lo, hi)
                        for lo, hi in itertools.pairwise(bounds)]

    def _tick(self, _done: int) -> None:
        if self._progress is not None:
            self._progress("state", sum(w.done for w in self.workers))

    @property
    def why(self) -> str | None:
        return next((w.why for w in self.workers if w.why is not None), None)

    def poll(self) -> None:
        for w in self.workers:
            w.poll()

    def result(self) -> StateReport | None:
        while not all(w.finished for w in self.workers):  # (serve all: a worker whose
            for w in self.workers:                      # messages wait is a worker waiting)
                w.poll(0.05)
        reports = [w.result() for w in self.workers]
        if any(r is None for r in reports):
            return None
        return merge_reports([r for r in reports if r is not None])

    def close(self) -> None:
        for w in self.workers:
            w.close()
