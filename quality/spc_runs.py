"""SPC on per-execution subgroups (``tg:subgroupRule`` ``perExecution``): each completed
execution's aggregate (n, mean, sd, min, max) is one subgroup. The SPC chart charts them
(``api.graphql.spc``) and the signal pipeline evaluates the run rules when an execution
completes (issue 17, item 3): :func:`completed_event` says whether the newest execution opened
or closed a rule episode on the chart of :mod:`quality.spc` — the same chart and episodes the
SPC page shows, against limits from completed in-control history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from ontology.terms import P, R
from quality.spc import DEFAULT_RULES, Limits, Subgroup, chart

__all__ = ["Row", "RunEvent", "completed_event", "execution_subgroups", "subgroup_of"]


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def subgroup_of(o: NodeRecord, key: str, start_ms: int | None = None) -> Subgroup | None:
    """The subgroup of one execution's aggregate (None without a count and a mean)."""
    p = o.props
    n, mean = p.get(P.sampleCount), _num(p.get(P.meanValue))
    if not isinstance(n, int) or n < 1 or mean is None:
        return None
    return Subgroup(key, n, mean, _num(p.get(P.stdDev)) if n > 1 else 0.0,
                    _num(p.get(P.minValue)), _num(p.get(P.maxValue)), start_ms)


@dataclass(frozen=True)
class Row:
    execution: NodeRecord
    end: str
    group: Subgroup


def execution_subgroups(store: GraphStore, spec_iri: str, until: str) -> list[Row]:
    """The subgroups of the executions of a spec that had ended by ``until``, oldest first."""
    obs = store.get_many(e.src for e in store.links([spec_iri], [R.OBSERVES],
                                                    Direction.DOWNSTREAM))
    run_of = {e.src: e.dst for e in store.links(list(obs), [R.DURING_EXECUTION])}
    runs = store.get_many(set(run_of.values()))
    rows = []
    for iri, o in obs.items():
        run = runs.get(run_of.get(iri, ""))
        end = str(run.props.get(P.endedAtTime) or "") if run is not None else ""
        if run is None or not end or end > until:
            continue
        g = subgroup_of(o, run.key)
        if g is not None:
            rows.append(Row(run, end, g))
    return sorted(rows, key=lambda r: (r.end, r.execution.key))


@dataclass(frozen=True)
class RunEvent:
    kind: str  # "spc" (an episode opened on the newest execution) or "spcCleared"
    opened_by: Row  # the execution whose subgroup opened the episode
    rules: tuple[str, ...]


def completed_event(rows: Sequence[Row], limits: Limits,
                    rules: frozenset[str] = DEFAULT_RULES) -> RunEvent | None:
    """What the newest row (the execution just completed) did on the chart: opened a rule
    episode, closed one, or nothing."""
    if not rows or limits.sigma <= 0:
        return None
    last = len(rows) - 1
    for ep in chart([r.group for r in rows], limits, rules).episodes:
        if ep.start == last:
            return RunEvent("spc", rows[last], ep.rules)
        if ep.end == last:
            return RunEvent("spcCleared", rows[ep.start], ep.rules)
    return None
