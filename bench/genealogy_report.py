"""The genealogy benchmark's figures (:mod:`bench.genealogy`): the JSON document of a run, the
merge of several runs' documents, and the tables printed from one."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from rich.table import Table

from bench.genealogy_model import PAGE_TARGET_MS, QUESTIONS, REFERENCE, TARGET_MS, Cell, console

__all__ = ["cells_of", "merge_json", "report", "to_json"]


def _ms(x: float) -> str:
    if math.isnan(x):
        return "-"
    return f"{x:,.2f}" if x < 10 else f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def _ratio(a: float, b: float) -> str:
    if math.isnan(a) or math.isnan(b) or b == 0:
        return "-"
    return f"{a / b:,.2f}x" if a / b < 100 else f"{a / b:,.0f}x"


def _sizes(xs: list[int]) -> str:
    if not xs or xs[0] < 0:
        return "-"
    a = np.array(xs)
    if a.min() == a.max():
        return f"{a.min():,}"
    return f"{int(np.median(a)):,}\n[{a.min():,}-{a.max():,}]"


def to_json(cells: dict[str, dict[str, Cell]], graph: dict[str, int], note: dict[str, str],
            timings: dict[str, float], settings: dict[str, Any]) -> dict[str, Any]:
    return {"note": note, "graph": graph, "timings": timings, "settings": settings,
            "cells": {q: {e: {"p50_ms": c.pct(50), "p99_ms": c.pct(99), "seconds": c.seconds,
                              "reached": c.reached, "edges": c.edges,
                              "mismatches": c.mismatches} for e, c in row.items()}
                      for q, row in cells.items()}}


def merge_json(paths: Sequence[Path]) -> dict[str, Any]:
    """Several runs' figures (e.g. runs 0-2 and 3-4 of one question) as one."""
    docs = [orjson.loads(p.read_bytes()) for p in paths]
    out: dict[str, Any] = {"note": dict(docs[0]["note"]), "graph": docs[0]["graph"],
                           "timings": {}, "settings": docs[0]["settings"], "cells": {}}
    if len(docs) > 1:
        out["note"]["load average (1/5/15 min)"] = "; ".join(
            d["note"]["load average (1/5/15 min)"] for d in docs)
        out["note"]["date"] = " … ".join(sorted({docs[0]["note"]["date"],
                                                 docs[-1]["note"]["date"]}))
    for d in docs:
        if d["graph"] != out["graph"]:
            raise SystemExit(f"the figures are of different graphs: {paths}")
        out["timings"].update(d["timings"])
        for q, row in d["cells"].items():
            mrow = out["cells"].setdefault(q, {})
            for e, c in row.items():
                m = mrow.setdefault(e, {"seconds": [], "reached": [], "edges": [],
                                        "mismatches": []})
                for k in ("seconds", "reached", "edges", "mismatches"):
                    m[k].extend(c[k])
    return out


def cells_of(doc: dict[str, Any]) -> dict[str, dict[str, Cell]]:
    order = {q.name: i for i, q in enumerate(QUESTIONS)}
    return {q: {e: Cell(c["seconds"], c["reached"], c["edges"], c["mismatches"])
                for e, c in row.items()}
            for q, row in sorted(doc["cells"].items(), key=lambda kv: order[kv[0]])}


