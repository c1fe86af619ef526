"""The explorer's GraphQL fields on both engines: status overlays, the deviation view with its
signal window and limits, and the SPC chart, against a hand-made excursion on the plantlet."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from bench import signal_plant
from tests import plantlet
from tests.conftest import bearer, make_user, migrate
from tests.integration.test_signals_api import run_excursion
from tracegraph.runtime import Runtime

SPEC = "CATH-ASSY/v1/OP20/UV-DOSE"
MEANS = [2400.0, 2410.0, 2395.0, 2405.0, 2150.0, 2402.0]  # the fifth run is the excursion
HOURS = [0, 12, 24, 36, 48, 130]  # run start, hours after T0; the last is outside ±72 h
SDS = [15.0, 14.0, 16.0, 15.0, 90.0, 15.0]  # within-run standard deviations (n = 180 each)


def excursion_doc() -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {"class": "Operation", "key": "CATH-ASSY/v1/OP20", "properties": {"name": "UV bonding",
                                                                         "sequence": 20}},
        {"class": "ParameterSpec", "key": SPEC, "properties": {
            "name": "UV dose", "unitCode": "mJ/cm2", "setpoint": 2400.0, "lsl": 1800.0,
            "usl": 3200.0, "isCPP": True, "observedProperty": "UV dose"},
         "links": {"specOf": "Operation/CATH-ASSY/v1/OP20"}}]
    for i, (mean, h) in enumerate(zip(MEANS, HOURS, strict=True)):
        start, end = f"2026-03-{2 + h // 24:02d}T{h % 24:02d}:00:00Z", \
            f"2026-03-{2 + h // 24:02d}T{h % 24:02d}:30:00Z"
        nodes += [
            {"class": "OperationExecution", "key": f"X{i}/OP20",
             "properties": {"startedAtTime": start, "endedAtTime": end,
                            "executionStatus": "Completed"},
             "links": {"executesOperation": "Operation/CATH-ASSY/v1/OP20",
                       "forBatch": "Batch/B-ASSY"}},
            {"class": "ParameterObservation", "key": f"X{i}/OP20/UV-DOSE", "properties": {
                "meanValue": mean, "minValue": mean - 50 if i != 4 else 1700.0,
                "maxValue": mean + 50, "sampleCount": 180, "stdDev": SDS[i], "unitCode": "mJ/cm2",
                "windowStart": start, "windowEnd": end, "resultTime": end},
             "links": {"observes": f"ParameterSpec/{SPEC}",
                       "duringExecution": f"OperationExecution/X{i}/OP20"}}]
    nodes += [
        {"class": "Excursion", "key": "EXC-1", "properties": {
            "excursionLevel": "outOfSpec", "peakValue": 1700.0, "limitValue": 1800.0,
            "detectedAt": "2026-03-04T00:10:00Z", "description": "UV dose below LSL"},
         "links": {"violatesSpec": f"ParameterSpec/{SPEC}",
                   "duringExecution": "OperationExecution/X4/OP20"}},
        {"class": "Alarm", "key": "ALM-1", "properties": {"alarmPriority": "high",
                                                          "alarmState": "Cleared",
                                                          "openedAt": "2026-03-04T00:10:00Z"},
         "links": {"raisedBy": "Excursion/EXC-1"}},
        {"class": "Deviation", "key": "DEV-1", "properties": {
            "title": "UV dose below LSL", "deviationGrade": "major",
            "deviationState": "Investigation", "openedAt": "2026-03-04T00:40:00Z"},
         "links": {"raisedBy": "Alarm/ALM-1", "concerns": "Batch/B-ASSY"}},
        {"class": "Hold", "key": "HLD-1", "properties": {"holdState": "Active",
                                                         "openedAt": "2026-03-04T00:45:00Z"},
         "links": {"holds": "Batch/B-ASSY", "raisedBy": "Deviation/DEV-1"}}]
    return {"format": "tracegraph.capture/1",
            "events": [{"eventId": "excursion", "reason": "test excursion", "nodes": nodes}]}


@pytest.fixture
def client(runtime: Runtime) -> Iterator[tuple[TestClient, dict[str, str]]]:
    plantlet.load(runtime)
    migrate(runtime, excursion_doc())  # alarm, deviation, hold: command-only records
    user = make_user(runtime, "user.qa", ["qa"])
    with TestClient(create_app(runtime.settings, runtime)) as c:
        yield c, bearer(c, user)


def gql(c: tuple[TestClient, dict[str, str]], query: str) -> dict[str, Any]:
    body = c[0].post("/graphql", json={"query": query}, headers=c[1]).json()
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]  # JSON body of a GraphQL answer


def test_status_overlay_marks_held_records_with_open_deviations(
        client: tuple[TestClient, dict[str, str]]) -> None:
    d = gql(client, '{ a: node(id: "B-ASSY") { iri } m: node(id: "B-MOULD") { iri } }')
    iris = f'"{d["a"]["iri"]}", "{d["m"]["iri"]}", "urn:nothing"'
    rows = gql(client, "{ recordStatus(records: [" + iris + "]) { iri status onHold "
                       "openDeviations released } }")
    by = {r["iri"]: r for r in rows["recordStatus"]}
    assert by[d["a"]["iri"]]["onHold"] and by[d["a"]["iri"]]["openDeviations"] == ["DEV-1"]
    assert not by[d["m"]["iri"]]["onHold"] and by[d["m"]["iri"]]["openDeviations"] == []
    assert len(by) == 2  # unknown records are left out


def test_status_overlay_marks_migrated_records(
        client: tuple[TestClient, dict[str, str]]) -> None:
    """Records a signed migration wrote (the plantlet's master data, the excursion's deviation)
    are marked; records captured as facts (B-MOULD) are not."""
    d = gql(client, '{ a: node(id: "B-MOULD") { iri } v: node(id: "CATH-ASSY/v1") { iri } '
                    'd: node(id: "DEV-1") { iri } }')
    iris = ", ".join(f'"{d[k]["iri"]}"' for k in ("a", "v", "d"))
    rows = gql(client, "{ recordStatus(records: [" + iris + "]) { iri migrated } }")
    by = {r["iri"]: r["migrated"] for r in rows["recordStatus"]}
    assert by == {d["a"]["iri"]: False, d["v"]["iri"]: True, d["d"]["iri"]: True}


def test_deviation_view_has_the_signal_window_limits_and_holds(
        client: tuple[TestClient, dict[str, str]]) -> None:
    v = gql(client, '{ deviationView(id: "DEV-1") { state grade excursion { key } '
                    'signal { source samples { value } limits { lsl usl setpoint } '
                    'points { mean execution } } '
                    'holds { key } held { key } concerns { key } } }')["deviationView"]
    assert (v["state"], v["grade"], v["excursion"]["key"]) == ("Investigation", "major", "EXC-1")
    # no raw samples stored for it: the aggregates are plotted
    assert v["signal"]["source"] == "aggregates" and v["signal"]["samples"] == []
    # ±72 h around the excursion: every run but the last
    assert [p["mean"] for p in v["signal"]["points"]] == MEANS[:-1]
    assert v["signal"]["limits"] == {"lsl": 1800.0, "usl": 3200.0, "setpoint": 2400.0}
    assert [h["key"] for h in v["holds"]] == ["HLD-1"]
    assert [h["key"] for h in v["held"]] == [h["key"] for h in v["concerns"]] == ["B-ASSY"]
    narrow = gql(client, '{ deviationView(id: "DEV-1", windowHours: 13) { signal { points '
                         '{ mean } } } }')["deviationView"]["signal"]["points"]
    assert [p["mean"] for p in narrow] == [MEANS[3], MEANS[4]]
    assert gql(client, '{ deviationView(id: "NOPE") { state } }')["deviationView"] is None


def test_deviation_view_of_a_signal_excursion_has_the_raw_samples(runtime: Runtime) -> None:
    migrate(runtime, signal_plant.plant())
    run_excursion(runtime)  # raw samples under the data directory, as the service keeps them
    make_user(runtime, "user.qa", ["qa"])
    [dev] = runtime.store.nodes_of_class("Deviation")
    with TestClient(create_app(runtime.settings, runtime)) as c:
        client = (c, bearer(c, "user.qa"))
        v = gql(client, f'{{ deviationView(id: "{dev.key}", rawSeconds: 60) {{ excursion '
                        '{ properties } signal { source windowStart windowEnd eventTime '
                        'limits { usl } points { mean } samples { time value } } } }')
    s = v["deviationView"]["signal"]
    at = datetime.fromisoformat(s["eventTime"])
    sent = [(datetime.fromtimestamp(t / 1000, tz=UTC), x)
            for t, x in signal_plant.signal("excursion")]
    inside = [x for t, x in sent if abs(t - at) <= timedelta(seconds=60)]
    assert s["source"] == "raw" and s["points"] == [] and s["limits"] == {"usl": 250.0}
    assert [p["value"] for p in s["samples"]] == inside and len(inside) == 121
    assert max(inside) > 250.0


def test_spc_chart_of_the_spec_flags_the_excursion(
        client: tuple[TestClient, dict[str, str]]) -> None:
    """No raw samples stored: one subgroup per execution from its aggregates (an X-bar chart
    with n = 180); six executions are too few for capability."""
    c = gql(client, f'{{ spcChart(spec: "{SPEC}") {{ subgroupRule subgroupSize basis basisNote '
                    'subgroups { key execution n mean sd min max ucl lcl } center ucl lcl sigma '
                    'dispersion cpk ppk capability { assessable reason subgroups values cpk ppk '
                    'cpkInterval { low } beyondSpec } violations { index rule } } }')["spcChart"]
    assert (c["subgroupRule"], c["subgroupSize"], c["basis"]) == ("consecutive", 5, "aggregates")
    assert "one subgroup per execution" in c["basisNote"]
    assert [(g["key"], g["n"], g["mean"], g["sd"]) for g in c["subgroups"]] == [
        (f"X{i}/OP20", 180, m, sd) for i, (m, sd) in enumerate(zip(MEANS, SDS, strict=True))]
    # reference: grand mean, pooled s over 6 x 179 degrees of freedom / c4 (large-n form)
    dof = 6 * 179
    sigma = statistics.fmean(sd * sd for sd in SDS) ** 0.5 / (4 * dof / (4 * (dof + 1) - 3))
    assert c["center"] == pytest.approx(statistics.fmean(MEANS))
    assert c["sigma"] == pytest.approx(sigma, rel=1e-6)
    half = 3 * sigma / 180 ** 0.5
    assert (c["lcl"], c["ucl"]) == pytest.approx((c["center"] - half, c["center"] + half))
    assert c["subgroups"][4]["ucl"] == pytest.approx(c["ucl"]) and c["dispersion"] == "S"
    # every execution mean is far outside its X-bar limits: the run-to-run spread is many
    # times what the within-run noise explains (what the old individuals-of-means chart hid)
    beyond = {i for i, m in enumerate(MEANS) if abs(m - c["center"]) > half}
    assert {v["index"] for v in c["violations"] if v["rule"] == "nelson1"} == beyond
    assert 4 in beyond
    cap = c["capability"]
    assert c["cpk"] is None and c["ppk"] is None and cap["cpkInterval"] is None
    assert (cap["assessable"], cap["subgroups"], cap["values"]) == (False, 6, 1080)
    assert cap["reason"] == ("6 subgroup(s) of 1080 value(s): capability needs at least 25 "
                             "subgroups and 100 values")
    assert cap["beyondSpec"] == 1  # X4's minimum 1700 is below the LSL
    by_obs = gql(client, '{ spcChart(spec: "X0/OP20/UV-DOSE", last: 3) { spec { key } '
                         'subgroups { mean } } }')["spcChart"]
    assert by_obs["spec"]["key"] == SPEC and [g["mean"] for g in by_obs["subgroups"]] == MEANS[-3:]
