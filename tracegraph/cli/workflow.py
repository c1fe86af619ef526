"""What every command that runs a workflow step shares (``recalls``, ``documents``,
``equipment work-order``, ``suppliers``, ``migrate``, ``validation``, ``recall prove``,
``load --user``): the acting account's password (TRACEGRAPH_PASSWORD or a prompt), signing in
with it, and running one step on the configured store. A refusal (authentication, a workflow
rule, the write path) is printed by :mod:`tracegraph.cli.errors`: one line per problem naming
field, value and rule, exit 2.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

__all__ = ["ReasonOpt", "UserOpt", "password", "run_step", "runtime", "signed_in"]

T = TypeVar("T")
console = Console()

UserOpt = Annotated[str, typer.Option("--user", help="acting account (password: "
                                                     "TRACEGRAPH_PASSWORD or a prompt)")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="why (kept in the audit trail)")]


def password(user: str) -> str:
    """The password of ``user``: TRACEGRAPH_PASSWORD, else a hidden prompt."""
    return os.environ.get("TRACEGRAPH_PASSWORD") or typer.prompt(f"password of {user}",
                                                                 hide_input=True)


def signed_in(rt: Runtime, user: str, purpose: str) -> str:
    """The username of ``user`` once authenticated with :func:`password` (refused: AuthError)."""
    from quality.accounts import authenticate

    return authenticate(rt, user, password(user), purpose=purpose).username


@contextmanager
def runtime() -> Iterator[Runtime]:
    """The configured store's runtime, closed whatever happens."""
    rt = Runtime.open(Settings())  # the environment as it is now (tests change it)
    try:
        yield rt
    finally:
        rt.close()


def run_step(run: Callable[[Runtime], T], shown: Callable[[T], str]) -> T:
    """Run one workflow step on the configured store and print ``shown`` of its result."""
    with runtime() as rt:
        result = run(rt)
        line = shown(result)
    console.print(line, soft_wrap=True, markup=False, highlight=False)
    return result
