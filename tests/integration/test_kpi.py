"""The KPI dashboard's numbers (issue 15 item 3): on the demo plant (bench.plant, seed 7) plus a
story document that closes deviations and CAPAs, triages the excursion's deviation and reworks a
batch, every KPI of :mod:`quality.kpi` equals an independent computation over the capture
documents themselves (JSON merged by class and key, numpy medians), on both engines and for
periods that cut through the history; GraphQL ``kpis`` answers the same values with the
definitions in English and Chinese; a bad period is a structured error; an unauthenticated
request is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from bench.plant import generate_plant
from graph.engines.sqlite import SQLiteStore
from quality.kpi import KPI_IDS, KpiError, compute_kpis
from tests.conftest import ENGINES, bearer, demo_runtime, make_user
from tracegraph.runtime import Runtime

Json = dict[str, Any]
PERIODS = [("2025-01-01", "2027-01-01"), ("2026-01-08", "2026-01-12"),
           ("2026-01-12T12:00:00Z", "2026-02-01"), ("2026-03-01", "2026-04-01")]


def _t(text: str) -> datetime:
    d = datetime.fromisoformat(text)
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def story(docs: list[Json]) -> list[Json]:
    """Closed deviations (minor, major), CAPAs closed on time and late, the signed triage of the
    excursion's deviation, a rework disposition of a batch."""
    nodes = _merged(docs)
    hold = _t(nodes[("Hold", "HLD-2026-0001")]["p"]["openedAt"])
    batch = sorted(k for c, k in nodes if c == "Batch" and k.startswith("CA"))[3]
    owner = next(iter(nodes[("CAPAAction", "CAPA-2026-0001-A1")]["l"]["assignedTo"]))
    mould = sorted(r for (c, _k), n in nodes.items() if c == "OperationExecution"
                   and n["p"]["startedAtTime"] > "2026-01-06" for r in n["l"].get(
                       "onEquipment", ()) if r.startswith("Equipment/IMM"))[0]

    def closing(capa: str) -> list[Json]:
        """What a CAPA needs to close: a completed action, a verified effectiveness check."""
        return [
            {"class": "CAPAAction", "key": f"{capa}-A1", "properties": {
                "actionType": "correction", "actionState": "Completed", "dueDate": "2026-01-05",
                "completedAt": "2026-01-05T06:00:00Z", "description": "done"},
             "links": {"actionOf": f"CAPA/{capa}", "assignedTo": owner}},
            {"class": "EffectivenessCheck", "key": f"{capa}-EC", "properties": {
                "effectivenessCriterion": "noRecurrence", "criterionBatches": 1,
                "effectivenessResult": "effective", "description": "no recurrence"},
             "links": {"checkOf": f"CAPA/{capa}", "criterionScope": mould}}]

    def ev(eid: str, ns: list[Json]) -> Json:
        return {"eventId": eid, "reason": "kpi story", "nodes": ns}

    return [{"format": "tracegraph.capture/1", "events": [e]} for e in [  # one write each
        ev("kpi/dev", [
            {"class": "Deviation", "key": "DEV-K-1", "properties": {
                "title": "k1", "description": "x", "deviationGrade": "minor",
                "deviationState": "Closed", "openedAt": "2026-01-10T08:00:00Z",
                "closedAt": "2026-01-14T20:00:00Z"}},
            {"class": "Deviation", "key": "DEV-K-2", "properties": {
                "title": "k2", "description": "x", "deviationGrade": "major",
                "deviationState": "Closed", "openedAt": "2026-01-09T00:00:00Z",
                "closedAt": "2026-01-16T12:00:00Z"}},
            {"class": "Deviation", "key": "DEV-K-3", "properties": {
                "title": "k3", "description": "x", "deviationGrade": "minor",
                "deviationState": "Closed", "openedAt": "2026-01-11T00:00:00Z",
                "closedAt": "2026-01-12T06:00:00Z"}}]),
        ev("kpi/capa-open", [
            {"class": "CAPA", "key": c, "properties": {
                "title": c, "description": "x", "capaState": "Implementation",
                "openedAt": f"2026-01-0{i + 5}T00:00:00Z", "dueDate": f"2026-01-1{i + 2}"},
             "links": {"raisedBy": f"Deviation/DEV-K-{i + 1}"}}
            for i, c in enumerate(("CAPA-K-1", "CAPA-K-2"))]),
        ev("kpi/capa-checks", [*closing("CAPA-K-1"), *closing("CAPA-K-2")]),
        ev("kpi/capa", [
            {"class": "CAPA", "key": "CAPA-K-1", "properties": {
                "title": "c1", "description": "x", "capaState": "Closed",
                "openedAt": "2026-01-05T00:00:00Z", "dueDate": "2026-01-12",
                "closedAt": "2026-01-11T10:00:00Z"}, "links": {"raisedBy": "Deviation/DEV-K-1"}},
            {"class": "CAPA", "key": "CAPA-K-2", "properties": {
                "title": "c2", "description": "x", "capaState": "Closed",
                "openedAt": "2026-01-06T00:00:00Z", "dueDate": "2026-01-13",
                "closedAt": "2026-01-15T00:00:00Z"}, "links": {"raisedBy": "Deviation/DEV-K-2"}}]),
        ev("kpi/triage", [
            {"class": "Approval", "key": "APR-DEV-2026-0001-TRI-qa", "properties": {
                "approvalDecision": "approved",
                "decidedAt": (hold + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")},
             "links": {"approves": "Deviation/DEV-2026-0001", "wasAssociatedWith": owner}}]),
        ev("kpi/rework", [
            {"class": "Disposition", "key": "DSP-K-1", "properties": {
                "dispositionType": "rework", "decidedAt": "2026-01-20T00:00:00Z",
                "description": "rework under SOP"},
             "links": {"disposes": f"Batch/{batch}", "resolvesHold": "Hold/HLD-2026-0001"}}])]]


def _merged(docs: list[Json]) -> dict[tuple[str, str], Json]:
    """(class, key) → {"p": properties (later events win), "l": link name → set of refs}."""
    out: dict[tuple[str, str], Json] = {}
    for d in docs:
        for e in d["events"]:
            for n in e.get("nodes", ()):
                rec = out.setdefault((n["class"], n["key"]), {"p": {}, "l": {}})
                rec["p"].update(n.get("properties", {}))
                for name, refs in n.get("links", {}).items():
                    rec["l"].setdefault(name, set()).update(
                        [refs] if isinstance(refs, str) else refs)
    return out


def independent(docs: list[Json], start: str, end: str) -> dict[str, tuple[float | None, int]]:
    """Every KPI (value, population) straight from the documents."""
    a, b = _t(start), _t(end)
    nodes = _merged(docs)

    def of(cls: str) -> dict[str, Json]:
        return {k: v for (c, k), v in nodes.items() if c == cls}

    def ref(r: str) -> tuple[str, str]:
        c, k = r.split("/", 1)
        return c, k

    def med(xs: list[float]) -> tuple[float | None, int]:
        return (float(np.median(xs)) if xs else None), len(xs)

    def rate(xs: list[bool]) -> tuple[float | None, int]:
        return (sum(xs) / len(xs) if xs else None), len(xs)

    batches, runs = of("Batch"), of("OperationExecution")
    runs_of: dict[str, list[Json]] = {}
    for r in runs.values():
        for bref in r["l"].get("forBatch", ()):
            runs_of.setdefault(ref(bref)[1], []).append(r)
    ended = {k: max(_t(r["p"]["endedAtTime"]) for r in runs_of[k] if "endedAtTime" in r["p"])
             for k in batches if runs_of.get(k)}
    decisions: dict[str, list[Json]] = {}
    for d in of("ReleaseDecision").values():
        for bref in d["l"].get("releaseOf", ()):
            decisions.setdefault(ref(bref)[1], []).append(d)
    out: dict[str, tuple[float | None, int]] = {}
    lead = []
    for k, ds in decisions.items():
        rel = min(_t(d["p"]["decidedAt"]) for d in ds if d["p"]["releaseOutcome"] == "released")
        if a <= rel < b:
            lead.append((rel - ended[k]).total_seconds() / 3600)
    out["releaseLeadTime"] = med(lead)
    finished = [k for k, t in ended.items() if a <= t < b]
    named: dict[str, list[Json]] = {}
    for cls, link in (("Deviation", "concerns"), ("Hold", "holds")):
        for rec in of(cls).values():
            for r in rec["l"].get(link, ()):
                named.setdefault(ref(r)[1], []).append(rec)
    fp = []
    for k in finished:
        ds = sorted(decisions.get(k, []), key=lambda d: _t(d["p"]["decidedAt"]))
        if not ds and not named.get(k):
            continue
        fp.append(bool(ds) and ds[0]["p"]["releaseOutcome"] == "released"
                  and not ds[0]["p"].get("exceptionCount")
                  and all(_t(x["p"]["openedAt"]) >= _t(ds[0]["p"]["decidedAt"])
                          for x in named.get(k, [])))
    out["firstPassReleaseRate"] = rate(fp)
    reworked = {ref(r)[1] for d in of("Disposition").values()
                if d["p"].get("dispositionType") == "rework" for r in d["l"].get("disposes", ())}
    out["reworkRate"] = rate([k in reworked for k in finished])
    fractions = []
    for k in finished:
        scrap = sum(r["p"].get("scrapQuantity", 0) for r in runs_of[k])
        good = batches[k]["p"]["quantity"]
        fractions.append(scrap / (good + scrap))
    out["scrapRate"] = (float(np.mean(fractions)) if fractions else None, len(fractions))
    raised: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for key, rec in nodes.items():
        for r in rec["l"].get("raisedBy", ()):
            raised.setdefault(ref(r), []).append(key)
    approvals = of("Approval")
    to_hold, to_triage = [], []
    for k, x in sorted(of("Excursion").items()):
        if not a <= _t(x["p"]["detectedAt"]) < b:
            continue
        devs = [d for al in raised.get(("Excursion", k), []) for d in raised.get(al, [])]
        holds = [_t(nodes[h]["p"]["openedAt"]) for d in devs for h in raised.get(d, [])
                 if h[0] == "Hold"]
        if not holds:
            continue
        to_hold.append((min(holds) - _t(x["p"]["detectedAt"])).total_seconds() / 3600)
        tri = [_t(ap["p"]["decidedAt"]) for d in devs for ak, ap in approvals.items()
               if ak.startswith(f"APR-{d[1]}-TRI-")]
        if tri:
            to_triage.append((min(tri) - min(holds)).total_seconds() / 3600)
    out["excursionToHold"] = med(to_hold)
    out["holdToTriage"] = (med(to_triage)[0], len(to_hold))

    def days(rec: Json) -> float:
        return (_t(rec["p"]["closedAt"]) - _t(rec["p"]["openedAt"])).total_seconds() / 86400

    closed = [d for d in of("Deviation").values()
              if "closedAt" in d["p"] and a <= _t(d["p"]["closedAt"]) < b]
    out["deviationCycleTime"] = med([days(d) for d in closed])
    for grade in {d["p"]["deviationGrade"] for d in closed}:
        out[f"deviationCycleTime/{grade}"] = med(
            [days(d) for d in closed if d["p"]["deviationGrade"] == grade])
    capas = of("CAPA").values()
    due = [c for c in capas if a.date() <= date.fromisoformat(c["p"]["dueDate"])
           and datetime.combine(date.fromisoformat(c["p"]["dueDate"]), datetime.min.time(),
                                UTC) < b]
    out["capaOnTimeRate"] = rate([
        "closedAt" in c["p"] and _t(c["p"]["closedAt"]).date()
        <= date.fromisoformat(c["p"]["dueDate"]) for c in due])
    out["capaCycleTime"] = med([days(c) for c in capas if "closedAt" in c["p"]
                                and a <= _t(c["p"]["closedAt"]) < b])
    versions = of("ProcessVersion")
    complete = []
    for k in finished:
        v = nodes[ref(next(iter(batches[k]["l"]["runsProcessVersion"])))]
        routings = [nodes[ref(r)] for r in v["l"].get("hasRouting", ())]
        need = {o for rt in routings for o in rt["l"].get("hasOperation", ())}
        done = {o for r in runs_of[k] if r["p"].get("executionStatus") == "Completed"
                and "startedAtTime" in r["p"] and "endedAtTime" in r["p"]
                and r["l"].get("wasAssociatedWith") for o in r["l"]["executesOperation"]}
        complete.append(bool(need) and need <= done)
    assert versions  # the documents name their process versions
    out["batchRecordCompleteness"] = rate(complete)
    return out


@pytest.fixture(scope="module", params=ENGINES)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Runtime, list[Json]]]:
    docs = list(generate_plant(size="demo", seed=7))
    docs += story(docs)
    yield demo_runtime(request, tmp_path_factory.mktemp("kpi-demo"), docs), docs


