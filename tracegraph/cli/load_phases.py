"""``tracegraph load --bulk``: the store set up for a bulk load
(:func:`graph.engines.sqlite.bulk.bulk_session`) and the time each step of the one write path
took, printed at the end of the load."""

from __future__ import annotations

import resource
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from graph.engines.sqlite.bulk import bulk_session
from graph.engines.sqlite.store import SQLiteStore
from tracegraph.runtime import Runtime

__all__ = ["PHASES", "bulk_load", "phase_line"]

#: the steps of a load, in order: parsing the capture documents (``parse``), then the writer's
#: (graph.write.Writer.phases), then the bulk session's
PHASES = ("parse", "read", "checks", "guards", "shapes", "audit", "write", "commit", "indexes",
          "checkpoint")


@contextmanager
def bulk_load(rt: Runtime, bulk: bool) -> Iterator[dict[str, float]]:
    """The phase times of the load (filled in by the writer and, with ``bulk``, the bulk
    session); refuses ``--bulk`` on a store other than the embedded one."""
    phases: dict[str, float] = {}
    rt.writer.phases = phases
    if not bulk:
        yield phases
        return
    if not isinstance(rt.store, SQLiteStore):
        raise typer.BadParameter(f"--bulk loads into the embedded store, not {rt.store.engine}")
    with bulk_session(rt.store, phases):
        yield phases


def phase_line(phases: dict[str, float], total: float) -> str:
    """``parse 12.1 s · read 3.0 s …`` with the process's CPU time (on a shared machine the
    wall time is mostly other processes') and peak RSS."""
    parts = [f"{p} {phases[p]:.1f} s" for p in PHASES if phases.get(p)]
    use = resource.getrusage(resource.RUSAGE_SELF)
    return (f"phases ({total:.1f} s): " + " · ".join(parts) +
            f"; CPU {use.ru_utime + use.ru_stime:.1f} s; peak RSS {use.ru_maxrss / 1024:,.0f} MB")
