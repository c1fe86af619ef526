"""The explorer's environment, equipment health and SPC views (issue 17 item 5, issue 15 item 7)
in headless Chromium on the demo plant, desktop and phone, in English and Chinese:

- the room conditions of each operation of the batch the demo's environment excursion held:
  the values shown equal the API's (batchEnvironment), which equal min / max / mean computed
  here with numpy over the raw store's samples; units as people write them; the excursion
  linked to its deviation;
- the equipment list (every piece of equipment, its health state as the API says) and the
  drifting extruder's health: the forecast breach the page shows equals the API's, which equals
  a least-squares fit done here with numpy over its raw samples; its predictive work order (who,
  when, raised by which drift warning); the batch at risk; reached from the home page, the nav
  and the equipment's node in the genealogy view;
- the SPC page: the spec list with its counts, a time axis with distinct ticks, "not assessable"
  with its warning for the demo's CA26010801 spec (8 executions), and the CA26010801 case —
  every execution's mean in spec, raw values below the LSL — captured here through the API with
  its raw samples on the same operation, parameter and station (the spec's current version):
  Cpk below 1, equal to a numpy reference over the raw values.
"""

from __future__ import annotations

import math
from typing import Any

import httpx
import numpy as np
import pytest
from rdflib import Graph, Literal, Namespace
from rdflib.namespace import SKOS

from graph.engines.sqlite import SQLiteStore
from graph.model import Direction, NodeRecord
from ingest.signals.model import Observation, text_to_ms
from ingest.signals.rawstore import RawStore
from ontology.datatypes import ms_to_text
from ontology.terms import R
from ontology.vocab import ONTOLOGY_PATH
from tests.browser.clock import shown_time
from tests.browser.conftest import PASSWORD, Demo, shot, signed_in_page

pytestmark = pytest.mark.browser
TG = Namespace("https://w3id.org/tracegraph#")
PHONE = (390, 844)
CA_BATCH = "CA26010801"


def gql(demo: Demo, query: str, variables: dict[str, Any] | None = None,
        user: str = "demo.qa") -> dict[str, Any]:
    token = httpx.post(f"{demo.url}/auth/token",
                       data={"username": user, "password": PASSWORD}).json()["access_token"]
    r = httpx.post(f"{demo.url}/graphql", headers={"Authorization": f"Bearer {token}"},
                   json={"query": query, "variables": variables or {}}, timeout=60).json()
    assert not r.get("errors"), r
    return r["data"]  # type: ignore[no-any-return]  # a GraphQL answer's JSON


def records(demo: Demo, cls: str) -> list[NodeRecord]:
    store = SQLiteStore(demo.data_dir / "demo" / "tracegraph.sqlite")
    try:
        return store.nodes_of_class(cls)
    finally:
        store.close()


def raw(demo: Demo) -> RawStore:
    return RawStore(demo.data_dir / "demo" / "signals")


def zh_code(concept: str) -> str:
    g = Graph().parse(ONTOLOGY_PATH)
    return next(str(o) for o in g.objects(TG[concept], SKOS.prefLabel)
                if isinstance(o, Literal) and o.language == "zh")


def to_zh(page: Any) -> None:
    page.click("#lang")
    page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")


# ---------------------------------------------------------------- room conditions per operation

def held_by_room_excursion(demo: Demo) -> tuple[str, str, str]:
    """(excursion, deviation, batch) of the demo's environment excursion, from the store and
    the deviation view."""
    [exc] = [x for x in records(demo, "Excursion") if " in room " in str(x.props["description"])]
    d = gql(demo, "{ excursions(first: 50) { edges { node { key deviations } } } }")
    [dev] = next(e["node"]["deviations"] for e in d["excursions"]["edges"]
                 if e["node"]["key"] == exc.key)
    held = gql(demo, "query($d: String!) { deviationView(id: $d) { held { class key } } }",
               {"d": dev})["deviationView"]["held"]
    [batch] = [h["key"] for h in held if h["class"] == "Batch"]
    return exc.key, dev, batch