@pytest.mark.parametrize(("start", "end"), PERIODS)
def test_kpis_on_the_demo_plant_equal_an_independent_computation(
        demo: tuple[Runtime, list[Json]], start: str, end: str) -> None:
    rt, docs = demo
    want = independent(docs, start, end)
    got = {k.id: k for k in compute_kpis(rt.store, start, end)}
    assert list(got) == list(KPI_IDS)
    for kid in KPI_IDS:
        value, n = want[kid]
        assert got[kid].n == n, kid
        assert got[kid].value == (None if value is None else pytest.approx(value, rel=1e-9)), kid
    for grade, v in got["deviationCycleTime"].by_group.items():
        assert v == pytest.approx(want[f"deviationCycleTime/{grade}"][0], rel=1e-9), grade


def test_the_whole_history_has_every_kpi(demo: tuple[Runtime, list[Json]]) -> None:
    """The story makes every KPI non-empty, with values a person can check by hand."""
    rt, _docs = demo
    got = {k.id: k for k in compute_kpis(rt.store, *PERIODS[0])}
    assert all(got[k].value is not None for k in KPI_IDS), [k for k in KPI_IDS
                                                            if got[k].value is None]
    # CAPA-K-1 closed on time, K-2 late, the demo's CAPA still open after its due date
    assert got["capaOnTimeRate"].value == pytest.approx(1 / 3)
    assert got["capaCycleTime"].value == pytest.approx((6 + 10 / 24 + 9) / 2)
    assert got["deviationCycleTime"].by_group == pytest.approx(
        {"major": 7.5, "minor": ((4 + 12 / 24) + (1 + 6 / 24)) / 2})
    assert got["holdToTriage"].value == pytest.approx(5.0)
    assert 0 < got["reworkRate"].value < 0.1  # type: ignore[operator]  # checked not None
    rows = {r.key: r for r in got["firstPassReleaseRate"].rows}
    assert rows and not all(r.ok for r in rows.values())  # the excursion's batch is not


