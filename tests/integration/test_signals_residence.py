"""Signals in their true context (issue 17, item 4): a tag's residence delay moves its samples
to the material that was at the sensor. Extruder EXT-01 runs batch T-1 (10:00-11:00) and then
T-2 (11:00-12:00); the melt temperature reaches the tubing 5 minutes after it is measured. An
excursion measured at 10:57 is tubing of 11:02, so it holds T-2 (and its lot), not T-1; with no
delay the reverse. The per-execution aggregates (eDHR) and the SPC chart's raw subgroups take
the shifted windows. The expected answers are computed here from the fixture's own timetable
and signal, without the pipeline's contextualisation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.signals.model import TagMap, text_to_ms
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from quality.notify import Notification
from tests.conftest import migrate
from tracegraph.runtime import Runtime

PV = "TUBE/v1"
OP = f"{PV}/OP10"
SPEC = f"{OP}/MELT-TEMP"
TOPIC = "plant/EXT-01/MELT-TEMP"
#: the timetable: execution → (batch, start, end, lot consumed during it)
RUNS = {"T-1/OP10": ("T-1", "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z", "RL-A"),
        "T-2/OP10": ("T-2", "2026-03-02T11:00:00Z", "2026-03-02T12:00:00Z", "RL-B")}
DELAY_S = 300.0
START = text_to_ms("2026-03-02T10:30:00Z") + 500  # half-second stamps: none on a boundary
EXCURSION = (text_to_ms("2026-03-02T10:57:00Z"), text_to_ms("2026-03-02T10:57:30Z"))


def _plant() -> dict[str, Any]:
    def lot(key: str) -> dict[str, Any]:
        return {"class": "MaterialLot", "key": key,
                "properties": {"quantity": 500, "unitCode": "kg",
                               "materialLotStatus": "Approved"},
                "links": {"ofMaterial": "Material/PVC", "suppliedBy": "Supplier/SUP"}}

    runs: list[dict[str, Any]] = []
    uses: list[dict[str, Any]] = []
    for ex, (batch, start, end, used) in RUNS.items():
        runs += [{"class": "Batch", "key": batch,
                  "properties": {"batchStatus": "InProcess", "quantity": 1000,
                                 "unitCode": "m"},
                  "links": {"ofProduct": "Product/TUBE", "runsProcessVersion":
                            f"ProcessVersion/{PV}"}},
                 {"class": "OperationExecution", "key": ex,
                  "properties": {"startedAtTime": start, "endedAtTime": end,
                                 "executionStatus": "Completed"},
                  "links": {"executesOperation": f"Operation/{OP}", "forBatch": f"Batch/{batch}",
                            "onEquipment": "Equipment/EXT-01"}}]
        uses.append({"kind": "consumption", "output": f"Batch/{batch}",
                     "input": f"MaterialLot/{used}", "quantity": 20, "unit": "kg",
                     "time": start.replace(":00:00Z", ":02:00Z"),
                     "execution": f"OperationExecution/{ex}"})
    return {"format": "tracegraph.capture/1", "events": [
        {"eventId": "ext-master", "reason": "master data", "nodes": [
            {"class": "Supplier", "key": "SUP",
             "properties": {"name": "Polymer AG", "supplierStatus": "approved"}},
            {"class": "Material", "key": "PVC",
             "properties": {"name": "PVC compound", "materialType": "resin", "unitCode": "kg"}},
            {"class": "Product", "key": "TUBE", "properties": {"name": "Tubing"}},
            {"class": "EquipmentClass", "key": "EXT", "properties": {"name": "Extruder"}},
            {"class": "Equipment", "key": "EXT-01", "properties": {"name": "Extruder 1"},
             "links": {"ofEquipmentClass": "EquipmentClass/EXT"}},
            {"class": "ProcessDefinition", "key": "TUBE",
             "properties": {"name": "Tubing extrusion"}, "links": {"ofProduct": "Product/TUBE"}},
            {"class": "Operation", "key": OP, "properties": {"name": "Extrusion",
                                                               "sequence": 10}},
            {"class": "Routing", "key": PV, "properties": {"name": "Routing v1"},
             "links": {"hasOperation": f"Operation/{OP}"}},
            {"class": "ProcessVersion", "key": PV,
             "properties": {"versionStatus": "Effective", "revision": "1",
                            "effectiveFrom": "2026-01-01T00:00:00Z"},
             "links": {"versionOf": "ProcessDefinition/TUBE", "hasRouting": f"Routing/{PV}"}},
            {"class": "ParameterSpec", "key": SPEC,
             "properties": {"name": "Melt temperature", "unitCode": "Cel", "isCPP": True,
                            "lsl": 210.0, "actionLow": 215.0, "alertLow": 220.0,
                            "setpoint": 230.0, "alertHigh": 240.0, "actionHigh": 245.0,
                            "usl": 250.0},
             "links": {"specOf": f"Operation/{OP}"}}]},
        {"eventId": "ext-lots", "nodes": [lot("RL-A"), lot("RL-B")]},
        {"eventId": "ext-runs", "nodes": runs},
        {"eventId": "ext-uses", "derivations": uses}]}


def _signal() -> list[tuple[int, float]]:
    """One sample a second from 10:30:00.5 to 11:29:59.5, in spec with noise, beyond the USL
    from 10:57:00 to 10:57:30."""
    rng = np.random.default_rng(17)
    out = []
    for i in range(3600):
        t = START + i * 1000
        x = 256.0 if EXCURSION[0] <= t <= EXCURSION[1] else 230.0 + float(rng.normal(0, 1.0))
        out.append((t, round(x, 3)))
    return out


def _expected_run(t_ms: int, delay_s: float) -> str:
    """The execution whose window holds the material of a sample taken at ``t_ms``."""
    at = datetime.fromtimestamp((t_ms + delay_s * 1000) / 1000, tz=UTC)
    [ex] = [ex for ex, (_b, s, e, _l) in RUNS.items()
            if datetime.fromisoformat(s) <= at < datetime.fromisoformat(e)]
    return ex


def _run(rt: Runtime, tmp: Path, delay_s: float) -> tuple[list[Notification], SignalPipeline]:
    migrate(rt, _plant())
    binding: dict[str, Any] = {"address": TOPIC, "equipment": "EXT-01",
                               "parameter": "MELT-TEMP", "unit": "Cel"}
    if delay_s:
        binding["residenceDelay"] = delay_s
    sink: list[Notification] = []
    p = SignalPipeline(rt, TagMap.model_validate({"tags": [binding]}),
                       RawStore(tmp / "signals"), publishers=[sink.append])
    samples = [o for i, (t, v) in enumerate(_signal())
               if (o := p.observation(TOPIC, v, t, sequence=i)) is not None]
    for i in range(0, len(samples), 100):
        p.process(samples[i:i + 100])
    p.flush()
    return sink, p


def _held(rt: Runtime, hold: str) -> set[str]:
    return {n.key for n in rt.store.get_many(
        e.dst for e in rt.store.links([hold], ["HOLDS"])).values()}


@pytest.mark.parametrize("delay_s", [DELAY_S, 0.0])
def test_an_excursion_holds_the_material_that_was_at_the_sensor(
        runtime: Runtime, tmp_path: Path, delay_s: float) -> None:
    sink, _p = _run(runtime, tmp_path, delay_s)
    ex = _expected_run(EXCURSION[0], delay_s)
    batch, _s, _e, lot = RUNS[ex]
    assert ex == ("T-2/OP10" if delay_s else "T-1/OP10")  # the fixture is what it says
    [n] = [n for n in sink if n.kind == "deviation"]
    assert n.batch == batch
    assert n.hold is not None and _held(runtime, n.hold) == {batch, lot}
    exc = runtime.store.get(n.excursion)
    assert exc is not None
    [during] = [e.dst for e in runtime.store.links([n.excursion], ["DURING_EXECUTION"])]
    assert during == runtime.vocab.mint_iri("OperationExecution", ex)
    assert runtime.store.counts().get("Deviation") == 1 == runtime.store.counts().get("Hold")


@pytest.mark.parametrize("delay_s", [DELAY_S, 0.0])
def test_per_execution_aggregates_and_spc_subgroups_take_the_shifted_samples(
        runtime: Runtime, tmp_path: Path, delay_s: float) -> None:
    from api.graphql.spc import spc_answer
    from quality.capability import MinSample

    _run(runtime, tmp_path, delay_s)
    signal = _signal()
    for ex in RUNS:
        values = np.array([v for t, v in signal if _expected_run(t, delay_s) == ex])
        agg = runtime.store.get(runtime.vocab.mint_iri("ParameterObservation",
                                                       f"{ex}/MELT-TEMP"))
        assert agg is not None
        assert agg.props["sampleCount"] == values.size
        assert agg.props["meanValue"] == pytest.approx(values.mean(), abs=1e-9)
        assert agg.props["stdDev"] == pytest.approx(values.std(ddof=1), abs=1e-9)
        assert agg.props["maxValue"] == values.max()
        assert agg.props.get("residenceDelay", 0.0) == delay_s
    spec = runtime.store.get(runtime.vocab.mint_iri("ParameterSpec", SPEC))
    assert spec is not None
    answer = spc_answer(runtime, spec, 10, MinSample())
    assert answer.basis == "raw"
    per_run: dict[str | None, int] = {}
    for g, ex in zip(answer.groups, answer.executions, strict=True):
        per_run[ex] = per_run.get(ex, 0) + g.n
    for ex in RUNS:  # complete subgroups of 5 of each execution's own samples
        n = sum(1 for t, _v in signal if _expected_run(t, delay_s) == ex)
        assert per_run[ex] == n - n % 5


def test_the_edhr_shows_the_samples_of_the_material(runtime: Runtime, tmp_path: Path) -> None:
    from quality.edhr import batch_dhr

    _run(runtime, tmp_path, DELAY_S)
    [row] = batch_dhr(runtime, "T-2")["parameters"]
    assert row["residenceDelay"] == DELAY_S
    # 11:00 - 5 min: its first sample
    assert text_to_ms(row["samplesFrom"]) == text_to_ms("2026-03-02T10:55:00.500Z")
    assert row["withinSpec"] is False  # the excursion measured at 10:57 is T-2's


def test_a_stream_has_one_residence_delay() -> None:
    with pytest.raises(ValueError, match="residenceDelay"):
        TagMap.model_validate({"tags": [
            {"address": "a", "equipment": "E", "parameter": "P", "unit": "Cel",
             "residenceDelay": 60},
            {"address": "b", "equipment": "E", "parameter": "P", "unit": "Cel"}]})
    with pytest.raises(ValueError, match="residenceDelay"):
        TagMap.model_validate({"tags": [{"address": "a", "equipment": "E", "parameter": "P",
                                         "unit": "Cel", "residenceDelay": -1}]})
