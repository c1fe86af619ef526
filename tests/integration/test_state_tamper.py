"""Tamper evidence for the stored state, on both engines: an auditor holding the database edits
it behind every API's back (SQL on the SQLite file, Cypher on Neo4j) and ``audit verify`` must
name the first record that differs — node or edge, field, stored value, audited value — as
well as records no entry created and audited records that are gone; with a signed checkpoint,
truncation and a chain rewritten from entry k are reported at the first cut or rewritten entry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from graph.audit import (
    AuditEntry,
    VerifyReport,
    checkpoint,
    entry_hash,
    load_or_create_key,
    load_public_key,
    verify_checkpoint,
    verify_store,
)
from graph.audit_state import StateDiff
from graph.engines.sqlite import SQLiteStore
from graph.port import GraphStore
from graph.schema import DERIVATION
from quality.signatures import content_hash, sign, signatures_of
from tests import plantlet
from tests.conftest import PASSWORD, make_user
from tracegraph.cli.admin import audit_app
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


class Db:
    """Direct access to the store's database, as an attacker with the file (or the server)."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.sql = (sqlite3.connect(store.path, isolation_level=None)
                    if isinstance(store, SQLiteStore) else None)

    def cypher(self, query: str, **params: Any) -> list[Any]:
        records, _, _ = self.store.driver.execute_query(query, params)  # type: ignore[attr-defined]  # engine-specific handle
        return list(records)

    def set_prop(self, iri: str, prop: str, value: Any) -> None:
        if self.sql is not None:
            self.sql.execute(f"UPDATE nodes SET props = json_set(props, '$.{prop}', json(?)) "
                             "WHERE iri = ?", (orjson.dumps(value).decode(), iri))
        else:
            self.cypher(f"MATCH (n:Record {{iri: $i}}) SET n.{prop} = $v", i=iri, v=value)

    def delete_edge(self, src: str, typ: str, dst: str) -> None:
        if self.sql is not None:
            self.sql.execute("DELETE FROM edges WHERE type = ? AND src = (SELECT id FROM nodes "
                             "WHERE iri = ?) AND dst = (SELECT id FROM nodes WHERE iri = ?)",
                             (typ, src, dst))
        else:
            self.cypher(f"MATCH (:Record {{iri: $s}})-[e:{typ}]->(:Record {{iri: $d}}) DELETE e",
                        s=src, d=dst)

    def insert_node(self, iri: str, label: str, key: str, props: dict[str, Any]) -> None:
        at = "2026-03-04T00:00:00.000000Z"
        if self.sql is not None:
            self.sql.execute("INSERT INTO nodes (iri, label, key, props, recorded_at, updated_at,"
                             " tx) VALUES (?, ?, ?, ?, ?, ?, 1)",
                             (iri, label, key, orjson.dumps(props).decode(), at, at))
        else:
            self.cypher(f"CREATE (n:Record:TraceableEntity:{label}) SET n = $p",
                        p={**props, "iri": iri, "key": key, "recordedAt": at, "updatedAt": at,
                           "txId": 1})

    def drop_entries(self, seqs: list[int]) -> None:
        if self.sql is not None:
            self.sql.execute("DROP TRIGGER IF EXISTS audit_no_delete")
            self.sql.executemany("DELETE FROM audit_log WHERE seq = ?", [(s,) for s in seqs])
        else:
            self.cypher("MATCH (a:AuditEvent) WHERE a.chainIndex IN $s DELETE a", s=seqs)

    def close(self) -> None:
        if self.sql is not None:
            self.sql.close()


@pytest.fixture
def plant(runtime: Runtime) -> Iterator[tuple[Runtime, Db]]:
    """The plantlet, a weighed-again lot, and the assembled batch signed 'released' by QA."""
    rt = runtime
    plantlet.load(rt)
    rt.capture({"format": "tracegraph.capture/1", "events": [{
        "eventId": "fix", "reason": "weighed again",
        "nodes": [{"class": "MaterialLot", "key": "RL-PP", "properties": {"quantity": 480}}]}]})
    make_user(rt, "q.tamper", ["qa"])
    sign(rt, iri(rt, "Batch", "B-ASSY"), "q.tamper", PASSWORD, "released", "release review")
    report = verify_store(rt.store)
    assert report.ok, report.state
    assert report.state is not None and report.state.nodes > 20 and report.state.edges > 20
    db = Db(rt.store)
    yield rt, db
    db.close()


