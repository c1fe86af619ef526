"""The demo plant's room conditions (issue 17 item 1, ``bench.plant_env``), as ``tracegraph demo``
loads them after the workflow: replayed from a historian CSV through the signal pipeline, they
raise exactly one environment deviation, whose hold holds exactly the batches with an execution
in the assembly cleanroom while the CSV's particle counts were beyond the room's USL (read here
from the CSV and the execution records, in plain Python); the held batch's eDHR shows the room
conditions of its operations. Embedded engine, loaded once for the module."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.plant_env import EXCURSION_PARAMETER, EXCURSION_ROOM, replay_environment
from ingest.signals.model import text_to_ms
from ingest.signals.rawstore import RawStore
from ontology.environment import DEFAULTS
from quality.edhr import batch_dhr
from tests.demo_workflow import workflow_demo
from tracegraph.runtime import Runtime


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, dict[str, int]]]:
    with workflow_demo(tmp_path_factory.mktemp("demo-environment")) as rt:
        before = {k: rt.store.counts().get(k, 0) for k in ("Deviation", "Hold")}
        counts = replay_environment(rt)
        counts.update({f"before {k}": v for k, v in before.items()})
        yield rt, counts


def _beyond_usl(path: Path) -> tuple[int, int]:
    """First and last time the CSV has the excursion room's particles above its USL."""
    usl = DEFAULTS["ISO 7"][EXCURSION_PARAMETER].usl
    assert usl is not None
    addr = f"plant/env/{EXCURSION_ROOM}/{EXCURSION_PARAMETER}"
    with path.open(newline="") as fh:
        times = [text_to_ms(r["time"]) for r in csv.DictReader(fh)
                 if r["address"] == addr and float(r["value"]) > usl]
    assert times
    return min(times), max(times)


def test_the_demo_has_one_environment_excursion_holding_its_batches(
        demo: tuple[Runtime, dict[str, int]]) -> None:
    rt, counts = demo
    assert counts["deviations"] == 1 and counts["samples"] > 10_000
    assert rt.store.counts()["Deviation"] == counts["before Deviation"] + 1
    assert rt.store.counts()["Hold"] == counts["before Hold"] + 1
    start, end = _beyond_usl(rt.settings.data_dir / "environment.csv")
    room = rt.vocab.mint_iri("Room", EXCURSION_ROOM)
    expected = set()
    for x in rt.store.nodes_of_class("OperationExecution"):
        if room not in {e.dst for e in rt.store.links([x.iri], ["PERFORMED_IN"])}:
            continue
        s, e = (text_to_ms(str(x.props["startedAtTime"])),
                text_to_ms(str(x.props["endedAtTime"])))
        if s <= end and e >= start:
            expected |= {e.dst for e in rt.store.links([x.iri], ["FOR_BATCH"])}
    env_holds = [h for h in rt.store.nodes_of_class("Hold")
                 if any(a.actor == "signals" for a in rt.store.audit_entries(record=h.iri))]
    assert len(env_holds) == 1
    held = {e.dst for e in rt.store.links([env_holds[0].iri], ["HOLDS"])}
    assert held == expected and expected
    # the held batch's eDHR: the room conditions of its operations, the excursion among them
    batch = sorted(expected)[0]
    raw = RawStore(rt.settings.data_dir / "signals")
    try:
        doc = batch_dhr(rt, batch, samples=raw)
    finally:
        raw.close()
    rooms = {x["room"] for x in doc["environment"]}
    assert EXCURSION_ROOM in rooms
    params = [c for x in doc["environment"] if x["room"] == EXCURSION_ROOM
              for c in x["parameters"]]
    assert {c["parameter"] for c in params} == set(DEFAULTS["ISO 7"])
    assert all(c["samples"] > 0 for c in params)
    assert any(c["excursions"] and not c["withinSpec"] for c in params
               if c["parameter"] == EXCURSION_PARAMETER)
