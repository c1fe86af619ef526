"""The closed quality loop on the demo plant, on both engines: the CPP excursion's deviation
through every state to Archived with the signatures its grade needs; CAPA closure and
deviation verification refused while effectiveness is unproven; release refused with the exact
exception list, then granted once the blocking items are resolved; the eDHR field by field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from bench.plant import generate_plant
from graph.errors import WriteRejectedError
from graph.model import Direction
from graph.schema import DERIVATION
from ontology.terms import C, P, R
from quality import capa as capa_mod
from quality.deviations import advance, approval_key, assess_impact, record_root_cause
from quality.dispositions import dispose
from quality.edhr import batch_dhr, render_html, unit_dhr
from quality.release import release_batch, release_report
from quality.signatures import signatures_of
from quality.workflow import WorkflowRefused
from tests.conftest import ENGINES, PASSWORD, demo_runtime, make_user
from tracegraph.runtime import Runtime

BATCH = "CA26010801"  # the batch of the demo plant's CPP excursion
STATION = "UVB-01"


def clock() -> datetime:
    return datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=ENGINES)
def demo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    rt = demo_runtime(request, tmp_path, list(generate_plant(size="demo", seed=7)))
    for name, roles in (("q.clark", ["qc"]), ("q.adams", ["qa"]), ("o.ortiz", ["operator"])):
        make_user(rt, name, roles)
    yield rt
    if request.param == "embedded":
        rt.store.close()


def iri(rt: Runtime, cls: str, key: str) -> str:
    return rt.vocab.mint_iri(cls, key)


def refused(code: str) -> Any:
    return pytest.raises(WorkflowRefused, match=rf"\[{code}\]")


def excursion_deviation(rt: Runtime) -> str:
    """The deviation raised (through its alarm) by the plant's only excursion."""
    exc = iri(rt, C.Excursion, "EXC-2026-0001")
    alarms = [e.src for e in rt.store.links([exc], [R.RAISED_BY], Direction.DOWNSTREAM)]
    devs = [e.src for e in rt.store.links(alarms, [R.RAISED_BY], Direction.DOWNSTREAM)]
    assert len(devs) == 1
    return devs[0]


def later_batches(rt: Runtime, n: int, start_day: int) -> None:
    """n batches bonded on the station after the CAPA's actions (through the write path)."""
    nodes = []
    for i in range(n):
        key = f"CA2602{start_day + i:02d}01"
        nodes += [
            {"class": "Batch", "key": key,
             "properties": {"batchStatus": "InProcess", "quantity": 100, "unitCode": "{pc}"},
             "links": {"ofProduct": "Product/CATH-IV20",
                       "runsProcessVersion": "ProcessVersion/CATH-ASSY/v2"}},
            {"class": "OperationExecution", "key": f"{key}/OP20",
             "properties": {"startedAtTime": f"2026-02-{start_day + i:02d}T08:00:00Z",
                            "endedAtTime": f"2026-02-{start_day + i:02d}T10:00:00Z",
                            "executionStatus": "Completed"},
             "links": {"executesOperation": "Operation/CATH-ASSY/v2/OP20",
                       "forBatch": f"Batch/{key}", "onEquipment": f"Equipment/{STATION}",
                       "wasAssociatedWith": "User/nsilva"}}]
    # the station was recalibrated after the LED array replacement (the first one ran out);
    # an idempotent event: the second call writes nothing
    rt.capture({"format": "tracegraph.capture/1", "events": [{
        "eventId": f"recalibration-{STATION}", "reason": "calibration after LED replacement",
        "nodes": [{"class": "Calibration", "key": f"CAL-{STATION}-0002",
                   "properties": {"performedAt": "2026-02-01T10:00:00Z",
                                  "calibrationDue": "2026-08-01T10:00:00Z",
                                  "calibrationResult": "pass"},
                   "links": {"calibrates": f"Equipment/{STATION}"}},
                  {"class": "Equipment", "key": STATION,
                   "properties": {"calibrationDue": "2026-08-01T10:00:00Z"}}]}]})
    rt.capture({"format": "tracegraph.capture/1", "events": [
        {"eventId": f"later-{start_day}", "reason": "production after CAPA", "nodes": nodes}]})


def rules_of(rt: Runtime) -> set[tuple[str, str]]:
    return {(p.rule, p.focus or "") for p in release_report(rt, BATCH).exceptions}


