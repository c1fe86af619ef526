"""``tracegraph suppliers …`` as a user runs it (embedded store in a temp dir): the ASL, a
receipt refused by it, an incoming inspection by the QC account (and refused to the
administrator), the scorecard."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests import plantlet
from tests.conftest import make_user
from tests.integration.test_cli import migrate, run, write_docs
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


def _receipt(key: str, supplier: str) -> dict[str, object]:
    return {"format": "tracegraph.capture/1", "events": [{"eventId": f"rcv-{key}", "nodes": [{
        "class": "MaterialLot", "key": key, "properties": {
            "quantity": 50, "unitCode": "kg", "materialLotStatus": "Quarantine",
            "receivedAt": "2026-03-03T08:00:00Z", "expiryDate": "2027-03-01",
            "supplierLotNumber": f"S-{key}"},
        "links": {"ofMaterial": "Material/PP-H350", "suppliedBy": f"Supplier/{supplier}"}}]}]}


def test_suppliers_cli_asl_receipt_inspection_and_scorecard(tmp_path: Path) -> None:
    docs = [plantlet.master_data(), plantlet.asl()]
    assert migrate(tmp_path, write_docs(tmp_path, docs)).returncode == 0
    asl = orjson.loads(run(tmp_path, "suppliers", "asl", "--json").stdout)
    assert [(e["key"], e["status"]) for e in asl] == [("ASL/SUP-PP/PP-H350", "approved"),
                                                      ("ASL/SUP-TUBE/PVC-TUBE", "approved")]
    refused = run(tmp_path, "load", str(write_docs(tmp_path, [_receipt("RL-T", "SUP-TUBE")])))
    assert refused.returncode == 1 and "asl-approved" in refused.stderr
    assert run(tmp_path, "load", str(write_docs(tmp_path, [_receipt("RL-P", "SUP-PP")]))
               ).returncode == 0
    rt = Runtime.open(Settings(data_dir=tmp_path / "store", store="embedded"))
    try:
        make_user(rt, "iqc.inspector", ["qc"])  # the test password is the CLI's too
    finally:
        rt.close()
    args = ("suppliers", "inspect", "RL-P", "--lot-size", "1000", "--aql", "1.0",
            "--nonconforming", "3", "--reason", "IQC: 3 in 80")
    admin = run(tmp_path, *args, "--user", "it.admin")
    assert admin.returncode == 2 and "(role):" in admin.stderr  # an administrator is not QC
    done = run(tmp_path, *args, "--user", "iqc.inspector")
    assert done.returncode == 0, done.stderr
    assert "code J, sample 80, Ac 2 Re 3: rejected" in done.stdout
    card = orjson.loads(run(tmp_path, "suppliers", "scorecard", "SUP-PP", "--from",
                            "2026-03-01", "--to", "2026-04-01", "--json").stdout)
    assert (card["lots_received"], card["lots_rejected"], card["rejectionRate"]) == (
        ["RL-P"], ["RL-P"], 1.0)
