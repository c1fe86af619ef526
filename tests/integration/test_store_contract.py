"""The store contract: the same behaviour from the embedded engine and from a real Neo4j."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from graph.audit import verify_chain
from graph.engines.sqlite import SQLiteStore
from graph.errors import EventConflictError, WriteRejectedError
from graph.model import Direction, EdgeRecord, NodeRecord
from graph.port import GraphStore
from graph.schema import DERIVATION, EDGE_SYSTEM_PROPS, NODE_SYSTEM_PROPS
from ontology.vocab import Vocabulary
from tests import plantlet
from tests.conftest import migrate
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


def load_plantlet(rt: Runtime) -> None:
    plantlet.load(rt)


def iri(rt: Runtime, ref: str) -> str:
    cls, _, key = ref.partition("/")
    return rt.vocab.mint_iri(cls, key)


def oracle(docs: list[dict[str, Any]], rt: Runtime) -> nx.DiGraph:
    """Independent genealogy graph straight from the raw capture documents."""
    g: nx.DiGraph = nx.DiGraph()
    for doc in docs:
        for ev in doc["events"]:
            for d in ev.get("derivations", []):
                g.add_edge(iri(rt, d["output"]), iri(rt, d["input"]))
    return g


@pytest.mark.req("URS-AUD-01")
def test_capture_writes_nodes_edges_and_one_audit_entry_per_change(runtime: Runtime) -> None:
    load_plantlet(runtime)
    counts = runtime.store.counts()
    assert counts["MaterialLot"] == 2
    assert counts["SerializedUnit"] == 3
    assert counts[DERIVATION] == len(plantlet.EXPECTED_EDGES)
    entries = list(runtime.store.iter_audit())
    created = [e for e in entries if e.action == "create"]
    total_nodes = sum(v for k, v in counts.items() if k in runtime.vocab.classes)
    assert len(created) == total_nodes
    assert all(e.actor == "system" and e.event_id for e in entries)
    checked, broken = verify_chain(entries)
    assert checked == len(entries) and broken is None


@pytest.mark.req("URS-DATA-01")
def test_resending_the_same_document_writes_nothing(runtime: Runtime) -> None:
    load_plantlet(runtime)
    before = (runtime.store.counts(), len(list(runtime.store.iter_audit())),
              runtime.store.watermark())
    again = runtime.capture(plantlet.execution())
    assert again.events_written == 0
    assert again.events_skipped == len(plantlet.execution()["events"])
    after = (runtime.store.counts(), len(list(runtime.store.iter_audit())),
             runtime.store.watermark())
    assert after == before


@pytest.mark.req("URS-DATA-01")
def test_event_id_reused_for_other_content_is_refused(runtime: Runtime) -> None:
    load_plantlet(runtime)
    doc = plantlet.execution()
    doc["events"][0]["nodes"][0]["properties"]["quantity"] = 499
    with pytest.raises(EventConflictError) as e:
        runtime.capture(doc)
    assert e.value.problems[0].field == "eventId"
    assert runtime.store.get(iri(runtime, "MaterialLot/RL-PP")).props["quantity"] == 500


@pytest.mark.req("URS-AUD-01", "URS-REC-01")
def test_update_keeps_record_time_and_audits_old_and_new(runtime: Runtime) -> None:
    load_plantlet(runtime)
    lot = iri(runtime, "MaterialLot/RL-PP")
    before = runtime.store.get(lot)
    assert before is not None
    runtime.capture({"format": "tracegraph.capture/1", "events": [{
        "eventId": "adj-1", "reason": "stock count", "actor": "qa.lee",
        "nodes": [{"class": "MaterialLot", "key": "RL-PP", "properties": {"quantity": 480}}]}]})
    after = runtime.store.get(lot)
    assert after is not None and after.props["quantity"] == 480
    assert after.recorded_at == before.recorded_at and after.updated_at >= before.updated_at
    entries = {e.field: e for e in runtime.store.audit_entries(record=lot, actor="qa.lee")}
    assert set(entries) == {"quantity", "versionNumber", "priorVersion"}
    q = entries["quantity"]
    assert (q.action, q.old, q.new, q.reason) == ("update", 500, 480, "stock count")
    assert (entries["versionNumber"].old, entries["versionNumber"].new) == (1, 2)


@pytest.mark.req("URS-TRC-01")
def test_reads_by_every_identifier(runtime: Runtime) -> None:
    load_plantlet(runtime)
    s = runtime.store
    lot = iri(runtime, "MaterialLot/RL-PP")
    assert s.get(lot) is not None and s.get(lot).label == "MaterialLot"  # type: ignore[union-attr]  # checked not None on the left of the and
    assert [n.iri for n in s.find("RL-PP")] == [lot]
    assert [n.iri for n in s.find("RL-PP", "lotNumber")] == [lot]
    assert [n.iri for n in s.find("PA-778", "supplierLotNumber")] == [lot]
    assert [n.iri for n in s.find("PA-778")] == [lot]
    assert [n.key for n in s.find("SN-2", "serialNumber")] == ["SN-2"]
    assert [n.key for n in s.find("095060001000000012", "sscc")] == ["095060001000000012"]
    assert [n.key for n in s.find("IMM-01", "equipmentTag")] == ["IMM-01"]
    gtin_hits = {n.key for n in s.find("09506000134352", "gtin")}
    assert gtin_hits == {"CATH-14G", "B-ASSY", "SN-1", "SN-2", "SN-3"}
    assert {n.key for n in s.find("09506000134352", "gtin", label="SerializedUnit")} == {
        "SN-1", "SN-2", "SN-3"}
    assert s.find("NO-SUCH-THING") == []
    assert set(s.get_many([lot, "https://nowhere.example/x"])) == {lot}


T_SHIP = "2026-03-05T10:00:00Z"


@pytest.mark.req("URS-DATA-01")
def test_a_document_with_one_bad_event_writes_nothing(runtime: Runtime) -> None:
    migrate(runtime, plantlet.master_data())
    before = (runtime.store.counts(), len(list(runtime.store.iter_audit())))
    doc = plantlet.execution()
    doc["events"].append({"eventId": "ship-x", "nodes": [
        {"class": "Shipment", "key": "SHIP-X", "properties": {"shippedAt": T_SHIP},
         "links": {"shippedTo": "Customer/NOBODY"}}]})
    with pytest.raises(WriteRejectedError) as e:
        runtime.capture(doc)
    [p] = e.value.problems
    assert (p.rule, p.field, p.value) == (
        "referential-integrity", "SHIPPED_TO", iri(runtime, "Customer/NOBODY"))
    assert (runtime.store.counts(), len(list(runtime.store.iter_audit()))) == before
    assert runtime.store.events(["b-mould"]) == {}


@pytest.mark.req("URS-DATA-01")
def test_a_transaction_failing_halfway_leaves_nothing(store: GraphStore) -> None:
    node = NodeRecord("https://example.org/x", "Material", "X", {"code": "X"}, "t", "t", 1)
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.write([node], [], [], [])
        assert tx.fetch_nodes([node.iri])  # visible inside the transaction …
        raise RuntimeError("power cut")
    assert store.get(node.iri) is None  # … and gone after the rollback
    assert store.watermark() == 0


@pytest.mark.req("URS-DATA-01")
def test_shape_violations_name_focus_path_value_and_message(runtime: Runtime) -> None:
    migrate(runtime, plantlet.master_data())
    doc = copy.deepcopy(plantlet.execution())
    batch = doc["events"][0]["nodes"][0]
    batch["properties"]["gtin"] = "12345"
    del batch["links"]["runsProcessVersion"]
    with pytest.raises(WriteRejectedError) as e:
        runtime.capture(doc)
    got = {(p.focus, p.field, p.rule) for p in e.value.problems}
    focus = iri(runtime, "Batch/B-MOULD")
    assert (focus, "gtin", "sh:PatternConstraintComponent") in got
    assert (focus, "runsProcessVersion", "sh:MinCountConstraintComponent") in got
    assert all(p.message for p in e.value.problems)
    bad_gtin = next(p for p in e.value.problems if p.field == "gtin")
    assert bad_gtin.value == "12345"
    assert runtime.store.counts().get("Batch", 0) == 0


@pytest.mark.parametrize("depth", [1, 2, 3, 50])
@pytest.mark.req("URS-TRC-01")
def test_genealogy_equals_networkx_oracle(runtime: Runtime, depth: int) -> None:
    load_plantlet(runtime)
    g = oracle(plantlet.documents(), runtime)
    for seed in g.nodes:
        for direction, graph in ((Direction.UPSTREAM, g), (Direction.DOWNSTREAM, g.reverse())):
            got = runtime.store.genealogy([seed], direction, max_depth=depth)
            want = nx.single_source_shortest_path_length(graph, seed, cutoff=depth)
            assert got.depth == want, (seed, direction)
            walked = {(e.src, e.dst) for e in got.edges}
            want_edges = {(a, b) if direction == Direction.UPSTREAM else (b, a)
                          for a, b in graph.edges if a in want and want[a] < depth}
            assert walked == want_edges, (seed, direction)


@pytest.mark.req("URS-TRC-01")
def test_genealogy_carries_quantities_and_filters_by_kind(runtime: Runtime) -> None:
    load_plantlet(runtime)
    up = runtime.store.genealogy([iri(runtime, "Batch/B-ASSY")], Direction.UPSTREAM, 1)
    q = {(e.dst.rsplit("/", 1)[1], e.props["quantity"], e.props["unitCode"]) for e in up.edges}
    assert q == {("B-MOULD", 3, "{pc}"), ("RL-PP", 0.5, "kg"), ("RL-TUBE", 6, "m")}
    down = runtime.store.genealogy([iri(runtime, "MaterialLot/RL-PP")], Direction.DOWNSTREAM,
                                   kinds=["consumption"])
    assert {n.label for n in down.nodes.values()} == {"MaterialLot", "Batch"}


@pytest.mark.req("URS-REC-01", "URS-TRC-01")
def test_genealogy_as_of_record_time(runtime: Runtime) -> None:
    migrate(runtime, plantlet.master_data())
    doc = plantlet.execution()
    first, rest = dict(doc, events=doc["events"][:2]), dict(doc, events=doc["events"][2:])
    runtime.capture(first)
    mark = max(e.recorded_at for e in runtime.store.edges(
        iri(runtime, "Batch/B-ASSY"), Direction.UPSTREAM))
    runtime.capture(rest)
    migrate(runtime, plantlet.shipping())
    seed = [iri(runtime, "MaterialLot/RL-PP")]
    now = runtime.store.genealogy(seed, Direction.DOWNSTREAM)
    then = runtime.store.genealogy(seed, Direction.DOWNSTREAM, as_of=mark)
    assert any(n.label == "Shipment" for n in now.nodes.values())
    assert {n.label for n in then.nodes.values()} == {"MaterialLot", "Batch"}


@pytest.mark.req("URS-DATA-01")
def test_store_writes_only_terms_the_ontology_declares(runtime: Runtime, vocab: Vocabulary
                                                       ) -> None:
    load_plantlet(runtime)
    labels, rel_types, node_props, edge_props = runtime.store.schema_terms()
    assert labels and labels <= set(vocab.classes)
    assert rel_types and rel_types <= set(vocab.relationship_types)
    declared = set(vocab.properties)
    assert node_props - set(NODE_SYSTEM_PROPS) <= declared, node_props - declared
    assert edge_props - set(EDGE_SYSTEM_PROPS) <= set(vocab.edge_properties(DERIVATION))
    for p in (*NODE_SYSTEM_PROPS, *EDGE_SYSTEM_PROPS):
        assert p in declared, f"system property {p} is not in the ontology"


def test_edges_of_a_node(runtime: Runtime) -> None:
    load_plantlet(runtime)
    case = iri(runtime, "PackagingAggregation/095060001000000012")
    out = runtime.store.edges(case, Direction.UPSTREAM)
    assert {e.dst.rsplit("/", 1)[1] for e in out} == {"SN-1", "SN-2"}
    into = runtime.store.edges(case, Direction.DOWNSTREAM)
    assert [(e.src.rsplit("/", 1)[1], e.type) for e in into] == [("SHIP-1", DERIVATION)]
    assert all(isinstance(e, EdgeRecord) for e in out + into)


def _derive(event_id: str, *pairs: tuple[str, str], unit: str = "{pc}") -> dict[str, Any]:
    return {"format": "tracegraph.capture/1", "events": [{
        "eventId": event_id,
        "derivations": [{"kind": "consumption", "output": o, "input": i, "quantity": 1,
                         "unit": unit} for o, i in pairs]}]}


@pytest.mark.parametrize("pairs", [
    # through stored nodes: the moulded batch would be made from the assembly it went into
    [("Batch/B-MOULD", "Batch/B-ASSY")],
    # a longer loop: the resin lot from a unit made of it
    [("MaterialLot/RL-PP", "SerializedUnit/SN-1")],
    # a thing derived from itself
    [("Batch/B-ASSY", "Batch/B-ASSY")],
])
@pytest.mark.req("URS-TRC-01", "URS-DATA-01")
def test_derivations_that_close_a_cycle_are_refused(runtime: Runtime,
                                                    pairs: list[tuple[str, str]]) -> None:
    load_plantlet(runtime)
    before = (runtime.store.counts(), runtime.store.watermark())
    with pytest.raises(WriteRejectedError) as e:
        runtime.capture(_derive("loop", *pairs))
    assert {p.rule for p in e.value.problems} == {"genealogy-acyclic"}
    assert e.value.problems[0].focus == iri(runtime, pairs[0][0])
    assert (runtime.store.counts(), runtime.store.watermark()) == before


def test_a_cycle_among_new_things_is_refused(runtime: Runtime) -> None:
    migrate(runtime, plantlet.master_data())
    doc = plantlet.execution()
    doc["events"][2]["derivations"].append(
        {"kind": "rework", "output": "Batch/B-MOULD", "input": "Batch/B-ASSY"})
    with pytest.raises(WriteRejectedError) as e:
        runtime.capture(doc)
    assert any(p.rule == "genealogy-acyclic" for p in e.value.problems)


def test_diamonds_and_merges_are_not_cycles(runtime: Runtime) -> None:
    load_plantlet(runtime)
    # RL-TUBE also straight into the units' batch again (parallel edge) and into B-MOULD
    # (B-ASSY is released: only a migration may add to it, rule batch-closed)
    before = runtime.store.counts()[DERIVATION]
    migrate(runtime, _derive("more", ("Batch/B-MOULD", "MaterialLot/RL-TUBE"),
                            ("Batch/B-ASSY", "MaterialLot/RL-TUBE"), unit="m"))
    assert runtime.store.counts()[DERIVATION] == before + 2


@pytest.mark.req("URS-TRC-01")
def test_mass_balance_of_the_resin_lot(runtime: Runtime) -> None:
    from graph.massbalance import mass_balance

    load_plantlet(runtime)
    lot = iri(runtime, "MaterialLot/RL-PP")
    mb = mass_balance(runtime.store.genealogy([lot], Direction.DOWNSTREAM))
    assert (mb.unit, mb.received, mb.consumed, mb.on_hand) == ("kg", 500.0, 20.5, 479.5)
    ex = {k.rsplit("/", 1)[1]: v for k, v in mb.exposure.items()}
    # 20 kg into 1000 connectors, 3 of them into the assembly, plus 0.5 kg straight in
    assert ex["B-MOULD"] == pytest.approx(20.0)
    assert ex["B-ASSY"] == pytest.approx(20.0 * 3 / 1000 + 0.5)
    assert ex["SN-1"] == pytest.approx((0.06 + 0.5) / 3)
    assert ex["095060001000000012"] == pytest.approx(2 * (0.06 + 0.5) / 3)  # two units a case
    assert ex["SHIP-1"] == pytest.approx(ex["095060001000000012"])
    assert mb.fraction(iri(runtime, "Batch/B-MOULD")) == pytest.approx(20.0 / 500)


def test_embedded_index_snapshot_is_reused_only_by_its_own_store(tmp_path: Path) -> None:
    """The CSR snapshot next to the file speeds up a new process and is never trusted when
    it belongs to another database or is ahead of it."""
    path = tmp_path / "s.sqlite"
    first = Runtime.open(Settings(data_dir=tmp_path), store=SQLiteStore(path))
    load_plantlet(first)
    seed = [iri(first, "MaterialLot/RL-PP")]
    want = first.store.genealogy(seed, Direction.DOWNSTREAM).depth
    idx = first.store._derivations()[0]  # type: ignore[attr-defined]  # SQLite-only test of the engine's snapshot
    first.store._save_snapshot(idx)  # type: ignore[attr-defined]  # SQLite-only test of the engine's snapshot
    snap = Path(f"{path}.derivations.npz")
    assert snap.exists()
    # a new process on the same file starts from the snapshot and agrees
    again = SQLiteStore(path)
    assert again.genealogy(seed, Direction.DOWNSTREAM).depth == want
    assert again._index.tx == first.store.watermark()
    # a different database at the same path must not use it
    first.store.close()
    again.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    assert snap.exists()
    fresh = SQLiteStore(path)
    other = Runtime.open(Settings(data_dir=tmp_path), store=fresh)
    migrate(other, plantlet.master_data())  # same tx numbers, no derivations at all
    assert len(fresh._derivations()[0]) == 0, "a snapshot of another database was used"


@pytest.mark.parametrize("prop", ["iri", "key", "recordedAt", "updatedAt", "txId"])
@pytest.mark.req("URS-ACC-02")
def test_system_properties_cannot_be_written_by_capture(runtime: Runtime, prop: str) -> None:
    doc = plantlet.master_data()
    doc["events"][0]["nodes"][0]["properties"][prop] = "2026-01-01T00:00:00Z"
    with pytest.raises(WriteRejectedError) as e:
        runtime.capture(doc)
    assert [(p.rule, p.field.rsplit(".", 1)[1]) for p in e.value.problems] == [
        ("system-property", prop)]


@pytest.mark.parametrize("cls", ["ElectronicSignature", "AuditEvent", "CaptureEvent",
                                 "RecordVersion"])
@pytest.mark.req("URS-ACC-02")
def test_capture_cannot_write_system_managed_records(runtime: Runtime, cls: str) -> None:
    doc = {"format": "tracegraph.capture/1", "events": [{"eventId": "forge", "nodes": [
        {"class": cls, "key": "X-1", "properties": {}}]}]}
    with pytest.raises(WriteRejectedError) as e:
        runtime.capture(doc)
    assert [p.rule for p in e.value.problems] == ["system-managed-class"]
    assert runtime.store.watermark() == 0


@pytest.mark.parametrize("prop", ["passwordHash", "failedAttempts", "lockedUntil"])
@pytest.mark.req("URS-ACC-02", "URS-ACC-03")
def test_capture_cannot_write_credentials_or_lockout(runtime: Runtime, prop: str) -> None:
    doc = {"format": "tracegraph.capture/1", "events": [{"eventId": "forge", "nodes": [
        {"class": "User", "key": "mallory", "properties": {prop: "0"}}]}]}
    with pytest.raises(WriteRejectedError) as e:
        runtime.capture(doc)
    assert [(p.rule, p.value) for p in e.value.problems] == [
        ("system-managed-property", "(withheld)")]


@pytest.mark.req("URS-REC-01")
def test_corrections_keep_every_superseded_state(runtime: Runtime) -> None:
    """Records are never overwritten: each correction keeps the prior state whole, linked
    from the record by priorVersion (a prov:wasRevisionOf)."""
    import orjson

    load_plantlet(runtime)
    lot = iri(runtime, "MaterialLot/RL-PP")
    for n, qty in enumerate((480, 455), start=1):
        runtime.capture({"format": "tracegraph.capture/1", "events": [{
            "eventId": f"count-{n}", "reason": "stock count", "actor": "wh.jones",
            "nodes": [{"class": "MaterialLot", "key": "RL-PP", "properties": {"quantity": qty}}]}]})
    now = runtime.store.get(lot)
    assert now is not None and now.props["quantity"] == 455 and now.props["versionNumber"] == 3
    prior = runtime.store.links([lot], ["PRIOR_VERSION"])
    versions = runtime.store.get_many([e.dst for e in prior])
    states = sorted((v.props["versionNumber"], orjson.loads(v.props["snapshot"])["quantity"])
                    for v in versions.values())
    assert states == [(1, 500), (2, 480)]
    assert all(v.props["revisedRecord"] == lot for v in versions.values())
    down = runtime.store.genealogy([lot], Direction.DOWNSTREAM)
    assert not any(n.label == "RecordVersion" for n in down.nodes.values())
    # a re-sent correction is a duplicate, not a third version
    runtime.capture({"format": "tracegraph.capture/1", "events": [{
        "eventId": "count-2", "reason": "stock count", "actor": "wh.jones",
        "nodes": [{"class": "MaterialLot", "key": "RL-PP", "properties": {"quantity": 455}}]}]})
    assert len(runtime.store.links([lot], ["PRIOR_VERSION"])) == 2


def test_edges_of_a_type_in_a_range_of_transactions(runtime: Runtime) -> None:
    """What the EPCIS query reads by record time: the derivations recorded after one
    transaction and by another, in transaction order, equal to filtering every edge."""
    load_plantlet(runtime)
    st = runtime.store

    def ids(edges: list[EdgeRecord]) -> list[tuple[str, str, str, str, int]]:
        return [(e.src, e.type, e.dst, e.eid, e.tx) for e in edges]

    every = [e for e in st.edges_by_source() if e.type == DERIVATION]
    got = st.edges_of_type(DERIVATION)
    assert sorted(ids(got)) == sorted(ids(every)) and len(every) > 5
    assert [e.tx for e in got] == sorted(e.tx for e in got)
    assert all(e.props == f.props and e.recorded_at == f.recorded_at
               for e, f in zip(sorted(got, key=lambda e: ids([e])),
                               sorted(every, key=lambda e: ids([e])), strict=True))
    txs = sorted({e.tx for e in every})
    assert len(txs) > 1
    for cut in txs:
        assert sorted(ids(st.edges_of_type(DERIVATION, cut))) == \
            sorted(ids([e for e in every if e.tx > cut]))
        assert sorted(ids(st.edges_of_type(DERIVATION, 0, cut))) == \
            sorted(ids([e for e in every if e.tx <= cut]))
    assert st.edges_of_type(DERIVATION, txs[-1]) == []
    assert st.edges_of_type("noSuchRelationship") == []