def report(doc: dict[str, Any]) -> int:
    """Print the figures of :func:`to_json` / :func:`merge_json`; 1 if answers mismatched."""
    cells = cells_of(doc)
    head = Table(title="Genealogy benchmark — setup", show_header=False)
    for k, v in {**doc["note"], **{k: f"{v:,}" for k, v in doc["graph"].items()},
                 **{k: f"{v:.2f}" for k, v in doc["timings"].items()}}.items():
        head.add_row(k, str(v))
    console.print(head)

    st = doc["settings"]
    t = Table(title=f"Genealogy: p50 / p99 in ms over the timed runs ({st['warmup']} warm-up "
                    f"run(s) first; seeds drawn with seed {st['seed']}; max depth "
                    f"{st['max_depth']})")
    for col, j in (("question", "left"), ("engine", "left"), ("runs", "right"),
                   ("p50 ms", "right"),
                   ("p99 ms", "right"), ("reached nodes\nmedian [min-max]", "right"),
                   ("edges walked\n(median)", "right"), ("p50 ÷\nneo4j.gen.", "right"),
                   ("p50 ÷\npostgres", "right"), ("p50 ÷\ncsr", "right"), ("target", "left"),
                   ("checks", "left")):
        t.add_column(col, justify=j, no_wrap=col in ("engine", "p50 ms", "p99 ms"))  # type: ignore[arg-type]  # j is one of rich's justify literals
    bad = 0
    qs = {q.name: q for q in QUESTIONS}
    for qname, row in cells.items():
        q = qs[qname]
        neo = row["neo4j.genealogy"].pct(50) if "neo4j.genealogy" in row else math.nan
        csr = row["csr"].pct(50) if "csr" in row else math.nan
        pg = row["postgres.cte"].pct(50) if "postgres.cte" in row else math.nan
        for i, (e, c) in enumerate(row.items()):
            p50, p99 = c.pct(50), c.pct(99)
            target = ""
            if q.target and e.startswith("embedded") and qname in TARGET_MS:
                ok = p99 <= TARGET_MS[qname]
                target = f"{q.target}: " + ("[green]met[/]" if ok else "[red]missed[/]")
            bad += len(c.mismatches)
            check = "ok" if not c.mismatches else f"[red]{len(c.mismatches)} mismatching runs[/]"
            if e == REFERENCE:
                check = "reference"
            med_edges = str(f"{int(np.median(c.edges)):,}") if c.edges and c.edges[0] >= 0 \
                else "-"
            t.add_row(f"{qname}\n[dim]{q.text}[/]" if i == 0 else "", e, str(len(c.seconds)),
                      _ms(p50), _ms(p99),
                      _sizes(c.reached), med_edges,
                      _ratio(p50, neo) if e != "neo4j.genealogy" else "",
                      _ratio(p50, pg) if e != "postgres.cte" else "",
                      _ratio(p50, csr) if e != "csr" else "", target, check,
                      end_section=i == len(row) - 1)
    console.print(t)

    g = Table(title="Targets (DESIGN.md §5 / issue) — embedded engine")
    shown = ("embedded.reach", "embedded.page", "embedded.genealogy", "neo4j.genealogy",
             "postgres.cte")
    for col in ("target", *shown):
        g.add_column(col)
    for qname, lim, engines in [*((q, v, shown) for q, v in TARGET_MS.items()),
                                *((q, v, ("embedded.page",)) for q, v in PAGE_TARGET_MS.items())]:
        if qname not in cells:
            continue
        row = cells[qname]
        vals = []
        for e in shown:
            if e not in row or e not in engines:
                vals.append("-")
                continue
            p99 = row[e].pct(99)
            vals.append(f"p99 {_ms(p99)} ms " + ("[green]≤[/]" if p99 <= lim else "[red]>[/]")
                        + f" {lim:,.0f}")
        what = "full answer (page + counts) " if engines == ("embedded.page",) else ""
        g.add_row(f"{qname} {what}p99 ≤ {lim:,.0f} ms", *vals)
    for peer in ("neo4j.genealogy", "postgres.cte"):
        for qname, row in cells.items():
            if peer not in row:
                continue
            base = row[peer].pct(50)
            vals = []
            for e in shown:
                if e in row and e.startswith("embedded"):
                    r = row[e].pct(50) / base
                    vals.append(f"{_ratio(row[e].pct(50), base)} " +
                                ("[green]≥10x faster[/]" if r <= 0.1 else "[red]<10x[/]"))
                else:
                    vals.append("1.00x" if e == peer else "-")
            g.add_row(f"{qname}: embedded ≥ 10x faster than {peer} (p50)", *vals)
    console.print(g)
    for qname, row in cells.items():
        for e, c in row.items():
            for m in c.mismatches[:5]:
                console.print(f"[red]MISMATCH[/] {qname} {e}: {m}", highlight=False)
    return 1 if bad else 0

