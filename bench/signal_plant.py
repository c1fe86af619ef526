"""A small moulding plant for the signal tests: press IMM-01 runs OP10 of batch B-MOULD-7
(pinned to CONN-MOULD/v1, whose MELT-TEMP spec is a CPP: LSL 210, action 215, alert 220,
setpoint 230, alert 240, action 245, USL 250 Cel), started at T0 and still running.

Material: RL-PP was consumed into B-MOULD-7 during OP10 (held by an excursion), RL-DYE the day
before (not held); sublot B-MOULD-7-S1 was already split off and consumed into B-ASSY-3
(both downstream: held). B-OTHER on IMM-02 and its lot RL-X have nothing to do with IMM-01.
An earlier run (B-MOULD-6) left a MELT-TEMP aggregate: mean 230, sd 1.5, n 400 — the SPC
history.
"""

from __future__ import annotations

from typing import Any

T0 = "2026-03-02T08:00:00Z"
T0_MS = 1772438400000  # T0 in epoch milliseconds
PV = "CONN-MOULD/v1"
OP = f"{PV}/OP10"
SPEC = f"{OP}/MELT-TEMP"
LIMITS = {"lsl": 210.0, "actionLow": 215.0, "alertLow": 220.0, "setpoint": 230.0,
          "alertHigh": 240.0, "actionHigh": 245.0, "usl": 250.0}
TOPIC = "plant/IMM-01/MELT-TEMP"
TAGS = {"tags": [{"address": TOPIC, "equipment": "IMM-01", "parameter": "MELT-TEMP",
                  "unit": "Cel"},
                 {"address": "ns=2;s=IMM-01.MELT-TEMP", "equipment": "IMM-01",
                  "parameter": "MELT-TEMP", "unit": "Cel"},
                 {"address": "moulding/edge1/IMM-01/MELT-TEMP", "equipment": "IMM-01",
                  "parameter": "MELT-TEMP", "unit": "Cel"}]}


def _lot(key: str) -> dict[str, Any]:
    return {"class": "MaterialLot", "key": key,
            "properties": {"quantity": 500, "unitCode": "kg", "materialLotStatus": "Approved"},
            "links": {"ofMaterial": "Material/PP-H350", "suppliedBy": "Supplier/SUP-PP"}}


def _batch(key: str, product: str = "CONN-LL") -> dict[str, Any]:
    return {"class": "Batch", "key": key,
            "properties": {"batchStatus": "InProcess", "quantity": 1000, "unitCode": "{pc}"},
            "links": {"ofProduct": f"Product/{product}", "runsProcessVersion":
                      f"ProcessVersion/{PV}"}}


def plant() -> dict[str, Any]:
    return {"format": "tracegraph.capture/1", "events": [
        {"eventId": "sp-master", "reason": "master data", "nodes": [
            {"class": "Supplier", "key": "SUP-PP",
             "properties": {"name": "Polymer AG", "supplierStatus": "approved"}},
            {"class": "Material", "key": "PP-H350",
             "properties": {"name": "PP resin", "materialType": "resin", "unitCode": "kg"}},
            {"class": "Product", "key": "CONN-LL", "properties": {"name": "Luer connector"}},
            {"class": "EquipmentClass", "key": "IMM", "properties": {"name": "Press"}},
            {"class": "Equipment", "key": "IMM-01", "properties": {"name": "Press 1"},
             "links": {"ofEquipmentClass": "EquipmentClass/IMM"}},
            {"class": "Equipment", "key": "IMM-02", "properties": {"name": "Press 2"},
             "links": {"ofEquipmentClass": "EquipmentClass/IMM"}},
            {"class": "ProcessDefinition", "key": "CONN-MOULD",
             "properties": {"name": "Connector moulding"},
             "links": {"ofProduct": "Product/CONN-LL"}},
            {"class": "Operation", "key": OP, "properties": {"name": "Moulding",
                                                               "sequence": 10}},
            {"class": "Routing", "key": PV, "properties": {"name": "Routing v1"},
             "links": {"hasOperation": f"Operation/{OP}"}},
            {"class": "ProcessVersion", "key": PV,
             "properties": {"versionStatus": "Effective", "revision": "1",
                            "effectiveFrom": "2026-01-01T00:00:00Z"},
             "links": {"versionOf": "ProcessDefinition/CONN-MOULD", "hasRouting":
                       f"Routing/{PV}"}},
            {"class": "ParameterSpec", "key": SPEC,
             "properties": {"name": "Melt temperature", "unitCode": "Cel", "isCPP": True,
                            "observedProperty": "melt temperature", **LIMITS},
             "links": {"specOf": f"Operation/{OP}"}},
        ]},
        {"eventId": "sp-lots", "nodes": [_lot("RL-PP"), _lot("RL-DYE"), _lot("RL-X"),
                                         _batch("B-MOULD-6"), _batch("B-MOULD-7"),
                                         _batch("B-OTHER"), _batch("B-ASSY-3")]},
        {"eventId": "sp-history", "nodes": [
            {"class": "OperationExecution", "key": "B-MOULD-6/OP10",
             "properties": {"startedAtTime": "2026-03-01T08:00:00Z",
                            "endedAtTime": "2026-03-01T16:00:00Z",
                            "executionStatus": "Completed"},
             "links": {"executesOperation": f"Operation/{OP}", "forBatch": "Batch/B-MOULD-6",
                       "onEquipment": "Equipment/IMM-01"}},
            {"class": "ParameterObservation", "key": "B-MOULD-6/OP10/MELT-TEMP",
             "properties": {"minValue": 225.0, "maxValue": 235.0, "meanValue": 230.0,
                            "stdDev": 1.5, "sampleCount": 400, "unitCode": "Cel",
                            "windowStart": "2026-03-01T08:00:00Z",
                            "windowEnd": "2026-03-01T16:00:00Z"},
             "links": {"observes": f"ParameterSpec/{SPEC}",
                       "duringExecution": "OperationExecution/B-MOULD-6/OP10"}}]},
        {"eventId": "sp-dye", "derivations": [
            {"kind": "consumption", "output": "Batch/B-MOULD-7", "input": "MaterialLot/RL-DYE",
             "quantity": 1, "unit": "kg", "time": "2026-03-01T20:00:00Z"}]},
        {"eventId": "sp-run", "nodes": [
            {"class": "OperationExecution", "key": "B-MOULD-7/OP10",
             "properties": {"startedAtTime": T0, "executionStatus": "Started"},
             "links": {"executesOperation": f"Operation/{OP}", "forBatch": "Batch/B-MOULD-7",
                       "onEquipment": "Equipment/IMM-01"}},
            {"class": "OperationExecution", "key": "B-OTHER/OP10",
             "properties": {"startedAtTime": T0, "executionStatus": "Started"},
             "links": {"executesOperation": f"Operation/{OP}", "forBatch": "Batch/B-OTHER",
                       "onEquipment": "Equipment/IMM-02"}}]},
        {"eventId": "sp-consume", "nodes": [
            {"class": "Sublot", "key": "B-MOULD-7-S1",
             "properties": {"quantity": 100, "unitCode": "{pc}"}}],
         "derivations": [
            {"kind": "consumption", "output": "Batch/B-MOULD-7", "input": "MaterialLot/RL-PP",
             "quantity": 20, "unit": "kg", "time": "2026-03-02T08:05:00Z",
             "execution": "OperationExecution/B-MOULD-7/OP10"},
            {"kind": "consumption", "output": "Batch/B-OTHER", "input": "MaterialLot/RL-X",
             "quantity": 20, "unit": "kg", "time": "2026-03-02T08:05:00Z",
             "execution": "OperationExecution/B-OTHER/OP10"},
            {"kind": "split", "output": "Sublot/B-MOULD-7-S1", "input": "Batch/B-MOULD-7",
             "quantity": 100, "unit": "{pc}", "time": "2026-03-02T08:10:00Z"},
            {"kind": "consumption", "output": "Batch/B-ASSY-3", "input": "Sublot/B-MOULD-7-S1",
             "quantity": 100, "unit": "{pc}", "time": "2026-03-02T08:20:00Z"}]},
    ]}


