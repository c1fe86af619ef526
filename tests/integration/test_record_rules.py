"""Rules on the form of captured records (:mod:`quality.record_rules`), through the capture path
on each engine: GS1 check digits of GTIN, SSCC and GLN; a derivation's quantity finite, its time
present and timezone-aware, its unit readable and its kind fitting the classes it joins (the
table in the ontology). A refused write names field, value and rule and writes nothing."""

from __future__ import annotations

import math
from typing import Any

import pytest

from graph.errors import Problem
from ontology.vocab import vocabulary
from tests.rules_plant import capture, consume, node, plant, refused_by
from tracegraph.runtime import Runtime


@pytest.fixture
def rt(runtime: Runtime) -> Runtime:
    return plant(runtime)


def refused(rt: Runtime, rule: str, nodes: list[dict[str, Any]] = (),  # type: ignore[assignment]  # an empty tuple as the default
            derivations: list[dict[str, Any]] = ()) -> list[Problem]:  # type: ignore[assignment]  # an empty tuple as the default
    return refused_by(rt, lambda: capture(rt, nodes, derivations), rule)


@pytest.mark.parametrize(("cls", "key", "prop", "bad", "good"), [
    ("Product", "CATH", "gtin", "09506000134353", "09506000134352"),
    ("Customer", "HOSP", "gln", "9506000000007", "9506000000008"),
    ("Supplier", "SUP-G", "gln", "9506000000016", "9506000000015"),
])
@pytest.mark.req("URS-ID-01")
def test_gs1_check_digits_are_validated(rt: Runtime, cls: str, key: str, prop: str, bad: str,
                                        good: str) -> None:
    props = {"name": key, **({"supplierStatus": "conditional"} if cls == "Supplier" else {})}
    [p] = refused(rt, "gs1-check-digit", [node(cls, key, {**props, prop: bad})])
    assert (p.field, p.value) == (prop, bad)
    capture(rt, [node(cls, key, {**props, prop: good})])


@pytest.mark.req("URS-ID-01")
def test_a_pallet_sscc_with_a_wrong_check_digit_is_refused(rt: Runtime) -> None:
    [p] = refused(rt, "gs1-check-digit",
                  [node("PackagingAggregation", "095060001000000013",
                        {"packagingLevel": "pallet"})])
    assert (p.field, p.value) == ("sscc", "095060001000000013")


@pytest.mark.parametrize("q", ["NaN", "Infinity"])
@pytest.mark.req("URS-DATA-01")
def test_a_derivation_quantity_must_be_finite(rt: Runtime, q: str) -> None:
    [p] = refused(rt, "quantity-finite", derivations=[consume("RL-OK", q)])  # type: ignore[arg-type]  # the text a JSON client sends
    assert p.field == "quantity" and not math.isfinite(float(p.value))


@pytest.mark.parametrize("time", ["", "2026-03-02T08:00:00", "yesterday"])
@pytest.mark.req("URS-DATA-01")
def test_a_derivation_time_is_present_and_timezone_aware(rt: Runtime, time: str) -> None:
    [p] = refused(rt, "time-aware", derivations=[consume("RL-OK", time=time)])
    assert p.value == time


def test_a_derivation_unit_must_be_readable_on_every_kind(rt: Runtime) -> None:
    d = {"kind": "split", "output": "Sublot/S-1", "input": "MaterialLot/RL-OK",
         "quantity": 1.0, "unit": "kilo grams"}
    [p] = refused(rt, "unit-code", [node("Sublot", "S-1", {"quantity": 1.0, "unitCode": "kg"})],
                  [d])
    assert (p.field, p.value) == ("unitCode", "kilo grams")


def test_a_derivation_kind_must_fit_the_classes_it_joins(rt: Runtime) -> None:
    capture(rt, [node("MaterialLot", "RL-2", {"quantity": 1.0, "unitCode": "kg",
                                              "materialLotStatus": "Approved"},
                      {"ofMaterial": "Material/RESIN", "suppliedBy": "Supplier/SUP-OK"})],
            migrated=True)
    # the attack of the issue: a "shipment" between two lots
    problems = refused(rt, "derivation-kind", derivations=[
        {"kind": "shipment", "output": "MaterialLot/RL-2", "input": "MaterialLot/RL-OK"}])
    assert {(p.field, p.value) for p in problems} == {("derivationKind", "shipment")}


def test_every_derivation_kind_has_its_table_in_the_ontology() -> None:
    v = vocabulary()
    joins = v.derivation_joins
    assert set(joins) == set(v.prop("derivationKind").code_list or ())
    for kind, (outs, ins) in joins.items():
        assert outs and ins, kind
        assert all(c in v.classes for c in outs | ins), kind
