"""The audit trail on both engines: reasons on GMP changes, entries equal to the mutations
(property-based), tamper evidence (flip, delete, reorder, truncate, rewrite — edited directly in
the store), signed checkpoints, the CLI, and the time to verify 100k entries (printed)."""

from __future__ import annotations

import random
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from graph.audit import (
    GENESIS,
    AuditDraft,
    CheckpointError,
    chain,
    checkpoint,
    load_or_create_key,
    load_public_key,
    verify_checkpoint,
    verify_store,
)
from graph.engines.sqlite import SQLiteStore
from graph.errors import WriteRejectedError
from graph.port import GraphStore
from tests import plantlet
from tests.conftest import migrate
from tracegraph.cli.admin import audit_app
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

DOC = "tracegraph.capture/1"


def capture(rt: Runtime, events: list[dict[str, Any]]) -> None:
    rt.capture({"format": DOC, "events": events})


def load(rt: Runtime) -> None:
    plantlet.load(rt)


# -- a reason on every change of a GMP record --------------------------------------------------
@pytest.mark.req("URS-AUD-01")
def test_changing_a_gmp_record_needs_a_reason(runtime: Runtime) -> None:
    load(runtime)
    lot = runtime.vocab.mint_iri("MaterialLot", "RL-PP")
    change = {"class": "MaterialLot", "key": "RL-PP", "properties": {"quantity": 480}}
    before = runtime.store.watermark()
    for reason in (None, "", "   "):
        with pytest.raises(WriteRejectedError) as e:
            capture(runtime, [{"eventId": f"q-{reason!r}", "reason": reason,
                               "nodes": [change]}])
        (p,) = e.value.problems
        assert (p.rule, p.field, p.focus) == ("reason-required", "reason", lot)
        assert "quantity" in p.message and "MaterialLot" in p.message
    assert runtime.store.watermark() == before  # nothing written
    capture(runtime, [{"eventId": "q-ok", "reason": "weighed again", "nodes": [change]}])
    last = next(e for e in reversed(runtime.store.audit_entries(record=lot))
                if e.field == "quantity")
    assert (last.action, last.field, last.old, last.new, last.reason) == (
        "update", "quantity", 500.0, 480.0, "weighed again")
    # master data is audited without a mandatory reason; re-sending unchanged values is free
    capture(runtime, [{"eventId": "sup", "nodes": [
        {"class": "Supplier", "key": "SUP-PP", "properties": {"name": "Polymer AG & Co"}}]}])
    capture(runtime, [{"eventId": "same", "nodes": [change]}])


# -- property: audit entries equal the mutations ------------------------------------------------
# statuses are workflow-managed (graph.authority): capture corrects facts only


def _lot_props(draw: st.DataObject) -> dict[str, Any]:
    return draw.draw(st.fixed_dictionaries({}, optional={
        "quantity": st.integers(0, 10_000),
        "supplierLotNumber": st.from_regex(r"[A-Z]{2}-[0-9]{1,6}", fullmatch=True),
        "expiryDate": st.sampled_from(["2027-01-01", "2027-06-30", "2028-01-31"])}))


def _supplier_props(draw: st.DataObject) -> dict[str, Any]:
    return draw.draw(st.fixed_dictionaries({}, optional={
        "name": st.from_regex(r"[A-Z][a-z]{2,12} (AG|Ltd|GmbH)", fullmatch=True),
        "country": st.sampled_from(["DE", "CH", "US"])}))