@pytest.mark.req("URS-DEVI-01", "URS-CAPA-01", "URS-REL-01")
def test_deviation_capa_release_loop_on_the_demo_plant(demo: Runtime) -> None:
    rt = demo
    dev = excursion_deviation(rt)
    batch = iri(rt, C.Batch, BATCH)
    obs = iri(rt, C.ParameterObservation, f"{BATCH}/OP20/UV-DOSE")
    exc = iri(rt, C.Excursion, "EXC-2026-0001")
    dev2 = iri(rt, C.Deviation, "DEV-2026-0002")  # the supplier-lot deviation, also upstream
    hold1, hold2 = iri(rt, C.Hold, "HLD-2026-0001"), iri(rt, C.Hold, "HLD-2026-0002")
    assert rt.store.get(dev).props[P.deviationState] == "Open"  # type: ignore[union-attr]  # the node was just written

    # release refused, and the exception list is exactly what blocks it
    before = {("excursion", exc), ("parameter-out-of-spec", obs), ("open-deviation", dev),
              ("open-deviation", dev2), ("active-hold", hold1), ("active-hold", hold2)}
    assert rules_of(rt) == before
    with refused("release-exceptions") as info:
        release_batch(rt, BATCH, "q.adams", PASSWORD, "release review", clock)
    assert {(p.rule, p.focus) for p in info.value.problems} == before
    assert not rt.store.links([batch], [R.RELEASE_OF], Direction.DOWNSTREAM)

    # no write path jumps the state machine: a capture may not touch a deviation at all
    with pytest.raises(WriteRejectedError, match="not-authorised"):
        rt.capture({"format": "tracegraph.capture/1", "events": [{
            "eventId": "jump", "reason": "tidy up", "nodes": [{
                "class": "Deviation", "key": "DEV-2026-0001",
                "properties": {"deviationState": "Closed"}}]}]})
    with refused("deviation-transition"):
        advance(rt, dev, "Investigation", "q.clark", PASSWORD, "skip triage", clock=clock)
    with refused("role"):
        advance(rt, dev, "Triaged", "o.ortiz", PASSWORD, "triage", grade="major", clock=clock)
    # nor a capture that only changes the state along the lifecycle (only advanceDeviation may)
    with pytest.raises(WriteRejectedError, match="not-authorised"):
        rt.capture({"format": "tracegraph.capture/1", "events": [{
            "eventId": "unsigned-triage", "reason": "triage", "nodes": [{
                "class": "Deviation", "key": "DEV-2026-0001",
                "properties": {"deviationState": "Triaged"}}]}]})

    # Open → Triaged (QC reviews) → Investigation
    r = advance(rt, dev, "Triaged", "q.clark", PASSWORD, "CPP excursion, major", grade="major",
                clock=clock)
    assert r.moved and r.state == "Triaged"
    assert advance(rt, dev, "Investigation", "q.clark", PASSWORD, "investigate",
                   clock=clock).moved
    with pytest.raises(WriteRejectedError, match="not-authorised"):  # no downgrading
        rt.capture({"format": "tracegraph.capture/1", "events": [{
            "eventId": "downgrade", "reason": "make it minor", "nodes": [{
                "class": "Deviation", "key": "DEV-2026-0001",
                "properties": {"deviationGrade": "minor"}}]}]})

    # investigation: impact computed from the graph, with paths; 5-why root cause
    impact = assess_impact(rt, dev, "q.clark", "impact of the excursion", clock)
    made = {e.src for e in rt.store.links([batch], [DERIVATION], Direction.DOWNSTREAM)
            if rt.store.get(e.src).label == C.SerializedUnit}  # type: ignore[union-attr]  # the edge's end exists
    assert impact.answer.units_total == len(made) > 0
    assert all(u.witness[0] == batch and u.witness[-1] == u.iri for u in impact.answer.units)
    assert {u.iri for u in impact.answer.units} == made
    assert impact.level in ("medium", "high")
    record_root_cause(rt, dev, "RC-2026-0001-B", "machine",
                      ["UV dose low", "LED irradiance dropped", "LED array past its life",
                       "no replacement interval", "intensity alarm set too low"],
                      "q.clark", "5-why")

    # Investigation → CAPA linked: a major deviation needs QA's review signature
    with refused("role"):
        advance(rt, dev, "CAPALinked", "q.clark", PASSWORD, "CAPA raised", clock=clock)
    assert advance(rt, dev, "CAPALinked", "q.adams", PASSWORD, "CAPA raised", clock=clock).moved

    # effectiveness unproven: neither the CAPA closes nor the deviation moves on
    (capa,) = capa_mod.capas_of(rt.store, dev)
    capa_mod.define_check(rt, capa.iri, "EC-2026-0001", "noRecurrence", STATION, 3,
                          "no UV dose excursion on the station in the next 3 batches",
                          "q.adams", "effectiveness criterion")
    pv = iri(rt, C.ProcessVersion, "CATH-ASSY/v2")
    cr = capa_mod.raise_change_request(
        rt, capa.iri, "CR-2026-0100", "Daily radiometer check on UV bonding",
        "Add the daily radiometer check to the process instructions", "process", [pv],
        "q.adams", "preventive action needs a process change", clock)
    assert {(e.type, e.dst) for e in rt.store.links([cr.iri])} == {
        (R.RAISED_BY, capa.iri), (R.AFFECTS, pv)}
    with refused("capa-closure-refused") as info:
        capa_mod.close_capa(rt, capa.iri, "q.adams", PASSWORD, "close", clock)
    assert {p.rule for p in info.value.problems} == {"actions-open", "effectiveness-unproven"}
    with refused("effectiveness-unproven"):
        advance(rt, dev, "EffectivenessVerified", "q.adams", PASSWORD, "verify", clock=clock)
    with pytest.raises(WriteRejectedError, match="not-authorised"):  # not by capture
        rt.capture({"format": "tracegraph.capture/1", "events": [{
            "eventId": "close-capa", "reason": "done", "nodes": [{
                "class": "CAPA", "key": capa.key, "properties": {"capaState": "Closed"}}]}]})
    with refused("deviation-transition"):
        advance(rt, dev, "Closed", "q.adams", PASSWORD, "close early", clock=clock)
    overdue = capa_mod.overdue_actions(rt, clock().date(), capas=[capa.iri])
    assert [a.key for a in overdue] == []  # A2 is due 45 days after the excursion
    late = capa_mod.overdue_actions(rt, datetime(2026, 3, 1, tzinfo=UTC).date(),
                                    capas=[capa.iri])
    assert [a.key for a in late] == ["CAPA-2026-0001-A2"] and late[0].days_overdue > 0
    capa_mod.complete_action(rt, "CAPA-2026-0001-A2", "q.adams", "SOP updated", clock)
    assert capa_mod.evaluate(rt, "EC-2026-0001").result == "unproven"  # no batch since
    later_batches(rt, 2, 2)
    ev = capa_mod.evaluate(rt, "EC-2026-0001")
    assert ev.result == "unproven" and len(ev.batches) == 2
    with refused("effectiveness-unproven"):
        capa_mod.verify_check(rt, "EC-2026-0001", "q.adams", PASSWORD, "verify", clock)
    later_batches(rt, 1, 4)
    ev = capa_mod.evaluate(rt, "EC-2026-0001")
    assert ev.result == "effective" and len(ev.batches) == 3
    capa_mod.verify_check(rt, "EC-2026-0001", "q.adams", PASSWORD, "3 batches clean", clock)
    closed = capa_mod.close_capa(rt, capa.iri, "q.adams", PASSWORD, "effective", clock)
    assert closed.props[P.capaState] == "Closed"

    # → Effectiveness verified → Closed (QA signs each) → Archived once the hold is resolved
    assert advance(rt, dev, "EffectivenessVerified", "q.adams", PASSWORD, "verified",
                   clock=clock).moved
    assert advance(rt, dev, "Closed", "q.adams", PASSWORD, "closure approved",
                   clock=clock).moved
    with refused("hold-active"):
        advance(rt, dev, "Archived", "q.adams", PASSWORD, "archive", clock=clock)
    assert rules_of(rt) == {("open-deviation", dev2), ("active-hold", hold1),
                            ("active-hold", hold2)}  # the excursion is explained now
    with refused("role"):
        dispose(rt, hold1, "release", "q.clark", PASSWORD, "100% pull test passed")
    d1 = dispose(rt, hold1, "release", "q.adams", PASSWORD, "100% hub pull test passed",
                 clock=clock)
    assert rt.store.get(hold1).props[P.holdState] == "Released"  # type: ignore[union-attr]  # the node was just written
    assert advance(rt, dev, "Archived", "q.adams", PASSWORD, "archive", clock=clock).moved
    assert rt.store.get(dev).props[P.deviationState] == "Archived"  # type: ignore[union-attr]  # the node was just written

    # every transition's approval still carries valid signatures of the right roles
    expected = {("Triaged", "qc"): {("q.clark", "reviewed")},
                ("CAPALinked", "qa"): {("q.adams", "reviewed")},
                ("EffectivenessVerified", "qa"): {("q.adams", "verified")},
                ("Closed", "qa"): {("q.adams", "approved")}}
    for (target, role), want in expected.items():
        sigs = signatures_of(rt, iri(rt, C.Approval,
                                     approval_key("DEV-2026-0001", target, role)))
        assert {(s.username, s.meaning) for s in sigs} == want and all(s.valid for s in sigs)

    # the supplier-lot deviation: triaged minor, closed without CAPA; lot returned
    advance(rt, dev2, "Triaged", "q.clark", PASSWORD, "lot within limits at use", grade="minor",
            clock=clock)
    advance(rt, dev2, "Investigation", "q.clark", PASSWORD, "investigate", clock=clock)
    with refused("root-cause-missing"):  # the plant recorded its impact assessment already
        advance(rt, dev2, "Closed", "q.adams", PASSWORD, "close", clock=clock)
    assess_impact(rt, dev2, "q.clark", "impact", clock)
    record_root_cause(rt, dev2, "RC-2026-0002", "material", ["supplier viscosity drift"],
                      "q.clark", "supplier 8D")
    assert advance(rt, dev2, "Closed", "q.adams", PASSWORD, "bond strength retested OK",
                   clock=clock).moved
    lot = next(e.dst for e in rt.store.links([hold2], [R.HOLDS])
               if rt.store.get(e.dst).label == C.MaterialLot)  # type: ignore[union-attr]  # the edge's end exists
    dispose(rt, hold2, "returnToSupplier", "q.adams", PASSWORD, "lot returned", [lot], clock=clock)
    assert rt.store.get(hold2).props[P.holdState] == "Active"  # type: ignore[union-attr]  # the node was just written
    dispose(rt, hold2, "useAsIs", "q.adams", PASSWORD, "concession: pull tests passed",
            clock=clock)
    assert rt.store.get(hold2).props[P.holdState] == "Dispositioned"  # type: ignore[union-attr]  # the node was just written
    assert rt.store.get(lot).props[P.materialLotStatus] == "Rejected"  # type: ignore[union-attr]  # the node was just written
    # genealogy intact: the batch still derives from the returned lot
    up = rt.store.genealogy([batch], Direction.UPSTREAM)
    assert lot in up.nodes

    # release granted, signed 'released'
    assert rules_of(rt) == set()
    with refused("role"):
        release_batch(rt, BATCH, "q.clark", PASSWORD, "release", clock)
    decision = release_batch(rt, BATCH, "q.adams", PASSWORD, "reviewed by exception", clock)
    assert decision.props[P.releaseOutcome] == "released"
    (sig,) = signatures_of(rt, decision.iri)
    assert sig.meaning == "released" and sig.valid and sig.username == "q.adams"
    assert rt.store.get(batch).props[P.batchStatus] == "Released"  # type: ignore[union-attr]  # the node was just written
    assert signatures_of(rt, d1.iri)[0].meaning == "approved"

    check_edhr(rt, batch, sorted(made)[0])


