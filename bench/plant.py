"""A deterministic sample plant — a catheter / infusion-set maker — as capture documents.

``generate_plant(size, seed)`` streams ``tracegraph.capture/1`` documents in load order:

=================  ====================================================================
``00-master``      site, rooms, users and training, documents, suppliers, materials,
                   products (GS1 GTIN / UDI-DI), equipment, fixtures and calibrations,
                   process definitions with versioned routings (CATH-ASSY v1 → v2 by an
                   approved change request), BOM lines, parameter specs, inspection plans,
                   customers
``10-receipts``    supplier lots (quarantine, then approved after incoming inspection)
``20-production``  moulding, extrusion and assembly batches in event-time order: work
                   orders, operation executions with consumptions, dryer charges (split/
                   merge), tubing reels (split), parameter aggregates, inspection results,
                   serialised units (production), SSCC cases (aggregation), releases,
                   calibrations and preventive maintenance
``30-shipping``    shipments of released cases to hospitals and distributors
``40-quality``     a CPP excursion and a nonconforming supplier lot: deviations, holds
=================  ====================================================================

Everything derives from ``random.Random`` seeded with the seed (no wall clock): the same seed
gives byte-identical documents. Documents hold at most :data:`MAX_EVENTS` events and about
:data:`MAX_ITEMS` nodes + derivations, so each is one reasonable transaction. Generation streams:
memory stays bounded by a few days of production even for MD-M (~10M units).

>>> docs = list(generate_plant("demo"))
>>> docs[0]["format"], docs[0]["events"][0]["eventId"]
('tracegraph.capture/1', 'md/site')
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from bench.plant_catalog import MATERIALS, SIZES, PlantSize
from bench.plant_exec import Production
from bench.plant_master import event, master_events, node
from bench.plant_quality import quality_events
from bench.plant_shipping import shipping_events
from bench.plant_sim import Planner
from bench.plant_stock import Receipt, ts
from graph.authority import Migration

__all__ = ["MAX_EVENTS", "MAX_ITEMS", "PHASES", "PLANT_MIGRATION", "SIZES", "generate_plant",
           "write_plant"]

Json = dict[str, Any]
FORMAT = "tracegraph.capture/1"
MAX_EVENTS = 2000
MAX_ITEMS = 20000
#: The plant's history holds records in later states written as plain records (approved lots and
#: suppliers, Effective versions, released batches, an approved change request, closed
#: deviations): in-process loaders (bench, tests) load it as this migration, so every record is
#: marked migrated; ``tracegraph demo`` runs it as a signed migration of its admin account.
PLANT_MIGRATION = Migration("system", "sample plant history (bench.plant): later states loaded "
                                      "as records, not through the workflow commands")
PHASES = ("00-master", "10-receipts", "20-production", "30-shipping", "40-quality")


def _size(size: str) -> PlantSize:
    try:
        return SIZES[size]
    except KeyError:
        raise ValueError(f"unknown plant size {size!r}: one of {', '.join(SIZES)}") from None


def _items(ev: Json) -> int:
    return len(ev.get("nodes", ())) + len(ev.get("derivations", ()))


#: why the plant's QC approves a received lot
INCOMING_INSPECTION = "incoming inspection: CoA reviewed, identity check conforming"


def receipt_event(r: Receipt) -> Json:
    """A supplier lot received into quarantine."""
    m = MATERIALS[r.material]
    return event(f"rcv/{r.key}", r.received, [node("MaterialLot", r.key, {
        "supplierLotNumber": r.supplier_lot, "quantity": r.quantity, "unitCode": m.unit,
        "expiryDate": r.expiry, "receivedAt": ts(r.received), "materialLotStatus": "Quarantine"},
        {"ofMaterial": f"Material/{r.material}", "suppliedBy": f"Supplier/{m.supplier}"})],
        actor="erp-interface", reason="goods receipt")


def _receipt_events(r: Receipt, inspector: str) -> Iterator[Json]:
    yield receipt_event(r)
    yield event(f"rcv/{r.key}/approve", r.approved, [
        node("MaterialLot", r.key, {"materialLotStatus": "Approved"})],
        actor=inspector, reason=INCOMING_INSPECTION)


def _phased_events(size: PlantSize, seed: int) -> Iterator[tuple[str, Json]]:
    prod = Production(size, seed)
    for ev in master_events(size, seed):
        yield "00-master", ev
    yield "00-master", prod.calibration_event
    inspectors = prod.qc
    for _day, receipts, _batches in Planner(size, seed).days():
        for i, r in enumerate(receipts):
            for ev in _receipt_events(r, inspectors[i % len(inspectors)]):
                yield "10-receipts", ev
    for ev in prod.events():
        yield "20-production", ev
    for ev in shipping_events(prod):
        yield "30-shipping", ev
    for ev in quality_events(prod):
        yield "40-quality", ev


def _documents(size: PlantSize, seed: int) -> Iterator[tuple[str, Json]]:
    """(phase, document): events packed into documents, never mixing phases."""
    phase: str | None = None
    events: list[Json] = []
    items = 0
    source = f"bench.plant {size.name} seed {seed}"
    for ph, ev in _phased_events(size, seed):
        n = _items(ev)
        if events and (ph != phase or len(events) >= MAX_EVENTS or items + n > MAX_ITEMS):
            assert phase is not None
            yield phase, {"format": FORMAT, "source": source, "events": events}
            events, items = [], 0
        phase = ph
        events.append(ev)
        items += n
    if events and phase is not None:
        yield phase, {"format": FORMAT, "source": source, "events": events}


def generate_plant(size: str = "demo", seed: int = 7) -> Iterator[Json]:
    """Capture documents of a whole plant, in load order (master data first, then execution
    in chronological order, shipping, quality records)."""
    for _phase, doc in _documents(_size(size), seed):
        yield doc


def write_plant(out_dir: Path, size: str = "demo", seed: int = 7,
                progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write the plant as ``<phase>.jsonl`` files (lexical order = load order) and count it;
    ``progress`` is called with the phase after each document."""
    plant = _size(size)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(("documents", "events", "nodes", "derivations", "units", "batches",
                            "lots", "shipments", "bytes"), 0)
    files: dict[str, Any] = {}
    try:
        for phase, doc in _documents(plant, seed):
            fh = files.get(phase)
            if fh is None:
                fh = files[phase] = (out_dir / f"{phase}.jsonl").open("wb")
            line = orjson.dumps(doc) + b"\n"
            fh.write(line)
            counts["bytes"] += len(line)
            if progress is not None:
                progress(phase)
            counts["documents"] += 1
            for ev in doc["events"]:
                counts["events"] += 1
                counts["derivations"] += len(ev.get("derivations", ()))
                for n in ev.get("nodes", ()):
                    counts["nodes"] += 1
                    _count_created(n, ev["eventId"], counts)
    finally:
        for fh in files.values():
            fh.close()
    return counts


def _count_created(n: Json, event_id: str, counts: dict[str, int]) -> None:
    cls = n["class"]
    if cls == "SerializedUnit":
        counts["units"] += 1
    elif cls == "Batch" and event_id.endswith("/start"):
        counts["batches"] += 1
    elif cls == "MaterialLot" and event_id.startswith("rcv/") and "/approve" not in event_id:
        counts["lots"] += 1
    elif cls == "Shipment":
        counts["shipments"] += 1
