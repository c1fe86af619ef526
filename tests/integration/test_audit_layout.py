"""The audit trail's compact layout (schema 4, issue 16 item 4): a version-3 store is upgraded
on open with every entry and hash unchanged, a fresh store has the same layout, an auditor reads
the trail as text from the ``audit`` view, and every edit of the file — a value, a hash, a term
of the dictionary, a deleted, swapped or inserted row — is found by ``audit verify`` at the
entry it touches."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import graph.engines.sqlite.migrations as M
from graph.audit import verify_store
from graph.audit_chain import GENESIS, entry_hash
from graph.engines.sqlite.store import SQLiteStore
from graph.schema import SCHEMA_VERSION
from tests import plantlet
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings
from tracegraph.upgrade import UpgradeError

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "stores" / "schema-v2.sqlite"
COLUMNS = ("seq, tx, at, actor, action, record, record_class, field, old, new, reason, "
           "event_id, prev_hash, hash")
TRIGGERS = ("audit_no_update", "audit_no_delete", "audit_terms_no_update",
            "audit_terms_no_delete")


def _v3_store(tmp: Path) -> Path:
    """The previous release's fixture (schema 2) brought to schema 3 with that release's step:
    the audit trail in the version-3 table."""
    data = tmp / "data"
    data.mkdir()
    path = data / "tracegraph.sqlite"
    shutil.copyfile(FIXTURE, path)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    M.STEPS[3](con, [])
    con.execute("UPDATE meta SET v = '3' WHERE k = 'schema_version'")
    con.execute("PRAGMA user_version = 3")
    con.execute("COMMIT")
    con.close()
    return data


def _entries(path: Path) -> list[tuple[Any, ...]]:
    """Every entry as text, read with plain sqlite3 (the table of schema 3, the view of 4)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute(f"SELECT {COLUMNS} FROM audit ORDER BY seq").fetchall()
    finally:
        con.close()


def _kind(path: Path, name: str) -> str:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return str(con.execute("SELECT type FROM sqlite_master WHERE name = ?",
                               (name,)).fetchone()[0])
    finally:
        con.close()


def test_a_version_3_store_is_upgraded_with_every_entry_and_hash_unchanged(
        tmp_path: Path) -> None:
    data = _v3_store(tmp_path)
    path = data / "tracegraph.sqlite"
    assert M.stored_version(str(path)) == 3 and _kind(path, "audit") == "table"
    before = _entries(path)
    old = SQLiteStore(path)  # opened, not upgraded: it reads its entries as before
    entries_before = old.audit_entries()
    old.close()
    assert len(before) == len(entries_before) > 30
    rt = Runtime.open(Settings(data_dir=data))
    try:
        assert rt.upgraded is not None and rt.upgraded.from_version == 3
        assert M.stored_version(str(path)) == SCHEMA_VERSION
        assert _kind(path, "audit") == "view" and _kind(path, "audit_log") == "table"
        after = _entries(path)
        assert after[:len(before)] == before  # the same text, byte for byte, and the same hashes
        assert rt.store.audit_entries()[:len(before)] == entries_before
        upgrade_entry = rt.store.audit_entries(after_seq=len(before))[0]
        assert upgrade_entry.record_class == "StoreUpgrade"
        assert upgrade_entry.prev_hash == before[-1][-1]  # the chain goes on from the old head
        report = verify_store(rt.store)
        assert report.ok and report.head_seq == len(after)
        con = sqlite3.connect(path)
        try:  # stored compactly: codes, 32-byte hashes, no previous hash
            row = con.execute("SELECT typeof(actor), typeof(record_class), typeof(hash), "
                              "length(hash), prev FROM audit_log WHERE seq = 2").fetchone()
            assert row == ("integer", "integer", "blob", 32, None)
            assert con.execute("SELECT count(*) FROM audit_log WHERE prev IS NOT NULL"
                               ).fetchone()[0] == 0
        finally:
            con.close()
    finally:
        rt.close()


def test_the_upgrade_keeps_a_broken_link_broken(tmp_path: Path) -> None:
    """The previous hash is not stored where it is the hash of the entry before; where a
    version-3 file says otherwise (an edited ``prev_hash``), the upgrade keeps what it says, so
    the upgrade does not mend a trail that was tampered with."""
    data = _v3_store(tmp_path)
    path = data / "tracegraph.sqlite"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("DROP TRIGGER audit_no_update")
    con.execute("UPDATE audit SET prev_hash = ? WHERE seq = 7", ("ab" * 32,))
    con.execute("UPDATE audit SET hash = upper(hash) WHERE seq = 9")
    con.close()
    before = _entries(path)
    rt = Runtime.open(Settings(data_dir=data))
    try:
        assert _entries(path)[:len(before)] == before
        # the verifier's pages (previous hashes filled in from the page) read as the view
        pages = [rt.store.audit_rows(after_seq=a, limit=5) for a in range(0, len(before), 5)]
        assert [tuple(r) for p in pages for r in p][:len(before)] == before
        report = verify_store(rt.store)
        assert report.first_bad is not None and report.first_bad.seq == 7
        assert "link" in report.first_bad.reason
    finally:
        rt.close()


