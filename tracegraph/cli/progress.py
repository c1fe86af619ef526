"""The progress bar of the long commands (load, recall, export, generate, audit verify, quality
reports, kpi): rich.progress on stderr, shown only when stderr is a terminal and ``tracegraph
--quiet`` (or TRACEGRAPH_QUIET=1) is not given, and transient, so what a script reads from
stdout (a CSV, JSON, Turtle, a table) is never touched by it (issue 15 item 11).

``with progress("loading", total) as bar: bar(advance=1, note="…")`` — or, for a command made
of phases, ``with phases("recall", ["traversal", "export"]) as step: step("export")``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["Bar", "phases", "progress", "set_quiet", "shown"]

_quiet = False


def set_quiet(quiet: bool) -> None:
    """``tracegraph --quiet``: no progress bars in this process."""
    global _quiet
    _quiet = quiet


def shown(console: Console) -> bool:
    """Whether a bar is drawn on ``console``: a terminal, and not asked to be quiet."""
    return not (_quiet or os.environ.get("TRACEGRAPH_QUIET")) and console.is_terminal


class Bar(Protocol):
    def __call__(self, advance: float = 1, note: str | None = None,
                 completed: float | None = None, total: float | None = None) -> None: ...


def _nothing(advance: float = 1, note: str | None = None, completed: float | None = None,
             total: float | None = None) -> None:
    return None


@contextmanager
def progress(what: str, total: float | None = None) -> Iterator[Bar]:
    """A bar for ``total`` steps (unknown: a running count), on stderr; ``note`` is shown
    after it (a rate, the phase)."""
    err = Console(stderr=True)  # the stderr of now (a test replaces it)
    if not shown(err):
        yield _nothing
        return
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[note]}"))
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(what, total=total, note="")

        def update(advance: float = 1, note: str | None = None,
                   completed: float | None = None, total: float | None = None) -> None:
            if note is not None:
                bar.update(task, note=note)
            if completed is not None:
                bar.update(task, completed=completed, total=total)
            else:
                bar.update(task, advance=advance, total=total)

        yield update


@contextmanager
def phases(what: str, names: Sequence[str]) -> Iterator[Callable[[str], None]]:
    """A bar over a command's phases: ``step(name)`` marks the previous phases done and shows
    ``name`` as the one running."""
    with progress(what, len(names)) as bar:
        order = {n: i for i, n in enumerate(names)}
        bar(advance=0, note=names[0] if names else None)

        def step(name: str) -> None:
            bar(completed=order[name], total=len(names), note=name)

        yield step
        bar(completed=len(names), total=len(names), note="done")
