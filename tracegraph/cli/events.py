"""Integration-event commands (issue 18 item 6): ``tracegraph events replay --from N`` prints the
workflow events after cursor ``N`` as JSON lines (what the webhooks receive, oldest first);
with ``--webhooks`` it also moves every webhook's delivery cursor back to ``N`` so the serving
process delivers them again (receivers count each event id once)."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer
from rich.console import Console

from graph.integration import events_since
from tracegraph.integration import DeliveryState, endpoints, state_path
from tracegraph.runtime import Runtime

__all__ = ["events_app"]

events_app = typer.Typer(help="Integration events (workflow events for QMS/MES/ERP webhooks).",
                         no_args_is_help=True)
err = Console(stderr=True)


@events_app.command("replay")
def replay(start: Annotated[int, typer.Option("--from", min=0,
                                              help="the cursor to replay after")] = 0,
           limit: Annotated[int | None, typer.Option(min=1, help="at most this many")] = None,
           webhooks: Annotated[bool, typer.Option(
               "--webhooks", help="also deliver them again to every webhook")] = False) -> None:
    """Print the events after cursor --from as JSON lines; the last line to stderr names the
    cursor to continue from."""
    rt = Runtime.open()
    try:
        cursor, left = start, limit
        while left is None or left > 0:
            found, cursor = events_since(rt.store, rt.vocab, cursor,
                                         1000 if left is None else min(left, 1000))
            for e in found:
                sys.stdout.buffer.write(orjson.dumps(e.as_dict()) + b"\n")
            if left is not None:
                left -= len(found)
            if not found:
                break
        sys.stdout.flush()
        err.print(f"next cursor: {cursor}")
        if webhooks:
            state = DeliveryState(state_path(rt.settings.data_dir))
            keys = [e.key for e in endpoints(rt.store)]
            state.rewind(start, keys)
            state.close()
            err.print(f"{len(keys)} webhook(s) will receive the events after {start} again")
    finally:
        rt.close()
