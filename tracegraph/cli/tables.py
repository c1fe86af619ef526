"""The tables the commands print (issue 15 item 11): readable at 80 columns — cells wrap, and
when the table still does not fit the terminal (COLUMNS) its lowest-priority columns are left
out, named in a note below it — and the same rows as JSON with ``--json`` (stable keys: the
column keys; values as computed, not as formatted for people).

``show(rows, [Column("key", "header"), …], title=…, as_json=json)`` with ``rows`` a list of
dicts keyed by the column keys.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

__all__ = ["Column", "JsonOpt", "fit", "print_json", "show"]

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON (stable keys) instead of "
                                                      "the table")]


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    justify: Literal["left", "right", "center"] = "left"
    #: 0 is always shown; the highest number is left out first when the table is too wide
    priority: int = 0
    shown: Callable[[Any], str] | None = None  # how a value reads (default: str, "" for None)
    #: an identifier: never broken across lines (lower-priority columns give way first)
    nowrap: bool = False

    def cell(self, value: Any) -> str:
        if self.shown is not None:
            return self.shown(value)
        return "" if value is None else f"{value:,}" if isinstance(value, int) and not \
            isinstance(value, bool) else str(value)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode()
                     + "\n")
    sys.stdout.flush()


def fit(columns: Sequence[Column], make: Callable[[Sequence[Column]], Table],
        console: Console) -> tuple[Table, list[Column]]:
    """The table with the columns that fit ``console``'s width unwrapped, leaving out the
    highest-priority-number columns first (columns of priority 0 stay, their cells wrapped);
    and the columns left out."""
    cols = list(columns)
    dropped: list[Column] = []
    while True:
        t = make(cols)
        unbounded = console.options.update(width=10_000, max_width=10_000)
        need = Measurement.get(console, unbounded, t).maximum  # every cell unwrapped
        optional = [c for c in cols if c.priority > 0]
        if need <= console.width or not optional:
            return t, dropped
        worst = max(optional, key=lambda c: (c.priority, cols.index(c)))
        cols.remove(worst)
        dropped.append(worst)


def show(rows: Sequence[dict[str, Any]], columns: Sequence[Column], *, title: str | None = None,
         as_json: bool = False, json_body: Any = None, console: Console | None = None) -> None:
    """Print ``rows`` as a table fitted to the terminal, or as JSON (``json_body`` when given,
    else the rows) with ``as_json``."""
    if as_json:
        print_json(list(rows) if json_body is None else json_body)
        return
    out = console or Console()  # made now: COLUMNS as it is now

    def make(cols: Sequence[Column]) -> Table:
        t = Table(title=title, title_justify="left")
        for c in cols:
            t.add_column(c.header, justify=c.justify, no_wrap=c.nowrap,
                         overflow="ellipsis" if c.nowrap else "fold")
        for r in rows:
            t.add_row(*(Text(c.cell(r.get(c.key))) for c in cols))
        return t

    table, dropped = fit(columns, make, out)
    out.print(table)
    if dropped:
        out.print("(not shown at this width: " + ", ".join(c.header for c in dropped)
                  + "; --json has every column)", markup=False, highlight=False)