SHOWN_UNITS = {"TEMP": "°C", "RH": "%RH", "DP": "Pa", "PC05": "particles/m³",
               "PC5": "particles/m³"}


@pytest.mark.parametrize("viewport", [(1366, 860), PHONE], ids=["desktop", "phone"])
def test_room_conditions_per_operation_equal_the_api_and_the_raw_samples(
        browser: Any, demo: Demo, viewport: tuple[int, int]) -> None:
    exc, dev, batch = held_by_room_excursion(demo)
    rows = gql(demo, "query($b: String!) { batchEnvironment(batch: $b) { execution room "
                     "startedAt endedAt parameter unitShown samples min max mean beyondSpec "
                     "excursions deviations } }", {"b": batch})["batchEnvironment"]
    measured = [r for r in rows if r["parameter"]]
    assert measured and any(r["excursions"] == [exc] for r in measured)
    store = raw(demo)
    try:  # the API's numbers against numpy over the raw store's samples of each window
        for r in measured:
            xs = np.array([o.value for o in store.window(
                r["room"], r["parameter"], text_to_ms(r["startedAt"]), text_to_ms(r["endedAt"]),
                1_000_000) if o.quality == "good"])
            assert r["samples"] == len(xs) > 0
            assert (r["min"], r["max"]) == (xs.min(), xs.max())
            assert r["mean"] == pytest.approx(xs.mean(), rel=1e-12)
            assert r["unitShown"] == SHOWN_UNITS[r["parameter"]]
    finally:
        store.close()
    with signed_in_page(browser, demo.url, "demo.qa", PASSWORD, view=f"trace/{batch}/UPSTREAM",
                        viewport=viewport) as page:
        page.wait_for_selector(f"#node-list tbody tr[data-key='{batch}']")
        page.click(f"#node-list tbody tr[data-key='{batch}']")
        page.wait_for_selector("#batch-env .env-op")
        for r in measured:
            row = page.locator(f"#batch-env .env-op[data-execution='{r['execution']}'] "
                               f"tr[data-parameter='{r['parameter']}']")
            for k in ("min", "max", "mean"):
                assert float(row.locator(f"td[data-col={k}]").get_attribute("data-value")
                             or "nan") == r[k], (r["execution"], r["parameter"], k)
                assert row.locator(f"td[data-col={k}]").inner_text().endswith(r["unitShown"])
            assert row.locator("td[data-col=samples]").inner_text() == str(r["samples"])
            assert row.locator("td[data-col=beyond]").inner_text() == str(r["beyondSpec"])
        assert page.locator("#batch-env .env-op").count() == len({r["execution"] for r in rows})
        link = page.locator(f"#batch-env [data-deviation='{dev}']")
        assert page.locator(f"#batch-env [data-excursion='{exc}']").count() == 1
        name = "desktop" if viewport[0] > 1000 else "phone"
        page.locator("#batch-env").scroll_into_view_if_needed()
        shot(page, f"room-conditions-{name}")
        if viewport[0] < 1000:  # the page fits the phone: nothing wider than the screen
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0] + 1
        link.click()
        page.wait_for_selector("#deviation-view:not([hidden]) #deviation-state")
        assert page.inner_text("#deviation h2").startswith(dev)


def test_room_conditions_in_chinese(page: Any, demo: Demo) -> None:
    _, _, batch = held_by_room_excursion(demo)
    to_zh(page)
    page.evaluate(f"location.hash = '#/trace/{batch}/UPSTREAM'")
    page.wait_for_selector(f"#node-list tbody tr[data-key='{batch}']")
    page.click(f"#node-list tbody tr[data-key='{batch}']")
    page.wait_for_selector("#batch-env .env-op")
    assert "各工序的房间环境条件" in page.inner_text("#batch-env h3")
    assert page.inner_text("#batch-env tr[data-parameter=DP] td:first-child") == \
        zh_code("EnvironmentParameter-DP")
    shot(page, "room-conditions-zh")


# ---------------------------------------------------------------- equipment health

