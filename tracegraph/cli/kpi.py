"""``tracegraph kpi --from DATE --to DATE``: the quality KPIs of a period (:mod:`quality.kpi`,
the same module as GraphQL ``kpis`` and the explorer's KPI page), with their definitions
(``--lang zh`` for Chinese), ``--list ID`` for the records behind one, ``--json`` for scripts.
A bad period or an unknown KPI id: one line naming it, exit 2."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from quality.kpi import KPI_IDS, Kpi, KpiError, compute_kpis
from tracegraph.cli.progress import phases
from tracegraph.runtime import Runtime

__all__ = ["register"]

console = Console()
err = Console(stderr=True)


def shown(k: Kpi) -> str:
    """The value as people read it: a percentage, hours or days; n/a for an empty population."""
    if k.value is None:
        return "n/a"
    return f"{k.value:.1%}" if k.unit == "ratio" else f"{k.value:.1f} {k.unit}"


def kpi(start: Annotated[str, typer.Option("--from", help="period start (ISO 8601, UTC)")],
        end: Annotated[str, typer.Option("--to", help="period end, exclusive")],
        lang: Annotated[str, typer.Option(help="en or zh")] = "en",
        list_: Annotated[str | None, typer.Option("--list", help="print the records behind "
                                                                  "this KPI id")] = None,
        json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Quality KPIs of a period, each with its definition: release lead time, first-pass
    release rate, rework and scrap rates, exception response, deviation cycle time by grade,
    CAPA on-time rate and cycle time, batch-record completeness."""
    if lang not in ("en", "zh"):
        err.print(f"--lang={lang!r}: en or zh")
        raise typer.Exit(2)
    if list_ is not None and list_ not in KPI_IDS:
        err.print(f"--list={list_!r}: one of {', '.join(KPI_IDS)}")
        raise typer.Exit(2)
    rt = Runtime.open()
    try:
        with phases("KPIs", ["compute"]):
            ks = compute_kpis(rt.store, start, end)
    except KpiError as e:
        err.print(f"--{e.field}={e.value!r}: {str(e).split(': ', 1)[1]}")
        raise typer.Exit(2) from None
    finally:
        rt.close()
    if json:
        typer.echo(orjson.dumps([{**asdict(k), "name": k.name(lang),
                                  "definition": k.definition(lang)} for k in ks],
                                option=orjson.OPT_INDENT_2).decode())
        return
    if list_ is not None:
        k = next(k for k in ks if k.id == list_)
        t = Table("record", "class", "value", "counts", "group", "note")
        for r in k.rows:
            t.add_row(r.key, r.cls, "" if r.value is None else f"{r.value:.2f} {k.unit}",
                      "" if r.ok is None else ("yes" if r.ok else "no"), r.group or "", r.note)
        console.print(f"[bold]{k.name(lang)}[/]: {shown(k)} (n = {k.n})")
        console.print(t)
        return
    t = Table("KPI", "value", "n", "definition", show_lines=True)
    for k in ks:
        groups = "; ".join(f"{g}: {'n/a' if v is None else f'{v:.1f}'}"
                           for g, v in k.by_group.items())
        t.add_row(f"{k.name(lang)}\n[dim]{k.id}[/]", shown(k) + (f"\n{groups}" if groups else ""),
                  str(k.n), k.definition(lang))
    console.print(f"{start} → {end}")
    console.print(t)


def register(app: typer.Typer) -> None:
    app.command("kpi")(kpi)