def test_a_bad_period_names_its_field(demo: tuple[Runtime, list[Json]]) -> None:
    rt, _docs = demo
    with pytest.raises(KpiError) as e:
        compute_kpis(rt.store, "2026-13-01", "2026-02-01")
    assert e.value.field == "from" and e.value.value == "2026-13-01"
    with pytest.raises(KpiError) as e:
        compute_kpis(rt.store, "2026-02-01", "2026-01-01")
    assert e.value.field == "to"


QUERY = """query($from: String!, $to: String!, $lang: String) {
  kpis(from: $from, to: $to, lang: $lang) { id name definition unit value n
    byGroup { group value } } }"""
RECORDS = """query($id: String!, $from: String!, $to: String!) {
  kpiRecords(id: $id, from: $from, to: $to, first: 1000) { key class value ok note } }"""


def test_graphql_kpis_answer_the_same_values_in_both_languages(
        demo: tuple[Runtime, list[Json]], tmp_path: Path) -> None:
    rt, docs = demo
    if not isinstance(rt.store, SQLiteStore):
        pytest.skip("the API over the embedded engine is enough: same module")
    make_user(rt, "kpi.qc", ["qc"])
    with TestClient(create_app(rt.settings, rt)) as c:
        auth = bearer(c, "kpi.qc")
        start, end = PERIODS[1]
        body = c.post("/graphql", json={"query": QUERY, "variables": {
            "from": start, "to": end, "lang": "zh"}}, headers=auth).json()
        assert "errors" not in body, body
        want = independent(docs, start, end)
        for k in body["data"]["kpis"]:
            value = want[k["id"]][0]
            assert k["value"] == (None if value is None else pytest.approx(value))
            assert k["n"] == want[k["id"]][1]
            rows = c.post("/graphql", json={"query": RECORDS, "variables": {
                "id": k["id"], "from": start, "to": end}}, headers=auth).json()
            assert len(rows["data"]["kpiRecords"]) == k["n"], rows
        names = {k["id"]: k["name"] for k in body["data"]["kpis"]}
        assert names["firstPassReleaseRate"] == "一次放行率"
        en = c.post("/graphql", json={"query": QUERY, "variables": {"from": start, "to": end}},
                    headers=auth).json()["data"]["kpis"]
        assert en[0]["name"] == "Batch release lead time" and "Median" in en[0]["definition"]
        bad = c.post("/graphql", json={"query": QUERY, "variables": {
            "from": "yesterday", "to": end}}, headers=auth).json()
        assert bad["errors"][0]["extensions"]["code"] == "BAD_INPUT"
        assert bad["errors"][0]["extensions"]["field"] == "from"
        anon = c.post("/graphql", json={"query": QUERY, "variables": {"from": start, "to": end}}
                      ).json()
        assert anon["data"] is None and anon["errors"][0]["extensions"]["code"] == \
            "UNAUTHENTICATED"


