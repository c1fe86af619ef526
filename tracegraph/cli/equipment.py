"""``tracegraph equipment health ID`` (the equipment health view, the same module as GraphQL
``equipmentHealth``) and ``tracegraph equipment work-order open|start|complete`` (the work
order commands of :mod:`quality.maintenance`, as an authenticated account: password from
TRACEGRAPH_PASSWORD or a prompt)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from graph.model import NodeRecord
from ingest.signals.health import EquipmentHealth, equipment_health
from ingest.signals.model import text_to_ms
from quality import maintenance
from tracegraph.cli.workflow import ReasonOpt, UserOpt, run_step, runtime, signed_in
from tracegraph.runtime import Runtime

__all__ = ["equipment_app"]

equipment_app = typer.Typer(help="equipment health and maintenance work orders",
                            no_args_is_help=True)
wo_app = typer.Typer(help="maintenance work orders: Open → InProgress → Done",
                     no_args_is_help=True)
equipment_app.add_typer(wo_app, name="work-order")
console = Console()
err = Console(stderr=True)


def _as_json(h: EquipmentHealth) -> dict[str, object]:
    d = asdict(h)
    d["drift_warnings"] = [n.key for n in h.drift_warnings]
    d["open_work_orders"] = [{"key": w.key, **w.props} for w in h.open_work_orders]
    return d


@equipment_app.command("health")
def health(equipment: Annotated[str, typer.Argument(help="equipment tag or IRI")],
           at: Annotated[str | None, typer.Option(help="as of (UTC; default: the newest "
                                                       "sample)")] = None,
           json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """State, drift statistics, next calibration/maintenance due, forecast breach, open work
    orders and batches at risk (exit 1 unless the state is ok)."""
    try:
        when = text_to_ms(at) if at else None
    except ValueError:
        err.print(f"--at={at!r}: an ISO 8601 date-time with time zone")
        raise typer.Exit(2) from None
    with runtime() as rt:
        h = equipment_health(rt, rt.settings.data_dir / "signals", equipment, when)
    if json:
        typer.echo(orjson.dumps(_as_json(h), option=orjson.OPT_INDENT_2, default=str).decode())
    else:
        _print(h)
    if h.state != "ok":
        raise typer.Exit(1)


def _print(h: EquipmentHealth) -> None:
    console.print(f"[bold]{h.equipment}[/] {h.name}: [bold]{h.state}[/] (status "
                  f"{h.equipment_status or '-'}, calibration {h.calibration_status or '-'})")
    for name, d in (("calibration", h.calibration_due), ("maintenance", h.maintenance_due)):
        console.print(f"  next {name} due: {d.due or '-'}" + (" [red]OVERDUE[/]" if d.overdue
                                                              else "")
                      + (f" (from {d.source})" if d.source else ""))
    t = Table("parameter", "last", "EWMA / limit", "CUSUM +/-", "drifting since",
              "forecast breach (95 %)", title="parameters")
    for p in h.parameters:
        ew = f"{p.ewma:+.2f} / {p.ewma_limit:.2f}" if p.ewma is not None and p.ewma_limit \
            else "not watched"
        cu = f"{p.cusum_high:.2f} / {p.cusum_low:.2f}" if p.cusum_high is not None else "-"
        fc = f"{p.breach_at} ({p.breach_earliest} .. {p.breach_latest}) at {p.limit:g}" \
            if p.breach_at and p.limit is not None else "-"
        t.add_row(p.parameter, f"{p.last_value:g}" if p.last_value is not None else "-", ew,
                  cu, p.drifting_since or "-", fc)
    console.print(t)
    for x in h.drift_warnings:
        console.print(f"  drift warning {x.key} since {x.props.get('detectedAt')}")
    for w in h.open_work_orders:
        console.print(f"  work order {w.key}: {w.props.get('maintenanceType')} "
                      f"{w.props.get('workOrderState')} — {w.props.get('description', '')}")
    for a in h.at_risk:
        console.print(f"  batch at risk: {a.batch} ({a.execution}, run to {a.expected_end}; "
                      f"breach {a.breach_at})" + (f" warned {a.alarm}" if a.alarm else ""))


def _signed(rt: Runtime, user: str) -> str:
    return signed_in(rt, user, "work order")


def _do(step: str, run: Callable[[Runtime], NodeRecord]) -> None:
    run_step(run, lambda wo: f"{step}: {wo.key} {wo.props.get('maintenanceType')} "
             f"{wo.props.get('workOrderState')}")


@wo_app.command("open")
def wo_open(equipment: Annotated[str, typer.Argument(help="equipment tag or IRI")],
            maintenance_type: Annotated[str, typer.Option("--type", help="preventive, "
                                                          "corrective or predictive")],
            description: Annotated[str, typer.Option(help="what is to be done")],
            user: UserOpt, reason: ReasonOpt,
            raised_by: Annotated[str | None, typer.Option(help="the drift warning (excursion) "
                                                          "or deviation behind it")] = None,
            forecast: Annotated[str | None, typer.Option(help="forecast breach (UTC)")] = None
            ) -> None:
    """Open a work order (predictive: an engineer, raised by a drift warning)."""
    _do("opened", lambda rt: maintenance.open_work_order(
        rt, _signed(rt, user), equipment, maintenance_type, description, reason, raised_by,
        forecast))


@wo_app.command("start")
def wo_start(work_order: str, user: UserOpt, reason: ReasonOpt) -> None:
    """Start a work order (engineer)."""
    _do("started", lambda rt: maintenance.start_work_order(rt, _signed(rt, user), work_order,
                                                           reason))


@wo_app.command("complete")
def wo_complete(work_order: str, user: UserOpt, reason: ReasonOpt,
                done: Annotated[str, typer.Option("--done", help="what was done")]) -> None:
    """Complete a work order (engineer); writes the maintenance record."""
    _do("completed", lambda rt: maintenance.complete_work_order(
        rt, _signed(rt, user), work_order, done, reason))
