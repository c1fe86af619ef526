"""``audit verify`` fast: the chain hashed from raw rows (decoding only when the stored text is not
the canonical form), and the state compared in a second process on the same snapshot — with the
very findings of the plain, sequential pass."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import graph.audit_chain as audit_chain
from graph.audit import AuditDraft, chain, verify_store
from graph.audit_chain import GENESIS, canonical_text, row_of, walk_rows
from graph.audit_parallel import StateWorker
from graph.audit_state import merge_reports, verify_state
from graph.engines.common import iri_range
from graph.engines.sqlite import SQLiteStore
from tests import plantlet
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[tuple[SQLiteStore, sqlite3.Connection]]:
    store = SQLiteStore(tmp_path / "t.sqlite")
    rt = Runtime.open(Settings(data_dir=tmp_path), store=store)
    plantlet.load(rt)
    rt.capture({"format": "tracegraph.capture/1", "events": [{
        "eventId": "fix", "reason": "weighed again",
        "nodes": [{"class": "MaterialLot", "key": "RL-PP", "properties": {"quantity": 480}}]}]})
    sql = sqlite3.connect(store.path, isolation_level=None)
    sql.execute("DROP TRIGGER IF EXISTS audit_no_update")
    yield store, sql
    sql.close()
    store.close()


def _rows(sql: sqlite3.Connection) -> list[tuple[int, str, str]]:
    return sql.execute("SELECT seq, old, new FROM audit ORDER BY seq").fetchall()


def _reencode(text: str) -> str:
    """The same value in other bytes: keys reversed, spaces, floats with a trailing zero."""
    def rev(v: Any) -> Any:
        return {k: rev(v[k]) for k in reversed(list(v))} if isinstance(v, dict) else v
    out = json.dumps(rev(orjson.loads(text)), indent=1)  # (values follow '": ')
    return re.sub(r'(": -?\d+)\.0(?=[,\n])', r"\1.00", out)


def test_entries_are_written_canonical_and_verify_without_decoding(
        plant: tuple[SQLiteStore, sqlite3.Connection], monkeypatch: pytest.MonkeyPatch) -> None:
    store, sql = plant
    rows = _rows(sql)
    assert all(t == canonical_text(orjson.loads(t)) for _, old, new in rows for t in (old, new))
    assert any(isinstance(orjson.loads(new), dict) and len(orjson.loads(new)) > 1
               for _, _, new in rows)  # (dicts with several keys among them)

    def no_decoding(_row: Any) -> str:
        raise AssertionError("a canonical entry was decoded")

    monkeypatch.setattr(audit_chain, "_decoded_hash", no_decoding)
    report = verify_store(store, state=False)
    assert report.ok and report.checked == len(rows)


def test_non_canonical_entries_verify_and_a_change_is_named_at_its_entry(
        plant: tuple[SQLiteStore, sqlite3.Connection]) -> None:
    store, sql = plant
    rows = _rows(sql)
    for seq, old, new in rows:  # every entry in other bytes decoding to the same values
        sql.execute("UPDATE audit_log SET old = ?, new = ? WHERE seq = ?",
                    (_reencode(old), _reencode(new), seq))
    assert sum(_reencode(new) != new for _, _, new in rows) > len(rows) // 2
    assert any(".00" in _reencode(new) for _, _, new in rows)
    report = verify_store(store)
    assert report.ok and report.checked == len(rows), report.first_bad
    for seq in (1, len(rows) // 2, len(rows)):  # a changed value, canonical or not: its entry
        new = sql.execute("SELECT new FROM audit WHERE seq = ?", (seq,)).fetchone()[0]
        for changed in (new.replace('"', '"x', 1) if '"' in new else new + "1",
                        canonical_text({"changed": orjson.loads(new)})):
            sql.execute("UPDATE audit_log SET new = ? WHERE seq = ?", (changed, seq))
            bad = verify_store(store, state=False).first_bad
            assert bad is not None and bad.seq == seq, (seq, changed, bad)
        sql.execute("UPDATE audit_log SET new = ? WHERE seq = ?", ("{not json", seq))
        bad = verify_store(store, state=False).first_bad
        assert bad is not None and bad.seq == seq and "cannot be read" in bad.reason
        sql.execute("UPDATE audit_log SET new = ? WHERE seq = ?", (new, seq))
    assert verify_store(store).ok


def test_walk_over_decoded_entries_names_the_altered_one() -> None:
    """The port's default raw rows (an engine that decodes: its entries in canonical text)."""
    drafts = [AuditDraft("update", f"urn:b{i}", "Batch", "quantity", {"b": i, "a": 1.5}, i)
              for i in range(50)]
    rows = [row_of(e) for e in chain(drafts, (0, GENESIS), 1, "2026-03-02T08:00:00Z", "qa",
                                     "recount", None)]
    checked, head, _, broken = walk_rows(lambda after, n: rows[after:after + n], 7)
    assert (checked, head, broken) == (50, 50, None)
    rows[30] = (*rows[30][:8], '{"a":1.5,"b":31}', *rows[30][9:])
    checked, head, _, broken = walk_rows(lambda after, n: rows[after:after + n], 7)
    assert broken is not None and (broken.seq, head) == (31, 30)


