"""Supplier quality commands (issue 18 item 2): ``tracegraph suppliers asl``, ``scorecard``,
``scars`` (reads) and ``approve``, ``inspect``, ``scar-issue``, ``scar-respond``, ``scar-close``
(the workflow commands of :mod:`quality.suppliers`, as an account: ``--user``, password from
TRACEGRAPH_PASSWORD or a prompt). A refusal prints its problems (rule, field, value) and exits 2.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from ontology.codes import SupplierStatus
from ontology.datatypes import to_utc_text
from ontology.terms import C
from quality import suppliers as sup
from quality.supplier_scorecard import scorecard
from quality.workflow import resolve
from tracegraph.cli.workflow import ReasonOpt, UserOpt, password, run_step, runtime
from tracegraph.runtime import Runtime

__all__ = ["suppliers_app"]

suppliers_app = typer.Typer(help="supplier quality: approved supplier list, incoming inspection, "
                                 "SCAR, scorecard", no_args_is_help=True)
console = Console()


def _done(what: str, run: Callable[[Runtime], str]) -> None:
    run_step(run, lambda text: f"{what}: {text}")


@suppliers_app.command("asl")
def asl_cmd(supplier: Annotated[str | None, typer.Option(help="supplier IRI or key")] = None,
            material: Annotated[str | None, typer.Option(help="material IRI or key")] = None,
            as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The approved supplier list (of one supplier or material)."""
    with runtime() as rt:
        s = resolve(rt, C.Supplier, supplier).iri if supplier else None
        m = resolve(rt, C.Material, material).iri if material else None
        rows = sup.approved_supplier_list(rt.store, s, m)
    if as_json:
        typer.echo(orjson.dumps([r.__dict__ for r in rows]).decode())
        return
    t = Table("entry", "status", "approved until", "scope", title=f"{len(rows)} ASL entries")
    for r in rows:
        t.add_row(r.key, r.status, r.until or "-", r.scope or "")
    console.print(t)


@suppliers_app.command("scorecard")
def scorecard_cmd(supplier: Annotated[str, typer.Argument(help="supplier IRI or key")],
                  start: Annotated[str, typer.Option("--from", help="period start (date)")],
                  end: Annotated[str, typer.Option("--to", help="period end, exclusive")],
                  as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The supplier's scorecard for [--from, --to): lots received and rejected, deviations
    traced to it by genealogy, SCARs on time."""
    with runtime() as rt:
        iri = resolve(rt, C.Supplier, supplier).iri
        c = scorecard(rt.store, iri, start, end, to_utc_text(datetime.now(UTC)))
    doc = {**c.__dict__, "rejectionRate": c.rejection_rate,
           "scarOnTimeRate": c.scar_on_time_rate}
    if as_json:
        typer.echo(orjson.dumps(doc).decode())
        return
    t = Table("measure", "value", "records", title=f"{c.key}: {c.start[:10]} to {c.end[:10]}")
    for label, items in (("lots received", c.lots_received), ("lots rejected", c.lots_rejected),
                         ("deviations traced", c.deviations), ("SCARs on time", c.scars_on_time),
                         ("SCARs late", c.scars_late), ("SCARs pending", c.scars_pending)):
        t.add_row(label, str(len(items)), ", ".join(items[:10]))
    for label, rate in (("rejection rate", c.rejection_rate),
                        ("SCAR on-time rate", c.scar_on_time_rate)):
        t.add_row(label, "-" if rate is None else f"{rate:.1%}", "")
    console.print(t)


@suppliers_app.command("approve")
def approve_cmd(supplier: str, material: str, user: UserOpt, reason: ReasonOpt,
                status: Annotated[SupplierStatus, typer.Option()] = SupplierStatus.APPROVED,
                scope: Annotated[str | None, typer.Option()] = None,
                until: Annotated[str | None, typer.Option(help="last valid day")] = None) -> None:
    """Set the ASL entry of SUPPLIER for MATERIAL (QA)."""
    _done("ASL entry", lambda rt: sup.approve_supplier_material(
        rt, supplier, material, status, user, password(user), reason, scope, until))


@suppliers_app.command("inspect")
def inspect_cmd(lot: str, user: UserOpt, reason: ReasonOpt,
                lot_size: Annotated[int, typer.Option(help="items in the lot")],
                aql: Annotated[str, typer.Option(help="AQL, percent nonconforming")],
                nonconforming: Annotated[int, typer.Option(help="nonconforming items found")],
                level: Annotated[str, typer.Option(help="GI, GII or GIII")] = "GII") -> None:
    """Inspect LOT (in quarantine) with the ISO 2859-1 plan: approved or rejected (QC/QA)."""
    def run(rt: Runtime) -> str:
        iri, p, ok = sup.inspect_incoming_lot(rt, lot, lot_size, aql, nonconforming, user,
                                              password(user), reason, level)
        return (f"{iri} — code {p.code_letter}, sample {p.sample_size}, Ac {p.accept} "
                f"Re {p.reject}: {'accepted (Approved)' if ok else 'rejected (Rejected)'}")
    _done("incoming inspection", run)


@suppliers_app.command("scar-issue")
def scar_issue_cmd(key: str, supplier: str, user: UserOpt, reason: ReasonOpt,
                   title: Annotated[str, typer.Option()],
                   description: Annotated[str, typer.Option()],
                   due: Annotated[str, typer.Option(help="due date")],
                   deviation: Annotated[list[str] | None, typer.Option()] = None,
                   capa: Annotated[list[str] | None, typer.Option()] = None) -> None:
    """Issue a SCAR to SUPPLIER (QA, QC or engineer)."""
    _done("SCAR", lambda rt: sup.issue_scar(rt, key, supplier, title, description, due, user,
                                             reason, deviation or [], capa or []).iri)


@suppliers_app.command("scar-respond")
def scar_respond_cmd(scar: str, response: str, user: UserOpt, reason: ReasonOpt) -> None:
    """Record the supplier's response to SCAR."""
    _done("SCAR", lambda rt: str(sup.record_scar_response(rt, scar, response, user,
                                                           reason).props))


@suppliers_app.command("scar-close")
def scar_close_cmd(scar: str, user: UserOpt, reason: ReasonOpt,
                   cancel: Annotated[bool, typer.Option()] = False) -> None:
    """Close (or --cancel) SCAR (QA)."""
    _done("SCAR", lambda rt: sup.close_scar(rt, scar, user, password(user), reason,
                                             cancel).iri)
