"""SPC in the signal pipeline (issue 17, item 3 leftovers): a late sample does not raise a
second warning for a rule episode already alarmed; a spec whose subgroups are per execution
gets its run rules evaluated by the pipeline when an execution completes."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.signal_plant import OP, SPEC, T0_MS, TAGS, TOPIC, plant, signal
from ingest.signals.model import Observation, TagMap
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from quality.notify import Notification
from tests.conftest import migrate
from tracegraph.runtime import Runtime


def _pipeline(rt: Runtime, tmp_path: Path, sink: list[Notification]) -> SignalPipeline:
    migrate(rt, plant())
    return SignalPipeline(rt, TagMap.model_validate(TAGS), RawStore(tmp_path / "raw"),
                          publishers=[sink.append])


def _spc_alarms(rt: Runtime) -> int:
    return sum(1 for n in rt.store.nodes_of_class("Excursion")
               if n.props.get("excursionLevel") == "spcRule")


def test_a_late_sample_does_not_raise_a_second_spc_warning(runtime: Runtime,
                                                           tmp_path: Path) -> None:
    sink: list[Notification] = []
    p = _pipeline(runtime, tmp_path, sink)
    obs = [o for i, (t, v) in enumerate(signal("drift"))
           if (o := p.observation(TOPIC, v, t, sequence=i)) is not None]
    late: Observation = obs.pop(150)  # held back in the network, before the shift at 300
    for i in range(0, len(obs), 50):
        p.process(obs[i:i + 50])
    assert [n.kind for n in sink] == ["spcWarning"] and _spc_alarms(runtime) == 1
    p.process([late])  # arrives after the episode was alarmed: re-evaluated, stored
    assert p.raw.count() == len(obs) + 1
    assert [n.kind for n in sink] == ["spcWarning"]  # the same episode: no second warning
    assert _spc_alarms(runtime) == 1
    assert runtime.store.counts().get("Alarm") == 1


def _per_execution_plant(last_high: bool) -> dict[str, Any]:
    """The moulding plant with MELT-TEMP charted per execution: 20 earlier executions in
    control (means alternating 229.9 / 230.1, sd 1.5, n 400), then one high (230.4) when
    ``last_high``, and the running execution B-MOULD-7/OP10 completed at 08:40."""
    doc = copy.deepcopy(plant())
    for ev in doc["events"]:
        for n in ev.get("nodes", []):
            if n["class"] == "ParameterSpec":
                n["properties"]["subgroupRule"] = "perExecution"
            if n["key"] == "B-MOULD-7/OP10":
                n["properties"]["endedAtTime"] = "2026-03-02T08:40:00Z"
    means = [229.9 if i % 2 else 230.1 for i in range(20)] + ([230.4] if last_high else [])
    nodes: list[dict[str, Any]] = []
    for i, mean in enumerate(means):
        day = f"2026-02-{i + 1:02d}"
        ex = f"B-MOULD-6/OP10-H{i:02d}"
        nodes += [
            {"class": "OperationExecution", "key": ex,
             "properties": {"startedAtTime": f"{day}T08:00:00Z",
                            "endedAtTime": f"{day}T16:00:00Z", "executionStatus": "Completed"},
             "links": {"executesOperation": f"Operation/{OP}", "forBatch": "Batch/B-MOULD-6",
                       "onEquipment": "Equipment/IMM-01"}},
            {"class": "ParameterObservation", "key": f"{ex}/MELT-TEMP",
             "properties": {"minValue": mean - 5, "maxValue": mean + 5, "meanValue": mean,
                            "stdDev": 1.5, "sampleCount": 400, "unitCode": "Cel",
                            "windowStart": f"{day}T08:00:00Z",
                            "windowEnd": f"{day}T16:00:00Z"},
             "links": {"observes": f"ParameterSpec/{SPEC}",
                       "duringExecution": f"OperationExecution/{ex}"}}]
    doc["events"].append({"eventId": "sp-per-execution-history", "nodes": nodes})
    return doc


@pytest.mark.parametrize("last_high", [True, False])
def test_per_execution_run_rules_are_evaluated_when_an_execution_completes(
        runtime: Runtime, tmp_path: Path, last_high: bool) -> None:
    migrate(runtime, _per_execution_plant(last_high))
    sink: list[Notification] = []
    p = SignalPipeline(runtime, TagMap.model_validate(TAGS), RawStore(tmp_path / "raw"),
                       publishers=[sink.append])
    rng = np.random.default_rng(4)
    values = rng.normal(230.4, 1.5, 400)  # this execution runs high as well
    p.process([o for i, v in enumerate(values) if (o := p.observation(
        TOPIC, float(v), T0_MS + 30 * 60_000 + i * 1000, sequence=i)) is not None])
    assert sink == []  # no within-run SPC for a per-execution spec
    p.flush()  # the execution has ended: its aggregate, then its subgroup on the chart
    # an independent look at the chart: the history's limits (grand mean, pooled sd / c4)
    hist = [229.9 if i % 2 else 230.1 for i in range(20)] + ([230.4] if last_high else [])
    center = float(np.mean(hist))
    dof = 399 * len(hist)
    c4 = math.sqrt(2 / dof) * math.exp(math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2))
    z = [(m - center) / (1.5 / c4 / math.sqrt(400)) for m in [*hist, float(values.mean())]]
    beyond2 = [x > 2 for x in z[-3:]]
    assert (sum(beyond2) >= 2 and beyond2[-1]) == last_high  # Nelson 5 at the newest
    if last_high:
        [n] = sink
        assert n.kind == "spcWarning" and "nelson5" in n.rules
        exc = runtime.store.get(n.excursion)
        assert exc is not None and exc.props["excursionLevel"] == "spcRule"
        assert exc.props["detectedAt"].startswith("2026-03-02T08:40:00")
    else:
        assert sink == []
    p.flush()  # evaluated again: nothing new
    assert _spc_alarms(runtime) == (1 if last_high else 0)
