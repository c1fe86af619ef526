"""Versions and change impact on the demo plant, checked against an independent computation:
networkx over the raw capture documents (never over our store), on both engines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import pytest

from graph.change_impact import ChangeImpact, calibration_window, change_impact
from graph.versions import diff_report, diff_versions, load_tree
from ontology.datatypes import to_utc_text
from tests.integration.test_recall import demo  # noqa: F401  (the loaded demo plant)
from tracegraph.runtime import Runtime


@dataclass
class Docs:
    """The plant as the documents say it: merged properties, links and derivations."""

    cls: dict[str, str] = field(default_factory=dict)
    props: dict[str, dict[str, Any]] = field(default_factory=dict)
    links: nx.MultiDiGraph = field(default_factory=nx.MultiDiGraph)
    derived: nx.DiGraph = field(default_factory=nx.DiGraph)  # input → output

    def out(self, n: str, rel: str) -> set[str]:
        return {v for _, v, t in self.links.out_edges(n, data="rel") if t == rel}

    def into(self, n: str, rel: str) -> set[str]:
        return {u for u, _, t in self.links.in_edges(n, data="rel") if t == rel}

    def linked(self, a: str, b: str) -> bool:
        return self.links.has_edge(a, b) or self.links.has_edge(b, a)


def read_docs(docs: list[dict[str, Any]], rt: Runtime) -> Docs:
    d = Docs()

    def ref(r: str) -> str:
        c, _, k = r.partition("/")
        return rt.vocab.mint_iri(c, k)

    for doc in docs:
        for ev in doc["events"]:
            for n in ev.get("nodes", []):
                i = rt.vocab.mint_iri(n["class"], n["key"])
                d.cls[i] = n["class"]
                d.props.setdefault(i, {"key": n["key"]}).update(n.get("properties", {}))
                for p, v in n.get("links", {}).items():
                    for t in [v] if isinstance(v, str) else v:
                        d.links.add_edge(i, ref(t), rel=p)
            for x in ev.get("derivations", []):
                d.derived.add_edge(ref(x["input"]), ref(x["output"]))
    return d


@pytest.fixture(scope="module")
def plant(demo: tuple[Runtime, list[dict[str, Any]]]) -> tuple[Runtime, Docs]:  # noqa: F811
    """The demo plant loaded through the guards (both engines), and its documents."""
    rt, docs = demo
    return rt, read_docs(docs, rt)


def expected_from_operations(d: Docs, ops: set[str]) -> dict[str, set[str]]:
    """What a change of these operations touches, from the documents alone."""
    routings = {r for o in ops for r in d.into(o, "hasOperation")}
    versions = {v for r in routings for v in d.into(r, "hasRouting")}
    batches = {b for v in versions for b in d.into(v, "runsProcessVersion")}
    status = {b: d.props[b].get("batchStatus") for b in batches}
    released = {b for b in batches if status[b] == "Released"}
    wip = {b for b in batches if status[b] not in ("Released", "Rejected")}
    down = released.union(*(nx.descendants(d.derived, b) for b in released))
    ships = {n for n in down if d.cls[n] == "Shipment"}
    quals = {q for o in ops for q in d.out(o, "requiresQualification")}
    return {
        "operation": ops, "version": versions, "released-batch": released, "wip-batch": wip,
        "units": {n for n in down if d.cls[n] == "SerializedUnit"}, "shipments": ships,
        "customers": {c for s in ships for c in d.out(s, "shippedTo")},
        "qualified-person": {p for q in quals for p in d.into(q, "hasQualification")},
        "document": {x for o in ops | versions for x in d.out(o, "governedBy")},
        "open-work-order": {w for b in wip for w in d.out(b, "forWorkOrder")
                            if d.props[w].get("workOrderStatus") in
                            ("Planned", "Released", "InProgress")},
    }


def check(ci: ChangeImpact, want: dict[str, set[str]], d: Docs) -> None:
    for cat in ("operation", "released-batch", "wip-batch", "qualified-person", "document",
                "open-work-order"):
        assert {i.iri for i in ci.of(cat)} == want[cat], cat
    assert {i.iri for i in (*ci.of("version"), *ci.of("shared-version"))} == want["version"]
    assert ci.released is not None and want["released-batch"]
    assert ci.released.units_total == len(want["units"])
    assert {a.iri for a in ci.released.shipments} == want["shipments"]
    assert {c.iri for c in ci.released.customers} == want["customers"]
    for item in ci.of("wip-batch"):  # the step a WIP batch is at: its latest execution's
        runs = sorted((utc(d.props[x]["startedAtTime"]), x) for x in d.into(item.iri, "forBatch")
                      if d.cls[x] == "OperationExecution")
        if runs:
            [op] = d.out(runs[-1][1], "executesOperation")
            assert item.note.endswith(f" at {d.props[op]['key']}"), item
    for item in ci.items:  # every explaining path runs along links of the documents
        assert item.path[0] == ci.element.iri and item.path[-1] == item.iri
        assert all(d.linked(a, b) for a, b in zip(item.path, item.path[1:], strict=False)), item


@pytest.mark.req("URS-CC-01")
def test_parameter_limit_change_impact_equals_the_documents(
        plant: tuple[Runtime, Docs]) -> None:
    rt, d = plant
    spec = rt.vocab.mint_iri("ParameterSpec", "CATH-ASSY/v1/OP20/UV-DOSE")
    ops = d.out(spec, "specOf")
    want = expected_from_operations(d, ops)
    assert want["wip-batch"] and want["units"]  # the demo has both under this version
    check(change_impact(rt.store, spec, unit_limit=10**6), want, d)


def test_fixture_change_impact_equals_the_documents(plant: tuple[Runtime, Docs]) -> None:
    rt, d = plant
    fixture = sorted(n for n, c in d.cls.items() if c == "Fixture")[0]
    execs = d.into(fixture, "usedFixture") | d.into(fixture, "onEquipment")
    classes = d.out(fixture, "ofEquipmentClass")
    ops = {o for x in execs for o in d.out(x, "executesOperation")} | {
        o for c in classes for o in d.into(c, "requiresEquipmentClass") if d.cls[o] == "Operation"}
    check(change_impact(rt.store, fixture, unit_limit=10**6),
          expected_from_operations(d, ops), d)


@pytest.mark.req("URS-TRC-02", "URS-CC-01")
def test_material_change_over_supplier_lots_equals_the_documents(
        plant: tuple[Runtime, Docs]) -> None:
    rt, d = plant
    material = rt.vocab.mint_iri("Material", "ADH-UV")
    lots = {x for x in d.into(material, "ofMaterial") if d.cls[x] == "MaterialLot"}
    ci = change_impact(rt.store, material, unit_limit=10**6)
    assert {i.iri for i in ci.of("supplier-lot")} == lots and lots
    released = {i.iri for i in ci.of("released-batch")}
    seeds = lots | released
    down = seeds.union(*(nx.descendants(d.derived, s) for s in seeds))
    assert ci.released is not None
    assert ci.released.units_total == sum(1 for n in down if d.cls[n] == "SerializedUnit")
    assert {a.iri for a in ci.released.shipments} == {n for n in down if d.cls[n] == "Shipment"}


@pytest.mark.req("URS-TRC-02")
def test_out_of_calibration_window_equals_the_documents(plant: tuple[Runtime, Docs]) -> None:
    """A calibration finds the equipment out of tolerance: everything run on it since the last
    passing calibration is suspect."""
    rt, d = plant
    cals: dict[str, list[str]] = {}
    for c, cls in d.cls.items():
        if cls == "Calibration":
            for eq in d.out(c, "calibrates"):
                cals.setdefault(eq, []).append(str(d.props[c]["performedAt"]))
    # a test station: executions run on it and inspection results are measured with it
    eq = sorted(e for e in cals if len(d.into(e, "onEquipment")) >= 4
                and d.into(e, "measuredWith"))[0]
    first = min(cals[eq])
    starts = sorted(utc(d.props[x]["startedAtTime"]) for x in d.into(eq, "onEquipment"))
    found = starts[len(starts) // 2]  # the calibration then finds it out of tolerance
    start, end = calibration_window(rt.store, eq, utc(found))
    assert start == utc(first)
    runs = {x for x in d.into(eq, "onEquipment") | d.into(eq, "usedFixture")
            if utc(d.props[x]["startedAtTime"]) <= end
            and utc(d.props[x].get("endedAtTime") or "9999-01-01T00:00:00Z") >= start}
    batches = {b for x in runs for b in d.out(x, "forBatch")}
    # the inspection results measured with it then, and what they inspected
    measured = {r for r in d.into(eq, "measuredWith")
                if start <= utc(d.props[r]["resultTime"]) <= end}
    inspected = {i for r in measured for i in d.out(r, "inspectedEntity")}
    exposures, results, answer = rt.equipment_impact(eq, start, end, unit_limit=10**6)
    assert {x.execution.iri for x in exposures} == runs and runs
    assert {b for x in exposures for b in x.batches} == batches
    assert {m.result.iri: set(m.inspected) for m in results} == {
        r: set(d.out(r, "inspectedEntity")) for r in measured} and measured
    seeds = batches | inspected
    down = seeds.union(*(nx.descendants(d.derived, b) for b in seeds))
    assert sum(answer.counts.values()) == len(down)
    assert {a.iri for a in answer.shipments} == {n for n in down if d.cls[n] == "Shipment"}


def utc(text: str) -> str:
    return to_utc_text(text)


def test_diff_of_the_demo_versions_equals_the_documents(plant: tuple[Runtime, Docs]) -> None:
    rt, d = plant
    v1 = rt.vocab.mint_iri("ProcessVersion", "CATH-ASSY/v1")
    v2 = rt.vocab.mint_iri("ProcessVersion", "CATH-ASSY/v2")
    old, new = load_tree(rt.store, v1), load_tree(rt.store, v2)
    changes = diff_versions(old, new)

    def owned(prefix: str) -> dict[str, dict[str, Any]]:
        return {p["key"][len(prefix):]: {k: v for k, v in p.items() if k != "key"}
                for i, p in d.props.items() if str(p["key"]).startswith(prefix)
                and d.cls[i] in ("Operation", "ParameterSpec", "BOMLine",
                                 "InspectionCharacteristic")}

    a, b = owned("CATH-ASSY/v1/"), owned("CATH-ASSY/v2/")
    want = {("changed", k, f, a[k].get(f), b[k].get(f)) for k in set(a) & set(b)
            for f in set(a[k]) | set(b[k]) if a[k].get(f) != b[k].get(f)}
    want |= {("added", k, None, None, None) for k in set(b) - set(a)}
    want |= {("removed", k, None, None, None) for k in set(a) - set(b)}

    def rel(path: str, tree: Any) -> str:
        return str(tree.elements[path].node.key).split("/", 2)[2]

    got = {(c.change, rel(c.path, new if c.change == "added" else old), c.field,
            c.old, c.new) if c.change in ("changed", "reordered")
           else (c.change, rel(c.path, new if c.change == "added" else old), None, None, None)
           for c in changes if c.kind != "version"}
    assert got == want and ("changed", "OP20/UV-DOSE", "lsl", 1800.0, 2000.0) in got
    report = diff_report(old, new, changes)
    assert "lsl 1800.0 → 2000.0" in report and "+ added characteristic OP40/plan/HUB-PULL" in report


def test_demo_versions_and_approved_change_over_graphql(plant: tuple[Runtime, Docs]) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.conftest import bearer, make_user

    rt, d = plant
    if rt.store.get(rt.vocab.mint_iri("User", "gql.auditor")) is None:
        make_user(rt, "gql.auditor", ["auditor"])
    q = """query($at: String!) {
      processVersions(process: "CATH-ASSY") { key properties }
      effectiveVersion(process: "CATH-ASSY", at: $at) { key }
      changeRequest(number: "CR-2026-0007") {
        request { key properties } baseVersion { key } proposedVersion { key }
        approvals { role approval { key } }
        diff { report changes { change kind path field old new } } }
      changeImpact(element: "CATH-ASSY/v2/OP20/UV-DOSE") {
        counts { label count } items { category key path } } }"""
    v2 = rt.vocab.mint_iri("ProcessVersion", "CATH-ASSY/v2")
    at = str(d.props[v2]["effectiveFrom"])
    with TestClient(create_app(rt.settings, rt)) as c:
        body = c.post("/graphql", json={"query": q, "variables": {"at": at}},
                      headers=bearer(c, "gql.auditor")).json()
    assert "errors" not in body, body
    data = body["data"]
    assert [(v["key"], v["properties"]["versionStatus"]) for v in data["processVersions"]] == [
        ("CATH-ASSY/v1", "Superseded"), ("CATH-ASSY/v2", "Effective")]
    assert data["effectiveVersion"]["key"] == "CATH-ASSY/v2"
    cr = data["changeRequest"]
    assert cr["request"]["properties"]["changeState"] == "Approved"
    assert (cr["baseVersion"]["key"], cr["proposedVersion"]["key"]) == (
        "CATH-ASSY/v1", "CATH-ASSY/v2")
    assert sorted(a["role"] for a in cr["approvals"]) == ["engineer", "engineer", "qa"]
    assert {"change": "changed", "kind": "parameter", "path": "OP20/parameter/UV-DOSE",
            "field": "lsl", "old": 1800.0, "new": 2000.0} in cr["diff"]["changes"]
    items = data["changeImpact"]["items"]
    ci = change_impact(rt.store, rt.vocab.mint_iri("ParameterSpec", "CATH-ASSY/v2/OP20/UV-DOSE"))
    assert [(i["category"], i["key"]) for i in items] == [(i.category, i.key) for i in ci.items]
