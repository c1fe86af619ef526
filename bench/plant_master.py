"""Master data of the sample plant as capture events: site and rooms, people, documents,
suppliers and materials, products, equipment, process definitions with versioned routings, the
change request that introduced CATH-ASSY v2, and customers.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bench.plant_catalog import (
    CHARACTERISTICS,
    EQUIPMENT_CLASSES,
    MATERIALS,
    PROCESSES,
    PRODUCTS,
    SUPPLIERS,
    V2_AT,
    Char,
    OpDef,
    PlantSize,
    ProcessDef,
)
from bench.plant_gs1 import COMPANY_PREFIX, gs1_check_digit
from bench.plant_people import QUALIFICATIONS, customers, staff
from bench.plant_stock import DAY, HOUR, equipment_park, fixture_of, fixture_park, ts
from ontology.codes import RoleName, label
from quality.environment import room_limit_nodes

#: the last valid day of the go-live approved supplier list entries (after every plant size's run)
ASL_UNTIL = "2029-12-31"

__all__ = ["ADMIN", "SITE", "ChangeRequestPlan", "change_request_plan", "draft_version_event",
           "event", "master_events", "node", "op_key", "room_of", "training_records",
           "version_day"]

Json = dict[str, Any]
SITE = "SITE-GWY"
ADMIN = "it.admin"
_MATERIAL_TYPES = {"PP-H350": "resin", "MB-PINK": "resin", "PU-80A": "resin",
                   "PVC-TUBE-3": "tubing", "ADH-UV": "adhesive", "POUCH-T": "packaging",
                   "CASE-50": "packaging", "LABEL-UDI": "label"}
_ROOMS = (  # room, name, area, cleanroom class
    ("RM-WH", "Goods-in and raw material warehouse", "AR-LOG", "CNC"),
    ("RM-MOULD", "Moulding hall", "AR-COMP", "ISO 8"),
    ("RM-EXTR", "Extrusion hall", "AR-COMP", "ISO 8"),
    ("RM-CR7A", "Assembly cleanroom A", "AR-ASSY", "ISO 7"),
    ("RM-PACK", "Packaging room", "AR-ASSY", "ISO 8"),
    ("RM-EO", "EO sterilisation suite", "AR-STER", "CNC"),
    ("RM-QCLAB", "QC laboratory", "AR-QC", "CNC"),
    ("RM-FG", "Finished goods warehouse and dispatch", "AR-LOG", "CNC"),
)
#: the class of the fixture each equipment class works with (a press's mould, a UV station's
#: bonding nest): an operation that uses the fixture requires both classes
FIXTURE_CLASS = {"EC-IMM": "EC-MOULD", "EC-UVB": "EC-NEST"}
_AREAS = {"AR-LOG": "Logistics", "AR-COMP": "Component manufacturing",
          "AR-ASSY": "Assembly and packaging", "AR-STER": "Sterilisation",
          "AR-QC": "Quality control"}


def node(cls: str, key: str, props: Json | None = None, links: Json | None = None) -> Json:
    """One capture node, without empty parts."""
    n: Json = {"class": cls, "key": key}
    if props:
        n["properties"] = {k: v for k, v in props.items() if v is not None}
    if links:
        n["links"] = {k: v for k, v in links.items() if v}
    return n


def role_ref(role: str) -> str:
    """Capture reference of the role record of ``role``: keyed by its code, as
    :func:`quality.accounts.create_user` keys it, so the plant and the accounts share one role
    catalogue (tg:RoleNameScheme)."""
    return f"Role/{RoleName(role).value}"


def event(eid: str, at: int, nodes: list[Json] | None = None,
          derivations: list[Json] | None = None, actor: str | None = None,
          reason: str | None = None) -> Json:
    """One capture event; ``at`` (seconds from T0) is its event time."""
    e: Json = {"eventId": eid, "eventTime": ts(at)}
    if actor:
        e["actor"] = actor
    if reason:
        e["reason"] = reason
    if nodes:
        e["nodes"] = nodes
    if derivations:
        e["derivations"] = derivations
    return e


def op_key(process: str, version: str, op: OpDef) -> str:
    return f"{process}/{version}/{op.code}"


def room_of(eq_class: str | None) -> str:
    return EQUIPMENT_CLASSES[eq_class][2] if eq_class else "RM-CR7A"


def version_day(size: PlantSize, process: str, version: str) -> int:
    """Day (from T0) a process version became effective; CATH-ASSY v2 comes mid-run."""
    if process == "CATH-ASSY" and version == "v2":
        return round(V2_AT * size.days)
    return PROCESSES[process].versions[version][1]


#: customers' GLNs: location references from here on (a site's are below)
CUSTOMER_LOCATIONS = 50_000


def gln(location: int) -> str:
    body = f"{COMPANY_PREFIX}{location:05d}"
    return body + gs1_check_digit(body)


def training_records(size: PlantSize, seed: int) -> dict[str, list[Json]]:
    """The training records of each of the plant's staff (by username; trainee = the user
    keyed by username)."""
    rng = random.Random(f"{seed}/master")
    out: dict[str, list[Json]] = {}
    for p in staff(size, seed):
        out[p.username] = [node("TrainingRecord", f"TR-{p.key}-{q}", {
            "effectiveFrom": ts(-rng.randint(30, 300) * DAY),
            "effectiveTo": ts((size.days + 60) * DAY)},
            {"trainee": f"User/{p.username}", "grantsQualification": f"Qualification/{q}"})
            for q in p.qualifications]
    return out


def master_events(size: PlantSize, seed: int, go_live: bool = False) -> Iterator[Json]:
    """Every master-data event, dependencies first. ``go_live``: the state at go-live only (the
    workflow load, bench.plant_workflow): no users (they are accounts), no training records
    (:func:`training_records`, after the accounts), process versions as in force at go-live
    (a later version comes through change control, :func:`change_request_plan`)."""
    t = -90 * DAY
    people = staff(size, seed)
    yield event("md/site", t, [
        node("Site", SITE, {"name": "Galway catheter and infusion-set plant",
                            "address": "Parkmore East Business Park, Ballybrit, Galway H91 P2F7",
                            "country": "IE", "gln": gln(1)}),
        *(node("Area", k, {"name": v}, {"locatedIn": f"Site/{SITE}"}) for k, v in _AREAS.items()),
        *(node("Room", k, {"name": n, "cleanroomClass": c}, {"locatedIn": f"Area/{a}"})
          for k, n, a, c in _ROOMS),
        # issue 17 item 1: each room's environment limits (the class defaults of the ontology)
        *(n for k, _n, _a, c in _ROOMS for n in room_limit_nodes(k, c)),
    ], actor=ADMIN, reason="site master data")

    docs = [node("Document", d, {"title": name, "revision": "C", "documentType": "sop",
                                 "versionStatus": "Effective",
                                 "effectiveFrom": ts(-400 * DAY)})
            for d, name in sorted({(doc, f"Training and work standard: {n}")
                                   for n, doc in QUALIFICATIONS.values()})]
    docs += [node("Document", f"TM-{m}", {"title": f"Test method: {name} ({std})",
                                          "revision": "B", "documentType": "protocol",
                                          "versionStatus": "Effective",
                                          "effectiveFrom": ts(-500 * DAY)})
             for m, (name, std, _instrument) in CHARACTERISTICS.items()]
    yield event("md/documents", t + HOUR, docs, actor=ADMIN, reason="document control")

    nodes = [node("Qualification", q, {"name": name, "validityDays": 365},)
             for q, (name, _doc) in QUALIFICATIONS.items()]
    if go_live:  # the people are accounts (quality.accounts), their training follows them
        yield event("md/qualifications", t + 2 * HOUR, nodes, actor=ADMIN,
                    reason="qualification catalogue")
    else:
        training = training_records(size, seed)
        nodes[:0] = [node("Role", r.value, {"name": label(r).capitalize(),
                                            "roleName": r.value}) for r in RoleName]
        for p in people:
            nodes.append(node("User", p.username,
                              {"code": p.key, "name": p.name, "description": p.title,
                               "accountStatus": "active"},
                              {"hasRole": role_ref(p.role), "hasQualification": [
                                  f"Qualification/{q}" for q in p.qualifications]}))
            nodes += training[p.username]
        nodes.append(node("User", ADMIN, {"code": "E9001", "name": "System Administrator",
                                          "accountStatus": "active"},
                          {"hasRole": role_ref(RoleName.ADMIN)}))
        yield event("md/people", t + 2 * HOUR, nodes, actor=ADMIN,
                    reason="user and training records")

    nodes = [node("Supplier", k, {"name": n, "address": a, "country": c,
                                  "supplierStatus": "approved"})
             for k, (n, a, c) in SUPPLIERS.items()]
    nodes += [node("Material", m.code, {"name": m.name, "unitCode": m.unit,
                                        "materialType": _MATERIAL_TYPES.get(m.code, "component"),
                                        "shelfLifeDays": m.shelf_days})
              for m in MATERIALS.values()]
    for prod in PRODUCTS.values():
        nodes.append(node("Product", prod.code, {
            "name": prod.name, "gtin": prod.gtin, "udiDI": prod.gtin if prod.finished else None,
            "shelfLifeDays": prod.shelf_days or None}))
        if not prod.finished:  # in-house intermediates are BOM materials of the assembly
            nodes.append(node("Material", prod.code, {
                "name": f"{prod.name} (in-house)", "unitCode": prod.unit, "gtin": prod.gtin,
                "materialType": "tubing" if prod.unit == "m" else "subassembly"}))
    # the approved supplier list (issue 18 item 2): each supplier approved for the materials it
    # supplies, re-evaluated yearly (receipts are refused without an entry)
    nodes += [node("SupplierApproval", f"ASL/{m.supplier}/{m.code}", {
        "recordNumber": f"ASL/{m.supplier}/{m.code}", "aslStatus": "approved",
        "approvalScope": f"{m.name} ({m.lot_prefix} lots)", "approvedUntil": ASL_UNTIL},
        {"approvesSupplier": f"Supplier/{m.supplier}", "approvesMaterial": f"Material/{m.code}"})
        for m in MATERIALS.values()]
    yield event("md/materials", t + 3 * HOUR, nodes, actor=ADMIN,
                reason="approved supplier list, material and product master")

    yield event("md/equipment", t + 4 * HOUR, list(_equipment(size, seed)), actor=ADMIN,
                reason="equipment register")

    engineer = next(p.username for p in people if p.title.startswith("Process engineer"))
    for proc in PROCESSES.values():
        for version in proc.versions:
            if go_live and version_day(size, proc.code, version) > 0:
                continue  # introduced later, through change control
            if proc.code == "CATH-ASSY" and version == "v2":
                yield _change_request(size, people)
            yield event(f"md/process/{proc.code}/{version}", t + 5 * HOUR,
                        list(_process_version(size, proc, version,
                                              "go-live" if go_live else None)),
                        actor=engineer, reason="process definition released")

    nodes = [node("Customer", c.key, {"name": c.name, "address": c.address,
                                      "country": c.country,
                                      # the consignee's GLN, named in a recall's units file
                                      "gln": gln(CUSTOMER_LOCATIONS + n)})
             for n, c in enumerate(customers(size, seed), 1)]
    for i in range(0, len(nodes), 500):
        yield event(f"md/customers/{i // 500}", t + 6 * HOUR, nodes[i:i + 500], actor=ADMIN,
                    reason="customer master")


def _equipment(size: PlantSize, seed: int) -> Iterator[Json]:
    fixtures = fixture_park(size, seed)
    for cls, (name, _prefix, _room, _n) in EQUIPMENT_CLASSES.items():
        yield node("EquipmentClass", cls, {"name": name})
    yield node("EquipmentClass", "EC-MOULD", {"name": "Injection mould, 8-cavity hot runner"})
    yield node("EquipmentClass", "EC-NEST", {"name": "UV bonding nest (fixture)"})
    yield from _inspection_methods()
    for cls, tags in equipment_park(size).items():
        name, _prefix, room, _n = EQUIPMENT_CLASSES[cls]
        cal = cls != "EC-CASE"
        for tag in tags:
            yield node("Equipment", tag, {
                "name": f"{name} {tag[-2:]}", "equipmentStatus": "Available",
                "requiresCalibration": cal,
                "calibrationStatus": "Calibrated" if cal else "NotRequired",
            }, {"ofEquipmentClass": f"EquipmentClass/{cls}", "locatedIn": f"Room/{room}"})
            if cls in ("EC-IMM", "EC-UVB"):
                ftag = fixture_of(tag)
                limit, count = fixtures[ftag]
                mould = cls == "EC-IMM"
                yield node("Fixture", ftag, {
                    "name": f"Luer hub mould, 8-cavity, set {tag[-2:]}" if mould
                    else f"UV bonding nest (10-up) for {tag}",
                    "requiresCalibration": False, "calibrationStatus": "NotRequired",
                    "usageLimit": limit, "usageCount": count},
                    {"ofEquipmentClass": f"EquipmentClass/{FIXTURE_CLASS[cls]}",
                     "locatedIn": f"Room/{room}"})


def draft_version_event(size: PlantSize, process: str, version: str, at: int,
                        author: str) -> Json:
    """A process version as its author captures it for change control: a Draft, not yet
    effective nor introduced by a change request (:mod:`quality.change_control` does both)."""
    return event(f"md/process/{process}/{version}", at,
                 list(_process_version(size, PROCESSES[process], version, "draft")),
                 actor=author, reason="process version drafted for change control")


def _process_version(size: PlantSize, proc: ProcessDef, version: str,
                     as_of: str | None = None) -> Iterator[Json]:
    """The version's records: its whole history (``as_of`` None), as in force at go-live
    (``"go-live"``: versions that came later do not exist yet) or as a ``"draft"``."""
    status, _day, ops = proc.versions[version]
    pv = f"{proc.code}/{version}"
    if version == "v1":
        yield node("ProcessDefinition", proc.code, {"name": proc.name},
                   {"ofProduct": f"Product/{proc.product}"})
    start: int | None = version_day(size, proc.code, version)
    later = [v for v in proc.versions if v > version
             and (as_of != "go-live" or version_day(size, proc.code, v) <= 0)]
    end = version_day(size, proc.code, later[0]) if later else None
    if as_of == "go-live" and not later:
        status = "Effective"
    if as_of == "draft":
        status, start, end = "Draft", None, None
    yield node("Document", f"MPI-{pv}", {
        "title": f"Manufacturing process instruction {proc.name}, {version}",
        "revision": version.upper(), "documentType": "workInstruction",
        "versionStatus": status, "effectiveFrom": ts(start * DAY) if start is not None else None,
        "effectiveTo": ts(end * DAY) if end is not None else None})
    prev: str | None = None
    for op in ops:
        ok = op_key(proc.code, version, op)
        doc = QUALIFICATIONS[op.qualification][1]
        yield node("Operation", ok, {"name": op.name, "sequence": op.seq}, {
            "requiresEquipmentClass": [
                f"EquipmentClass/{c}" for c in (op.eq_class, FIXTURE_CLASS.get(op.eq_class or "")
                                                if op.fixture else None) if c],
            "requiresQualification": f"Qualification/{op.qualification}",
            "precededBy": f"Operation/{prev}" if prev else None,
            "governedBy": f"Document/{doc}"})
        prev = ok
        for code, q in op.bom:
            unit = MATERIALS[code].unit if code in MATERIALS else PRODUCTS[code].unit
            yield node("BOMLine", f"{ok}/{code}", {"name": f"{code} for {op.name}",
                                                    "quantity": round(q, 6), "unitCode": unit},
                       {"boundToOperation": f"Operation/{ok}", "ofMaterial": f"Material/{code}"})
        for p in op.params:
            a_lo, al_lo, al_hi, a_hi = p.limits()
            yield node("ParameterSpec", f"{ok}/{p.code}", {
                "name": p.name, "unitCode": p.unit, "setpoint": p.setpoint, "lsl": p.lsl,
                "usl": p.usl, "actionLow": a_lo, "alertLow": al_lo, "alertHigh": al_hi,
                "actionHigh": a_hi, "isCPP": p.cpp, "observedProperty": p.name},
                {"specOf": f"Operation/{ok}"})
        if op.chars:
            yield node("InspectionPlan", ok, {"name": f"Inspection plan {op.name}",
                                              "samplingPlan": "ISO 2859-1, GII, AQL 0.65"},
                       {"inspectionPlanOf": f"Operation/{ok}"})
            for c in op.chars:
                yield _characteristic(ok, c)
    yield node("Routing", pv, {"name": f"Routing {proc.name} {version}"},
               {"hasOperation": [f"Operation/{op_key(proc.code, version, op)}" for op in ops]})
    yield node("ProcessVersion", pv, {
        "name": f"{proc.name} {version}", "revision": version.upper(), "versionStatus": status,
        "effectiveFrom": ts(start * DAY) if start is not None else None,
        "effectiveTo": ts(end * DAY) if end is not None else None,
    }, {"versionOf": f"ProcessDefinition/{proc.code}", "hasRouting": f"Routing/{pv}",
        "governedBy": f"Document/MPI-{pv}",
        "wasRevisionOf": f"ProcessVersion/{proc.code}/v1" if version != "v1" else None,
        "introducedBy": "ChangeRequest/CR-2026-0007" if version != "v1" and as_of != "draft"
        else None})

def _characteristic(plan: str, c: Char) -> Json:
    return node("InspectionCharacteristic", f"{plan}/{c.code}", {
        "name": c.name, "characteristicType": "variable" if c.unit else "attribute",
        "unitCode": c.unit, "lsl": c.lsl, "usl": c.usl, "sampleSize": c.sample,
        "acceptanceNumber": None if c.unit else 0, "isCTQ": True},
        {"characteristicOf": f"InspectionPlan/{plan}",
         "usesMethod": f"InspectionMethod/{c.method}"})


def _inspection_methods() -> list[Json]:
    return [node("InspectionMethod", m, {"name": name, "description": std},
                 {"governedBy": f"Document/TM-{m}",
                  "requiresEquipmentClass": f"EquipmentClass/{instrument}"})
            for m, (name, std, instrument) in CHARACTERISTICS.items()]


@dataclass(frozen=True)
class ChangeRequestPlan:
    """CR-2026-0007 as the plant lived it: who raised it when, who approved it in which role
    when, and when the new version became effective (seconds from T0)."""

    number: str
    title: str
    description: str
    process: str
    base: str                #: version replaced
    proposed: str            #: version introduced
    opened: int
    raised_by: str
    approvals: tuple[tuple[str, str, int], ...]  #: (role, username, decided at)
    effective: int


def change_request_plan(size: PlantSize, people: list[Any]) -> ChangeRequestPlan:
    """CR-2026-0007: raise the hub-bond UV dose LSL and add a hub pull test (CATH-ASSY v2)."""
    v2 = version_day(size, "CATH-ASSY", "v2")
    opened = (v2 - 45) * DAY + 10 * HOUR
    by_role: dict[str, list[str]] = {}
    for p in people:
        by_role.setdefault(p.role, []).append(p.username)
    approvers = (("engineer", by_role["engineer"][1]), ("qa", by_role["qa"][1]),
                 ("engineer", by_role["engineer"][-1]))
    return ChangeRequestPlan(
        "CR-2026-0007",
        "CATH-ASSY: raise hub-bond UV dose LSL to 2000 mJ/cm2, add hub pull test",
        "Trend of hub-bond UV dose towards the lower alert limit and two field complaints of "
        "hub separation (ISO 10555-1 pull force). Raise the LSL of the OP20 UV dose from 1800 "
        "to 2000 mJ/cm2 and add a hub-to-catheter pull test (n=8, >= 15 N) at OP40. "
        "Validation report VR-0412 attached.", "CATH-ASSY", "v1", "v2", opened,
        by_role["engineer"][1],
        tuple((role, user, opened + (10 + 3 * i) * DAY) for i, (role, user) in
              enumerate(approvers)), v2 * DAY)


def _change_request(size: PlantSize, people: list[Any]) -> Json:
    plan = change_request_plan(size, people)
    cr = plan.number
    nodes = [node("ChangeRequest", cr, {
        "title": plan.title, "description": plan.description,
        "changeType": "process", "changeState": "Approved", "openedAt": ts(plan.opened)},
        {"affects": ["ProcessVersion/CATH-ASSY/v1", "ProcessDefinition/CATH-ASSY"],
         "raisedBy": f"User/{plan.raised_by}"})]
    for i, (role, user, at) in enumerate(plan.approvals):
        nodes.append(node("Approval", f"{cr}-A{i + 1}", {
            "approvalDecision": "approved", "decidedAt": ts(at)},
            {"approves": f"ChangeRequest/{cr}", "wasAssociatedWith": f"User/{user}",
             "inRole": role_ref(role)}))
    return event(f"md/change/{cr}", plan.opened, nodes, actor=plan.raised_by,
                 reason="change control")