def _stored(name: str, value: Any) -> Any:
    return float(value) if name == "quantity" else value


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
@pytest.mark.req("URS-AUD-01")
def test_audit_entries_correspond_one_to_one_to_mutations(runtime: Runtime,
                                                          data: st.DataObject) -> None:
    rt = runtime
    if rt.store.get(rt.vocab.mint_iri("Material", "PP-H350")) is None:
        migrate(rt, plantlet.master_data(), plantlet.asl())
    run = uuid.uuid4().hex[:8]
    model: dict[str, dict[str, Any]] = {}  # iri -> stored props
    classes: dict[str, str] = {}
    for d in range(data.draw(st.integers(1, 3), label="documents")):
        head = rt.store.watermark(), max((e.seq for e in rt.store.audit_entries()), default=0)
        trial = {k: dict(v) for k, v in model.items()}
        events: list[dict[str, Any]] = []
        expected: list[tuple[Any, ...]] = []
        refused = False
        for i in range(data.draw(st.integers(1, 3), label="events")):
            eid = f"p-{run}-{d}-{i}"
            with_reason = data.draw(st.booleans(), label="reason")
            reason = f"change {i}" if with_reason else None
            nodes = []
            for _ in range(data.draw(st.integers(1, 2), label="nodes")):
                known = sorted(trial)
                if known and data.draw(st.booleans(), label="update"):
                    iri = data.draw(st.sampled_from(known), label="target")
                    cls, key = classes[iri], iri.rsplit("/", 1)[-1]
                    props = (_lot_props if cls == "MaterialLot" else _supplier_props)(data)
                    nodes.append({"class": cls, "key": key, "properties": props})
                    changed = {k: v for k, v in props.items()
                               if trial[iri].get(k) != _stored(k, v)}
                    for k, v in changed.items():
                        expected.append(("update", iri, k, trial[iri].get(k), _stored(k, v),
                                         reason, eid))
                    refused |= bool(changed) and cls == "MaterialLot" and not with_reason
                    trial[iri].update({k: _stored(k, v) for k, v in props.items()})
                    continue
                cls = data.draw(st.sampled_from(["MaterialLot", "Supplier"]), label="class")
                key = f"{'L' if cls == 'MaterialLot' else 'S'}{run}{len(classes)}"
                iri = rt.vocab.mint_iri(cls, key)
                if cls == "MaterialLot":
                    props = {"supplierLotNumber": "PA-1", "quantity": 10, "unitCode": "kg",
                             "expiryDate": "2027-01-01", "materialLotStatus": "Quarantine"}
                    links = {"ofMaterial": "Material/PP-H350", "suppliedBy": "Supplier/SUP-PP"}
                else:
                    props, links = {"name": "New Supplier AG", "country": "CH",
                                    "supplierStatus": "conditional"}, {}
                nodes.append({"class": cls, "key": key, "properties": props, "links": links})
                keyprop = "lotNumber" if cls == "MaterialLot" else "code"
                full = {**{k: _stored(k, v) for k, v in props.items()}, keyprop: key}
                expected.append(("create", iri, None, None, full, reason, eid))
                classes[iri], trial[iri] = cls, dict(full)
            events.append({"eventId": eid, "reason": reason, "nodes": nodes})
        event("refused: a GMP change without a reason" if refused else
              f"written: {len(expected)} audit entries expected")
        if refused:
            with pytest.raises(WriteRejectedError) as e:
                capture(rt, events)
            assert {p.rule for p in e.value.problems} == {"reason-required"}
            assert rt.store.watermark() == head[0]
            continue
        capture(rt, events)
        everything = rt.store.audit_entries(after_seq=head[1])
        # each corrected record also keeps its prior state (a RecordVersion, a priorVersion link
        # and its versionNumber bumped): one of each per record and document, audited too
        versioning = [e for e in everything if e.record_class == "RecordVersion"
                      or e.field in ("versionNumber", "priorVersion")]
        revised = {e.record for e in versioning if e.field == "versionNumber"}
        # (only records committed before this document: a record created in the same write
        # has no earlier state to keep)
        assert revised == {x[1] for x in expected if x[0] == "update" and x[1] in model}
        assert len(versioning) == 3 * len(revised)
        model = trial
        got = [e for e in everything if e not in versioning]
        assert len(got) == len(expected)
        for entry, (action, iri, fld, old, new, reason, eid) in zip(got, expected, strict=True):
            assert (entry.action, entry.record, entry.field, entry.event_id) == (
                action, iri, fld, eid)
            assert entry.reason == reason and entry.actor == "system"
            if action == "create":
                assert entry.new["props"] == new and entry.old is None
            else:
                assert (entry.old, entry.new) == (old, new)
                assert entry.old is not None  # an update never lacks the old value
                if classes[iri] == "MaterialLot":
                    assert entry.reason  # a GMP change always has its reason
    assert verify_store(rt.store).ok


