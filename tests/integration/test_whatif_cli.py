"""`tracegraph recall whatif|compare|prove` (issue 18 item 3) on the plantlet (RL-PP → B-MOULD →
B-ASSY ← RL-TUBE → SN-1..3 → case → SHIP-1 → HOSP-1), and the bulk recall still answering
`tracegraph recall --seeds`."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from tests import plantlet
from tests.conftest import PASSWORD, make_user, migrate
from tracegraph.cli import app
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


def test_whatif_compare_and_prove_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rt = Runtime.open(Settings(data_dir=data))
    migrate(rt, *plantlet.documents())
    make_user(rt, "qa.quinn", ["qa"])
    make_user(rt, "op.otto", ["operator"])
    rt.close()
    env = {"TRACEGRAPH_DATA_DIR": str(data), "TRACEGRAPH_STORE": "embedded",
           "TRACEGRAPH_PASSWORD": PASSWORD}

    def run(*args: str) -> tuple[int, str]:
        r = CliRunner().invoke(app, ["recall", *args], env=env)
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
        return r.exit_code, " ".join(r.output.split())

    code, out = run("compare", "resin=lot:PA-778", "tube=lot:RL-TUBE", "--json")
    assert code == 0, out
    body = orjson.loads(out[out.index("{"):])
    assert body["shared"] == {"Batch": 1, "Customer": 1, "PackagingAggregation": 1,
                              "SerializedUnit": 3, "Shipment": 1}
    assert body["adds"] == {"resin": {"Batch": 1, "MaterialLot": 1}, "tube": {"MaterialLot": 1}}
    code, out = run("whatif", "both=lot:PA-778+lot:RL-TUBE")
    assert code == 0 and "SerializedUnit" in out, out

    proof = tmp_path / "proof.json"
    code, out = run("prove", "tube=lot:RL-TUBE", "B-MOULD", "--user", "qa.quinn",
                    "--reason", "recall scoping", "--out", str(proof))
    assert code == 0 and "No derivation path leads" in out and "signed by" in out, out
    assert orjson.loads(proof.read_bytes())["exposed"] is False

    code, out = run("prove", "tube=lot:RL-TUBE", "SN-2", "--user", "qa.quinn",
                    "--reason", "recall scoping")
    assert code == 1 and "witness:" in out and "SerializedUnit/SN-2" in out, out
    assert "exposure fraction of" in out
    code, out = run("prove", "tube=lot:RL-TUBE", "B-MOULD", "--user", "op.otto",
                    "--reason", "let me")
    assert code == 2 and "refused" in out and "[role]" in out, out
    code, out = run("whatif", "uv=equipment:IMM-01")
    assert code == 2 and "window-required" in out, out

    seeds = tmp_path / "seeds.csv"
    seeds.write_text("lot\nPA-778\n", encoding="utf-8")
    code, out = run("--seeds", str(seeds), "--out", str(tmp_path / "files"))
    assert code == 0 and (tmp_path / "files" / "recall.json").exists(), out
