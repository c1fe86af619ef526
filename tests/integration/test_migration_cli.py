"""``tracegraph migrate`` on the command line: exit codes a migration script relies on, the
administrator's signature for apply and rollback, and what an operator cannot do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graph.audit import verify_store
from graph.authority import MIGRATION_STAGE
from tests.conftest import PASSWORD, make_user
from tracegraph.cli.main import app
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings, settings

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples" / "migration"
ERP = EX / "erp-batches"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    e = {"TRACEGRAPH_DATA_DIR": str(tmp_path / "data"), "TRACEGRAPH_STORE": "embedded",
         "TRACEGRAPH_PASSWORD": PASSWORD}
    r = CliRunner().invoke(app, ["user", "create-admin", "--username", "ada", "--name", "Ada",
                                 "--password-stdin"], input=PASSWORD + "\n", env=e)
    assert r.exit_code == 0, r.output
    rt = Runtime.open(Settings(data_dir=tmp_path / "data"))
    try:
        make_user(rt, "otto", ["operator"])
    finally:
        rt.close()
    settings.cache_clear()
    load = CliRunner().invoke(app, ["load", "--user", "ada", "--migration", "--reason",
                                    "master data", str(EX / "master-data.json")], env=e)
    assert load.exit_code == 0, load.output
    yield e
    settings.cache_clear()  # leave no other test this one's data dir


def _run(env: dict[str, str], *args: str, user: str | None = None) -> tuple[int, str]:
    settings.cache_clear()  # the CLI reads its settings once per process: this test's data dir
    extra = ["--user", user, "--reason", "go-live"] if user else []
    r = CliRunner().invoke(app, ["migrate", *args, *extra], env=env)
    return r.exit_code, r.output


def _stage_records(env: dict[str, str], stage: str) -> int:
    rt = Runtime.open(Settings(data_dir=Path(env["TRACEGRAPH_DATA_DIR"])))
    try:
        return len(rt.store.find(stage, MIGRATION_STAGE))
    finally:
        rt.close()


def test_the_whole_cycle_and_its_exit_codes(env: dict[str, str], tmp_path: Path) -> None:
    m, src = ["-m", str(ERP / "mapping.toml")], str(ERP / "batches.csv")
    assert _run(env, "plan", *m, src)[0] == 0
    code, out = _run(env, "dry-run", *m, src, "--stage", "erp-1", "--json")
    assert code == 0 and json.loads(out)["records"] == {"Batch": 6}
    code, out = _run(env, "apply", *m, src, "--stage", "erp-1", user="ada")
    assert code == 0 and "applied in transaction" in out, out
    assert _stage_records(env, "erp-1") == 6
    assert _run(env, "verify", *m, src, "--stage", "erp-1")[0] == 0
    changed = tmp_path / "batches.csv"  # the source differs from what was loaded
    changed.write_text((ERP / "batches.csv").read_text().replace("5000,EA", "5001,EA"))
    code, out = _run(env, "verify", *m, str(changed), "--stage", "erp-1", "--json")
    report = json.loads(out)
    assert code == 1 and report["mismatchCount"] == 1
    assert [c["what"] for c in report["checks"] if not c["ok"]] == ["sum of Batch.quantity"]
    code, out = _run(env, "rollback", "--stage", "erp-1", user="ada")
    assert code == 0 and "rolled back stage erp-1" in out, out
    assert _stage_records(env, "erp-1") == 0
    rt = Runtime.open(Settings(data_dir=Path(env["TRACEGRAPH_DATA_DIR"])))
    try:
        assert verify_store(rt.store).ok
    finally:
        rt.close()


def test_plan_and_dry_run_exit_1_on_problems(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "m.toml"
    bad.write_text((ERP / "mapping.toml").read_text().replace('"Batch"', '"Batchh"'))
    code, out = _run(env, "plan", "-m", str(bad), str(ERP / "batches.csv"), "--json")
    assert code == 1
    assert json.loads(out)["problems"][0]["rule"] == "ontology-unknown-term"
    rows = tmp_path / "b.csv"
    rows.write_text((ERP / "batches.csv").read_text().replace(",R,", ",Z,", 1))
    code, out = _run(env, "dry-run", "-m", str(ERP / "mapping.toml"), str(rows), "--stage", "x",
                     "--json")
    problems = json.loads(out)["problems"]
    assert code == 1 and [(p["row"], p["column"], p["value"], p["rule"]) for p in problems] == [
        (2, "STATUS", "Z", "code-value")]


def test_an_operator_can_neither_apply_nor_roll_back(env: dict[str, str]) -> None:
    m, src = ["-m", str(ERP / "mapping.toml")], str(ERP / "batches.csv")
    code, out = _run(env, "apply", *m, src, "--stage", "s", user="otto")
    assert code == 2 and "administrator" in out
    assert _stage_records(env, "s") == 0
    code, out = _run(env, "apply", *m, src, "--stage", "s", user="ada")
    assert code == 0 and _stage_records(env, "s") == 6, out
    code, out = _run(env, "rollback", "--stage", "s", user="otto")
    assert code == 2 and "administrator" in out
    assert _stage_records(env, "s") == 6
    wrong = {**env, "TRACEGRAPH_PASSWORD": "not the password"}
    assert _run(wrong, "rollback", "--stage", "s", user="ada")[0] == 2  # re-authenticated
    assert _stage_records(env, "s") == 6


def test_a_reason_is_required(env: dict[str, str]) -> None:
    settings.cache_clear()
    r = CliRunner().invoke(app, ["migrate", "rollback", "--stage", "s", "--user", "ada",
                                 "--reason", "  "], env=env)
    assert r.exit_code == 2 and "reason" in r.output