def test_cli_prints_the_kpis_and_refuses_a_bad_period(
        demo: tuple[Runtime, list[Json]], monkeypatch: pytest.MonkeyPatch) -> None:
    from tracegraph.cli.main import app

    rt, _docs = demo
    if not isinstance(rt.store, SQLiteStore):
        pytest.skip("the CLI opens the configured store: the embedded one")
    monkeypatch.setenv("TRACEGRAPH_DATA_DIR", str(rt.settings.data_dir))
    monkeypatch.setenv("TRACEGRAPH_STORE", "embedded")
    monkeypatch.setattr("tracegraph.cli.kpi.Runtime.open",
                        lambda *a, **k: _Borrowed(rt))
    r = CliRunner().invoke(app, ["kpi", "--from", "2025-01-01", "--to", "2027-01-01",
                                 "--list", "capaOnTimeRate"])
    assert r.exit_code == 0, r.output
    assert "CAPA-K-1" in r.output and "33.3%" in r.output
    r = CliRunner().invoke(app, ["kpi", "--from", "2026-02-01", "--to", "2026-01-01"])
    assert r.exit_code == 2 and "--to=" in r.output and "Traceback" not in r.output


class _Borrowed:
    """The module's runtime lent to the CLI (its close leaves it open)."""

    def __init__(self, rt: Runtime) -> None:
        self.store = rt.store

    def close(self) -> None:
        pass
