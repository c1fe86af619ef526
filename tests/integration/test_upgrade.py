"""Store upgrades (issue 19 item 3): a store written by the previous release
(``tests/fixtures/stores/schema-v2.sqlite``, made by that release's code, see ``make_v2.py``)
is upgraded by opening it — after a backup, in one transaction, recorded in the audit trail —
and then answers as a fresh load of the same data; a newer store is refused with nothing
written; a failure or a kill inside the migration leaves the old version and the backup."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest

import graph.engines.sqlite.migrations as M
from graph.audit import verify_store
from graph.engines.sqlite.store import SQLiteStore
from graph.model import Direction
from graph.port import GraphStore
from graph.portable import export_store, import_store
from graph.schema import SCHEMA_VERSION, StoreVersionError
from tests.conftest import neo4j_uri
from tracegraph.backup import MANIFEST, complete_backups
from tracegraph.restore import restore
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings
from tracegraph.upgrade import UpgradeError

if TYPE_CHECKING:
    from graph.engines.neo4j import Neo4jStore

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "stores" / "schema-v2.sqlite"
#: what the fixture holds (read from it with sqlite3 when it was made, not by tracegraph)
FIXTURE_WATERMARK, FIXTURE_AUDIT = 5, 33
ASSY = "https://w3id.org/tracegraph/id/Batch/B-ASSY"
NEWER = SCHEMA_VERSION + 1  # a store of a future tracegraph


def _old_store(tmp: Path, name: str = "data") -> Path:
    data = tmp / name
    data.mkdir()
    shutil.copyfile(FIXTURE, data / "tracegraph.sqlite")
    return data


def _header(path: Path) -> tuple[int, int, str | None]:
    """(application_id, user_version, meta schema_version), read with plain sqlite3."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT v FROM meta WHERE k = 'schema_version'").fetchone()
        return (con.execute("PRAGMA application_id").fetchone()[0],
                con.execute("PRAGMA user_version").fetchone()[0], row and row[0])
    finally:
        con.close()


def _digest(data: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(data.iterdir()) if p.is_file()}


def test_the_fixture_is_the_previous_release_layout() -> None:
    """Guards the fixture itself: schema 2, no tracegraph header, the plantlet's records."""
    assert _header(FIXTURE) == (0, 0, "2")
    con = sqlite3.connect(f"file:{FIXTURE}?mode=ro", uri=True)
    try:
        assert con.execute("SELECT v FROM meta WHERE k = 'last_tx'").fetchone()[0] == "5"
        assert con.execute("SELECT count(*) FROM audit").fetchone()[0] == FIXTURE_AUDIT
    finally:
        con.close()


def test_the_previous_release_store_is_upgraded_after_a_backup(tmp_path: Path) -> None:
    data = _old_store(tmp_path)
    rt = Runtime.open(Settings(data_dir=data))
    try:
        up = rt.upgraded
        assert up is not None and (up.from_version, up.to_version) == (2, SCHEMA_VERSION)
        assert rt.store.schema_version() == SCHEMA_VERSION
        assert _header(data / "tracegraph.sqlite") == (M.APPLICATION_ID, SCHEMA_VERSION,
                                                         str(SCHEMA_VERSION))
        # the backup: beside the data directory, sealed, of the store as it was (version 2)
        assert up.backup.parent == tmp_path / "data-upgrade-backups"
        assert complete_backups(up.backup.parent) == [up.backup]
        manifest = orjson.loads((up.backup / MANIFEST).read_bytes())
        assert manifest["schemaVersion"] == 2 and manifest["watermark"] == FIXTURE_WATERMARK
        assert manifest["digest"] == up.manifest_digest
        # the audit trail: one StoreUpgrade record, written by the upgrade's own transaction
        record = rt.store.get(up.record)
        assert record is not None and record.label == "StoreUpgrade"
        assert record.props["fromSchemaVersion"] == 2
        assert record.props["toSchemaVersion"] == SCHEMA_VERSION
        assert record.props["backupLocation"] == str(up.backup)
        assert record.props["backupManifestDigest"] == manifest["digest"]
        assert record.tx == FIXTURE_WATERMARK + 1 == rt.store.watermark()
        entries = rt.store.audit_entries(record=up.record)
        assert entries and {e.tx for e in entries} == {FIXTURE_WATERMARK + 1}
        assert entries[0].reason is not None and str(up.backup) in entries[0].reason
        report = verify_store(rt.store)
        assert report.ok and report.state is not None and report.state.ok
        assert report.checked == FIXTURE_AUDIT + len(entries)
    finally:
        rt.close()
    # opening again: current, nothing more happens
    again = Runtime.open(Settings(data_dir=data))
    assert again.upgraded is None and again.store.watermark() == FIXTURE_WATERMARK + 1
    again.close()
    assert complete_backups(tmp_path / "data-upgrade-backups") == [up.backup]
    # and the backup restores the store as it was before the upgrade
    back = restore(up.backup, tmp_path / "before")
    assert back.report.ok and back.report.checked == FIXTURE_AUDIT
    assert _header(tmp_path / "before" / "tracegraph.sqlite")[2] == "2"


