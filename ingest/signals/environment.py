"""The room conditions of a batch's operations read from the raw signal store under the data
directory (issue 17 item 1): the GraphQL ``batchEnvironment`` field, ``tracegraph signals
environment`` and the eDHR all call :func:`batch_environment` / :func:`raw_samples`, and the
numbers come from :func:`quality.environment.execution_conditions` alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from graph.model import Direction
from graph.session import Session
from ingest.signals.rawstore import RawStore
from ontology.terms import C, P, R
from quality.environment import execution_conditions
from quality.workflow import resolve

__all__ = ["batch_environment", "raw_samples"]


@contextmanager
def raw_samples(data_dir: Path) -> Iterator[RawStore | None]:
    """The raw store under ``data_dir`` (None when no signal was ever stored: nothing is
    created by reading)."""
    root = Path(data_dir) / "signals"
    if not root.is_dir():
        yield None
        return
    raw = RawStore(root)
    try:
        yield raw
    finally:
        raw.close()


def batch_environment(rt: Session, data_dir: Path, batch: str) -> list[dict[str, Any]]:
    """Per operation execution of ``batch`` (any identifier), in start order: the room and its
    conditions during the execution (see :func:`quality.environment.execution_conditions`)."""
    b = resolve(rt, C.TraceableEntity, batch)
    runs = rt.store.get_many(e.src for e in rt.store.links([b.iri], [R.FOR_BATCH],
                                                           Direction.DOWNSTREAM))
    ordered = sorted(runs.values(), key=lambda x: (str(x.props.get(P.startedAtTime, "")),
                                                   x.key))
    with raw_samples(data_dir) as raw:
        return execution_conditions(rt.store, raw, ordered)

