"""Environmental monitoring (issue 17 item 1) on both engines: a room's excursion runs the same
exception loop as an equipment excursion and holds exactly the batches that had an execution in
that room during the excursion — checked against a plain-Python computation over the generated
plant (:meth:`bench.env_plant.EnvPlant.in_room`), not the code under test — and none other, once
(replays and restarts write nothing new); the eDHR shows each operation's room conditions
(recomputed here from the generated samples); bad input is refused with its rule and writes
nothing; an operator can neither write room limits nor clear an environment hold."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from bench.env_plant import EnvPlant, address, generate
from graph.errors import WriteRejectedError
from ingest.signals.model import TagMap
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from quality.dispositions import dispose
from quality.edhr import batch_dhr
from quality.notify import Notification
from quality.workflow import WorkflowRefused
from tests.conftest import bearer, make_user, migrate
from tracegraph.runtime import Runtime

CAPTURE = """mutation($doc: JSON!) { capture(document: $doc) {
  ok problems { rule message field value focus } } }"""


@pytest.fixture
def env(runtime: Runtime) -> EnvPlant:
    plant = generate()
    migrate(runtime, plant.doc)
    return plant


def _pipeline(rt: Runtime, plant: EnvPlant, root: Path,
              sink: list[Notification]) -> SignalPipeline:
    return SignalPipeline(rt, TagMap.model_validate(plant.tags), RawStore(root),
                          publishers=[sink.append])


def _feed(p: SignalPipeline, plant: EnvPlant, size: int = 300) -> None:
    obs = [p.observation(a, v, t, sequence=i) for i, (a, t, v) in enumerate(plant.samples)]
    xs = [o for o in obs if o is not None]
    for i in range(0, len(xs), size):
        p.process(xs[i:i + size])


def _held(rt: Runtime) -> dict[str, set[str]]:
    holds = rt.store.nodes_of_class("Hold")
    out = {}
    for h in holds:
        targets = [e.dst for e in rt.store.links([h.iri], ["HOLDS"])]
        out[h.key] = {n.key for n in rt.store.get_many(targets).values()}
    return out


def _on_hold(rt: Runtime) -> set[str]:
    return {b.key for b in rt.store.nodes_of_class("Batch")
            if b.props.get("batchStatus") == "OnHold"}


@pytest.mark.req("URS-EXC-01")
def test_a_room_excursion_holds_exactly_the_batches_in_the_room_during_it(
        runtime: Runtime, env: EnvPlant, tmp_path: Path) -> None:
    sink: list[Notification] = []
    p = _pipeline(runtime, env, tmp_path / "raw", sink)
    _feed(p, env)
    room, param, start, end = env.excursion
    expected = env.in_room(room, start, end)
    assert expected and expected != {r.batch for r in env.runs}  # a real selection
    counts = runtime.store.counts()
    assert counts.get("Deviation") == 1 and counts.get("Hold") == 1
    [held] = _held(runtime).values()
    assert held == expected
    assert _on_hold(runtime) == expected  # and no other batch
    [n] = sink  # QC notified once, with the room as the source
    assert n.kind == "deviation" and n.equipment == room and n.parameter == param
    # held at detection: the batches in the room so far; those that entered the room before
    # the excursion ended were added to the same hold when it cleared (above)
    assert n.level == "outOfSpec" and n.hold is not None and set(n.held) <= {
        runtime.vocab.mint_iri("Batch", b) for b in expected}
    exc = runtime.store.get(n.excursion)
    assert exc is not None and exc.props["clearedAt"] > exc.props["detectedAt"]
    links = {(e.type, e.dst) for e in runtime.store.links([n.excursion])
             if e.type != "PRIOR_VERSION"}
    assert links == {("VIOLATES_SPEC", runtime.vocab.mint_iri("ParameterSpec",
                                                              f"{room}/{param}"))}
    dev = runtime.store.get(n.deviation or "")
    assert dev is not None
    concerns = {e.dst for e in runtime.store.links([dev.iri], ["CONCERNS"])}
    assert concerns == {runtime.vocab.mint_iri("Batch", b) for b in expected}

    # exactly once: the same samples again, then a restart over the same raw store
    wm = runtime.store.watermark()
    _feed(p, env)
    again: list[Notification] = []
    q = _pipeline(runtime, env, tmp_path / "raw", again)
    q.warm_up()
    _feed(q, env, size=977)
    assert runtime.store.watermark() == wm
    assert again == []  # delivered before the restart: not again


def test_late_and_out_of_order_room_samples_hold_the_same_batches_once(
        runtime: Runtime, env: EnvPlant, tmp_path: Path) -> None:
    sink: list[Notification] = []
    p = _pipeline(runtime, env, tmp_path / "raw", sink)
    obs = [p.observation(a, v, t, sequence=i) for i, (a, t, v) in enumerate(env.samples)]
    xs = [o for o in obs if o is not None]
    chunks = [xs[i:i + 400] for i in range(0, len(xs), 400)]
    order = list(range(len(chunks)))
    random.Random(5).shuffle(order)  # batches arrive in any order, each one late or early
    for i in order:
        p.process(chunks[i])
    room, _param, start, end = env.excursion
    assert runtime.store.counts().get("Deviation") == 1
    [held] = _held(runtime).values()
    assert held == env.in_room(room, start, end) == _on_hold(runtime)
    assert len(sink) == len({n.id for n in sink}) == runtime.store.counts()["Alarm"]


@pytest.mark.req("URS-DHR-01")
def test_the_edhr_shows_each_operations_room_conditions(
        runtime: Runtime, env: EnvPlant, tmp_path: Path) -> None:
    p = _pipeline(runtime, env, tmp_path / "raw", [])
    _feed(p, env)
    room, param, start, end = env.excursion
    batch = sorted(env.in_room(room, start, end))[0]
    doc = batch_dhr(runtime, batch, samples=p.raw)
    rows = {x["execution"]: x for x in doc["environment"]}
    runs = [r for r in env.runs if r.batch == batch]
    assert set(rows) == {r.key for r in runs}
    for r in runs:
        x = rows[r.key]
        assert x["room"] == r.room
        got = {c["parameter"]: c for c in x["parameters"]}
        for prm in got:  # recomputed from the generated samples
            vals = [v for a, t, v in env.samples
                    if a == address(r.room, prm) and r.start_ms <= t <= r.end_ms]
            c = got[prm]
            assert c["samples"] == len(vals) > 0
            assert (c["min"], c["max"]) == (min(vals), max(vals))
            assert math.isclose(c["mean"], sum(vals) / len(vals), rel_tol=1e-12)
        hit = r.room == room and r.start_ms <= end and r.end_ms >= start
        assert bool(got[param]["excursions"]) == (hit if r.room == room else False)
        assert got[param]["withinSpec"] == (not hit)
    assert "Room conditions" in __import__("quality.edhr", fromlist=["x"]).render_html(doc)


@pytest.mark.req("URS-CHK-01")
def test_a_bad_tag_map_is_refused_with_every_problem_and_writes_nothing(
        runtime: Runtime, env: EnvPlant, tmp_path: Path) -> None:
    before = runtime.store.watermark()
    tags = {"tags": [
        {"address": "a", "room": "CR-NOPE", "parameter": "TEMP", "unit": "Cel"},
        {"address": "b", "room": "CR-A", "parameter": "TEMP", "unit": "[degF]"},
        {"address": "c", "room": "CR-A", "parameter": "NOISE", "unit": "dB"}]}
    with pytest.raises(WriteRejectedError) as e:
        SignalPipeline(runtime, TagMap.model_validate(tags), RawStore(tmp_path / "raw"))
    got = {(p.rule, p.field, p.value) for p in e.value.problems}
    assert got == {("tag-map-room", "tags.0.room", "CR-NOPE"),
                   ("tag-map-unit", "tags.1.unit", "[degF]"),
                   ("tag-map-room-parameter", "tags.2.parameter", "NOISE")}
    with pytest.raises(ValueError, match="exactly one of equipment or room"):
        TagMap.model_validate({"tags": [{"address": "d", "room": "CR-A", "equipment": "X",
                                         "parameter": "TEMP", "unit": "Cel"}]})
    assert runtime.store.watermark() == before


def test_a_negative_particle_count_is_never_detected_on(
        runtime: Runtime, env: EnvPlant, tmp_path: Path) -> None:
    p = _pipeline(runtime, env, tmp_path / "raw", [])
    before = runtime.store.watermark()
    t = env.samples[0][1]
    xs = [p.observation(address("CR-B", "PC05"), -5e6, t + i * 1000) for i in range(10)]
    assert all(o is not None and o.quality == "bad" for o in xs)
    p.process([o for o in xs if o is not None])
    assert runtime.store.watermark() == before  # nothing in the graph: kept raw, as bad


def _limit(room: str, **props: Any) -> dict[str, Any]:
    return {"class": "ParameterSpec", "key": f"{room}/PC05", "properties": {
        "name": "particles", "unitCode": "{particles}/m3", "isCPP": False, **props},
        "links": {"limitsRoom": f"Room/{room}"}}


@pytest.mark.parametrize(("node", "rule", "field"), [
    (_limit("CR-A", usl=-1.0), "particle-count-negative", "usl"),
    ({**_limit("CR-A", usl=1e5), "properties": {"name": "p", "unitCode": "Pa",
                                                 "isCPP": False, "usl": 1e5}},
     "room-limit-unit", "unitCode"),
    ({**_limit("CR-A"), "key": "CR-A/NOISE"}, "room-parameter", "code"),
    ({**_limit("CR-A"), "key": "LOOSE/PC05", "links": {}}, "spec-operation-or-room",
     "limitsRoom"),
])
def test_bad_room_limits_are_refused_and_write_nothing(
        runtime: Runtime, env: EnvPlant, node: dict[str, Any], rule: str, field: str) -> None:
    before = runtime.store.watermark()
    with pytest.raises(WriteRejectedError) as e:
        migrate(runtime, {"format": "tracegraph.capture/1",
                          "events": [{"eventId": f"bad-{rule}", "nodes": [node]}]})
    assert (rule, field) in {(p.rule, p.field) for p in e.value.problems}
    assert runtime.store.watermark() == before


@pytest.fixture
def operator(runtime: Runtime, env: EnvPlant) -> Iterator[TestClient]:
    for role in ("operator", "qa"):
        make_user(runtime, f"demo.{role}", [role])
    with TestClient(create_app(runtime.settings, runtime)) as c:
        c.headers.update(bearer(c, "demo.operator"))
        yield c


def test_an_operator_can_neither_write_room_limits_nor_clear_an_environment_hold(
        runtime: Runtime, env: EnvPlant, operator: TestClient, tmp_path: Path) -> None:
    p = _pipeline(runtime, env, runtime.settings.data_dir / "signals", [])
    _feed(p, env)
    [hold] = runtime.store.nodes_of_class("Hold")
    before = runtime.store.watermark()
    for doc, rule in (
            (_limit("CR-A", usl=9e9), "not-authorised"),
            ({"class": "Hold", "key": hold.key, "properties": {"holdState": "Released"}},
             "not-authorised")):
        r = operator.post("/graphql", json={"query": CAPTURE, "variables": {"doc": {
            "format": "tracegraph.capture/1", "events": [{"eventId": "x", "nodes": [doc]}]}}})
        res = r.json()["data"]["capture"]
        assert res["ok"] is False and rule in {x["rule"] for x in res["problems"]}
    with pytest.raises(WorkflowRefused):
        dispose(runtime, hold.iri, "release", "demo.operator", "pw-not-needed",
                "room back in spec")
    assert runtime.store.watermark() == before
    # and the API answers the same numbers as the eDHR
    room, _param, start, end = env.excursion
    batch = sorted(env.in_room(room, start, end))[0]
    q = ("query($b: String!) { batchEnvironment(batch: $b) { execution room parameter "
         "min max mean withinSpec excursions } }")
    data = operator.post("/graphql", json={"query": q, "variables": {"b": batch}}).json()
    assert "errors" not in data, data
    got = data["data"]["batchEnvironment"]
    want = batch_dhr(runtime, batch, samples=p.raw)["environment"]
    assert [(r["execution"], r["room"], r["parameter"], r["min"], r["max"], r["mean"],
             r["withinSpec"], r["excursions"]) for r in got] == [
        (x["execution"], x["room"], c["parameter"], c["min"], c["max"], c["mean"],
         c["withinSpec"], [e["excursion"] for e in c["excursions"]])
        for x in want for c in x["parameters"]]
    assert any(r["excursions"] for r in got)


def test_replay_and_environment_from_the_command_line(tmp_path: Path) -> None:
    """``tracegraph signals replay`` (the CSV adapter) with room tags, then ``tracegraph
    signals environment`` and ``tracegraph quality edhr``: the same numbers (embedded store)."""
    import json

    from tests.integration.test_cli import migrate as cli_migrate
    from tests.integration.test_cli import run, write_docs

    plant = generate(batches=12, hours=8)
    assert cli_migrate(tmp_path, write_docs(tmp_path, [plant.doc])).returncode == 0
    tags = tmp_path / "tags.json"
    tags.write_text(json.dumps(plant.tags))
    data = tmp_path / "env.csv"
    data.write_text("address,time,value\n" + "".join(f"{a},{t},{v}\n"
                                                     for a, t, v in plant.samples))
    done = run(tmp_path, "signals", "replay", "--tags", str(tags), str(data))
    assert done.returncode == 0, done.stderr
    room, _param, start, end = plant.excursion
    batch = sorted(plant.in_room(room, start, end))[0]
    cli = run(tmp_path, "signals", "environment", batch, "--json")
    assert cli.returncode == 0, cli.stderr
    rows = json.loads(cli.stdout)
    js = tmp_path / "edhr.json"
    assert run(tmp_path, "quality", "edhr", batch, "--out", str(js), "--format",
               "json").returncode == 0
    assert json.loads(js.read_text())["environment"] == rows
    assert any(c["excursions"] for x in rows for c in x["parameters"])
