"""CSV / historian replay: a file of samples (``address,time,value[,quality][,seq][,unit]``,
time as ISO-8601 with a timezone or epoch milliseconds) fed through the pipeline in bulk."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from rich.progress import Progress

from ingest.signals.model import Observation, text_to_ms
from ingest.signals.pipeline import SignalPipeline
from quality.exception_loop import Recorded

__all__ = ["read_csv", "replay_csv"]


def _time(text: str) -> int:
    return int(text) if text.lstrip("-").isdigit() else text_to_ms(text)


def read_csv(pipeline: SignalPipeline, path: Path) -> Iterator[Observation]:
    with Path(path).open(newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh), start=1):
            o = pipeline.observation(row["address"], float(row["value"]), _time(row["time"]),
                                     row.get("quality") or "good", int(row.get("seq") or i),
                                     row.get("unit") or None)
            if o is not None:
                yield o


def replay_csv(pipeline: SignalPipeline, path: Path, batch: int = 5000,
               progress: bool = False) -> list[Recorded]:
    """Replay a file (idempotent: replaying it again writes nothing new)."""
    out: list[Recorded] = []
    buf: list[Observation] = []
    with Path(path).open() as fh:
        total = sum(1 for _ in fh) - 1
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"replay {Path(path).name}", total=total)
        for o in read_csv(pipeline, path):
            buf.append(o)
            if len(buf) >= batch:
                out += pipeline.process(buf)
                bar.advance(task, len(buf))
                buf = []
        if buf:
            out += pipeline.process(buf)
            bar.advance(task, len(buf))
    pipeline.flush()
    return out
