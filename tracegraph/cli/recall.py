"""``tracegraph recall``: the bulk recall of seed lots (``--seeds``, the export for the recall
file) and the what-if commands of issue 18 item 3 — ``whatif`` (the scope of one hypothesis),
``compare`` (hypotheses side by side: the shared core and what each adds) and ``prove`` (the
proof of non-exposure of a unit, shipment or customer, written and signed by QA; an exposed
target is refused with the witness path and the exposure fraction). Mounted by
:mod:`tracegraph.cli.main`.

A hypothesis is written ``NAME=KIND:REF[@FROM..TO][+KIND:REF…]`` (kinds: lot, equipment,
operator, supplier, version), e.g. ``both=lot:PA-778+equipment:UV-01@2026-01-05T08:00Z..
2026-01-05T20:00Z``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, NoReturn

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graph.errors import RefusedError
from graph.hypothesis import Hypothesis, compare, parse_hypothesis, scopes
from tracegraph.cli.progress import phases
from tracegraph.cli.tables import Column, JsonOpt, show
from tracegraph.cli.workflow import password
from tracegraph.runtime import Runtime

__all__ = ["recall_app"]

recall_app = typer.Typer(help="Bulk recall (--seeds) and what-if recall: whatif, compare, "
                         "prove")
console = Console()
err = Console(stderr=True)


def _read_seeds(path: Path) -> list[str]:
    """Seed values from a CSV (the seed column by its header, else the first) or a text file."""
    from ingest.seeds import seeds_from_text

    return seeds_from_text(path.read_text(encoding="utf-8-sig"))


@recall_app.callback(invoke_without_command=True)
def recall(ctx: typer.Context, seeds: Annotated[Path | None, typer.Option(
               help="CSV/text file of seed lots (any identifier)")] = None,
           out: Annotated[Path, typer.Option(help="directory for the recall files")] = Path(
               "recall"),
           max_depth: Annotated[int, typer.Option(help="traversal depth bound")] = 50,
           balance: Annotated[bool, typer.Option(
               "--mass-balance/--no-mass-balance")] = True,
           as_json: JsonOpt = False) -> None:
    """Bulk recall: everything downstream of the seeds, with an export for the recall file
    (or a what-if command: whatif, compare, prove)."""
    from graph.recall_balance import write_export

    if ctx.invoked_subcommand is not None:
        return
    if seeds is None:
        err.print("Missing option '--seeds' (or a command: whatif, compare, prove)")
        raise typer.Exit(2)
    if not seeds.is_file():
        err.print(f"no seed file at {seeds}", soft_wrap=True)
        raise typer.Exit(2)
    values = _read_seeds(seeds)
    if not values:
        err.print(f"{seeds} holds no seeds (a CSV's seed column is found by its header: "
                  "seed, lot, serial, iri …; else the first column)", soft_wrap=True)
        raise typer.Exit(2)
    rt = Runtime.open()
    lean = getattr(rt.store, "limit_memory", None)
    if lean is not None:  # one pass over most of the store: a small cache, no memory map
        lean(16, 0)
    try:
        t0 = time.perf_counter()
        with phases("recall", ["traversal", "export"]) as step:
            answer = rt.recall(values, unit_limit=0, max_depth=max_depth, package_limit=0,
                               lazy=True)
            if not answer.seeds:  # nothing to recall from: no files, a failing exit
                err.print(f"none of the {len(values):,} seed(s) matched a node: "
                          + ", ".join(answer.unknown_seeds[:20]), soft_wrap=True)
                raise typer.Exit(1)
            t_query = time.perf_counter() - t0
            step("export")
            files = write_export(answer, out, rt.store, max_depth, balance)
        t_all = time.perf_counter() - t0
    finally:
        rt.close()
    rows = [{"affected": k, "count": v} for k, v in answer.summary().items()]
    show(rows, [Column("affected", "affected", nowrap=True), Column("count", "count", "right")],
         title=f"recall of {len(values):,} seeds at watermark {answer.watermark}",
         as_json=as_json, json_body={
             "watermark": answer.watermark, "summary": answer.summary(),
             "unknownSeeds": answer.unknown_seeds, "files": {k: str(p) for k, p in files.items()},
             "seconds": {"query": round(t_query, 3), "all": round(t_all, 3)}})
    if as_json:
        return
    if answer.unknown_seeds:
        err.print(f"[yellow]{len(answer.unknown_seeds)} seed(s) matched nothing:[/yellow] "
                  + ", ".join(answer.unknown_seeds[:20]))
    console.print(f"counts and lists (traversal + classification) {t_query:.2f} s; with the "
                  f"streamed export {t_all:.2f} s")
    for name, path in files.items():
        console.print(f"  {name}: {path}")


def _refused(e: Exception, code: int = 2) -> NoReturn:
    err.print(f"[red]refused[/red]: {escape(str(e))}", soft_wrap=True)
    raise typer.Exit(code)


def _parse(texts: list[str]) -> list[Hypothesis]:
    try:
        return [parse_hypothesis(t) for t in texts]
    except RefusedError as e:
        _refused(e)


HYPOTHESIS = typer.Argument(help="NAME=KIND:REF[@FROM..TO][+KIND:REF…] (kinds: lot, "
                            "equipment, operator, supplier, version)")


@recall_app.command("whatif")
def whatif(hypothesis: Annotated[str, HYPOTHESIS],
           as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """The scope of one hypothesis: what its seeds resolve to and the counts per class."""
    compare_(hypotheses=[hypothesis], as_json=as_json)


@recall_app.command("compare")
def compare_(hypotheses: Annotated[list[str], HYPOTHESIS],
             as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Hypotheses side by side: counts per class of each scope, the shared core and what
    each adds (in it and in no other)."""
    hs = _parse(hypotheses)
    rt = Runtime.open()
    try:
        found = scopes(rt.store, hs)
    except RefusedError as e:
        _refused(e)
    finally:
        rt.close()
    cmp = compare(found)
    counts = cmp.as_counts()
    if as_json:
        counts["seeds"] = {s.hypothesis.name: [{"seed": o.seed.text(), "node": o.node,
                                                "executions": o.via, "walkSeeds": o.seeds}
                                               for o in s.origins] for s in found}
        console.print_json(orjson.dumps(counts).decode())
        return
    for s in found:
        for o in s.origins:
            console.print(f"{s.hypothesis.name}: {escape(o.seed.text())} → {len(o.seeds)} "
                          f"seed(s)" + (f" via {len(o.via)} execution(s)" if o.via else ""))
    t = Table(title=f"what-if recall at watermark {cmp.watermark}")
    t.add_column("class")
    names = [s.hypothesis.name for s in found]
    for n in names:
        t.add_column(n, justify="right")
    if len(found) > 1:
        t.add_column("shared", justify="right")
        for n in names:
            t.add_column(f"only {n}", justify="right")
    for c in sorted(cmp.union):
        row = [c] + [str(counts["scopes"][n].get(c, 0)) for n in names]
        if len(found) > 1:
            row += [str(counts["shared"].get(c, 0))]
            row += [str(counts["adds"][n].get(c, 0)) for n in names]
        t.add_row(*row)
    console.print(t)