def test_the_state_in_a_second_process_finds_what_the_sequential_pass_finds(
        plant: tuple[SQLiteStore, sqlite3.Connection]) -> None:
    store, sql = plant
    calm = verify_store(store, parallel=True)
    assert calm.ok and calm.parallel and calm.state is not None and calm.state.nodes > 20
    lot = store.vocab.mint_iri("MaterialLot", "RL-PP")
    sql.execute("UPDATE nodes SET props = json_set(props, '$.quantity', 999) WHERE iri = ?",
                (lot,))
    (cut,) = store.iri_splits(2)
    last = sql.execute("SELECT max(iri) FROM nodes").fetchone()[0]
    assert lot < cut <= last  # a difference in each of the two ranges
    sql.execute("UPDATE nodes SET key = 'forged' WHERE iri = ?", (last,))
    seen: list[tuple[str, int]] = []
    par = verify_store(store, parallel=True, progress=lambda p, n: seen.append((p, n)))
    seq = verify_store(store, parallel=False)
    assert par.parallel and not seq.parallel and not par.ok and par.first_bad is None
    assert par.state is not None and seq.state is not None
    assert par.state.diffs == seq.state.diffs and par.state.differences == 2
    assert (par.state.nodes, par.state.edges) == (seq.state.nodes, seq.state.edges)
    assert [d.record for d in par.state.diffs] == [lot, last]
    parts = [verify_state(store, start=lo, stop=hi) for lo, hi in ((None, cut), (cut, None))]
    assert parts[0].nodes and parts[1].nodes and merge_reports(parts).diffs == seq.state.diffs
    assert merge_reports(parts, max_diffs=1).diffs == seq.state.diffs[:1]
    assert ("state", par.state.nodes + par.state.edges) in seen  # its progress reached us


def test_a_worker_on_another_snapshot_stops_and_the_caller_compares_itself(
        plant: tuple[SQLiteStore, sqlite3.Connection]) -> None:
    store, _ = plant
    opener = store.reader()
    assert opener is not None and SQLiteStore(":memory:").reader() is None
    worker = StateWorker(opener, store.watermark() - 1, store.audit_head(), None)
    assert worker.result() is None
    assert worker.why is not None and "a write committed in between" in worker.why


def test_iri_range_keeps_the_half_open_range_of_an_ordered_stream() -> None:
    items = ["a", "b", "c", "d"]
    assert list(iri_range(items, str, "b", "d")) == ["b", "c"]
    assert list(iri_range(items, str, None, "b")) == ["a"]
    assert list(iri_range(items, str, "c", None)) == ["c", "d"]
