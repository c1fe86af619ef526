"""Restore drills (issue 19 item 2): back up a live store while another process writes, kill -9
a backup half-way, tamper with backups; restore and ``audit verify`` every time."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pytest
from typer.testing import CliRunner, Result

from bench.backup_writer import T0_MS
from bench.backup_writer import main as write
from graph.engines.sqlite.store import SQLiteStore
from ingest.signals.rawstore import RawStore
from tests.conftest import neo4j_uri
from tracegraph.backup import MANIFEST, BackupRefused, backup, complete_backups
from tracegraph.restore import restore
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

if TYPE_CHECKING:
    from graph.engines.neo4j import Neo4jStore

ROOT = Path(__file__).resolve().parents[2]
EXE = str(Path(sys.executable).with_name("tracegraph"))


class Acks:
    """The acknowledged writes a writer process printed: (key, tx, sample time) in order."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.rows: list[tuple[str, int, int]] = []
        self.ready = threading.Event()
        self._t = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._t.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            parts = line.split()
            if parts == ["ready"]:
                self.ready.set()
            elif parts and parts[0] == "ack":
                self.rows.append((parts[1], int(parts[2]), int(parts[3])))

    def wait_for(self, n: int, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while len(self.rows) < n:
            assert time.monotonic() < end, f"the writer acknowledged only {len(self.rows)}"
            time.sleep(0.01)

    def join(self) -> None:
        self._t.join(10)


@contextmanager
def writer(data: Path) -> Iterator[Acks]:
    """A second process writing through the Writer (and the raw store) until the block ends."""
    proc = subprocess.Popen([sys.executable, "-m", "bench.backup_writer", str(data)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    acks = Acks(proc)
    try:
        yield acks
    finally:
        proc.kill()
        proc.wait(10)
        acks.join()


def cli(data: Path, *args: str, store: str = "embedded") -> Result:
    """The command line, in this process (as ``tracegraph ARGS`` with the data dir set)."""
    from tracegraph.cli.main import app

    return CliRunner().invoke(app, list(args), env={
        "TRACEGRAPH_DATA_DIR": str(data), "TRACEGRAPH_STORE": store, "COLUMNS": "200"})


def materials(data: Path) -> set[str]:
    store = SQLiteStore(data / "tracegraph.sqlite")
    try:
        return {n.key for n in store.nodes_of_class("Material")}
    finally:
        store.close()


def samples(data: Path) -> set[int]:
    raw = RawStore(data / "signals")
    try:
        return {o.source_ms for o in raw.window("DRILL-EQ", "temp", T0_MS, T0_MS + 10**6)}
    finally:
        raw.close()


@pytest.mark.req("URS-REC-03")
def test_backup_under_a_writing_process_restores_every_acknowledged_write(
        tmp_path: Path) -> None:
    data, dest = tmp_path / "data", tmp_path / "backups"
    with writer(data) as acks:
        acks.wait_for(5)
        before = list(acks.rows)
        done = backup(Settings(data_dir=data), dest)
        n_during = len(acks.rows)
        acks.wait_for(n_during + 3)  # the writer was never stopped
    m = done.manifest
    restored = tmp_path / "restored"
    out = cli(tmp_path / "unused", "restore", str(done.path), str(restored), "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    report = orjson.loads(out.stdout)
    assert report["ok"] and report["audit"]["ok"] and report["audit"]["state"]["ok"]
    assert report["audit"]["head_hash"] == m["audit"]["headHash"]
    # the restore is the store at its watermark: every write acknowledged at or before it, no
    # later one
    keys = materials(restored)
    assert {k for k, tx, _ in acks.rows if tx <= m["watermark"]} == keys
    assert {k for k, _, _ in before} <= keys
    assert samples(restored) >= {t for _, _, t in before}
    verify = cli(restored, "audit", "verify", "--json")
    assert verify.exit_code == 0 and orjson.loads(verify.stdout)["ok"]


def _pad_signals(data: Path, mb: int = 48) -> None:
    """A large raw day file, so that a backup takes long enough to be killed half-way."""
    (data / "signals").mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(data / "signals" / "2026-06-01.sqlite")
    con.execute("CREATE TABLE pad (b BLOB)")
    con.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                "INSERT INTO pad SELECT randomblob(1 << 20) FROM n", (mb,))
    con.commit()
    con.close()


@pytest.mark.req("URS-REC-03")
def test_a_backup_killed_half_way_is_never_accepted_as_complete(tmp_path: Path) -> None:
    data, dest = tmp_path / "data", tmp_path / "backups"
    _pad_signals(data)
    with writer(data) as acks:
        acks.wait_for(3)
        env = {**os.environ, "TRACEGRAPH_DATA_DIR": str(data)}
        proc = subprocess.Popen([EXE, "backup", str(dest)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 60
        while not (dest.is_dir() and any(dest.iterdir())):
            assert time.monotonic() < end and proc.poll() is None, "backup never started"
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        acked = len(acks.rows)
        assert complete_backups(dest) == []
        [partial] = list(dest.iterdir())
        with pytest.raises(BackupRefused) as e:
            restore(partial, tmp_path / "r1")
        assert {"backup-incomplete", "manifest-missing"} <= {p.rule for p in e.value.problems}
        assert not (tmp_path / "r1").exists()
        # the next scheduled run succeeds and its retention removes the dead run's leftovers
        again = backup(Settings(data_dir=data), dest, keep=1)
        assert again.removed == [partial] and list(dest.iterdir()) == [again.path]
        acks.wait_for(acked + 2)
    restore(again.path, tmp_path / "r2")
    assert {k for k, tx, _ in acks.rows if tx <= again.manifest["watermark"]} \
        == materials(tmp_path / "r2")


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One backup of a small store (12 rounds of the drill writer, in this process)."""
    tmp = tmp_path_factory.mktemp("sealed")
    write(tmp / "data", 12)
    return backup(Settings(data_dir=tmp / "data"), tmp / "backups").path


def _copy(sealed: Path, tmp: Path) -> Path:
    out = tmp / "copy"
    subprocess.run(["cp", "-a", str(sealed), str(out)], check=True)
    return out


def _refused(bk: Path, target: Path) -> dict[str, str]:
    with pytest.raises(BackupRefused) as e:
        restore(bk, target)
    assert not target.exists() or not any(target.iterdir())  # nothing written
    assert [p for p in target.parent.iterdir() if p.name.startswith(".restore-partial")] == []
    return {p.rule: p.field for p in e.value.problems}


def _edit_manifest(bk: Path, edit: dict[str, object], redigest: bool) -> None:
    import hashlib

    from tracegraph.backup import canonical

    m = orjson.loads((bk / MANIFEST).read_bytes())
    m.update(edit)
    if redigest:  # what a forger without the signing key can do
        m["digest"] = hashlib.sha256(canonical(m)).hexdigest()
    (bk / MANIFEST).write_bytes(orjson.dumps(m))


@pytest.mark.req("URS-REC-03")
def test_a_flipped_byte_in_the_store_file_is_refused(sealed: Path, tmp_path: Path) -> None:
    bk = _copy(sealed, tmp_path)
    f = bk / "tracegraph.sqlite"
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    f.write_bytes(bytes(raw))
    assert _refused(bk, tmp_path / "r") == {"checksum": "tracegraph.sqlite"}


@pytest.mark.req("URS-REC-03")
def test_an_edited_or_missing_manifest_is_refused(sealed: Path, tmp_path: Path) -> None:
    bk = _copy(sealed, tmp_path)
    _edit_manifest(bk, {"watermark": 5}, redigest=False)
    assert _refused(bk, tmp_path / "r") == {"manifest-altered": "digest"}
    _edit_manifest(bk, {"watermark": 5}, redigest=True)  # caught by the restored store itself
    assert _refused(bk, tmp_path / "r") == {"manifest-mismatch": "watermark"}
    (bk / MANIFEST).unlink()
    assert _refused(bk, tmp_path / "r") == {"manifest-missing": MANIFEST}


@pytest.mark.req("URS-REC-03")
def test_a_consistently_forged_store_fails_audit_verify_and_is_refused(
        sealed: Path, tmp_path: Path) -> None:
    import hashlib

    bk = _copy(sealed, tmp_path)
    con = sqlite3.connect(bk / "tracegraph.sqlite")
    con.execute("UPDATE nodes SET props = json_set(props, '$.name', 'forged') "
                "WHERE key = 'DRILL-3'")
    con.commit()
    con.close()
    m = orjson.loads((bk / MANIFEST).read_bytes())
    f = bk / "tracegraph.sqlite"
    m["files"]["tracegraph.sqlite"] = {"sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
                                       "bytes": f.stat().st_size}
    (bk / MANIFEST).write_bytes(orjson.dumps(m))
    _edit_manifest(bk, {}, redigest=True)
    assert _refused(bk, tmp_path / "r") == {"audit-verify": "state"}


@pytest.mark.req("URS-REC-03")
def test_restore_refuses_a_target_that_is_not_empty(sealed: Path, tmp_path: Path) -> None:
    target = tmp_path / "r"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(BackupRefused) as e:
        restore(sealed, target)
    assert [(p.rule, p.value) for p in e.value.problems] == [("target-not-empty", str(target))]
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


@pytest.mark.req("URS-REC-03")
def test_cli_backup_is_private_signed_and_keeps_n(tmp_path: Path) -> None:
    data, dest = tmp_path / "data", tmp_path / "backups"
    write(data, 3)
    key = tmp_path / "keys" / "backup.pem"
    made = [orjson.loads(cli(data, "backup", str(dest), "--keep", "2", "--key", str(key),
                             "--json").stdout)["path"] for _ in range(3)]
    assert [p.name for p in complete_backups(dest)] == [Path(p).name for p in made[1:]]
    bk = Path(made[-1])
    for p in [dest, bk, *bk.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))
    m = orjson.loads((bk / MANIFEST).read_bytes())
    assert m["signature"] and m["checkpoint"] == "checkpoint.json"
    ok = cli(data, "restore", str(bk), str(tmp_path / "r"), "--public-key", f"{key}.pub")
    assert ok.exit_code == 0 and "checkpoint at seq" in ok.stdout, ok.stderr
    other = tmp_path / "other.pem"
    cli(data, "backup", str(tmp_path / "b2"), "--key", str(other))  # makes another key
    wrong = cli(data, "restore", str(bk), str(tmp_path / "r2"), "--public-key",
                f"{other}.pub", "--json")
    assert wrong.exit_code == 1 and not (tmp_path / "r2").exists()
    assert [p["rule"] for p in orjson.loads(wrong.stdout)["problems"]] == ["manifest-signature"]


def test_cli_names_the_documented_procedure_when_neo4j_cannot_be_reached(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEO4J_URI", raising=False)
    out = cli(tmp_path / "data", "backup", str(tmp_path / "b"), "--json", store="neo4j")
    assert out.exit_code == 1
    [p] = orjson.loads(out.stdout)["problems"]
    assert (p["rule"], p["field"], p["value"]) == ("store-unreachable", "NEO4J_URI", None)
    assert "neo4j-admin database dump" in p["message"]
    assert complete_backups(tmp_path / "b") == []


@pytest.mark.neo4j
def test_a_neo4j_store_backed_up_through_the_portable_path_restores_embedded(
        _neo4j_store: Neo4jStore, tmp_path: Path) -> None:
    from tests import plantlet

    st = _neo4j_store
    st.wipe()
    plantlet.load(Runtime.open(Settings(data_dir=tmp_path), store=st))
    cfg = Settings(data_dir=tmp_path / "data", store="neo4j",
                   NEO4J_URI=neo4j_uri())  # user and password from the environment
    done = backup(cfg, tmp_path / "b")
    assert done.manifest["layout"] == "portable"
    assert done.manifest["audit"]["headHash"] == st.audit_head()[1]
    r = restore(done.path, tmp_path / "restored")
    assert r.report.ok and r.report.head_hash == st.audit_head()[1]
    restored = SQLiteStore(tmp_path / "restored" / "tracegraph.sqlite")
    try:
        assert restored.counts() == st.counts()
        assert restored.watermark() == st.watermark()
    finally:
        restored.close()


@pytest.mark.req("URS-REC-03", "URS-SEC-01")
def test_no_api_surface_offers_backup_or_restore() -> None:
    """Backups are taken by the OS user who owns the data directory (CLI), never over HTTP."""
    from api.app import create_app
    from api.graphql import schema

    paths = [getattr(r, "path", "") for r in create_app().routes]
    assert not [p for p in paths if "backup" in p or "restore" in p]
    sdl = schema.as_str().lower()
    assert "backup" not in sdl and "restore" not in sdl


def test_a_manifest_naming_files_outside_the_backup_is_refused(sealed: Path,
                                                               tmp_path: Path) -> None:
    bk = _copy(sealed, tmp_path)
    m = orjson.loads((bk / MANIFEST).read_bytes())
    m["files"]["../../escaped.txt"] = {"sha256": "0" * 64, "bytes": 0}
    m["files"].pop("tracegraph.sqlite")
    (bk / MANIFEST).write_bytes(orjson.dumps(m))
    _edit_manifest(bk, {}, redigest=True)
    refused = _refused(bk, tmp_path / "r")
    assert refused == {"file-path": "files", "file-missing": "files"}
    assert not (tmp_path / "escaped.txt").exists()


def test_backups_inside_the_data_directory_are_refused(sealed: Path, tmp_path: Path) -> None:
    data = sealed.parents[1] / "data"
    with pytest.raises(BackupRefused) as e:
        backup(Settings(data_dir=data), data / "backups")
    assert [(p.rule, p.field) for p in e.value.problems] == [("dest-inside-data-dir", "dest")]
    assert not (data / "backups").exists()
