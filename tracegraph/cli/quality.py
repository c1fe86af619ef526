"""Quality commands: ``tracegraph quality release-report BATCH``, ``tracegraph quality edhr
ID --format html|pdf|json --out FILE`` and ``tracegraph quality overdue --capa … --owner …``.

Read-only: the workflows that write (transitions, dispositions, release) need an e-signature
and go through GraphQL.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console

from api.language import LANGUAGES
from ingest.signals.environment import raw_samples
from ontology.datatypes import TypeRuleError
from quality.capa import overdue_actions
from quality.edhr import batch_dhr, render_html, render_pdf, unit_dhr
from quality.release import release_report
from quality.workflow import WorkflowRefused, resolve
from tracegraph.cli.as_of import refused_time
from tracegraph.cli.errors import fail, writable
from tracegraph.cli.progress import phases
from tracegraph.cli.tables import Column, JsonOpt, print_json, show
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

__all__ = ["quality_app"]

quality_app = typer.Typer(help="closed-loop quality: release review, eDHR, overdue CAPA actions",
                          no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _rt() -> Runtime:
    return Runtime.open(Settings())


def _past(rt: Runtime, as_of: str | None) -> Runtime:
    """``rt`` as known at ``--as-of`` (issue 18 item 4); a bad time is refused, exit 2."""
    try:
        return rt.as_of(as_of)
    except TypeRuleError as e:
        raise refused_time(str(as_of), e) from None


@quality_app.command("release-report")
def release_report_cmd(batch: Annotated[str, typer.Argument(help="batch IRI or key")],
                       as_of: Annotated[str | None, typer.Option(
                           "--as-of", help="a past record time: the report as then")] = None,
                       as_json: JsonOpt = False) -> None:
    """Review by exception: every exception that blocks the batch's release (exit 1 if any)."""
    rt = _rt()
    try:
        with phases("release review", ["exceptions"]):
            r = release_report(_past(rt, as_of), batch)
    except WorkflowRefused as e:
        err.print(str(e))
        raise typer.Exit(2) from None
    finally:
        rt.close()
    rows = [{"rule": p.rule, "record": (p.focus or "").rsplit("/", 1)[-1], "value": p.value,
             "message": p.message, "field": p.field} for p in r.exceptions]
    if as_json:
        print_json({"batch": r.key, "status": r.status, "watermark": r.watermark,
                    "asOf": as_of, "releasable": r.releasable, "migrated": r.migrated,
                    "exceptions": rows})
        raise typer.Exit(0 if r.releasable else 1)
    if as_of is not None:
        console.print(f"{r.key} as known at {as_of} (watermark {r.watermark}): status {r.status}")
    if r.migrated:
        console.print(f"{r.key}: {len(r.migrated)} migrated record(s) (states from a legacy "
                      "system, loaded by a signed migration): " + ", ".join(
                          i.split("/id/", 1)[-1] for i in r.migrated[:20]))
    if r.releasable:
        console.print(f"{r.key}: no exceptions — releasable (QA signature required)")
        return
    show(rows, [Column("rule", "rule"), Column("record", "record", nowrap=True),
                Column("value", "value", priority=1), Column("message", "message")],
         title=f"{r.key}: {len(r.exceptions)} exception(s)")
    raise typer.Exit(1)


@quality_app.command("edhr")
def edhr_cmd(ident: Annotated[str, typer.Argument(help="batch or serial (IRI or key)")],
             out: Annotated[Path, typer.Option(help="file to write")],
             format: Annotated[str, typer.Option(help="html, pdf or json")] = "html",
             paper: Annotated[str | None, typer.Option(
                 help="A4 or Letter (default TRACEGRAPH_EDHR_PAPER)")] = None,
             as_of: Annotated[str | None, typer.Option(
                 "--as-of", help="a past record time: the record as then")] = None,
             lang: Annotated[str, typer.Option(
                 help="en or zh: headings, classes and code values by the ontology's labels "
                      "(html and pdf)")] = "en") -> None:
    """Write the device history record (21 CFR 820.184) of a batch or unit."""
    if format not in ("html", "pdf", "json"):
        fail(f"--format={format!r}: html, pdf or json")
    if lang not in LANGUAGES:
        fail(f"--lang={lang!r}: {' or '.join(LANGUAGES)}")
    writable(out, "--out")
    rt = _rt()
    paper = paper or rt.settings.edhr_paper
    tz = rt.settings.plant_timezone
    try:
        past = _past(rt, as_of)
        node = resolve(past, "TraceableEntity", ident)
        with phases("eDHR", ["record", format]) as step, raw_samples(rt.settings.data_dir) as raw:
            # room conditions (issue 17 item 1)
            doc = unit_dhr(past, node.iri, samples=raw) if node.label == "SerializedUnit" else \
                batch_dhr(past, node.iri, samples=raw)
            doc["asOf"] = getattr(past.store, "at", None)
            step(format)
            if format == "json":
                out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
            elif format == "pdf":
                out.write_bytes(render_pdf(render_html(doc, paper, lang, tz)))
            else:
                out.write_text(render_html(doc, paper, lang, tz), encoding="utf-8")
    except WorkflowRefused as e:
        err.print(str(e))
        raise typer.Exit(2) from None
    finally:
        rt.close()
    console.print(f"wrote {out}")


@quality_app.command("overdue")
def overdue_cmd(capa: Annotated[list[str] | None, typer.Option(help="CAPA key(s)")] = None,
                owner: Annotated[list[str] | None, typer.Option(help="owner username(s)")] = None,
                today: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
                as_json: JsonOpt = False) -> None:
    """CAPA actions past their due date and not done (plant-wide without --capa/--owner)."""
    try:
        day = date.fromisoformat(today) if today else date.today()
    except ValueError:
        fail(f"--today={today!r}: a date, YYYY-MM-DD")
    rt = _rt()
    try:
        found = overdue_actions(rt, day, capa or [], owner or [])
    finally:
        rt.close()
    rows = [{"action": a.key, "capa": a.capa.rsplit("/", 1)[-1],
             "owner": a.owner.rsplit("/", 1)[-1], "due": a.due, "state": a.state,
             "daysOverdue": a.days_overdue} for a in found]
    show(rows, [Column("action", "action", nowrap=True), Column("capa", "capa", nowrap=True),
                Column("owner", "owner"), Column("due", "due", nowrap=True),
                Column("state", "state", priority=1),
                Column("daysOverdue", "days overdue", "right")], as_json=as_json)