def drifting(demo: Demo) -> str:
    """The demo's drifting equipment: the one its drift warning names."""
    [w] = [x for x in records(demo, "Excursion") if x.props.get("excursionLevel") == "drift"]
    return str(w.props["description"]).split(" on ", 1)[1].split()[0]


HEALTH = ("query($e: String!) { equipmentHealth(equipment: $e) { state "
          "parameters { parameter lastAt driftingSince limit breachAt breachEarliest "
          "breachLatest } driftWarnings { key } workOrders { key maintenanceType state "
          "openedBy raisedBy forecastBreachAt } batchesAtRisk { batch } } }")


@pytest.mark.parametrize("viewport", [(1366, 860), PHONE], ids=["desktop", "phone"])
def test_equipment_list_and_the_drifting_extruders_health(browser: Any, demo: Demo,
                                                          viewport: tuple[int, int]) -> None:
    eq = drifting(demo)
    listed = gql(demo, "{ equipmentList { equipment state } }")["equipmentList"]
    assert sorted(r["equipment"] for r in listed) == sorted(e.key for e in records(demo,
                                                                                  "Equipment"))
    h = gql(demo, HEALTH, {"e": eq})["equipmentHealth"]
    assert h["state"] == "breachForecast"
    [p] = [p for p in h["parameters"] if p["breachAt"]]
    # the forecast: a least-squares line through its raw samples (numpy), where it meets the limit
    end = text_to_ms(p["lastAt"])
    start = max(end - 30 * 60_000, text_to_ms(p["driftingSince"]))
    store = raw(demo)
    try:
        xs = [o for o in store.window(eq, p["parameter"], start, end) if o.quality == "good"]
    finally:
        store.close()
    b, a = np.polyfit([o.source_ms for o in xs], [o.value for o in xs], 1)
    assert abs(text_to_ms(p["breachAt"]) - (p["limit"] - a) / b) < 1000
    [wo] = h["workOrders"]
    assert (wo["maintenanceType"], wo["state"]) == ("predictive", "Open")
    assert wo["raisedBy"] == h["driftWarnings"][0]["key"]
    assert wo["openedBy"]  # who opened it: its first audit entry's actor
    name = "desktop" if viewport[0] > 1000 else "phone"
    with signed_in_page(browser, demo.url, "demo.engineer", PASSWORD, view="",
                        viewport=viewport) as page:
        page.click("#home-equipment")  # the list, from the home page
        page.wait_for_selector("#equipment-list tbody tr")
        shown = dict(page.locator("#equipment-list tbody tr").evaluate_all(
            "els => els.map(e => [e.dataset.key, e.dataset.state])"))
        assert shown == {r["equipment"]: r["state"] for r in listed}
        assert page.get_attribute("#equipment-list tbody tr:first-child", "data-key") == eq
        shot(page, f"equipment-list-{name}")
        page.click(f"#equipment-list tr[data-key='{eq}'] a")
        page.wait_for_selector(f"#health[data-equipment='{eq}']")
        assert page.get_attribute("#health", "data-state") == "breachForecast"
        cell = page.locator(f"#health-parameters tr[data-parameter='{p['parameter']}'] "
                            "td[data-col=breachAt]")
        assert cell.get_attribute("data-value") == p["breachAt"]
        assert cell.inner_text() == shown_time(p["breachAt"])  # format.js: the plant's zone
        interval = page.inner_text(f"#health-parameters tr[data-parameter='{p['parameter']}'] "
                                   "td[data-col=interval]")
        assert p["breachEarliest"][11:19] in interval and p["breachLatest"][11:19] in interval
        row = page.locator(f"#work-orders tr[data-key='{wo['key']}']")
        assert row.get_attribute("data-type") == "predictive"
        assert row.locator("td[data-col=openedBy]").inner_text() == wo["openedBy"]
        assert page.get_attribute("#last-warning", "data-key") == h["driftWarnings"][0]["key"]
        at_risk = page.locator("#batches-at-risk tbody tr").evaluate_all(
            "els => els.map(e => e.dataset.key)")
        assert at_risk == [r["batch"] for r in h["batchesAtRisk"]] and at_risk
        shot(page, f"equipment-health-{name}")
        if viewport[0] < 1000:
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0] + 1
            return
        # from the equipment's node in the genealogy view
        page.evaluate(f"location.hash = '#/trace/{eq}/DOWNSTREAM'")
        page.wait_for_selector(f"#node-list tbody tr[data-key='{eq}']")
        page.click(f"#node-list tbody tr[data-key='{eq}']")
        page.click("#equipment-health-link")
        page.wait_for_selector(f"#health[data-equipment='{eq}']")
        assert page.get_attribute("#tabs a.active", "data-view") == "equipment"


