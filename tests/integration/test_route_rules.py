"""Plant rules on operation executions (:mod:`quality.route_rules`), through the capture path on
each engine: equipment of the class the operation requires, executions on the batch's route
(its pinned version's routing, its variant, one branch per sequence), variant conditions that
parse; and the release review's route steps. A refused write names field, value and rule and
writes nothing; the legitimate flows are accepted."""

from __future__ import annotations

from typing import Any

import pytest

from graph.authority import Principal
from graph.errors import Problem
from quality.release import release_report
from quality.variants import VariantError, holds, parse_condition, parse_variant
from tests.rules_plant import T0, capture, node, plant, refused_by
from tracegraph.runtime import Runtime

Json = dict[str, Any]
OPERATOR = Principal("demo.operator", frozenset({"operator"}))
V = "TRIM/v1"


@pytest.fixture
def rt(runtime: Runtime) -> Runtime:
    """The rules plant, plus process version TRIM/v1 with variants and an alternative branch:

    ====  =======  ============================  =================
    seq   branch   operation                     variant condition
    ====  =======  ============================  =================
    10    main     OP10 moulding (needs PRESS)
    20    main     OP20A trim to 32 mm           length = 32 mm
    20    main     OP20B trim short              length < 30 mm
    30    main     OP30 final inspection
    30    rework   OP30R rework and re-inspect
    ====  =======  ============================  =================

    Batches B-32 (its own variant "length = 3.2 cm"), B-25 (its product's variant
    "length = 25 mm") and B-NONE (no variant), all pinned to TRIM/v1.
    """
    plant(runtime)
    ops = [("OP10", 10, None, None), ("OP20A", 20, None, "length = 32 mm"),
           ("OP20B", 20, None, "length < 30 mm"), ("OP30", 30, None, None),
           ("OP30R", 30, "rework", None)]
    capture(runtime, [
        node("Product", "CONN-25", {"name": "connector 25 mm", "variant": "length = 25 mm"}),
        *(node("Operation", f"{V}/{k}", {"name": k, "sequence": s, **(
            {"branch": br} if br else {}), **({"variantCondition": c} if c else {})},
            {"requiresEquipmentClass": "EquipmentClass/PRESS"} if k == "OP10" else {})
          for k, s, br, c in ops),
        node("Routing", V, {"name": "trim routing"},
             {"hasOperation": [f"Operation/{V}/{k}" for k, *_ in ops]}),
        node("ProcessDefinition", "TRIM", {"name": "trimmed connector"},
             {"ofProduct": "Product/CONN"}),
        node("ProcessVersion", V, {"versionStatus": "Effective", "revision": "1",
                                   "effectiveFrom": "2026-01-01T00:00:00Z"},
             {"hasRouting": f"Routing/{V}", "versionOf": "ProcessDefinition/TRIM"}),
    ], reason="master data", migrated=True)
    capture(runtime, [
        batch("B-32", variant="length = 3.2 cm"), batch("B-25", product="CONN-25"),
        batch("B-NONE")], reason="batches")
    return runtime


def batch(key: str, product: str = "CONN", variant: str | None = None) -> Json:
    return node("Batch", key, {"batchStatus": "InProcess", "quantity": 100, "unitCode": "{pc}",
                               **({"variant": variant} if variant else {})},
                {"ofProduct": f"Product/{product}", "runsProcessVersion": f"ProcessVersion/{V}"})


def run(b: str, op: str, start: str = T0, end: str | None = None, status: str = "Completed",
        version: str = V, **links: str) -> Json:
    props = {"startedAtTime": start, "executionStatus": status,
             **({"endedAtTime": end} if end else {})}
    return node("OperationExecution", f"{b}/{op}", props,
                {"forBatch": f"Batch/{b}", "executesOperation": f"Operation/{version}/{op}",
                 **links})


def as_operator(rt: Runtime, *nodes: Json) -> None:
    rt.capture({"format": "tracegraph.capture/1", "events": [{
        "eventId": f"op-{rt.store.watermark()}-{len(str(nodes))}", "reason": "shop floor",
        "nodes": list(nodes)}]}, principal=OPERATOR)


def refused(rt: Runtime, rule: str, *nodes: Json, migrated: bool = False) -> list[Problem]:
    """Capture ``nodes`` as an operator (or as the fixture migration); assert it is refused for
    ``rule`` and nothing was written."""
    return refused_by(rt, (lambda: capture(rt, nodes, migrated=True)) if migrated
                      else (lambda: as_operator(rt, *nodes)), rule)


def iri(rt: Runtime, cls: str, key: str) -> str:
    return rt.vocab.mint_iri(cls, key)


# -- equipment class ----------------------------------------------------------------------------

