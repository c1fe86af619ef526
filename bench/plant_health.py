"""The demo plant's drifting extruder (issue 17 item 2), told through the signal pipeline and
the workflow commands after the plant's history (``tracegraph demo``):

1. after the plant's last tubing extrusion, the next batch (``<batch>-D``) starts on the same
   extruder (a capture, as the MES sends it), and the extruder streams its melt temperature
   (1 Hz, numpy seed 17) through :class:`ingest.signals.pipeline.SignalPipeline` with the tag
   map's ``drift: 5``: in control for :data:`FLAT` s, then rising :data:`SLOPE` Cel/s toward the
   USL — the drift monitor raises one drift warning (the detector's SPC rules warn too), the
   health view forecasts the breach;
2. the plant's first engineer opens a predictive work order raised by that warning, with the
   forecast (:func:`quality.maintenance.open_work_order`);
3. the batch after (``<batch>-N``) starts on the extruder: it is written, with a warning that
   the forecast breach falls within its run (:func:`ingest.signals.health.
   warn_at_start`) — the batch the health view lists at risk.

``python -m bench.plant_health`` is not a thing: :func:`load_health` runs inside
:func:`bench.plant_workflow.load_workflow`; it adds about 2 s to the demo load.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.plant import _size
from bench.plant_people import staff
from graph.model import Direction, NodeRecord
from ingest.signals.health import equipment_health
from ingest.signals.model import TagMap, text_to_ms
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from ontology.codes import MaintenanceType, RoleName
from ontology.datatypes import ms_to_text
from ontology.terms import C, P, R
from quality.maintenance import drift_warnings, open_work_order
from tracegraph.runtime import Runtime

__all__ = ["FLAT", "PARAM", "RAMP", "SLOPE", "DriftStory", "load_health"]

PARAM = "MELT-TEMP"
FLAT, RAMP = 500, 900  # seconds in control, then drifting
SLOPE = 0.003  # Cel per second: 195 → USL 202 in about 39 min
NOISE = 0.3  # Cel


@dataclass(frozen=True)
class DriftStory:
    execution: NodeRecord
    equipment: NodeRecord
    batch: NodeRecord


def _story(rt: Runtime) -> DriftStory:
    """The last completed execution with a MELT-TEMP spec on equipment, long enough."""
    specs = [s.iri for s in rt.store.nodes_of_class(C.ParameterSpec)
             if s.key.endswith(f"/{PARAM}")]
    ops = [e.dst for e in rt.store.links(specs, [R.SPEC_OF])]
    runs = rt.store.get_many(e.src for e in rt.store.links(ops, [R.EXECUTES_OPERATION],
                                                          Direction.DOWNSTREAM))
    long_enough = [r for r in runs.values() if r.props.get(P.endedAtTime) and text_to_ms(
        str(r.props[P.endedAtTime])) - text_to_ms(str(r.props[P.startedAtTime]))
        >= (FLAT + RAMP) * 1000]
    run = max(long_enough, key=lambda r: str(r.props[P.startedAtTime]))
    eq = rt.store.get(next(e.dst for e in rt.store.links([run.iri], [R.ON_EQUIPMENT])))
    batch = rt.store.get(next(e.dst for e in rt.store.links([run.iri], [R.FOR_BATCH])))
    assert eq is not None and batch is not None
    return DriftStory(run, eq, batch)


def load_health(rt: Runtime, size: str = "demo", seed: int = 7) -> dict[str, int]:
    """Run the story (the work order by the plant's first engineer, in-process like the
    plant's other commands); returns counts (samples, warnings, work orders)."""
    s = _story(rt)
    eq = s.equipment.key
    tags = TagMap.model_validate({"tags": [{"address": f"plant/{eq}/{PARAM}", "equipment": eq,
                                            "parameter": PARAM, "unit": "Cel", "drift": 5}]})
    begin = text_to_ms(str(s.execution.props[P.endedAtTime])) + 30 * 60_000
    rt.capture(_next_batch(rt, s, "D", begin))
    p = SignalPipeline(rt, tags, RawStore(rt.settings.data_dir / "signals"), publishers=[])
    start = begin + 60_000
    rng = np.random.default_rng(17)
    n = FLAT + RAMP
    x = 195.0 + rng.normal(0, NOISE, n) + SLOPE * np.maximum(0, np.arange(n) - FLAT)
    obs = [p.observation(f"plant/{eq}/{PARAM}", float(v), start + i * 1000, sequence=i)
           for i, v in enumerate(x.tolist())]
    samples = [o for o in obs if o is not None]
    for i in range(0, len(samples), 200):
        p.process(samples[i:i + 200])
    p.raw.close()
    [warning] = drift_warnings(rt.store, s.equipment.iri)
    last = samples[-1].source_ms
    h = equipment_health(rt, rt.settings.data_dir / "signals", eq, last)
    breach = next(q.breach_at for q in h.parameters if q.parameter == PARAM)
    engineer = next(m.username for m in staff(_size(size), seed)
                    if m.role == RoleName.ENGINEER)
    at = _clock(rt, last + 5 * 60_000)
    open_work_order(at, engineer, eq, MaintenanceType.PREDICTIVE,
                    f"{PARAM} on {eq} drifting toward its USL (forecast breach {breach}): "
                    "inspect and replace the zone 3 heater band and thermocouple",
                    f"predictive maintenance from drift warning {warning.key}",
                    raised_by=warning.iri, forecast_breach=breach)
    r = rt.capture(_next_batch(rt, s, "N", last + 10 * 60_000))
    return {"samples": len(samples), "driftWarnings": 1, "workOrders": 1,
            "startWarnings": sum(w.component == "equipment-forecast-breach"
                                 for w in r.warnings)}


def _clock(rt: Runtime, ms: int) -> Runtime:
    from dataclasses import replace
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(ms / 1000, UTC)
    return replace(rt, clock=lambda: when)


def _next_batch(rt: Runtime, s: DriftStory, suffix: str, start_ms: int
                ) -> dict[str, object]:
    """A next batch of the same product and process version, its first operation started
    on the drifting extruder by the same operator (what the MES sends)."""
    key = f"{s.batch.key}-{suffix}"
    ex = s.execution.key.replace(s.batch.key, key, 1)
    b = s.batch.props
    return {"format": "tracegraph.capture/1", "source": "bench.plant_health", "events": [{
        "eventId": f"health/{ex}", "reason": "next batch started on the extruder",
        "nodes": [
            {"class": "Batch", "key": key, "properties": {
                "batchStatus": "InProcess", "quantity": b.get(P.quantity, 1),
                "unitCode": b.get(P.unitCode, "m")},
             "links": {"ofProduct": _ref(rt, s.batch, R.OF_PRODUCT),
                       "runsProcessVersion": _ref(rt, s.batch, R.RUNS_PROCESS_VERSION)}},
            {"class": "OperationExecution", "key": ex, "properties": {
                "startedAtTime": ms_to_text(start_ms), "executionStatus": "Started"},
             "links": {"executesOperation": _ref(rt, s.execution, R.EXECUTES_OPERATION),
                       "forBatch": f"Batch/{key}", "onEquipment": f"Equipment/{s.equipment.key}",
                       "wasAssociatedWith": _ref(rt, s.execution, R.WAS_ASSOCIATED_WITH)}}]}]}


def _ref(rt: Runtime, node: NodeRecord, rel: str) -> str:
    """``Class/key`` of the record ``node`` links to by ``rel``."""
    [target] = rt.store.get_many(e.dst for e in rt.store.links([node.iri], [rel])).values()
    return f"{target.label}/{target.key}"
