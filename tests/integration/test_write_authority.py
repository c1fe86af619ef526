"""The escalation corpus (issue 14): who may assert what, on both engines.

Every attack found with the demo operator's token is replayed over HTTP and refused with its
rule, writing nothing (watermark and store counts unchanged). Then, generated from the ontology's
write-authority table (ontology/authority.py): for every workflow-managed property on every class
that holds it, and for every class no role may assert, each role that may not make the change
(and the system loader) is refused with the right rule. The legitimate commands still work, and a
migration is explicit: admin-run, re-authenticated, reasoned, marked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from graph.authority import SYSTEM_LOADER, Principal
from graph.errors import WriteRejectedError
from graph.session import write_nodes
from graph.write import NodeUpsert
from ontology.authority import ASSERTED_BY, CAPTURE_VALUES, CHANGED_BY, Command
from ontology.codes import RoleName
from quality.accounts import AuthError, begin_migration, get_user, set_account_status
from quality.deviations import open_deviation
from quality.dispositions import dispose
from quality.lots import decide_lot, qualify_supplier
from tests import plantlet
from tests.conftest import PASSWORD, bearer, make_user, migrate
from tracegraph.runtime import Runtime

FORMAT = "tracegraph.capture/1"
ROLES = sorted(RoleName)
CAPTURE = """mutation($doc: JSON!) { capture(document: $doc) {
  ok problems { rule message field value focus } } }"""


def _doc(*nodes: dict[str, Any], actor: str | None = None, eid: str = "attack") -> dict[str, Any]:
    ev: dict[str, Any] = {"eventId": eid, "nodes": list(nodes)}
    return {"format": FORMAT, "events": [ev], **({"actor": actor} if actor else {})}


@pytest.fixture
def plant(runtime: Runtime) -> Runtime:
    """The plantlet (migrated), a deviation with an active hold, one account per role."""
    plantlet.load(runtime)
    migrate(runtime, _doc(
        {"class": "Deviation", "key": "DEV-1", "properties": {
            "title": "UV dose low", "deviationGrade": "major", "deviationState": "Open",
            "openedAt": "2026-03-04T08:00:00Z"}, "links": {"concerns": "Batch/B-MOULD"}},
        {"class": "Hold", "key": "HLD-1", "properties": {
            "holdState": "Active", "openedAt": "2026-03-04T08:05:00Z"},
         "links": {"holds": "Batch/B-MOULD", "raisedBy": "Deviation/DEV-1"}},
        {"class": "Batch", "key": "B-HELD", "properties": {"batchStatus": "OnHold"},
         "links": PINNED},
        {"class": "MaterialLot", "key": "RL-QUAR", "properties": {
            "quantity": 10, "unitCode": "kg", "materialLotStatus": "Quarantine"},
         "links": {"ofMaterial": "Material/PP-H350", "suppliedBy": "Supplier/SUP-PP"}},
        eid="legacy-hold"))
    for role in ROLES:
        make_user(runtime, f"demo.{role}", [role])
    return runtime


@pytest.fixture
def operator(plant: Runtime) -> Iterator[TestClient]:
    """An HTTP client signed in as the demo operator."""
    with TestClient(create_app(plant.settings, plant)) as c:
        c.headers.update(bearer(c, "demo.operator"))
        yield c


def _state(rt: Runtime) -> tuple[int, dict[str, int]]:
    return rt.store.watermark(), rt.store.counts()


PINNED = {"ofProduct": "Product/CONN-LL", "runsProcessVersion": "ProcessVersion/CONN-MOULD/v1"}

ATTACKS = {
    "operator makes itself admin": (
        _doc({"class": "User", "key": "demo.operator", "links": {"hasRole": "Role/admin"}}),
        "not-authorised"),
    "QC role renamed to qa": (
        _doc({"class": "Role", "key": "qc", "properties": {"roleName": "qa"}}), "not-authorised"),
    "another user disabled": (
        _doc({"class": "User", "key": "demo.qc", "properties": {"accountStatus": "disabled"}}),
        "not-authorised"),
    "another user's printed name changed": (
        _doc({"class": "User", "key": "demo.qa", "properties": {"name": "Mallory"}}),
        "not-authorised"),
    "batch released by capture": (
        _doc({"class": "Batch", "key": "B-MOULD", "properties": {"batchStatus": "Released"}}),
        "workflow-managed"),
    "hold released by capture": (
        _doc({"class": "Hold", "key": "HLD-1", "properties": {"holdState": "Released"}}),
        "not-authorised"),
    "change request created Approved": (
        _doc({"class": "ChangeRequest", "key": "CR-X", "properties": {
            "title": "swap resin", "changeType": "material", "changeState": "Approved"}}),
        "not-authorised"),
    "critical deviation created Archived": (
        _doc({"class": "Deviation", "key": "DEV-X", "properties": {
            "title": "x", "deviationGrade": "critical", "deviationState": "Archived"}}),
        "not-authorised"),
    "lot approved by capture": (
        _doc({"class": "MaterialLot", "key": "RL-QUAR", "properties": {
            "materialLotStatus": "Approved"}}),  # only QC's decideLot approves a lot
        "workflow-managed"),
    "held batch moved back to a capture state": (
        _doc({"class": "Batch", "key": "B-HELD", "properties": {"batchStatus": "Completed"}}),
        "workflow-managed"),  # out of OnHold, a state the exception loop set
    "document claims another actor": (
        _doc({"class": "Batch", "key": "B-NEW", "properties": {"batchStatus": "Planned"},
              "links": PINNED}, actor="demo.qa"), "actor-mismatch"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
@pytest.mark.req("URS-ACC-02")
def test_operator_attacks_over_http_are_refused_and_write_nothing(
        plant: Runtime, operator: TestClient, attack: str) -> None:
    doc, rule = ATTACKS[attack]
    before = _state(plant)
    r = operator.post("/graphql", json={"query": CAPTURE, "variables": {"doc": doc}})
    res = r.json()["data"]["capture"]
    assert res["ok"] is False
    rules = {p["rule"] for p in res["problems"]}
    assert rule in rules, res["problems"]
    assert _state(plant) == before
    user = get_user(plant, "demo.operator")
    assert user is not None and user.roles == {"operator"}


@pytest.mark.req("URS-ACC-02")
def test_a_refusal_names_class_property_roles_and_who_may(plant: Runtime,
                                                         operator: TestClient) -> None:
    doc, _ = ATTACKS["batch released by capture"]
    res = operator.post("/graphql", json={"query": CAPTURE, "variables": {"doc": doc}}).json()
    msg = res["data"]["capture"]["problems"][0]["message"]
    assert "Batch.batchStatus" in msg and "operator" in msg and "releaseBatch" in msg
    doc, _ = ATTACKS["hold released by capture"]
    res = operator.post("/graphql", json={"query": CAPTURE, "variables": {"doc": doc}}).json()
    p = res["data"]["capture"]["problems"][0]
    assert p["field"] == "class" and p["value"] == "Hold"
    assert "Hold.holdState" in p["message"] and "roles operator" in p["message"]
    assert "only workflow commands" in p["message"]


@pytest.mark.req("URS-ACC-02")
def test_the_signed_in_user_is_the_actor(plant: Runtime, operator: TestClient) -> None:
    doc = _doc({"class": "Batch", "key": "B-NEW", "properties": {"batchStatus": "Planned"},
                "links": PINNED}, eid="planned")
    res = operator.post("/graphql", json={"query": CAPTURE, "variables": {"doc": doc}}).json()
    assert res["data"]["capture"]["ok"] is True, res
    entries = plant.store.audit_entries(plant.vocab.mint_iri("Batch", "B-NEW"))
    assert entries and {e.actor for e in entries} == {"demo.operator"}


# -- generated from the table ----------------------------------------------------------------
def _value(rt: Runtime, prop: str) -> Any:
    """A value of ``prop`` capture may not set (outside its capture values)."""
    p = rt.vocab.prop(prop)
    if p.kind == "object":
        return f"{p.range_class}/x"
    if p.code_list:
        return next(v for v in p.code_list if v not in CAPTURE_VALUES.get(prop, ()))
    # of its type, so the refusal is the authority's, not the datatype's
    typed = {"#integer": 1, "#dateTime": "2026-01-01T00:00:00Z", "#date": "2026-01-01",
             "#decimal": 1.5, "#boolean": True}
    for suffix, value in typed.items():
        if p.datatype is not None and str(p.datatype).endswith(suffix):
            return value
    return {"failedAttempts": 0}.get(prop, "forged")


def _expected(rt: Runtime, cls: str, prop: str | None, role: str | None) -> str:
    if cls in rt.vocab.system_managed:
        return "system-managed-class"
    if prop in rt.vocab.system_managed_properties:  # refused as the document is read
        return "system-managed-property"
    allowed = ASSERTED_BY[cls]
    if not allowed if role is None else role not in allowed:
        return "not-authorised"
    return "workflow-managed"


def _cases() -> list[tuple[str, str]]:
    from ontology.vocab import vocabulary

    v = vocabulary()
    out = []
    for prop in sorted(CHANGED_BY):
        out += [(c.name, prop) for c in v.stored_classes if c.allows(prop)]
    return out


def _refused_for_every_role(rt: Runtime, node: dict[str, Any], cls: str,
                            prop: str | None) -> int:
    """Capture ``node`` as each role and as the system loader: each refused with its rule."""
    for role in [*ROLES, None]:
        principal = SYSTEM_LOADER if role is None else Principal(f"demo.{role}",
                                                                 frozenset({role}))
        with pytest.raises(WriteRejectedError) as e:
            rt.capture(_doc(node, eid=f"gen-{role}"), principal=principal)
        rules = {p.rule for p in e.value.problems}
        assert _expected(rt, cls, prop, role) in rules, (cls, prop, role, e.value.problems)
    return len(ROLES) + 1


@pytest.mark.req("URS-ACC-02")
def test_every_workflow_managed_property_is_refused_to_capture_by_every_role(
        plant: Runtime) -> None:
    """One case per (class, workflow-managed property) of the table, for every role."""
    before = _state(plant)
    cases = 0
    for cls, prop in _cases():
        node: dict[str, Any] = {"class": cls, "key": "K-1"}
        value = _value(plant, prop)
        if plant.vocab.prop(prop).kind == "object":
            node["links"] = {prop: value}
        else:
            node["properties"] = {prop: value}
        cases += _refused_for_every_role(plant, node, cls, prop)
    assert cases == len(_cases()) * (len(ROLES) + 1) and len(_cases()) >= 24
    assert _state(plant) == before


@pytest.mark.req("URS-ACC-02")
def test_no_role_asserts_a_command_only_class(plant: Runtime) -> None:
    """One case per stored class no role may assert, for every role."""
    before = _state(plant)
    command_only = [c for c, roles in sorted(ASSERTED_BY.items())
                    if not roles and not plant.vocab.cls(c).abstract]
    assert {"User", "Role", "Hold", "Deviation", "ReleaseDecision", "Approval"} <= \
        set(command_only)
    for cls in command_only:
        _refused_for_every_role(plant, {"class": cls, "key": "K-1"}, cls, None)
    assert _state(plant) == before


@pytest.mark.req("URS-ACC-02")
def test_a_command_changes_only_what_the_ontology_lets_it(plant: Runtime) -> None:
    before = _state(plant)
    batch = plant.vocab.mint_iri("Batch", "B-MOULD")
    with pytest.raises(WriteRejectedError) as e:
        write_nodes(plant, [NodeUpsert("Batch", "B-MOULD", batch, {"batchStatus": "Released"})],
                    "demo.qa", "not a release", command=Command.SIGN)
    p = e.value.problems[0]
    assert p.rule == "workflow-managed" and "not sign" in p.message
    assert _state(plant) == before


# -- the legitimate ways still work ----------------------------------------------------------
@pytest.mark.req("URS-ACC-02")
def test_facts_by_their_owners_and_states_by_their_commands(plant: Runtime) -> None:
    op = Principal("demo.operator", frozenset({"operator"}))
    plant.capture(_doc({"class": "MaterialLot", "key": "RL-NEW", "properties": {
        "quantity": 5, "unitCode": "kg", "materialLotStatus": "Quarantine"},
        "links": {"ofMaterial": "Material/PP-H350", "suppliedBy": "Supplier/SUP-PP"}},
        eid="receipt"), principal=op)
    with pytest.raises(Exception, match="role"):
        decide_lot(plant, "RL-NEW", "Approved", "demo.operator", PASSWORD, "CoA reviewed")
    decide_lot(plant, "RL-NEW", "Approved", "demo.qc", PASSWORD, "CoA reviewed")
    lot = plant.store.get(plant.vocab.mint_iri("MaterialLot", "RL-NEW"))
    assert lot is not None and lot.props["materialLotStatus"] == "Approved"
    assert "migrated" not in lot.props
    qualify_supplier(plant, "SUP-TUBE", "conditional", "demo.qa", PASSWORD, "audit finding")
    dev = open_deviation(plant, "DEV-2", "scratch", "scratched hubs", "minor", "demo.qc",
                         "found at inspection")
    assert dev.props["deviationState"] == "Open"
    dispose(plant, "HLD-1", "release", "demo.qa", PASSWORD, "pull test conforming")
    hold = plant.store.get(plant.vocab.mint_iri("Hold", "HLD-1"))
    assert hold is not None and hold.props["holdState"] == "Released"
    set_account_status(plant, "demo.auditor", "disabled", "demo.admin", "left the company")
    auditor = get_user(plant, "demo.auditor")
    assert auditor is not None and auditor.status == "disabled"


DECIDE = """mutation($lot: String!, $d: MaterialLotStatus!, $p: String!) {
  decideLot(lot: $lot, decision: $d, password: $p, reason: "CoA reviewed, identity conforming")
  { ok state problems { rule field value } record { key properties } } }"""


def test_qc_approves_a_lot_over_http_and_only_then_it_is_consumed(
        plant: Runtime, operator: TestClient) -> None:
    """Receipt into quarantine (operator) → consumption refused → the operator may not decide
    → a wrong decision is refused → QC approves over GraphQL → the consumption is accepted."""
    use = {"format": FORMAT, "events": [{"eventId": "use-quar", "derivations": [
        {"kind": "consumption", "output": "Batch/B-MOULD", "input": "MaterialLot/RL-QUAR",
         "quantity": 2, "unit": "kg"}]}]}
    r = operator.post("/graphql", json={"query": CAPTURE, "variables": {"doc": use}}).json()
    assert {p["rule"] for p in r["data"]["capture"]["problems"]} == {"lot-approved"}
    asked = {"lot": "RL-QUAR", "d": "Approved", "p": PASSWORD}
    r = operator.post("/graphql", json={"query": DECIDE, "variables": asked}).json()
    assert r["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    with TestClient(create_app(plant.settings, plant)) as qc:
        qc.headers.update(bearer(qc, "demo.qc"))
        wrong = qc.post("/graphql", json={"query": DECIDE, "variables": {**asked, "d": "OnHold"}})
        assert wrong.json()["data"]["decideLot"]["problems"] == [
            {"rule": "lot-decision", "field": "decision", "value": "OnHold"}]
        bad = qc.post("/graphql", json={"query": DECIDE, "variables": {**asked, "p": "nope"}})
        assert bad.json()["data"]["decideLot"]["ok"] is False
        ok = qc.post("/graphql", json={"query": DECIDE, "variables": asked}).json()
        d = ok["data"]["decideLot"]
        assert (d["ok"], d["state"], d["record"]["key"]) == (True, "Approved", "RL-QUAR")
        again = qc.post("/graphql", json={"query": DECIDE, "variables": asked}).json()
        assert again["data"]["decideLot"]["problems"][0]["rule"] == "lot-not-in-quarantine"
    r = operator.post("/graphql", json={"query": CAPTURE, "variables": {"doc": use}}).json()
    assert r["data"]["capture"]["ok"] is True, r


@pytest.mark.req("URS-ACC-02")
def test_a_migration_is_admin_run_signed_reasoned_and_marked(plant: Runtime) -> None:
    with pytest.raises(AuthError):
        begin_migration(plant, "demo.qa", PASSWORD, "legacy MES import")
    with pytest.raises(AuthError):
        begin_migration(plant, "demo.admin", "wrong password", "legacy MES import")
    with pytest.raises(AuthError):
        begin_migration(plant, "demo.admin", PASSWORD, " ")
    m = begin_migration(plant, "demo.admin", PASSWORD, "legacy MES import")
    plant.capture(_doc({"class": "Batch", "key": "B-OLD", "properties": {
        "batchStatus": "Released"}, "links": PINNED}, actor="legacy.qa", eid="legacy-batch"),
        migration=m)
    iri = plant.vocab.mint_iri("Batch", "B-OLD")
    node = plant.store.get(iri)
    assert node is not None and node.props["migrated"] is True
    assert node.props["batchStatus"] == "Released"
    entries = plant.store.audit_entries(iri)
    assert {e.actor for e in entries} == {"demo.admin"}
    assert all(e.reason and e.reason.startswith("migration (legacy MES import); legacy actor "
                                                "legacy.qa") for e in entries)
    # the mark cannot be forged or removed by capture
    with pytest.raises(WriteRejectedError) as e:
        plant.capture(_doc({"class": "Batch", "key": "B-OLD", "properties": {
            "migrated": False}}, eid="unmark"))
    assert "system-managed-property" in {p.rule for p in e.value.problems}
