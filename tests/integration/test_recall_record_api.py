"""Recall records over GraphQL (both engines) and the command line (issue 18 item 5): the
operator's token is refused every step, QA's runs the lifecycle, the explorer's status overlay
reads the recalled flag, and ``tracegraph recalls`` writes the report."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from quality.accounts import create_user
from tests import plantlet
from tests.conftest import PASSWORD, bearer, make_user
from tests.integration.test_cli import ADMIN_PASSWORD, migrate, run, write_docs
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

Client = tuple[TestClient, dict[str, dict[str, str]]]
INITIATE = """mutation($p: String!) { initiateRecall(key: "RCL-API-1", seeds: ["PA-778"],
  recallClass: "II", healthHazard: "temporary", depth: "consumer", action: "removal",
  hypothesis: "resin lot PA-778 cracks", title: "Hub cracks", password: $p,
  reason: "health hazard evaluation") { ok state record { key } problems { rule field } } }"""


@pytest.fixture
def client(runtime: Runtime) -> Iterator[Client]:
    plantlet.load(runtime)
    users = {r: make_user(runtime, f"u.{r}", [r]) for r in ("qa", "qc", "operator")}
    with TestClient(create_app(runtime.settings, runtime)) as c:
        yield c, {r: bearer(c, u) for r, u in users.items()}


def post(c: TestClient, h: dict[str, str], query: str, **variables: Any) -> Any:
    return c.post("/graphql", json={"query": query, "variables": variables}, headers=h).json()


@pytest.mark.req("URS-TRC-04", "URS-ACC-02")
def test_recall_record_over_graphql(client: Client) -> None:
    c, h = client
    denied = post(c, h["operator"], INITIATE, p=PASSWORD)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for q in ('mutation { notifyRecallCustomer(recall: "RCL-API-1", customer: "HOSP-1", '
              'method: "letter", reason: "x") { ok } }',
              'mutation { recordRecallResponse(recall: "RCL-API-1", customer: "HOSP-1", '
              'note: "x", reason: "x", returned: ["SN-1"]) { ok } }',
              'mutation { terminateRecall(recall: "RCL-API-1", password: "x", reason: "x") '
              '{ ok } }'):
        assert post(c, h["operator"], q)["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    qc = post(c, h["qc"], INITIATE, p=PASSWORD)  # QC may track, not initiate
    assert qc["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    done = post(c, h["qa"], INITIATE, p=PASSWORD)["data"]["initiateRecall"]
    assert done == {"ok": True, "state": "Initiated", "record": {"key": "RCL-API-1"},
                    "problems": []}
    notified = post(c, h["qc"], 'mutation { notifyRecallCustomer(recall: "RCL-API-1", '
                    'customer: "HOSP-1", method: "letter", reason: "sent") '
                    '{ ok record { properties } } }')["data"]["notifyRecallCustomer"]
    assert notified["ok"] is True
    wrong = post(c, h["qc"], 'mutation { recordRecallResponse(recall: "RCL-API-1", '
                 'customer: "HOSP-1", note: "x", reason: "x", returned: ["RL-TUBE-X"]) '
                 '{ ok problems { rule field value } } }')["data"]["recordRecallResponse"]
    assert wrong["ok"] is False and wrong["problems"][0]["rule"] == "no-such-record"
    ok = post(c, h["qc"], 'mutation { recordRecallResponse(recall: "RCL-API-1", '
              'customer: "HOSP-1", note: "two returned", reason: "answer", '
              'returned: ["SN-1", "SN-2"]) { ok } }')["data"]["recordRecallResponse"]
    assert ok == {"ok": True}
    got = post(c, h["operator"], """{ recalls { key state recallClass scopeWatermark
        effectiveness { units accounted share consignees { customer returned } } report } }""")
    (r,) = got["data"]["recalls"]
    assert (r["key"], r["state"], r["recallClass"]) == ("RCL-API-1", "CustomersNotified", "II")
    assert r["effectiveness"]["units"] == 3 and r["effectiveness"]["accounted"] == 2
    assert r["effectiveness"]["consignees"] == [{"customer": "HOSP-1",
                                                 "returned": ["SN-1", "SN-2"]}]
    fda = {f["id"]: f["value"] for f in r["report"]["fda806"]}
    assert fda["devicesSubject"] == 3 and fda["consignees"][0]["key"] == "HOSP-1"
    status = post(c, h["operator"], """{ recordStatus(records: [
        "https://w3id.org/tracegraph/id/SerializedUnit/SN-1",
        "https://w3id.org/tracegraph/id/Material/PP-H350"]) { iri recalled recalls } }""")
    assert [(s["recalled"], s["recalls"]) for s in status["data"]["recordStatus"]] == [
        (True, ["RCL-API-1"]), (False, [])]


@pytest.mark.req("URS-TRC-04")
def test_recall_record_from_the_command_line(tmp_path: Path) -> None:
    assert migrate(tmp_path, write_docs(tmp_path, plantlet.documents())).returncode == 0
    rt = Runtime.open(Settings(data_dir=tmp_path / "store", store="embedded"))
    for user, role in (("q.adams", "qa"), ("o.olsen", "operator")):
        create_user(rt, user, ADMIN_PASSWORD, [role], printed_name=user, actor="it.admin",
                    reason="test account")
    rt.close()
    initiate = ["recalls", "initiate", "--seed", "PA-778", "--class", "II", "--hazard",
                "temporary", "--depth", "consumer", "--action", "removal", "--hypothesis",
                "resin lot cracks", "--title", "Hub cracks", "--reason", "HHE-1"]
    refused = run(tmp_path, *initiate[:2], "RCL-OP", *initiate[2:], "--user", "o.olsen")
    assert refused.returncode == 2 and "(role)" in refused.stderr
    steps = [[*initiate[:2], "RCL-CLI-1", *initiate[2:]],
             ["recalls", "notify", "RCL-CLI-1", "HOSP-1", "--reason", "letter sent"],
             ["recalls", "respond", "RCL-CLI-1", "HOSP-1", "--note", "returned", "--returned",
              "SN-1", "--returned", "SN-2", "--corrected", "SN-3", "--reason", "answer"],
             ["recalls", "check", "RCL-CLI-1", "--reason", "all notified"],
             ["recalls", "terminate", "RCL-CLI-1", "--reason", "effective"]]
    for args in steps:
        done = run(tmp_path, *args, "--user", "q.adams")
        assert done.returncode == 0, (args, done.stderr)
    shown = run(tmp_path, "recalls", "show", "RCL-CLI-1")
    assert "Terminated" in shown.stdout and "3/3 units accounted for (100.0%)" in shown.stdout
    page = tmp_path / "r.html"
    assert run(tmp_path, "recalls", "report", "RCL-CLI-1", "--format", "html", "--out",
               str(page)).returncode == 0
    assert "806.10(c)(11)" in page.read_text() and "St. Mary Hospital" in page.read_text()
    doc = orjson.loads(run(tmp_path, "recalls", "report", "RCL-CLI-1").stdout)
    nmpa = {f["id"]: f["value"] for f in doc["nmpa"]}
    assert nmpa["effect"]["share"] == 1.0 and nmpa["grade"]["zh"] == "二级召回"
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("PA-778\n")
    out = tmp_path / "export"
    assert run(tmp_path, "recall", "--seeds", str(seeds), "--out", str(out)).returncode == 0
    with (out / "recall-massbalance.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["class"] == "reconciliation" and rows[0]["key"] == "RL-PP"