@pytest.mark.req("URS-PROD-01")
def test_equipment_of_the_required_class_is_accepted(rt: Runtime) -> None:
    as_operator(rt, run("B-32", "OP10", onEquipment="Equipment/PRESS-1"))
    # an operation that requires no class takes any equipment
    as_operator(rt, run("B-32", "OP30", start="2026-03-02T10:00:00Z",
                        onEquipment="Equipment/CAL-1"))


@pytest.mark.req("URS-PROD-01")
def test_a_press_of_the_wrong_class_is_refused(rt: Runtime) -> None:
    [p] = refused(rt, "equipment-class", run("B-32", "OP10", onEquipment="Equipment/CAL-1"))
    assert (p.field, p.value, p.focus) == ("onEquipment", "CAL-1",
                                           iri(rt, "OperationExecution", "B-32/OP10"))
    assert "GAUGE" in p.message and "PRESS" in p.message and "B-32/OP10" in p.message
    # even in a migration: the rule holds on every write path
    refused(rt, "equipment-class", run("B-32", "OP10", onEquipment="Equipment/CAL-1"),
            migrated=True)


def test_equipment_entered_later_meets_the_same_rule(rt: Runtime) -> None:
    capture(rt, [node("Fixture", "GAUGE-FIX", {"name": "gauge fixture", "usageLimit": 100,
                                               "usageCount": 0},
                      {"ofEquipmentClass": "EquipmentClass/GAUGE"})],
            reason="equipment register", migrated=True)
    as_operator(rt, run("B-32", "OP10"))
    # the equipment entered later, from the paper record
    [p] = refused(rt, "equipment-class", node("OperationExecution", "B-32/OP10", {},
                                              {"onEquipment": "Equipment/CAL-1"}))
    assert p.value == "CAL-1" and "GAUGE" in p.message
    [p] = refused(rt, "equipment-class", node("OperationExecution", "B-32/OP10", {},
                                              {"usedFixture": "Fixture/GAUGE-FIX"}))
    assert (p.field, p.value) == ("usedFixture", "GAUGE-FIX")
    as_operator(rt, node("OperationExecution", "B-32/OP10", {},
                         {"onEquipment": "Equipment/PRESS-1"}))


def test_the_existing_execution_of_the_rules_plant_is_on_a_press(rt: Runtime) -> None:
    # B-1/OP10 (MOULD/v1) ran on PRESS-1: moving it onto the caliper is refused
    refused(rt, "equipment-class", node("OperationExecution", "B-1/OP10", {},
                                        {"onEquipment": "Equipment/CAL-1"}))


# -- route --------------------------------------------------------------------------------------

@pytest.mark.req("URS-SEQ-01")
def test_an_operation_of_another_process_version_is_refused(rt: Runtime) -> None:
    [p] = refused(rt, "route-operation",
                  run("B-32", "OP10", version="MOULD/v1", onEquipment="Equipment/PRESS-1"))
    assert (p.field, p.value) == ("executesOperation", "MOULD/v1/OP10")
    assert "TRIM/v1" in p.message and "B-32" in p.message
    # and the other way round: B-1 (MOULD/v1) cannot run a TRIM/v1 operation
    refused(rt, "route-operation", run("B-1", "OP30"))


@pytest.mark.parametrize(("b", "op", "ok"), [
    ("B-32", "OP20A", True),     # 3.2 cm = 32 mm
    ("B-32", "OP20B", False),    # 32 mm is not < 30 mm
    ("B-25", "OP20B", True),     # the product's variant
    ("B-25", "OP20A", False),
    ("B-NONE", "OP20A", False),  # a batch declaring no variant runs no variant operation
    ("B-NONE", "OP20B", False),
    ("B-NONE", "OP30", True),    # operations of every variant
])
def test_variant_operations_run_only_for_their_variant(rt: Runtime, b: str, op: str,
                                                       ok: bool) -> None:
    if ok:
        as_operator(rt, run(b, op))
        return
    [p] = refused(rt, "route-variant", run(b, op))
    assert p.field == "variantCondition" and p.focus == iri(rt, "OperationExecution", f"{b}/{op}")
    assert p.value in ("length = 32 mm", "length < 30 mm")


def test_a_batch_variant_overrides_its_products(rt: Runtime) -> None:
    capture(rt, [batch("B-25L", product="CONN-25", variant="length = 32 mm")], reason="batch")
    as_operator(rt, run("B-25L", "OP20A"))
    refused(rt, "route-variant", run("B-25L", "OP20B", start="2026-03-02T09:00:00Z"))


def test_a_batch_takes_one_branch_at_a_sequence(rt: Runtime) -> None:
    as_operator(rt, run("B-NONE", "OP30R"))  # the rework branch at 30
    [p] = refused(rt, "route-branch", run("B-NONE", "OP30", start="2026-03-02T09:00:00Z"))
    assert (p.field, p.value) == ("branch", "main") and "rework" in p.message
    # both in one write
    refused(rt, "route-branch", run("B-32", "OP30"), run("B-32", "OP30R"))
    # an aborted execution does not take its branch
    as_operator(rt, run("B-32", "OP30", status="Aborted"))
    as_operator(rt, run("B-32", "OP30R", start="2026-03-02T09:00:00Z"))


