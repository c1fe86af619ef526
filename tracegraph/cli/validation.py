"""``tracegraph validation run|sign|show|check`` (:mod:`tracegraph.validation`): qualify the
installed system, store the report as a ValidationReport record (:mod:`quality.validation`),
have QA sign it, and print it as HTML, PDF or JSON. Mounted by :mod:`tracegraph.cli.main`."""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from graph.errors import RefusedError
from quality.edhr import PdfUnavailable, render_pdf
from quality.signatures import manifestation, sign
from quality.validation import StoredReport, canonical, record_report, stored_report
from tracegraph.cli.errors import fail, writable
from tracegraph.cli.workflow import password
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings
from tracegraph.validation.catalogue import coverage, load, scan_markers
from tracegraph.validation.report import complete, render_html, summary_line
from tracegraph.validation.run import (
    SERVICE_MARKERS,
    ValidationSetupError,
    find_source,
    installation,
    operational,
    performance,
)

__all__ = ["validation_app"]

validation_app = typer.Typer(help="Validation pack: IQ/OQ/PQ of the installed system, the "
                             "signed report (issue 19)", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _refused(e: Exception) -> NoReturn:
    err.print(f"[red]refused[/red]: {escape(str(e))}")
    raise typer.Exit(2)


def _record_view(rep: StoredReport) -> dict[str, Any]:
    return {"number": rep.number, "hash": rep.digest,
            "signatures": [manifestation(s) + ("" if s.valid else " — INVALID (changed after "
                                               "signing)") for s in rep.signatures]}


def _write(rep: StoredReport, out: Path, formats: tuple[str, ...]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    html = render_html(rep.document, _record_view(rep))
    written: list[Path] = []
    base = out / f"validation-report-{rep.number}"
    if "json" in formats:
        written.append(base.with_suffix(".json"))
        written[-1].write_bytes(canonical(rep.document))
    if "html" in formats:
        written.append(base.with_suffix(".html"))
        written[-1].write_text(html, encoding="utf-8")
    if "pdf" in formats:
        try:
            pdf = render_pdf(html)
        except PdfUnavailable as e:
            err.print(f"[yellow]no PDF[/yellow]: {escape(str(e))}")
        else:
            written.append(base.with_suffix(".pdf"))
            written[-1].write_bytes(pdf)
    return written


@validation_app.command("check")
def check_cmd(source: Annotated[Path | None, typer.Option(
        help="tracegraph source tree whose tests/ are traced (default: this checkout)")] = None
              ) -> None:
    """Trace the catalogue to the tests' req markers (no tests run) and print the counts."""
    try:
        root = find_source(source)
    except ValidationSetupError as e:
        _refused(e)
    cat = load()
    cov = coverage(cat, scan_markers(root / "tests"))
    served = sum(1 for ts in cov.by_requirement.values() if ts)
    console.print(f"{len(cat.requirements)} requirements ({served} with a test), "
                  f"{len(cat.clauses)} clauses, {len(cov.tests)} requirement tests")
    for name, items in (("requirements without a test", cov.untested),
                        ("tests naming unknown requirements", sorted(cov.unknown)),
                        ("listed clauses without a requirement", cov.unserved),
                        ("catalogue problems", cov.catalogue_problems)):
        if items:
            err.print(f"[red]{name}[/red]: {', '.join(items)}")
    raise typer.Exit(0 if cov.ok else 1)


@validation_app.command("run")
def run_cmd(
        source: Annotated[Path | None, typer.Option(
            help="tracegraph source of the installed version (unpacked sdist or git tag): its "
                 "tests/ are the OQ; default: the checkout tracegraph runs from")] = None,
        out: Annotated[Path | None, typer.Option(
            help="directory for the report files (default validation-<UTC time>)")] = None,
        quick: Annotated[bool, typer.Option(
            help="OQ subset: the first test of each requirement")] = False,
        keyword: Annotated[str | None, typer.Option(
            "-k", help="OQ subset: pytest -k expression")] = None,
        with_: Annotated[list[str] | None, typer.Option(
            "--with", help=f"include the tests needing a service: {', '.join(SERVICE_MARKERS)}")
        ] = None,
        pq: Annotated[Path | None, typer.Option(
            help="the plant's PQ checks (TOML, see docs/validation.md)", exists=True)] = None,
        user: Annotated[str | None, typer.Option(
            help="record the report as this account (qa or admin; password: "
                 "TRACEGRAPH_PASSWORD or a prompt)")] = None,
        sign_as: Annotated[bool, typer.Option(
            "--sign", help="and sign it (approved) as --user, who must hold the qa role")] = False,
        reason: Annotated[str, typer.Option(help="why (audit trail)")] =
        "computerised-system validation of tracegraph",
) -> None:
    """IQ, OQ (the requirement tests against scratch stores) and PQ of the installed system;
    writes the report (JSON, HTML, PDF) and, with --user, stores it as a record."""
    services = tuple(with_ or ())
    unknown = [s for s in services if s not in SERVICE_MARKERS]
    if unknown:
        _refused(ValidationSetupError("--with", unknown, f"one of {', '.join(SERVICE_MARKERS)}"))
    if sign_as and not user:
        _refused(ValidationSetupError("--sign", True, "signing needs --user"))
    secret = password(user) if user else ""
    out = writable(out or Path(f"validation-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"), "--out")
    cfg = Settings()
    try:
        src = find_source(source)
        with tempfile.TemporaryDirectory(prefix="tracegraph-validation-") as tmp:
            scratch = Path(tmp)
            console.print("[bold]IQ[/bold]: installed files, dependencies, configuration, store")
            iq = installation(cfg, scratch)
            console.print(f"[bold]OQ[/bold]: requirement tests of {src} on the installed "
                          "packages, scratch stores")
            oq, oq_bad = operational(src, scratch, out, quick=quick, keyword=keyword,
                                     services=services)
    except ValidationSetupError as e:
        _refused(e)
    iq["deviations"] += oq_bad
    console.print("[bold]PQ[/bold]: the plant's checks")
    try:
        pq_doc = performance(pq)
    except ValidationSetupError as e:
        _refused(e)
    doc = complete(oq, iq, pq_doc)
    console.print(summary_line(doc))
    if not user:
        (out / "validation-report.json").write_bytes(canonical(doc))
        (out / "validation-report.html").write_text(render_html(doc), encoding="utf-8")
        console.print(f"report (not recorded: give --user to store it): {out}")
        raise typer.Exit(0 if doc["outcome"] == "conforming" else 1)
    rt = Runtime.open(cfg)
    try:
        rep = record_report(rt, doc, user, secret, reason)
        if sign_as:
            sign(rt, rep.iri, user, secret, "approved", reason)
            rep = stored_report(rt, rep.iri)
        written = _write(rep, out, ("json", "html", "pdf"))
    except RefusedError as e:
        _refused(e)
    finally:
        rt.close()
    console.print(f"recorded [bold]{rep.number}[/bold] ({rep.outcome}), SHA-256 {rep.digest}")
    for s in rep.signatures:
        console.print(f"  {escape(manifestation(s))}")
    console.print("written: " + ", ".join(str(p) for p in written))
    raise typer.Exit(0 if doc["outcome"] == "conforming" else 1)


@validation_app.command("sign")
def sign_cmd(report: Annotated[str, typer.Argument(help="record number or IRI (VAL-…)")],
             user: Annotated[str, typer.Option(help="the signer (role qa)")],
             meaning: Annotated[str, typer.Option(help="approved, reviewed, …")] = "approved",
             reason: Annotated[str, typer.Option(help="why")] = "validation report reviewed"
             ) -> None:
    """Sign a stored validation report (QA only; re-authenticates)."""
    rt = Runtime.open()
    try:
        rep = stored_report(rt, report)
        s = sign(rt, rep.iri, user, password(user), meaning, reason)
    except RefusedError as e:
        _refused(e)
    finally:
        rt.close()
    console.print(escape(manifestation(s)))


@validation_app.command("show")
def show_cmd(report: Annotated[str, typer.Argument(help="record number or IRI (VAL-…)")],
             out: Annotated[Path, typer.Option(help="directory to write into")] = Path("."),
             format: Annotated[list[str] | None, typer.Option(
                 help="json, html and/or pdf (default all)")] = None) -> None:
    """Print a stored validation report with its signatures (checked now) as files."""
    bad = [f for f in format or () if f not in ("json", "html", "pdf")]
    if bad:
        fail(f"--format={bad[0]!r}: json, html or pdf")
    rt = Runtime.open()
    try:
        rep = stored_report(rt, report)
    except RefusedError as e:
        _refused(e)
    finally:
        rt.close()
    if not rep.intact:
        err.print("[red]the stored document does not hash to the stored digest[/red]")
    written = _write(rep, out, tuple(format or ("json", "html", "pdf")))
    sys.stdout.write("\n".join(str(p) for p in written) + "\n")
    raise typer.Exit(0 if rep.intact else 1)
