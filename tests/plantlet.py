"""A small, hand-made plant as capture documents, for contract tests.

Genealogy (arrows point from the derived thing to its source)::

    SN-1..3 → B-ASSY → B-MOULD → RL-PP (resin)
                     ↘ RL-PP (a diamond: the resin also goes straight into assembly)
                     ↘ RL-TUBE
    CASE (SSCC 095060001000000012) → SN-1, SN-2 ;  SHIP-1 → CASE, shipped to HOSP-1

The master data (Effective process versions, approved suppliers, lots in stock and approved) and
the shipping (a legacy release record of B-ASSY, then its shipment) hold records in later states:
tests load them as a migration (``tests.conftest.migrate``), which the plant rules still check.
The execution between them is plain facts (batches made and completed from the approved lots,
units, a case) that operators and engineers capture. :func:`load` does all three. The workflow
commands behind those states are tested with each command (``test_write_authority.py``,
``test_quality_loop.py`` …).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.conftest import migrate

if TYPE_CHECKING:
    from tracegraph.runtime import Runtime

T0 = "2026-03-02T08:00:00Z"


def master_data() -> dict[str, Any]:
    return {
        "format": "tracegraph.capture/1",
        "events": [{
            "eventId": "md-1",
            "reason": "initial master data",
            "nodes": [
                {"class": "Supplier", "key": "SUP-PP",
                 "properties": {"name": "Polymer AG", "supplierStatus": "approved"}},
                {"class": "Supplier", "key": "SUP-TUBE",
                 "properties": {"name": "Tubes Ltd", "supplierStatus": "approved"}},
                {"class": "Material", "key": "PP-H350",
                 "properties": {"name": "PP resin", "materialType": "resin", "unitCode": "kg"}},
                {"class": "Material", "key": "PVC-TUBE",
                 "properties": {"name": "PVC tubing", "materialType": "tubing", "unitCode": "m"}},
                {"class": "Product", "key": "CATH-14G",
                 "properties": {"name": "IV catheter 14G", "gtin": "09506000134352",
                                "udiDI": "09506000134352"}},
                {"class": "Product", "key": "CONN-LL",
                 "properties": {"name": "Luer connector", "gtin": "09506000134369"}},
                {"class": "ProcessDefinition", "key": "CATH-ASSY",
                 "properties": {"name": "Catheter assembly"},
                 "links": {"ofProduct": "Product/CATH-14G"}},
                {"class": "ProcessVersion", "key": "CATH-ASSY/v1",
                 "properties": {"versionStatus": "Effective", "revision": "1",
                                "effectiveFrom": "2026-01-01T00:00:00Z"},
                 "links": {"versionOf": "ProcessDefinition/CATH-ASSY"}},
                {"class": "ProcessDefinition", "key": "CONN-MOULD",
                 "properties": {"name": "Connector moulding"},
                 "links": {"ofProduct": "Product/CONN-LL"}},
                {"class": "ProcessVersion", "key": "CONN-MOULD/v1",
                 "properties": {"versionStatus": "Effective", "revision": "1",
                                "effectiveFrom": "2026-01-01T00:00:00Z"},
                 "links": {"versionOf": "ProcessDefinition/CONN-MOULD"}},
                {"class": "Customer", "key": "HOSP-1",
                 "properties": {"name": "St. Mary Hospital", "address": "1 Main St, Springfield",
                                "country": "US"}},
                {"class": "EquipmentClass", "key": "IMM",
                 "properties": {"name": "Injection moulding machine"}},
                {"class": "Equipment", "key": "IMM-01", "properties": {"name": "Moulding press 1"},
                 "links": {"ofEquipmentClass": "EquipmentClass/IMM"}},
                {"class": "MaterialLot", "key": "RL-PP",
                 "properties": {"supplierLotNumber": "PA-778", "quantity": 500, "unitCode": "kg",
                                "expiryDate": "2027-03-01", "materialLotStatus": "Approved"},
                 "links": {"ofMaterial": "Material/PP-H350", "suppliedBy": "Supplier/SUP-PP"}},
                {"class": "MaterialLot", "key": "RL-TUBE",
                 "properties": {"supplierLotNumber": "TB-12", "quantity": 2000, "unitCode": "m",
                                "expiryDate": "2027-06-01", "materialLotStatus": "Approved"},
                 "links": {"ofMaterial": "Material/PVC-TUBE", "suppliedBy": "Supplier/SUP-TUBE"}},
            ],
        }],
    }


def execution() -> dict[str, Any]:
    return {
        "format": "tracegraph.capture/1",
        "events": [
            {"eventId": "b-mould", "nodes": [
                {"class": "Batch", "key": "B-MOULD",
                 "properties": {"gtin": "09506000134369", "batchStatus": "Completed",
                                "quantity": 1000, "unitCode": "{pc}"},
                 "links": {"ofProduct": "Product/CONN-LL",
                           "runsProcessVersion": "ProcessVersion/CONN-MOULD/v1"}}],
             "derivations": [{"kind": "consumption", "output": "Batch/B-MOULD",
                              "input": "MaterialLot/RL-PP", "quantity": 20, "unit": "kg",
                              "time": T0}]},
            {"eventId": "b-assy", "nodes": [
                {"class": "Batch", "key": "B-ASSY",
                 "properties": {"gtin": "09506000134352", "batchStatus": "Completed",
                                "quantity": 3, "unitCode": "{pc}"},
                 "links": {"ofProduct": "Product/CATH-14G",
                           "runsProcessVersion": "ProcessVersion/CATH-ASSY/v1"}}],
             "derivations": [
                 {"kind": "consumption", "output": "Batch/B-ASSY", "input": "Batch/B-MOULD",
                  "quantity": 3, "unit": "{pc}", "time": "2026-03-03T08:00:00Z"},
                 {"kind": "consumption", "output": "Batch/B-ASSY", "input": "MaterialLot/RL-PP",
                  "quantity": 0.5, "unit": "kg", "time": "2026-03-03T08:00:00Z"},
                 {"kind": "consumption", "output": "Batch/B-ASSY", "input": "MaterialLot/RL-TUBE",
                  "quantity": 6, "unit": "m", "time": "2026-03-03T08:00:00Z"}]},
            {"eventId": "units", "nodes": [
                {"class": "SerializedUnit", "key": f"SN-{i}",
                 "properties": {"gtin": "09506000134352"},
                 "links": {"ofProduct": "Product/CATH-14G"}} for i in (1, 2, 3)],
             "derivations": [
                 {"kind": "production", "output": f"SerializedUnit/SN-{i}",
                  "input": "Batch/B-ASSY", "quantity": 1, "unit": "{pc}"} for i in (1, 2, 3)]},
            {"eventId": "pack", "nodes": [
                {"class": "PackagingAggregation", "key": "095060001000000012",
                 "properties": {"packagingLevel": "case"}}],
             "derivations": [
                 {"kind": "aggregation", "output": "PackagingAggregation/095060001000000012",
                  "input": f"SerializedUnit/SN-{i}"} for i in (1, 2)]},
        ],
    }


def shipping() -> dict[str, Any]:
    """B-ASSY released (a legacy release record) and the case shipped to HOSP-1: loaded as a
    migration (the release itself is the ``releaseBatch`` command, tested with it)."""
    return {
        "format": "tracegraph.capture/1",
        "events": [
            {"eventId": "rel-assy", "reason": "legacy release record", "nodes": [
                {"class": "Batch", "key": "B-ASSY", "properties": {"batchStatus": "Released"}}]},
            {"eventId": "ship", "nodes": [
                {"class": "Shipment", "key": "SHIP-1",
                 "properties": {"shippedAt": "2026-03-05T10:00:00Z"},
                 "links": {"shippedTo": "Customer/HOSP-1"}}],
             "derivations": [{"kind": "shipment", "output": "Shipment/SHIP-1",
                              "input": "PackagingAggregation/095060001000000012"}]},
        ],
    }


def asl() -> dict[str, Any]:
    """The approved supplier list (issue 18 item 2): each supplier for its material, a record
    only QA's command or a migration writes (kept out of :func:`documents`, which tests also
    import back by plain capture)."""
    return {"format": "tracegraph.capture/1", "events": [{
        "eventId": "md-asl", "reason": "approved supplier list",
        "nodes": [{"class": "SupplierApproval", "key": f"ASL/{s}/{m}",
                   "properties": {"recordNumber": f"ASL/{s}/{m}", "aslStatus": "approved"},
                   "links": {"approvesSupplier": f"Supplier/{s}",
                             "approvesMaterial": f"Material/{m}"}}
                  for s, m in (("SUP-PP", "PP-H350"), ("SUP-TUBE", "PVC-TUBE"))]}]}


def documents() -> list[dict[str, Any]]:
    """The plantlet's three documents, for a file or an oracle (load them as a migration)."""
    return [master_data(), execution(), shipping()]


def load(rt: Runtime) -> None:
    """Master data as a migration, the execution by plain capture, the legacy release and the
    shipment as a migration."""
    migrate(rt, master_data(), asl())
    rt.capture(execution())
    migrate(rt, shipping())


#: The genealogy the documents above imply, as (derived key, source key) pairs.
EXPECTED_EDGES = {
    ("B-MOULD", "RL-PP"), ("B-ASSY", "B-MOULD"), ("B-ASSY", "RL-PP"), ("B-ASSY", "RL-TUBE"),
    ("SN-1", "B-ASSY"), ("SN-2", "B-ASSY"), ("SN-3", "B-ASSY"),
    ("CASE", "SN-1"), ("CASE", "SN-2"), ("SHIP-1", "CASE"),
}