def _answers(store: GraphStore, upto_seq: int) -> dict[str, Any]:
    """What a user reads from a store: records, links, the trail up to ``upto_seq``,
    lookups by identifier, genealogy both ways, counts by class."""
    nodes = [n for n in store.nodes_by_iri() if n.label != "StoreUpgrade"]
    g = store.genealogy([ASSY], Direction.BOTH)
    counts = {k: v for k, v in store.counts().items() if k != "StoreUpgrade"}
    return {
        "nodes": nodes, "edges": sorted(store.edges_by_source(), key=repr),
        "audit": [a for a in store.iter_audit() if a.seq <= upto_seq],
        "find": {v: sorted(n.iri for n in store.find(v)) for v in
                 ("RL-PP", "PA-778", "SN-1", "095060001000000012", "qa.lead", "09506000134352")},
        "genealogy": (sorted(n for n in g.nodes), g.depth, sorted(g.edges, key=repr)),
        "counts": counts,
    }


def test_the_upgraded_store_answers_as_a_fresh_load_of_the_same_data(tmp_path: Path) -> None:
    data = _old_store(tmp_path)
    # the same data loaded fresh: the fixture through the portable path into a new store
    old = SQLiteStore(data / "tracegraph.sqlite")  # opening does not upgrade it
    assert old.schema_version() == 2
    export_store(old, tmp_path / "fixture.tgp.jsonl.gz")
    old.close()
    fresh = SQLiteStore(tmp_path / "fresh.sqlite")
    import_store(fresh, tmp_path / "fixture.tgp.jsonl.gz")
    rt = Runtime.open(Settings(data_dir=data))
    try:
        assert rt.upgraded is not None
        assert _answers(rt.store, FIXTURE_AUDIT) == _answers(fresh, FIXTURE_AUDIT)
        assert _answers(fresh, FIXTURE_AUDIT)["find"]["RL-PP"]  # the lookups find something
        # one layout: the same tables, indexes, triggers and header as a store made new
        def layout(path: Path) -> tuple[Any, ...]:
            con = sqlite3.connect(path)
            try:
                return (sorted(con.execute("SELECT type, name, sql FROM sqlite_master")),
                        con.execute("PRAGMA application_id").fetchone(),
                        con.execute("PRAGMA user_version").fetchone())
            finally:
                con.close()

        assert layout(data / "tracegraph.sqlite") == layout(tmp_path / "fresh.sqlite")
    finally:
        rt.close()
        fresh.close()


def _newer_store(tmp: Path) -> Path:
    """A store written by a (future) tracegraph with the schema after this one's."""
    data = tmp / "newer"
    rt = Runtime.open(Settings(data_dir=data))
    from tests import plantlet

    plantlet.load(rt)
    rt.close()
    con = sqlite3.connect(data / "tracegraph.sqlite", isolation_level=None)
    con.execute("UPDATE meta SET v = ? WHERE k = 'schema_version'", (str(NEWER),))
    con.execute(f"PRAGMA user_version = {NEWER}")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return data


def test_a_newer_store_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    data = _newer_store(tmp_path)
    before = _digest(data)
    with pytest.raises(StoreVersionError) as e:
        Runtime.open(Settings(data_dir=data))
    assert (e.value.found, e.value.supported) == (NEWER, SCHEMA_VERSION)
    assert f"schema version {NEWER}" in str(e.value)
    assert f"schema version {SCHEMA_VERSION}" in str(e.value)
    with pytest.raises(StoreVersionError):
        SQLiteStore(data / "tracegraph.sqlite")  # every way in, not only the runtime
    assert _digest(data) == before
    assert not (tmp_path / "newer-upgrade-backups").exists()
    # the command line says it on one line, no traceback, exit 1
    exe = Path(sys.executable).with_name("tracegraph")
    p = subprocess.run([str(exe), "info"], capture_output=True, text=True, cwd=ROOT, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(ROOT),
                            "TRACEGRAPH_DATA_DIR": str(data), "TRACEGRAPH_STORE": "embedded"})
    assert p.returncode == 1
    assert f"schema version {NEWER}" in p.stderr and "Traceback" not in p.stderr
    assert _digest(data) == before


