"""``tracegraph signals …``: run the equipment-signal loop from MQTT, OPC UA or a CSV file."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ingest.signals.model import TagMap
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from quality.notify import Notification, WebhookSender, hub
from tracegraph.runtime import Runtime

__all__ = ["signals_app"]

signals_app = typer.Typer(help="Equipment signals → detection → deviation, hold, QC notified.")
console = Console(stderr=True)
TagsOpt = Annotated[Path, typer.Option("--tags", exists=True, dir_okay=False,
                                       help="tag map JSON (validated at start)")]
WebhookOpt = Annotated[str | None, typer.Option("--webhook", help="QC webhook URL")]


def _pipeline(rt: Runtime, tags: Path, webhook: str | None,
              extra: tuple[object, ...] = ()) -> SignalPipeline:
    if rt.settings.store == "embedded":  # a write-mostly process: bounded memory (17 G)
        from graph.engines.sqlite import SQLiteStore

        if isinstance(rt.store, SQLiteStore):
            rt.store.limit_memory(rt.settings.signals_cache_mb, rt.settings.signals_mmap_mb)
    publishers: list[object] = [hub.publish, *extra]
    if webhook:
        publishers.append(WebhookSender(webhook).deliver)  # marked delivered on 2xx
    p = SignalPipeline(rt, TagMap.load(tags), RawStore(rt.settings.data_dir / "signals"),
                       publishers=publishers,  # type: ignore[arg-type]  # both take a Notification
                       keep_records=0)  # a long-running process: nobody reads them (17 G)
    for rec in p.warm_up():
        console.print(f"warm-up: {rec.kind} {rec.level} {rec.excursion}")
    if p.outbox.pending:
        console.print(f"warm-up: {len(p.outbox.pending)} QC notification(s) still to deliver")
    return p


def _notify_console(n: Notification) -> None:
    console.print(f"[bold]{n.kind}[/] {n.equipment}/{n.parameter} batch {n.batch} "
                  f"peak {n.peak:g} → {n.deviation or n.alarm}")


@signals_app.command("mqtt")
def mqtt(tags: TagsOpt, host: str = "127.0.0.1", port: int = 1883,
         client_id: str = "tracegraph-signals", topic: Annotated[list[str] | None,
                                                                 typer.Option()] = None,
         webhook: WebhookOpt = None,
         committed_prefix: Annotated[str, typer.Option(
             help="confirm committed samples to edges on <prefix>/<topic> ('' : off)")
         ] = "tracegraph/committed") -> None:
    """Consume MQTT (QoS 1, persistent session, ack after commit) until SIGTERM/SIGINT."""
    from ingest.signals.mqtt import MqttConsumer

    logging.basicConfig(level=logging.INFO)
    from quality.notify import MqttNotifier

    rt = Runtime.open()
    notifier = MqttNotifier(host, port, client_id=f"{client_id}-qc")
    p = _pipeline(rt, tags, webhook, (notifier.publish,))  # to `tracegraph serve` (mqtt_host)
    c = MqttConsumer(p, host, port, client_id, topic or ["#"],
                     committed_prefix=committed_prefix or None)
    signal.signal(signal.SIGTERM, lambda *_: c.stop.set())
    try:
        c.run()
    except KeyboardInterrupt:
        pass
    finally:
        notifier.close()
        rt.close()


@signals_app.command("opcua")
def opcua(tags: TagsOpt, url: str, webhook: WebhookOpt = None) -> None:
    """Subscribe to the mapped OPC UA nodes until SIGTERM/SIGINT."""
    from ingest.signals.opcua import OpcUaConsumer

    rt = Runtime.open()
    p = _pipeline(rt, tags, webhook)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for s in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(s, stop.set)
        await OpcUaConsumer(p, url).run(stop)

    try:
        asyncio.run(main())
    finally:
        rt.close()


@signals_app.command("replay")
def replay(tags: TagsOpt, files: list[Path], webhook: WebhookOpt = None) -> None:
    """Replay historian CSV files (address,time,value[,quality][,seq][,unit])."""
    from ingest.signals.csv import replay_csv

    rt = Runtime.open()
    p = _pipeline(rt, tags, webhook)
    try:
        for f in files:
            recs = replay_csv(p, f, progress=True)
            console.print(f"{f}: {p.samples_in} samples, {len(recs)} finding(s), "
                          f"{p.duplicates} duplicate(s)")
    finally:
        rt.close()


@signals_app.command("environment")
def environment(batch: str, as_json: Annotated[bool, typer.Option("--json",
                                                                  help="print JSON")] = False
                ) -> None:
    """The room conditions of each operation of a batch (issue 17 item 1): min / max / mean per
    room parameter during the operation, samples beyond the limits and room excursions."""
    import json

    from rich.table import Table

    from ingest.signals.environment import batch_environment
    from quality.workflow import WorkflowRefused

    rt = Runtime.open()
    try:
        rows = batch_environment(rt, rt.settings.data_dir, batch)
    except WorkflowRefused as e:
        console.print(f"[red]{e}[/]")
        raise typer.Exit(1) from None
    finally:
        rt.close()
    if as_json:
        typer.echo(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    t = Table("operation", "room", "parameter", "min", "max", "mean", "unit", "n", "in spec",
              "excursions", title=f"Room conditions of batch {batch}")
    for x in rows:
        for p in x["parameters"] or [{}]:
            t.add_row(x["execution"], x["room"] or "—", p.get("parameter", "—"),
                      *(f"{p[k]:g}" if isinstance(p.get(k), float) else "—"
                        for k in ("min", "max", "mean")),
                      p.get("unit") or "", str(p.get("samples", 0)),
                      "yes" if p.get("withinSpec", True) else "NO",
                      ", ".join(e["excursion"] for e in p.get("excursions", [])))
    Console().print(t)
