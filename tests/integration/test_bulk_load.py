"""The bulk load (``tracegraph load --bulk``, :mod:`graph.engines.sqlite.bulk`) is the one write
path: it refuses exactly what a normal load refuses, writes nothing of a refused document, and
leaves the very store a normal load leaves (every node, edge, property and audit entry), with
an audit trail that verifies and every index in place."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bench.plant import write_plant
from graph.authority import Principal
from graph.engines.sqlite.bulk import DEFERRED, bulk_session
from graph.engines.sqlite.store import SQLiteStore
from graph.errors import Problem, WriteRejectedError
from tests import plantlet
from tests.conftest import migrate
from tests.integration.test_cli import run
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

OPERATOR = Principal("op.one", frozenset({"operator"}))
T = "2026-03-02T08:00:00Z"


def _doc(*events: dict[str, Any]) -> dict[str, Any]:
    return {"format": "tracegraph.capture/1", "events": list(events)}


#: documents each path must refuse, with the rule that refuses them
BAD: dict[str, tuple[dict[str, Any], Principal | None]] = {
    # an operator asserting what only QA's release command may set
    "workflow-managed": (_doc({"eventId": "op-release", "nodes": [
        {"class": "Batch", "key": "B-ASSY", "properties": {"batchStatus": "Released"}}]}),
        OPERATOR),
    # a shape violation: a GTIN that is not 14 digits
    "sh:PatternConstraintComponent": (_doc({"eventId": "bad-gtin", "nodes": [
        {"class": "SerializedUnit", "key": "SN-X", "properties": {"gtin": "12345"},
         "links": {"ofProduct": "Product/CATH-14G"}}]}), None),
    # a guard violation: a batch "aggregated" from a supplier lot (a derivation kind whose
    # classes do not fit, quality.record_rules)
    "derivation-kind": (_doc({"eventId": "bad-kind", "derivations": [
        {"kind": "aggregation", "output": "Batch/B-ASSY", "input": "MaterialLot/RL-TUBE",
         "time": T}]}), None),
}


#: when a superseded state was kept (the time of the writing, as ``recorded_at`` is) and the
#: administrator's salted password hash: not the same in two loads
_UNEQUAL = re.compile(r'"(supersededAt|passwordHash)":"[^"]*"')


def _untimed(text: str | None) -> str | None:
    return None if text is None else _UNEQUAL.sub(r'"\1":"(differs)"', text)


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a load writes, read with sqlite3 from the file, without the times and
    transaction numbers of the writing (the two loads ran at other moments) and the salted
    hash of the administrator's password."""
    c = sqlite3.connect(path)
    c.create_function("untimed", 1, _untimed, deterministic=True)
    try:
        return {
            "nodes": sorted(c.execute("SELECT iri, label, key, untimed(props) FROM nodes")),
            "edges": sorted(c.execute(
                "SELECT s.iri, e.type, d.iri, e.eid, e.props FROM edges e "
                "JOIN nodes s ON s.id = e.src JOIN nodes d ON d.id = e.dst")),
            "identifiers": sorted(c.execute(
                "SELECT i.value, i.prop, n.iri FROM identifiers i JOIN nodes n ON n.id = i.node")),
            "audit": sorted(c.execute(
                "SELECT actor, action, record, record_class, field, untimed(old), untimed(new), "
                "reason, event_id FROM audit")),
            "events": sorted(c.execute(
                "SELECT event_id, iif(event_id LIKE 'account-create:%', '', content_hash) "
                "FROM events")),
            "indexes": sorted(c.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")),
        }
    finally:
        c.close()


def _runtime(tmp: Path) -> Runtime:
    store = SQLiteStore(tmp / "store.sqlite")
    rt = Runtime.open(Settings(data_dir=tmp), store=store)
    migrate(rt, plantlet.master_data(), plantlet.asl())
    rt.capture(plantlet.execution())
    return rt


def _refusal(rt: Runtime, name: str) -> list[Problem]:
    doc, principal = BAD[name]
    with pytest.raises(WriteRejectedError) as refused:
        rt.capture(doc, principal=principal)
    return refused.value.problems


@pytest.mark.parametrize("name", sorted(BAD))
def test_bulk_refuses_what_the_normal_path_refuses_and_writes_nothing(
        tmp_path: Path, name: str) -> None:
    normal, bulk = _runtime(tmp_path / "normal"), _runtime(tmp_path / "bulk")
    try:
        before = _rows(tmp_path / "bulk" / "store.sqlite")
        expected = _refusal(normal, name)
        assert name in {p.rule for p in expected}
        assert isinstance(bulk.store, SQLiteStore)
        with bulk_session(bulk.store):
            got = _refusal(bulk, name)
        assert got == expected  # the same structured errors: rule, field, value, node, event
        after = _rows(tmp_path / "bulk" / "store.sqlite")
        assert after == before  # nothing written; the deferred indexes are back
        assert {n for n, _ in after["indexes"]} >= set(DEFERRED)
    finally:
        normal.close()
        bulk.close()


def test_a_plant_loaded_in_bulk_equals_the_plant_loaded_normally(tmp_path: Path) -> None:
    plant = tmp_path / "plant"
    write_plant(plant, size="demo", seed=11)
    loaded: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    for mode in ("normal", "bulk"):
        home = tmp_path / mode
        made = run(home, "user", "create-admin", "--username", "it.admin", "--name", "IT Admin",
                   "--password-stdin", stdin="correct horse battery staple\n")
        assert made.returncode == 0, made.stderr
        r = run(home, "load", "--migration", "--user", "it.admin", "--reason", "plant history",
                *(["--bulk"] if mode == "bulk" else []), str(plant))
        assert r.returncode == 0, r.stderr
        assert "edges/s" in r.stdout
        if mode == "bulk":  # the phase times, the deferred indexes among them
            assert "phases" in r.stdout and "indexes" in r.stdout and "shapes" in r.stdout
        verified = run(home, "audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        loaded[mode] = _rows(home / "store" / "tracegraph.sqlite")
    normal, bulk = loaded["normal"], loaded["bulk"]
    assert len(normal["nodes"]) > 5000 and len(normal["edges"]) > 20000
    for table in normal:
        assert bulk[table] == normal[table], table