def test_a_sqlite_file_of_another_application_is_not_opened(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("PRAGMA application_id = 42")
    con.execute("CREATE TABLE t (x)")
    con.close()
    before = other.read_bytes()
    with pytest.raises(StoreVersionError, match="another application"):
        SQLiteStore(other)
    assert other.read_bytes() == before


def _failing_step(c: sqlite3.Connection, identifiers: Any) -> None:
    M._identity_in_header(c, identifiers)  # the real step ran, then the failure
    raise sqlite3.OperationalError("injected failure inside the migration")


def test_a_failing_migration_leaves_the_old_version_and_the_backup(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _old_store(tmp_path)
    monkeypatch.setitem(M.STEPS, 3, _failing_step)
    with pytest.raises(UpgradeError) as e:
        Runtime.open(Settings(data_dir=data))
    assert e.value.found == 2 and e.value.backup is not None
    assert "still at version 2" in str(e.value) and str(e.value.backup) in str(e.value)
    assert _header(data / "tracegraph.sqlite") == (0, 0, "2")
    store = SQLiteStore(data / "tracegraph.sqlite")
    try:
        assert store.watermark() == FIXTURE_WATERMARK
        assert store.audit_head()[0] == FIXTURE_AUDIT
        assert store.find("UPG", None) == [] and "StoreUpgrade" not in store.counts()
    finally:
        store.close()
    assert complete_backups(tmp_path / "data-upgrade-backups") == [e.value.backup]
    assert restore(e.value.backup, tmp_path / "restored").report.ok


_KILLED_UPGRADE = """
import sys, time
from pathlib import Path
import graph.engines.sqlite.migrations as M
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

real = M.STEPS[3]

def step(c, identifiers):
    real(c, identifiers)
    Path(sys.argv[2]).write_text("in the migration")
    time.sleep(120)

M.STEPS[3] = step
Runtime.open(Settings(data_dir=Path(sys.argv[1])))
"""


def test_a_kill_during_the_migration_leaves_the_old_version(tmp_path: Path) -> None:
    data = _old_store(tmp_path)
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_UPGRADE, str(data), str(marker)],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        end = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, "the upgrading process ended before the migration"
            assert time.monotonic() < end
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert M.stored_version(str(data / "tracegraph.sqlite")) == 2
    assert _header(data / "tracegraph.sqlite") == (0, 0, "2")
    backups = complete_backups(tmp_path / "data-upgrade-backups")
    assert len(backups) == 1 and restore(backups[0], tmp_path / "restored").report.ok
    # the next start upgrades it (a second backup first) and the trail verifies
    rt = Runtime.open(Settings(data_dir=data))
    try:
        assert rt.upgraded is not None and rt.upgraded.from_version == 2
        assert rt.store.watermark() == FIXTURE_WATERMARK + 1
        assert verify_store(rt.store).ok
    finally:
        rt.close()
    assert len(complete_backups(tmp_path / "data-upgrade-backups")) == 2


def test_cli_upgrade_upgrades_once(tmp_path: Path) -> None:
    data = _old_store(tmp_path)
    exe = Path(sys.executable).with_name("tracegraph")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRACEGRAPH_DATA_DIR": str(data),
           "TRACEGRAPH_STORE": "embedded",
           "TRACEGRAPH_UPGRADE_BACKUP_DIR": str(tmp_path / "ups")}
    first = subprocess.run([str(exe), "upgrade", "--json"], capture_output=True, text=True,
                           cwd=ROOT, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    out = orjson.loads(first.stdout)
    assert out["schemaVersion"] == SCHEMA_VERSION and out["upgraded"]["from"] == 2
    assert Path(out["upgraded"]["backup"]).parent == tmp_path / "ups"
    second = subprocess.run([str(exe), "upgrade", "--json"], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=120)
    assert orjson.loads(second.stdout)["upgraded"] is None


# -- Neo4j: the fixture through the portable path into a Neo4j as the previous release left it --
def _legacy_neo4j(st: Neo4jStore, tmp: Path) -> Path:
    """The fixture loaded into the database, then its StoreSchema record removed: releases up
    to schema 2 wrote none (and no store id)."""
    old = SQLiteStore(_old_store(tmp, "src") / "tracegraph.sqlite")
    portable = tmp / "fixture.tgp.jsonl.gz"
    export_store(old, portable)
    old.close()
    st.wipe()
    import_store(st, portable)
    st.driver.execute_query("MATCH (s:StoreSchema) DELETE s")
    assert st.schema_version() == 2 and st.store_id is None
    return portable


def _neo4j_settings(tmp: Path) -> Settings:
    return Settings(data_dir=tmp / "data", store="neo4j", NEO4J_URI=neo4j_uri())


@pytest.mark.neo4j
def test_neo4j_store_of_the_previous_release_is_upgraded(_neo4j_store: Neo4jStore,
                                                         tmp_path: Path) -> None:
    portable = _legacy_neo4j(_neo4j_store, tmp_path)
    rt = Runtime.open(_neo4j_settings(tmp_path))
    try:
        up = rt.upgraded
        assert up is not None and (up.from_version, up.to_version) == (2, SCHEMA_VERSION)
        assert rt.store.schema_version() == SCHEMA_VERSION
        store_id = getattr(rt.store, "store_id", None)
        assert store_id and len(store_id) == 32
        manifest = orjson.loads((up.backup / MANIFEST).read_bytes())
        assert manifest["layout"] == "portable" and manifest["schemaVersion"] == 2
        record = rt.store.get(up.record)
        assert record is not None and record.props["backupManifestDigest"] == manifest["digest"]
        assert verify_store(rt.store).ok
        # the same answers as a fresh load of the same data (an embedded store, the reference)
        fresh = SQLiteStore(tmp_path / "fresh.sqlite")
        import_store(fresh, portable)
        try:
            assert _answers(rt.store, FIXTURE_AUDIT) == _answers(fresh, FIXTURE_AUDIT)
        finally:
            fresh.close()
    finally:
        rt.close()
    _neo4j_store.schema_version()
    assert _neo4j_store.store_id == store_id  # the id stays: a checkpoint can name the store


@pytest.mark.neo4j
def test_a_newer_neo4j_store_is_refused_and_nothing_is_written(_neo4j_store: Neo4jStore,
                                                               tmp_path: Path) -> None:
    from graph.engines.neo4j import Neo4jStore

    st = _neo4j_store
    st.wipe()
    st.driver.execute_query("MATCH (s:StoreSchema) SET s.schemaVersion = $v", v=NEWER)
    count = "MATCH (n) RETURN count(n) AS n, sum(coalesce(n.lastTx, 0)) AS tx"
    before = st.driver.execute_query(count).records[0].data()
    try:
        with pytest.raises(StoreVersionError) as e:
            Neo4jStore(neo4j_uri() or "", os.environ.get("NEO4J_USER", "neo4j"),
                       os.environ.get("NEO4J_PASSWORD", ""))
        assert (e.value.found, e.value.supported) == (NEWER, SCHEMA_VERSION)
        with pytest.raises(StoreVersionError):
            Runtime.open(_neo4j_settings(tmp_path))
        assert st.driver.execute_query(count).records[0].data() == before
        assert not (tmp_path / "data-upgrade-backups").exists()
    finally:
        st.wipe()


@pytest.mark.neo4j
def test_a_failing_neo4j_migration_leaves_the_old_version(
        _neo4j_store: Neo4jStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import graph.engines.neo4j.store as neo

    real = neo.migrate

    def failing(tx: Any, found: int) -> None:
        real(tx, found)
        raise RuntimeError("injected failure inside the migration")

    _legacy_neo4j(_neo4j_store, tmp_path)
    watermark, head = _neo4j_store.watermark(), _neo4j_store.audit_head()
    monkeypatch.setattr(neo, "migrate", failing)
    with pytest.raises(UpgradeError) as e:
        Runtime.open(_neo4j_settings(tmp_path))
    assert e.value.found == 2 and e.value.backup is not None
    assert _neo4j_store.schema_version() == 2 and _neo4j_store.store_id is None
    assert (_neo4j_store.watermark(), _neo4j_store.audit_head()) == (watermark, head)
    assert complete_backups(tmp_path / "data-upgrade-backups") == [e.value.backup]
    monkeypatch.undo()
    _neo4j_store.wipe()


@pytest.mark.neo4j
def test_a_neo4j_checkpoint_names_its_store(_neo4j_store: Neo4jStore, tmp_path: Path) -> None:
    """Schema 3 gives a Neo4j store an id: a checkpoint of another store (the same records
    loaded anew) is refused, as on the embedded engine."""
    from graph.audit import CheckpointError, checkpoint, load_or_create_key, verify_checkpoint
    from tests import plantlet

    st = _neo4j_store
    st.wipe()
    plantlet.load(Runtime.open(Settings(data_dir=tmp_path / "x"), store=st))
    key = load_or_create_key(tmp_path / "k.pem")
    cp = checkpoint(st, key)
    assert cp["storeId"] == st.store_id and st.store_id
    assert verify_checkpoint(st, cp, key.public_key()).ok
    export_store(st, tmp_path / "p.tgp.jsonl.gz")
    st.wipe()
    import_store(st, tmp_path / "p.tgp.jsonl.gz")
    assert st.store_id != cp["storeId"]
    with pytest.raises(CheckpointError, match="belongs to store"):
        verify_checkpoint(st, cp, key.public_key())
    st.wipe()