class _Sections(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.rows = 0
        self.open: list[str] = []
        self.balanced = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self.ids.append(dict(attrs).get("id") or "")
        if tag == "tr":
            self.rows += 1
        if tag not in ("meta", "br", "!doctype"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.balanced = False


def check_edhr(rt: Runtime, batch: str, unit: str) -> None:
    st = rt.store
    doc = batch_dhr(rt, batch)
    b = st.get(batch)
    assert b is not None
    links = {e.type: e.dst for e in st.links([batch])}
    product = st.get(links[R.OF_PRODUCT])
    version = st.get(links[R.RUNS_PROCESS_VERSION])
    assert product is not None and version is not None
    units = {e.src for e in st.links([batch], [DERIVATION], Direction.DOWNSTREAM)}
    d = doc["batch"]
    assert (d["key"], d["quantityMade"], d["manufacturedAt"], d["expiryDate"]) == (
        b.key, b.props[P.quantity], b.props[P.manufacturedAt], b.props[P.expiryDate])
    assert d["quantityReleased"] == d["unitsSerialized"] == len(units)
    assert doc["processVersion"]["key"] == version.key
    assert doc["product"]["udiDI"] == product.props[P.udiDI]
    assert doc["udi"]["humanReadable"].startswith(f"(01){product.props[P.udiDI]}")
    assert f"(10){b.key}" in doc["udi"]["humanReadable"]
    # materials and lots = the batch's consumption edges, with quantities
    consumed = st.edges(batch, Direction.UPSTREAM, [DERIVATION])
    inputs = st.get_many([e.dst for e in consumed])
    assert sorted((m["lot"], m["quantity"]) for m in doc["materials"]) == sorted(
        (inputs[e.dst].key, e.props.get("quantity")) for e in consumed)
    # operations with equipment, fixture and operator as linked
    execs = {e.src for e in st.links([batch], [R.FOR_BATCH], Direction.DOWNSTREAM)}
    assert {o["execution"] for o in doc["operations"]} == {
        n.key for n in st.get_many(sorted(execs)).values()}
    xl = st.links(sorted(execs), [R.ON_EQUIPMENT, R.USED_FIXTURE, R.WAS_ASSOCIATED_WITH])
    keys = {n.iri: n.key for n in st.get_many(sorted({e.dst for e in xl})).values()}
    by_type = {t: {keys[e.dst] for e in xl if e.type == t}
               for t in (R.ON_EQUIPMENT, R.USED_FIXTURE, R.WAS_ASSOCIATED_WITH)}
    assert {x["key"] for x in doc["equipment"]} == by_type[R.ON_EQUIPMENT]
    assert {x["key"] for x in doc["fixtures"]} == by_type[R.USED_FIXTURE]
    assert {x["username"] for x in doc["operators"]} == by_type[R.WAS_ASSOCIATED_WITH]
    during = st.get_many(sorted({e.src for e in st.links(
        sorted(execs), [R.DURING_EXECUTION], Direction.DOWNSTREAM)}))
    by_label: dict[str, set[str]] = {}
    for n in during.values():
        by_label.setdefault(n.label, set()).add(n.key)
    assert len(doc["parameters"]) == len(by_label[C.ParameterObservation])
    assert [p["spec"] for p in doc["parameters"] if not p["withinSpec"]] == [
        "CATH-ASSY/v1/OP20/UV-DOSE"]
    assert {x["excursion"] for x in doc["excursions"]} == by_label[C.Excursion]
    assert {x["result"] for x in doc["inspections"]} == by_label[C.InspectionResult]
    assert {(x["key"], x["deviationState"]) for x in doc["deviations"]} == {
        ("DEV-2026-0001", "Archived"), ("DEV-2026-0002", "Closed")}
    assert {x["holdState"] for x in doc["holds"]} == {"Released", "Dispositioned"}
    assert {x["dispositionType"] for x in doc["dispositions"]} == {
        "release", "returnToSupplier", "useAsIs"}
    assert [r["releaseOutcome"] for r in doc["release"]] == ["released"]
    assert doc["exceptions"] == []
    sig = {(s["recordClass"], s["meaning"]) for s in doc["signatures"]}
    assert {("ReleaseDecision", "released"), ("Disposition", "approved"),
            ("Approval", "reviewed"), ("Approval", "verified"), ("Approval", "approved")} <= sig
    assert all(s["valid"] and s["printedName"] in s["manifestation"] for s in doc["signatures"])

    # per unit: the same record plus the unit's UDI with its serial
    u = unit_dhr(rt, unit)
    serial = st.get(unit).key  # type: ignore[union-attr]  # the unit exists
    assert u["unit"]["serial"] == serial and u["udi"]["humanReadable"].endswith(f"(21){serial}")

    # the HTML document carries every item
    html = render_html(u)
    parser = _Sections()
    parser.feed(html)
    assert parser.balanced
    assert {"batch", "unit", "udi", "product", "process-version", "materials", "operations",
            "equipment", "fixtures", "operators", "parameters", "excursions", "inspections",
            "deviations", "holds", "dispositions", "release", "signatures"} <= set(parser.ids)
    for text in [u["udi"]["humanReadable"], version.key, *(m["lot"] for m in doc["materials"]),
                 *(o["execution"] for o in doc["operations"]),
                 *by_type[R.ON_EQUIPMENT], *by_type[R.USED_FIXTURE],
                 *by_type[R.WAS_ASSOCIATED_WITH], *(s["manifestation"] for s in doc["signatures"]),
                 *by_label[C.Excursion], *by_label[C.InspectionResult], "DEV-2026-0001"]:
        assert escape(str(text)) in html, text


@pytest.mark.req("URS-REL-01")
def test_release_rules_name_each_exception_precisely(demo: Runtime) -> None:
    """A batch made wrongly in every way the release rules check: each rule reports exactly
    its record; a deviation opened from the failed inspection blocks too."""
    rt = demo
    b = "CA-RULES-1"
    ex = {op: f"{b}/{op}" for op in ("OP10", "OP20", "OP30")}

    def run(op: str, start: str, end: str, who: str | None, status: str = "Completed",
            **links: str) -> dict[str, Any]:
        operator = {"wasAssociatedWith": f"User/{who}"} if who else {}
        return {"class": "OperationExecution", "key": ex[op],
                "properties": {"startedAtTime": start, "endedAtTime": end,
                               "executionStatus": status},
                "links": {"executesOperation": f"Operation/CATH-ASSY/v2/{op}",
                          "forBatch": f"Batch/{b}", **operator, **links}}

    # the execution record is written first; where OP20 ran and who ran it is entered later
    # (from paper) — so no check at the start of the execution saw it: the review must
    rt.capture({"format": "tracegraph.capture/1", "events": [{
        "eventId": "rules-batch", "reason": "test batch", "nodes": [
            {"class": "Batch", "key": b,
             "properties": {"batchStatus": "Completed", "quantity": 50, "unitCode": "{pc}"},
             "links": {"ofProduct": "Product/CATH-IV20",
                       "runsProcessVersion": "ProcessVersion/CATH-ASSY/v2"}},
            run("OP10", "2026-02-05T06:00:00Z", "2026-02-05T07:00:00Z", "gosullivan",
                status="Started"),
            run("OP20", "2026-02-05T08:00:00Z", "2026-02-05T10:00:00Z", None),
            # starts before OP20 ended
            run("OP30", "2026-02-05T09:00:00Z", "2026-02-05T11:00:00Z", "nsilva"),
            {"class": "InspectionResult", "key": f"{ex['OP30']}/PULL",
             "properties": {"inspectionOutcome": "nonconforming", "sampleCount": 20,
                            "measuredValue": 31.0, "minValue": 8.0, "maxValue": 96.0,
                            "unitCode": "Pa", "resultTime": "2026-02-05T11:00:00Z"},
             "links": {"inspectedEntity": f"Batch/{b}",
                       "forCharacteristic": "InspectionCharacteristic/CATH-ASSY/v2/OP40/LEAK",
                       "duringExecution": f"OperationExecution/{ex['OP30']}",
                       "measuredWith": "Equipment/LT-01"}}]}]})
    rt.capture({"format": "tracegraph.capture/1", "events": [{
        # UVB-01's calibration ran out on 2026-01-31; q.adams has no UV-bonding training
        "eventId": "rules-late-entry", "reason": "late entry from the paper record", "nodes": [
            {"class": "OperationExecution", "key": ex["OP20"],
             "links": {"onEquipment": f"Equipment/{STATION}", "usedFixture": "Fixture/NEST-UVB-01",
                       "wasAssociatedWith": "User/q.adams"}}]}]})
    rt.capture({"format": "tracegraph.capture/1", "events": [{
        "eventId": "rules-fixture", "reason": "cycle counter read", "nodes": [
            {"class": "Fixture", "key": "NEST-UVB-01", "properties": {"usageCount": 400001}}]}]})

    def i(cls: str, key: str) -> str:
        return iri(rt, cls, key)

    want = {("execution-incomplete", i(C.OperationExecution, ex["OP10"]), "Started"),
            ("equipment-not-calibrated", i(C.Equipment, STATION), STATION),
            ("fixture-out-of-life", i(C.Fixture, "NEST-UVB-01"), 400001),
            ("operator-not-qualified", i(C.OperationExecution, ex["OP20"]), i(C.User, "q.adams")),
            ("operation-sequence", i(C.OperationExecution, ex["OP30"]),
             "2026-02-05T09:00:00.000000Z"),
            ("inspection-nonconforming", i(C.InspectionResult, f"{ex['OP30']}/PULL"),
             "nonconforming"),
            *(("operation-missing", i(C.Batch, b), f"CATH-ASSY/v2/OP{n}")
              for n in (40, 50, 60, 70)),
            # the characteristics planned at the operations not run were not inspected (the
            # leak test was, on its full sample of 20)
            *(("inspection-missing", i(C.Batch, b), f"CATH-ASSY/v2/{c}")
              for c in ("OP40/HUB-PULL", "OP40/VISUAL", "OP70/BI-STERILITY"))}
    got = [(p.rule, p.focus, p.value) for p in release_report(rt, b).exceptions]
    assert sorted(got, key=str) == sorted(want, key=str)

    # a deviation raised from the failed inspection blocks release as well
    from quality.deviations import open_deviation

    insp = i(C.InspectionResult, f"{ex['OP30']}/PULL")
    d = open_deviation(rt, "DEV-RULES-1", "Pull test failed", "3 of 20 hubs pulled off",
                       "major", "q.clark", "failed inspection", [i(C.Batch, b)], insp)
    assert {(e.type, e.dst) for e in rt.store.links([d.iri])} >= {(R.RAISED_BY, insp)}
    got2 = {(p.rule, p.focus) for p in release_report(rt, b).exceptions}
    assert got2 - {(r, f) for r, f, _v in want} == {("open-deviation", d.iri)}


@pytest.mark.req("URS-PROC-01", "URS-CAPA-01")
def test_cpk_effectiveness_criterion_equals_the_observations(demo: Runtime) -> None:
    """cpkAtLeast is computed from the observations of the scoped spec after the actions."""
    import math

    rt = demo
    spec = iri(rt, C.ParameterSpec, "CATH-ASSY/v1/OP20/CURE-TIME")
    capa = capa_mod.open_capa(rt, "DEV-2026-0001", "CAPA-CPK-1", "Cure time capability",
                              "Tighten cure-time control", "2026-06-30", "q.adams", "capability",
                              lambda: datetime(2026, 1, 1, tzinfo=UTC))
    act = capa_mod.add_action(rt, capa.iri, "CAPA-CPK-1-A1", "corrective", "q.adams",
                              "2026-01-02", "Recalibrate the cure timer", "q.adams", "plan")
    capa_mod.complete_action(rt, act.iri, "q.adams", "done",
                             lambda: datetime(2026, 1, 1, 12, tzinfo=UTC))
    for key, threshold in (("EC-CPK-LOW", 0.5), ("EC-CPK-HIGH", 50.0)):
        capa_mod.define_check(rt, capa.iri, key, "cpkAtLeast", spec, 5, "Cpk of cure time",
                              "q.adams", "criterion", threshold=threshold)
    obs = rt.store.get_many([e.src for e in rt.store.links([spec], [R.OBSERVES],
                                                           Direction.DOWNSTREAM)])
    first = sorted(obs.values(), key=lambda o: (str(o.props[P.windowStart]), o.iri))[:5]
    means = [float(o.props[P.meanValue]) for o in first]  # type: ignore[arg-type]  # tg:meanValue is numeric
    sds = [float(o.props[P.stdDev]) for o in first]  # type: ignore[arg-type]  # tg:stdDev is numeric
    mu = sum(means) / 5
    sigma = math.sqrt(sum(s * s for s in sds) / 5 + sum((m - mu) ** 2 for m in means) / 5)
    s = rt.store.get(spec)
    assert s is not None
    want = min(float(s.props[P.usl]) - mu, mu - float(s.props[P.lsl])) / (3 * sigma)  # type: ignore[arg-type]  # tg:usl and tg:lsl are numeric
    low, high = capa_mod.evaluate(rt, "EC-CPK-LOW"), capa_mod.evaluate(rt, "EC-CPK-HIGH")
    assert low.value == high.value == pytest.approx(want, abs=1e-3)
    assert (low.result, high.result) == ("effective", "notEffective")
    with refused("capa-closure-refused") as info:
        capa_mod.close_capa(rt, capa.iri, "q.adams", PASSWORD, "close", clock)
    assert sorted(p.rule for p in info.value.problems) == ["effectiveness-not-verified",
                                                           "not-effective"]
