"""Equipment health end to end (issue 17 item 2), on both engines: a generated drifting
MELT-TEMP on press IMM-01 (numpy, fixed seed) through the signal pipeline → one drift warning,
cleared never while drifting, not doubled by a replay or a restart; the health view's forecast
of the USL breach against the generated truth; maintenance work orders through their commands
only (an operator can neither forge a predictive one nor close one); and a warning — not a
refusal — when a batch starts on the drifting press."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.signal_plant import T0_MS, TAGS, TOPIC, plant
from graph.errors import WriteRejectedError
from ingest.signals.health import equipment_health
from ingest.signals.model import Observation, TagMap
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from ontology.datatypes import ms_to_text
from quality.maintenance import (
    complete_work_order,
    drift_warnings,
    open_work_order,
    start_work_order,
)
from quality.notify import Notification
from quality.workflow import WorkflowRefused
from tests.conftest import make_user, migrate
from tracegraph.runtime import Runtime

START = T0_MS + 30 * 60_000  # first sample
FLAT, RAMP = 600, 800  # in-control samples, then drifting samples (1 Hz)
SLOPE = 0.01  # Cel per second from sample FLAT on
DRIFT_AT = START + FLAT * 1000
TRUE_BREACH = DRIFT_AT + round((250.0 - 230.0) / SLOPE * 1000)  # USL 250
DETECT_WITHIN = 150  # samples after the drift starts (stated; EWMA ARL at this slope ~ 60)


def _tags() -> TagMap:
    doc = {"tags": [dict(TAGS["tags"][0], drift=5)]}  # subgroups of 5 samples
    return TagMap.model_validate(doc)


def _samples(p: SignalPipeline) -> list[Observation]:
    rng = np.random.default_rng(42)
    n = FLAT + RAMP
    x = 230.0 + rng.normal(0, 0.5, n) + SLOPE * np.maximum(0, np.arange(n) - FLAT)
    out = [p.observation(TOPIC, float(v), START + i * 1000, sequence=i)
           for i, v in enumerate(x.tolist())]
    return [o for o in out if o is not None]


def _feed(p: SignalPipeline, xs: list[Observation]) -> None:
    for i in range(0, len(xs), 100):
        p.process(xs[i:i + 100])


@pytest.fixture
def drifting(runtime: Runtime, tmp_path: Path) -> Runtime:
    migrate(runtime, plant())
    sent: list[Notification] = []
    p = SignalPipeline(runtime, _tags(), RawStore(runtime.settings.data_dir / "signals"),
                       publishers=[sent.append])
    _feed(p, _samples(p))
    assert [n.kind for n in sent].count("driftWarning") == 1  # QC told once
    return runtime


def _drift_excursions(rt: Runtime) -> list[str]:
    eq = rt.vocab.mint_iri("Equipment", "IMM-01")
    return [x.key for x in drift_warnings(rt.store, eq, active_only=False)]


def test_drift_warned_once_within_the_stated_samples_and_not_doubled(drifting: Runtime,
                                                                     tmp_path: Path) -> None:
    rt = drifting
    [key] = _drift_excursions(rt)
    exc = rt.store.get(rt.vocab.mint_iri("Excursion", key))
    assert exc is not None and "clearedAt" not in exc.props  # still drifting at the end
    detected = exc.props["detectedAt"]
    assert ms_to_text(DRIFT_AT) < str(detected) <= ms_to_text(DRIFT_AT + DETECT_WITHIN * 1000)
    assert rt.store.counts().get("Deviation", 0) == 0  # a warning, not an excursion
    # the same samples again, and a restarted pipeline over the same raw store: nothing new
    before = rt.store.counts()
    again = SignalPipeline(rt, _tags(), RawStore(rt.settings.data_dir / "signals"),
                           publishers=[])
    again.warm_up()
    _feed(again, _samples(again))
    assert rt.store.counts() == before and _drift_excursions(rt) == [key]


def test_health_view_forecasts_the_breach_within_the_stated_error(drifting: Runtime) -> None:
    """Stated error: 10 % of the time from the last sample to the true breach."""
    h = equipment_health(drifting, drifting.settings.data_dir / "signals", "IMM-01")
    [melt] = h.parameters
    last = START + (FLAT + RAMP - 1) * 1000
    assert melt.breach_at is not None and melt.limit == 250.0
    err = abs(_ms(melt.breach_at) - TRUE_BREACH)
    assert err <= 0.10 * (TRUE_BREACH - last)
    assert melt.breach_earliest is not None and melt.breach_latest is not None
    assert _ms(melt.breach_earliest) <= TRUE_BREACH <= _ms(melt.breach_latest)
    assert melt.drifting_since is not None and melt.ewma is not None
    assert melt.ewma > (melt.ewma_limit or 0)
    assert h.state == "breachForecast" and len(h.drift_warnings) == 1
    # the running batch's run (8 h, as its last run on this press) includes the breach
    assert [(r.execution, r.batch) for r in h.at_risk] == [("B-MOULD-7/OP10", "B-MOULD-7")]


def _ms(text: str) -> int:
    from ingest.signals.model import text_to_ms
    return text_to_ms(text)


def test_work_orders_only_through_their_commands_and_roles(drifting: Runtime) -> None:
    rt = drifting
    op, eng = make_user(rt, "olga", ["operator"]), make_user(rt, "erik", ["engineer"])
    [drift] = _drift_excursions(rt)
    exc = rt.vocab.mint_iri("Excursion", drift)
    with pytest.raises(WorkflowRefused) as e:  # an operator cannot forge a predictive order
        open_work_order(rt, op, "IMM-01", "predictive", "replace heater", "drift", exc)
    assert e.value.field == "username"
    with pytest.raises(WorkflowRefused) as e:  # nor an engineer without a drift warning
        open_work_order(rt, eng, "IMM-01", "predictive", "replace heater", "drift")
    assert e.value.code == "predictive-needs-drift"
    wo = open_work_order(rt, eng, "IMM-01", "predictive", "Replace heater band zone 3",
                         "drift warning", exc, forecast_breach=ms_to_text(TRUE_BREACH))
    assert wo.props["workOrderState"] == "Open"
    with pytest.raises(WorkflowRefused):  # one open predictive order per drift warning
        open_work_order(rt, eng, "IMM-01", "predictive", "again", "drift", exc)
    corrective = open_work_order(rt, op, "IMM-01", "corrective", "Heater band noisy", "seen")
    assert corrective.props["maintenanceType"] == "corrective"
    for step in (lambda: start_work_order(rt, op, wo.key, "start"),
                 lambda: complete_work_order(rt, op, wo.key, "done", "close")):
        with pytest.raises(WorkflowRefused):  # an operator cannot start or close one
            step()
    with pytest.raises(WorkflowRefused) as e:  # Open → Done skips InProgress
        complete_work_order(rt, eng, wo.key, "done", "close")
    assert e.value.field == "workOrderState"
    start_work_order(rt, eng, wo.key, "started")
    done = complete_work_order(rt, eng, wo.key, "Heater band replaced", "done")
    assert done.props["workOrderState"] == "Done" and done.props["closedAt"]
    record = rt.store.get(rt.vocab.mint_iri("MaintenanceRecord", f"MR-{wo.key}"))
    assert record is not None and record.props["maintenanceType"] == "predictive"
    h = equipment_health(rt, rt.settings.data_dir / "signals", "IMM-01")
    assert h.maintenance_due.source == "" or h.maintenance_due.due is None  # no interval set
    assert [w.key for w in h.open_work_orders] == [corrective.key]


def test_capture_cannot_write_work_orders_or_their_state(drifting: Runtime) -> None:
    rt = drifting
    make_user(rt, "erik", ["engineer"])
    from graph.authority import Principal
    doc = {"format": "tracegraph.capture/1", "events": [{"eventId": "forge", "nodes": [
        {"class": "MaintenanceWorkOrder", "key": "MWO-FORGED",
         "properties": {"recordNumber": "MWO-FORGED", "workOrderState": "Done",
                        "maintenanceType": "predictive", "openedAt": "2026-03-02T09:00:00Z"},
         "links": {"maintains": "Equipment/IMM-01"}}]}]}
    with pytest.raises(WriteRejectedError) as e:
        rt.capture(doc, principal=Principal("erik", frozenset({"engineer"})))
    assert {p.rule for p in e.value.problems} & {"not-authorised", "workflow-managed"}
    assert rt.store.get(rt.vocab.mint_iri("MaintenanceWorkOrder", "MWO-FORGED")) is None


def test_a_batch_started_on_the_drifting_press_is_warned_not_refused(drifting: Runtime
                                                                     ) -> None:
    rt = drifting
    started = ms_to_text(START + (FLAT + RAMP) * 1000)
    doc = {"format": "tracegraph.capture/1", "events": [{"eventId": "start-b8", "nodes": [
        {"class": "Batch", "key": "B-MOULD-8",
         "properties": {"batchStatus": "InProcess", "quantity": 1000, "unitCode": "{pc}"},
         "links": {"ofProduct": "Product/CONN-LL",
                   "runsProcessVersion": "ProcessVersion/CONN-MOULD/v1"}},
        {"class": "OperationExecution", "key": "B-MOULD-8/OP10",
         "properties": {"startedAtTime": started, "executionStatus": "Started"},
         "links": {"executesOperation": "Operation/CONN-MOULD/v1/OP10",
                   "forBatch": "Batch/B-MOULD-8", "onEquipment": "Equipment/IMM-01"}}]}]}
    r = rt.capture(doc)
    assert r.events_written == 1  # written: a warning, not a refusal
    [w] = [w for w in r.warnings if w.component == "equipment-forecast-breach"]
    assert "B-MOULD-8/OP10" in w.message and "MELT-TEMP" in w.message
    alarm = rt.store.get(rt.vocab.mint_iri("Alarm", str(w.shape)))
    assert alarm is not None and alarm.props["alarmState"] == "Active"
    alarms = rt.store.counts()["Alarm"]
    assert rt.capture(doc).events_written == 0  # re-sent: one warning record only
    assert rt.store.counts()["Alarm"] == alarms
    h = equipment_health(rt, rt.settings.data_dir / "signals", "IMM-01")
    assert ("B-MOULD-8/OP10", alarm.key) in {(a.execution, a.alarm) for a in h.at_risk}


def test_graphql_health_view_and_work_order_roles(drifting: Runtime) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.conftest import bearer

    rt = drifting
    make_user(rt, "olga", ["operator"])
    make_user(rt, "erik", ["engineer"])
    [drift] = _drift_excursions(rt)
    exc = rt.vocab.mint_iri("Excursion", drift)
    q = ('{ equipmentHealth(equipment: "IMM-01") { state parameters { parameter breachAt '
         'ewma drifting: driftingSince } driftWarnings { key } openWorkOrders { key state } '
         'batchesAtRisk { execution batch } calibrationDue { due overdue } } }')
    m = ('mutation($t: String!, $r: String) { openWorkOrder(equipment: "IMM-01", '
         'maintenanceType: $t, description: "Replace heater band", reason: "drift", '
         'raisedBy: $r) { ok state record { key } problems { rule field } } }')
    with TestClient(create_app(rt.settings, rt)) as c:
        olga, erik = bearer(c, "olga"), bearer(c, "erik")
        h = c.post("/graphql", json={"query": q}, headers=olga).json()["data"]["equipmentHealth"]
        assert h["state"] == "breachForecast" and h["driftWarnings"] == [{"key": drift}]
        assert h["parameters"][0]["breachAt"] and h["parameters"][0]["drifting"]
        assert h["batchesAtRisk"] == [{"execution": "B-MOULD-7/OP10", "batch": "B-MOULD-7"}]
        nope = c.post("/graphql", json={"query": '{ equipmentHealth(equipment: "NOPE") '
                                                 '{ state } }'}, headers=olga).json()
        assert nope["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        r = c.post("/graphql", json={"query": m, "variables": {"t": "predictive", "r": exc}},
                   headers=olga).json()["data"]["openWorkOrder"]
        assert not r["ok"] and r["problems"] == [{"rule": "role", "field": "username"}]
        r = c.post("/graphql", json={"query": m, "variables": {"t": "predictive", "r": exc}},
                   headers=erik).json()["data"]["openWorkOrder"]
        assert r["ok"] and r["state"] == "Open"
        h = c.post("/graphql", json={"query": q}, headers=erik).json()["data"]
        assert h["equipmentHealth"]["openWorkOrders"] == [{"key": r["record"]["key"],
                                                           "state": "Open"}]
        done = ('mutation($w: String!) { completeWorkOrder(workOrder: $w, workDone: "x", '
                'reason: "r") { ok } }')
        assert c.post("/graphql", json={"query": done, "variables": {"w": r["record"]["key"]}},
                      headers=olga).json()["errors"]  # not an operator's operation


def test_cli_health_and_work_orders(tmp_path: Path) -> None:
    """``tracegraph equipment health`` prints the same view; work orders by role."""
    import orjson

    from quality.accounts import create_user
    from tests.integration.test_cli import ADMIN_PASSWORD, run
    from tracegraph.settings import Settings

    rt = Runtime.open(Settings(data_dir=tmp_path / "store", store="embedded"))
    try:
        migrate(rt, plant())
        p = SignalPipeline(rt, _tags(), RawStore(rt.settings.data_dir / "signals"),
                           publishers=[])
        _feed(p, _samples(p))
        for name, role in (("olga", "operator"), ("erik", "engineer")):
            create_user(rt, name, ADMIN_PASSWORD, [role], name.title(), "test", "test account")
        [drift] = _drift_excursions(rt)
    finally:
        rt.close()
    shown = run(tmp_path, "equipment", "health", "IMM-01", "--json")
    assert shown.returncode == 1, shown.stderr  # not ok: breach forecast
    h = orjson.loads(shown.stdout)
    assert h["state"] == "breachForecast" and h["drift_warnings"] == [drift]
    assert h["parameters"][0]["breach_at"] and h["at_risk"][0]["batch"] == "B-MOULD-7"
    args = ("equipment", "work-order", "open", "IMM-01", "--type", "predictive",
            "--description", "Replace heater band", "--reason", "drift warning",
            "--raised-by", f"Excursion/{drift}")
    refused = run(tmp_path, *args, "--user", "olga")
    assert refused.returncode == 2 and "role" in refused.stderr
    opened = run(tmp_path, *args, "--user", "erik")
    assert opened.returncode == 0, opened.stderr
    assert "predictive Open" in opened.stdout
