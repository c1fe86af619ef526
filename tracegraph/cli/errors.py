"""The one place the command line turns a user's mistake into one clear line on stderr and a
non-zero exit, never a traceback (issue 15 item 11).

:class:`CliGroup` is the class of the top-level ``tracegraph`` group: every command and
sub-command runs inside its :meth:`~CliGroup.invoke`, so an error no command handled itself
ends here. A refusal of the write path or a workflow prints one line per problem (field, value,
rule, message) and exits 2; a missing or unreadable file, a bad value (a date, a number, a
mapping), a store that cannot be opened: one line, exit 2 (a store, exit 1); anything else:
one line naming the error and exit 1, the traceback only with ``TRACEGRAPH_DEBUG=1``. Errors
of the argument parser (a bad ``--format``, a missing option, a path that does not exist)
are typer's own: a usage line and the message, exit 2.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from typer.core import TyperGroup
from typer.exceptions import TyperException

from graph.errors import Problem, RefusedError, WriteRejectedError
from graph.schema import StoreVersionError

__all__ = ["CliGroup", "describe", "fail", "print_refusal", "problem_line", "say",
           "writable"]

err = Console(stderr=True)

#: exit codes: a refusal or a bad value (2, as the argument parser's), a store that cannot be
#: used or an unexpected error (1)
USER_ERROR, STORE_ERROR = 2, 1


def problem_line(p: Problem) -> str:
    """One problem of a refusal: ``refused FIELD=VALUE (RULE): MESSAGE``."""
    where = f" {p.field}={p.value!r}" if p.field else ""
    return f"refused{where} ({p.rule}): {p.message}"


def print_refusal(problems: Iterable[Problem]) -> None:
    for p in problems:
        say(problem_line(p))


def say(line: str) -> None:
    """One line of plain text (no markup) on stderr, never wrapped."""
    err.print(line, soft_wrap=True, markup=False, highlight=False)


def fail(line: str, code: int = USER_ERROR) -> NoReturn:
    """Print ``line`` (plain text) on stderr and exit with ``code``."""
    say(line)
    raise typer.Exit(code)


def writable(path: Path, option: str) -> Path:
    """``path`` when it can be created or written (its nearest existing ancestor is a
    writable directory, or it is one); else one line naming the option, exit 2."""
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    if not (p.is_dir() and os.access(p, os.W_OK)) and not (p == path and p.is_file()):
        fail(f"{option}={path}: cannot be written ({p} is not a writable directory)")
    return path


def _is_store_error(e: BaseException) -> bool:
    module = type(e).__module__ or ""
    return module.split(".", 1)[0] == "neo4j" or isinstance(e, sqlite3.Error)


def describe(e: Exception) -> tuple[int, list[str]]:
    """The exit code and the lines (plain text) for an error no command handled."""
    from tracegraph.upgrade import UpgradeError

    problems: list[Problem] | None = getattr(e, "problems", None)
    if isinstance(e, (StoreVersionError, UpgradeError)):
        return STORE_ERROR, [f"refused: {e}"]
    if isinstance(e, WriteRejectedError) or (isinstance(e, RefusedError) and problems):
        return USER_ERROR, [problem_line(p) for p in (problems or [])]
    if isinstance(e, RefusedError):
        return USER_ERROR, [f"refused: {e}"]
    if isinstance(e, OSError) and e.filename is not None:
        what = e.strerror or type(e).__name__
        return USER_ERROR, [f"{what}: {e.filename}"]
    if _is_store_error(e):
        return STORE_ERROR, [f"no store: cannot use the configured store "
                             f"({type(e).__name__}: {_first_line(e)}); check TRACEGRAPH_STORE, "
                             "TRACEGRAPH_DATA_DIR and NEO4J_URI"]
    if isinstance(e, (ValueError, KeyError, LookupError)):
        return USER_ERROR, [f"error: {_first_line(e)}"]
    return STORE_ERROR, [f"error: {type(e).__name__}: {_first_line(e)} (TRACEGRAPH_DEBUG=1 "
                         "shows the traceback)"]


def _first_line(e: BaseException) -> str:
    text = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:3]) if lines else type(e).__name__


class CliGroup(TyperGroup):
    """The top-level group: every (sub-)command runs inside :meth:`invoke`."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise  # typer's own: an exit, an abort, a usage error (printed by typer)
        except Exception as e:
            if os.environ.get("TRACEGRAPH_DEBUG"):
                raise
            code, lines = describe(e)
            for line in lines:
                say(line)
            raise typer.Exit(code) from None