def test_equipment_health_in_chinese(page: Any, demo: Demo) -> None:
    eq = drifting(demo)
    to_zh(page)
    page.evaluate(f"location.hash = '#/equipment/{eq}'")
    page.wait_for_selector(f"#health[data-equipment='{eq}']")
    assert page.inner_text("#tabs a[data-view=equipment]") == "设备"
    assert page.inner_text("#health [data-stat=state] b") == "预测将超限"
    assert "维护工单" in page.inner_text("#equipment-view")
    assert page.inner_text("#work-orders tbody td:nth-child(2)") == \
        zh_code("MaintenanceType-predictive")
    shot(page, "equipment-health-zh")


# ---------------------------------------------------------------- SPC

def ca_spec(demo: Demo) -> str:
    """The parameter spec of the demo batch CA26010801's UV dose at OP20 (the issue's case)."""
    d = gql(demo, "query($k: String!) { spcChart(spec: $k, last: 100) { spec { key } } }",
            {"k": f"{CA_BATCH}/OP20/UV-DOSE"})
    return str(d["spcChart"]["spec"]["key"])


SPC = ("query($s: String!, $n: Int!) { spcChart(spec: $s, last: $n) { basis cpk ppk "
       "subgroups { time n } capability { assessable reason subgroups values "
       "cpkInterval { low high } } } }")


def test_spc_page_lists_the_specs_and_says_not_assessable_below_the_minimum(
        page: Any, demo: Demo) -> None:
    spec = ca_spec(demo)
    specs = gql(demo, "{ parameterSpecs { key observations samples } }")["parameterSpecs"]
    assert len(specs) == len(records(demo, "ParameterSpec"))
    c = gql(demo, SPC, {"s": spec, "n": 100})["spcChart"]
    assert not c["capability"]["assessable"] and c["capability"]["subgroups"] < 25
    page.evaluate("location.hash = '#/spc'")
    page.wait_for_selector(f"#spc-id option[value='{spec}']", state="attached")
    options = page.locator("#spc-id option[data-observations]").evaluate_all(
        "els => els.map(e => [e.value, +e.dataset.observations, +e.dataset.samples])")
    assert options == [[s["key"], s["observations"], s["samples"]] for s in specs]
    page.select_option("#spc-id", spec)  # picking a spec charts it
    page.wait_for_selector("#spc-head")
    assert page.get_attribute("#spc-head", "data-assessable") == "false"
    assert page.inner_text("#spc [data-stat=Cpk] b") == "not assessable"
    assert page.inner_text("#spc [data-stat=Ppk] b") == "not assessable"
    warning = page.inner_text("#spc-not-assessable")
    assert c["capability"]["reason"] in warning
    # the time axis: distinct tick labels, and the points in time order left to right
    ticks = page.locator("#spc-plot text.tick").evaluate_all("els => els.map(e => e.textContent)")
    assert len(ticks) >= 2 and len(set(ticks)) == len(ticks)
    xs = page.locator("#spc-plot circle.point").evaluate_all(
        "els => els.map(e => +e.getAttribute('cx'))")
    times = [text_to_ms(g["time"]) for g in c["subgroups"]]
    assert len(xs) == len(times)
    span = (max(times) - min(times)) or 1
    for x, tm in zip(xs, times, strict=True):  # each point at its time
        assert (x - xs[0]) / ((xs[-1] - xs[0]) or 1) == pytest.approx((tm - times[0]) / span,
                                                                      abs=1e-3)
    assert page.locator("#spc-dispersion").count() == 1
    shot(page, "spc-not-assessable")
    to_zh(page)  # the view is drawn again, in Chinese
    page.wait_for_function("() => document.querySelector('#spc-basis')?.textContent"
                           ".startsWith('子组')")
    assert page.inner_text("#spc [data-stat=Cpk] b") == "无法评估"
    assert "过程能力无法评估" in page.inner_text("#spc-not-assessable")
    shot(page, "spc-not-assessable-zh")