def test_a_fresh_store_has_the_layout_of_an_upgraded_one(tmp_path: Path) -> None:
    data = _v3_store(tmp_path)
    Runtime.open(Settings(data_dir=data)).close()
    SQLiteStore(tmp_path / "fresh.sqlite").close()

    def layout(path: Path) -> list[Any]:
        con = sqlite3.connect(path)
        try:
            return sorted(con.execute("SELECT type, name, sql FROM sqlite_master"))
        finally:
            con.close()

    assert layout(data / "tracegraph.sqlite") == layout(tmp_path / "fresh.sqlite")
    names = {(t, n) for t, n, _ in layout(tmp_path / "fresh.sqlite")}
    assert {("view", "audit"), ("table", "audit_log"), ("table", "audit_terms")} <= names
    assert {("trigger", t) for t in TRIGGERS} <= names


def test_a_failing_step_leaves_version_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    data = _v3_store(tmp_path)
    path = data / "tracegraph.sqlite"
    before = _entries(path)
    real = M.STEPS[4]

    def failing(c: sqlite3.Connection, identifiers: Any) -> None:
        real(c, identifiers)  # the whole step ran, then the failure (a crash here is the same)
        raise sqlite3.OperationalError("injected failure inside the migration")

    monkeypatch.setitem(M.STEPS, 4, failing)
    with pytest.raises(UpgradeError, match="still at version 3"):
        Runtime.open(Settings(data_dir=data))
    assert M.stored_version(str(path)) == 3
    assert _kind(path, "audit") == "table"
    assert _entries(path) == before
    con = sqlite3.connect(path)
    try:
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name IN "
                           "('audit_log', 'audit_terms')").fetchone()[0] == 0
    finally:
        con.close()
    monkeypatch.undo()
    rt = Runtime.open(Settings(data_dir=data))
    try:
        assert rt.upgraded is not None and verify_store(rt.store).ok
    finally:
        rt.close()


def test_the_audit_view_reads_the_trail_as_text_and_refuses_edits(tmp_path: Path) -> None:
    """What docs/audit.md tells an auditor: ``SELECT * FROM audit`` in the sqlite3 shell."""
    rt = Runtime.open(Settings(data_dir=tmp_path / "d"))
    try:
        plantlet.load(rt)
        path = rt.settings.sqlite_path
        rows = _entries(path)
        assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
        assert rows[0][12] == GENESIS
        for r in rows:  # every entry's hash is the hash of the text the view shows
            assert r[13] == entry_hash(*r[:8], *(_json(v) for v in r[8:10]), *r[10:13])
        assert [r[12] for r in rows[1:]] == [r[13] for r in rows[:-1]]
        con = sqlite3.connect(path)
        try:
            for sql in ("UPDATE audit_log SET at = 'x' WHERE seq = 1",
                        "DELETE FROM audit_log WHERE seq = 1",
                        "UPDATE audit_terms SET term = 'x' WHERE id = 1",
                        "DELETE FROM audit_terms WHERE id = 1"):
                with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                    con.execute(sql)
        finally:
            con.close()
    finally:
        rt.close()


def _json(text: str) -> Any:
    import orjson

    return orjson.loads(text)


# -- tampering with the file ------------------------------------------------------------------
@pytest.fixture
def trail(tmp_path: Path) -> Iterator[tuple[Runtime, sqlite3.Connection, int]]:
    rt = Runtime.open(Settings(data_dir=tmp_path / "d"))
    plantlet.load(rt)
    n = verify_store(rt.store).head_seq
    con = sqlite3.connect(rt.settings.sqlite_path, isolation_level=None)
    for t in TRIGGERS:
        con.execute(f"DROP TRIGGER {t}")
    yield rt, con, n
    con.close()
    rt.close()


def _first_bad(rt: Runtime) -> int | None:
    report = verify_store(rt.store, state=False)
    return None if report.first_bad is None else report.first_bad.seq


def test_an_edited_value_or_hash_is_found_at_its_entry(
        trail: tuple[Runtime, sqlite3.Connection, int]) -> None:
    rt, con, n = trail
    k = n // 2
    con.execute("UPDATE audit_log SET at = at || '0' WHERE seq = ?", (k,))
    assert _first_bad(rt) == k
    con.execute("UPDATE audit_log SET at = substr(at, 1, length(at) - 1) WHERE seq = ?", (k,))
    assert _first_bad(rt) is None
    con.execute("UPDATE audit_log SET hash = zeroblob(32) WHERE seq = ?", (k,))
    assert _first_bad(rt) == k


