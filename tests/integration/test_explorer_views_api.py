"""What the explorer's environment, equipment and SPC views read (issue 17 item 5, issue 15
item 7), on both engines: ``batchEnvironment`` links each room excursion to the deviation it
raised and writes units as people do; ``equipmentList`` lists every piece of equipment with the
health view's state, worst first; a work order's view says who opened it, who did what and when;
``parameterSpecs`` counts each spec's observations and samples as the capture documents hold
them; and an equipment's health, asked without a time, is its health at its own newest sample
even when another stream (a room's) runs on for days."""

from __future__ import annotations

from collections import Counter
from contextlib import suppress
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from bench.env_plant import EnvPlant
from bench.signal_plant import plant
from ingest.signals.health import equipment_health
from ingest.signals.model import Observation, TagMap
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from ontology.environment import UNITS
from quality.accounts import AuthError
from quality.maintenance import complete_work_order, open_work_order, start_work_order
from quality.notify import Notification
from tests.conftest import bearer, make_user, migrate
from tests.integration.test_environment import _feed, _held, env  # noqa: F401
from tests.integration.test_equipment_health import (  # noqa: F401
    START,
    _drift_excursions,
    drifting,
)
from tracegraph.runtime import Runtime

SHOWN = {"TEMP": "°C", "RH": "%RH", "DP": "Pa", "PC05": "particles/m³", "PC5": "particles/m³"}
DAY_MS = 86_400_000


def _ask(rt: Runtime, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    with suppress(AuthError):  # asked before in this test
        make_user(rt, "vera", ["qa"])
    with TestClient(create_app(rt.settings, rt)) as c:
        body = c.post("/graphql", json={"query": query, "variables": variables or {}},
                      headers=bearer(c, "vera")).json()
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]  # a GraphQL answer's JSON


def test_room_conditions_name_the_excursions_deviation_and_units_as_written(
        runtime: Runtime, env: EnvPlant) -> None:  # noqa: F811
    sink: list[Notification] = []
    p = SignalPipeline(runtime, _tags(env), RawStore(runtime.settings.data_dir / "signals"),
                       publishers=[sink.append])
    _feed(p, env)
    [n] = sink
    dev = runtime.store.get(n.deviation or "")
    exc = runtime.store.get(n.excursion or "")
    assert dev is not None and exc is not None
    [held] = _held(runtime).values()
    rows = _ask(runtime, "query($b: String!) { batchEnvironment(batch: $b) { execution "
                         "parameter unit unitShown excursions deviations } }",
                {"b": sorted(held)[0]})["batchEnvironment"]
    hit = [r for r in rows if r["excursions"]]
    assert hit and all(r["excursions"] == [exc.key] and r["deviations"] == [dev.key]
                       for r in hit)
    assert all(r["deviations"] == [] for r in rows if not r["excursions"])
    measured = [r for r in rows if r["parameter"]]
    assert measured and all(r["unit"] == UNITS[r["parameter"]]
                            and r["unitShown"] == SHOWN[r["parameter"]] for r in measured)


def _tags(plant: EnvPlant) -> TagMap:
    return TagMap.model_validate(plant.tags)


def test_health_without_a_time_is_at_the_equipments_own_newest_sample(
        drifting: Runtime) -> None:  # noqa: F811
    root = drifting.settings.data_dir / "signals"
    own = equipment_health(drifting, root, "IMM-01")
    [melt] = own.parameters
    assert melt.breach_at is not None and own.state == "breachForecast"
    raw = RawStore(root)  # a room's stream runs on four days after the press's last sample
    try:
        raw.append([Observation("RM-X", "TEMP", 21.0, "Cel", START + k * DAY_MS,
                                START + k * DAY_MS) for k in range(1, 5)])
    finally:
        raw.close()
    later = equipment_health(drifting, root, "IMM-01")
    assert later.parameters == own.parameters and later.state == own.state
    assert [r.batch for r in later.at_risk] == [r.batch for r in own.at_risk]


def test_equipment_list_and_a_work_orders_who_when_what(drifting: Runtime) -> None:  # noqa: F811
    rt = drifting
    make_user(rt, "erik", ["engineer"])
    [drift] = _drift_excursions(rt)
    wo = open_work_order(rt, "erik", "IMM-01", "predictive", "Replace the heater band",
                         "drift", raised_by=drift)
    listed = _ask(rt, "{ equipmentList { equipment state driftWarnings openWorkOrders "
                      "breachAt } }")["equipmentList"]
    assert sorted(r["equipment"] for r in listed) == sorted(
        n["key"] for e in plant()["events"] for n in e.get("nodes", [])
        if n["class"] == "Equipment")
    assert listed[0]["equipment"] == "IMM-01" and listed[0]["state"] == "breachForecast"
    assert (listed[0]["driftWarnings"], listed[0]["openWorkOrders"]) == (1, 1)
    assert all(r["state"] == "ok" for r in listed[1:])
    start_work_order(rt, "erik", wo.key, "on it")
    complete_work_order(rt, "erik", wo.key, "heater band and thermocouple replaced", "done")
    q = ('{ equipmentHealth(equipment: "IMM-01") { openWorkOrders { key } workOrders { key '
         'maintenanceType state openedAt openedBy raisedBy startedAt closedAt doneBy '
         'workDone } } }')
    h = _ask(rt, q)["equipmentHealth"]
    assert h["openWorkOrders"] == []
    [w] = h["workOrders"]
    assert (w["key"], w["maintenanceType"], w["state"]) == (wo.key, "predictive", "Done")
    assert (w["openedBy"], w["raisedBy"], w["doneBy"]) == ("erik", drift, "erik")
    assert w["workDone"] == "heater band and thermocouple replaced"
    assert w["openedAt"] <= w["startedAt"] <= w["closedAt"]
    # its audit history, as the explorer's side panel reads it: the link to who did it too
    trail = _ask(rt, "query($r: String!) { auditTrail(record: $r) { action field } }",
                 {"r": wo.iri})["auditTrail"]
    assert {"action": "link", "field": "wasAssociatedWith"} in trail


def test_parameter_specs_count_the_observations_and_samples_captured(
        runtime: Runtime) -> None:
    doc = plant()
    migrate(runtime, doc)
    nodes = [n for e in doc["events"] for n in e.get("nodes", [])]
    obs: Counter[str] = Counter()
    samples: Counter[str] = Counter()
    for n in nodes:
        if n["class"] == "ParameterObservation":
            spec = n["links"]["observes"].split("/", 1)[1]
            obs[spec] += 1
            samples[spec] += n["properties"].get("sampleCount", 0)
    specs = _ask(runtime, "{ parameterSpecs { key unit unitShown observations samples "
                          "lsl usl subgroupSize } }")["parameterSpecs"]
    want = sorted(n["key"] for n in nodes if n["class"] == "ParameterSpec")
    assert [s["key"] for s in specs] == want
    for s in specs:
        assert (s["observations"], s["samples"]) == (obs[s["key"]], samples[s["key"]])
    assert obs and any(s["observations"] for s in specs)
    [s] = [s for s in specs if s["unit"] == "Cel"]
    assert s["unitShown"] == "°C"