def test_spc_page_on_a_phone(browser: Any, demo: Demo) -> None:
    spec = ca_spec(demo)
    with signed_in_page(browser, demo.url, "demo.qc", PASSWORD, view="spc",
                        viewport=PHONE) as page:
        page.evaluate("k => { location.hash = '#/spc/' + encodeURIComponent(k); }", spec)
        page.wait_for_selector("#spc-head")
        assert page.is_visible("#spc-not-assessable")
        assert page.locator("#spc-plot").bounding_box()["width"] <= PHONE[0]
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0] + 1
        shot(page, "spc-phone")


RUNS, PER_RUN = 30, 200


def current_spec(demo: Demo, spec: str) -> str:
    """The same operation's and parameter's spec in the process's newest version (the version
    the plant runs now: new batches cannot start on a superseded one)."""
    head, tail = spec.split("/v", 1)
    same = [s.key for s in records(demo, "ParameterSpec")
            if s.key.startswith(f"{head}/v") and s.key.split("/", 2)[2] == tail.split("/", 1)[1]]
    return max(same, key=lambda k: int(k.split("/")[1][1:]))


def _ca_case(demo: Demo, spec: str) -> list[np.ndarray]:
    """The CA26010801 case as the issue found it, on the same operation, parameter and station
    (its spec's current version): 30 further runs whose means all sit well inside the spec while
    single raw values fall below the LSL; captured through the API (as the plant's MES would
    send them), their raw samples into the raw store."""
    [node] = [s for s in records(demo, "ParameterSpec") if s.key == spec]
    lsl, usl = float(str(node.props["lsl"])), float(str(node.props["usl"]))
    mid, sd = (lsl + usl) / 2, (usl - lsl) / 5.4  # Cpk about 0.9
    store = SQLiteStore(demo.data_dir / "demo" / "tracegraph.sqlite")
    try:  # a run of this spec as the template: its operation, station, product, version
        obs = [e.src for e in store.links([node.iri], [R.OBSERVES], Direction.DOWNSTREAM)]
        runs = store.get_many(e.dst for e in store.links(obs, [R.DURING_EXECUTION]))
        run = max(runs.values(), key=lambda r: str(r.props["startedAtTime"]))
        [batch] = [e.dst for e in store.links([run.iri], [R.FOR_BATCH])]
        links = {e.type: store.get(e.dst) for e in store.links([run.iri, batch])}
    finally:
        store.close()
    ref = {t: f"{n.label}/{n.key}" for t, n in links.items() if n is not None}
    rng = np.random.default_rng(26010801)
    values = [rng.normal(mid + rng.normal(0, sd / 20), sd, PER_RUN) for _ in range(RUNS)]
    t1 = text_to_ms(str(run.props["startedAtTime"])) + 7 * 86_400_000  # after the demo's history
    t1 = min(t1, text_to_ms("2026-01-17T00:00:00Z"))  # and within the station's calibration
    nodes: list[dict[str, Any]] = []
    samples = []
    tag = spec.rsplit("/", 1)[-1]
    station = ref[R.ON_EQUIPMENT].split("/", 1)[1]
    for i, xs in enumerate(values):
        start = t1 + i * 3_600_000
        end = start + (PER_RUN - 1) * 1000
        b, x = f"CA-SPC-{i:02d}", f"CA-SPC-{i:02d}/OP20"
        nodes += [
            {"class": "Batch", "key": b, "properties": {"batchStatus": "InProcess",
                                                        "quantity": 10, "unitCode": "{pc}"},
             "links": {"ofProduct": ref[R.OF_PRODUCT],
                       "runsProcessVersion": ref[R.RUNS_PROCESS_VERSION]}},
            {"class": "OperationExecution", "key": x, "properties": {
                "startedAtTime": ms_to_text(start), "endedAtTime": ms_to_text(end),
                "executionStatus": "Completed"},
             "links": {"executesOperation": ref[R.EXECUTES_OPERATION], "forBatch": f"Batch/{b}",
                       "onEquipment": ref[R.ON_EQUIPMENT]}},
            {"class": "ParameterObservation", "key": f"{x}/{tag}", "properties": {
                "meanValue": float(xs.mean()), "stdDev": float(xs.std(ddof=1)),
                "minValue": float(xs.min()), "maxValue": float(xs.max()),
                "sampleCount": PER_RUN, "unitCode": str(node.props["unitCode"]),
                "windowStart": ms_to_text(start), "windowEnd": ms_to_text(end)},
             "links": {"observes": f"ParameterSpec/{spec}",
                       "duringExecution": f"OperationExecution/{x}"}}]
        samples += [Observation(station, tag, float(v), str(node.props["unitCode"]),
                                start + k * 1000, start + k * 1000) for k, v in enumerate(xs)]
    r = gql(demo, "mutation($d: JSON!) { capture(document: $d) { ok problems { message } } }",
            {"d": {"format": "tracegraph.capture/1", "source": "test_views", "events": [
                {"eventId": "views/ca-case", "reason": "the CA26010801 case, 30 runs",
                 "nodes": nodes}]}}, user="demo.operator")
    assert r["capture"]["ok"], r
    store_raw = raw(demo)
    try:
        store_raw.append(samples)
    finally:
        store_raw.close()
    return values