def iri(rt: Runtime, cls: str, key: str) -> str:
    return rt.vocab.mint_iri(cls, key)


def first_diff(report: VerifyReport) -> StateDiff:
    assert report.first_bad is None, "the chain itself is intact: only the state was edited"
    assert not report.ok and report.state is not None and report.state.first is not None
    return report.state.first


@pytest.mark.req("URS-AUD-02")
def test_a_property_edited_in_the_database_is_named(plant: tuple[Runtime, Db]) -> None:
    rt, db = plant
    lot = iri(rt, "MaterialLot", "RL-PP")
    db.set_prop(lot, "quantity", 999)
    d = first_diff(verify_store(rt.store))
    assert (d.kind, d.record, d.field, d.stored, d.audited, d.problem) == (
        "node", lot, "quantity", 999, 480, "differs")
    entry = [e for e in rt.store.audit_entries(record=lot)
             if e.field == "quantity"][-1]  # the "weighed again" update wrote 480 …
    assert (d.seq, entry.field, entry.new) == (entry.seq, "quantity", 480)  # … and is named
    assert "999" in d.describe() and "480" in d.describe()


@pytest.mark.req("URS-AUD-02")
def test_a_deleted_genealogy_edge_is_named(plant: tuple[Runtime, Db]) -> None:
    rt, db = plant
    batch, lot = iri(rt, "Batch", "B-ASSY"), iri(rt, "MaterialLot", "RL-TUBE")
    db.delete_edge(batch, DERIVATION, lot)
    d = first_diff(verify_store(rt.store))
    assert (d.kind, d.problem, d.stored) == ("edge", "missing", None)
    assert d.record.startswith(f"{batch} -[{DERIVATION}]-> {lot} #b-assy#")
    assert d.audited["derivationKind"] == "consumption" and d.audited["quantity"] == 6


@pytest.mark.req("URS-AUD-02", "URS-ESIG-03")
def test_an_edited_signed_record_is_named(plant: tuple[Runtime, Db]) -> None:
    rt, db = plant
    batch = iri(rt, "Batch", "B-ASSY")
    [sig] = signatures_of(rt, batch)
    assert sig.valid
    db.set_prop(batch, "quantity", 3000)  # the released, signed batch "made" 1000x more …
    assert not signatures_of(rt, batch)[0].valid
    node = rt.store.get(batch)
    assert node is not None
    db.set_prop(sig.iri, "contentHash", content_hash(node, rt.store.edges(batch)))
    assert signatures_of(rt, batch)[0].valid  # … and its signature re-pointed at the forgery
    report = verify_store(rt.store)
    d = first_diff(report)
    assert (d.kind, d.record, d.field, d.stored, d.audited) == ("node", batch, "quantity",
                                                                 3000, 3)
    assert report.state is not None and [(x.record, x.field) for x in report.state.diffs] == [
        (batch, "quantity"), (sig.iri, "contentHash")]


@pytest.mark.req("URS-AUD-02")
def test_a_node_inserted_directly_is_named_as_not_audited(plant: tuple[Runtime, Db]) -> None:
    rt, db = plant
    ghost = iri(rt, "MaterialLot", "RL-GHOST")
    db.insert_node(ghost, "MaterialLot", "RL-GHOST", {"quantity": 5, "materialLotStatus":
                                                      "Approved"})
    d = first_diff(verify_store(rt.store))
    assert (d.kind, d.record, d.problem, d.stored) == ("node", ghost, "not audited",
                                                       "MaterialLot")
    assert "no audit entry created it" in d.describe()


def test_every_edit_is_counted_and_the_first_in_iri_order_named(
        plant: tuple[Runtime, Db]) -> None:
    rt, db = plant
    a, b = iri(rt, "MaterialLot", "RL-PP"), iri(rt, "MaterialLot", "RL-TUBE")
    db.set_prop(b, "materialLotStatus", "Rejected")
    db.set_prop(a, "supplierLotNumber", "forged")
    report = verify_store(rt.store)
    assert report.state is not None and report.state.differences == 2
    assert [(d.record, d.field) for d in report.state.diffs] == [
        (a, "supplierLotNumber"), (b, "materialLotStatus")]


