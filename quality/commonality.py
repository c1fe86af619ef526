"""Commonality analysis for root cause: which upstream factors do the deviating batches share
that the good batches do not?

For every batch the factors are read from the graph: supplier lots upstream of it (genealogy),
equipment, fixtures, operators and the shift of its operation executions, its pinned process
version, and the calibration record in force on its equipment at time of use. Each factor is
scored by its *lift* — P(deviating | factor) / P(deviating) — ranked on a smoothed lift (a
factor seen on few batches is shrunk towards the base rate, so one unlucky lot does not beat a
factor shared by most deviating batches).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graph.context import as_built
from graph.fitness import calibrations_of
from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from graph.session import Session
from ontology.terms import C, P, R
from quality.workflow import resolve

__all__ = ["Factor", "batch_factors", "commonality", "shift_of"]

#: pseudo-count of the smoothed lift
SMOOTHING = 2.0


@dataclass(frozen=True)
class Factor:
    """One shared upstream factor and how strongly it goes with deviating batches."""

    kind: str  # supplierLot | equipment | fixture | operator | shift | processVersion | calibration
    iri: str
    key: str
    deviating: int  # deviating batches with the factor
    total: int  # batches with the factor
    lift: float
    score: float  # smoothed lift, the ranking key
    coverage: float  # share of the deviating batches that have it


def shift_of(utc_text: str) -> str:
    """Shift of an execution start (UTC): early 06-14, late 14-22, night."""
    hour = int(utc_text[11:13]) if len(utc_text) >= 13 else 0
    return "early" if 6 <= hour < 14 else "late" if 14 <= hour < 22 else "night"


def batch_factors(store: GraphStore, batches: Sequence[str]) -> dict[str, set[tuple[str, str]]]:
    """The factors (kind, IRI) of each batch."""
    out: dict[str, set[tuple[str, str]]] = {b: set() for b in batches}
    ctx = as_built(store, list(batches))
    runs: dict[str, list[NodeRecord]] = {}
    for e in ctx.edges:
        if e.type == R.FOR_BATCH and e.dst in out and e.src in ctx.nodes:
            runs.setdefault(e.dst, []).append(ctx.nodes[e.src])
        elif e.type == R.RUNS_PROCESS_VERSION and e.src in out:
            out[e.src].add(("processVersion", e.dst))
    tools_of: dict[str, list[str]] = {}
    kinds: dict[str, str] = {R.ON_EQUIPMENT: "equipment", R.USED_FIXTURE: "fixture",
             R.WAS_ASSOCIATED_WITH: "operator"}
    for e in ctx.edges:
        if e.type in kinds:
            tools_of.setdefault(e.src, []).append(e.dst)
    by_exec = {x.iri: b for b, xs in runs.items() for x in xs}
    for e in ctx.edges:
        if e.type in kinds and e.src in by_exec:
            out[by_exec[e.src]].add((kinds[e.type], e.dst))
    tools = sorted({t for e in ctx.edges if e.type in (R.ON_EQUIPMENT, R.USED_FIXTURE)
                    for t in [e.dst]})
    cal_of = calibrations_of(store, tools)
    for b, xs in runs.items():
        for x in xs:
            start = str(x.props.get(P.startedAtTime, ""))
            if start:
                out[b].add(("shift", f"shift:{shift_of(start)}"))
            for t in tools_of.get(x.iri, []):
                in_force = [c for c in cal_of.get(t, [])
                            if str(c.props.get(P.performedAt, "")) <= start]
                if in_force:
                    latest = max(in_force, key=lambda c: str(c.props.get(P.performedAt)))
                    out[b].add(("calibration", latest.iri))
    for b in batches:  # supplier lots anywhere upstream
        g = store.genealogy([b], Direction.UPSTREAM)
        out[b].update(("supplierLot", i) for i, n in g.nodes.items()
                      if n.label == C.MaterialLot)
    return out


def commonality(rt: Session, deviating: Sequence[str], good: Sequence[str],
                limit: int = 20, min_deviating: int = 2) -> list[Factor]:
    """Factors ranked by smoothed lift (then by how many deviating batches share them)."""
    dev = [resolve(rt, C.TraceableEntity, b).iri for b in deviating]
    ok = [resolve(rt, C.TraceableEntity, b).iri for b in good]
    ok = [b for b in ok if b not in set(dev)]
    factors = batch_factors(rt.store, [*dev, *ok])
    n, d = len(factors), len(dev)
    if not n or not d:
        return []
    base = d / n
    seen: dict[tuple[str, str], list[int]] = {}
    for b, fs in factors.items():
        for f in fs:
            c = seen.setdefault(f, [0, 0])
            c[1] += 1
            if b in dev:
                c[0] += 1
    keys = rt.store.get_many(sorted({i for _k, i in seen if "://" in i}))
    ranked = []
    for (kind, iri), (df, nf) in seen.items():
        if df < min_deviating:
            continue
        lift = (df / nf) / base
        score = ((df + SMOOTHING * base) / (nf + SMOOTHING)) / base
        key = keys[iri].key if iri in keys else iri.split(":", 1)[-1]
        ranked.append(Factor(kind, iri, key, df, nf, round(lift, 4), round(score, 4),
                             round(df / d, 4)))
    ranked.sort(key=lambda f: (-f.score, -f.deviating, f.kind, f.key))
    return ranked[:limit]
