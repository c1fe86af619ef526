"""Interoperability commands (issue 18 item 6).

``tracegraph events replay --from N`` prints the
workflow events after cursor ``N`` as JSON lines (what the webhooks receive, oldest first);
with ``--webhooks`` it also moves every webhook's delivery cursor back to ``N`` so the serving
process delivers them again (receivers count each event id once).

:func:`check_export` is the check ``tracegraph export`` runs on an RDF export before writing it:
pySHACL with the project's shapes; a violation is listed and nothing is written."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer
from rdflib import Graph
from rich.console import Console
from rich.markup import escape

from graph.integration import events_since
from ontology.vocab import Vocabulary
from shapes.validator import reference_validate
from tracegraph.integration import DeliveryState, endpoints, state_path
from tracegraph.runtime import Runtime

__all__ = ["check_export", "events_app"]

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


def check_export(graph: Graph, vocab: Vocabulary) -> None:
    """Validate an RDF export against the shapes; print the verdict to stderr, and exit 1
    listing the violations (at most 50) when there are any."""
    broken = [r for r in reference_validate(graph, vocab) if r.severity == "Violation"]
    for r in broken[:50]:
        err.print(f"{escape(r.focus)} {escape(r.path)}: {escape(r.message)}", soft_wrap=True)
    if broken:
        err.print(f"[red]{len(broken)} violations of the shapes: nothing written[/red]")
        raise typer.Exit(1)
    err.print(f"validated against the shapes: {len(graph)} triples, 0 violations")