def _c4(n: int) -> float:
    return 4 * (n - 1) / (4 * n - 3)  # large-n form, error < 1e-7 for n > 100


def test_spc_page_shows_the_ca26010801_case_below_one(page: Any, demo: Demo) -> None:
    spec = current_spec(demo, ca_spec(demo))
    [node] = [s for s in records(demo, "ParameterSpec") if s.key == spec]
    lsl, usl = float(str(node.props["lsl"])), float(str(node.props["usl"]))
    runs = _ca_case(demo, spec)
    means = np.array([r.mean() for r in runs])
    assert lsl < means.min() and means.max() < usl  # every mean in spec
    assert min(r.min() for r in runs) < lsl  # raw values are not
    c = gql(demo, SPC, {"s": spec, "n": RUNS})["spcChart"]
    assert c["basis"] == "raw" and c["capability"]["assessable"]
    n = c["subgroups"][0]["n"]
    groups = np.concatenate(runs).reshape(-1, n)  # the spec's subgroups of n consecutive samples
    sigma_w = math.sqrt((groups.std(axis=1, ddof=1) ** 2).mean()) / _c4(len(groups) * (n - 1) + 1)
    mean = groups.mean()
    reference = min(usl - mean, mean - lsl) / (3 * sigma_w)
    assert c["cpk"] == pytest.approx(reference, rel=1e-6) and reference < 1
    page.evaluate("location.hash = '#/spc'")
    page.wait_for_selector("#spc-view:not([hidden])")
    page.fill("#spc-last", str(RUNS))  # the case's runs: the last 30 executions
    page.evaluate("k => { location.hash = '#/spc/' + encodeURIComponent(k); }", spec)
    page.wait_for_selector("#spc-head[data-assessable=true]")
    cpk = page.inner_text("#spc [data-stat=Cpk] b")
    iv = c["capability"]["cpkInterval"]
    assert cpk == f"{reference:.2f} [{iv['low']:.2f}, {iv['high']:.2f}]"
    assert float(cpk.split()[0]) < 1 and iv["high"] < 1
    assert page.locator("#spc-not-assessable").count() == 0
    assert "X̄" in (page.text_content("#spc-plot") or "")
    assert page.locator("#spc-dispersion").count() == 1
    shot(page, "spc-ca26010801-case")