@recall_app.command("prove")
def prove(hypothesis: Annotated[str, HYPOTHESIS],
          target: Annotated[str, typer.Argument(help="unit, shipment or customer (any "
                                                     "identifier)")],
          user: Annotated[str, typer.Option(help="the QA account that signs")],
          reason: Annotated[str, typer.Option(help="why the proof is made")],
          out: Annotated[Path | None, typer.Option(help="write the proof JSON here")] = None
          ) -> None:
    """Prove (QA, signed) that no derivation path leads from the hypothesis' seeds to the
    target. An exposed target is refused (exit 1) with the witness path and the exposure
    fraction; the password comes from TRACEGRAPH_PASSWORD or a prompt."""
    from quality.exposure import ExposedError
    from quality.exposure import prove as prove_

    [h] = _parse([hypothesis])
    secret = password(user)
    rt = Runtime.open()
    try:
        proof = prove_(rt, h, target, user, secret, reason)
    except ExposedError as e:
        f = e.finding
        err.print(f"[red]refused[/red]: {escape(f.statement())}", soft_wrap=True)
        err.print("witness: " + " > ".join(f.witness), soft_wrap=True)
        for x in f.shares:
            share = "unknown" if x.fraction is None else f"{x.fraction:.6g}"
            err.print(f"exposure fraction of {x.seed} in {x.item}: {share}"
                      + (f" ({x.note})" if x.note else ""), soft_wrap=True)
        raise typer.Exit(1) from None
    except RefusedError as e:
        _refused(e)
    finally:
        rt.close()
    doc = proof.document
    console.print(f"proof {proof.number} ({proof.iri})", soft_wrap=True)
    console.print(escape(str(doc["statement"])), soft_wrap=True)
    for s in proof.signatures:
        console.print(f"signed by {s.printed_name} ({s.username}) {s.signed_at} — {s.meaning}")
    console.print(f"digest {proof.digest}")
    if out is not None:
        out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        console.print(f"written to {out}")