def _rechain(entries: list[AuditEntry], prev: str, new_value: Any) -> list[AuditEntry]:
    """``entries`` with the first one's new value forged and every hash recomputed."""
    out: list[AuditEntry] = []
    for i, e in enumerate(entries):
        e = replace(e, new=new_value if i == 0 else e.new, prev_hash=prev)
        h = entry_hash(e.seq, e.tx, e.at, e.actor, e.action, e.record, e.record_class, e.field,
                       e.old, e.new, e.reason, e.event_id, e.prev_hash)
        out.append(replace(e, hash=h))
        prev = h
    return out


@pytest.mark.req("URS-AUD-02")
def test_truncation_and_a_rewrite_are_named_at_their_first_entry(
        plant: tuple[Runtime, Db], tmp_path: Path) -> None:
    rt, db = plant
    key = load_or_create_key(tmp_path / "keys" / "audit.pem")
    public = load_public_key(tmp_path / "keys" / "audit.pem.pub")
    cp = checkpoint(rt.store, key)
    n = cp["seq"]
    assert verify_checkpoint(rt.store, cp, public).ok
    # rewrite from entry k: the entry is forged and the rest of the chain recomputed
    k = n // 2
    tail = rt.store.audit_entries(after_seq=k - 1)
    assert [e.seq for e in tail] == list(range(k, n + 1))
    db.drop_entries([e.seq for e in tail])
    forged = _rechain(tail, tail[0].prev_hash, {"forged": True})
    with rt.store.transaction() as tx:
        tx.write([], [], forged, [])
    assert verify_store(rt.store, state=False).ok  # a valid chain …
    report = verify_checkpoint(rt.store, cp, public)  # … but not the one signed, from k on
    assert report.first_bad is not None and report.first_bad.seq == k, report.first_bad
    assert "rewritten" in report.first_bad.reason
    # truncation: the last three entries cut off
    db.drop_entries(list(range(k, n + 1)))
    with rt.store.transaction() as tx:
        tx.write([], [], tail[:-3], [])
    report = verify_checkpoint(rt.store, cp, public, state=False)
    assert report.first_bad is not None and report.first_bad.seq == n - 2
    assert "truncated" in report.first_bad.reason
    # even without the checkpoint, the state shows what the cut entries had written
    state = verify_store(rt.store).state
    assert state is not None and not state.ok


@pytest.mark.req("URS-AUD-02")
def test_cli_names_the_difference_and_refuses_an_unpinned_checkpoint(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"TRACEGRAPH_DATA_DIR": str(data), "TRACEGRAPH_STORE": "embedded", "COLUMNS": "250"}
    rt = Runtime.open(Settings(data_dir=data))
    plantlet.load(rt)
    lot = iri(rt, "MaterialLot", "RL-PP")
    rt.close()
    cli = CliRunner()
    ok = cli.invoke(audit_app, ["verify"], env=env)
    assert ok.exit_code == 0 and "stored state matches the trail" in ok.output, ok.output
    key = tmp_path / "keys" / "audit.pem"
    cp = tmp_path / "cp.json"
    assert cli.invoke(audit_app, ["checkpoint", "--out", str(cp), "--key", str(key)],
                      env=env).exit_code == 0
    unpinned = cli.invoke(audit_app, ["verify", "--checkpoint", str(cp)], env=env)
    assert unpinned.exit_code == 2 and "--public-key" in unpinned.output
    insecure = cli.invoke(audit_app, ["verify", "--checkpoint", str(cp), "--insecure-no-key"],
                          env=env)
    assert insecure.exit_code == 0 and "INSECURE" in insecure.output
    store = SQLiteStore(data / "tracegraph.sqlite")
    Db(store).set_prop(lot, "quantity", 999)
    store.close()
    assert cli.invoke(audit_app, ["verify", "--chain-only"], env=env).exit_code == 0
    bad = cli.invoke(audit_app, ["verify"], env=env)
    assert bad.exit_code == 1 and "DIFFERS" in bad.output
    assert f"node {lot}: quantity is 999 in the store but 500" in bad.output
    as_json = orjson.loads(cli.invoke(audit_app, ["verify", "--json"], env=env).stdout)
    assert as_json["ok"] is False and as_json["state"]["diffs"][0]["field"] == "quantity"
