"""``tracegraph recalls initiate|notify|respond|check|terminate|show|report`` — the recall as a
record (:mod:`quality.recalls`), as an authenticated account (password: TRACEGRAPH_PASSWORD or
a prompt; every step re-authenticates, the signed steps sign with it). ``report`` writes the
21 CFR 806.10 / NMPA report data as JSON or a readable bilingual HTML page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console

from graph.model import NodeRecord
from ontology.terms import C, P
from quality import recalls as rc
from quality.recall_report import recall_report, render_html
from quality.workflow import resolve
from tracegraph.cli.tables import Column, JsonOpt, print_json
from tracegraph.cli.tables import show as tableshow
from tracegraph.cli.workflow import (
    ReasonOpt,
    UserOpt,
    password,
    run_step,
    runtime,
    signed_in,
)
from tracegraph.runtime import Runtime

__all__ = ["recalls_app"]

recalls_app = typer.Typer(help="recall records: Initiated → CustomersNotified → "
                               "EffectivenessChecks → Terminated", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _do(step: str, run: Callable[[Runtime], NodeRecord]) -> None:
    run_step(run, lambda n: f"{step}: {n.key} {n.props.get(P.recallState, '')}".rstrip())


def _signed(rt: Runtime, user: str) -> str:
    return signed_in(rt, user, "recall step")


@recalls_app.command("initiate")
def initiate(key: Annotated[str, typer.Argument(help="recall record number")],
             seed: Annotated[list[str], typer.Option("--seed", help="a seed (any identifier); "
                                                     "repeat for more")],
             recall_class: Annotated[str, typer.Option("--class", help="I, II or III")],
             hazard: Annotated[str, typer.Option(help="serious, temporary or unlikely")],
             depth: Annotated[str, typer.Option(help="consumer, retail or wholesale")],
             action: Annotated[str, typer.Option(help="correction or removal")],
             hypothesis: Annotated[str, typer.Option(help="the cause acted on")],
             title: Annotated[str, typer.Option(help="title")],
             user: UserOpt, reason: ReasonOpt) -> None:
    """Initiate a recall (QA, signed): the scope is frozen at the current watermark."""
    _do("initiated", lambda rt: rc.initiate_recall(
        rt, user, password(user), key, seed, recall_class, hazard, depth, action, hypothesis,
        title, reason))


@recalls_app.command("notify")
def notify(recall: str, customer: str, user: UserOpt, reason: ReasonOpt,
           method: Annotated[str, typer.Option(help="letter, e-mail, telephone …")] = "letter"
           ) -> None:
    """Record that a consignee was notified (QA or QC)."""
    _do("notified", lambda rt: rc.notify_customer(rt, _signed(rt, user), recall, customer,
                                                  method, reason))


@recalls_app.command("respond")
def respond(recall: str, customer: str, user: UserOpt, reason: ReasonOpt,
            note: Annotated[str, typer.Option(help="what the consignee answered")],
            returned: Annotated[list[str] | None, typer.Option(
                "--returned", help="a unit returned (repeat)")] = None,
            corrected: Annotated[list[str] | None, typer.Option(
                "--corrected", help="a unit corrected (repeat)")] = None) -> None:
    """Record a consignee's response and units returned or corrected (QA or QC)."""
    _do("response", lambda rt: rc.record_response(rt, _signed(rt, user), recall, customer,
                                                  note, reason, returned or [],
                                                  corrected or []))


@recalls_app.command("check")
def check(recall: str, user: UserOpt, reason: ReasonOpt) -> None:
    """Start the effectiveness checks (QA)."""
    _do("checks", lambda rt: rc.start_checks(rt, _signed(rt, user), recall, reason))


@recalls_app.command("terminate")
def terminate(recall: str, user: UserOpt, reason: ReasonOpt) -> None:
    """Terminate the recall (QA, signed): every consignee must have answered."""
    _do("terminated", lambda rt: rc.terminate_recall(rt, user, password(user), recall,
                                                     reason))


@recalls_app.command("show")
def show(recall: str, as_json: JsonOpt = False) -> None:
    """State, scope counts and effectiveness per consignee."""
    with runtime() as rt:
        rec = resolve(rt, C.Recall, recall)
        eff = rc.effectiveness(rt.store, rec)
    counts = rc.scope_of(rec).get("counts", {})
    rows = [{"customer": c.key, "units": c.units, "notified": c.notified_at,
             "responded": c.responded_at, "returned": len(c.returned),
             "corrected": len(c.corrected)} for c in eff.consignees]
    if as_json:
        print_json({"recall": rec.key, "state": rec.props.get(P.recallState),
                    "class": rec.props.get(P.recallClass),
                    "scopeWatermark": rec.props.get(P.scopeWatermark), "counts": counts,
                    "units": eff.units, "accounted": eff.accounted, "consignees": rows})
        return
    console.print(f"recall {rec.key}: {rec.props.get(P.recallState)} class "
                  f"{rec.props.get(P.recallClass)}, scope at watermark "
                  f"{rec.props.get(P.scopeWatermark)}: " + ", ".join(
                      f"{k} {v}" for k, v in counts.items()))
    dash = lambda v: v or "-"  # noqa: E731
    tableshow(rows, [Column("customer", "customer", nowrap=True), Column("units", "units", "right"),
                     Column("notified", "notified", shown=dash),
                     Column("responded", "responded", shown=dash),
                     Column("returned", "returned", "right"),
                     Column("corrected", "corrected", "right")],
              title=f"effectiveness {eff.accounted}/{eff.units} units accounted for"
              + (f" ({eff.share:.1%})" if eff.share is not None else ""))


@recalls_app.command("report")
def report(recall: str,
           out: Annotated[Path | None, typer.Option(help="file (default: stdout)")] = None,
           fmt: Annotated[str, typer.Option("--format", help="json or html")] = "json") -> None:
    """The 21 CFR 806.10 and NMPA report data of a recall (bilingual field names)."""
    if fmt not in ("json", "html"):
        err.print(f"--format={fmt!r}: json or html")
        raise typer.Exit(2)
    with runtime() as rt:
        doc = recall_report(rt.store, resolve(rt, C.Recall, recall).iri)
    text = render_html(doc) if fmt == "html" else orjson.dumps(
        doc, option=orjson.OPT_INDENT_2).decode()
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")
