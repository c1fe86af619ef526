"""Process-version commands: ``tracegraph diff FROM TO`` and ``tracegraph impact ELEMENT``.

Registered on the main command line by :mod:`tracegraph.cli.main` (``register(app)``). Elements
and versions are named by business key, any identifier or IRI.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from graph.change_impact import change_impact
from graph.identifiers.identify import identify
from graph.model import NodeRecord
from graph.versions import diff_report, diff_versions, load_tree
from tracegraph.cli.tables import Column, JsonOpt, print_json, show
from tracegraph.runtime import Runtime

__all__ = ["register"]

console = Console()
err = Console(stderr=True)


def _one(rt: Runtime, ident: str, cls: str | None = None) -> NodeRecord:
    found = [n for n in identify(rt.store, ident) if cls is None or n.label == cls]
    if not found and cls is not None:
        n = rt.store.get(rt.vocab.mint_iri(cls, ident))
        found = [n] if n is not None else []
    if len(found) != 1:
        what = "nothing" if not found else f"{len(found)} nodes"
        err.print(f"[red]{escape(ident)!s}: names {what}"
                  f"{f' of class {cls}' if cls else ''}; give a unique key or IRI[/red]")
        raise typer.Exit(2)
    return found[0]


def diff(from_version: Annotated[str, typer.Argument(help="older process version (key/IRI)")],
         to_version: Annotated[str, typer.Argument(help="newer process version (key/IRI)")],
         as_json: Annotated[bool, typer.Option("--json", help="the changes as JSON")] = False,
         ) -> None:
    """Semantic diff of two process versions (operations, parameter limits, BOM, inspection)."""
    rt = Runtime.open()
    try:
        old = load_tree(rt.store, _one(rt, from_version, "ProcessVersion").iri)
        new = load_tree(rt.store, _one(rt, to_version, "ProcessVersion").iri)
        changes = diff_versions(old, new)
        if as_json:
            print(orjson.dumps([c.as_dict() for c in changes],
                               option=orjson.OPT_INDENT_2).decode())
        else:
            console.print(escape(diff_report(old, new, changes)), highlight=False)
    finally:
        rt.close()


def impact(element: Annotated[str, typer.Argument(help="changed element (key/IRI)")],
           base: Annotated[str | None, typer.Option(help="version the change is against")] = None,
           paths: Annotated[bool, typer.Option(help="print each item's explaining path")] = False,
           as_json: JsonOpt = False) -> None:
    """Impact of a proposed change to a definition element, equipment or material."""
    rt = Runtime.open()
    try:
        node = _one(rt, element)
        base_iri = _one(rt, base, "ProcessVersion").iri if base else None
        try:
            ci = change_impact(rt.store, node.iri, base_iri)
        except ValueError as e:
            err.print(f"[red]{escape(str(e))}[/red]")
            raise typer.Exit(2) from None
        keys = {i.iri: i.key for i in ci.items} | {node.iri: node.key}
        rows = [{"category": i.category, "class": i.cls, "key": i.key, "note": i.note,
                 "path": [keys.get(p, unquote(p.rsplit("/", 1)[-1])) for p in i.path]}
                for i in ci.items]
        if as_json:
            print_json({"element": node.key, "class": node.label, "items": rows,
                        "counts": ci.counts()})
            return
        show(rows, [Column("category", "category"), Column("class", "class"),
                    Column("key", "key", nowrap=True), Column("note", "note", priority=1),
                    # asked for with --paths: shown at any width (the note gives way first)
                    *([Column("path", "path", shown=" → ".join)] if paths else [])],
             title=f"Impact of changing {node.label} {node.key}")
        counts = ", ".join(f"{k} {v}" for k, v in sorted(ci.counts().items()))
        console.print(f"items: {escape(counts) or 'none'}", highlight=False)
        if ci.released is not None:
            r = ci.released
            console.print(f"built under the affected versions: {r.units_total} units, "
                          f"{len(r.shipments)} shipments, {len(r.customers)} customers",
                          highlight=False)
    finally:
        rt.close()


def register(app: typer.Typer) -> None:
    app.command("diff")(diff)
    app.command("impact")(impact)
