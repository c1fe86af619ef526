"""``tracegraph restore BACKUP DATA_DIR --engine neo4j`` (issue 19 item 2): a backup goes
straight into an empty Neo4j database with the same checks and refusals as an embedded
restore; on any failure the database is empty again and the data directory is not made."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from typer.testing import CliRunner, Result

from bench.backup_writer import main as write
from graph.audit import load_or_create_key, load_public_key
from graph.engines.sqlite.store import SQLiteStore
from tests.conftest import neo4j_uri
from tracegraph.backup import backup
from tracegraph.settings import Settings

if TYPE_CHECKING:
    from graph.engines.neo4j import Neo4jStore

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A signed backup of a small store with signal files: (backup, source data dir, key)."""
    tmp = tmp_path_factory.mktemp("signed")
    write(tmp / "data", 12)
    key = tmp / "keys" / "backup.pem"
    done = backup(Settings(data_dir=tmp / "data"), tmp / "backups", key=load_or_create_key(key))
    return done.path, tmp / "data", key


def cli(*args: str) -> Result:
    from tracegraph.cli.main import app

    return CliRunner().invoke(app, list(args), env={
        "TRACEGRAPH_STORE": "embedded", "NEO4J_URI": neo4j_uri() or "", "COLUMNS": "200"})


def _empty(st: Neo4jStore) -> Any:
    return st.watermark() == 0 and st.audit_head()[0] == 0 and not st.counts()


def test_a_backup_restores_straight_into_neo4j(_neo4j_store: Neo4jStore, signed: tuple[
        Path, Path, Path], tmp_path: Path) -> None:
    bk, source, key = signed
    st = _neo4j_store
    st.wipe()
    r = cli("restore", str(bk), str(tmp_path / "data"), "--engine", "neo4j", "--public-key",
            f"{key}.pub", "--json")
    assert r.exit_code == 0, r.output
    out = orjson.loads(r.output)
    assert out["engine"] == "neo4j" and out["audit"]["ok"]
    src = SQLiteStore(source / "tracegraph.sqlite")
    try:
        assert st.counts() == src.counts()
        assert st.watermark() == src.watermark()
        assert st.audit_head() == src.audit_head()
    finally:
        src.close()
    # the data directory holds the raw signal files, not a second store
    restored = {p.relative_to(tmp_path / "data").as_posix()
                for p in (tmp_path / "data").rglob("*") if p.is_file()}
    assert restored and all(p.startswith("signals/") for p in restored)
    st.wipe()


def test_restore_into_a_neo4j_that_holds_data_is_refused(_neo4j_store: Neo4jStore, signed: tuple[
        Path, Path, Path], tmp_path: Path) -> None:
    from tests import plantlet
    from tracegraph.runtime import Runtime

    bk, _, _ = signed
    st = _neo4j_store
    st.wipe()
    plantlet.load(Runtime.open(Settings(data_dir=tmp_path / "x"), store=st))
    before = (st.watermark(), st.audit_head(), st.counts())
    r = cli("restore", str(bk), str(tmp_path / "data"), "--engine", "neo4j", "--json")
    assert r.exit_code == 1
    rules = {p["rule"]: p["field"] for p in orjson.loads(r.output)["problems"]}
    assert rules == {"target-not-empty": "NEO4J_URI"}
    assert (st.watermark(), st.audit_head(), st.counts()) == before
    assert not (tmp_path / "data").exists()
    st.wipe()


def test_a_damaged_backup_is_refused_before_neo4j_is_touched(_neo4j_store: Neo4jStore, signed:
                                                             tuple[Path, Path, Path],
                                                             tmp_path: Path) -> None:
    bk, _, _ = signed
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(bk), str(copy)], check=True)
    store_file = copy / "tracegraph.sqlite"
    data = bytearray(store_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    os.chmod(store_file, 0o600)
    store_file.write_bytes(bytes(data))
    st = _neo4j_store
    st.wipe()
    r = cli("restore", str(copy), str(tmp_path / "data"), "--engine", "neo4j", "--json")
    assert r.exit_code == 1
    assert {p["rule"] for p in orjson.loads(r.output)["problems"]} == {"checksum"}
    assert _empty(st) and not (tmp_path / "data").exists()


def test_a_failure_after_the_load_empties_neo4j_again(
        _neo4j_store: Neo4jStore, signed: tuple[Path, Path, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tracegraph.restore as R

    loaded: list[int] = []

    def broken(store: Any, **kwargs: Any) -> Any:  # the verify in Neo4j, after the load
        loaded.append(store.watermark())
        raise RuntimeError("injected failure after the load")

    bk, _, key = signed
    st = _neo4j_store
    st.wipe()
    monkeypatch.setattr(R, "verify_store", broken)
    with pytest.raises(RuntimeError, match="injected"):  # the copy verifies by its checkpoint
        R.restore(bk, tmp_path / "data", load_public_key(Path(f"{key}.pub")), server=st)
    assert loaded and loaded[0] > 0  # the store was in Neo4j when the failure came
    assert _empty(st)
    assert not (tmp_path / "data").exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".restore-partial")] == []
