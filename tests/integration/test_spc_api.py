"""The SPC answer over the raw store, on both engines: the CA26010801 case (every execution's
mean in spec, raw values below the LSL) shows Cpk below 1, equal to a numpy reference over the
raw values, with the spec's subgroup rule deciding the subgroups."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from bench.signal_plant import OP, SPEC, plant
from ingest.signals.model import Observation
from ingest.signals.rawstore import RawStore
from ontology.datatypes import ms_to_text
from tests.conftest import bearer, make_user, migrate
from tracegraph.runtime import Runtime

LSL, USL = 210.0, 250.0
RUNS, PER_RUN = 30, 200
T1 = 1772611200000  # 2026-03-04T08:00:00Z, after the plant's history run
QUERY = ('{ spcChart(spec: "%s", last: %d) { subgroupRule subgroupSize basis basisNote '
         'subgroups { key n mean } cpk ppk capability { assessable reason values subgroups '
         'sigmaWithin sigmaOverall cpkInterval { low high } beyondSpec } } }')


def _runs(rt: Runtime) -> list[np.ndarray]:
    """30 completed runs on IMM-01, 200 raw samples each (1 s apart): run means within
    +/- 3 of the setpoint 230, within-run sd 7, so single values reach below the LSL 210."""
    rng = np.random.default_rng(26010801)
    values = [rng.normal(230 + rng.normal(0, 1), 7, PER_RUN) for _ in range(RUNS)]
    nodes: list[dict[str, Any]] = []
    samples = []
    for i, xs in enumerate(values):
        start = T1 + i * 3_600_000
        end = start + (PER_RUN - 1) * 1000
        ex, batch = f"B-CA-{i}/OP10", f"B-CA-{i}"
        nodes += [
            {"class": "Batch", "key": batch, "properties": {"batchStatus": "InProcess",
                                                            "quantity": 100, "unitCode": "{pc}"},
             "links": {"ofProduct": "Product/CONN-LL",
                       "runsProcessVersion": "ProcessVersion/CONN-MOULD/v1"}},
            {"class": "OperationExecution", "key": ex, "properties": {
                "startedAtTime": ms_to_text(start), "endedAtTime": ms_to_text(end),
                "executionStatus": "Completed"},
             "links": {"executesOperation": f"Operation/{OP}", "forBatch": f"Batch/{batch}",
                       "onEquipment": "Equipment/IMM-01"}},
            {"class": "ParameterObservation", "key": f"{ex}/MELT-TEMP", "properties": {
                "meanValue": float(xs.mean()), "stdDev": float(xs.std(ddof=1)),
                "minValue": float(xs.min()), "maxValue": float(xs.max()),
                "sampleCount": PER_RUN, "unitCode": "Cel", "windowStart": ms_to_text(start),
                "windowEnd": ms_to_text(end)},
             "links": {"observes": f"ParameterSpec/{SPEC}",
                       "duringExecution": f"OperationExecution/{ex}"}}]
        samples += [Observation("IMM-01", "MELT-TEMP", float(x), "Cel", start + k * 1000,
                                start + k * 1000) for k, x in enumerate(xs)]
    migrate(rt, {"format": "tracegraph.capture/1", "events": [
        {"eventId": "ca-runs", "reason": "30 completed runs", "nodes": nodes}]})
    raw = RawStore(rt.settings.data_dir / "signals")
    raw.append(samples)
    raw.close()
    return values


def _c4(n: int) -> float:
    return 4 * (n - 1) / (4 * n - 3)  # large-n form, error < 1e-7 for n > 100


def _ask(rt: Runtime, query: str) -> dict[str, Any]:
    make_user(rt, "user.qa", ["qa"])
    with TestClient(create_app(rt.settings, rt)) as c:
        body = c.post("/graphql", json={"query": query}, headers=bearer(c, "user.qa")).json()
    assert not body.get("errors"), body
    return body["data"]["spcChart"]  # type: ignore[no-any-return]  # JSON body of a GraphQL answer


def test_cpk_from_the_raw_values_shows_the_ca26010801_case_below_one(runtime: Runtime) -> None:
    migrate(runtime, plant())
    runs = _runs(runtime)
    means = np.array([r.mean() for r in runs])
    assert means.min() > LSL + 15 and means.max() < USL - 15  # every mean well inside
    assert min(r.min() for r in runs) < LSL  # raw values are not
    old = min(USL - means.mean(), means.mean() - LSL) / (3 * np.abs(np.diff(means)).mean()
                                                         / 1.128)
    assert old > 3  # what the individuals chart of the means said

    c = _ask(runtime, QUERY % (SPEC, RUNS))
    assert (c["subgroupRule"], c["subgroupSize"], c["basis"]) == ("consecutive", 5, "raw")
    assert c["basisNote"] is None
    assert len(c["subgroups"]) == RUNS * PER_RUN // 5
    assert c["subgroups"][0]["key"] == "B-CA-0/OP10#1" and c["subgroups"][0]["n"] == 5
    groups = np.concatenate(runs).reshape(-1, 5)
    sigma_w = math.sqrt((groups.std(axis=1, ddof=1) ** 2).mean()) / _c4(len(groups) * 4 + 1)
    mean, sigma_o = groups.mean(), groups.std(ddof=1)
    cap = c["capability"]
    assert cap["assessable"] and cap["reason"] is None and cap["values"] == RUNS * PER_RUN
    assert cap["sigmaWithin"] == pytest.approx(sigma_w, rel=1e-6)
    assert cap["sigmaOverall"] == pytest.approx(sigma_o, rel=1e-9)
    assert c["cpk"] == pytest.approx(min(USL - mean, mean - LSL) / (3 * sigma_w), rel=1e-6)
    assert c["ppk"] == pytest.approx(min(USL - mean, mean - LSL) / (3 * sigma_o), rel=1e-9)
    assert c["cpk"] < 1 and cap["cpkInterval"]["high"] < 1
    assert cap["beyondSpec"] == int(((groups < LSL) | (groups > USL)).any(axis=1).sum())


def test_a_spec_with_subgroups_per_execution_gets_one_per_run(runtime: Runtime) -> None:
    doc = plant()
    [spec] = [n for ev in doc["events"] for n in ev.get("nodes", [])
              if n["class"] == "ParameterSpec"]
    spec["properties"]["subgroupRule"] = "perExecution"  # set before the version is Effective
    migrate(runtime, doc)
    runs = _runs(runtime)
    c = _ask(runtime, QUERY % (SPEC, RUNS))
    assert (c["subgroupRule"], c["subgroupSize"], c["basis"]) == ("perExecution", None, "raw")
    assert [g["key"] for g in c["subgroups"]] == [f"B-CA-{i}/OP10" for i in range(RUNS)]
    assert [g["n"] for g in c["subgroups"]] == [PER_RUN] * RUNS
    assert [g["mean"] for g in c["subgroups"]] == pytest.approx([r.mean() for r in runs],
                                                                rel=1e-12)
    pooled = math.sqrt(np.mean([r.var(ddof=1) for r in runs])) / _c4(RUNS * (PER_RUN - 1) + 1)
    assert c["capability"]["sigmaWithin"] == pytest.approx(pooled, rel=1e-6)
    assert c["cpk"] < 1
