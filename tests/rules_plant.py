"""A minimal plant for the plant-rule tests (:mod:`quality.material_rules` and kin), as capture
documents a runtime writes through the one write path, on either engine.

Master data: suppliers SUP-OK (approved) and SUP-BAD (disqualified); materials RESIN and DYE;
process version MOULD/v1 (Effective) whose routing has OP10 (moulding, BOM line RESIN, needs a
press) and OP20 (inspection); a press PRESS-1 and a caliper CAL-1; batch B-1 pinned to MOULD/v1
and its execution of OP10. Lots: RL-OK (Approved resin from SUP-OK, 100 kg, expires
2027-01-01) and others made by :func:`lot`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from graph.errors import Problem, WriteRejectedError
from graph.write import WriteResult
from tests.conftest import FIXTURE_MIGRATION
from tracegraph.runtime import Runtime

T0 = "2026-03-02T08:00:00Z"
_ids = itertools.count()

Json = dict[str, Any]


def node(cls: str, key: str, props: Json | None = None, links: Json | None = None) -> Json:
    return {"class": cls, "key": key, "properties": props or {}, "links": links or {}}


def capture(rt: Runtime, nodes: Sequence[Json] = (), derivations: Sequence[Json] = (),
            reason: str = "test", *, migrated: bool = False) -> WriteResult:
    """Write one event through the runtime's capture path; ``migrated``: as the test fixture
    migration (records in states only a workflow command or a migration may set)."""
    return rt.capture({"format": "tracegraph.capture/1", "events": [{
        "eventId": f"ev-{next(_ids)}", "reason": reason, "nodes": list(nodes),
        "derivations": list(derivations)}]},
        migration=FIXTURE_MIGRATION if migrated else None)


def consume(lot: str, quantity: float = 10.0, unit: str = "kg", batch: str = "B-1",
            time: str | None = T0, execution: str | None = "B-1/OP10",
            kind: str = "consumption", input_cls: str = "MaterialLot") -> Json:
    """A consumption into ``batch`` at ``time`` (None: no event time, so now)."""
    d: Json = {"kind": kind, "output": f"Batch/{batch}", "input": f"{input_cls}/{lot}",
               "quantity": quantity, "unit": unit}
    if time is not None:
        d["time"] = time
    if execution:
        d["execution"] = f"OperationExecution/{execution}"
    return d


def lot(rt: Runtime, key: str, material: str = "RESIN", supplier: str = "SUP-OK",
        status: str = "Approved", quantity: float = 100.0, unit: str = "kg",
        expiry: str = "2027-01-01") -> str:
    capture(rt, [node("MaterialLot", key, {
        "quantity": quantity, "unitCode": unit, "materialLotStatus": status,
        "expiryDate": expiry, "supplierLotNumber": f"S-{key}"},
        {"ofMaterial": f"Material/{material}", "suppliedBy": f"Supplier/{supplier}"})],
        migrated=status != "Quarantine")
    return key


def plant(rt: Runtime) -> Runtime:
    """Write the master data, batch B-1 with its OP10 execution, and lot RL-OK."""
    v = "MOULD/v1"
    capture(rt, [
        node("Supplier", "SUP-OK", {"name": "Polymer AG", "supplierStatus": "approved"}),
        node("Supplier", "SUP-BAD", {"name": "Cheap Resins", "supplierStatus": "disqualified"}),
        node("Material", "RESIN", {"name": "PP resin", "unitCode": "kg",
                                   "materialType": "resin"}),
        node("Material", "DYE", {"name": "blue dye", "unitCode": "kg",
                                 "materialType": "consumable"}),
        # the approved supplier list (issue 18 item 2): SUP-OK is approved for both materials
        *(node("SupplierApproval", f"ASL/SUP-OK/{m}", {"recordNumber": f"ASL/SUP-OK/{m}",
                                                      "aslStatus": "approved"},
               {"approvesSupplier": "Supplier/SUP-OK", "approvesMaterial": f"Material/{m}"})
          for m in ("RESIN", "DYE")),
        node("Product", "CONN", {"name": "connector", "gtin": "09506000134369"}),
        node("EquipmentClass", "PRESS", {"name": "moulding press"}),
        node("EquipmentClass", "GAUGE", {"name": "gauge"}),
        node("Equipment", "PRESS-1", {"name": "press 1", "requiresCalibration": False},
             {"ofEquipmentClass": "EquipmentClass/PRESS"}),
        node("Equipment", "CAL-1", {"name": "caliper", "calibrationStatus": "Calibrated",
                                    "calibrationDue": "2026-12-31T00:00:00Z"},
             {"ofEquipmentClass": "EquipmentClass/GAUGE"}),
        node("Operation", f"{v}/OP10", {"name": "moulding", "sequence": 10},
             {"requiresEquipmentClass": "EquipmentClass/PRESS"}),
        node("Operation", f"{v}/OP20", {"name": "inspection", "sequence": 20},
             {"precededBy": f"Operation/{v}/OP10"}),
        node("BOMLine", f"{v}/OP10/RESIN", {"name": "resin", "quantity": 0.02,
                                             "unitCode": "kg"},
             {"boundToOperation": f"Operation/{v}/OP10", "ofMaterial": "Material/RESIN"}),
        node("Routing", v, {"name": "moulding routing"},
             {"hasOperation": [f"Operation/{v}/OP10", f"Operation/{v}/OP20"]}),
        node("ProcessDefinition", "MOULD", {"name": "moulding"}, {"ofProduct": "Product/CONN"}),
        node("ProcessVersion", v, {"versionStatus": "Effective", "revision": "1",
                                   "effectiveFrom": "2026-01-01T00:00:00Z"},
             {"hasRouting": f"Routing/{v}", "versionOf": "ProcessDefinition/MOULD"}),
    ], reason="master data", migrated=True)
    capture(rt, [
        node("Batch", "B-1", {"batchStatus": "InProcess", "quantity": 1000, "unitCode": "{pc}"},
             {"ofProduct": "Product/CONN", "runsProcessVersion": f"ProcessVersion/{v}"}),
        node("OperationExecution", "B-1/OP10", {"startedAtTime": T0,
                                                "executionStatus": "Started"},
             {"forBatch": "Batch/B-1", "executesOperation": f"Operation/{v}/OP10",
              "onEquipment": "Equipment/PRESS-1"}),
    ], reason="batch started")
    lot(rt, "RL-OK")
    return rt


def refused_by(rt: Runtime, write: Callable[[], object], rule: str) -> list[Problem]:
    """Run ``write``; assert it is refused, among others for ``rule``, and that nothing was
    written (watermark and counts unchanged). The problems of that rule."""
    before = rt.store.watermark(), rt.store.counts()
    with pytest.raises(WriteRejectedError) as exc:
        write()
    assert (rt.store.watermark(), rt.store.counts()) == before
    hits = [p for p in exc.value.problems if p.rule == rule]
    assert hits, [str(p) for p in exc.value.problems]
    return hits
