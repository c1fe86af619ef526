"""Environmental monitoring (issue 17 item 1): room limits and the room conditions of each
operation execution — the one module the eDHR, GraphQL (``batchEnvironment``) and the CLI
(``tracegraph signals environment``) read the same numbers from.

- A room's limits are parameter specs that ``tg:limitsRoom`` it, key ``<room>/<parameter>``
  (:func:`room_limit_nodes` builds them from the cleanroom class defaults in the ontology,
  :mod:`ontology.environment`). :func:`room_limit_rules` is the write guard: a parameter spec is
  of exactly one operation or limits exactly one room; a room limit's parameter is an environment
  parameter, in its unit, and a particle limit is not negative.
- :func:`execution_conditions`: per execution, the room it ran in (``tg:performedIn``, else the
  room its equipment stands in), and per monitored parameter the min / max / mean of the room's
  raw samples during [start, end] (quality ``good`` only), the samples beyond the spec limits
  and the room excursions that overlap the execution. The raw samples come from a
  :class:`SampleSource` (the signal raw store, one layer up), so this module stays in
  ``quality``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from graph.errors import Problem
from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from graph.write import PendingWrite
from ontology.environment import DEFAULTS, PARTICLES, UNITS, room_spec_key
from ontology.terms import C, P, R
from quality.pending_reads import targets

__all__ = ["SampleSource", "execution_conditions", "room_limit_nodes", "room_limit_rules",
           "room_of"]

Json = dict[str, Any]
_FOREVER = "9999"


class _Sample(Protocol):
    @property
    def value(self) -> float: ...

    @property
    def quality(self) -> str: ...

    @property
    def source_ms(self) -> int: ...


class SampleSource(Protocol):
    """Raw samples of one stream in [start, end] (``ingest.signals.rawstore.RawStore``)."""

    def window(self, equipment: str, tag: str, start_ms: int, end_ms: int,
               limit: int = ...) -> Sequence[_Sample]: ...


# -- room limits -------------------------------------------------------------------------------
def room_limit_nodes(room: str, cleanroom_class: str,
                     overrides: dict[str, dict[str, float]] | None = None
                     ) -> list[dict[str, Any]]:
    """Capture nodes of a room's limit specs: the class defaults, with the plant's overrides
    (per parameter, properties such as ``usl``); SPC subgroups per execution (a room has no
    within-run SPC)."""
    out = []
    for param, lim in sorted(DEFAULTS.get(cleanroom_class, {}).items()):
        props: dict[str, Any] = {"name": f"{param} in {room}", "unitCode": UNITS[param],
                                 "isCPP": False, "subgroupRule": "perExecution",
                                 **lim.props(), **(overrides or {}).get(param, {})}
        out.append({"class": "ParameterSpec", "key": room_spec_key(room, param),
                    "properties": props, "links": {"limitsRoom": f"Room/{room}"}})
    return out


def room_limit_rules(p: PendingWrite) -> list[Problem]:
    """Write guard (see the module)."""
    specs = sorted(p.after_of(C.ParameterSpec))
    if not specs:
        return []
    ops, rooms = targets(p, specs, R.SPEC_OF), targets(p, specs, R.LIMITS_ROOM)
    out: list[Problem] = []
    for iri in specs:
        n = p.after[iri]
        if bool(ops.get(iri)) == bool(rooms.get(iri)):
            out.append(Problem(rule="spec-operation-or-room", field="limitsRoom", focus=iri,
                               value=n.key, message="a parameter spec is of exactly one "
                               "operation (specOf) or limits exactly one room (limitsRoom)"))
        if not rooms.get(iri):
            continue
        param = n.key.rsplit("/", 1)[-1]
        unit = UNITS.get(param)
        if unit is None:
            out.append(Problem(rule="room-parameter", field="code", value=n.key, focus=iri,
                               message="a room limit's key ends in an environment parameter: "
                               + ", ".join(sorted(UNITS))))
            continue
        if n.props.get(P.unitCode) != unit:
            out.append(Problem(rule="room-limit-unit", field="unitCode", focus=iri,
                               value=n.props.get(P.unitCode),
                               message=f"{param} limits are in {unit!r}"))
        if param in PARTICLES:
            for f in (P.lsl, P.actionLow, P.alertLow, P.alertHigh, P.actionHigh, P.usl):
                v = n.props.get(f)
                if isinstance(v, int | float) and v < 0:
                    out.append(Problem(rule="particle-count-negative", field=str(f), value=v,
                                       focus=iri, message="a particle count limit is ≥ 0"))
    return out


# -- room conditions per execution -----------------------------------------------------------
def room_of(store: GraphStore, executions: Sequence[str]) -> dict[str, str]:
    """execution → the room it ran in: ``tg:performedIn``, else where its equipment stands."""
    out = {e.src: e.dst for e in store.links(list(executions), [R.PERFORMED_IN])}
    rest = [x for x in executions if x not in out]
    eq = {e.src: e.dst for e in store.links(rest, [R.ON_EQUIPMENT])} if rest else {}
    where = {e.src: e.dst for e in store.links(sorted(set(eq.values())), [R.LOCATED_IN])}
    located = store.get_many(sorted(set(where.values())))
    for x, e in eq.items():
        r = located.get(where.get(e, ""))
        if r is not None and r.label == C.Room:
            out[x] = r.iri
    return out


def _ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _stats(xs: Iterable[_Sample]) -> tuple[int, float | None, float | None, float | None]:
    vals = [s.value for s in xs if s.quality == "good"]
    if not vals:
        return 0, None, None, None
    return len(vals), min(vals), max(vals), math.fsum(vals) / len(vals)


def _beyond(spec: NodeRecord, xs: Iterable[_Sample]) -> int:
    lo, hi = spec.props.get(P.lsl), spec.props.get(P.usl)
    return sum(1 for s in xs if s.quality == "good" and (
        (isinstance(lo, int | float) and s.value < lo)
        or (isinstance(hi, int | float) and s.value > hi)))


def execution_conditions(store: GraphStore, samples: SampleSource | None,
                         executions: Sequence[NodeRecord], now_ms: int | None = None
                         ) -> list[Json]:
    """Per execution (in the given order): its room and, per parameter the room is monitored
    for, the statistics of the raw samples during the execution, the samples beyond the spec
    limits and the room excursions overlapping the execution (see the module)."""
    rooms = room_of(store, [x.iri for x in executions])
    room_nodes = store.get_many(sorted(set(rooms.values())))
    spec_edges = store.links(sorted(room_nodes), [R.LIMITS_ROOM], Direction.DOWNSTREAM)
    specs = store.get_many(sorted({e.src for e in spec_edges}))
    by_room: dict[str, list[NodeRecord]] = {}
    for e in spec_edges:
        if e.src in specs:
            by_room.setdefault(e.dst, []).append(specs[e.src])
    exc_edges = store.links(sorted(specs), [R.VIOLATES_SPEC], Direction.DOWNSTREAM)
    excs = store.get_many(sorted({e.src for e in exc_edges}))
    exc_of: dict[str, list[NodeRecord]] = {}
    for e in exc_edges:
        if e.src in excs:
            exc_of.setdefault(e.dst, []).append(excs[e.src])
    out: list[Json] = []
    for x in executions:
        room = room_nodes.get(rooms.get(x.iri, ""))
        start = str(x.props.get(P.startedAtTime) or "")
        end = str(x.props.get(P.endedAtTime) or "")
        row: Json = {"execution": x.key, "room": room.key if room else None,
                     "cleanroomClass": room.props.get(P.cleanroomClass) if room else None,
                     "startedAt": start or None, "endedAt": end or None, "parameters": []}
        out.append(row)
        if room is None or not start:
            continue
        s_ms = _ms(start)
        e_ms = _ms(end) if end else (now_ms if now_ms is not None else 2**62)
        for spec in sorted(by_room.get(room.iri, []), key=lambda s: s.key):
            param = spec.key.rsplit("/", 1)[-1]
            xs = list(samples.window(room.key, param, s_ms, e_ms, 1_000_000)) if samples else []
            n, lo, hi, mean = _stats(xs)
            hits = [c for c in exc_of.get(spec.iri, [])
                    if str(c.props.get(P.detectedAt, "")) <= (end or _FOREVER)
                    and str(c.props.get(P.clearedAt) or _FOREVER) >= start]
            row["parameters"].append({
                "parameter": param, "unit": spec.props.get(P.unitCode), "samples": n,
                "min": lo, "max": hi, "mean": mean,
                "lsl": spec.props.get(P.lsl), "usl": spec.props.get(P.usl),
                "beyondSpec": _beyond(spec, xs), "withinSpec": _beyond(spec, xs) == 0,
                "excursions": [{"excursion": c.key, **{str(k): c.props.get(k) for k in (
                    P.excursionLevel, P.peakValue, P.limitValue, P.detectedAt, P.clearedAt)}}
                    for c in sorted(hits, key=lambda c: c.key)]})
    return out
