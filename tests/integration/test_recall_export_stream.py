"""The recall export streams its units file in chunks (issue 16 item 1) and writes the same bytes
as the previous export, which materialised every unit row from the walk's per-item methods and
sorted them in memory, and serialised the lists with ``dataclasses.asdict``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import orjson
import pytest

import graph.engines.sqlite.walk as array_walk
from bench.plant import PLANT_MIGRATION, generate_plant
from graph.engines.sqlite import SQLiteStore
from graph.recall import UNIT_CLASS, RecallAnswer, write_export
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    tmp = tmp_path_factory.mktemp("stream")
    rt = Runtime.open(Settings(data_dir=tmp), store=SQLiteStore(tmp / "s.sqlite"))
    for d in generate_plant(size="demo", seed=7):
        rt.capture(d, migration=PLANT_MIGRATION)
    yield rt
    rt.close()


def previous_units_csv(answer: RecallAnswer) -> bytes:
    """Every unit row built one unit at a time (record, witness path, depth), sorted whole."""
    walk = answer.walk
    assert walk is not None
    units = list(walk.by_label().get(UNIT_CLASS, ()))
    records = walk.records(units)
    rows = []
    for h in units:
        path = [walk.iris([x])[x] for x in walk.witness(h)]
        rec = records[h]
        rows.append((rec.key, str(rec.props.get("gtin", "")), rec.iri,
                     path[-2] if len(path) > 1 else "", walk.depth_of(h), path[0]))
    rows.sort(key=lambda r: (r[0], r[2]))
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["serial", "gtin", "iri", "batch", "depth", "seed"])
    w.writerows(rows)
    return buf.getvalue().encode()


@pytest.mark.parametrize("pick", ["some units", "every lot"])  # sparse and dense key order
def test_streamed_export_equals_the_previous_export(plant: Runtime, tmp_path: Path, pick: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(array_walk, "UNIT_CHUNK", 7)  # many chunks on a small plant
    monkeypatch.setattr(array_walk, "CHUNK", 5)
    units = sorted(n.iri for n in plant.store.nodes_of_class(UNIT_CLASS))
    lots = sorted(n.iri for n in plant.store.nodes_of_class("MaterialLot"))
    seeds = units[::97] if pick == "some units" else lots
    answer = plant.recall(seeds, unit_limit=0)
    if pick == "some units":  # a small part of the class: its own keys are sorted
        assert 7 * 3 < answer.units_total < len(units) / 4
    else:  # most of the class: the (label, key, iri) index is walked
        assert answer.units_total > 7 * 3
    files = write_export(answer, tmp_path)
    assert files["units"].read_bytes() == previous_units_csv(answer)
    lean = plant.recall(seeds, unit_limit=0, package_limit=0)  # what the command asks for
    assert lean.packages == [] and lean.summary() == answer.summary()
    assert answer.summary()["packages"] == len(answer.packages) > 0
    for name, path in write_export(lean, tmp_path / "lean").items():
        assert path.read_bytes() == files[name].read_bytes(), name
    body = orjson.loads(files["json"].read_bytes())
    assert body["batches"] == [asdict(a) for a in answer.batches]
    assert body["shipments"] == [asdict(a) for a in answer.shipments]
    assert body["customers"] == [asdict(c) for c in answer.customers]
    walk = answer.walk
    assert walk is not None
    for a in answer.batches + answer.shipments:  # depths and paths as one item at a time
        [h] = [h for h, i in walk.iris(list(walk.by_label()[a.cls])).items() if i == a.iri]
        assert a.depth == walk.depth_of(h)
        assert a.witness == [walk.iris([x])[x] for x in walk.witness(h)]


def test_units_file_quotes_what_csv_quotes(tmp_path: Path) -> None:
    from graph.recall import _write_units

    rows = [("SN-1", "0950", "iri:1", "iri:b", 1, "iri:s"),
            ("SN-2", "09,50", 'a "q"', "line\nbreak", 2, "cr\r"), ("SN-3", "", "i", "", 0, "i")]
    for per in (1, 2, 3):  # parts with and without a field to quote
        path = tmp_path / f"u{per}.csv"
        with path.open("w", newline="") as f:
            _write_units(f, iter(rows), per)
        buf = io.StringIO(newline="")
        csv.writer(buf).writerows(rows)
        assert path.read_bytes() == buf.getvalue().encode()
