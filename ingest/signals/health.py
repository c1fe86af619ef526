"""The equipment health view and the warning at a batch's start (issue 17 item 2). One module
behind GraphQL ``equipmentHealth`` and ``tracegraph equipment health``.

:func:`equipment_health` answers, for one piece of equipment: its state, per monitored parameter
the drift statistics (EWMA, CUSUM, the open episode: from the pipeline's drift state), the
forecast of when the parameter leaves its specification limits (:func:`quality.drift.
forecast_breach` over the last :data:`FORECAST_WINDOW_MS` of raw samples), the next calibration
and maintenance due (:func:`quality.maintenance.due_dates`), the active drift warnings, the open
work orders and the batches at risk (running on it with the forecast breach inside their run, and
every batch warned at its start).

:func:`warn_at_start` — **a warning, never a refusal**: when operation executions start on
equipment with an active drift warning whose forecast breach falls within the run (its end if
recorded, else the typical duration of the operation on that equipment, else
:data:`DEFAULT_RUN_MS`), it writes one alarm per execution (``tg:warnsAbout`` the execution,
raised by the drift warning, with the forecast) under the ``warnAtStart`` command, and returns
the warnings for the capture's answer. Idempotent by the execution: a re-sent start warns once.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.model import Direction, NodeRecord
from graph.session import Session, write_nodes
from graph.write import NodeUpsert
from ingest.signals.drift import read_state
from ingest.signals.model import text_to_ms
from ingest.signals.rawstore import RawStore
from ontology.authority import Command
from ontology.codes import AlarmPriority, AlarmState
from ontology.datatypes import ms_to_text
from ontology.terms import C, P, R
from quality.detection import SpecLimits
from quality.drift import DriftMonitor, Forecast, forecast_breach
from quality.exception_loop import contextualise
from quality.maintenance import Due, drift_warnings, due_dates, work_orders
from quality.workflow import linked_from, resolve

__all__ = ["DEFAULT_RUN_MS", "FORECAST_WINDOW_MS", "AtRisk", "EquipmentHealth",
           "ParameterHealth", "StartWarning", "equipment_health", "warn_at_start"]

FORECAST_WINDOW_MS = 30 * 60_000  # the recent window the trend is fitted on
DEFAULT_RUN_MS = 8 * 3_600_000  # a run's expected length without any history


@dataclass(frozen=True)
class ParameterHealth:
    parameter: str
    samples: int  # good samples in the forecast window
    last_value: float | None
    last_at: str | None
    ewma: float | None  # standardised EWMA statistic (None: not monitored for drift)
    ewma_limit: float | None
    cusum_high: float | None
    cusum_low: float | None
    drifting_since: str | None  # the open drift episode's start
    limit: float | None  # the limit the trend heads for
    breach_at: str | None  # forecast: the fitted line reaches the limit
    breach_earliest: str | None
    breach_latest: str | None


@dataclass(frozen=True)
class AtRisk:
    execution: str
    batch: str | None
    started: str
    expected_end: str
    breach_at: str | None
    alarm: str | None  # the warning written at its start


@dataclass
class EquipmentHealth:
    equipment: str
    name: str
    state: str  # ok | drifting | breachForecast | overdue
    equipment_status: str | None
    calibration_status: str | None
    calibration_due: Due
    maintenance_due: Due
    parameters: list[ParameterHealth] = field(default_factory=list)
    drift_warnings: list[NodeRecord] = field(default_factory=list)
    open_work_orders: list[NodeRecord] = field(default_factory=list)
    at_risk: list[AtRisk] = field(default_factory=list)


def _text(ms: float | None) -> str | None:
    return ms_to_text(round(ms)) if ms is not None else None


def _forecast(raw: RawStore | None, rt: Session, equipment: NodeRecord, tag: str,
              end_ms: int, since_ms: int | None
              ) -> tuple[int, Forecast | None, float | None, int | None]:
    """(samples in the window, forecast, last value, last time) of one stream, fitted on the
    last :data:`FORECAST_WINDOW_MS`, from the open drift episode's start if later (the trend
    of the drift, not of the stable time before it)."""
    if raw is None:
        return 0, None, None, None
    start = max(end_ms - FORECAST_WINDOW_MS, since_ms if since_ms is not None else 0)
    xs = [o for o in raw.window(equipment.key, tag, start, end_ms) if o.quality == "good"]
    if not xs:
        return 0, None, None, None
    ctx = contextualise(rt.store, equipment.iri, tag, ms_to_text(xs[-1].source_ms))
    lim = ctx.limits if ctx is not None else SpecLimits()
    f = forecast_breach([float(o.source_ms) for o in xs], [o.value for o in xs], lim.lsl,
                        lim.usl)
    if f is not None and f.breach < xs[-1].source_ms:
        f = None  # already beyond: the exception loop's business, not a forecast
    return len(xs), f, xs[-1].value, xs[-1].source_ms


def _typical_run_ms(rt: Session, equipment: str, operation: list[str]) -> int:
    runs = rt.store.get_many(e.src for e in rt.store.links([equipment], [R.ON_EQUIPMENT],
                                                          Direction.DOWNSTREAM))
    same = {e.src for e in rt.store.links(list(runs), [R.EXECUTES_OPERATION])
            if e.dst in operation}
    spans = [text_to_ms(str(r.props[P.endedAtTime])) - text_to_ms(str(r.props[P.startedAtTime]))
             for i, r in runs.items() if i in same and r.props.get(P.endedAtTime)
             and r.props.get(P.startedAtTime)]
    return int(statistics.median(spans)) if spans else DEFAULT_RUN_MS


def _run_end_ms(rt: Session, execution: NodeRecord, equipment: str) -> int:
    start = text_to_ms(str(execution.props[P.startedAtTime]))
    if execution.props.get(P.endedAtTime):
        return text_to_ms(str(execution.props[P.endedAtTime]))
    ops = [e.dst for e in rt.store.links([execution.iri], [R.EXECUTES_OPERATION])]
    return start + _typical_run_ms(rt, equipment, ops)


def _latest_ms(raw: RawStore | None, state: dict[tuple[str, str], dict[str, Any]]
               ) -> int | None:
    """The equipment's own newest sample its drift monitors saw, else the raw store's newest
    (another stream — a room's — may run on long after the equipment's last sample)."""
    own = [DriftMonitor.resume(s["monitor"]).last_ms for s in state.values()]
    if any(t >= 0 for t in own):
        return max(own)
    return raw.latest_ms() if raw is not None else None


def _open_raw(root: Path) -> RawStore | None:
    return RawStore(root) if root.is_dir() else None


def equipment_health(rt: Session, raw_root: Path, ref: str, now_ms: int | None = None
                     ) -> EquipmentHealth:
    """The health of the equipment ``ref`` (IRI or tag) at ``now_ms`` (default: its newest
    sample the drift monitors saw, else the newest raw sample, else the session clock)."""
    eq = resolve(rt, C.Equipment, ref)
    raw = _open_raw(raw_root)
    try:
        state = {k: v for k, v in read_state(raw_root).items() if k[0] == eq.key}
        latest = _latest_ms(raw, state)
        end = now_ms if now_ms is not None else latest if latest is not None \
            else round(rt.clock().timestamp() * 1000)
        tags = sorted({t for e, t in (raw.streams() if raw is not None else []) if e == eq.key}
                      | {t for _, t in state})
        params = []
        for tag in tags:
            s = state.get((eq.key, tag))
            m = DriftMonitor.resume(s["monitor"]) if s is not None else None
            n, f, last, last_ms = _forecast(raw, rt, eq, tag, end, m.open_ms if m else None)
            params.append(ParameterHealth(
                tag, n, last, _text(last_ms), m.w if m else None,
                m.ewma_limit if m else None, m.cp if m else None, m.cm if m else None,
                _text(m.open_ms) if m and m.open_ms is not None else None,
                f.limit if f else None, _text(f.breach) if f else None,
                _text(f.earliest) if f else None, _text(f.latest) if f else None))
    finally:
        if raw is not None:
            raw.close()
    now = ms_to_text(end)
    due = due_dates(rt.store, eq, now)
    warnings = drift_warnings(rt.store, eq.iri)
    h = EquipmentHealth(eq.key, str(eq.props.get(P.name, eq.key)), "ok",
                        _opt(eq.props.get(P.equipmentStatus)),
                        _opt(eq.props.get(P.calibrationStatus)), due["calibration"],
                        due["maintenance"], params, warnings,
                        work_orders(rt.store, eq.iri, open_only=True))
    h.at_risk = _at_risk(rt, eq, params, end)
    if any(d.overdue for d in due.values()):
        h.state = "overdue"
    elif any(p.breach_at for p in params) and warnings:
        h.state = "breachForecast"
    elif warnings or any(p.drifting_since for p in params):
        h.state = "drifting"
    return h


def _opt(v: object) -> str | None:
    return None if v is None else str(v)


def _at_risk(rt: Session, eq: NodeRecord, params: list[ParameterHealth], now_ms: int
             ) -> list[AtRisk]:
    breach = min((p.breach_at for p in params if p.breach_at), default=None)
    runs = rt.store.get_many(e.src for e in rt.store.links([eq.iri], [R.ON_EQUIPMENT],
                                                          Direction.DOWNSTREAM))
    warned = {e.dst: e.src for e in rt.store.links(
        list(linked_from(rt.store, list(runs), R.WARNS_ABOUT, C.Alarm)), [R.WARNS_ABOUT])}
    out: list[AtRisk] = []
    for iri, run in sorted(runs.items(), key=lambda kv: str(kv[1].props.get(P.startedAtTime))):
        if not run.props.get(P.startedAtTime):
            continue
        end = _run_end_ms(rt, run, eq.iri)
        running = not run.props.get(P.endedAtTime) and end >= now_ms
        alarm = warned.get(iri)
        hit = breach is not None and running and text_to_ms(breach) <= end
        if hit or alarm:
            batch = [e.dst for e in rt.store.links([iri], [R.FOR_BATCH])]
            b = rt.store.get(batch[0]) if batch else None
            a = rt.store.get(alarm) if alarm else None
            out.append(AtRisk(run.key, b.key if b else None, str(run.props[P.startedAtTime]),
                              ms_to_text(end), _opt(a.props.get(P.forecastBreachAt)) if a
                              else breach, a.key if a else None))
    return out


@dataclass(frozen=True)
class StartWarning:
    execution: str
    equipment: str
    message: str
    alarm: str


def warn_at_start(rt: Session, raw_root: Path, executions: Iterable[str], actor: str
                  ) -> list[StartWarning]:
    """The warnings (and their alarms, written once) for executions just started on
    equipment forecast to breach within their run; see the module."""
    out: list[StartWarning] = []
    ids = sorted(set(executions))
    if not ids or not raw_root.is_dir():  # no signals here: nothing can be forecast
        return out
    health: dict[str, EquipmentHealth] = {}
    for x in rt.store.get_many(ids).values():
        if x.label != C.OperationExecution or not x.props.get(P.startedAtTime):
            continue
        for eq_iri in [e.dst for e in rt.store.links([x.iri], [R.ON_EQUIPMENT])]:
            warnings = drift_warnings(rt.store, eq_iri)
            if not warnings:
                continue
            start = text_to_ms(str(x.props[P.startedAtTime]))
            h = health.get(eq_iri) or health.setdefault(eq_iri,
                                                        equipment_health(rt, raw_root, eq_iri))
            end = _run_end_ms(rt, x, eq_iri)
            hits = sorted((p.breach_at, p.parameter) for p in h.parameters
                          if p.breach_at and text_to_ms(p.breach_at) <= end)
            if hits:
                out.append(_write_warning(rt, x, h.equipment, warnings[0], hits[0][1],
                                          hits[0][0], start, end, actor))
    return out


def _write_warning(rt: Session, x: NodeRecord, equipment: str, drift: NodeRecord, tag: str,
                   breach: str, start: int, end: int, actor: str) -> StartWarning:
    number = "RSK-" + hashlib.sha256(x.iri.encode()).hexdigest()[:12]
    iri = rt.vocab.mint_iri(C.Alarm, number)
    msg = (f"{x.key} started on {equipment} at {ms_to_text(start)}: {tag} is forecast to "
           f"leave its limits at {breach}, before the run's expected end {ms_to_text(end)} "
           f"(drift warning {drift.key}); a warning, not a refusal")
    event_id = f"health:start:{x.iri}"
    if not rt.store.events([event_id]):
        write_nodes(rt, [NodeUpsert(C.Alarm, number, iri, {
            P.recordNumber: number, P.alarmPriority: AlarmPriority.MEDIUM,
            P.alarmState: AlarmState.ACTIVE, P.openedAt: ms_to_text(start),
            P.forecastBreachAt: breach}, {P.raisedBy: [drift.iri], P.warnsAbout: [x.iri]})],
            actor, f"automatic: {msg}", event_id, command=Command.WARN_AT_START)
    return StartWarning(x.key, equipment, msg, number)
