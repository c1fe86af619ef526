"""The exception loop end to end on both engines (no broker here: the adapters' own tests
feed the same pipeline): excursion → one transaction with excursion, alarm, graded deviation
and a hold on exactly the affected material → one QC notification; noise raises nothing; an SPC
trend warns first; re-delivery writes nothing twice; held material cannot be used."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.signal_plant import HELD, SPEC, TAGS, TOPIC, plant, signal
from graph.errors import WriteRejectedError
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


def _obs(p: SignalPipeline, kind: str) -> list[Observation]:
    out = [p.observation(TOPIC, v, t, sequence=i) for i, (t, v) in enumerate(signal(kind))]
    return [o for o in out if o is not None]


def _count(rt: Runtime, label: str) -> int:
    return rt.store.counts().get(label, 0)


def _held_keys(rt: Runtime, hold_iri: str) -> set[str]:
    targets = [e.dst for e in rt.store.links([hold_iri], ["HOLDS"])]
    return {n.key for n in rt.store.get_many(targets).values()}


@pytest.mark.req("URS-EXC-01")
def test_excursion_makes_one_deviation_and_holds_exactly_the_affected_material(
        runtime: Runtime, tmp_path: Path) -> None:
    sink: list[Notification] = []
    p = _pipeline(runtime, tmp_path, sink)
    samples = _obs(p, "excursion")
    for i in range(0, len(samples), 50):  # a running stream, in consumer-sized batches
        p.process(samples[i:i + 50])
    assert _count(runtime, "Deviation") == 1
    assert _count(runtime, "Hold") == 1
    assert _count(runtime, "Excursion") == 1 and _count(runtime, "Alarm") == 1
    [n] = sink
    assert n.kind == "deviation" and n.batch == "B-MOULD-7" and n.grade == "critical"
    assert n.level == "outOfSpec" and n.peak >= 256.0
    assert n.hold is not None and _held_keys(runtime, n.hold) == HELD
    dev = runtime.store.get(n.deviation or "")
    assert dev is not None and dev.props["deviationState"] == "Open"
    exc = runtime.store.get(n.excursion)
    assert exc is not None and exc.props["limitValue"] == 250.0
    # the signal came back: excursion cleared (after hysteresis), alarm cleared, hold stays
    assert exc.props["clearedAt"] > exc.props["detectedAt"]
    alarm = runtime.store.get(n.alarm)
    assert alarm is not None and alarm.props["alarmState"] == "Cleared"
    hold = runtime.store.get(n.hold)
    assert hold is not None and hold.props["holdState"] == "Active"
    # held batches and lots show it in their status; others are untouched
    status = {x.key: x.props.get("batchStatus", x.props.get("materialLotStatus"))
              for x in runtime.store.get_many(
                  runtime.vocab.mint_iri(c, k) for c, k in (
                      ("Batch", "B-MOULD-7"), ("Batch", "B-ASSY-3"), ("MaterialLot", "RL-PP"),
                      ("Batch", "B-OTHER"), ("MaterialLot", "RL-X"))).values()}
    assert status == {"B-MOULD-7": "OnHold", "B-ASSY-3": "OnHold", "RL-PP": "OnHold",
                      "B-OTHER": "InProcess", "RL-X": "Approved"}
    # linked to spec, execution (→ equipment) and batch
    links = {(e.type, e.dst) for e in runtime.store.links([n.excursion])
             if e.type != "PRIOR_VERSION"}  # clearing it kept the prior version
    mint = runtime.vocab.mint_iri
    assert links == {("VIOLATES_SPEC", mint("ParameterSpec", SPEC)),
                     ("DURING_EXECUTION", mint("OperationExecution", "B-MOULD-7/OP10"))}
    # the same samples again (QoS 1 re-delivery): nothing new at all
    watermark = runtime.store.watermark()
    p.process(samples[280:330])
    assert runtime.store.watermark() == watermark and len(sink) == 1
    # the raw window around the excursion is kept outside the graph
    window = p.raw.window("IMM-01", "MELT-TEMP", samples[295].source_ms, samples[325].source_ms)
    assert len(window) == 31 and max(s.value for s in window) >= 256.0


@pytest.mark.req("URS-EXC-01")
def test_a_fresh_pipeline_replaying_the_stream_writes_nothing_twice(
        runtime: Runtime, tmp_path: Path) -> None:
    sink: list[Notification] = []
    p = _pipeline(runtime, tmp_path, sink)
    samples = _obs(p, "excursion")
    p.process(samples[:310])
    # restart: new pipeline on the same raw store, warm-up, then the rest re-delivered
    p2 = SignalPipeline(runtime, p.tags, p.raw, publishers=[sink.append])
    p2.warm_up()
    p2.process(samples[250:])
    assert _count(runtime, "Deviation") == 1 and len(sink) == 1
    assert p.raw.count() == len(samples)


def test_noisy_in_spec_signal_raises_nothing(runtime: Runtime, tmp_path: Path) -> None:
    sink: list[Notification] = []
    p = _pipeline(runtime, tmp_path, sink)
    p.process(_obs(p, "noisy"))
    assert sink == []
    for label in ("Excursion", "Alarm", "Deviation", "Hold"):
        assert _count(runtime, label) == 0, label


def test_spc_trend_warns_before_any_limit(runtime: Runtime, tmp_path: Path) -> None:
    sink: list[Notification] = []
    p = _pipeline(runtime, tmp_path, sink)
    samples = _obs(p, "drift")
    assert max(o.value for o in samples) < 240  # never beyond even the alert limit
    p.process(samples)
    assert [n.kind for n in sink] == ["spcWarning"]  # one warning for the whole shift
    assert sink[0].rules  # on subgroups of 5: the shift (Nelson 5/6), not raw-sample trends
    assert _count(runtime, "Deviation") == 0 and _count(runtime, "Hold") == 0
    exc = runtime.store.get(sink[0].excursion)
    assert exc is not None and exc.props["excursionLevel"] == "spcRule"


def test_an_spc_episode_is_one_alarm_cleared_when_back_in_control(
        runtime: Runtime, tmp_path: Path) -> None:
    sink: list[Notification] = []
    p = _pipeline(runtime, tmp_path, sink)
    shifted = signal("drift", n=600)  # shifted by +3.2 from sample 307 on, inside the alerts
    t_end = shifted[-1][0]
    back = [(t_end + (k + 1) * 1000, v) for k, (_, v) in enumerate(signal("drift", n=300))]
    values = shifted + back  # back at the setpoint for 300 samples (60 subgroups)
    obs = [p.observation(TOPIC, v, t, sequence=i) for i, (t, v) in enumerate(values)]
    for i in range(0, len(obs), 50):
        p.process([o for o in obs[i:i + 50] if o is not None])
    assert [n.kind for n in sink] == ["spcWarning"]  # one alarm for the whole episode
    assert _count(runtime, "Alarm") == 1 and _count(runtime, "Excursion") == 1
    alarm = runtime.store.get(sink[0].alarm)
    exc = runtime.store.get(sink[0].excursion)
    assert alarm is not None and alarm.props["alarmState"] == "Cleared"
    assert exc is not None and exc.props["clearedAt"] > exc.props["detectedAt"]
    assert _count(runtime, "Deviation") == 0 and _count(runtime, "Hold") == 0


def test_held_material_cannot_be_consumed_or_shipped(runtime: Runtime, tmp_path: Path) -> None:
    p = _pipeline(runtime, tmp_path, [])
    p.process(_obs(p, "excursion"))
    for i, (output, held) in enumerate((("Batch/B-OTHER", "MaterialLot/RL-PP"),
                                        ("Batch/B-OTHER", "Sublot/B-MOULD-7-S1"))):
        with pytest.raises(WriteRejectedError) as e:
            runtime.capture({"format": "tracegraph.capture/1", "events": [
                {"eventId": f"use-held-{i}", "derivations": [
                    {"kind": "consumption", "output": output, "input": held, "quantity": 1,
                     "unit": "kg", "time": "2026-03-02T10:00:00Z"}]}]})
        [problem] = [x for x in e.value.problems if x.rule == "held-material"]
        assert problem.field == "wasDerivedFrom"
        assert "under active hold" in problem.message and held.split("/")[1] in problem.message
    with pytest.raises(WriteRejectedError) as e:
        runtime.capture({"format": "tracegraph.capture/1", "events": [
            {"eventId": "ship-held", "nodes": [
                {"class": "Shipment", "key": "SHIP-9",
                 "properties": {"shippedAt": "2026-03-03T10:00:00Z"}}],
             "derivations": [{"kind": "shipment", "output": "Shipment/SHIP-9",
                              "input": "Batch/B-ASSY-3"}]}]})
    assert "cannot be shipped" in e.value.problems[0].message
    # units made from the held batch after the hold may be made, but not shipped
    runtime.capture({"format": "tracegraph.capture/1", "events": [
        {"eventId": "unit-of-held", "nodes": [
            {"class": "SerializedUnit", "key": "SN-77", "properties": {},
             "links": {"ofProduct": "Product/CONN-LL"}}],
         "derivations": [{"kind": "production", "output": "SerializedUnit/SN-77",
                          "input": "Batch/B-MOULD-7", "time": "2026-03-02T11:00:00Z"}]}]})
    with pytest.raises(WriteRejectedError) as e:
        runtime.capture({"format": "tracegraph.capture/1", "events": [
            {"eventId": "ship-unit-of-held", "nodes": [
                {"class": "Shipment", "key": "SHIP-8",
                 "properties": {"shippedAt": "2026-03-03T10:00:00Z"}}],
             "derivations": [{"kind": "shipment", "output": "Shipment/SHIP-8",
                              "input": "SerializedUnit/SN-77",
                              "time": "2026-03-03T10:00:00Z"}]}]})
    blocked = {p.value.rsplit("/", 1)[-1] for p in e.value.problems
               if p.rule == "held-material"}  # (statuses OnHold too: quality.shipping_rules)
    assert blocked == {"B-MOULD-7", "RL-PP"}  # the held ancestors (RL-DYE is not held)
    assert all("upstream of" in p.message for p in e.value.problems
               if p.rule == "held-material")
    # a late record of history (event time before the hold was opened) is still accepted
    runtime.capture({"format": "tracegraph.capture/1", "events": [
        {"eventId": "backfill", "derivations": [
            {"kind": "consumption", "output": "Batch/B-OTHER", "input": "MaterialLot/RL-PP",
             "quantity": 1, "unit": "kg", "time": "2026-03-02T08:06:00Z"}]}]})
    # material not under the hold still moves
    runtime.capture({"format": "tracegraph.capture/1", "events": [
        {"eventId": "use-free", "derivations": [
            {"kind": "consumption", "output": "Batch/B-OTHER", "input": "MaterialLot/RL-X",
             "quantity": 1, "unit": "kg", "time": "2026-03-02T10:00:00Z"}]}]})


def test_aggregates_per_operation_land_in_the_graph(runtime: Runtime, tmp_path: Path) -> None:
    p = _pipeline(runtime, tmp_path, [])
    samples = _obs(p, "noisy")
    p.process(samples)
    p.flush()
    agg = runtime.store.get(runtime.vocab.mint_iri("ParameterObservation",
                                                   "B-MOULD-7/OP10/MELT-TEMP"))
    assert agg is not None and agg.props["sampleCount"] == len(samples)
    assert agg.props["maxValue"] == max(o.value for o in samples)


@pytest.mark.req("URS-CHK-01")
def test_tag_map_is_validated_at_start(runtime: Runtime, tmp_path: Path) -> None:
    migrate(runtime, plant())
    with pytest.raises(WriteRejectedError) as e:
        SignalPipeline(runtime, TagMap.model_validate({"tags": [
            {"address": "a/b", "equipment": "NOPE-1", "parameter": "X", "unit": "Cel"}]}),
            RawStore(tmp_path / "raw"))
    assert e.value.problems[0].field == "tags.0.equipment"
    with pytest.raises(ValueError, match="mapped twice"):
        TagMap.model_validate({"tags": [TAGS["tags"][0], TAGS["tags"][0]]})


def test_readme_tag_map_example_is_valid() -> None:
    import re

    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    block = next(b for b in re.findall(r"```json\n(.*?)```", readme, re.S) if '"tags"' in b)
    tags = TagMap.model_validate_json(block)
    assert tags.tags[0].equipment == "IMM-01" and tags.tags[0].unit == "Cel"


@pytest.mark.req("URS-CHK-01")
def test_opcua_sequence_gaps_are_recorded_as_data_integrity_events(
        runtime: Runtime, tmp_path: Path) -> None:
    from ingest.signals.opcua import OpcUaConsumer

    p = _pipeline(runtime, tmp_path, [])
    c = OpcUaConsumer(p, "opc.tcp://press:4840")
    for seq in (1, 2, 3, 7, 8):
        c._track(seq)
    assert c.gaps == [(4, 7)]
    [(_at, source, first, last)] = p.raw.gaps()
    assert (source, first, last) == ("opc.tcp://press:4840", 4, 6)