def test_a_changed_term_of_the_dictionary_is_found_at_its_first_use(
        trail: tuple[Runtime, sqlite3.Connection, int]) -> None:
    rt, con, _ = trail
    code, first = con.execute("SELECT record_class, min(seq) FROM audit_log "
                              "WHERE seq > 5 GROUP BY record_class ORDER BY 2 DESC LIMIT 1"
                              ).fetchone()
    first_use = con.execute("SELECT min(seq) FROM audit_log WHERE ? IN (actor, action, "
                            "record_class, field, reason)", (code,)).fetchone()[0]
    con.execute("UPDATE audit_terms SET term = term || 'x' WHERE id = ?", (code,))
    assert _first_bad(rt) == first_use <= first
    con.execute("UPDATE audit_terms SET term = substr(term, 1, length(term) - 1) WHERE id = ?",
                (code,))
    assert _first_bad(rt) is None
    con.execute("DELETE FROM audit_terms WHERE id = ?", (code,))  # the entries stay, unreadable
    assert _first_bad(rt) == first_use


def test_a_deleted_swapped_or_inserted_entry_is_found(
        trail: tuple[Runtime, sqlite3.Connection, int]) -> None:
    rt, con, n = trail
    k = n // 2
    rows = con.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()

    def put_back() -> None:
        con.execute("DELETE FROM audit_log")
        con.executemany(f"INSERT INTO audit_log VALUES ({','.join('?' * 14)})", rows)
        assert _first_bad(rt) is None

    con.execute("DELETE FROM audit_log WHERE seq = ?", (k,))
    assert _first_bad(rt) == k + 1  # (the sequence gap, as in schema 3)
    put_back()
    for frm, to in ((k, -1), (k + 1, k), (-1, k + 1)):  # two entries swap places
        con.execute("UPDATE audit_log SET seq = ? WHERE seq = ?", (to, frm))
    assert _first_bad(rt) == k
    put_back()
    # an entry rewritten with a hash of its own that is right for its new content: the next
    # entry's hash was made over the old one, so the chain breaks there
    e = rt.store.audit_entries(after_seq=k - 1, limit=1)[0]
    forged = entry_hash(e.seq, e.tx, e.at, e.actor, e.action, e.record, e.record_class,
                        e.field, e.old, {"forged": True}, e.reason, e.event_id, e.prev_hash)
    con.execute("UPDATE audit_log SET new = ?, hash = ? WHERE seq = ?",
                ('{"forged":true}', bytes.fromhex(forged), k))
    assert _first_bad(rt) == k + 1
    put_back()
    # an entry inserted in the middle with a right hash, the later ones renumbered
    for seq in range(n, k, -1):
        con.execute("UPDATE audit_log SET seq = ? WHERE seq = ?", (seq + 1, seq))
    forged = entry_hash(k + 1, e.tx, e.at, e.actor, e.action, e.record, e.record_class,
                        e.field, e.old, {"forged": True}, e.reason, e.event_id,
                        rt.store.audit_entries(after_seq=k - 1, limit=1)[0].hash)
    row = list(rows[k - 1])
    row[0], row[9], row[12] = k + 1, '{"forged":true}', bytes.fromhex(forged)
    con.execute(f"INSERT INTO audit_log VALUES ({','.join('?' * 14)})", row)
    assert _first_bad(rt) == k + 2
    put_back()


def test_a_replaced_view_is_put_back_when_the_store_opens(
        trail: tuple[Runtime, sqlite3.Connection, int]) -> None:
    """Whoever holds the file edits an entry and replaces the view by one that shows the old
    value: the next open puts the view back, and verify finds the edit."""
    rt, con, n = trail
    k = n // 2
    at = con.execute("SELECT at FROM audit_log WHERE seq = ?", (k,)).fetchone()[0]
    con.execute("UPDATE audit_log SET at = '2020-01-01T00:00:00.000000Z' WHERE seq = ?", (k,))
    view = con.execute("SELECT sql FROM sqlite_master WHERE name = 'audit'").fetchone()[0]
    con.execute("DROP VIEW audit")
    con.execute(view.replace("a.at AS at", f"CASE a.seq WHEN {k} THEN '{at}' ELSE a.at END AS at"))
    assert _first_bad(rt) is None  # this process reads through the replaced view
    again = SQLiteStore(rt.settings.sqlite_path)
    try:
        report = verify_store(again, state=False)
        assert report.first_bad is not None and report.first_bad.seq == k
    finally:
        again.close()
    assert con.execute("SELECT sql FROM sqlite_master WHERE name = 'audit'").fetchone()[0] == view