# -- master data: conditions parse --------------------------------------------------------------

@pytest.mark.parametrize("cond", ["length ~ 32 mm", "length =", "= 32 mm", "colour < blue",
                                  "length = 32 mm or length = 25 mm", "length = 32 mm and",
                                  "__import__('os') = 1"])
def test_an_unreadable_variant_condition_is_refused_at_capture(rt: Runtime, cond: str) -> None:
    [p] = refused(rt, "variant-condition", node(
        "Operation", "DRAFT/v1/OP10", {"name": "x", "sequence": 10, "variantCondition": cond}),
        migrated=True)
    assert (p.field, p.value) == ("variantCondition", cond)
    assert p.focus == iri(rt, "Operation", "DRAFT/v1/OP10")


def test_an_unreadable_variant_is_refused(rt: Runtime) -> None:
    [p] = refused(rt, "variant", batch("B-BAD", variant="length > 30 mm"))
    assert (p.field, p.value) == ("variant", "length > 30 mm")
    refused(rt, "variant", batch("B-BAD", variant="length = 1 and length = 2"))
    capture(rt, [batch("B-OK", variant='length = 32 mm and coating = "PTFE and silicone"')],
            reason="batch")


def test_the_condition_grammar() -> None:
    assert [str(c) for c in parse_condition("length>=32mm and colour = blue")] == \
        ["length >= 32mm", "colour = blue"]
    v = parse_variant("length = 3.2 cm and colour = light blue")
    assert holds("length = 32 mm", v) and holds("length >= 30 mm and colour = light blue", v)
    assert not holds("length < 30 mm", v) and not holds("colour != light  blue", v)
    assert not holds("length = 32", v)  # a number without a unit is not a length
    assert not holds("weight = 3 g", v)  # an attribute the variant does not name: false
    assert not holds("length = 32 kg", v)  # units that do not convert: false
    with pytest.raises(VariantError):
        parse_variant("length != 3")


# -- the release review -------------------------------------------------------------------------

def route_rules(rt: Runtime, b: str) -> list[tuple[str, str, object]]:
    routing = {"operation-missing", "operation-sequence", "route-variant", "route-branch",
               "operation-not-in-version", "variant-condition"}
    return sorted(((p.rule, p.focus.rsplit("/", 1)[-1], p.value)
                   for p in release_report(rt, b).exceptions if p.rule in routing), key=str)


@pytest.mark.req("URS-SEQ-01", "URS-REL-01")
def test_release_reports_route_steps_missing_and_out_of_order(rt: Runtime) -> None:
    h = "2026-03-02T{:02d}:00:00Z".format
    as_operator(rt, run("B-32", "OP10", h(8), h(9), onEquipment="Equipment/PRESS-1"))
    # not yet: the variant's OP20A and the main OP30 (OP20B is not this variant's)
    assert route_rules(rt, "B-32") == [
        ("operation-missing", "B-32", f"{V}/OP20A"), ("operation-missing", "B-32", f"{V}/OP30")]
    as_operator(rt, run("B-32", "OP20A", h(10), h(11)))
    as_operator(rt, run("B-32", "OP30", h(12), h(13)))
    assert route_rules(rt, "B-32") == []
    # B-25 takes the rework branch at 30 (still running), and starts OP20B before OP10 ended
    as_operator(rt, run("B-25", "OP10", h(8), h(10), onEquipment="Equipment/PRESS-1"))
    as_operator(rt, run("B-25", "OP20B", h(9), h(11)))
    as_operator(rt, run("B-25", "OP30R", h(12), status="Started"))
    started = started_at(rt, "B-25/OP20B")
    assert route_rules(rt, "B-25") == [("operation-sequence", "B-25%2FOP20B", started)]
    assert "execution-incomplete" in {p.rule for p in release_report(rt, "B-25").exceptions}


def test_release_judges_the_route_against_the_variant_now(rt: Runtime) -> None:
    h = "2026-03-02T{:02d}:00:00Z".format
    as_operator(rt, run("B-32", "OP10", h(8), h(9), onEquipment="Equipment/PRESS-1"))
    as_operator(rt, run("B-32", "OP20A", h(10), h(11)))
    as_operator(rt, run("B-32", "OP30", h(12), h(13)))
    capture(rt, [node("Batch", "B-32", {"variant": "length = 25 mm"})], reason="re-keyed")
    assert route_rules(rt, "B-32") == [
        ("operation-missing", "B-32", f"{V}/OP20B"),
        ("route-variant", "B-32%2FOP20A", "length = 32 mm")]


def started_at(rt: Runtime, execution: str) -> object:
    n = rt.store.get(iri(rt, "OperationExecution", execution))
    assert n is not None
    return n.props["startedAtTime"]