#: what an excursion on IMM-01 during OP10 must hold (keys)
HELD = {"B-MOULD-7", "RL-PP", "B-MOULD-7-S1", "B-ASSY-3"}


def signal(kind: str, n: int = 600, step_ms: int = 1000, start_ms: int | None = None
           ) -> list[tuple[int, float]]:
    """A deterministic MELT-TEMP signal as (source ms, value), one sample per ``step_ms``
    from 30 min after T0.

    - ``noisy``: chatter ±3 around the setpoint (alternating sign, so no SPC run rule) with
      one- and two-sample glitches beyond the alert, action and spec limits;
    - ``excursion``: in spec, then from sample 300 a rise to 256 (beyond the USL) held for 20
      samples, then back;
    - ``drift``: in spec throughout, steadily rising by 0.4 per sample for 8 samples from 300,
      then steady at that level (an SPC trend well before any limit).
    """
    t0 = start_ms if start_ms is not None else T0_MS + 30 * 60_000
    out: list[tuple[int, float]] = []
    for i in range(n):
        x = 230.0 + (1 if i % 2 else -1) * (0.4 + (i * 7 % 11) / 11 * 1.6)
        if kind == "noisy":
            if i % 97 == 50:
                x = 257.0
            elif i % 89 == 40:
                x = 243.0
            elif i % 83 == 30:
                x = 246.5
                out.append((t0 + i * step_ms, x))
                continue
            if i % 83 == 31:
                x = 246.0
        elif kind == "excursion" and 300 <= i < 320:
            x = 256.0 + (i % 3) * 0.5
        elif kind == "drift" and i >= 300:
            x = 230.0 + 0.4 * min(i - 299, 8) + (0.05 if i % 2 else 0.0)
        out.append((t0 + i * step_ms, x))
    return out


def presses(n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """``n`` more presses (IMM-Bk), each running OP10 of its own batch from T0, and the tag map
    for all of them (topic ``plant/IMM-Bk/MELT-TEMP``): the benchmark's plant."""
    nodes: list[dict[str, Any]] = []
    tags = []
    for k in range(n):
        eq, batch = f"IMM-B{k}", f"B-BENCH-{k}"
        nodes += [
            {"class": "Equipment", "key": eq, "properties": {"name": f"Press B{k}"},
             "links": {"ofEquipmentClass": "EquipmentClass/IMM"}},
            _batch(batch),
            {"class": "OperationExecution", "key": f"{batch}/OP10",
             "properties": {"startedAtTime": T0, "executionStatus": "Started"},
             "links": {"executesOperation": f"Operation/{OP}", "forBatch": f"Batch/{batch}",
                       "onEquipment": f"Equipment/{eq}"}}]
        tags.append({"address": f"plant/{eq}/MELT-TEMP", "equipment": eq,
                     "parameter": "MELT-TEMP", "unit": "Cel"})
    return ({"format": "tracegraph.capture/1", "events": [{"eventId": f"bench-presses-{n}",
                                                           "nodes": nodes}]},
            {"tags": tags})
