"""Every role can do exactly what its rule allows, over HTTP, on both engines: a table of every
GraphQL root field and mutation by every role, with 0 unauthorised successes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import ALL_ROLES, RULES
from api.graphql import schema
from tests import plantlet
from tests.conftest import PASSWORD, bearer, make_user
from tracegraph.runtime import Runtime

_fresh = itertools.count()

#: one representative request per operation (variables may use {user})
REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "Query.me": ("{ me { username } }", {}),
    "Query.stats": ("{ stats { label } }", {}),
    "Query.node": ('{ node(id: "RL-PP") { key } }', {}),
    "Query.identify": ('{ identify(text: "RL-PP") { key } }', {}),
    "Query.find": ('{ find(value: "RL-PP") { key } }', {}),
    "Query.genealogy": ('{ genealogy(of: "SN-1") { nodeCount } }', {}),
    "Query.massBalance": ('{ massBalance(of: "RL-PP") { received } }', {}),
    "Query.recall": ('{ recall(seeds: ["RL-PP"]) { unitsTotal } }', {}),
    "Query.equipmentImpact": ('{ equipmentImpact(equipment: "IMM-01", from: '
                              '"2026-01-01T00:00:00Z", to: "2026-12-31T00:00:00Z") '
                              '{ executions { batches } } }', {}),
    "Query.auditTrail": ("{ auditTrail(first: 5) { seq } }", {}),
    "Query.signatures": ('{ signatures(record: "B-ASSY") { valid } }', {}),
    "Query.recordStatus": ('{ recordStatus(records: ["RL-PP"]) { onHold } }', {}),
    "Query.deviationView": ('{ deviationView(id: "DEV-1") { state } }', {}),
    "Query.spcChart": ('{ spcChart(spec: "SPEC-1") { cpk } }', {}),
    "Query.signalWindow": ('{ signalWindow(record: "B-ASSY") { parameter } }', {}),
    "Query.vocabulary": ('{ vocabulary(lang: "zh") { lang } }', {}),
    "Query.batchEnvironment": ('{ batchEnvironment(batch: "B-ASSY") { execution } }', {}),
    "Query.knownAt": ('{ knownAt(id: "RL-PP", asOf: "2026-01-01T00:00:00Z") { watermark } }',
                      {}),  # issue 18 item 4
    "Mutation.capture": ("mutation($d: JSON!) { capture(document: $d) { ok } }",
                         {"d": "CAPTURE"}),
    "Mutation.sign": ('mutation($p: String!) { sign(record: "B-ASSY", meaning: reviewed, '
                      'password: $p, reason: "batch record review") { valid } }',
                      {"p": PASSWORD}),
    "Mutation.createUser": ('mutation($u: String!) { createUser(username: $u, password: '
                            '"a long enough password 1", roles: [operator], printedName: '
                            '"New Person", reason: "hired") { username } }', {"u": "NEW"}),
    "Query.processVersions": ('{ processVersions(process: "CATH-ASSY") { key } }', {}),
    "Query.effectiveVersion": ('{ effectiveVersion(process: "CATH-ASSY", '
                               'at: "2026-03-01T00:00:00Z") { key } }', {}),
    "Query.versionDiff": ('{ versionDiff(fromVersion: "CATH-ASSY/v1", toVersion: "CATH-ASSY/v1")'
                          ' { report } }', {}),
    "Query.changeImpact": ('{ changeImpact(element: "IMM-01") { counts { label } } }', {}),
    "Query.changeRequest": ('{ changeRequest(number: "CR-NONE") { diff { report } } }', {}),
    "Mutation.proposeChange": ('mutation { proposeChange(number: "CR-X", title: "t", reason: "r",'
                               ' baseVersion: "CATH-ASSY/v1", proposedVersion: "CONN-MOULD/v1")'
                               ' { request { key } } }', {}),
    "Mutation.assessChange": ('mutation { assessChange(number: "CR-NONE") { request { key } } }',
                              {}),
    "Mutation.approveChange": ('mutation($p: String!) { approveChange(number: "CR-NONE", '
                               'role: qa, password: $p, reason: "ok") { request { key } } }',
                               {"p": PASSWORD}),
    "Mutation.makeChangeEffective": ('mutation { makeChangeEffective(number: "CR-NONE") '
                                     '{ request { key } } }', {}),
    # closed-loop quality (issue 7): refusals answer ok=false, so data is present either way
    "Query.deviation": ('{ deviation(id: "NO-DEV") { state } }', {}),
    "Query.deviationImpact": ('{ deviationImpact(id: "NO-DEV") { level } }', {}),
    "Query.commonality": ('{ commonality(deviating: ["B-ASSY"], good: ["B-MOULD"]) { key } }',
                          {}),
    "Query.effectiveness": ('{ effectiveness(check: "NO-EC") { result } }', {}),
    "Query.overdueCapaActions": ('{ overdueCapaActions(today: "2026-03-01") { key } }', {}),
    "Query.releaseReport": ('{ releaseReport(batch: "B-ASSY") { releasable } }', {}),
    "Query.edhr": ('{ edhr(batch: "B-ASSY") }', {}),
    # worklists (issue 15)
    "Query.deviations": ("{ deviations { totalCount } }", {}),
    "Query.holds": ("{ holds { totalCount } }", {}),
    "Query.capas": ("{ capas { totalCount } }", {}),
    "Query.capaActions": ("{ capaActions { totalCount } }", {}),
    "Query.changeRequests": ("{ changeRequests { totalCount } }", {}),
    "Query.batches": ("{ batches(first: 1) { totalCount edges { node { key } } } }", {}),
    "Query.excursions": ("{ excursions { totalCount } }", {}),
    "Query.alarms": ("{ alarms { totalCount } }", {}),
    "Query.myWork": ("{ myWork { username sections { kind total } } }", {}),
    "Query.openExceptions": ("{ openExceptions { openDeviations } }", {}),
    # the KPI dashboard (issue 15 item 3)
    "Query.kpis": ('{ kpis(from: "2026-01-01", to: "2027-01-01") { id value n } }', {}),
    "Query.kpiRecords": ('{ kpiRecords(id: "scrapRate", from: "2026-01-01", to: "2027-01-01") '
                         '{ key value } }', {}),
    "Mutation.openDeviation": ('mutation { openDeviation(title: "Scratch on hub", description: '
                               '"scratch found at inspection", grade: minor, reason: "found", '
                               'concerns: ["B-ASSY"]) { ok } }', {}),
    "Mutation.advanceDeviation": ('mutation($p: String!) { advanceDeviation(deviation: "NO-DEV",'
                                  ' target: Triaged, password: $p, reason: "triage") { ok } }',
                                  {"p": PASSWORD}),
    "Mutation.assessImpact": ('mutation { assessImpact(deviation: "NO-DEV", reason: "impact") '
                              '{ ok } }', {}),
    "Mutation.recordRootCause": ('mutation { recordRootCause(deviation: "NO-DEV", category: '
                                 'machine, whys: ["worn"], reason: "5-why") { ok } }', {}),
    "Mutation.openCapa": ('mutation { openCapa(deviation: "NO-DEV", title: "t", description: '
                          '"d", due: "2026-05-01", reason: "r") { ok } }', {}),
    "Mutation.addCapaAction": ('mutation { addCapaAction(capa: "NO-CAPA", actionType: '
                               'corrective, owner: "nobody", due: "2026-05-01", description: '
                               '"d", reason: "r") { ok } }', {}),
    "Mutation.completeCapaAction": ('mutation { completeCapaAction(action: "NO-ACT", reason: '
                                    '"done") { ok } }', {}),
    "Mutation.defineEffectivenessCheck": ('mutation { defineEffectivenessCheck(capa: "NO-CAPA",'
                                          ' criterion: noRecurrence, scope: "IMM-01", '
                                          'batches: 3, description: "d", reason: "r") { ok } }',
                                          {}),
    "Mutation.verifyEffectivenessCheck": ('mutation($p: String!) { verifyEffectivenessCheck('
                                          'check: "NO-EC", password: $p, reason: "r") { ok } }',
                                          {"p": PASSWORD}),
    "Mutation.closeCapa": ('mutation($p: String!) { closeCapa(capa: "NO-CAPA", password: $p, '
                           'reason: "r") { ok } }', {"p": PASSWORD}),
    "Mutation.dispose": ('mutation($p: String!) { dispose(hold: "NO-HOLD", kind: scrap, '
                         'password: $p, justification: "j") { ok } }', {"p": PASSWORD}),
    "Mutation.releaseBatch": ('mutation($p: String!) { releaseBatch(batch: "B-ASSY", '
                              'password: $p, reason: "review by exception") { ok } }',
                              {"p": PASSWORD}),
    "Mutation.placeHold": ('mutation($p: String!) { placeHold(deviation: "NO-DEV", '
                           'items: ["B-ASSY"], password: $p, reason: "r") { ok } }',
                           {"p": PASSWORD}),
    "Mutation.decideLot": ('mutation($p: String!) { decideLot(lot: "RL-PP", decision: Approved, '
                           'password: $p, reason: "CoA reviewed") { ok } }', {"p": PASSWORD}),
    "Mutation.qualifySupplier": ('mutation($p: String!) { qualifySupplier(supplier: "SUP-PP", '
                                 'status: approved, password: $p, reason: "audit passed") '
                                 '{ ok } }', {"p": PASSWORD}),
    # supplier quality (issue 18 item 2)
    "Query.suppliers": ("{ suppliers { key } }", {}),
    "Query.approvedSupplierList": ('{ approvedSupplierList(supplier: "SUP-PP") { key } }', {}),
    "Query.supplierScorecard": ('{ supplierScorecard(supplier: "SUP-PP", start: "2026-03-01", '
                                'end: "2026-04-01") { lotsReceived } }', {}),
    "Query.scar": ('{ scar(id: "NO-SCAR") { key } }', {}),
    "Query.scars": ('{ scars(supplier: "SUP-PP") { key } }', {}),
    "Mutation.approveSupplierMaterial": (
        'mutation($p: String!) { approveSupplierMaterial(supplier: "SUP-PP", material: '
        '"PP-H350", status: approved, password: $p, reason: "re-evaluated") { ok } }',
        {"p": PASSWORD}),
    "Mutation.inspectIncomingLot": (
        'mutation($p: String!) { inspectIncomingLot(lot: "RL-PP", lotSize: 500, aql: 1.0, '
        'nonconforming: 0, password: $p, reason: "IQC") { ok } }', {"p": PASSWORD}),
    "Mutation.issueScar": ('mutation { issueScar(key: "SCAR-AUTHZ", supplier: "SUP-PP", title: '
                           '"t", description: "d", dueDate: "2026-04-30", reason: "r") { ok } }',
                           {}),
    "Mutation.recordScarResponse": ('mutation { recordScarResponse(scar: "NO-SCAR", response: '
                                    '"8D", reason: "r") { ok } }', {}),
    "Mutation.closeScar": ('mutation($p: String!) { closeScar(scar: "NO-SCAR", password: $p, '
                           'reason: "r") { ok } }', {"p": PASSWORD}),
    # equipment health and maintenance work orders (issue 17 item 2)
    "Query.equipmentHealth": ('{ equipmentHealth(equipment: "IMM-01") { state } }', {}),
    "Query.equipmentList": ("{ equipmentList { equipment state } }", {}),
    "Query.parameterSpecs": ("{ parameterSpecs { key observations } }", {}),
    "Mutation.openWorkOrder": ('mutation { openWorkOrder(equipment: "IMM-01", maintenanceType: '
                               '"corrective", description: "noisy heater", reason: "r") '
                               '{ ok } }', {}),
    "Mutation.startWorkOrder": ('mutation { startWorkOrder(workOrder: "NO-WO", reason: "r") '
                                '{ ok } }', {}),
    "Mutation.completeWorkOrder": ('mutation { completeWorkOrder(workOrder: "NO-WO", '
                                   'workDone: "w", reason: "r") { ok } }', {}),
    # what-if recall and proof of non-exposure (issue 18 item 3)
    "Query.whatIf": ('{ whatIf(hypotheses: [{name: "a", spec: "lot:RL-PP"}]) { watermark } }',
                     {}),
    "Query.exposure": ('{ exposure(hypothesis: {name: "a", spec: "lot:RL-TUBE"}, '
                       'item: "B-MOULD") { exposed } }', {}),
    "Query.exposureProof": ('{ exposureProof(proof: "NEP-NONE") { number } }', {}),
    "Mutation.proveNonExposure": ('mutation($p: String!) { proveNonExposure(hypothesis: '
                                  '{name: "a", spec: "lot:RL-TUBE"}, item: "B-MOULD", '
                                  'password: $p, reason: "r") { ok } }', {"p": PASSWORD}),
    # document control (issue 18 item 1)
    "Query.documents": ("{ documents { code } }", {}),
    "Query.document": ('{ document(key: "NO-DOC") { code } }', {}),
    "Mutation.submitDocument": ('mutation { submitDocument(document: "NO-DOC", reason: "r") '
                                '{ key } }', {}),
    "Mutation.approveDocument": ('mutation($p: String!) { approveDocument(document: "NO-DOC", '
                                 'password: $p, reason: "r") { key } }', {"p": PASSWORD}),
    "Mutation.makeDocumentEffective": ('mutation { makeDocumentEffective(document: "NO-DOC", '
                                       'reason: "r") { key } }', {}),
    "Mutation.recordTraining": ('mutation($p: String!) { recordTraining(document: "NO-DOC", '
                                'person: "P-1", password: $p, reason: "r") { key } }',
                                {"p": PASSWORD}),
    # recall records (issue 18 item 5)
    "Query.recalls": ("{ recalls { key } }", {}),
    "Query.recallRecord": ('{ recallRecord(id: "NO-RCL") { key } }', {}),
    "Mutation.initiateRecall": ('mutation($p: String!) { initiateRecall(key: "RCL-A", '
                                'seeds: ["NO-LOT"], recallClass: "II", healthHazard: '
                                '"temporary", depth: "consumer", action: "removal", '
                                'hypothesis: "h", title: "t", password: $p, reason: "r") '
                                '{ ok } }', {"p": PASSWORD}),
    "Mutation.notifyRecallCustomer": ('mutation { notifyRecallCustomer(recall: "NO-RCL", '
                                      'customer: "C", method: "m", reason: "r") { ok } }', {}),
    "Mutation.recordRecallResponse": ('mutation { recordRecallResponse(recall: "NO-RCL", '
                                      'customer: "C", note: "n", reason: "r") { ok } }', {}),
    "Mutation.startRecallChecks": ('mutation { startRecallChecks(recall: "NO-RCL", '
                                   'reason: "r") { ok } }', {}),
    "Mutation.terminateRecall": ('mutation($p: String!) { terminateRecall(recall: "NO-RCL", '
                                 'password: $p, reason: "r") { ok } }', {"p": PASSWORD}),
    # integration events (issue 18 item 6)
    "Query.integrationEvents": ("{ integrationEvents(first: 5) { next events { id type } } }",
                                {}),
    "Query.webhookSubscriptions": ("{ webhookSubscriptions { key endpoint active cursor } }",
                                   {}),
}


def root_operations() -> set[str]:
    gql = schema._schema
    subs = gql.subscription_type
    return ({f"Query.{f}" for f in gql.query_type.fields}
            | {f"Mutation.{f}" for f in gql.mutation_type.fields}  # type: ignore[union-attr]  # the schema has mutations
            | ({f"Subscription.{f}" for f in subs.fields} if subs else set()))


@pytest.mark.req("URS-ACC-01")
def test_every_root_field_and_mutation_has_a_rule_and_a_test() -> None:
    ops = root_operations()
    # introspection (__schema, __type) is not a field of Query: its rule is checked on its own
    assert ops == {k for k in RULES if " " not in k and ".__" not in k}, \
        "a field without a rule, or a stale rule"
    # subscriptions run over websockets: their authorization is tested in their own modules
    assert {op for op in ops if not op.startswith("Subscription.")} == set(REQUESTS)


@pytest.fixture
def app(runtime: Runtime) -> Iterator[tuple[TestClient, Runtime, dict[str, dict[str, str]]]]:
    plantlet.load(runtime)
    users = {role: make_user(runtime, f"user.{role}", [role]) for role in sorted(ALL_ROLES)}
    with TestClient(create_app(runtime.settings, runtime)) as c:
        yield c, runtime, {role: bearer(c, u) for role, u in users.items()}


def _variables(vs: dict[str, Any]) -> dict[str, Any]:
    out = dict(vs)
    if out.get("d") == "CAPTURE":
        n = next(_fresh)
        out["d"] = {"format": "tracegraph.capture/1", "events": [{
            "eventId": f"authz-{n}", "nodes": [{"class": "Customer", "key": f"C-{n}",
                                                "properties": {"name": f"Clinic {n}"}}]}]}
    if out.get("u") == "NEW":
        out["u"] = f"new.person{next(_fresh)}"
    return out


@pytest.mark.req("URS-ACC-01")
def test_each_role_can_do_exactly_what_its_rule_allows(
        app: tuple[TestClient, Runtime, dict[str, dict[str, str]]]) -> None:
    client, rt, headers = app
    unauthorised_successes = []
    for (op, (query, vs)), role in itertools.product(sorted(REQUESTS.items()),
                                                     sorted(ALL_ROLES)):
        before = rt.store.watermark()
        body = client.post("/graphql", json={"query": query, "variables": _variables(vs)},
                           headers=headers[role]).json()
        codes = {e.get("extensions", {}).get("code") for e in body.get("errors") or []}
        allowed = role in RULES[op]
        if allowed:
            assert "FORBIDDEN" not in codes and body.get("data"), (op, role, body)
        else:
            if "FORBIDDEN" not in codes or (body.get("data") or {}).get(op.split(".")[1]):
                unauthorised_successes.append((op, role))
            if op.startswith("Mutation."):
                assert rt.store.watermark() == before, (op, role, "wrote despite refusal")
    assert unauthorised_successes == []


@pytest.mark.req("URS-ACC-01")
def test_the_auditor_reads_everything_and_writes_nothing(
        app: tuple[TestClient, Runtime, dict[str, dict[str, str]]]) -> None:
    _client, _rt, _headers = app
    readable = {op for op, roles in RULES.items() if "auditor" in roles}
    assert {op for op in RULES if op.startswith("Query.")} <= readable
    assert not {op for op in readable if op.startswith("Mutation.")}


@pytest.mark.parametrize("op", sorted(REQUESTS))
@pytest.mark.req("URS-ACC-01")
def test_unauthenticated_calls_are_refused(
        app: tuple[TestClient, Runtime, dict[str, dict[str, str]]], op: str) -> None:
    client, rt, _ = app
    query, vs = REQUESTS[op]
    before = rt.store.watermark()
    for header in ({}, {"Authorization": "Bearer not-a-token"}):
        body = client.post("/graphql", json={"query": query, "variables": _variables(vs)},
                           headers=header).json()
        assert {e["extensions"]["code"] for e in body["errors"]} == {"UNAUTHENTICATED"}
    assert rt.store.watermark() == before


@pytest.mark.req("URS-ACC-01")
def test_http_routes_need_a_token_and_a_role(
        app: tuple[TestClient, Runtime, dict[str, dict[str, str]]]) -> None:
    client, _, headers = app
    assert client.post("/api/recall", json={"seeds": ["RL-PP"]}).status_code == 401
    assert client.post("/api/recall", json={"seeds": ["RL-PP"]},
                       headers=headers["auditor"]).status_code == 200
    bad = client.post("/auth/token", data={"username": "user.qa", "password": "wrong"})
    assert bad.status_code == 401 and bad.json()["detail"]["code"] == "invalid-credentials"


@pytest.mark.req("URS-ACC-01", "URS-ACC-03")
def test_a_locked_or_disabled_account_loses_its_token_at_once(
        app: tuple[TestClient, Runtime, dict[str, dict[str, str]]]) -> None:
    from quality.accounts import set_account_status

    client, rt, headers = app
    ok = client.post("/graphql", json={"query": "{ me { username } }"}, headers=headers["qc"])
    assert ok.json()["data"]["me"]["username"] == "user.qc"
    set_account_status(rt, "user.qc", "disabled", actor="user.admin", reason="left the company")
    gone = client.post("/graphql", json={"query": "{ me { username } }"}, headers=headers["qc"])
    assert gone.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