# -- tampering directly in the store --------------------------------------------------------------
class Tamper:
    """Edits stored audit entries behind every API's back (the append-only triggers dropped)."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.sql: sqlite3.Connection | None = None
        if isinstance(store, SQLiteStore):
            self.sql = sqlite3.connect(store.path, isolation_level=None)

    def _writable(self) -> sqlite3.Connection:
        """The SQLite connection, without the append-only triggers (any reopening of the store
        puts them back, so they are dropped before every edit)."""
        assert self.sql is not None
        for trigger in ("audit_no_update", "audit_no_delete", "audit_terms_no_update",
                        "audit_terms_no_delete"):
            self.sql.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        return self.sql

    def _cypher(self, query: str, **params: Any) -> list[Any]:
        driver = self.store.driver  # type: ignore[attr-defined]  # only Neo4jStore gets here
        records, _, _ = driver.execute_query(query, params)
        return list(records)

    def get(self, seq: int, column: str) -> str:
        if self.sql is not None:
            return str(self.sql.execute(f"SELECT {column} FROM audit WHERE seq = ?",
                                        (seq,)).fetchone()[0])
        prop = {"new": "newValue", "actor": "actorName"}[column]
        return str(self._cypher(f"MATCH (a:AuditEvent {{chainIndex: $s}}) RETURN a.{prop} AS v",
                                s=seq)[0]["v"])

    def set(self, seq: int, column: str, value: str) -> None:
        if self.sql is not None:  # (the entries' table: audit is a view of it, schema 4)
            sql = self._writable()
            if column in ("actor", "action", "record_class", "field", "reason"):  # a term's code
                sql.execute("INSERT OR IGNORE INTO audit_terms (term) VALUES (?)", (value,))
                code = sql.execute("SELECT id FROM audit_terms WHERE term = ?", (value,))
                sql.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = ?",
                            (code.fetchone()[0], seq))
            else:
                sql.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = ?", (value, seq))
            return
        prop = {"new": "newValue", "actor": "actorName"}[column]
        self._cypher(f"MATCH (a:AuditEvent {{chainIndex: $s}}) SET a.{prop} = $v", s=seq,
                     v=value)

    def delete(self, seqs: list[int]) -> None:
        if self.sql is not None:
            self._writable().executemany("DELETE FROM audit_log WHERE seq = ?",
                                         [(s,) for s in seqs])
            return
        self._cypher("MATCH (a:AuditEvent) WHERE a.chainIndex IN $s DELETE a", s=seqs)

    def swap(self, a: int, b: int) -> None:
        if self.sql is not None:
            for frm, to in ((a, -1), (b, a), (-1, b)):
                self._writable().execute("UPDATE audit_log SET seq = ? WHERE seq = ?",
                                         (to, frm))
            return
        for frm, to in ((a, -1), (b, a), (-1, b)):
            self._cypher("MATCH (x:AuditEvent {chainIndex: $f}) SET x.chainIndex = $t",
                         f=frm, t=to)

    def snapshot(self) -> list[Any]:
        if self.sql is not None:
            return self.sql.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
        return [r["a"] for r in self._cypher("MATCH (a:AuditEvent) RETURN properties(a) AS a")]

    def restore(self, rows: list[Any]) -> None:
        if self.sql is not None:
            self._writable().execute("DELETE FROM audit_log")
            self.sql.executemany(f"INSERT INTO audit_log VALUES ({','.join('?' * 14)})", rows)
            return
        self._cypher("MATCH (a:AuditEvent) DELETE a")
        self._cypher("UNWIND $rows AS r CREATE (a:AuditEvent) SET a = r", rows=rows)


@pytest.fixture
def trail(runtime: Runtime) -> Iterator[tuple[Runtime, Tamper, int]]:
    load(runtime)
    capture(runtime, [{"eventId": "fix", "reason": "weighed again", "nodes": [
        {"class": "MaterialLot", "key": "RL-PP", "properties": {"quantity": 480}}]}])
    report = verify_store(runtime.store)
    assert report.ok and report.checked > 20
    tamper = Tamper(runtime.store)
    yield runtime, tamper, report.head_seq
    if tamper.sql is not None:
        tamper.sql.close()


def _flip(text: str, rnd: random.Random) -> str:
    i = rnd.randrange(len(text))
    return text[:i] + chr(ord(text[i]) ^ 1) + text[i + 1:]


@pytest.mark.req("URS-AUD-02")
def test_every_flipped_byte_is_detected_at_its_entry(
        trail: tuple[Runtime, Tamper, int]) -> None:
    rt, tamper, n = trail
    rnd = random.Random(7)
    flips = 0
    for seq in range(1, n + 1):
        for column in ("new", "actor"):
            original = tamper.get(seq, column)
            tamper.set(seq, column, _flip(original, rnd))
            report = verify_store(rt.store)
            assert not report.ok and report.first_bad is not None
            assert report.first_bad.seq == seq, (column, report.first_bad)
            tamper.set(seq, column, original)
            flips += 1
    assert verify_store(rt.store).ok and flips == 2 * n


@pytest.mark.req("URS-AUD-02")
def test_every_deletion_and_reordering_is_detected(trail: tuple[Runtime, Tamper, int]) -> None:
    rt, tamper, n = trail
    rows = tamper.snapshot()
    for seq in range(1, n):  # deleting the last entry is truncation: see the checkpoint test
        tamper.delete([seq])
        report = verify_store(rt.store)
        assert report.first_bad is not None and report.first_bad.seq in (seq, seq + 1)
        assert "sequence gap" in report.first_bad.reason
        tamper.restore(rows)
    rnd = random.Random(11)
    pairs = [(a, a + 1) for a in range(1, n)] + [tuple(sorted(rnd.sample(range(1, n + 1), 2)))
                                                 for _ in range(10)]
    for a, b in pairs:
        tamper.swap(a, b)
        report = verify_store(rt.store)
        assert report.first_bad is not None and report.first_bad.seq == a
        tamper.swap(a, b)
    assert verify_store(rt.store).ok


@pytest.mark.req("URS-AUD-02")
def test_truncation_and_rewrites_are_detected_with_a_signed_checkpoint(
        trail: tuple[Runtime, Tamper, int], tmp_path: Path) -> None:
    rt, tamper, n = trail
    key = load_or_create_key(tmp_path / "keys" / "audit.pem")
    public = load_public_key(tmp_path / "keys" / "audit.pem.pub")
    cp = checkpoint(rt.store, key)
    assert (cp["seq"], cp["count"], cp["engine"]) == (n, n, rt.store.engine)
    assert verify_checkpoint(rt.store, cp, public).ok
    rows = tamper.snapshot()
    for cut in (1, 3, n - 1):
        tamper.delete(list(range(n - cut + 1, n + 1)))
        assert verify_store(rt.store, state=False).ok  # a shorter chain is still a chain …
        assert not verify_store(rt.store).ok  # (though the state shows what the tail wrote)
        report = verify_checkpoint(rt.store, cp, public)  # … but not the one signed
        assert report.first_bad is not None and "truncated" in report.first_bad.reason
        assert report.first_bad.seq == n - cut + 1
        tamper.restore(rows)
    # rewrite: cut the tail and append a forged, correctly chained tail through the store
    tamper.delete([n - 1, n])
    head = verify_store(rt.store)
    forged = chain([AuditDraft("update", "urn:x", "MaterialLot", "quantity", 500.0, 1.0),
                    AuditDraft("update", "urn:x", "MaterialLot", "quantity", 1.0, 2.0)],
                   (head.head_seq, head.head_hash), 999, "2026-03-05T00:00:00.000000Z",
                   "mallory", "cover-up", "forged")
    with rt.store.transaction() as tx:
        tx.write([], [], forged, [])
    assert verify_store(rt.store, state=False).ok
    report = verify_checkpoint(rt.store, cp, public)
    assert report.first_bad is not None and report.first_bad.seq == n - 1  # the first forged
    assert "rewritten" in report.first_bad.reason
    tamper.restore(rows)
    # the checkpoint itself: altered, or checked with another key, or over a broken trail
    with pytest.raises(CheckpointError, match="signature"):
        verify_checkpoint(rt.store, {**cp, "seq": n - 2}, public)
    other = load_or_create_key(tmp_path / "other.pem").public_key()
    with pytest.raises(CheckpointError, match="signature"):
        verify_checkpoint(rt.store, cp, other)
    tamper.set(2, "actor", "mallory")
    with pytest.raises(CheckpointError, match="does not verify at entry 2"):
        checkpoint(rt.store, key)


# -- the command line ----------------------------------------------------------------------------
@pytest.mark.req("URS-AUD-02")
def test_cli_verify_checkpoint_and_report(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"TRACEGRAPH_DATA_DIR": str(data), "TRACEGRAPH_STORE": "embedded", "COLUMNS": "220"}
    rt = Runtime.open(Settings(data_dir=data))
    load(rt)
    rt.close()
    cli = CliRunner()
    ok = cli.invoke(audit_app, ["verify"], env=env)
    assert ok.exit_code == 0 and "audit trail verified" in ok.output
    inside = cli.invoke(audit_app, ["checkpoint", "--out", str(tmp_path / "cp.json"),
                                    "--key", str(data / "k.pem")], env=env)
    assert inside.exit_code == 2 and "outside" in inside.output
    key = tmp_path / "keys" / "audit.pem"
    made = cli.invoke(audit_app, ["checkpoint", "--out", str(tmp_path / "cp.json"),
                                  "--key", str(key)], env=env)
    assert made.exit_code == 0, made.output
    cp = orjson.loads((tmp_path / "cp.json").read_bytes())
    args = ["verify", "--checkpoint", str(tmp_path / "cp.json"), "--public-key", f"{key}.pub"]
    assert cli.invoke(audit_app, args, env=env).exit_code == 0
    report = cli.invoke(audit_app, ["report", "--record", "MaterialLot/RL-PP"], env=env)
    assert report.exit_code == 0 and "MaterialLot RL-PP" in report.output
    as_json = cli.invoke(audit_app, ["report", "--user", "system", "--since", "2020-01-01",
                                     "--json"], env=env)
    assert len(orjson.loads(as_json.stdout)) == cp["count"]
    bad = cli.invoke(audit_app, ["report", "--since", "last week"], env=env)
    assert bad.exit_code == 2 and "--since" in bad.output
    store = SQLiteStore(data / "tracegraph.sqlite")
    tamper = Tamper(store)
    tamper.delete([cp["seq"]])
    assert cli.invoke(audit_app, ["verify", "--chain-only"], env=env).exit_code == 0  # a cut …
    cut = cli.invoke(audit_app, args, env=env)
    assert cut.exit_code == 1 and "truncated" in cut.output  # … needs the checkpoint
    tamper.set(3, "new", _flip(tamper.get(3, "new"), random.Random(1)))
    flipped = cli.invoke(audit_app, ["verify", "--json"], env=env)
    assert flipped.exit_code == 1 and orjson.loads(flipped.stdout)["first_bad"]["seq"] == 3
    store.close()


# -- performance (a printed figure, not an assertion) ----------------------------------------------
def test_verify_100k_entries_prints_the_time(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    store = SQLiteStore(tmp_path / "big.sqlite")
    head, total, t0 = (0, GENESIS), 100_000, time.perf_counter()
    for tx in range(1, total // 10_000 + 1):
        drafts = [AuditDraft("update", f"https://w3id.org/tracegraph/id/Batch/B-{i % 997}",
                             "Batch", "quantity", i, i + 1) for i in range(10_000)]
        entries = chain(drafts, head, tx, "2026-03-02T08:00:00.000000Z", "qa", "recount",
                        f"ev-{tx}")
        with store.transaction() as t:
            t.write([], [], entries, [])
        head = (entries[-1].seq, entries[-1].hash)
    built = time.perf_counter() - t0
    report = verify_store(store)
    assert report.ok and report.checked == total
    with capsys.disabled():
        print(f"\n[audit] verified {report.checked:,} entries in {report.seconds:.2f} s "
              f"({report.checked / report.seconds:,.0f} entries/s; built in {built:.1f} s)")
    store.close()
