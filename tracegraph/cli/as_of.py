"""``tracegraph node ID [--as-of TIME] [--json]``: what the system says — or said, at a past
record time — about one record (issue 18 item 4, :mod:`graph.as_of`): its class, key,
properties and relationships as recorded then, and the watermark of then. An auditor's replay
of "what did the system say about lot X on date D"."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graph.identifiers.identify import identify
from graph.model import Direction
from ontology.datatypes import TypeRuleError
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

__all__ = ["node_cmd", "refused_time", "register"]

console = Console()
err = Console(stderr=True)


def refused_time(value: str, e: TypeRuleError) -> typer.Exit:
    """The structured refusal of a bad ``--as-of`` (field, value, rule), exit 2."""
    err.print(f"[red]refused[/red]: as-of={escape(value)!r}: {escape(e.rule)}", soft_wrap=True)
    return typer.Exit(2)


def node_cmd(ident: Annotated[str, typer.Argument(help="IRI, business key or any identifier")],
             as_of: Annotated[str | None, typer.Option(
                 "--as-of", help="a past record time (ISO-8601 with a zone): the record as "
                                 "the system knew it then")] = None,
             json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """One record with its properties and relationships, now or as known at --as-of."""
    rt = Runtime.open(Settings())
    try:
        try:
            past = rt.as_of(as_of)
        except TypeRuleError as e:
            raise refused_time(str(as_of), e) from None
        with past.store.snapshot() as watermark:
            found = identify(past.store, ident)
            links = past.store.edges(found[0].iri, Direction.BOTH) if len(found) == 1 else []
    finally:
        rt.close()
    at = getattr(past.store, "at", None)
    if len(found) != 1:
        err.print(f"not found: {len(found)} records have identifier {escape(ident)!r}"
                  + (f" as known at {at}" if at else ""), soft_wrap=True)
        raise typer.Exit(1)
    n = found[0]
    body: dict[str, Any] = {
        "asOf": at, "watermark": watermark, "iri": n.iri, "class": n.label, "key": n.key,
        "recordedAt": n.recorded_at, "updatedAt": n.updated_at, "txId": n.tx,
        "properties": dict(sorted(n.props.items())),
        "links": [{"from": e.src, "type": e.type, "to": e.dst, "recordedAt": e.recorded_at}
                  for e in sorted(links, key=lambda e: (e.src, e.type, e.dst, e.eid))]}
    if json:
        console.print_json(orjson.dumps(body).decode())
        return
    console.print(f"{n.label} {escape(n.key)}: " + (
        f"as known at {at} (watermark {watermark})" if at else f"now (watermark {watermark})"),
        soft_wrap=True)
    t = Table("property", "value")
    for k, v in body["properties"].items():
        t.add_row(k, escape(str(v)))
    console.print(t)
    lt = Table("from", "relationship", "to", "recorded at")
    for link in body["links"]:
        lt.add_row(link["from"].rsplit("/id/", 1)[-1], link["type"],
                   link["to"].rsplit("/id/", 1)[-1], link["recordedAt"])
    console.print(lt)


def register(app: typer.Typer) -> None:
    app.command("node")(node_cmd)
