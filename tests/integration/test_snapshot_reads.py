"""Snapshot reads: while another PROCESS keeps committing batches and units made from a lot, every
recall of that lot is exactly the recall recomputed (independently, with networkx) over the edges
committed by the watermark the answer reports — never a batch or unit committed after it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import networkx as nx
import orjson
import pytest

from graph.engines.sqlite import SQLiteStore
from graph.model import Direction
from graph.recall import BATCH_CLASSES, PACK_CLASS, SHIPMENT_CLASS, UNIT_CLASS, RecallAnswer
from graph.schema import DERIVATION
from tests import plantlet
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
LISTED = {*BATCH_CLASSES, UNIT_CLASS, PACK_CLASS, SHIPMENT_CLASS}

#: the other process: one transaction per batch, each batch consuming the lot and producing two
#: serialised units, until told to stop
WRITER = """
import sys
from pathlib import Path
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

data = Path(sys.argv[1])
rt = Runtime.open(Settings(data_dir=data))
i = 0
while not (data / "stop").exists() and i < 5000:
    i += 1
    units = [f"SN-W{i}-{j}" for j in (1, 2)]
    rt.capture({"format": "tracegraph.capture/1", "events": [{
        "eventId": f"writer-{i}",
        "nodes": [{"class": "Batch", "key": f"B-W{i}",
                   "properties": {"gtin": "09506000134352", "batchStatus": "Completed",
                                  "quantity": 2, "unitCode": "{pc}"},
                   "links": {"ofProduct": "Product/CATH-14G",
                             "runsProcessVersion": "ProcessVersion/CATH-ASSY/v1"}},
                  *[{"class": "SerializedUnit", "key": u,
                     "properties": {"gtin": "09506000134352"},
                     "links": {"ofProduct": "Product/CATH-14G"}} for u in units]],
        "derivations": [
            {"kind": "consumption", "output": f"Batch/B-W{i}", "input": "MaterialLot/RL-PP",
             "quantity": 0.01, "unit": "kg", "time": "2026-03-03T08:00:00Z"},
            *[{"kind": "production", "output": f"SerializedUnit/{u}", "input": f"Batch/B-W{i}",
               "quantity": 1, "unit": "{pc}"} for u in units]]}]})
    (data / "written").write_text(str(i))
rt.close()
"""


def recomputed(db: Path, seed: str, watermark: int) -> dict[str, str]:
    """Classes and IRIs of everything downstream of ``seed`` over the derivation edges
    committed by transaction ``watermark`` (the seed included), with networkx: IRI → class."""
    with sqlite3.connect(db) as c:
        edges = c.execute("SELECT s.iri, d.iri FROM edges e JOIN nodes s ON s.id = e.src "
                          "JOIN nodes d ON d.id = e.dst WHERE e.type = ? AND e.tx <= ?",
                          (DERIVATION, watermark)).fetchall()
        g = nx.DiGraph(edges)  # derived thing -> source
        reached = {seed} | (nx.ancestors(g, seed) if seed in g else set())
        labels = dict(c.execute("SELECT iri, label FROM nodes WHERE iri IN (SELECT value FROM "
                                "json_each(?))", (orjson.dumps(sorted(reached)).decode(),)))
    assert set(labels) == reached
    return labels


def listed(a: RecallAnswer) -> set[str]:
    return {x.iri for x in (*a.batches, *a.units, *a.packages, *a.shipments)}


@pytest.mark.req("URS-REC-02")
def test_recall_during_writes_from_another_process_is_a_snapshot(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rt = Runtime.open(Settings(data_dir=data))
    plantlet.load(rt)
    assert isinstance(rt.store, SQLiteStore)
    db = Path(rt.store.path)
    seed = rt.vocab.mint_iri("MaterialLot", "RL-PP")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(data)], env=env,
                              stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (data / "written").exists():  # the writer is running
            assert writer.poll() is None, writer.stderr.read() if writer.stderr else ""
            assert time.monotonic() < deadline, "the writer process never committed"
            time.sleep(0.05)
        answers = [rt.recall([seed], unit_limit=1_000_000) for _ in range(100)]
    finally:
        (data / "stop").touch()
        _, stderr = writer.communicate(timeout=120)
    assert writer.returncode == 0, stderr.decode()
    watermarks = [a.watermark for a in answers]
    assert len(set(watermarks)) > 1, "the writer must have committed while recalls ran"
    for a in answers:
        labels = recomputed(db, seed, a.watermark)
        counts = Counter(labels.values())
        assert a.counts == dict(sorted(counts.items())), a.watermark
        assert listed(a) == {i for i, c in labels.items() if c in LISTED}, a.watermark
        assert a.units_total == counts["SerializedUnit"]
    # the same for a genealogy read
    g = rt.store.genealogy([seed], Direction.DOWNSTREAM)
    assert set(g.depth) == set(recomputed(db, seed, g.watermark))
    rt.close()


@pytest.mark.parametrize("nested", [False, True])
def test_a_write_inside_a_snapshot_on_the_same_thread_is_refused(tmp_path: Path,
                                                                 nested: bool) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    with store.snapshot() as w:
        if nested:
            with store.snapshot() as inner:
                assert inner == w
        with pytest.raises(RuntimeError, match="inside a snapshot"), store.transaction():
            pass
    with store.transaction():  # after the snapshot, writes go on
        pass
    assert store.watermark() == w + 1
    store.close()


@pytest.mark.req("URS-REC-02", "URS-DHR-01")
def test_the_release_report_is_read_in_one_snapshot(runtime: Runtime,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A deviation on the batch committed by another thread while the report is half read is
    not in the report (it is after the watermark the report gives); the next report has it."""
    import threading

    from quality import release
    from quality.deviations import open_deviation
    from tests.conftest import make_user

    plantlet.load(runtime)
    make_user(runtime, "qc.quinn", ["qc"])
    judged = release.inspection_exceptions

    failed: list[BaseException] = []

    def write() -> None:
        try:
            open_deviation(runtime, "DEV-LATE", "hub scratch", "found at packing", "minor",
                           "qc.quinn", "found",
                           concerns=[runtime.vocab.mint_iri("Batch", "B-ASSY")])
        except BaseException as e:  # reported by the test below
            failed.append(e)

    def meanwhile(*args: object, **kwargs: object) -> object:
        t = threading.Thread(target=write)
        t.start()
        t.join()
        assert not failed, failed
        return judged(*args, **kwargs)  # type: ignore[arg-type]  # passes the report's own arguments

    monkeypatch.setattr(release, "inspection_exceptions", meanwhile)
    first = release.release_report(runtime, "B-ASSY")
    monkeypatch.setattr(release, "inspection_exceptions", judged)
    assert runtime.store.watermark() == first.watermark + 1  # the deviation came after it
    assert "open-deviation" not in {p.rule for p in first.exceptions}
    second = release.release_report(runtime, "B-ASSY")
    assert second.watermark == first.watermark + 1
    assert [p.focus for p in second.exceptions if p.rule == "open-deviation"] == [
        runtime.vocab.mint_iri("Deviation", "DEV-LATE")]
    from quality.edhr import batch_dhr, unit_dhr

    assert batch_dhr(runtime, "B-ASSY")["watermark"] == second.watermark
    assert unit_dhr(runtime, "SN-1")["watermark"] == second.watermark
